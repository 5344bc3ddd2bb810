// What the CUDA provider (libdevtensor_cuda.so) promises beyond the device suites, which run every
// check on CUDA device 0 as on any device (device_suite/device_cases.h):
//
// - without a CUDA device, DtGetDevice(env, DT_DEVICE_CUDA, 0, ...) is DT_NOT_FOUND and says what
//   was tried (the provider library, and when it is there, the CUDA driver or NVRTC);
// - a CUDA tensor's handle is a device pointer: DtCreateTensorWithData takes one from devtensor
//   (DtGetTensorData), also one inside an allocation, and shares its memory, and refuses a host
//   pointer and a buffer reaching past the end of its allocation, naming the pointer;
// - an allocation beyond the device's memory is DT_OUT_OF_MEMORY quoting the bytes asked for;
// - every device is reachable by its ordinal, with addressable handles and asynchronous streams;
// - copies between CUDA and every other device of the device suites (through the host where no
//   provider copies directly);
// - a large host tensor copied again and again moves its current bytes exactly every time, the
//   provider registering its pages with CUDA from the second copy on (so that the copies are DMA)
//   and unregistering them when the tensor goes (the application's memory is not left pinned).
//
// The tests that need a device skip, saying why (DtGetDevice's message), on a machine without one;
// the test of the message skips on a machine with one.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "device_suite/device_cases.h"
#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "tensor_queries.h"
#include "test_util.h"

namespace devtensor_test {
namespace {

using devtensor::Device;
using devtensor::Env;
using devtensor::Tensor;

// An out-parameter value no failed DtGetDevice may leave behind (never dereferenced).
const DtDevice* const kNoDevice = reinterpret_cast<const DtDevice*>(uintptr_t{0x5a5a5a40});

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

// The line of DtGetProviderLoadErrors about the CUDA provider library; "" when there is none.
std::string CudaLoadErrorLine(const Env& env) {
  const std::string errors = env.provider_load_errors();
  for (size_t start = 0, end; start < errors.size(); start = end + 1) {
    end = errors.find('\n', start);
    if (end == std::string::npos) end = errors.size();
    const std::string line = errors.substr(start, end - start);
    if (line.find("provider 'cuda'") != std::string::npos ||
        line.find("libdevtensor_cuda") != std::string::npos) {
      return line;
    }
  }
  return "";
}

// ---- Without a device -------------------------------------------------------------------------------

TEST(CudaAbsent, DtGetDeviceIsNotFoundAndSaysWhatWasTried) {
  Env env;
  const DtDevice* device = kNoDevice;
  const Outcome got = Take(DtGetDevice(env.get(), DT_DEVICE_CUDA, 0, &device));
  if (got.code == DT_OK) GTEST_SKIP() << "this machine has a CUDA device: " << Device(device).name();
  EXPECT_EQ(got.code, DT_NOT_FOUND) << got.message;
  EXPECT_EQ(device, kNoDevice) << "a failed call wrote its out-parameter";
  EXPECT_NE(got.message.find("CUDA(2):0"), std::string::npos) << got.message;
  // What was tried: the provider library, by name; and why it serves no device.
  const std::string message = Lower(got.message);
  EXPECT_TRUE(message.find("provider 'cuda'") != std::string::npos ||
              message.find("libdevtensor_cuda") != std::string::npos)
      << got.message;
  int32_t count = -1;
  DT_EXPECT_OK(DtGetDeviceCount(env.get(), DT_DEVICE_CUDA, &count));
  EXPECT_EQ(count, 0);
  // When the library is there, it was the CUDA driver (libcuda.so.1) or NVRTC that was missing,
  // and the message says which.
  const std::string line = CudaLoadErrorLine(env);
  if (!line.empty() && line.find("does not exist") == std::string::npos) {
    EXPECT_TRUE(message.find("libcuda.so.1") != std::string::npos ||
                message.find("nvrtc") != std::string::npos ||
                message.find("no cuda device") != std::string::npos)
        << got.message;
  } else {
    std::printf("[   NOTE   ] no CUDA provider library here: %s\n", line.c_str());
  }
}

// ---- With a device --------------------------------------------------------------------------------

class CudaDevice : public ::testing::Test {
 public:
  void SetUp() override {
    const DtDevice* found = nullptr;
    const Outcome got = Take(DtGetDevice(env.get(), DT_DEVICE_CUDA, 0, &found));
    if (got.code != DT_OK) GTEST_SKIP() << "no CUDA device on this machine: " << got.message;
    cuda = Device(found);
    cpu = env.device(DT_DEVICE_CPU);
    info = cuda.info();
  }

  // A new uint8 tensor [size] on the device holding `bytes`.
  Tensor Holding(const std::vector<uint8_t>& bytes) const {
    return Tensor::from_host(env, cuda, {int64_t(bytes.size())}, bytes);
  }
  // DtCreateTensorWithData on the device: a uint8 tensor [count] at `byte_offset` of `data`.
  Outcome Wrap(void* data, size_t data_bytes, size_t byte_offset, int64_t count,
               DtValue** out) const {
    return Take(DtCreateTensorWithData(env.get(), cuda.get(), data, data_bytes, byte_offset,
                                       DT_UINT8, &count, 1, out));
  }

  Random random;
  Env env;
  Device cuda, cpu;
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
};

TEST_F(CudaDevice, EveryOrdinalIsReachableWithPointersAndAsynchronousStreams) {
  const int32_t count = env.device_count(DT_DEVICE_CUDA);
  ASSERT_GE(count, 1);
  for (int32_t id = 0; id < count; ++id) {
    SCOPED_TRACE("CUDA:" + std::to_string(id));
    const DtDevice* found = nullptr;
    DT_ASSERT_OK(DtGetDevice(env.get(), DT_DEVICE_CUDA, id, &found));
    const DtDeviceInfo i = Device(found).info();
    EXPECT_EQ(i.type, DT_DEVICE_CUDA);
    EXPECT_EQ(i.id, id);
    EXPECT_GT(std::strlen(i.name), 0u);
    EXPECT_GT(std::strlen(i.provider_name), 0u);
    EXPECT_EQ(i.is_addressable, 1);
    EXPECT_EQ(i.has_streams, 1);
    EXPECT_EQ(i.runs_on_cpu, 0);
    EXPECT_GT(i.memory_bytes, 0u);
    // Its memory works: a round trip through a tensor on it, whose data is a device pointer.
    const std::vector<int32_t> values = {id, -1, 7, int32_t(0x7fffffff)};
    const Tensor t = Tensor::from_host(env, Device(found), {4}, values);
    EXPECT_EQ(t.to_host<int32_t>(env), values);
    void* data = nullptr;
    DT_EXPECT_OK(DtGetTensorData(t.get(), &data));
    EXPECT_NE(data, nullptr);
    EXPECT_EQ(BufferOf(t.get()).handle, data);
  }
  const DtDevice* none = kNoDevice;
  const std::string range = "[0, " + std::to_string(count) + ")";
  DT_EXPECT_ERROR(DtGetDevice(env.get(), DT_DEVICE_CUDA, count, &none), DT_NOT_FOUND,
                  range.c_str());
  EXPECT_EQ(none, kNoDevice);
}

TEST_F(CudaDevice, WrappingAHostPointerIsRefusedNamingIt) {
  std::vector<uint8_t> heap(256, kSentinel);
  uint8_t stack[64];
  std::memset(stack, kSentinel, sizeof stack);
  for (auto [data, bytes] : {std::pair<void*, size_t>{heap.data(), heap.size()},
                             std::pair<void*, size_t>{stack, sizeof stack}}) {
    DtValue* out = kUntouched;
    const Outcome got = Wrap(data, bytes, 0, int64_t(bytes), &out);
    EXPECT_EQ(got.code, DT_INVALID_ARGUMENT) << got.message;
    EXPECT_NE(got.message.find("data"), std::string::npos) << got.message;
    EXPECT_EQ(out, kUntouched);
    if (got.code == DT_OK) DtReleaseValue(out);
  }
  EXPECT_EQ(heap, std::vector<uint8_t>(256, kSentinel)) << "the host memory was written";
}

TEST_F(CudaDevice, WrappingPastTheEndOfAnAllocationIsRefusedNamingIt) {
  const Tensor t = Holding(RandomData(random, DT_UINT8, 256));
  void* data = nullptr;
  DT_ASSERT_OK(DtGetTensorData(t.get(), &data));
  // More bytes than the device has: past the end of any allocation, however the provider pools.
  const size_t too_many = info.memory_bytes > 0 ? size_t(info.memory_bytes) + 256
                                                : size_t(1) << 40;
  DtValue* out = kUntouched;
  Outcome got = Wrap(data, too_many, 0, 256, &out);
  EXPECT_EQ(got.code, DT_INVALID_ARGUMENT) << got.message;
  EXPECT_NE(got.message.find("data"), std::string::npos) << got.message;
  EXPECT_NE(got.message.find(std::to_string(too_many)), std::string::npos) << got.message;
  EXPECT_EQ(out, kUntouched);
  if (got.code == DT_OK) DtReleaseValue(std::exchange(out, kUntouched));
  // Likewise from a pointer inside the allocation.
  got = Wrap(static_cast<uint8_t*>(data) + 64, too_many, 0, 16, &out);
  EXPECT_EQ(got.code, DT_INVALID_ARGUMENT) << got.message;
  EXPECT_NE(got.message.find("data"), std::string::npos) << got.message;
  EXPECT_EQ(out, kUntouched);
  if (got.code == DT_OK) DtReleaseValue(out);
}

TEST_F(CudaDevice, WrappingADevicePointerSharesItsMemory) {
  SCOPED_TRACE(random.trace());
  const std::vector<uint8_t> first = RandomData(random, DT_UINT8, 256);
  const Tensor t = Holding(first);
  void* data = nullptr;
  DT_ASSERT_OK(DtGetTensorData(t.get(), &data));

  // The whole allocation, as float [16] at byte 64.
  DtValue* raw = nullptr;
  const int64_t floats[] = {16};
  DT_ASSERT_OK(DtCreateTensorWithData(env.get(), cuda.get(), data, 256, 64, DT_FLOAT, floats, 1,
                                      &raw));
  const Tensor whole(raw);
  EXPECT_EQ(BufferOf(whole.get()).handle, data);
  EXPECT_EQ(BufferOf(whole.get()).byte_offset, 64u);
  EXPECT_EQ(whole.data<uint8_t>(), static_cast<uint8_t*>(data) + 64);
  std::vector<uint8_t> got(64);
  whole.to_host_bytes(env, got.data(), got.size());
  EXPECT_TRUE(SameBytes(got, std::vector<uint8_t>(first.begin() + 64, first.begin() + 128)));

  // A pointer inside the allocation, covering its rest: uint8 [192] from byte 64.
  const Outcome wrapped = Wrap(static_cast<uint8_t*>(data) + 64, 192, 0, 192, &raw);
  ASSERT_EQ(wrapped.code, DT_OK) << wrapped.message;
  const Tensor inner(raw);
  EXPECT_EQ(inner.to_host<uint8_t>(env), std::vector<uint8_t>(first.begin() + 64, first.end()));

  // Writes through either tensor are seen through the other: one memory.
  const std::vector<uint8_t> second = RandomData(random, DT_UINT8, 192);
  env.copy(Tensor::from_host(env, cpu, {192}, second), inner);
  std::vector<uint8_t> expected = first;
  std::copy(second.begin(), second.end(), expected.begin() + 64);
  EXPECT_TRUE(SameBytes(t.to_host<uint8_t>(env), expected));
  const std::vector<float> ones(16, 1.0f);
  env.copy(Tensor::from_host(env, cuda, {16}, ones), whole);
  for (size_t i = 0; i < 64; i += 4) std::memcpy(&expected[64 + i], &ones[0], 4);
  EXPECT_TRUE(SameBytes(t.to_host<uint8_t>(env), expected));
  EXPECT_TRUE(SameBytes(inner.to_host<uint8_t>(env),
                        std::vector<uint8_t>(expected.begin() + 64, expected.end())));
}

TEST_F(CudaDevice, AnAbsurdAllocationIsOutOfMemoryQuotingTheBytes) {
  const int64_t pebibyte = int64_t(1) << 50;
  const std::string bytes = std::to_string(pebibyte);
  DtValue* out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensor(env.get(), cuda.get(), DT_UINT8, &pebibyte, 1, &out),
                  DT_OUT_OF_MEMORY, bytes.c_str(), "CUDA");
  EXPECT_EQ(out, kUntouched);
  // The device still allocates what fits.
  const std::vector<int64_t> values = {1, 2, 3};
  EXPECT_EQ(Tensor::from_host(env, cuda, {3}, values).to_host<int64_t>(env), values);
}

// A strided slice of a CUDA tensor copied to each other device of the device suites this machine
// has, and back into a CUDA tensor, in one batch and on a stream of either side.
// A word no copy writes: what lies around every destination window.
constexpr int32_t kPoisonWord = int32_t(0xA5A5A5A5u);

TEST_F(CudaDevice, CopiesWithEveryOtherDevice) {
  SCOPED_TRACE(random.trace());
  const std::vector<uint8_t> bytes = RandomData(random, DT_INT32, 4 * 6 * 4);
  std::vector<int32_t> values(4 * 6);
  std::memcpy(values.data(), bytes.data(), bytes.size());
  std::vector<int32_t> expected;  // columns 2 .. 4 of the 4 x 6 matrix
  for (int r = 0; r < 4; ++r) {
    for (int c = 2; c < 5; ++c) expected.push_back(values[size_t(r * 6 + c)]);
  }
  const Tensor source = Tensor::from_host(env, cuda, {4, 6}, values);
  int others = 0;
  for (const DeviceCase& c : kDeviceCases) {
    if (c.type == DT_DEVICE_CUDA) continue;
    const DtDevice* found = nullptr;
    const Outcome got = Take(DtGetDevice(env.get(), c.type, 0, &found));
    if (got.code != DT_OK) {
      std::printf("[   NOTE   ] no %s device here: %s\n", c.name, got.message.c_str());
      continue;
    }
    ++others;
    SCOPED_TRACE(c.name);
    const Device other(found);
    // Each destination is a [4, 3] window of a 6 x 5 buffer of sentinels: only the window may change.
    const std::vector<int32_t> poison(30, kPoisonWord);
    const Tensor there_buffer = Tensor::from_host(env, other, {6, 5}, poison);
    const Tensor back_buffer = Tensor::from_host(env, cuda, {6, 5}, poison);
    const Tensor there = there_buffer.slice(0, 1, 4).slice(1, 1, 3);
    const Tensor back = back_buffer.slice(0, 1, 4).slice(1, 1, 3);
    const auto window_holds = [&](const Tensor& buffer, const std::vector<int32_t>& inside) {
      std::vector<int32_t> want = poison;
      for (size_t r = 0; r < 4; ++r) {
        for (size_t col = 0; col < 3; ++col) want[(r + 1) * 5 + col + 1] = inside[r * 3 + col];
      }
      return buffer.to_host<int32_t>(env) == want;
    };
    const Tensor columns = source.slice(1, 2, 3);
    env.copy({{&columns, &there}, {&there, &back}});
    EXPECT_TRUE(window_holds(back_buffer, expected));
    EXPECT_TRUE(window_holds(there_buffer, expected));
    for (const Device& on : {cuda, other}) {
      env.zero(back);
      EXPECT_TRUE(window_holds(back_buffer, std::vector<int32_t>(12, 0)));
      devtensor::Stream stream = env.create_stream(on);
      env.copy(there, back, &stream);
      stream.synchronize();
      EXPECT_TRUE(window_holds(back_buffer, expected)) << "on a stream of " << on.type_name();
    }
  }
  EXPECT_GE(others, 1) << "the CPU, at least";
}

// Whether CUDA counts host address `p` as pinned or registered host memory (the driver's
// cuPointerGetAttribute, in the device's primary context): DMA reaches it directly.
bool RegisteredWithCuda(const Device& cuda, const void* p) {
  static void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr) {
    ADD_FAILURE() << "libcuda.so.1 does not load: " << dlerror();
    return false;
  }
  using Push = int (*)(void*);
  using Pop = int (*)(void**);
  using Attribute = int (*)(void*, int, unsigned long long);
  const auto push = reinterpret_cast<Push>(dlsym(driver, "cuCtxPushCurrent_v2"));
  const auto pop = reinterpret_cast<Pop>(dlsym(driver, "cuCtxPopCurrent_v2"));
  const auto attribute = reinterpret_cast<Attribute>(dlsym(driver, "cuPointerGetAttribute"));
  if (push == nullptr || pop == nullptr || attribute == nullptr) {
    ADD_FAILURE() << "the CUDA driver lacks cuCtxPushCurrent_v2, cuCtxPopCurrent_v2 or "
                     "cuPointerGetAttribute";
    return false;
  }
  void* context = nullptr;
  devtensor::Check(DtGetDeviceNativeHandle(cuda.get(), "CUcontext", &context));
  push(context);
  unsigned type = 0;
  constexpr int kMemoryTypeAttribute = 2;  // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
  constexpr unsigned kHostMemory = 1;      // CU_MEMORYTYPE_HOST
  const int result = attribute(&type, kMemoryTypeAttribute, reinterpret_cast<uintptr_t>(p));
  void* popped = nullptr;
  pop(&popped);
  return result == 0 && type == kHostMemory;
}

TEST_F(CudaDevice, RepeatedPageableCopiesMoveExactBytesAndRegisterThePages) {
  SCOPED_TRACE(random.trace());
  // A host tensor of a few MiB at an odd offset of the test's pageable memory, its device twin a
  // window of a buffer of sentinels, and a second host buffer it comes back to, also a window.
  constexpr size_t kGuard = 4099;
  const size_t bytes = (size_t(3) << 20) + size_t(random.Between(1, 4095));
  const int64_t n = int64_t(bytes);
  std::vector<uint8_t> source_memory(kGuard + bytes + kGuard, kSentinel);
  std::vector<uint8_t> landed_memory(kGuard + bytes + kGuard, kSentinel);
  uint8_t* const source_bytes = source_memory.data() + kGuard;
  ASSERT_FALSE(RegisteredWithCuda(cuda, source_bytes)) << "the test's own memory starts pageable";
  const Tensor device_buffer = Holding(Sentinels(kGuard + bytes + kGuard));
  const Tensor on_device = device_buffer.view(kGuard, DT_UINT8, {n});
  {
    const Tensor source = Tensor::wrap(env, cpu, source_memory.data(), source_memory.size(),
                                       kGuard, DT_UINT8, {n});
    const Tensor landed = Tensor::wrap(env, cpu, landed_memory.data(), landed_memory.size(),
                                       kGuard, DT_UINT8, {n});
    for (int round = 0; round < 4; ++round) {
      SCOPED_TRACE("copy " + std::to_string(round + 1) + (round >= 2 ? ", on a stream" : ""));
      const std::vector<uint8_t> fresh = RandomBytes(random, bytes);
      std::copy(fresh.begin(), fresh.end(), source_bytes);
      if (round < 2) {
        env.copy(source, on_device);
        env.copy(on_device, landed);
      } else {
        devtensor::Stream stream = env.create_stream(cuda);
        env.copy(source, on_device, &stream);
        env.copy(on_device, landed, &stream);
        stream.synchronize();
      }
      std::vector<uint8_t> want = Sentinels(kGuard + bytes + kGuard);
      std::copy(fresh.begin(), fresh.end(), want.begin() + kGuard);
      EXPECT_TRUE(SameBytes(landed_memory, want)) << "the host window, sentinels around it";
      EXPECT_TRUE(SameBytes(device_buffer.to_host<uint8_t>(env), want))
          << "the device window, sentinels around it";
      if (round >= 1) {
        EXPECT_TRUE(RegisteredWithCuda(cuda, source_bytes)) << "registered from the second copy";
        EXPECT_TRUE(RegisteredWithCuda(cuda, landed_memory.data() + kGuard));
      }
    }
  }
  EXPECT_FALSE(RegisteredWithCuda(cuda, source_bytes)) << "unregistered once the tensor is gone";
  EXPECT_FALSE(RegisteredWithCuda(cuda, landed_memory.data() + kGuard));
}

}  // namespace
}  // namespace devtensor_test
