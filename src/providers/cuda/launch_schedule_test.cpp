// How a recorded stream's kernel calls are launched (ScheduleCalls): after what they depend on,
// independent calls of one op together. Checked on plain calls with made-up byte ranges, and on
// random ones against the rules themselves.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "providers/cuda/launch.h"
#include "test_util.h"

namespace devtensor::cuda {
namespace {

using devtensor_test::Random;

struct Block {
  int value = 0;
};

// A call of `op` reading and writing the byte ranges [n * 100, n * 100 + 100) of the numbers given.
KernelCall Call(const std::string& op, std::vector<int> reads, std::vector<int> writes) {
  KernelCall call(op, Block{}, 1);
  for (int r : reads) call.reads.push_back({uintptr_t(r) * 100, uintptr_t(r) * 100 + 100});
  for (int w : writes) call.writes.push_back({uintptr_t(w) * 100, uintptr_t(w) * 100 + 100});
  return call;
}

using Launches = std::vector<std::vector<size_t>>;

TEST(CudaSchedule, IndependentCallsOfOneOpShareALaunch) {
  std::vector<KernelCall> calls;
  for (int layer = 0; layer < 64; ++layer) calls.push_back(Call("add", {0, layer + 1}, {layer + 1}));
  const Launches launches = ScheduleCalls(calls);
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(launches[0].size(), 64u);
}

TEST(CudaSchedule, ACallComesAfterWhatItReadsAndWhatReadsWhatItWrites) {
  // 0 writes 1; 1 reads 1 (after 0); 2 writes 5, which 1 reads (after 1); 3 is independent.
  const std::vector<KernelCall> calls = {Call("add", {0}, {1}), Call("add", {1, 5}, {2}),
                                         Call("add", {9}, {5}), Call("add", {7}, {8})};
  EXPECT_EQ(ScheduleCalls(calls), (Launches{{0, 3}, {1}, {2}}));
}

TEST(CudaSchedule, WritersOfOneRangeKeepTheirOrder) {
  const std::vector<KernelCall> calls = {Call("fill", {}, {3}), Call("fill", {}, {3})};
  EXPECT_EQ(ScheduleCalls(calls), (Launches{{0}, {1}}));
}

TEST(CudaSchedule, OpsOfOneLevelLaunchApartInIssueOrder) {
  const std::vector<KernelCall> calls = {Call("mul", {0}, {1}), Call("add", {0}, {2}),
                                         Call("mul", {0}, {3})};
  EXPECT_EQ(ScheduleCalls(calls), (Launches{{0, 2}, {1}}));
}

TEST(CudaSchedule, KernelsOfTheirOwnShapeLaunchAlone) {
  std::vector<KernelCall> calls = {Call("", {0}, {1}), Call("", {0}, {2})};
  for (KernelCall& call : calls) call.kernel = "dtk_argmax_runs<float>";
  EXPECT_EQ(ScheduleCalls(calls), (Launches{{0}, {1}}));
}

bool DependOnEachOther(const KernelCall& a, const KernelCall& b) {
  auto any = [](const std::vector<Extent>& x, const std::vector<Extent>& y) {
    for (const Extent& p : x) {
      for (const Extent& q : y) {
        if (p.Overlaps(q)) return true;
      }
    }
    return false;
  };
  return any(a.reads, b.writes) || any(a.writes, b.reads) || any(a.writes, b.writes);
}

TEST(CudaSchedule, RandomCallsKeepEveryDependence) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<KernelCall> calls;
    const int count = 1 + int(random() % 40);
    for (int i = 0; i < count; ++i) {
      std::vector<int> reads, writes;
      for (int r = int(random() % 3); r > 0; --r) reads.push_back(int(random() % 12));
      for (int w = 1 + int(random() % 2); w > 0; --w) writes.push_back(int(random() % 12));
      calls.push_back(Call(random() % 2 ? "add" : "mul", reads, writes));
      if (random() % 8 == 0) calls.back().kernel = "own";
    }
    const Launches launches = ScheduleCalls(calls);
    std::map<size_t, size_t> launch_of;
    for (size_t l = 0; l < launches.size(); ++l) {
      ASSERT_FALSE(launches[l].empty());
      for (size_t i : launches[l]) {
        ASSERT_TRUE(launch_of.emplace(i, l).second) << "call " << i << " launched twice";
        EXPECT_EQ(calls[i].op, calls[launches[l][0]].op) << "one op per launch";
        if (!calls[i].kernel.empty()) {
          EXPECT_EQ(launches[l].size(), 1u);
        }
      }
      for (size_t a : launches[l]) {
        for (size_t b : launches[l]) {
          if (a < b) {
            EXPECT_FALSE(DependOnEachOther(calls[a], calls[b])) << a << " and " << b;
          }
        }
      }
    }
    ASSERT_EQ(launch_of.size(), calls.size()) << "every call launched";
    for (size_t j = 0; j < calls.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        if (DependOnEachOther(calls[j], calls[i])) {
          EXPECT_LT(launch_of[i], launch_of[j]) << "call " << j << " depends on call " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace devtensor::cuda
