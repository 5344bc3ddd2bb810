// ParallelCopy equals memcpy for every size and alignment, split over the pool or not, from
// several threads at once, and leaves the bytes around the destination alone.
#include "providers/cuda/parallel_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "test_util.h"

namespace devtensor::cuda {
namespace {

using devtensor_test::Random;

constexpr uint8_t kSentinel = 0xA5;

void CheckCopy(Random& random, size_t bytes, size_t src_shift, size_t dst_shift) {
  std::vector<uint8_t> src(bytes + src_shift + 1);  // never empty: no null pointers
  for (auto& b : src) b = uint8_t(random());
  std::vector<uint8_t> dst(bytes + dst_shift + 64, kSentinel);
  ParallelCopy(dst.data() + dst_shift, src.data() + src_shift, bytes);
  ASSERT_EQ(std::memcmp(dst.data() + dst_shift, src.data() + src_shift, bytes), 0)
      << bytes << " bytes, source shifted " << src_shift << ", destination " << dst_shift;
  for (size_t i = 0; i < dst_shift; ++i) ASSERT_EQ(dst[i], kSentinel) << "before, byte " << i;
  for (size_t i = dst_shift + bytes; i < dst.size(); ++i) ASSERT_EQ(dst[i], kSentinel) << "after";
}

TEST(ParallelCopy, EqualsMemcpyForEverySizeAndAlignment) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (size_t bytes : {size_t(0), size_t(1), size_t(15), size_t(63), size_t(64), size_t(65),
                       size_t(1000), size_t(1) << 20, (size_t(1) << 20) + 17,
                       size_t(3) << 20, (size_t(5) << 20) + 3}) {
    for (size_t src_shift : {0, 1, 7}) {
      for (size_t dst_shift : {0, 3, 16}) CheckCopy(random, bytes, src_shift, dst_shift);
    }
  }
}

TEST(ParallelCopy, CopiesFromSeveralThreadsAtOnce) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      Random random;
      for (int i = 0; i < 3; ++i) CheckCopy(random, (size_t(2) << 20) + size_t(i) * 4099, 5, 9);
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace devtensor::cuda
