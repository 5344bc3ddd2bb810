// The layout arithmetic of layout.h: element counts that refuse negative and overflowing shapes
// (a zero dimension included), row-major strides, contiguity, extents, merging of dimensions over
// several stride sets, the byte runs of a layout, and whether two layouts in one buffer share a
// byte. Fixed cases pin the rules (touching ends, interleaved slices, zero sizes, mixed element
// sizes); random nested row-major layouts are checked against a byte-by-byte reference.
#include "layout/layout.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace devtensor {
namespace {

using Shape = std::vector<int64_t>;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

Layout Make(const Shape& shape, const Shape& strides, size_t byte_offset, size_t element_size) {
  Layout layout;
  layout.rank = shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    layout.shape[i] = shape[i];
    layout.strides[i] = strides[i];
  }
  layout.byte_offset = byte_offset;
  layout.element_size = element_size;
  return layout;
}

std::string Describe(const Layout& l) {
  std::string text = "shape [";
  for (size_t i = 0; i < l.rank; ++i) text += (i ? ", " : "") + std::to_string(l.shape[i]);
  text += "] strides [";
  for (size_t i = 0; i < l.rank; ++i) text += (i ? ", " : "") + std::to_string(l.strides[i]);
  return text + "] at byte " + std::to_string(l.byte_offset) + ", " +
         std::to_string(l.element_size) + "-byte elements";
}

// Every byte of every element, by walking the elements one by one: the reference.
std::set<size_t> BytesOf(const Layout& l) {
  std::set<size_t> bytes;
  int64_t count = 1;
  for (size_t i = 0; i < l.rank; ++i) count *= l.shape[i];
  for (int64_t flat = 0; flat < count; ++flat) {
    int64_t rest = flat, element = 0;
    for (size_t i = l.rank; i-- > 0;) {
      element += (rest % l.shape[i]) * l.strides[i];
      rest /= l.shape[i];
    }
    for (size_t b = 0; b < l.element_size; ++b) {
      bytes.insert(l.byte_offset + size_t(element) * l.element_size + b);
    }
  }
  return bytes;
}

std::vector<std::pair<size_t, size_t>> Runs(const Layout& l) {
  std::vector<std::pair<size_t, size_t>> runs;
  ByteRuns walk(l);
  size_t begin = 0, end = 0;
  while (walk.Next(&begin, &end)) runs.emplace_back(begin, end);
  return runs;
}

using RunList = std::vector<std::pair<size_t, size_t>>;

// ---- ElementCount --------------------------------------------------------------------------------

TEST(ElementCount, IsTheProductOfTheDimensions) {
  size_t count = 99;
  ASSERT_TRUE(ElementCount(nullptr, 0, &count));
  EXPECT_EQ(count, 1u) << "a scalar";
  const int64_t shape[] = {2, 3, 4};
  ASSERT_TRUE(ElementCount(shape, 3, &count));
  EXPECT_EQ(count, 24u);
  const int64_t largest[] = {kInt64Max};
  ASSERT_TRUE(ElementCount(largest, 1, &count));
  EXPECT_EQ(count, size_t(kInt64Max));
}

TEST(ElementCount, RefusesNegativeDimensionsWithoutWritingTheCount) {
  size_t count = 99;
  const int64_t negative[] = {2, -1, 4};
  EXPECT_FALSE(ElementCount(negative, 3, &count));
  const int64_t negative_beside_zero[] = {0, -3};
  EXPECT_FALSE(ElementCount(negative_beside_zero, 2, &count));
  EXPECT_EQ(count, 99u);
}

TEST(ElementCount, RefusesProductsBeyondInt64WhereverAZeroStands) {
  size_t count = 99;
  const int64_t huge = int64_t{1} << 40;
  // 2^80 overflows size_t; 2^63 fits size_t but not int64 (strides in elements must).
  const Shape overflowing[] = {{huge, huge},    {0, huge, huge}, {huge, 0, huge},
                               {huge, huge, 0}, {int64_t{1} << 62, 2}, {kInt64Max, 2, 0}};
  for (const Shape& shape : overflowing) {
    SCOPED_TRACE(shape.size());
    EXPECT_FALSE(ElementCount(shape.data(), shape.size(), &count));
  }
  EXPECT_EQ(count, 99u);
  // A zero beside dimensions whose product fits: an empty tensor.
  const int64_t fits[] = {huge, 0, int64_t{1} << 20};
  ASSERT_TRUE(ElementCount(fits, 3, &count));
  EXPECT_EQ(count, 0u);
  const int64_t just_fits[] = {int64_t{1} << 62, 0, 1};
  ASSERT_TRUE(ElementCount(just_fits, 3, &count));
  EXPECT_EQ(count, 0u);
}

// ---- ContiguousStrides, IsContiguous, ExtentBytes ------------------------------------------------

TEST(ContiguousStrides, AreRowMajorWithZeroDimensionsCountedAsOne) {
  int64_t strides[4] = {-1, -1, -1, -1};
  const int64_t shape[] = {2, 3, 4};
  ContiguousStrides(shape, 3, strides);
  EXPECT_EQ(Shape(strides, strides + 3), (Shape{12, 4, 1}));
  const int64_t with_zero[] = {2, 0, 4, 5};
  ContiguousStrides(with_zero, 4, strides);
  EXPECT_EQ(Shape(strides, strides + 4), (Shape{20, 20, 5, 1}));
}

TEST(IsContiguous, FollowsTheLayoutIgnoringDimensionsOfOne) {
  EXPECT_TRUE(IsContiguous(Make({}, {}, 0, 4))) << "a scalar";
  EXPECT_TRUE(IsContiguous(Make({2, 3, 4}, {12, 4, 1}, 8, 4)));
  EXPECT_FALSE(IsContiguous(Make({2, 3, 2}, {12, 4, 1}, 0, 4))) << "a slice of the inner axis";
  EXPECT_FALSE(IsContiguous(Make({2, 2, 4}, {12, 4, 1}, 0, 4))) << "a slice of the middle axis";
  EXPECT_TRUE(IsContiguous(Make({1, 2, 4}, {12, 4, 1}, 0, 4))) << "rows of one matrix";
  EXPECT_TRUE(IsContiguous(Make({1, 3}, {99, 1}, 0, 1))) << "the stride of a dimension of 1";
  EXPECT_TRUE(IsContiguous(Make({3, 1}, {1, 7}, 0, 1)));
  EXPECT_FALSE(IsContiguous(Make({3, 1}, {2, 1}, 0, 1))) << "every other element";
  EXPECT_FALSE(IsContiguous(Make({2, 2}, {1, 2}, 0, 1))) << "column-major";
  EXPECT_TRUE(IsContiguous(Make({5, 0}, {kInt64Max, 1}, 0, 2))) << "empty, huge strides";
  EXPECT_TRUE(IsContiguous(Make({4, 0, 6}, {30, 6, 1}, 0, 4))) << "an empty slice";
}

// An empty layout has no element out of place, wherever its zero stands: DtIsTensorContiguous
// says 1 for every empty tensor, the slice [4, 0, 4, 3] of a [4, 2, 4, 5] tensor included.
TEST(IsContiguous, AnEmptyLayoutIsContiguousWhereverItsZeroStands) {
  EXPECT_TRUE(IsContiguous(Make({0, 5}, {7, 3}, 0, 1)));
  EXPECT_TRUE(IsContiguous(Make({4, 0, 4, 3}, {40, 20, 5, 1}, 0, 4)));
  EXPECT_TRUE(IsContiguous(Make({0, 3}, {kInt64Max, 2}, 0, 8)));
}

TEST(ExtentBytes, RunsFromTheFirstToTheLastElement) {
  EXPECT_EQ(ExtentBytes(Make({}, {}, 0, 8)), 8u) << "a scalar";
  EXPECT_EQ(ExtentBytes(Make({2, 3}, {3, 1}, 100, 4)), 24u) << "the offset does not count";
  EXPECT_EQ(ExtentBytes(Make({3, 2}, {5, 1}, 0, 2)), size_t((2 * 5 + 1 + 1) * 2)) << "a slice";
  EXPECT_EQ(ExtentBytes(Make({4, 1}, {8, 1}, 0, 4)), size_t((3 * 8 + 1) * 4)) << "a column";
  EXPECT_EQ(ExtentBytes(Make({3, 0}, {5, 1}, 0, 4)), 0u);
  EXPECT_EQ(ExtentBytes(Make({1, kInt64Max, 0}, {kInt64Max, 1, 1}, 0, 4)), 0u)
      << "empty with strides that overflow any byte arithmetic";
}

// ---- MergeDimensions -----------------------------------------------------------------------------

struct Merged {
  Shape shape;
  std::vector<Shape> strides;
};

Merged Merge(const Shape& shape, const std::vector<Shape>& strides) {
  int64_t out_shape[DT_MAX_RANK] = {};
  std::vector<std::vector<int64_t>> out(strides.size(), std::vector<int64_t>(DT_MAX_RANK, -1));
  std::vector<const int64_t*> in;
  std::vector<int64_t*> out_pointers;
  for (size_t k = 0; k < strides.size(); ++k) {
    in.push_back(strides[k].data());
    out_pointers.push_back(out[k].data());
  }
  const size_t rank =
      MergeDimensions(shape.data(), shape.size(), in.data(), strides.size(), out_shape,
                      out_pointers.data());
  Merged m{Shape(out_shape, out_shape + rank), {}};
  for (size_t k = 0; k < strides.size(); ++k) {
    m.strides.emplace_back(out[k].begin(), out[k].begin() + rank);
  }
  return m;
}

TEST(MergeDimensions, JoinsNeighboursThatAreContiguousInEveryStrideSet) {
  Merged m = Merge({2, 3, 4}, {{12, 4, 1}});
  EXPECT_EQ(m.shape, (Shape{24}));
  EXPECT_EQ(m.strides[0], (Shape{1}));

  m = Merge({2, 3, 4}, {{24, 4, 1}});  // rows of a wider parent: the inner two join
  EXPECT_EQ(m.shape, (Shape{2, 12}));
  EXPECT_EQ(m.strides[0], (Shape{24, 1}));

  // Contiguous in the first set, strided in the second: nothing joins.
  m = Merge({2, 3}, {{3, 1}, {4, 1}});
  EXPECT_EQ(m.shape, (Shape{2, 3}));
  EXPECT_EQ(m.strides[0], (Shape{3, 1}));
  EXPECT_EQ(m.strides[1], (Shape{4, 1}));

  // Contiguous in both: one dimension, each set keeping its innermost stride.
  m = Merge({2, 3}, {{3, 1}, {6, 2}});
  EXPECT_EQ(m.shape, (Shape{6}));
  EXPECT_EQ(m.strides[0], (Shape{1}));
  EXPECT_EQ(m.strides[1], (Shape{2}));
}

TEST(MergeDimensions, DropsDimensionsOfOneAndEmptyLayouts) {
  Merged m = Merge({1, 5, 1}, {{100, 1, 50}});
  EXPECT_EQ(m.shape, (Shape{5}));
  EXPECT_EQ(m.strides[0], (Shape{1}));
  // A dimension of 1 between two others: they join when the outer stride is the inner span.
  m = Merge({3, 1, 4}, {{40, 7, 1}});
  EXPECT_EQ(m.shape, (Shape{3, 4})) << "40 is not 4 * 1";
  m = Merge({3, 1, 4}, {{4, 7, 1}});
  EXPECT_EQ(m.shape, (Shape{12}));
  EXPECT_EQ(m.strides[0], (Shape{1}));
  m = Merge({1, 1}, {{5, 5}});
  EXPECT_TRUE(m.shape.empty()) << "a single element";
  m = Merge({}, {{}});
  EXPECT_TRUE(m.shape.empty()) << "a scalar";
  m = Merge({4, 0, 3}, {{3, 3, 1}});
  EXPECT_TRUE(m.shape.empty()) << "an empty layout";
  m = Merge({1, kInt64Max, 0}, {{kInt64Max, 1, 1}});
  EXPECT_TRUE(m.shape.empty()) << "an empty layout whose strides overflow";
}

TEST(MergeDimensions, AProductOfStrideAndSizeThatOverflowsJoinsNothing) {
  // 4 * (2^62 + 1) wraps around to 4: a wrapped product must not match the outer stride 4.
  Merged m = Merge({2, 4}, {{4, (int64_t{1} << 62) + 1}});
  EXPECT_EQ(m.shape, (Shape{2, 4}));
  EXPECT_EQ(m.strides[0], (Shape{4, (int64_t{1} << 62) + 1}));
}

// ---- ByteRuns ------------------------------------------------------------------------------------

TEST(ByteRuns, AContiguousLayoutIsOneRun) {
  EXPECT_EQ(Runs(Make({2, 3}, {3, 1}, 8, 4)), (RunList{{8, 32}}));
  EXPECT_EQ(Runs(Make({}, {}, 6, 2)), (RunList{{6, 8}})) << "a scalar";
  EXPECT_EQ(Runs(Make({1, 1, 5}, {9, 9, 1}, 0, 1)), (RunList{{0, 5}}));
}

TEST(ByteRuns, AStridedLayoutIsOneRunPerRowInAscendingOrder) {
  // Columns 1..2 of a [2, 3] float matrix.
  EXPECT_EQ(Runs(Make({2, 2}, {3, 1}, 4, 4)), (RunList{{4, 12}, {16, 24}}));
  // A column of a [3, 4] float16 matrix: one element per run.
  EXPECT_EQ(Runs(Make({3, 1}, {4, 1}, 2, 2)), (RunList{{2, 4}, {10, 12}, {18, 20}}));
  // Two outer dimensions: the inner one carries into the outer one.
  EXPECT_EQ(Runs(Make({2, 2, 2}, {8, 3, 1}, 0, 1)), (RunList{{0, 2}, {3, 5}, {8, 10}, {11, 13}}));
  // Every other element: no run longer than one element.
  EXPECT_EQ(Runs(Make({3}, {2}, 0, 8)), (RunList{{0, 8}, {16, 24}, {32, 40}}));
}

TEST(ByteRuns, AnEmptyLayoutHasNoRun) {
  EXPECT_TRUE(Runs(Make({3, 0}, {5, 1}, 0, 4)).empty());
  EXPECT_TRUE(Runs(Make({1, kInt64Max, 0}, {kInt64Max, 1, 1}, 16, 8)).empty());
}

// ---- LayoutsOverlap -------------------------------------------------------------------------------

// Both orders give one answer.
::testing::AssertionResult Overlap(const Layout& a, const Layout& b) {
  const bool ab = LayoutsOverlap(a, b), ba = LayoutsOverlap(b, a);
  if (ab != ba) {
    return ::testing::AssertionFailure() << "not symmetric: " << Describe(a) << " / " << Describe(b);
  }
  if (ab) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << Describe(a) << " and " << Describe(b) << " share no byte";
}

TEST(LayoutsOverlap, RangesThatTouchShareNoByte) {
  const Layout a = Make({4}, {1}, 0, 4);  // bytes [0, 16)
  EXPECT_FALSE(Overlap(a, Make({4}, {1}, 16, 4))) << "[16, 32)";
  EXPECT_TRUE(Overlap(a, Make({4}, {1}, 12, 4))) << "[12, 28)";
  EXPECT_TRUE(Overlap(a, Make({1}, {1}, 15, 1))) << "the last byte";
  EXPECT_FALSE(Overlap(a, Make({1}, {1}, 16, 1))) << "the byte after";
  EXPECT_TRUE(Overlap(a, a)) << "itself";
  EXPECT_TRUE(Overlap(a, Make({2}, {1}, 4, 4))) << "inside";
}

TEST(LayoutsOverlap, InterleavedSlicesShareNoByteUnlessAnElementIsShared) {
  // Column blocks of a [4, 8] float matrix: 0..2 and 3..7 interleave without sharing; 0..2 and
  // 2..4 share column 2.
  const Layout left = Make({4, 3}, {8, 1}, 0, 4);
  EXPECT_FALSE(Overlap(left, Make({4, 5}, {8, 1}, 12, 4)));
  EXPECT_TRUE(Overlap(left, Make({4, 3}, {8, 1}, 8, 4)));
  // Even and odd elements of one row.
  const Layout even = Make({4}, {2}, 0, 4);
  EXPECT_FALSE(Overlap(even, Make({4}, {2}, 4, 4)));
  EXPECT_TRUE(Overlap(even, Make({4}, {2}, 8, 4))) << "element 2 is both";
  // The last row of one block against the first of another, rows apart.
  EXPECT_FALSE(Overlap(Make({2, 2}, {8, 1}, 0, 4), Make({2, 2}, {8, 1}, 64, 4)));
  EXPECT_TRUE(Overlap(Make({2, 2}, {8, 1}, 0, 4), Make({2, 2}, {8, 1}, 32, 4)));
}

TEST(LayoutsOverlap, AContiguousRangeInsideTheGapsOfAStridedOne) {
  const Layout strided = Make({2}, {4}, 0, 4);  // bytes [0, 4) and [16, 20)
  EXPECT_FALSE(Overlap(strided, Make({3}, {1}, 4, 4))) << "[4, 16)";
  EXPECT_TRUE(Overlap(strided, Make({13}, {1}, 4, 1))) << "[4, 17)";
  EXPECT_TRUE(Overlap(strided, Make({1}, {1}, 3, 1))) << "[3, 4)";
}

TEST(LayoutsOverlap, ElementsOfDifferentSizesShareBytes) {
  const Layout floats = Make({4}, {1}, 0, 4);  // bytes [0, 16)
  EXPECT_TRUE(Overlap(floats, Make({1}, {1}, 15, 1)));
  EXPECT_FALSE(Overlap(floats, Make({1}, {1}, 16, 1)));
  // Doubles at 8-byte strides of 16 against float16 in between.
  const Layout doubles = Make({3}, {2}, 0, 8);  // [0, 8), [16, 24), [32, 40)
  EXPECT_FALSE(Overlap(doubles, Make({4}, {1}, 8, 2))) << "[8, 16)";
  EXPECT_TRUE(Overlap(doubles, Make({5}, {1}, 8, 2))) << "[8, 18)";
}

TEST(LayoutsOverlap, EmptyLayoutsOverlapNothing) {
  const Layout a = Make({4}, {1}, 0, 4);
  EXPECT_FALSE(Overlap(a, Make({0}, {1}, 0, 4))) << "at the same offset";
  EXPECT_FALSE(Overlap(a, Make({2, 0}, {1, 1}, 4, 4)));
  EXPECT_FALSE(Overlap(Make({0}, {1}, 0, 4), Make({0}, {1}, 0, 4)));
  EXPECT_FALSE(Overlap(a, Make({1, kInt64Max, 0}, {kInt64Max, 1, 1}, 0, 4)))
      << "empty, with strides that overflow";
}

// ---- Random nested row-major layouts against the byte-by-byte reference ---------------------------

// A slice of a random row-major parent at a random byte offset: strides from the parent, shape and
// start random along every axis (now and then empty).
Layout RandomSlice(std::mt19937_64& random, size_t element_size) {
  auto between = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(random);
  };
  const size_t rank = size_t(between(0, 4));
  Shape parent(rank), shape(rank), start(rank);
  for (size_t i = 0; i < rank; ++i) {
    parent[i] = between(1, 5);
    shape[i] = between(between(0, 30) == 0 ? 0 : 1, parent[i]);
    start[i] = between(0, parent[i] - shape[i]);
  }
  Shape strides(rank);
  ContiguousStrides(parent.data(), rank, strides.data());
  int64_t first = 0;
  for (size_t i = 0; i < rank; ++i) first += start[i] * strides[i];
  return Make(shape, strides, size_t(between(0, 6) + first) * element_size, element_size);
}

TEST(LayoutRandom, RunsAreTheElementsBytesInMaximalAscendingRuns) {
  devtensor_test::Random fresh;  // a fresh seed each run (test_util.h)
  SCOPED_TRACE(fresh.trace());
  std::mt19937_64& random = fresh.engine;
  for (int trial = 0; trial < 3000; ++trial) {
    const Layout l = RandomSlice(random, size_t(1) << (trial % 4));
    SCOPED_TRACE(Describe(l));
    const std::set<size_t> expected = BytesOf(l);
    std::set<size_t> covered;
    const RunList runs = Runs(l);
    for (size_t r = 0; r < runs.size(); ++r) {
      ASSERT_LT(runs[r].first, runs[r].second);
      if (r > 0) {
        ASSERT_LT(runs[r - 1].second, runs[r].first) << "ascending, with gaps between";
      }
      for (size_t b = runs[r].first; b < runs[r].second; ++b) covered.insert(b);
    }
    ASSERT_EQ(covered, expected);
    ASSERT_EQ(ExtentBytes(l), expected.empty() ? 0 : *expected.rbegin() - *expected.begin() + 1);
    if (!expected.empty()) {  // empty layouts: AnEmptyLayoutIsContiguousWhereverItsZeroStands
      ASSERT_EQ(IsContiguous(l), expected.size() == ExtentBytes(l));
    }
  }
}

TEST(LayoutRandom, OverlapMeansASharedByte) {
  devtensor_test::Random fresh;  // a fresh seed each run (test_util.h)
  SCOPED_TRACE(fresh.trace());
  std::mt19937_64& random = fresh.engine;
  int overlapping = 0, apart = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    const Layout a = RandomSlice(random, size_t(1) << (trial % 4));
    const Layout b = RandomSlice(random, size_t(1) << (trial / 4 % 4));
    SCOPED_TRACE(Describe(a) + " / " + Describe(b));
    const std::set<size_t> in_a = BytesOf(a);
    bool shared = false;
    for (size_t byte : BytesOf(b)) shared = shared || in_a.count(byte) > 0;
    ASSERT_EQ(LayoutsOverlap(a, b), shared);
    ASSERT_EQ(LayoutsOverlap(b, a), shared);
    (shared ? overlapping : apart)++;
  }
  // Both answers must be common for the comparison to mean something.
  EXPECT_GT(overlapping, 500);
  EXPECT_GT(apart, 500);
}

}  // namespace
}  // namespace devtensor
