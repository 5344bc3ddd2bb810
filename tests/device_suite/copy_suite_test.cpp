// DtCopyTensors and DtZeroTensor on every device (kDeviceCases): copies between the host and the
// device and within the device, of every element type, dense and strided, at any byte offset,
// from one element to 8 MiB; batches (pairs take effect in order and read what earlier pairs
// wrote; one bad pair anywhere writes nothing; destinations that overlap are refused, interleaved
// ones are not); source and destination in one buffer (memmove); clears of any view; argument
// checks; eight threads at once; and empty views whose strides overflow any byte arithmetic.
//
// Every destination view sits inside a larger buffer filled with kSentinel (or random bytes), and
// after the call the whole buffer is compared with a reference computed element by element from a
// placement described independently of the library (copy_trials.h), so a byte written outside the
// view (before it, after it, in the gaps of a strided view) shows as well as a wrong element.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "device_suite/copy_trials.h"
#include "device_suite/device_cases.h"

namespace {

using namespace devtensor_test;
using devtensor::Tensor;

class CopySuite : public DeviceTest {
 public:
  // A tensor devtensor allocates on the device, holding random elements (also in `values`).
  Tensor RandomDeviceTensor(DtElementType type, const Shape& shape,
                            std::vector<uint8_t>* values) {
    Tensor tensor = Tensor::create(env, device, type, shape);
    *values = RandomData(random, type, size_t(Product(shape)) * SizeOf(type));
    SetDeviceStorage(tensor, *values);
    return tensor;
  }
};
DT_INSTANTIATE_DEVICE_SUITE(CopySuite);

// A dense tensor holding `values` in its own buffer on the device, kSentinel guards on both sides.
struct Guarded {
  Placement place;
  std::unique_ptr<Bytes> bytes;
  Tensor tensor;

  // The buffer as it must be when the tensor holds `values`: guards untouched.
  std::vector<uint8_t> Holding(const std::vector<uint8_t>& values) const {
    std::vector<uint8_t> expected = Sentinels(bytes->size());
    std::copy(values.begin(), values.end(), expected.begin() + place.parent_offset);
    return expected;
  }
};

std::unique_ptr<Guarded> MakeGuarded(const DeviceFixture& f, Random& random, DtElementType type,
                                     const Shape& shape, const std::vector<uint8_t>& values) {
  auto g = std::make_unique<Guarded>();
  g->place = DensePlacement(shape, SizeOf(type), random.Between(1, 4), random.Between(1, 16));
  g->bytes = f.NewBytes(Where::kDevice, g->place.BufferBytes());
  g->bytes->Set(g->Holding(values));
  g->tensor = g->bytes->View(g->place, type);
  return g;
}

// ---- Single copies ------------------------------------------------------------------------------

TEST_P(CopySuite, EveryElementTypeIntoGuardedBuffers) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    const size_t size = SizeOf(type);
    for (int trial = 0; trial < Trials(12, 3); ++trial) {
      // Ranks 0..3; now and then an empty tensor.
      Shape shape(random.Between(0, 3));
      for (int64_t& d : shape) d = random.Between(random.Between(0, 9) == 0 ? 0 : 1, 20);
      const Placement to = DensePlacement(shape, size, random.Between(1, 8), random.Between(1, 32));
      SCOPED_TRACE(Name(type) + " " + Text(shape));
      std::vector<uint8_t> values;
      Tensor src = RandomDeviceTensor(type, shape, &values);
      auto dst = NewBytes(Where::kDevice, to.BufferBytes());
      dst->Set(Sentinels(to.BufferBytes()));
      Tensor dst_view = dst->View(to, type);

      DT_ASSERT_OK(CopyOne(env.get(), src.get(), dst_view.get()));
      std::vector<uint8_t> expected = Sentinels(to.BufferBytes());
      std::copy(values.begin(), values.end(), expected.begin() + to.parent_offset);
      ASSERT_TRUE(SameBytes(dst->Get(), expected));
      ASSERT_TRUE(SameBytes(GetDeviceStorage(src, values.size()), values))
          << "source must not change";
    }
  }
}

// Random copies within the device, each side dense or strided as asked; stops at the first failure.
void StridedCopies(CopySuite& t, int trials, bool src_strided, bool dst_strided) {
  for (int trial = 0; trial < trials; ++trial) {
    auto copy = StridedOrDenseTrial(t, t.random, src_strided, dst_strided, Where::kDevice,
                                    Where::kDevice);
    const ::testing::AssertionResult ok = RunTrial(t, *copy);
    EXPECT_TRUE(ok);
    if (!ok) break;
  }
}

TEST_P(CopySuite, StridedSourceToDenseDestination) {
  SCOPED_TRACE(random.trace());
  StridedCopies(*this, Trials(1000, 100), /*src_strided=*/true, /*dst_strided=*/false);
}

TEST_P(CopySuite, DenseSourceToStridedDestination) {
  SCOPED_TRACE(random.trace());
  StridedCopies(*this, Trials(1000, 100), /*src_strided=*/false, /*dst_strided=*/true);
}

TEST_P(CopySuite, StridedToDifferentlyStrided) {
  SCOPED_TRACE(random.trace());
  StridedCopies(*this, Trials(2000, 200), /*src_strided=*/true, /*dst_strided=*/true);
}

TEST_P(CopySuite, RandomStridedViewsInAllDirections) {
  SCOPED_TRACE(random.trace());
  for (const auto& [from, to] : kDirections) {
    for (int trial = 0; trial < 60; ++trial) {
      ASSERT_TRUE(RunTrial(*this, *RandomTrial(*this, random, from, to)));
    }
  }
}

TEST_P(CopySuite, SlicesOnEveryAxisOfARank4TensorInAllDirections) {
  SCOPED_TRACE(random.trace());
  for (size_t axis = 0; axis < 4; ++axis) {
    for (const auto& [from, to] : kDirections) {
      for (int trial = 0; trial < 8; ++trial) {
        const DtElementType type = RandomType(random);
        const size_t size = SizeOf(type);
        // Two or more rows on axis 0, so that a slice along any later axis has gaps.
        Shape shape(4);
        for (int64_t& d : shape) d = random.Between(1, 5);
        shape[0] = random.Between(2, 4);
        // The device side is a slice along `axis` (the source when both are on the device); the
        // other side is dense or, every other time, a slice along a random axis of its own.
        const Placement sliced = SliceAlong(random, shape, size, axis);
        const Placement other =
            trial % 2 ? SliceAlong(random, shape, size, random.Between(0, 3))
                      : DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 16));
        const bool device_is_destination = from == Where::kHost;
        std::unique_ptr<Trial> t =
            device_is_destination ? MakeTrial(*this, random, type, from, other, to, sliced)
                                  : MakeTrial(*this, random, type, from, sliced, to, other);
        const Tensor& device_side = device_is_destination ? t->dst_view : t->src_view;
        EXPECT_EQ(device_side.contiguous(), axis == 0) << "a slice along axis " << axis;
        ASSERT_TRUE(RunTrial(*this, *t)) << "axis " << axis;
      }
    }
  }
}

// cache[:, :, pos, :] = token for a [layers, heads, max_len, head_dim] fp16 cache on the device.
TEST_P(CopySuite, KvCacheAppendOfOneTokenLeavesTheRestOfTheCache) {
  SCOPED_TRACE(random.trace());
  struct Config {
    int64_t layers, heads, max_len, head_dim;
  };
  // Rows of 128 bytes (word-aligned) and of 10 bytes (not), then random caches.
  std::vector<Config> configs = {{4, 3, 40, 64}, {3, 2, 33, 5}};
  for (int trial = 0; trial < Trials(10, 2); ++trial) {
    configs.push_back({random.Between(1, 4), random.Between(1, 8), random.Between(2, 64),
                       8 * random.Between(1, 16)});
  }
  for (const Config& c : configs) {
    const Shape shape = {c.layers, c.heads, c.max_len, c.head_dim};
    const Shape token_shape = {c.layers, c.heads, 1, c.head_dim};
    const Placement cache = DensePlacement(shape, 2, random.Between(1, 5), random.Between(1, 16));
    SCOPED_TRACE("cache " + cache.Describe());
    // fp16 bit patterns, NaNs and all, must move bit-exactly; sentinel guards around the cache.
    auto bytes = NewBytes(Where::kDevice, cache.BufferBytes());
    std::vector<uint8_t> state = Sentinels(cache.BufferBytes());
    const std::vector<uint8_t> filling = RandomBytes(random, Product(shape) * 2);
    std::copy(filling.begin(), filling.end(), state.begin() + cache.parent_offset);
    bytes->Set(state);
    Tensor cache_tensor = bytes->View(cache, DT_FLOAT16);

    const int64_t positions[] = {0, c.max_len - 1, random.Between(0, c.max_len - 1),
                                 random.Between(0, c.max_len - 1),
                                 random.Between(0, c.max_len - 1)};
    int step = 0;
    for (int64_t position : positions) {
      SCOPED_TRACE("position " + std::to_string(position));
      Tensor slot = cache_tensor.slice(2, position, 1);
      EXPECT_EQ(slot.shape(), token_shape);
      EXPECT_EQ(slot.strides(), RowMajorStrides(shape));
      EXPECT_EQ(slot.contiguous(), c.layers * c.heads == 1);
      // The token comes from the host, or every other time from a device tensor.
      Tensor host = Tensor::create(env, cpu, DT_FLOAT16, token_shape);
      const std::vector<uint8_t> token = RandomBytes(random, Product(token_shape) * 2);
      std::memcpy(host.data(), token.data(), token.size());
      if (step++ % 2 == 0) {
        env.copy(host, slot);
      } else {
        Tensor on_device = Tensor::create(env, device, DT_FLOAT16, token_shape);
        env.copy(host, on_device);
        env.copy(on_device, slot);
      }
      Placement at = cache;
      at.start[2] = position;
      at.shape[2] = 1;
      ReferenceCopy(token, DensePlacement(token_shape, 2, 0, 0), &state, at);
      ASSERT_TRUE(SameBytes(bytes->Get(), state));
    }
  }
}

// ---- Round trips --------------------------------------------------------------------------------

// Host (random, at an offset) -> device view inside a sentinel buffer -> host view inside a
// sentinel buffer wrapped at an offset; each destination buffer is checked whole.
void RoundTrip(CopySuite& t, DtElementType type, const Shape& shape, size_t device_pad,
               size_t host_pad) {
  Random& random = t.random;
  const size_t size = SizeOf(type);
  const Placement source = DensePlacement(shape, size, random.Between(0, 3), random.Between(1, 8));
  const Placement on_device = DensePlacement(shape, size, device_pad, random.Between(1, 16));
  const Placement back = DensePlacement(shape, size, host_pad, random.Between(1, 16));
  SCOPED_TRACE(Name(type) + " " + Text(shape) + ": device " + on_device.Describe() + ", host " +
               back.Describe());
  auto up = MakeTrial(t, random, type, Where::kHost, source, Where::kDevice, on_device);
  ASSERT_TRUE(RunTrial(t, *up)) << "upload";

  auto host = t.NewBytes(Where::kHost, back.BufferBytes());
  host->Set(Sentinels(back.BufferBytes()));
  Tensor host_view = host->View(back, type);
  DT_ASSERT_OK(CopyOne(t.env.get(), up->dst_view.get(), host_view.get()));
  std::vector<uint8_t> expected = Sentinels(back.BufferBytes());
  ReferenceCopy(up->src_before, source, &expected, back);
  ASSERT_TRUE(SameBytes(host->Get(), expected)) << "download";
  ASSERT_TRUE(SameBytes(up->dst->Get(), up->expected)) << "the download changed its source";
}

TEST_P(CopySuite, RoundTripOfEveryTypeAtRandomOffsetsAndSizes) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    const size_t size = SizeOf(type);
    const int64_t per_word = size < 4 ? int64_t(4 / size) : 1;  // elements in 4 bytes
    for (int trial = 0; trial < 16; ++trial) {
      // From one element to 256 KiB, as many small as large.
      int64_t count = LogUniform(random, 1, (256 * 1024) / size);
      // Destinations always have guard bytes before and after them.
      size_t device_pad = random.Between(1, 9), host_pad = random.Between(1, 9);
      Shape shape = {count};
      if (trial == 0) {  // word-aligned offset and size
        count = (count + per_word - 1) / per_word * per_word;
        shape = {count};
        device_pad = (device_pad + per_word - 1) / per_word * per_word;
      } else if (trial == 1 && per_word > 1) {  // neither offset nor size a multiple of 4
        count = count / per_word * per_word + 1;
        shape = {count};
        device_pad = device_pad / per_word * per_word + 1;
      } else if (trial == 2) {  // a scalar
        shape = {};
      } else if (trial == 3) {  // rank 3
        shape = {random.Between(1, 7), random.Between(1, 7), random.Between(1, 9)};
      } else if (trial == 4) {  // empty: nothing may be written
        shape = {random.Between(0, 3), 0};
      }
      ASSERT_NO_FATAL_FAILURE(RoundTrip(*this, type, shape, device_pad, host_pad));
    }
  }
}

TEST_P(CopySuite, RoundTripFromTinyToEightMiBAlignedAndNot) {
  SCOPED_TRACE(random.trace());
  struct Case {
    DtElementType type;
    size_t bytes, device_offset;
  };
  const Case cases[] = {
      {DT_UINT8, 1, 4},
      {DT_UINT8, 1, 3},
      {DT_UINT8, 2, 1},
      {DT_INT8, 3, 2},
      {DT_BOOL, 5, 7},
      {DT_UINT8, 4, 8},
      {DT_FLOAT16, 6, 2},
      {DT_INT16, 4098, 6},
      {DT_UINT8, 65537, 1},
      {DT_BFLOAT16, kMiB + 2, 2},
      {DT_FLOAT, 8 * kMiB, 4},
      {DT_UINT8, 8 * kMiB - 1, 1},
      {DT_DOUBLE, 8 * kMiB - 8, 8},
  };
  for (const Case& c : cases) {
    // Host memory copies every size alike: of the large sizes, one unaligned 8 MiB there.
    if (device_case.host_memory && c.bytes > 65537 && c.bytes != 8 * kMiB - 1) continue;
    const size_t size = SizeOf(c.type);
    ASSERT_NO_FATAL_FAILURE(RoundTrip(*this, c.type, {int64_t(c.bytes / size)},
                                      c.device_offset / size, random.Between(1, 5)));
  }
}

// ---- Within the device: between buffers and within one ------------------------------------------

TEST_P(CopySuite, BetweenTwoBuffersAtIndependentOffsets) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 150; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape shape = trial % 2 ? RandomShape(random, 1, 3) : Shape{LogUniform(random, 1, 5000)};
    const Placement from = DensePlacement(shape, size, random.Between(0, 9), random.Between(0, 9));
    const Placement to = DensePlacement(shape, size, random.Between(1, 9), random.Between(1, 16));
    auto t = MakeTrial(*this, random, type, Where::kDevice, from, Where::kDevice, to);
    ASSERT_TRUE(RunTrial(*this, *t));
  }
}

// Large copies between buffers (WebGPU's bulk-copy shader takes those of 8 MiB or more at
// 16-byte-aligned offsets and sizes): aligned to 16, to 4 only, and not at all, each destination
// among sentinels. Host memory has no such path: one unaligned copy there.
TEST_P(CopySuite, LargeCopiesAtSixteenByteAndOtherOffsets) {
  SCOPED_TRACE(random.trace());
  const std::vector<size_t> units = device_case.host_memory
                                        ? std::vector<size_t>{1}
                                        : std::vector<size_t>{16, 16, 16, 4, 4, 1};
  for (size_t unit : units) {
    const int64_t count = (8 * int64_t(kMiB) + 16 * random.Between(0, 100000)) / int64_t(unit);
    const Shape shape = {count * int64_t(unit)};
    const Placement from = DensePlacement(shape, 1, unit * size_t(random.Between(0, 64)), 16);
    const Placement to = DensePlacement(shape, 1, unit * size_t(random.Between(1, 64)), 16);
    SCOPED_TRACE(std::to_string(shape[0]) + " bytes, offsets in units of " + std::to_string(unit));
    auto t = MakeTrial(*this, random, DT_UINT8, Where::kDevice, from, Where::kDevice, to);
    ASSERT_TRUE(RunTrial(*this, *t));
  }
}

// One device buffer of random bytes with views `from` and `to` of one parent in it: the copy must
// act as if the whole source were read before anything is written (memmove).
::testing::AssertionResult CopyWithinOneBuffer(CopySuite& t, DtElementType type,
                                               const Placement& from, const Placement& to) {
  auto bytes = t.NewBytes(Where::kDevice, from.BufferBytes());
  const std::vector<uint8_t> before = RandomData(t.random, type, from.BufferBytes());
  bytes->Set(before);
  Tensor src = bytes->View(from, type), dst = bytes->View(to, type);
  std::vector<uint8_t> expected = before;
  ReferenceCopy(before, from, &expected, to);
  DtStatus* status = CopyOne(t.env.get(), src.get(), dst.get());
  if (status != nullptr) {
    const Outcome o = Take(status);
    return ::testing::AssertionFailure() << DtGetErrorCodeName(o.code) << ": " << o.message;
  }
  return SameBytes(bytes->Get(), expected);
}

// A 1-D view of `length` elements at `start` of a parent of `n` elements.
Placement Run1D(int64_t n, int64_t start, int64_t length, size_t size, size_t pad, size_t tail) {
  Placement p = DensePlacement({n}, size, pad, tail);
  p.start = {start};
  p.shape = {length};
  return p;
}

TEST_P(CopySuite, WithinOneBufferDisjointRanges) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 120; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(2, 800);
    const int64_t length = random.Between(1, n / 2);
    int64_t a = 0, b = 0;
    do {
      a = random.Between(0, n - length);
      b = random.Between(0, n - length);
    } while (std::abs(a - b) < length);
    const size_t pad = random.Between(0, 7), tail = random.Between(0, 9);
    const Placement from = Run1D(n, a, length, size, pad, tail);
    const Placement to = Run1D(n, b, length, size, pad, tail);
    SCOPED_TRACE(Name(type) + " from " + from.Describe() + " to " + to.Describe());
    ASSERT_TRUE(CopyWithinOneBuffer(*this, type, from, to));
  }
}

TEST_P(CopySuite, WithinOneBufferOverlappingRangesIsMemmove) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 100; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(16, 600);
    // Shifts of 1 to 8 elements (inside one word and across words) and larger ones.
    const int64_t shift = trial < 24 ? trial % 8 + 1 : random.Between(1, n - 1);
    const bool right = trial % 2 == 0;
    const size_t pad = random.Between(0, 7), tail = random.Between(0, 9);
    const Placement from = Run1D(n, right ? 0 : shift, n - shift, size, pad, tail);
    const Placement to = Run1D(n, right ? shift : 0, n - shift, size, pad, tail);
    SCOPED_TRACE(Name(type) + " from " + from.Describe() + " to " + to.Describe());
    ASSERT_TRUE(CopyWithinOneBuffer(*this, type, from, to));
  }
  // A row shifted by 1 to 8 elements either way, every shift of one row.
  for (int trial = 0; trial < Trials(10, 2); ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(16, 128);
    const size_t pad = random.Between(1, 4), tail = random.Between(1, 16);
    for (int64_t k = 1; k <= 8; ++k) {
      for (bool right : {true, false}) {
        const Placement from = Run1D(n, right ? 0 : k, n - k, size, pad, tail);
        const Placement to = Run1D(n, right ? k : 0, n - k, size, pad, tail);
        SCOPED_TRACE(Name(type) + " row of " + std::to_string(n) +
                     (right ? " right by " : " left by ") + std::to_string(k));
        ASSERT_TRUE(CopyWithinOneBuffer(*this, type, from, to));
      }
    }
  }
}

TEST_P(CopySuite, OverlappingStridedViewsOfOneParent) {
  SCOPED_TRACE(random.trace());
  int overlapping = 0;
  const int trials = Trials(1000, 150);
  for (int trial = 0; trial < trials; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape parent = RandomShape(random, 1, 4);
    const auto [from, to] =
        OverlappingViews(random, parent, size, random.Between(0, 5), random.Between(1, 16));
    if (SharesBytes(from, to)) ++overlapping;
    SCOPED_TRACE(Name(type) + " from " + from.Describe() + " to " + to.Describe());
    ASSERT_TRUE(CopyWithinOneBuffer(*this, type, from, to));
  }
  EXPECT_GT(overlapping, trials / 4) << "the test must mostly exercise overlapping pairs";
}

// ---- Batches ------------------------------------------------------------------------------------

TEST_P(CopySuite, BatchOfManyPairsAllTakeEffect) {
  SCOPED_TRACE(random.trace());
  for (int round = 0; round < Trials(5, 2); ++round) {
    const size_t count = random.Between(20, 60);
    std::vector<std::unique_ptr<Trial>> trials;
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    for (size_t i = 0; i < count; ++i) {
      const auto& [from, to] = kDirections[random.Between(0, 2)];
      trials.push_back(StridedOrDenseTrial(*this, random, random.Between(0, 1),
                                           random.Between(0, 1), from, to));
      src.push_back(trials.back()->src_view.get());
      dst.push_back(trials.back()->dst_view.get());
    }
    DT_ASSERT_OK(DtCopyTensors(env.get(), src.data(), dst.data(), count, nullptr));
    for (size_t i = 0; i < count; ++i) {
      SCOPED_TRACE("pair " + std::to_string(i));
      ASSERT_TRUE(Check(*trials[i]));
    }
  }
}

TEST_P(CopySuite, BatchPairsTakeEffectInOrder) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < Trials(20, 5); ++trial) {
    const DtElementType type = RandomType(random);
    const Shape shape = RandomShape(random, 1, 3);
    SCOPED_TRACE(Name(type) + " " + Text(shape));
    const size_t bytes = Product(shape) * SizeOf(type);
    const std::vector<uint8_t> a0 = RandomData(random, type, bytes),
                               b0 = RandomData(random, type, bytes),
                               c0 = RandomData(random, type, bytes),
                               x0 = RandomData(random, type, bytes);
    auto a = MakeGuarded(*this, random, type, shape, a0);
    auto b = MakeGuarded(*this, random, type, shape, b0);
    auto c = MakeGuarded(*this, random, type, shape, c0);
    auto x = MakeGuarded(*this, random, type, shape, x0);
    // A -> B, then X -> A (after A was read), then B -> C (reads what pair 0 wrote).
    const DtValue* src[] = {a->tensor.get(), x->tensor.get(), b->tensor.get()};
    DtValue* dst[] = {b->tensor.get(), a->tensor.get(), c->tensor.get()};
    DT_ASSERT_OK(DtCopyTensors(env.get(), src, dst, 3, nullptr));
    EXPECT_TRUE(SameBytes(b->bytes->Get(), b->Holding(a0))) << "B";
    EXPECT_TRUE(SameBytes(a->bytes->Get(), a->Holding(x0))) << "A";
    EXPECT_TRUE(SameBytes(c->bytes->Get(), c->Holding(a0))) << "C";
    EXPECT_TRUE(SameBytes(x->bytes->Get(), x->Holding(x0))) << "X";
  }
}

TEST_P(CopySuite, BatchLaterPairReadsAStridedWriteOfAnEarlierPair) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < Trials(20, 5); ++trial) {
    const int64_t rows = random.Between(1, 10), cols = random.Between(2, 10);
    const int64_t c0 = random.Between(0, cols - 1), width = random.Between(1, cols - c0);
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    std::vector<uint8_t> m0, s0;
    Tensor matrix = RandomDeviceTensor(type, {rows, cols}, &m0);
    Tensor column_src = RandomDeviceTensor(type, {rows, width}, &s0);
    Tensor columns = matrix.slice(1, c0, width);
    const Placement out = DensePlacement({rows, cols}, size, 2, 8);
    auto out_bytes = NewBytes(Where::kDevice, out.BufferBytes());
    out_bytes->Set(Sentinels(out.BufferBytes()));
    Tensor whole = out_bytes->View(out, type);
    // Pair 0 writes columns c0 .. c0 + width of the matrix; pair 1 copies the whole matrix out.
    const DtValue* src[] = {column_src.get(), matrix.get()};
    DtValue* dst[] = {columns.get(), whole.get()};
    DT_ASSERT_OK(DtCopyTensors(env.get(), src, dst, 2, nullptr));

    std::vector<uint8_t> matrix_now = m0;
    ReferenceCopy(s0, DensePlacement({rows, width}, size, 0, 0), &matrix_now,
                  Placement{{rows, cols}, {0, c0}, {rows, width}, size, 0, 0});
    std::vector<uint8_t> expected = Sentinels(out.BufferBytes());
    std::copy(matrix_now.begin(), matrix_now.end(), expected.begin() + out.parent_offset);
    ASSERT_TRUE(SameBytes(out_bytes->Get(), expected));
  }
}

// A batch with one bad pair is refused as a whole: no destination, earlier or later, is written.
TEST_P(CopySuite, BatchWithOneBadPairAnywhereWritesNothing) {
  SCOPED_TRACE(random.trace());
  enum Fault { kShape, kRank, kType, kNullSrc, kNullDst };
  const char* const fault_names[] = {"shape", "rank", "type", "null src", "null dst"};
  const Shape shape = {3, 4};
  constexpr size_t kPairs = 5;
  for (Fault fault : {kShape, kRank, kType, kNullSrc, kNullDst}) {
    for (size_t bad = 0; bad < kPairs; ++bad) {
      SCOPED_TRACE(std::string(fault_names[fault]) + " at pair " + std::to_string(bad));
      std::vector<Tensor> srcs, dsts;
      std::vector<std::unique_ptr<Bytes>> buffers;
      std::vector<const DtValue*> src;
      std::vector<DtValue*> dst;
      for (size_t i = 0; i < kPairs; ++i) {
        std::vector<uint8_t> values;
        srcs.push_back(RandomDeviceTensor(DT_FLOAT, shape, &values));
        DtElementType dst_type = DT_FLOAT;
        Shape dst_shape = shape;
        if (i == bad && fault == kShape) dst_shape = {4, 3};  // same bytes, other shape
        if (i == bad && fault == kRank) dst_shape = {12};
        if (i == bad && fault == kType) dst_type = DT_INT32;  // same bytes, other type
        buffers.push_back(NewBytes(Where::kDevice, 16 + 48 + 16));
        buffers.back()->Set(Sentinels(16 + 48 + 16));
        dsts.push_back(buffers.back()->View(DensePlacement(dst_shape, 4, 4, 16), dst_type));
        src.push_back(i == bad && fault == kNullSrc ? nullptr : srcs.back().get());
        dst.push_back(i == bad && fault == kNullDst ? nullptr : dsts.back().get());
      }
      const std::string pair = "pair " + std::to_string(bad);
      const std::string src_entry = "src[" + std::to_string(bad) + "]";
      const std::string dst_entry = "dst[" + std::to_string(bad) + "]";
      DtStatus* status = DtCopyTensors(env.get(), src.data(), dst.data(), kPairs, nullptr);
      switch (fault) {
        case kShape:
          DT_EXPECT_ERROR(status, DT_INVALID_ARGUMENT, pair.c_str(), "[3, 4]", "[4, 3]");
          break;
        case kRank:
          DT_EXPECT_ERROR(status, DT_INVALID_ARGUMENT, pair.c_str(), "[3, 4]", "[12]");
          break;
        case kType:
          DT_EXPECT_ERROR(status, DT_INVALID_ARGUMENT, pair.c_str(), DtGetElementTypeName(DT_FLOAT),
                          DtGetElementTypeName(DT_INT32));
          break;
        case kNullSrc: DT_EXPECT_ERROR(status, DT_INVALID_ARGUMENT, src_entry.c_str()); break;
        case kNullDst: DT_EXPECT_ERROR(status, DT_INVALID_ARGUMENT, dst_entry.c_str()); break;
      }
      for (size_t i = 0; i < kPairs; ++i) {
        EXPECT_TRUE(AllSentinel(buffers[i]->Get())) << "destination " << i << " was written";
      }
    }
  }
}

// Three valid pairs (an upload, a copy within the device, a download) and a bad fourth, with or
// without a stream: refused naming the bad pair, and none of the three writes.
TEST_P(CopySuite, BatchOfMixedDirectionsWithOneBadPairWritesNothing) {
  SCOPED_TRACE(random.trace());
  const DtElementType type = RandomType(random);
  const size_t size = SizeOf(type);
  const Shape shape = {3, 5};
  const Placement a = DensePlacement(shape, size, 1, 8 * size);
  const Placement b = StridedPlacement(random, shape, size);
  const Placement o = DensePlacement(shape, size, 3, 4);
  const Placement s = DensePlacement(shape, size, 2, 2);
  auto g1 = NewBytes(Where::kDevice, a.BufferBytes());
  auto g2 = NewBytes(Where::kDevice, b.BufferBytes());
  auto host_out = NewBytes(Where::kHost, o.BufferBytes());
  auto host_in = NewBytes(Where::kHost, s.BufferBytes());
  auto device_in = NewBytes(Where::kDevice, s.BufferBytes());
  for (Bytes* guarded : {g1.get(), g2.get(), host_out.get()}) {
    guarded->Set(Sentinels(guarded->size()));
  }
  const std::vector<uint8_t> host_values = RandomData(random, type, s.BufferBytes());
  const std::vector<uint8_t> device_values = RandomData(random, type, s.BufferBytes());
  host_in->Set(host_values);
  device_in->Set(device_values);
  Tensor va = g1->View(a, type), vb = g2->View(b, type), vo = host_out->View(o, type),
         vhi = host_in->View(s, type), vgi = device_in->View(s, type);

  // Bad fourth pairs, each with what the error must say.
  Tensor wrong_type_dst =
      Tensor::create(env, device, type == DT_INT32 ? DT_FLOAT : DT_INT32, {3, 5});
  Tensor transposed = Tensor::create(env, cpu, type, {5, 3});
  Tensor overlapping = g1->whole().view(a.parent_offset + size, type, {2});
  Tensor small = Tensor::create(env, cpu, type, {2});
  const std::string src_type = Name(type);
  const std::string dst_type = type == DT_INT32 ? "float" : "int32";
  struct Bad {
    const DtValue* src;
    DtValue* dst;
    DtErrorCode code;
    std::vector<std::string> parts;
  };
  const Bad bads[] = {
      {vgi.get(), wrong_type_dst.get(), DT_INVALID_ARGUMENT, {"pair 3", src_type, dst_type}},
      {vgi.get(), transposed.get(), DT_INVALID_ARGUMENT, {"pair 3", "[3, 5]", "[5, 3]"}},
      {small.get(), overlapping.get(), DT_INVALID_ARGUMENT, {"dst[0]", "dst[3]", "overlap"}},
      {nullptr, transposed.get(), DT_INVALID_ARGUMENT, {"src[3]", "NULL"}},
      {vgi.get(), nullptr, DT_INVALID_ARGUMENT, {"dst[3]", "NULL"}},
  };
  for (const Bad& bad : bads) {
    const DtValue* src[] = {vhi.get(), vgi.get(), vgi.get(), bad.src};
    DtValue* dst[] = {va.get(), vb.get(), vo.get(), bad.dst};
    for (bool on_stream : {false, true}) {
      SCOPED_TRACE(std::string(on_stream ? "on a stream: " : "") + bad.parts[0] + " " +
                   bad.parts.back());
      std::optional<devtensor::Stream> stream;
      if (on_stream) stream.emplace(env.create_stream(device));
      const Outcome o =
          Take(DtCopyTensors(env.get(), src, dst, 4, on_stream ? stream->get() : nullptr));
      EXPECT_EQ(o.code, bad.code) << o.message;
      for (const std::string& part : bad.parts) {
        EXPECT_NE(o.message.find(part), std::string::npos) << o.message << " lacks " << part;
      }
      if (stream) DT_EXPECT_OK(DtSynchronizeStream(stream->get()));
      EXPECT_TRUE(SameBytes(g1->Get(), Sentinels(g1->size()))) << "upload destination";
      EXPECT_TRUE(SameBytes(g2->Get(), Sentinels(g2->size()))) << "device copy destination";
      EXPECT_TRUE(SameBytes(host_out->Get(), Sentinels(host_out->size())))
          << "download destination";
    }
  }
  // The same pairs without the bad one all land.
  const DtValue* src[] = {vhi.get(), vgi.get(), vgi.get()};
  DtValue* dst[] = {va.get(), vb.get(), vo.get()};
  DT_ASSERT_OK(DtCopyTensors(env.get(), src, dst, 3, nullptr));
  std::vector<uint8_t> g1_expected = Sentinels(g1->size()), g2_expected = Sentinels(g2->size()),
                       out_expected = Sentinels(host_out->size());
  ReferenceCopy(host_values, s, &g1_expected, a);
  ReferenceCopy(device_values, s, &g2_expected, b);
  ReferenceCopy(device_values, s, &out_expected, o);
  EXPECT_TRUE(SameBytes(g1->Get(), g1_expected));
  EXPECT_TRUE(SameBytes(g2->Get(), g2_expected));
  EXPECT_TRUE(SameBytes(host_out->Get(), out_expected));
}

// Two destinations sharing a byte are refused, naming both indices, and nothing is written.
TEST_P(CopySuite, BatchOverlappingDestinationsAreRefused) {
  SCOPED_TRACE(random.trace());
  constexpr size_t kPairs = 4;
  for (size_t i = 0; i < kPairs; ++i) {
    for (size_t j = i + 1; j < kPairs; ++j) {
      for (bool i_first : {true, false}) {
        SCOPED_TRACE("dst " + std::to_string(i) + " and " + std::to_string(j) +
                     (i_first ? ", first in memory" : ", second in memory"));
        // The shared buffer holds 48 floats; the two views of 32 floats overlap by 16.
        auto shared = NewBytes(Where::kDevice, 8 + 48 * 4 + 8);
        shared->Set(Sentinels(shared->size()));
        Tensor base = shared->View(DensePlacement({48}, 4, 2, 8), DT_FLOAT);
        std::vector<std::unique_ptr<Bytes>> own(kPairs);
        std::vector<Tensor> srcs, dsts;
        std::vector<const DtValue*> src;
        std::vector<DtValue*> dst;
        for (size_t k = 0; k < kPairs; ++k) {
          std::vector<uint8_t> values;
          srcs.push_back(RandomDeviceTensor(DT_FLOAT, {32}, &values));
          if (k == i || k == j) {
            const bool lower = (k == i) == i_first;
            dsts.push_back(base.view(lower ? 0 : 16 * 4, DT_FLOAT, {32}));
          } else {
            own[k] = NewBytes(Where::kDevice, 8 + 32 * 4 + 8);
            own[k]->Set(Sentinels(own[k]->size()));
            dsts.push_back(own[k]->View(DensePlacement({32}, 4, 2, 8), DT_FLOAT));
          }
          src.push_back(srcs.back().get());
          dst.push_back(dsts.back().get());
        }
        const std::string first = "dst[" + std::to_string(i) + "]";
        const std::string second = "dst[" + std::to_string(j) + "]";
        DT_EXPECT_ERROR(DtCopyTensors(env.get(), src.data(), dst.data(), kPairs, nullptr),
                        DT_INVALID_ARGUMENT, first.c_str(), second.c_str());
        EXPECT_TRUE(AllSentinel(shared->Get()));
        for (size_t k = 0; k < kPairs; ++k) {
          if (own[k]) {
            EXPECT_TRUE(AllSentinel(own[k]->Get())) << "dst " << k;
          }
        }
      }
    }
  }
}

TEST_P(CopySuite, BatchOverlapOfStridedOrMixedTypeDestinationsIsRefused) {
  SCOPED_TRACE(random.trace());
  const int64_t rows = random.Between(2, 6);
  auto shared = NewBytes(Where::kDevice, 4 + rows * 8 * 4 + 4);
  shared->Set(Sentinels(shared->size()));
  Tensor matrix = shared->View(DensePlacement({rows, 8}, 4, 1, 4), DT_FLOAT);
  std::vector<uint8_t> a_values, b_values, c_values, d_values;
  Tensor a = RandomDeviceTensor(DT_FLOAT, {rows, 3}, &a_values);
  Tensor b = RandomDeviceTensor(DT_FLOAT, {rows, 3}, &b_values);

  // Columns 0..2 and 2..4 share column 2.
  Tensor left = matrix.slice(1, 0, 3);
  Tensor middle = matrix.slice(1, 2, 3);
  const DtValue* src[] = {a.get(), b.get()};
  DtValue* dst[] = {left.get(), middle.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_INVALID_ARGUMENT, "dst[0]",
                  "dst[1]");

  // One tensor twice.
  DtValue* twice[] = {left.get(), left.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, twice, 2, nullptr), DT_INVALID_ARGUMENT, "dst[0]",
                  "dst[1]");

  // Different element types sharing one byte: floats 0..3 and the byte view at byte 15.
  Tensor floats = matrix.view(0, DT_FLOAT, {4});
  Tensor one_byte = matrix.view(15, DT_UINT8, {1});
  Tensor c = RandomDeviceTensor(DT_FLOAT, {4}, &c_values);
  Tensor d = RandomDeviceTensor(DT_UINT8, {1}, &d_values);
  const DtValue* mixed_src[] = {d.get(), c.get()};
  DtValue* mixed_dst[] = {one_byte.get(), floats.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), mixed_src, mixed_dst, 2, nullptr), DT_INVALID_ARGUMENT,
                  "dst[0]", "dst[1]");
  EXPECT_TRUE(AllSentinel(shared->Get()));
}

// Slices that interleave in memory but share no byte (column blocks of one matrix, or adjacent
// ranges) are fine as destinations of one call.
TEST_P(CopySuite, BatchOfInterleavedDisjointDestinationsIsAccepted) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < Trials(50, 10); ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    Shape parent = RandomShape(random, 2, 4);
    const size_t axis = random.Between(1, parent.size() - 1);  // an inner axis: blocks interleave
    parent[axis] = random.Between(2, 8);
    const Placement whole = DensePlacement(parent, size, random.Between(1, 3), random.Between(1, 8));
    SCOPED_TRACE(Name(type) + " " + Text(parent) + " split on axis " + std::to_string(axis));
    auto buffer = NewBytes(Where::kDevice, whole.BufferBytes());
    buffer->Set(Sentinels(whole.BufferBytes()));
    Tensor matrix = buffer->View(whole, type);

    // Cut the axis into 2 or 3 pieces; list them in a random order.
    std::vector<int64_t> cuts = {0, parent[axis]};
    for (int k = random.Between(1, 2); k > 0 && parent[axis] > 2; --k) {
      cuts.push_back(random.Between(1, parent[axis] - 1));
    }
    if (cuts.size() == 2) cuts.push_back(1);
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    std::vector<size_t> pieces(cuts.size() - 1);
    for (size_t p = 0; p < pieces.size(); ++p) pieces[p] = p;
    std::shuffle(pieces.begin(), pieces.end(), random.engine);

    std::vector<Tensor> srcs, dsts;
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    std::vector<uint8_t> expected = Sentinels(whole.BufferBytes());
    for (size_t p : pieces) {
      Placement piece = whole;
      piece.start[axis] = cuts[p];
      piece.shape[axis] = cuts[p + 1] - cuts[p];
      std::vector<uint8_t> values;
      srcs.push_back(RandomDeviceTensor(type, piece.shape, &values));
      dsts.push_back(matrix.slice(axis, piece.start[axis], piece.shape[axis]));
      src.push_back(srcs.back().get());
      dst.push_back(dsts.back().get());
      ReferenceCopy(values, DensePlacement(piece.shape, size, 0, 0), &expected, piece);
    }
    DT_ASSERT_OK(DtCopyTensors(env.get(), src.data(), dst.data(), src.size(), nullptr));
    ASSERT_TRUE(SameBytes(buffer->Get(), expected));
  }
}

// Destinations in four buffers (two devtensor allocations, two buffers of the test's, the tensor
// 8 bytes into each) never conflict, however their addresses compare.
TEST_P(CopySuite, BatchDestinationsInDifferentBuffersNeverConflict) {
  SCOPED_TRACE(random.trace());
  const Shape shape = {16, 9};
  const size_t bytes = 16 * 9 * 8;
  Tensor big0 = Tensor::create(env, device, DT_INT64, {16 * 9 + 2});
  Tensor big1 = Tensor::create(env, device, DT_INT64, {16 * 9 + 2});
  SetDeviceStorage(big0, Sentinels(bytes + 16));
  SetDeviceStorage(big1, Sentinels(bytes + 16));
  auto one = NewBytes(Where::kDevice, 8 + bytes + 8), two = NewBytes(Where::kDevice, 8 + bytes + 8);
  one->Set(Sentinels(one->size()));
  two->Set(Sentinels(two->size()));
  Tensor d0 = big0.view(8, DT_INT64, shape);
  Tensor d1 = big1.view(8, DT_INT64, shape);
  Tensor d2 = one->View(DensePlacement(shape, 8, 1, 8), DT_INT64);
  Tensor d3 = two->View(DensePlacement(shape, 8, 1, 8), DT_INT64);
  std::vector<uint8_t> values[4];
  Tensor s[4];
  for (int i = 0; i < 4; ++i) s[i] = RandomDeviceTensor(DT_INT64, shape, &values[i]);
  const DtValue* src[] = {s[0].get(), s[1].get(), s[2].get(), s[3].get()};
  DtValue* dst[] = {d0.get(), d1.get(), d2.get(), d3.get()};
  DT_ASSERT_OK(DtCopyTensors(env.get(), src, dst, 4, nullptr));

  const std::vector<uint8_t> contents[4] = {GetDeviceStorage(big0, bytes + 16),
                                            GetDeviceStorage(big1, bytes + 16), one->Get(),
                                            two->Get()};
  for (int i = 0; i < 4; ++i) {
    std::vector<uint8_t> expected(bytes + 16, kSentinel);
    std::copy(values[i].begin(), values[i].end(), expected.begin() + 8);
    EXPECT_TRUE(SameBytes(contents[i], expected)) << "dst " << i;
  }
}

// One DtCopyTensors call: upload A, copy A -> B on the device, download B, download A into a
// strided host view, upload C into A's buffer, copy C -> D into B's buffer. Later pairs read what
// earlier ones wrote.
void MixedBatch(CopySuite& t, const devtensor::Stream* stream) {
  Random& random = t.random;
  const DtElementType type = RandomType(random);
  const size_t size = SizeOf(type);
  const Shape shape = RandomShape(random, 1, 3);
  const size_t bytes = Product(shape) * size;
  // A and C in one device buffer, B (strided) and D in another, each with sentinel guards.
  const Placement a = DensePlacement(shape, size, random.Between(1, 5), 0);
  Placement c = DensePlacement(shape, size, 0, random.Between(1, 16));
  c.parent_offset = a.parent_offset + bytes + random.Between(1, 5) * size;
  const Placement b = StridedPlacement(random, shape, size);
  Placement d = DensePlacement(shape, size, 0, random.Between(1, 16));
  d.parent_offset = (b.BufferBytes() + random.Between(0, 5) * size + size - 1) / size * size;
  const Placement out1 = DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 16));
  const Placement out2 = StridedPlacement(random, shape, size);
  const Placement in = DensePlacement(shape, size, random.Between(0, 3), random.Between(0, 3));
  SCOPED_TRACE(Name(type) + ": A " + a.Describe() + ", B " + b.Describe() + ", C " + c.Describe() +
               ", D " + d.Describe() + ", out " + out1.Describe() + ", strided out " +
               out2.Describe());

  auto g1 = t.NewBytes(Where::kDevice, c.BufferBytes());
  auto g2 = t.NewBytes(Where::kDevice, d.BufferBytes());
  auto h1 = t.NewBytes(Where::kHost, out1.BufferBytes());
  auto h2 = t.NewBytes(Where::kHost, out2.BufferBytes());
  auto in_a = t.NewBytes(Where::kHost, in.BufferBytes());
  auto in_c = t.NewBytes(Where::kHost, in.BufferBytes());
  for (Bytes* guarded : {g1.get(), g2.get(), h1.get(), h2.get()}) {
    guarded->Set(Sentinels(guarded->size()));
  }
  const std::vector<uint8_t> a_values = RandomData(random, type, in.BufferBytes());
  const std::vector<uint8_t> c_values = RandomData(random, type, in.BufferBytes());
  in_a->Set(a_values);
  in_c->Set(c_values);
  Tensor va = g1->View(a, type), vc = g1->View(c, type), vb = g2->View(b, type),
         vd = g2->View(d, type), vo1 = h1->View(out1, type), vo2 = h2->View(out2, type),
         via = in_a->View(in, type), vic = in_c->View(in, type);

  const std::vector<std::pair<const Tensor*, const Tensor*>> pairs = {
      {&via, &va}, {&va, &vb}, {&vb, &vo1}, {&va, &vo2}, {&vic, &vc}, {&vc, &vd}};
  std::vector<const DtValue*> src;
  std::vector<DtValue*> dst;
  for (const auto& [from, to] : pairs) {
    src.push_back(from->get());
    dst.push_back(to->get());
  }
  DT_ASSERT_OK(DtCopyTensors(t.env.get(), src.data(), dst.data(), src.size(),
                             stream ? stream->get() : nullptr));
  if (stream != nullptr) DT_ASSERT_OK(DtSynchronizeStream(stream->get()));

  std::vector<uint8_t> g1_expected = Sentinels(g1->size()), g2_expected = Sentinels(g2->size()),
                       h1_expected = Sentinels(h1->size()), h2_expected = Sentinels(h2->size());
  ReferenceCopy(a_values, in, &g1_expected, a);
  ReferenceCopy(c_values, in, &g1_expected, c);
  ReferenceCopy(g1_expected, a, &g2_expected, b);
  ReferenceCopy(g1_expected, c, &g2_expected, d);
  ReferenceCopy(g2_expected, b, &h1_expected, out1);
  ReferenceCopy(g1_expected, a, &h2_expected, out2);
  EXPECT_TRUE(SameBytes(g1->Get(), g1_expected)) << "A and C";
  EXPECT_TRUE(SameBytes(g2->Get(), g2_expected)) << "B and D";
  EXPECT_TRUE(SameBytes(h1->Get(), h1_expected)) << "B downloaded";
  EXPECT_TRUE(SameBytes(h2->Get(), h2_expected)) << "A downloaded into a strided view";
  EXPECT_TRUE(SameBytes(in_a->Get(), a_values) && SameBytes(in_c->Get(), c_values))
      << "sources must not change";
}

TEST_P(CopySuite, BatchOfMixedDirectionsReadsWhatEarlierPairsWrote) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 30; ++trial) {
    ASSERT_NO_FATAL_FAILURE(MixedBatch(*this, nullptr));
  }
  devtensor::Stream stream = env.create_stream(device);
  for (int trial = 0; trial < 30; ++trial) {
    ASSERT_NO_FATAL_FAILURE(MixedBatch(*this, &stream));
  }
}

// Later pairs write what earlier ones read: an upload into S after S was copied on the device and
// downloaded must not reach those copies. (On WebGPU word-aligned uploads are queue writes, which
// run before the call's recorded commands unless the provider orders them.)
TEST_P(CopySuite, BatchUploadIntoWhatEarlierPairsReadComesAfterThem) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(device);
  for (int trial = 0; trial < 16; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    // Even trials word-aligned (offset and size multiples of 4 elements), odd ones anywhere.
    const bool aligned = trial % 2 == 0;
    const Shape shape = {aligned ? 4 * random.Between(1, 40) : random.Between(1, 160)};
    const size_t pad = aligned ? 4 * random.Between(1, 3) : random.Between(1, 9);
    const Placement s = DensePlacement(shape, size, pad, random.Between(1, 16));
    const Placement e = DensePlacement(shape, size, random.Between(1, 9), random.Between(1, 16));
    const Placement out = DensePlacement(shape, size, random.Between(1, 9), random.Between(1, 16));
    const Placement in = DensePlacement(shape, size, random.Between(0, 3), random.Between(1, 3));
    const bool on_stream = trial % 4 >= 2;
    SCOPED_TRACE(Name(type) + " S " + s.Describe() + (on_stream ? " on a stream" : ""));
    auto gs = NewBytes(Where::kDevice, s.BufferBytes());
    auto ge = NewBytes(Where::kDevice, e.BufferBytes());
    auto ho = NewBytes(Where::kHost, out.BufferBytes());
    auto hi = NewBytes(Where::kHost, in.BufferBytes());
    const std::vector<uint8_t> old_values = RandomData(random, type, gs->size());
    const std::vector<uint8_t> new_values = RandomData(random, type, hi->size());
    gs->Set(old_values);
    ge->Set(Sentinels(ge->size()));
    ho->Set(Sentinels(ho->size()));
    hi->Set(new_values);
    Tensor vs = gs->View(s, type), ve = ge->View(e, type), vo = ho->View(out, type),
           vi = hi->View(in, type);
    env.copy({{&vs, &ve}, {&vs, &vo}, {&vi, &vs}}, on_stream ? &stream : nullptr);
    if (on_stream) stream.synchronize();
    std::vector<uint8_t> e_expected = Sentinels(ge->size()), out_expected = Sentinels(ho->size()),
                         s_expected = old_values;
    ReferenceCopy(old_values, s, &e_expected, e);
    ReferenceCopy(old_values, s, &out_expected, out);
    ReferenceCopy(new_values, in, &s_expected, s);
    EXPECT_TRUE(SameBytes(ge->Get(), e_expected)) << "pair 0 copied S on the device";
    EXPECT_TRUE(SameBytes(ho->Get(), out_expected)) << "pair 1 downloaded S";
    EXPECT_TRUE(SameBytes(gs->Get(), s_expected)) << "pair 2 uploaded into S";
  }
}

// Pair 0 downloads A into host memory H, pair 1 uploads H to C: C must hold A.
TEST_P(CopySuite, BatchUploadReadsWhatAnEarlierDownloadWrote) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    auto d = MakeDownloadThenUpload(*this, random, trial);
    SCOPED_TRACE(Name(d->type) + ": A " + d->a.Describe() + ", host " + d->h.Describe());
    env.copy({{&d->va, &d->vh}, {&d->vh, &d->vc}});
    EXPECT_TRUE(SameBytes(d->hh->Get(), d->h_expected)) << "pair 0: A downloaded into H";
    EXPECT_TRUE(SameBytes(d->gc->Get(), d->c_expected))
        << "pair 1 must upload what pair 0 put in H";
  }
}

// ---- DtZeroTensor -------------------------------------------------------------------------------

TEST_P(CopySuite, ZeroOfContiguousSubViewsAtAnyOffset) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 100; ++trial) {
    // The first trials: a word-aligned clear, then a uint8 and a float16 view off word boundaries.
    const DtElementType type = trial == 0   ? DT_FLOAT
                               : trial == 1 ? DT_UINT8
                               : trial == 2 ? DT_FLOAT16
                                            : RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(8, 400);
    int64_t first = random.Between(0, n - 1), length = random.Between(1, n - first);
    if (trial == 1) first = 1, length = 5;
    if (trial == 2) first = 1, length = 3;
    SCOPED_TRACE(Name(type) + " elements " + std::to_string(first) + ":+" + std::to_string(length) +
                 " of " + std::to_string(n));
    // Random bytes everywhere, guards included, so clearing one byte too many shows.
    const size_t pad = random.Between(1, 3);
    auto bytes = NewBytes(Where::kDevice, (pad + n + 2) * size);
    const std::vector<uint8_t> before = RandomData(random, type, bytes->size());
    bytes->Set(before);
    const Shape shape = length % 3 == 0 ? Shape{3, length / 3} : Shape{length};
    Tensor view = bytes->whole().view((pad + first) * size, type, shape);
    std::vector<uint8_t> expected = before;
    std::fill_n(expected.begin() + (pad + first) * size, length * size, 0);
    DT_ASSERT_OK(DtZeroTensor(env.get(), view.get(), nullptr));
    ASSERT_TRUE(SameBytes(bytes->Get(), expected));
  }
  // Views of a base one element into its buffer, of one element and more.
  for (int trial = 0; trial < Trials(50, 10); ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(1, 200);
    const int64_t first = random.Between(0, n - 1), length = random.Between(1, n - first);
    SCOPED_TRACE(Name(type) + " elements " + std::to_string(first) + ":+" + std::to_string(length) +
                 " of " + std::to_string(n));
    auto bytes = NewBytes(Where::kDevice, (n + 2) * size);
    const std::vector<uint8_t> before = RandomData(random, type, bytes->size());
    bytes->Set(before);
    Tensor base = bytes->View(DensePlacement({n}, size, 1, size), type);
    const Shape shape = length % 3 == 0 ? Shape{3, length / 3} : Shape{length};
    Tensor view = base.view(first * size, type, shape);
    std::vector<uint8_t> expected = before;
    std::fill(expected.begin() + (1 + first) * size, expected.begin() + (1 + first + length) * size,
              0);
    DT_ASSERT_OK(DtZeroTensor(env.get(), view.get(), nullptr));
    ASSERT_TRUE(SameBytes(bytes->Get(), expected));
  }
}

TEST_P(CopySuite, ZeroOfAStridedSliceLeavesTheGaps) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < Trials(200, 100); ++trial) {
    const DtElementType type = RandomType(random);
    const Placement p = StridedPlacement(random, RandomShape(random, 1, 5), SizeOf(type));
    SCOPED_TRACE(Name(type) + " " + p.Describe());
    auto bytes = NewBytes(Where::kDevice, p.BufferBytes());
    const std::vector<uint8_t> before = RandomData(random, type, p.BufferBytes());
    bytes->Set(before);
    Tensor view = bytes->View(p, type);
    std::vector<uint8_t> expected = before;
    for (size_t at : p.ByteOffsets()) std::fill_n(expected.begin() + at, p.element_size, 0);
    DT_ASSERT_OK(DtZeroTensor(env.get(), view.get(), nullptr));
    ASSERT_TRUE(SameBytes(bytes->Get(), expected));
  }
}

TEST_P(CopySuite, ZeroOfAnEmptySliceWritesNothing) {
  SCOPED_TRACE(random.trace());
  auto bytes = NewBytes(Where::kDevice, 4 * 6 * 4);
  const std::vector<uint8_t> before = RandomBytes(random, bytes->size());
  bytes->Set(before);
  Tensor empty = bytes->whole().view(0, DT_FLOAT, {4, 6}).slice(1, 3, 0);
  DT_EXPECT_OK(DtZeroTensor(env.get(), empty.get(), nullptr));
  EXPECT_TRUE(SameBytes(bytes->Get(), before));
}

// ---- Argument checks ----------------------------------------------------------------------------

TEST_P(CopySuite, CountZeroWithNullArraysIsNothing) {
  DT_EXPECT_OK(DtCopyTensors(env.get(), nullptr, nullptr, 0, nullptr));
  devtensor::Stream stream = env.create_stream(device);
  DT_EXPECT_OK(DtCopyTensors(env.get(), nullptr, nullptr, 0, stream.get()));
  DT_EXPECT_OK(DtSynchronizeStream(stream.get()));
}

TEST_P(CopySuite, NullEnvOrArraysWriteNothing) {
  SCOPED_TRACE(random.trace());
  std::vector<uint8_t> values;
  Tensor src = RandomDeviceTensor(DT_FLOAT, {6}, &values);
  auto buffer = NewBytes(Where::kDevice, 4 + 24 + 4);
  buffer->Set(Sentinels(buffer->size()));
  Tensor dst = buffer->View(DensePlacement({6}, 4, 1, 4), DT_FLOAT);
  const DtValue* srcs[] = {src.get(), src.get()};
  DtValue* dsts[] = {dst.get(), nullptr};

  DT_EXPECT_ERROR(DtCopyTensors(nullptr, srcs, dsts, 1, nullptr), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtCopyTensors(nullptr, nullptr, nullptr, 0, nullptr), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), nullptr, dsts, 1, nullptr), DT_INVALID_ARGUMENT, "src",
                  "count 1");
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), srcs, nullptr, 2, nullptr), DT_INVALID_ARGUMENT, "dst",
                  "count 2");
  EXPECT_TRUE(AllSentinel(buffer->Get()));

  DT_EXPECT_ERROR(DtZeroTensor(nullptr, dst.get(), nullptr), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtZeroTensor(env.get(), nullptr, nullptr), DT_INVALID_ARGUMENT, "tensor");
  EXPECT_TRUE(AllSentinel(buffer->Get()));
}

TEST_P(CopySuite, PairsOfAnotherShapeOrTypeAreRefusedAndWriteNothing) {
  SCOPED_TRACE(random.trace());
  auto g = NewBytes(Where::kDevice, 4 + 24 + 4);
  g->Set(Sentinels(g->size()));
  Tensor view = g->whole().view(4, DT_FLOAT, {2, 3});
  auto h = NewBytes(Where::kHost, 4 + 24 + 4);
  h->Set(Sentinels(h->size()));
  Tensor host_view = h->View(DensePlacement({2, 3}, 4, 1, 4), DT_FLOAT);
  Tensor host_float = Tensor::create(env, cpu, DT_FLOAT, {3, 2});
  Tensor host_int = Tensor::create(env, cpu, DT_INT32, {2, 3});
  Tensor host_flat = Tensor::create(env, cpu, DT_FLOAT, {6});
  Tensor device_int = Tensor::create(env, device, DT_INT32, {2, 3});
  Tensor device_wide = Tensor::create(env, device, DT_FLOAT, {2, 4});
  for (Tensor* t : {&host_float, &host_int, &host_flat}) {
    std::memset(t->data(), 0x11, 24);
  }
  auto e = env.get();
  DT_EXPECT_ERROR(CopyOne(e, host_float.get(), view.get()), DT_INVALID_ARGUMENT, "pair 0", "[3, 2]",
                  "[2, 3]");
  DT_EXPECT_ERROR(CopyOne(e, host_int.get(), view.get()), DT_INVALID_ARGUMENT, "pair 0", "int32",
                  "float");
  DT_EXPECT_ERROR(CopyOne(e, host_flat.get(), view.get()), DT_INVALID_ARGUMENT, "[6]", "[2, 3]");
  DT_EXPECT_ERROR(CopyOne(e, device_int.get(), view.get()), DT_INVALID_ARGUMENT, "int32", "float");
  DT_EXPECT_ERROR(CopyOne(e, device_wide.get(), view.get()), DT_INVALID_ARGUMENT, "[2, 4]",
                  "[2, 3]");
  EXPECT_TRUE(SameBytes(g->Get(), Sentinels(g->size()))) << "device destination";
  DT_EXPECT_ERROR(CopyOne(e, view.get(), host_flat.get()), DT_INVALID_ARGUMENT, "[2, 3]", "[6]");
  DT_EXPECT_ERROR(CopyOne(e, device_int.get(), host_view.get()), DT_INVALID_ARGUMENT, "int32",
                  "float");
  EXPECT_TRUE(SameBytes(h->Get(), Sentinels(h->size()))) << "host destination";
  EXPECT_EQ(std::vector<uint8_t>(host_flat.data<uint8_t>(), host_flat.data<uint8_t>() + 24),
            std::vector<uint8_t>(24, 0x11));
}

// ---- Threads ------------------------------------------------------------------------------------

constexpr int kThreads = 8;

// Runs body(thread index, its own random engine) on kThreads threads at once; an exception thrown
// in a thread becomes a test failure.
template <typename Body>
void OnThreads(Random& random, Body body) {
  std::vector<Random> randoms;
  for (int t = 0; t < kThreads; ++t) randoms.push_back(Fork(random));
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      try {
        body(t, randoms[t]);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

// Device buffers are set and read through devtensor on threads (Dawn is not called beside it).
TEST_P(CopySuite, EightThreadsWithTheirOwnTensorsSomeOnStreams) {
  SCOPED_TRACE(random.trace());
  const int trials = Trials(300, 80);
  OnThreads(random, [&](int thread, Random& mine) {
    std::optional<devtensor::Stream> stream;
    if (thread % 2) stream.emplace(env.create_stream(device));
    for (int i = 0; i < trials; ++i) {
      const auto& [from, to] = kDirections[mine.Between(0, 2)];
      auto trial = RandomTrial(*this, mine, from, to, /*direct=*/false);
      const ::testing::AssertionResult ok = RunTrial(*this, *trial, stream ? &*stream : nullptr);
      EXPECT_TRUE(ok) << "thread " << thread << " (seed " << mine.seed << ")";
      if (!ok) break;
    }
  });
}

TEST_P(CopySuite, EightThreadsCopyFromOneSharedSource) {
  SCOPED_TRACE(random.trace());
  const Shape parent = {64, 48};
  std::vector<uint8_t> values;
  Tensor shared = RandomDeviceTensor(DT_FLOAT, parent, &values);
  const int trials = Trials(300, 30);
  OnThreads(random, [&](int thread, Random& mine) {
    for (int trial = 0; trial < trials; ++trial) {
      // A random block of the shared source into a strided destination of this thread, on the
      // host or on the device.
      Placement from = DensePlacement(parent, 4, 0, 0);
      for (size_t i = 0; i < 2; ++i) {
        from.shape[i] = mine.Between(1, parent[i]);
        from.start[i] = mine.Between(0, parent[i] - from.shape[i]);
      }
      const Placement to = StridedPlacement(mine, from.shape, 4);
      const Where where = mine.Between(0, 1) ? Where::kDevice : Where::kHost;
      Tensor block = shared.slice(0, from.start[0], from.shape[0]).slice(1, from.start[1], from.shape[1]);
      auto buffer = NewBytes(where, to.BufferBytes(), /*direct=*/false);
      buffer->Set(Sentinels(to.BufferBytes()));
      Tensor dst = buffer->View(to, DT_FLOAT);
      std::vector<uint8_t> expected = Sentinels(to.BufferBytes());
      ReferenceCopy(values, from, &expected, to);

      DtStatus* status = CopyOne(env.get(), block.get(), dst.get());
      EXPECT_EQ(status, nullptr) << DtGetErrorMessage(status);
      DtReleaseStatus(status);
      const ::testing::AssertionResult same = SameBytes(buffer->Get(), expected);
      EXPECT_TRUE(same) << "thread " << thread << ": " << from.Describe() << " to " << WhereName(where)
                        << " " << to.Describe();
      if (!same) break;
    }
  });
  EXPECT_TRUE(SameBytes(GetDeviceStorage(shared, values.size()), values))
      << "the shared source must not change";
}

// ---- Empty views whose strides overflow ---------------------------------------------------------

constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();

// An empty view of shape [1, INT64_MAX, 0] holds no bytes and is valid, and its strides (INT64_MAX
// elements along axis 0) overflow any byte arithmetic that multiplies them by an element size or a
// position. Copies and zeros of such views and of their slices, alone and in batches, between the
// host and the device and within each, write nothing: both arenas keep their sentinels.
TEST_P(CopySuite, EmptyViewsWithHugeStridesCopyAndZeroNothing) {
  std::vector<std::pair<Where, Where>> pairs(std::begin(kDirections), std::end(kDirections));
  for (const auto& [from, to] : pairs) {
    SCOPED_TRACE(std::string(WhereName(from)) + " to " + WhereName(to));
    auto source = NewBytes(from, 512), destination = NewBytes(to, 512);
    source->Set(Sentinels(512));
    destination->Set(Sentinels(512));
    for (DtElementType type : {DT_INT16, DT_UINT8, DT_FLOAT, DT_INT64}) {
      SCOPED_TRACE(Name(type));
      const size_t size = SizeOf(type);
      auto empty_slice = [&](const Bytes& arena, size_t offset) {
        return arena.whole().view(offset, type, {1, kHuge, 0}).slice(1, 0, 5).slice(0, 0, 0);
      };
      Tensor a = empty_slice(*source, 3 * size), b = empty_slice(*destination, 5 * size);
      env.copy(a, b);
      Tensor wa = source->whole().view(7 * size, type, {1, kHuge, 0});
      Tensor wb = destination->whole().view(9 * size, type, {1, kHuge, 0});
      env.copy(wa, wb);
      // Slices at the far end of the huge axis keep the base offset: still no bytes.
      Tensor fa = source->whole().view(11 * size, type, {1, kHuge, 0}).slice(1, kHuge - 3, 3);
      Tensor fb = destination->whole().view(13 * size, type, {1, kHuge, 0}).slice(1, kHuge - 3, 3);
      env.copy({{&fa, &fb}, {&wa, &wb}, {&a, &b}});
      // Within one buffer: source and destination views of one arena.
      Tensor c = empty_slice(*destination, 15 * size);
      env.copy(b, c);
      env.copy(wb, wb);
      env.zero(b);
      env.zero(wb);
      env.zero(fb);
      env.zero(a);
    }
    EXPECT_TRUE(SameBytes(source->Get(), Sentinels(512))) << "source";
    EXPECT_TRUE(SameBytes(destination->Get(), Sentinels(512))) << "destination";
  }
}

}  // namespace
