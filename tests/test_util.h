// Helpers shared by the tests: status checks, random bytes, sentinel-guarded buffers.
#ifndef DEVTENSOR_TESTS_TEST_UTIL_H_
#define DEVTENSOR_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "element_sizes.h"

namespace devtensor_test {

// Expects success; on failure prints the status's code and message.
#define DT_EXPECT_OK(call)                                                                   \
  do {                                                                                       \
    DtStatus* s_ = (call);                                                                   \
    EXPECT_EQ(s_, nullptr) << DtGetErrorCodeName(DtGetErrorCode(s_)) << ": "                  \
                           << DtGetErrorMessage(s_);                                         \
    DtReleaseStatus(s_);                                                                     \
  } while (0)
#define DT_ASSERT_OK(call)                                                                   \
  do {                                                                                       \
    DtStatus* s_ = (call);                                                                   \
    ASSERT_EQ(s_, nullptr) << DtGetErrorCodeName(DtGetErrorCode(s_)) << ": "                  \
                           << DtGetErrorMessage(s_);                                         \
  } while (0)

// The code and message of a status, which is released.
struct Outcome {
  DtErrorCode code;
  std::string message;
};
inline Outcome Take(DtStatus* status) {
  Outcome o{DtGetErrorCode(status), DtGetErrorMessage(status)};
  DtReleaseStatus(status);
  return o;
}

// Expects `call` to fail with `code` and a message containing every one of `parts`.
#define DT_EXPECT_ERROR(call, expected_code, ...)                                            \
  do {                                                                                       \
    ::devtensor_test::Outcome o_ = ::devtensor_test::Take(call);                             \
    EXPECT_EQ(o_.code, expected_code) << o_.message;                                                  \
    for (const char* part_ : {__VA_ARGS__}) {                                                \
      EXPECT_NE(o_.message.find(part_), std::string::npos)                                   \
          << "message \"" << o_.message << "\" lacks \"" << part_ << "\"";                  \
    }                                                                                        \
  } while (0)

// A random engine with a fresh seed each run, or DEVTENSOR_TEST_SEED to repeat one. Tests put
// SCOPED_TRACE(random.trace()) first so that a failure prints the seed.
struct Random {
  Random() {
    const char* fixed = std::getenv("DEVTENSOR_TEST_SEED");
    std::random_device device;
    seed = fixed ? std::strtoull(fixed, nullptr, 10) : (uint64_t(device()) << 32) ^ device();
    engine.seed(seed);
  }
  std::string trace() const { return "DEVTENSOR_TEST_SEED=" + std::to_string(seed); }
  uint64_t operator()() { return engine(); }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(engine);
  }
  uint64_t seed = 0;
  std::mt19937_64 engine;
};

inline std::vector<uint8_t> RandomBytes(Random& rng, size_t n) {
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

// The byte every guard region holds; chosen so that neither zeros nor copies are likely to match.
constexpr uint8_t kSentinel = 0xA5;
constexpr size_t kMiB = size_t{1} << 20;
inline std::vector<uint8_t> Sentinels(size_t n) { return std::vector<uint8_t>(n, kSentinel); }

using Shape = std::vector<int64_t>;

constexpr DtElementType kAllTypes[] = {DT_FLOAT,  DT_UINT8,  DT_INT8,    DT_UINT16,  DT_INT16,
                                       DT_INT32,  DT_INT64,  DT_BOOL,    DT_FLOAT16, DT_DOUBLE,
                                       DT_UINT32, DT_UINT64, DT_BFLOAT16};

inline DtElementType RandomType(Random& random) {
  return kAllTypes[random.Between(0, std::size(kAllTypes) - 1)];
}

// Random element bytes; bools hold 0 or 1 as real bool tensors do.
inline std::vector<uint8_t> RandomData(Random& random, DtElementType type, size_t bytes) {
  std::vector<uint8_t> data = RandomBytes(random, bytes);
  if (type == DT_BOOL) {
    for (uint8_t& b : data) b &= 1;
  }
  return data;
}

// A child engine with its own seed drawn from `parent`, for a thread.
inline Random Fork(Random& parent) {
  Random child;
  child.seed = parent();
  child.engine.seed(child.seed);
  return child;
}

inline int64_t Product(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

inline Shape RowMajorStrides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

// "[2, 3, 4]"
inline std::string Text(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// A view into a byte buffer: a row-major `parent` of `element_size`-byte elements starting
// `parent_offset` bytes into the buffer, and the view parent[start[0] : start[0] + shape[0], ...].
// `tail` bytes follow the parent.
struct Placement {
  Shape parent, start, shape;
  size_t element_size = 1;
  size_t parent_offset = 0;
  size_t tail = 0;

  size_t BufferBytes() const { return parent_offset + Product(parent) * element_size + tail; }
  bool Dense() const { return parent == shape; }

  // Byte offsets in the buffer of the view's elements, in row-major order of the view.
  std::vector<size_t> ByteOffsets() const {
    const Shape strides = RowMajorStrides(parent);
    std::vector<size_t> offsets;
    for (int64_t flat = 0; flat < Product(shape); ++flat) {
      int64_t rest = flat, element = 0;
      for (size_t i = shape.size(); i-- > 0;) {
        element += (start[i] + rest % shape[i]) * strides[i];
        rest /= shape[i];
      }
      offsets.push_back(parent_offset + static_cast<size_t>(element) * element_size);
    }
    return offsets;
  }

  std::string Describe() const {
    return "view " + Text(shape) + " at " + Text(start) + " of parent " + Text(parent) + " of " +
           std::to_string(element_size) + "-byte elements at byte " +
           std::to_string(parent_offset) + " of " + std::to_string(BufferBytes());
  }
};

// The whole parent is the view: a dense tensor `pad_elements` into the buffer.
inline Placement DensePlacement(const Shape& shape, size_t element_size, size_t pad_elements,
                         size_t tail) {
  return Placement{shape,        Shape(shape.size(), 0),      shape,
                   element_size, pad_elements * element_size, tail};
}

// Two views of one parent of shape `parent` (placed at pad_elements with `tail` guard bytes), each
// a little shorter than the parent along every axis and at random nearby starts: mostly
// overlapping, and strided.
inline std::pair<Placement, Placement> OverlappingViews(Random& random, const Shape& parent,
                                                        size_t element_size, size_t pad_elements,
                                                        size_t tail) {
  Placement a = DensePlacement(parent, element_size, pad_elements, tail);
  Placement b = a;
  for (size_t i = 0; i < parent.size(); ++i) {
    const int64_t length = parent[i] - random.Between(0, std::min<int64_t>(2, parent[i] - 1));
    a.shape[i] = b.shape[i] = length;
    a.start[i] = random.Between(0, parent[i] - length);
    b.start[i] = random.Between(0, parent[i] - length);
  }
  return {a, b};
}

// Whether two placements in one buffer share a byte.
inline bool SharesBytes(const Placement& a, const Placement& b) {
  const std::vector<size_t> a_bytes = a.ByteOffsets(), b_bytes = b.ByteOffsets();
  const std::set<size_t> in_a(a_bytes.begin(), a_bytes.end());
  return std::any_of(b_bytes.begin(), b_bytes.end(), [&](size_t byte) { return in_a.count(byte); });
}

// The parent is longer than the view along random axes (always at least one), and the view starts
// at a random place along each: strided, with gaps wherever an inner axis is longer.
inline Placement StridedPlacement(Random& random, const Shape& shape, size_t element_size) {
  Placement p = DensePlacement(shape, element_size, random.Between(1, 5), random.Between(1, 16));
  const size_t forced = random.Between(0, shape.size() - 1);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != forced && random.Between(0, 1) == 0) continue;
    const int64_t extra = random.Between(1, 3);
    p.parent[i] += extra;
    p.start[i] = random.Between(0, extra);
  }
  return p;
}


// dst[element k of `to`] = src[element k of `from`], for every k: the reference copy.
inline void ReferenceCopy(const std::vector<uint8_t>& src, const Placement& from,
                   std::vector<uint8_t>* dst, const Placement& to) {
  if (from.Dense() && to.Dense()) {  // large round trips: one block
    std::memcpy(dst->data() + to.parent_offset, src.data() + from.parent_offset,
                Product(from.shape) * from.element_size);
    return;
  }
  const std::vector<size_t> a = from.ByteOffsets(), b = to.ByteOffsets();
  for (size_t k = 0; k < a.size(); ++k) {
    std::memcpy(dst->data() + b[k], src.data() + a[k], from.element_size);
  }
}


// Owns a DtValue in tests written against the C API.
struct ValueDeleter {
  void operator()(DtValue* value) const { DtReleaseValue(value); }
};
using Value = std::unique_ptr<DtValue, ValueDeleter>;

inline Value View(const DtValue* base, size_t byte_offset, DtElementType type, const Shape& shape) {
  DtValue* out = nullptr;
  devtensor::Check(DtCreateTensorView(base, byte_offset, type, shape.data(), shape.size(), &out));
  return Value(out);
}

inline Value Slice(const DtValue* base, size_t axis, int64_t start, int64_t length) {
  DtValue* out = nullptr;
  devtensor::Check(DtSliceTensor(base, axis, start, length, &out));
  return Value(out);
}

inline uint8_t* DataOf(const DtValue* tensor) {
  void* data = nullptr;
  devtensor::Check(DtGetTensorData(tensor, &data));
  return static_cast<uint8_t*>(data);
}

// Reads and clears a device's error flags, expecting the read to succeed.
inline uint32_t ReadErrorFlags(const DtDevice* device) {
  uint32_t flags = 0xdeadbeef;
  DtStatus* status = DtGetDeviceErrorFlags(device, &flags);
  EXPECT_EQ(status, nullptr) << DtGetErrorMessage(status);
  DtReleaseStatus(status);
  return flags;
}

// Byte-for-byte equality, reporting how many bytes differ and the first one.
inline ::testing::AssertionResult SameBytes(const std::vector<uint8_t>& actual,
                                     const std::vector<uint8_t>& expected) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << "sizes " << actual.size() << " and " << expected.size();
  }
  size_t differ = 0, first = 0;
  for (size_t i = actual.size(); i-- > 0;) {
    if (actual[i] != expected[i]) {
      ++differ;
      first = i;
    }
  }
  if (differ == 0) return ::testing::AssertionSuccess();
  char bytes[48];
  std::snprintf(bytes, sizeof bytes, "0x%02x instead of 0x%02x", actual[first], expected[first]);
  return ::testing::AssertionFailure() << differ << " of " << actual.size()
                                       << " bytes differ; first at byte " << first << ": " << bytes;
}

// An env and its CPU device for one test.
class CpuEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DT_ASSERT_OK(DtCreateEnv(&env_));
    DT_ASSERT_OK(DtGetDevice(env_, DT_DEVICE_CPU, 0, &cpu_));
  }
  void TearDown() override { DtReleaseEnv(env_); }

  DtEnv* env_ = nullptr;
  const DtDevice* cpu_ = nullptr;
};

// A test with an env, its CPU device and its first WebGPU device. Error flags an earlier test
// left on the device are cleared first, so ErrorFlags() reports this test's own.
class WebGpuEnvTest : public ::testing::Test {
 public:
  void SetUp() override {
    const DtDevice* device = nullptr;
    DT_ASSERT_OK(DtGetDevice(env.get(), DT_DEVICE_WEBGPU, 0, &device));
    gpu = devtensor::Device(device);
    cpu = env.device(DT_DEVICE_CPU);
    ReadErrorFlags(gpu.get());
  }

  uint32_t ErrorFlags() { return ReadErrorFlags(gpu.get()); }

  Random random;
  devtensor::Env env;
  devtensor::Device cpu, gpu;
};

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_TEST_UTIL_H_
