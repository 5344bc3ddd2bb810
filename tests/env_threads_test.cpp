// Envs created and released by several threads at once share no mutable state: each works on its
// own (ThreadSanitizer, in make test-tsan, sees any unsynchronised write).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "devtensor/devtensor.h"
#include "test_util.h"

namespace {

TEST(EnvThreads, EnvsCreatedAtOnceEachCopyAndRunOps) {
  constexpr int kThreads = 8, kRounds = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      for (int round = 0; round < kRounds; ++round) {
        DtEnv* env = nullptr;
        if (DtStatus* s = DtCreateEnv(&env)) {
          DtReleaseStatus(s);
          ++failures;
          continue;
        }
        const DtDevice* cpu = nullptr;
        DtStatus* s = DtGetDevice(env, DT_DEVICE_CPU, 0, &cpu);
        const int64_t shape[] = {5};
        int32_t ids[5] = {t, round, 2, 3, 4};
        DtValue *host = nullptr, *copy = nullptr;
        if (!s) s = DtCreateTensorWithData(env, cpu, ids, sizeof ids, 0, DT_INT32, shape, 1, &host);
        if (!s) s = DtCreateTensor(env, cpu, DT_INT32, shape, 1, &copy);
        if (!s) s = DtCopyTensors(env, &host, &copy, 1, nullptr);
        if (!s) s = DtRunOp(env, "UpdatePositionIds", nullptr, 0, &copy, 1, nullptr, 0, nullptr);
        int32_t* out = nullptr;
        if (!s) s = DtGetTensorData(copy, reinterpret_cast<void**>(&out));
        if (s || out[0] != t + 1 || out[1] != round + 1 || out[4] != 5) ++failures;
        DtReleaseStatus(s);
        // Released in a different order every round.
        if (round % 2) DtReleaseEnv(env);
        DtReleaseValue(copy);
        DtReleaseValue(host);
        if (round % 2 == 0) DtReleaseEnv(env);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
