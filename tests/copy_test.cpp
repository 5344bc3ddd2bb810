// DtCopyTensors, DtZeroTensor and streams on the CPU device. Every destination lives in a host
// buffer with kSentinel guard bytes around it (and in the gaps of strided views); the expected
// buffer is computed here element by element from a placement described independently of the
// library (a row-major parent and per-axis starts), and the whole buffer is compared, so a byte
// written outside the view shows as well as a wrong element.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "test_util.h"

namespace {

using namespace devtensor_test;



// ---- Where a view's elements are, computed independently of the library ------------------------

bool AllSentinel(const std::vector<uint8_t>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == kSentinel; });
}

// ---- Library calls (setup steps throw devtensor::Error; gtest reports it as a failure) ----------

Value Create(DtEnv* env, const DtDevice* device, DtElementType type, const Shape& shape) {
  DtValue* out = nullptr;
  devtensor::Check(DtCreateTensor(env, device, type, shape.data(), shape.size(), &out));
  return Value(out);
}

Value Wrap(DtEnv* env, const DtDevice* device, std::vector<uint8_t>& buffer, size_t byte_offset,
           DtElementType type, const Shape& shape) {
  DtValue* out = nullptr;
  devtensor::Check(DtCreateTensorWithData(env, device, buffer.data(), buffer.size(), byte_offset,
                                          type, shape.data(), shape.size(), &out));
  return Value(out);
}

// The library's view of placement `p` over `buffer`: the parent wrapped, then sliced along every
// axis where the view is shorter.
Value MakeView(DtEnv* env, const DtDevice* cpu, std::vector<uint8_t>& buffer, const Placement& p,
               DtElementType type) {
  Value view = Wrap(env, cpu, buffer, p.parent_offset, type, p.parent);
  for (size_t axis = 0; axis < p.shape.size(); ++axis) {
    if (p.shape[axis] != p.parent[axis]) {
      view = Slice(view.get(), axis, p.start[axis], p.shape[axis]);
    }
  }
  return view;
}

// A library-allocated contiguous tensor holding random elements; `bytes` receives them.
Value RandomTensor(DtEnv* env, const DtDevice* cpu, Random& random, DtElementType type,
                   const Shape& shape, std::vector<uint8_t>* bytes) {
  Value tensor = Create(env, cpu, type, shape);
  *bytes = RandomData(random, type, Product(shape) * SizeOf(type));
  if (!bytes->empty()) std::memcpy(DataOf(tensor.get()), bytes->data(), bytes->size());
  return tensor;
}

Shape RandomShape(Random& random, size_t min_rank, size_t max_rank) {
  Shape shape(random.Between(min_rank, max_rank));
  for (int64_t& d : shape) d = random.Between(1, shape.size() <= 2 ? 12 : 5);
  return shape;
}

// A dense tensor holding `values`, wrapped in its own buffer with kSentinel guards on both sides.
struct GuardedTensor {
  Placement place;
  std::vector<uint8_t> buffer;
  Value tensor;

  // The buffer as it must be when the tensor holds `values`: guards untouched.
  std::vector<uint8_t> Holding(const std::vector<uint8_t>& values) const {
    std::vector<uint8_t> expected(buffer.size(), kSentinel);
    std::copy(values.begin(), values.end(), expected.begin() + place.parent_offset);
    return expected;
  }
};

std::unique_ptr<GuardedTensor> Guarded(DtEnv* env, const DtDevice* cpu, Random& random,
                                       DtElementType type, const Shape& shape,
                                       const std::vector<uint8_t>& values) {
  auto g = std::make_unique<GuardedTensor>();
  g->place = DensePlacement(shape, SizeOf(type), random.Between(1, 4), random.Between(1, 16));
  g->buffer.assign(g->place.BufferBytes(), kSentinel);
  std::copy(values.begin(), values.end(), g->buffer.begin() + g->place.parent_offset);
  g->tensor = Wrap(env, cpu, g->buffer, g->place.parent_offset, type, shape);
  return g;
}

DtStatus* CopyOne(DtEnv* env, const DtValue* src, DtValue* dst, DtStream* stream = nullptr) {
  return DtCopyTensors(env, &src, &dst, 1, stream);
}

// One copy between random buffers: source buffer all random (gaps included, so reading a gap
// shows), destination buffer all kSentinel, each side dense or a strided slice of a larger parent.
struct CopyTrial {
  DtElementType type;
  Placement from, to;
  std::vector<uint8_t> src_buffer, dst_buffer;
  Value src, dst;
  std::vector<uint8_t> src_before, expected;

  std::string Describe() const {
    return std::string(DtGetElementTypeName(type)) + " from " + from.Describe() + " to " +
           to.Describe();
  }
};

std::unique_ptr<CopyTrial> MakeTrial(DtEnv* env, const DtDevice* cpu, Random& random,
                                     bool src_strided, bool dst_strided) {
  auto t = std::make_unique<CopyTrial>();
  t->type = RandomType(random);
  const size_t size = SizeOf(t->type);
  const Shape shape = RandomShape(random, 1, 5);
  t->from = src_strided ? StridedPlacement(random, shape, size)
                        : DensePlacement(shape, size, random.Between(0, 3), random.Between(0, 8));
  t->to = dst_strided ? StridedPlacement(random, shape, size)
                      : DensePlacement(shape, size, random.Between(1, 4), random.Between(1, 16));
  t->src_buffer = RandomData(random, t->type, t->from.BufferBytes());
  t->dst_buffer.assign(t->to.BufferBytes(), kSentinel);
  t->src = MakeView(env, cpu, t->src_buffer, t->from, t->type);
  t->dst = MakeView(env, cpu, t->dst_buffer, t->to, t->type);
  t->src_before = t->src_buffer;
  t->expected = t->dst_buffer;
  ReferenceCopy(t->src_buffer, t->from, &t->expected, t->to);
  return t;
}

// Checks the destination buffer against the reference and the source buffer against its old self.
bool CheckTrial(const CopyTrial& t) {
  SCOPED_TRACE(t.Describe());
  const ::testing::AssertionResult dst_ok = SameBytes(t.dst_buffer, t.expected);
  const ::testing::AssertionResult src_ok = SameBytes(t.src_buffer, t.src_before);
  EXPECT_TRUE(dst_ok) << "destination";
  EXPECT_TRUE(src_ok) << "source must not change";
  return dst_ok && src_ok;
}

// A whole random copy; false on failure (reported through gtest). Safe to call from threads.
bool RandomCopy(DtEnv* env, const DtDevice* cpu, Random& random, bool src_strided,
                bool dst_strided) {
  std::unique_ptr<CopyTrial> t = MakeTrial(env, cpu, random, src_strided, dst_strided);
  DtStatus* status = CopyOne(env, t->src.get(), t->dst.get());
  const bool copied = status == nullptr;
  EXPECT_TRUE(copied) << t->Describe() << ": " << DtGetErrorMessage(status);
  DtReleaseStatus(status);
  return CheckTrial(*t) && copied;
}

using CopyContiguous = CpuEnvTest;
using CopyStrided = CpuEnvTest;
using CopyKvCache = CpuEnvTest;
using CopyBatch = CpuEnvTest;
using CopySameBuffer = CpuEnvTest;
using CopyArguments = CpuEnvTest;
using ZeroTensor = CpuEnvTest;
using CopyStream = CpuEnvTest;
using CopyThreads = CpuEnvTest;

// ---- Single copies ------------------------------------------------------------------------------

TEST_F(CopyContiguous, EveryElementTypeIntoGuardedBuffers) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    const size_t size = SizeOf(type);
    for (int trial = 0; trial < 12; ++trial) {
      // Ranks 0..3; now and then an empty tensor.
      Shape shape(random.Between(0, 3));
      for (int64_t& d : shape) d = random.Between(random.Between(0, 9) == 0 ? 0 : 1, 20);
      const Placement to = DensePlacement(shape, size, random.Between(1, 8), random.Between(1, 32));
      SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape));
      std::vector<uint8_t> values;
      Value src = RandomTensor(env_, cpu_, random, type, shape, &values);
      std::vector<uint8_t> buffer(to.BufferBytes(), kSentinel);
      Value dst = Wrap(env_, cpu_, buffer, to.parent_offset, type, shape);

      DT_ASSERT_OK(CopyOne(env_, src.get(), dst.get()));
      std::vector<uint8_t> expected(to.BufferBytes(), kSentinel);
      std::copy(values.begin(), values.end(), expected.begin() + to.parent_offset);
      ASSERT_TRUE(SameBytes(buffer, expected));
      ASSERT_TRUE(SameBytes(
          std::vector<uint8_t>(DataOf(src.get()), DataOf(src.get()) + values.size()), values))
          << "source must not change";
    }
  }
}

TEST_F(CopyStrided, StridedSourceToDenseDestination) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 1000; ++trial) {
    if (!RandomCopy(env_, cpu_, random, /*src_strided=*/true, /*dst_strided=*/false)) break;
  }
}

TEST_F(CopyStrided, DenseSourceToStridedDestination) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 1000; ++trial) {
    if (!RandomCopy(env_, cpu_, random, /*src_strided=*/false, /*dst_strided=*/true)) break;
  }
}

TEST_F(CopyStrided, StridedToDifferentlyStrided) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 2000; ++trial) {
    if (!RandomCopy(env_, cpu_, random, /*src_strided=*/true, /*dst_strided=*/true)) break;
  }
}

// cache[:, :, pos, :] = token for a [layers, heads, max_len, head_dim] fp16 cache.
TEST_F(CopyKvCache, AppendOneTokenLeavesTheRestOfTheCache) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 10; ++trial) {
    const int64_t layers = random.Between(1, 4), heads = random.Between(1, 8);
    const int64_t max_len = random.Between(2, 64), dim = 8 * random.Between(1, 16);
    const Shape shape = {layers, heads, max_len, dim};
    SCOPED_TRACE("cache " + Text(shape));
    const Placement cache_place = DensePlacement(shape, 2, random.Between(1, 4), random.Between(1, 16));
    std::vector<uint8_t> buffer(cache_place.BufferBytes(), kSentinel);
    const std::vector<uint8_t> old = RandomBytes(random, Product(shape) * 2);
    std::copy(old.begin(), old.end(), buffer.begin() + cache_place.parent_offset);
    Value cache = Wrap(env_, cpu_, buffer, cache_place.parent_offset, DT_FLOAT16, shape);

    std::vector<uint8_t> expected = buffer;
    for (int step = 0; step < 4; ++step) {
      const int64_t pos = step == 0 ? 0 : step == 1 ? max_len - 1 : random.Between(0, max_len - 1);
      SCOPED_TRACE("position " + std::to_string(pos));
      std::vector<uint16_t> token(layers * heads * dim);
      for (uint16_t& bits : token) bits = static_cast<uint16_t>(random());
      Value token_tensor = Create(env_, cpu_, DT_FLOAT16, {layers, heads, 1, dim});
      std::memcpy(DataOf(token_tensor.get()), token.data(), token.size() * 2);
      Value slot = Slice(cache.get(), 2, pos, 1);

      DT_ASSERT_OK(CopyOne(env_, token_tensor.get(), slot.get()));
      for (int64_t l = 0; l < layers; ++l) {
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t d = 0; d < dim; ++d) {
            const size_t at =
                cache_place.parent_offset + (((l * heads + h) * max_len + pos) * dim + d) * 2;
            std::memcpy(&expected[at], &token[(l * heads + h) * dim + d], 2);
          }
        }
      }
      ASSERT_TRUE(SameBytes(buffer, expected));
    }
  }
}

// ---- Batches ------------------------------------------------------------------------------------

TEST_F(CopyBatch, ManyPairsInOneCallAllTakeEffect) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int round = 0; round < 5; ++round) {
    const size_t count = random.Between(20, 60);
    std::vector<std::unique_ptr<CopyTrial>> trials;
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    for (size_t i = 0; i < count; ++i) {
      trials.push_back(MakeTrial(env_, cpu_, random, random.Between(0, 1), random.Between(0, 1)));
      src.push_back(trials.back()->src.get());
      dst.push_back(trials.back()->dst.get());
    }
    DT_ASSERT_OK(DtCopyTensors(env_, src.data(), dst.data(), count, nullptr));
    for (size_t i = 0; i < count; ++i) {
      SCOPED_TRACE("pair " + std::to_string(i));
      ASSERT_TRUE(CheckTrial(*trials[i]));
    }
  }
}

TEST_F(CopyBatch, PairsTakeEffectInOrder) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 20; ++trial) {
    const DtElementType type = RandomType(random);
    const Shape shape = RandomShape(random, 1, 3);
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape));
    const size_t bytes = Product(shape) * SizeOf(type);
    const std::vector<uint8_t> a0 = RandomData(random, type, bytes),
                               b0 = RandomData(random, type, bytes),
                               c0 = RandomData(random, type, bytes),
                               x0 = RandomData(random, type, bytes);
    auto a = Guarded(env_, cpu_, random, type, shape, a0);
    auto b = Guarded(env_, cpu_, random, type, shape, b0);
    auto c = Guarded(env_, cpu_, random, type, shape, c0);
    auto x = Guarded(env_, cpu_, random, type, shape, x0);
    // A -> B, then X -> A (after A was read), then B -> C (reads what pair 0 wrote).
    const DtValue* src[] = {a->tensor.get(), x->tensor.get(), b->tensor.get()};
    DtValue* dst[] = {b->tensor.get(), a->tensor.get(), c->tensor.get()};
    DT_ASSERT_OK(DtCopyTensors(env_, src, dst, 3, nullptr));
    EXPECT_TRUE(SameBytes(b->buffer, b->Holding(a0))) << "B";
    EXPECT_TRUE(SameBytes(a->buffer, a->Holding(x0))) << "A";
    EXPECT_TRUE(SameBytes(c->buffer, c->Holding(a0))) << "C";
    EXPECT_TRUE(SameBytes(x->buffer, x->Holding(x0))) << "X";
  }
}

TEST_F(CopyBatch, LaterPairReadsAStridedWriteOfAnEarlierPair) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t rows = random.Between(1, 10), cols = random.Between(2, 10);
    const int64_t c0 = random.Between(0, cols - 1), width = random.Between(1, cols - c0);
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    std::vector<uint8_t> m0, s0;
    Value matrix = RandomTensor(env_, cpu_, random, type, {rows, cols}, &m0);
    Value column_src = RandomTensor(env_, cpu_, random, type, {rows, width}, &s0);
    Value columns = Slice(matrix.get(), 1, c0, width);
    const Placement out = DensePlacement({rows, cols}, size, 2, 8);
    std::vector<uint8_t> out_buffer(out.BufferBytes(), kSentinel);
    Value whole = Wrap(env_, cpu_, out_buffer, out.parent_offset, type, {rows, cols});
    // Pair 0 writes columns c0 .. c0 + width of the matrix; pair 1 copies the whole matrix out.
    const DtValue* src[] = {column_src.get(), matrix.get()};
    DtValue* dst[] = {columns.get(), whole.get()};
    DT_ASSERT_OK(DtCopyTensors(env_, src, dst, 2, nullptr));

    std::vector<uint8_t> matrix_now = m0;
    ReferenceCopy(s0, DensePlacement({rows, width}, size, 0, 0), &matrix_now,
                  Placement{{rows, cols}, {0, c0}, {rows, width}, size, 0, 0});
    std::vector<uint8_t> expected(out.BufferBytes(), kSentinel);
    std::copy(matrix_now.begin(), matrix_now.end(), expected.begin() + out.parent_offset);
    ASSERT_TRUE(SameBytes(out_buffer, expected));
  }
}

// A batch with one bad pair is refused as a whole: no destination, earlier or later, is written.
TEST_F(CopyBatch, OneBadPairAnywhereWritesNothing) {
  Random random;
  SCOPED_TRACE(random.trace());
  enum Fault { kShape, kRank, kType, kNullSrc, kNullDst };
  const char* const fault_names[] = {"shape", "rank", "type", "null src", "null dst"};
  const Shape shape = {3, 4};
  constexpr size_t kPairs = 5;
  for (Fault fault : {kShape, kRank, kType, kNullSrc, kNullDst}) {
    for (size_t bad = 0; bad < kPairs; ++bad) {
      SCOPED_TRACE(std::string(fault_names[fault]) + " at pair " + std::to_string(bad));
      std::vector<Value> srcs, dsts;
      std::vector<std::vector<uint8_t>> buffers(kPairs);
      std::vector<const DtValue*> src;
      std::vector<DtValue*> dst;
      for (size_t i = 0; i < kPairs; ++i) {
        std::vector<uint8_t> values;
        srcs.push_back(RandomTensor(env_, cpu_, random, DT_FLOAT, shape, &values));
        DtElementType dst_type = DT_FLOAT;
        Shape dst_shape = shape;
        if (i == bad && fault == kShape) dst_shape = {4, 3};  // same bytes, other shape
        if (i == bad && fault == kRank) dst_shape = {12};
        if (i == bad && fault == kType) dst_type = DT_INT32;  // same bytes, other type
        buffers[i].assign(16 + 48 + 16, kSentinel);
        dsts.push_back(Wrap(env_, cpu_, buffers[i], 16, dst_type, dst_shape));
        src.push_back(i == bad && fault == kNullSrc ? nullptr : srcs.back().get());
        dst.push_back(i == bad && fault == kNullDst ? nullptr : dsts.back().get());
      }
      const std::string pair = "pair " + std::to_string(bad);
      const std::string src_entry = "src[" + std::to_string(bad) + "]";
      const std::string dst_entry = "dst[" + std::to_string(bad) + "]";
      DtStatus* status = DtCopyTensors(env_, src.data(), dst.data(), kPairs, nullptr);
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
        EXPECT_TRUE(AllSentinel(buffers[i])) << "destination " << i << " was written";
      }
    }
  }
}

// Two destinations sharing a byte are refused, naming both indices, and nothing is written.
TEST_F(CopyBatch, OverlappingDestinationsAreRefused) {
  Random random;
  SCOPED_TRACE(random.trace());
  constexpr size_t kPairs = 4;
  for (size_t i = 0; i < kPairs; ++i) {
    for (size_t j = i + 1; j < kPairs; ++j) {
      for (bool i_first : {true, false}) {
        SCOPED_TRACE("dst " + std::to_string(i) + " and " + std::to_string(j) +
                     (i_first ? ", first in memory" : ", second in memory"));
        // The shared buffer holds 48 floats; the two views of 32 floats overlap by 16.
        std::vector<uint8_t> shared(8 + 48 * 4 + 8, kSentinel);
        Value base = Wrap(env_, cpu_, shared, 8, DT_FLOAT, {48});
        std::vector<std::vector<uint8_t>> own(kPairs);
        std::vector<Value> srcs, dsts;
        std::vector<const DtValue*> src;
        std::vector<DtValue*> dst;
        for (size_t k = 0; k < kPairs; ++k) {
          std::vector<uint8_t> values;
          srcs.push_back(RandomTensor(env_, cpu_, random, DT_FLOAT, {32}, &values));
          if (k == i || k == j) {
            const bool lower = (k == i) == i_first;
            dsts.push_back(View(base.get(), lower ? 0 : 16 * 4, DT_FLOAT, {32}));
          } else {
            own[k].assign(8 + 32 * 4 + 8, kSentinel);
            dsts.push_back(Wrap(env_, cpu_, own[k], 8, DT_FLOAT, {32}));
          }
          src.push_back(srcs.back().get());
          dst.push_back(dsts.back().get());
        }
        const std::string first = "dst[" + std::to_string(i) + "]";
        const std::string second = "dst[" + std::to_string(j) + "]";
        DT_EXPECT_ERROR(DtCopyTensors(env_, src.data(), dst.data(), kPairs, nullptr),
                        DT_INVALID_ARGUMENT, first.c_str(), second.c_str());
        EXPECT_TRUE(AllSentinel(shared));
        for (size_t k = 0; k < kPairs; ++k) EXPECT_TRUE(AllSentinel(own[k])) << "dst " << k;
      }
    }
  }
}

TEST_F(CopyBatch, OverlapOfStridedOrMixedTypeDestinationsIsRefused) {
  Random random;
  SCOPED_TRACE(random.trace());
  const int64_t rows = random.Between(2, 6);
  std::vector<uint8_t> shared(4 + rows * 8 * 4 + 4, kSentinel);
  Value matrix = Wrap(env_, cpu_, shared, 4, DT_FLOAT, {rows, 8});
  std::vector<uint8_t> a_values, b_values, c_values, d_values;
  Value a = RandomTensor(env_, cpu_, random, DT_FLOAT, {rows, 3}, &a_values);
  Value b = RandomTensor(env_, cpu_, random, DT_FLOAT, {rows, 3}, &b_values);

  // Columns 0..2 and 2..4 share column 2.
  Value left = Slice(matrix.get(), 1, 0, 3);
  Value middle = Slice(matrix.get(), 1, 2, 3);
  const DtValue* src[] = {a.get(), b.get()};
  DtValue* dst[] = {left.get(), middle.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env_, src, dst, 2, nullptr), DT_INVALID_ARGUMENT, "dst[0]",
                  "dst[1]");

  // One tensor twice.
  DtValue* twice[] = {left.get(), left.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env_, src, twice, 2, nullptr), DT_INVALID_ARGUMENT, "dst[0]",
                  "dst[1]");

  // Different element types sharing one byte: floats 0..3 and the byte view at byte 15.
  Value floats = View(matrix.get(), 0, DT_FLOAT, {4});
  Value one_byte = View(matrix.get(), 15, DT_UINT8, {1});
  Value c = RandomTensor(env_, cpu_, random, DT_FLOAT, {4}, &c_values);
  Value d = RandomTensor(env_, cpu_, random, DT_UINT8, {1}, &d_values);
  const DtValue* mixed_src[] = {d.get(), c.get()};
  DtValue* mixed_dst[] = {one_byte.get(), floats.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env_, mixed_src, mixed_dst, 2, nullptr), DT_INVALID_ARGUMENT,
                  "dst[0]", "dst[1]");
  EXPECT_TRUE(AllSentinel(shared));
}

// Slices that interleave in memory but share no byte (column blocks of one matrix, or adjacent
// ranges) are fine as destinations of one call.
TEST_F(CopyBatch, InterleavedDisjointDestinationsAreAccepted) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 50; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    Shape parent = RandomShape(random, 2, 4);
    const size_t axis = random.Between(1, parent.size() - 1);  // an inner axis: blocks interleave
    parent[axis] = random.Between(2, 8);
    const Placement whole = DensePlacement(parent, size, random.Between(1, 3), random.Between(1, 8));
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(parent) + " split on axis " +
                 std::to_string(axis));
    std::vector<uint8_t> buffer(whole.BufferBytes(), kSentinel);
    Value matrix = Wrap(env_, cpu_, buffer, whole.parent_offset, type, parent);

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

    std::vector<Value> srcs, dsts;
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    std::vector<uint8_t> expected = buffer;
    for (size_t p : pieces) {
      Placement piece = whole;
      piece.start[axis] = cuts[p];
      piece.shape[axis] = cuts[p + 1] - cuts[p];
      std::vector<uint8_t> values;
      srcs.push_back(RandomTensor(env_, cpu_, random, type, piece.shape, &values));
      dsts.push_back(Slice(matrix.get(), axis, piece.start[axis], piece.shape[axis]));
      src.push_back(srcs.back().get());
      dst.push_back(dsts.back().get());
      ReferenceCopy(values, DensePlacement(piece.shape, size, 0, 0), &expected, piece);
    }
    DT_ASSERT_OK(DtCopyTensors(env_, src.data(), dst.data(), src.size(), nullptr));
    ASSERT_TRUE(SameBytes(buffer, expected));
  }
}

TEST_F(CopyBatch, DestinationsInDifferentBuffersNeverConflict) {
  Random random;
  SCOPED_TRACE(random.trace());
  const Shape shape = {16, 9};
  const size_t bytes = 16 * 9 * 8;
  // Two library allocations and two caller buffers, the tensor 8 bytes into each, guarded.
  Value big0 = Create(env_, cpu_, DT_INT64, {16 * 9 + 2});
  Value big1 = Create(env_, cpu_, DT_INT64, {16 * 9 + 2});
  std::memset(DataOf(big0.get()), kSentinel, bytes + 16);
  std::memset(DataOf(big1.get()), kSentinel, bytes + 16);
  std::vector<uint8_t> one(8 + bytes + 8, kSentinel), two = one;
  Value d0 = View(big0.get(), 8, DT_INT64, shape);
  Value d1 = View(big1.get(), 8, DT_INT64, shape);
  Value d2 = Wrap(env_, cpu_, one, 8, DT_INT64, shape);
  Value d3 = Wrap(env_, cpu_, two, 8, DT_INT64, shape);
  std::vector<uint8_t> values[4];
  Value s[4];
  for (int i = 0; i < 4; ++i) s[i] = RandomTensor(env_, cpu_, random, DT_INT64, shape, &values[i]);
  const DtValue* src[] = {s[0].get(), s[1].get(), s[2].get(), s[3].get()};
  DtValue* dst[] = {d0.get(), d1.get(), d2.get(), d3.get()};
  DT_ASSERT_OK(DtCopyTensors(env_, src, dst, 4, nullptr));

  const std::vector<uint8_t> contents[4] = {
      std::vector<uint8_t>(DataOf(big0.get()), DataOf(big0.get()) + bytes + 16),
      std::vector<uint8_t>(DataOf(big1.get()), DataOf(big1.get()) + bytes + 16), one, two};
  for (int i = 0; i < 4; ++i) {
    std::vector<uint8_t> expected(bytes + 16, kSentinel);
    std::copy(values[i].begin(), values[i].end(), expected.begin() + 8);
    EXPECT_TRUE(SameBytes(contents[i], expected)) << "dst " << i;
  }
}

// ---- Source and destination in one buffer: memmove semantics ------------------------------------

TEST_F(CopySameBuffer, ShiftingARowByOneToKElements) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 10; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(16, 128);
    const Placement row = DensePlacement({n}, size, random.Between(1, 4), random.Between(1, 16));
    for (int64_t k = 1; k <= 8; ++k) {
      for (bool right : {true, false}) {
        SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " row of " + std::to_string(n) +
                     (right ? " right by " : " left by ") + std::to_string(k));
        std::vector<uint8_t> buffer(row.BufferBytes(), kSentinel);
        const std::vector<uint8_t> values = RandomData(random, type, n * size);
        std::copy(values.begin(), values.end(), buffer.begin() + row.parent_offset);
        Value base = Wrap(env_, cpu_, buffer, row.parent_offset, type, {n});
        const int64_t from = right ? 0 : k, to = right ? k : 0;
        Value src = View(base.get(), from * size, type, {n - k});
        Value dst = View(base.get(), to * size, type, {n - k});

        // Reference: read the whole source first, then write.
        const std::vector<uint8_t> snapshot = buffer;
        std::vector<uint8_t> expected = snapshot;
        Placement src_place = row, dst_place = row;
        src_place.start = {from};
        dst_place.start = {to};
        src_place.shape = dst_place.shape = {n - k};
        ReferenceCopy(snapshot, src_place, &expected, dst_place);

        DT_ASSERT_OK(CopyOne(env_, src.get(), dst.get()));
        ASSERT_TRUE(SameBytes(buffer, expected));
      }
    }
  }
}

TEST_F(CopySameBuffer, OverlappingStridedViewsOfOneParent) {
  Random random;
  SCOPED_TRACE(random.trace());
  int overlapping = 0;
  constexpr int kTrials = 1000;
  for (int trial = 0; trial < kTrials; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape parent = RandomShape(random, 1, 4);
    const auto [src_place, dst_place] =
        OverlappingViews(random, parent, size, random.Between(1, 4), random.Between(1, 16));
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " from " + src_place.Describe() +
                 " to " + dst_place.Describe());
    std::vector<uint8_t> buffer(src_place.BufferBytes(), kSentinel);
    const std::vector<uint8_t> values = RandomData(random, type, Product(parent) * size);
    std::copy(values.begin(), values.end(), buffer.begin() + src_place.parent_offset);
    Value src = MakeView(env_, cpu_, buffer, src_place, type);
    Value dst = MakeView(env_, cpu_, buffer, dst_place, type);

    if (SharesBytes(src_place, dst_place)) ++overlapping;
    const std::vector<uint8_t> snapshot = buffer;
    std::vector<uint8_t> expected = snapshot;
    ReferenceCopy(snapshot, src_place, &expected, dst_place);

    DT_ASSERT_OK(CopyOne(env_, src.get(), dst.get()));
    ASSERT_TRUE(SameBytes(buffer, expected));
  }
  EXPECT_GT(overlapping, kTrials / 4) << "the test must mostly exercise overlapping pairs";
}

// ---- Argument checks ----------------------------------------------------------------------------

TEST_F(CopyArguments, CountZeroWithNullArraysIsNothing) {
  DT_EXPECT_OK(DtCopyTensors(env_, nullptr, nullptr, 0, nullptr));
}

TEST_F(CopyArguments, NullEnvOrArraysWriteNothing) {
  Random random;
  SCOPED_TRACE(random.trace());
  std::vector<uint8_t> values, buffer(4 + 24 + 4, kSentinel);
  Value src = RandomTensor(env_, cpu_, random, DT_FLOAT, {6}, &values);
  Value dst = Wrap(env_, cpu_, buffer, 4, DT_FLOAT, {6});
  const DtValue* srcs[] = {src.get(), src.get()};
  DtValue* dsts[] = {dst.get(), nullptr};

  DT_EXPECT_ERROR(DtCopyTensors(nullptr, srcs, dsts, 1, nullptr), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtCopyTensors(nullptr, nullptr, nullptr, 0, nullptr), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtCopyTensors(env_, nullptr, dsts, 1, nullptr), DT_INVALID_ARGUMENT, "src",
                  "count 1");
  DT_EXPECT_ERROR(DtCopyTensors(env_, srcs, nullptr, 2, nullptr), DT_INVALID_ARGUMENT, "dst",
                  "count 2");
  EXPECT_TRUE(AllSentinel(buffer));

  DT_EXPECT_ERROR(DtZeroTensor(nullptr, dst.get(), nullptr), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtZeroTensor(env_, nullptr, nullptr), DT_INVALID_ARGUMENT, "tensor");
  EXPECT_TRUE(AllSentinel(buffer));
}

// ---- DtZeroTensor -------------------------------------------------------------------------------

TEST_F(ZeroTensor, ContiguousSubViewOnly) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 50; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(1, 200);
    const int64_t first = random.Between(0, n - 1), length = random.Between(1, n - first);
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " elements " + std::to_string(first) +
                 ":+" + std::to_string(length) + " of " + std::to_string(n));
    // Random bytes everywhere, the guards included, so zeroing a byte too many shows.
    std::vector<uint8_t> buffer = RandomData(random, type, (n + 2) * size);
    Value base = Wrap(env_, cpu_, buffer, size, type, {n});
    const Shape shape = length % 3 == 0 ? Shape{3, length / 3} : Shape{length};
    Value view = View(base.get(), first * size, type, shape);
    std::vector<uint8_t> expected = buffer;
    std::fill(expected.begin() + (1 + first) * size, expected.begin() + (1 + first + length) * size,
              0);
    DT_ASSERT_OK(DtZeroTensor(env_, view.get(), nullptr));
    ASSERT_TRUE(SameBytes(buffer, expected));
  }
}

TEST_F(ZeroTensor, StridedSliceLeavesTheGaps) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 200; ++trial) {
    const DtElementType type = RandomType(random);
    const Placement p = StridedPlacement(random, RandomShape(random, 1, 5), SizeOf(type));
    SCOPED_TRACE(p.Describe());
    std::vector<uint8_t> buffer = RandomData(random, type, p.BufferBytes());
    Value view = MakeView(env_, cpu_, buffer, p, type);
    std::vector<uint8_t> expected = buffer;
    for (size_t at : p.ByteOffsets()) std::fill_n(expected.begin() + at, p.element_size, 0);
    DT_ASSERT_OK(DtZeroTensor(env_, view.get(), nullptr));
    ASSERT_TRUE(SameBytes(buffer, expected));
  }
}

TEST_F(ZeroTensor, EmptySliceZeroesNothing) {
  Random random;
  SCOPED_TRACE(random.trace());
  std::vector<uint8_t> buffer = RandomBytes(random, 4 * 6 * 4);
  const std::vector<uint8_t> before = buffer;
  Value base = Wrap(env_, cpu_, buffer, 0, DT_FLOAT, {4, 6});
  Value empty = Slice(base.get(), 1, 3, 0);
  DT_EXPECT_OK(DtZeroTensor(env_, empty.get(), nullptr));
  EXPECT_TRUE(SameBytes(buffer, before));
}

// ---- Streams ------------------------------------------------------------------------------------

struct StreamDeleter {
  void operator()(DtStream* stream) const { DtReleaseStream(stream); }
};
using Stream = std::unique_ptr<DtStream, StreamDeleter>;

Stream CreateStream(DtEnv* env, const DtDevice* device) {
  DtStream* stream = nullptr;
  devtensor::Check(DtCreateStream(env, device, &stream));
  return Stream(stream);
}

TEST_F(CopyStream, CreateRejectsNullArguments) {
  DtStream* out = reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50});
  DT_EXPECT_ERROR(DtCreateStream(nullptr, cpu_, &out), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtCreateStream(env_, nullptr, &out), DT_INVALID_ARGUMENT, "device");
  DT_EXPECT_ERROR(DtCreateStream(env_, cpu_, nullptr), DT_INVALID_ARGUMENT, "stream");
  EXPECT_EQ(out, reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50}));
  DT_EXPECT_ERROR(DtSynchronizeStream(nullptr), DT_INVALID_ARGUMENT, "stream");
  EXPECT_EQ(DtGetStreamDevice(nullptr), nullptr);
}

TEST_F(CopyStream, CopiesAndZeroesGiveTheSameResults) {
  Random random;
  SCOPED_TRACE(random.trace());
  Stream stream = CreateStream(env_, cpu_);
  EXPECT_EQ(DtGetStreamDevice(stream.get()), cpu_);
  for (int round = 0; round < 10; ++round) {
    // Several copies issued on the stream, one synchronisation, then every result checked.
    std::vector<std::unique_ptr<CopyTrial>> trials;
    for (int i = 0; i < 10; ++i) {
      trials.push_back(MakeTrial(env_, cpu_, random, random.Between(0, 1), random.Between(0, 1)));
      DT_ASSERT_OK(CopyOne(env_, trials.back()->src.get(), trials.back()->dst.get(), stream.get()));
    }
    // And a strided zeroing.
    const DtElementType type = RandomType(random);
    const Placement p = StridedPlacement(random, RandomShape(random, 1, 4), SizeOf(type));
    std::vector<uint8_t> buffer = RandomData(random, type, p.BufferBytes());
    Value view = MakeView(env_, cpu_, buffer, p, type);
    std::vector<uint8_t> expected = buffer;
    for (size_t at : p.ByteOffsets()) std::fill_n(expected.begin() + at, p.element_size, 0);
    DT_ASSERT_OK(DtZeroTensor(env_, view.get(), stream.get()));

    DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
    for (const auto& trial : trials) ASSERT_TRUE(CheckTrial(*trial));
    ASSERT_TRUE(SameBytes(buffer, expected)) << "zeroing " << p.Describe();
  }
}

TEST_F(CopyStream, WorkRunsInIssueOrder) {
  Random random;
  SCOPED_TRACE(random.trace());
  Stream stream = CreateStream(env_, cpu_);
  const Shape shape = {6, 10};
  std::vector<uint8_t> a_values, b_values;
  Value a = RandomTensor(env_, cpu_, random, DT_UINT16, shape, &a_values);
  Value b = RandomTensor(env_, cpu_, random, DT_UINT16, shape, &b_values);
  auto c = Guarded(env_, cpu_, random, DT_UINT16, shape, RandomBytes(random, 6 * 10 * 2));
  Value b_columns = Slice(b.get(), 1, 2, 5);
  // A -> B, clear B[:, 2:7], B -> C: C must be A with those columns zero.
  DT_ASSERT_OK(CopyOne(env_, a.get(), b.get(), stream.get()));
  DT_ASSERT_OK(DtZeroTensor(env_, b_columns.get(), stream.get()));
  DT_ASSERT_OK(CopyOne(env_, b.get(), c->tensor.get(), stream.get()));
  DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
  std::vector<uint8_t> expected = a_values;
  for (size_t at : Placement{shape, {0, 2}, {6, 5}, 2, 0, 0}.ByteOffsets()) {
    expected[at] = expected[at + 1] = 0;
  }
  EXPECT_TRUE(SameBytes(c->buffer, c->Holding(expected)));
}

// The stream keeps what queued work uses alive: sources (library memory) and the destination
// tensor may be released before synchronising.
TEST_F(CopyStream, ReleasingTensorsBeforeSynchronizeIsSafe) {
  Random random;
  SCOPED_TRACE(random.trace());
  Stream stream = CreateStream(env_, cpu_);
  for (int trial = 0; trial < 20; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape parent = RandomShape(random, 2, 4);
    Placement from = DensePlacement(parent, size, 0, 0);
    from.shape[1] = random.Between(1, parent[1]);
    from.start[1] = random.Between(0, parent[1] - from.shape[1]);
    const Placement to = StridedPlacement(random, from.shape, size);
    SCOPED_TRACE(from.Describe() + " to " + to.Describe());

    std::vector<uint8_t> values;
    Value src_base = RandomTensor(env_, cpu_, random, type, parent, &values);
    Value src = Slice(src_base.get(), 1, from.start[1], from.shape[1]);
    std::vector<uint8_t> buffer(to.BufferBytes(), kSentinel);
    Value dst = MakeView(env_, cpu_, buffer, to, type);
    std::vector<uint8_t> expected = buffer;
    ReferenceCopy(values, from, &expected, to);

    DT_ASSERT_OK(CopyOne(env_, src.get(), dst.get(), stream.get()));
    src.reset();
    src_base.reset();
    dst.reset();
    DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
    ASSERT_TRUE(SameBytes(buffer, expected));
  }
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

TEST_F(CopyThreads, EightThreadsWithTheirOwnTensors) {
  Random random;
  SCOPED_TRACE(random.trace());
  OnThreads(random, [&](int, Random& mine) {
    for (int trial = 0; trial < 300; ++trial) {
      if (!RandomCopy(env_, cpu_, mine, mine.Between(0, 1), mine.Between(0, 1))) break;
    }
  });
}

TEST_F(CopyThreads, EightThreadsCopyFromOneSharedSource) {
  Random random;
  SCOPED_TRACE(random.trace());
  const Shape parent = {64, 48};
  std::vector<uint8_t> values;
  Value shared = RandomTensor(env_, cpu_, random, DT_FLOAT, parent, &values);
  OnThreads(random, [&](int thread, Random& mine) {
    for (int trial = 0; trial < 300; ++trial) {
      // A random block of the shared source into a strided destination of this thread.
      Placement from = DensePlacement(parent, 4, 0, 0);
      for (size_t i = 0; i < 2; ++i) {
        from.shape[i] = mine.Between(1, parent[i]);
        from.start[i] = mine.Between(0, parent[i] - from.shape[i]);
      }
      const Placement to = StridedPlacement(mine, from.shape, 4);
      Value rows = Slice(shared.get(), 0, from.start[0], from.shape[0]);
      Value block = Slice(rows.get(), 1, from.start[1], from.shape[1]);
      std::vector<uint8_t> buffer(to.BufferBytes(), kSentinel);
      Value dst = MakeView(env_, cpu_, buffer, to, DT_FLOAT);
      std::vector<uint8_t> expected = buffer;
      ReferenceCopy(values, from, &expected, to);

      DtStatus* status = CopyOne(env_, block.get(), dst.get());
      EXPECT_EQ(status, nullptr) << DtGetErrorMessage(status);
      DtReleaseStatus(status);
      const ::testing::AssertionResult same = SameBytes(buffer, expected);
      EXPECT_TRUE(same) << "thread " << thread << ": " << from.Describe() << " to "
                        << to.Describe();
      if (!same) break;
    }
  });
  EXPECT_TRUE(SameBytes(
      std::vector<uint8_t>(DataOf(shared.get()), DataOf(shared.get()) + values.size()), values))
      << "the shared source must not change";
}

}  // namespace
