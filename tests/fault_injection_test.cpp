// Faults injected through the test provider (tests/providers/ext_provider.cpp) and, on WebGPU,
// forced through Dawn: an allocation that fails gives DT_OUT_OF_MEMORY, leaks nothing and leaves
// every earlier tensor as it was; a device lost part way through a batch, a stream's work or a
// replay gives DT_DEVICE_LOST, and nothing hangs.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "devtensor/devtensor.hpp"
#include "ext_device.h"
#include "test_util.h"
#include "webgpu_util.h"

using namespace devtensor_test;
using devtensor::Tensor;

namespace {

DtValue* const kUntouchedValue = reinterpret_cast<DtValue*>(uintptr_t{0x5a5a5a50});

class FaultInjection : public ::testing::Test {
 protected:
  void SetUp() override {
    env.register_provider("ext", kExtProvider);
    cpu = env.device(DT_DEVICE_CPU);
    ext = env.device(DT_DEVICE_EXT_DEV, 0);
    hooks.emplace();
    ASSERT_NE(hooks->fail_allocation_after, nullptr);
    ASSERT_NE(hooks->lose_device_after_pairs, nullptr);
  }
  void TearDown() override {
    hooks->fail_allocation_after(-1);
    hooks->lose_device_after_pairs(-1);
  }

  // An ext tensor of `count` int32 holding random values, and those values.
  Tensor Filled(size_t count, std::vector<int32_t>* values) {
    values->resize(count);
    for (auto& v : *values) v = int32_t(random());
    Tensor host = Tensor::wrap(env, cpu, values->data(), count * 4, 0, DT_INT32, {int64_t(count)});
    Tensor t = Tensor::create(env, ext, DT_INT32, {int64_t(count)});
    env.copy(host, t);
    return t;
  }
  std::vector<int32_t> Read(const Tensor& t) {
    std::vector<int32_t> values(t.element_count());
    Tensor host = Tensor::wrap(env, cpu, values.data(), values.size() * 4, 0, DT_INT32,
                               {int64_t(values.size())});
    env.copy(t, host);
    return values;
  }

  Random random;
  devtensor::Env env;
  devtensor::Device cpu, ext;
  std::optional<ExtHooks> hooks;
};

TEST_F(FaultInjection, AFailedAllocationIsOutOfMemoryLeaksNothingAndKeepsEarlierTensors) {
  SCOPED_TRACE(random.trace());
  std::vector<int32_t> a_values, b_values;
  Tensor a = Filled(64, &a_values), b = Filled(64, &b_values);
  const int64_t live = hooks->LiveBuffers();
  hooks->fail_allocation_after(0);
  const int64_t shape[] = {16};
  DtValue* made = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensor(env.get(), ext.get(), DT_INT32, shape, 1, &made),
                  DT_OUT_OF_MEMORY, "injected", "64 bytes");
  EXPECT_EQ(made, kUntouchedValue);
  EXPECT_EQ(hooks->LiveBuffers(), live) << "the failed allocation left a buffer";
  // A copy whose source and destination overlap stages through a temporary of the device: its
  // allocation fails, and the whole batch writes nothing.
  hooks->fail_allocation_after(0);
  const Tensor b_head = b.view(0, DT_INT32, {4}), b_tail = b.view(240, DT_INT32, {4});
  const Tensor a_head = a.view(0, DT_INT32, {40}), a_moved = a.view(8, DT_INT32, {40});
  const DtValue* src[] = {b_head.get(), a_head.get()};
  DtValue* dst[] = {b_tail.get(), a_moved.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_OUT_OF_MEMORY, "injected");
  EXPECT_EQ(hooks->LiveBuffers(), live);
  hooks->fail_allocation_after(-1);
  EXPECT_EQ(Read(a), a_values) << "an earlier tensor changed";
  EXPECT_EQ(Read(b), b_values) << "an earlier tensor changed";
  // The next allocation works again, and so does the copy.
  DT_EXPECT_OK(DtCopyTensors(env.get(), src, dst, 2, nullptr));
  std::vector<int32_t> expected_a = a_values, expected_b = b_values;
  std::memmove(expected_a.data() + 2, a_values.data(), 40 * 4);
  std::memcpy(expected_b.data() + 60, b_values.data(), 4 * 4);
  EXPECT_EQ(Read(a), expected_a);
  EXPECT_EQ(Read(b), expected_b);
}

TEST_F(FaultInjection, ADeviceLostPartWayThroughABatchIsDeviceLostAndStaysLost) {
  SCOPED_TRACE(random.trace());
  std::vector<int32_t> values;
  Tensor source = Filled(32, &values);
  Tensor one = Tensor::create(env, ext, DT_INT32, {32}), two = Tensor::create(env, ext, DT_INT32, {32});
  hooks->lose_device_after_pairs(1);
  const DtValue* src[] = {source.get(), source.get()};
  DtValue* dst[] = {one.get(), two.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_DEVICE_LOST, "lost");
  // Everything after: lost, at once.
  DT_EXPECT_ERROR(DtZeroTensor(env.get(), one.get(), nullptr), DT_DEVICE_LOST, "lost");
  const int64_t shape[] = {4};
  DtValue* made = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensor(env.get(), ext.get(), DT_INT32, shape, 1, &made), DT_DEVICE_LOST,
                  "lost");
  EXPECT_EQ(made, kUntouchedValue);
}

TEST_F(FaultInjection, ADeviceLostWhileAStreamWorksIsReportedBySynchronizeWithoutHanging) {
  SCOPED_TRACE(random.trace());
  std::vector<int32_t> values;
  Tensor source = Filled(32, &values);
  Tensor one = Tensor::create(env, ext, DT_INT32, {32});
  std::optional<devtensor::Stream> stream(env.create_stream(ext));
  hooks->lose_device_after_pairs(3);
  for (int i = 0; i < 8; ++i) env.copy(source, one, &*stream);
  env.zero(one, &*stream);
  DT_EXPECT_ERROR(DtSynchronizeStream(stream->get()), DT_DEVICE_LOST, "lost");
  for (int i = 0; i < 4; ++i) env.copy(source, one, &*stream);
  stream.reset();  // releasing a stream whose work failed returns
}

// WebGPU: the device is lost while a replay of a captured step is queued; the stream's
// synchronisation, later replays and the error flags report DT_DEVICE_LOST and return.
class WebGpuFaultInjection : public WebGpuDawnTest {};

TEST_F(WebGpuFaultInjection, ADeviceLostDuringAReplayIsDeviceLostAndNothingHangs) {
  SCOPED_TRACE(random.trace());
  Tensor a = Tensor::create(env, gpu, DT_FLOAT, {256});
  Tensor b = Tensor::create(env, gpu, DT_FLOAT, {256});
  std::vector<float> host(256, -1.0f);
  Tensor host_view = Tensor::wrap(env, cpu, host.data(), host.size() * 4, 0, DT_FLOAT, {256});
  env.run("Fill", {}, {&b}, {devtensor::FloatAttribute("value", 0.25f)});
  devtensor::Stream stream = env.create_stream(gpu);
  devtensor::begin_capture(stream);
  for (int i = 0; i < 40; ++i) env.run("Add", {&a, &b}, {&a}, {}, &stream);
  env.copy(a, host_view, &stream);
  devtensor::Graph graph = devtensor::end_capture(stream);
  DT_ASSERT_OK(DtReplayGraph(graph.get(), stream.get()));
  dawn.api().DeviceForceLoss(dawn.device(), 1 /* Unknown */, wgpu::View("forced by a test"));
  DT_EXPECT_ERROR(DtSynchronizeStream(stream.get()), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(DtReplayGraph(graph.get(), stream.get()), DT_DEVICE_LOST, "lost");
  uint32_t flags = 0;
  DT_EXPECT_ERROR(DtGetDeviceErrorFlags(gpu.get(), &flags), DT_DEVICE_LOST, "lost");
}

}  // namespace

namespace {

// The WebGPU provider's fault-injection hook (see DtWebGpuDebugFailBufferAfter in context.cpp).
using FailBufferAfter = void (*)(int64_t);
FailBufferAfter WebGpuFailBufferAfter() {
  void* library = dlopen((BundledProviderDirectory() + "/libdevtensor_webgpu.so").c_str(),
                         RTLD_NOW | RTLD_NOLOAD);
  if (library == nullptr) return nullptr;
  auto hook = reinterpret_cast<FailBufferAfter>(dlsym(library, "DtWebGpuDebugFailBufferAfter"));
  dlclose(library);  // the env keeps it loaded
  return hook;
}

// A buffer that cannot be made at any point of a batch (uploads of strided host data, an
// unaligned device copy, a download, a clear, an op, on a stream or not): the call fails with
// DT_OUT_OF_MEMORY and writes nothing, or it succeeds and wrote everything; earlier tensors stay.
TEST_F(WebGpuFaultInjection, AFailedBufferAnywhereInABatchIsOutOfMemoryAndWritesNothing) {
  SCOPED_TRACE(random.trace());
  const FailBufferAfter fail_after = WebGpuFailBufferAfter();
  ASSERT_NE(fail_after, nullptr) << "libdevtensor_webgpu.so or its hook not found";
  const std::vector<uint8_t> initial = RandomBytes(random, 1024);
  const std::vector<uint8_t> fresh = RandomBytes(random, 1024);
  Tensor host_initial = Tensor::create(env, cpu, DT_UINT8, {1024});
  std::memcpy(host_initial.data(), initial.data(), 1024);
  Tensor host_fresh = Tensor::create(env, cpu, DT_UINT8, {32, 32});
  std::memcpy(host_fresh.data(), fresh.data(), 1024);
  bool failed_once = false, succeeded = false;
  for (int64_t successes = 0; successes < 12; ++successes) {
    SCOPED_TRACE("buffers before the failure: " + std::to_string(successes));
    Tensor a = Tensor::create(env, gpu, DT_UINT8, {1024});
    env.copy(host_initial, a);
    Tensor downloaded = Tensor::create(env, cpu, DT_UINT8, {7});
    std::memset(downloaded.data(), 0xA5, 7);
    const bool on_stream = successes % 2 == 1;
    std::optional<devtensor::Stream> stream;
    if (on_stream) stream.emplace(env.create_stream(gpu));
    DtStream* s = on_stream ? stream->get() : nullptr;
    // Upload a strided host slice, copy an unaligned window within a, download 7 odd bytes.
    const Tensor up_src = host_fresh.slice(1, 3, 5), up_dst = a.view(1, DT_UINT8, {32, 5});
    const Tensor move_src = a.view(301, DT_UINT8, {50}), move_dst = a.view(503, DT_UINT8, {50});
    const Tensor down_src = a.view(901, DT_UINT8, {7});
    const DtValue* src[] = {up_src.get(), move_src.get(), down_src.get()};
    DtValue* dst[] = {up_dst.get(), move_dst.get(), downloaded.get()};
    fail_after(successes);
    DtStatus* status = DtCopyTensors(env.get(), src, dst, 3, s);
    if (status == nullptr && s != nullptr) status = DtSynchronizeStream(s);
    fail_after(-1);
    const Outcome outcome = Take(status);
    std::vector<uint8_t> expected = initial;
    if (outcome.code == DT_OK) {
      succeeded = true;
      for (int r = 0; r < 32; ++r) std::memcpy(&expected[1 + r * 5], &fresh[r * 32 + 3], 5);
      std::memmove(&expected[503], &expected[301], 50);
      EXPECT_EQ(std::memcmp(downloaded.data(), &expected[901], 7), 0);
    } else {
      failed_once = true;
      EXPECT_EQ(outcome.code, DT_OUT_OF_MEMORY) << outcome.message;
      EXPECT_NE(outcome.message.find("injected"), std::string::npos) << outcome.message;
      EXPECT_EQ(std::vector<uint8_t>(downloaded.data<uint8_t>(), downloaded.data<uint8_t>() + 7),
                std::vector<uint8_t>(7, 0xA5));
    }
    Tensor back = Tensor::create(env, cpu, DT_UINT8, {1024});
    env.copy(a, back);
    EXPECT_EQ(std::memcmp(back.data(), expected.data(), 1024), 0)
        << (outcome.code == DT_OK ? "the batch's result is wrong" : "a failed batch wrote");
    // A new tensor while the failure is due: DT_OUT_OF_MEMORY, nothing made.
    fail_after(0);
    const int64_t shape[] = {64};
    DtValue* made = kUntouchedValue;
    DT_EXPECT_ERROR(DtCreateTensor(env.get(), gpu.get(), DT_FLOAT, shape, 1, &made),
                    DT_OUT_OF_MEMORY, "injected");
    EXPECT_EQ(made, kUntouchedValue);
    fail_after(-1);
  }
  EXPECT_TRUE(failed_once);
  EXPECT_TRUE(succeeded) << "no batch got all the buffers it needs within 12";
}

}  // namespace
