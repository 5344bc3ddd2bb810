// CPU copies through devtensor beside the code a user would write by hand, timed alternately in one
// loop: contiguous DtCopyTensors against memcpy (4 KiB … 256 MiB), and a KV-cache append (one token
// into a strided slice of a [32 layers, 8 KV heads, 4096 positions, 128 dims] fp16 cache, slicing
// the view each step as a decode loop does) against a hand-written loop.
//
//   build/bench/devtensor_bench --benchmark_repetitions=5 --benchmark_out=cpu.json
//   python3 bench/ratios.py cpu.json
//
// Names: <case>/<bytes>; counters devtensor_us, <baseline>_us (medians) and their ratio.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "devtensor/devtensor.hpp"

namespace {

using devtensor::Tensor;

devtensor::Env& SharedEnv() {
  static devtensor::Env env;
  return env;
}

double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Times `ours` and `theirs` alternately, reporting medians as counters.
template <typename Ours, typename Theirs>
void SideBySide(benchmark::State& state, size_t bytes, const char* baseline, Ours&& ours,
                Theirs&& theirs) {
  std::vector<double> a, b;
  bool ours_first = true;
  auto time = [](auto&& op) {
    const auto start = std::chrono::steady_clock::now();
    op();
    benchmark::ClobberMemory();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (auto _ : state) {
    double t_ours, t_theirs;
    if (ours_first) {
      t_ours = time(ours);
      t_theirs = time(theirs);
    } else {
      t_theirs = time(theirs);
      t_ours = time(ours);
    }
    ours_first = !ours_first;
    a.push_back(t_ours);
    b.push_back(t_theirs);
    state.SetIterationTime(t_ours);
  }
  const double ma = Median(a), mb = Median(b);
  state.counters["devtensor_us"] = ma * 1e6;
  state.counters[std::string(baseline) + "_us"] = mb * 1e6;
  state.counters["devtensor_GBps"] = bytes / ma / 1e9;
  state.counters[std::string(baseline) + "_GBps"] = bytes / mb / 1e9;
  state.counters["ratio"] = mb / ma;
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

void CpuCopy(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  auto& env = SharedEnv();
  auto cpu = env.device(DT_DEVICE_CPU);
  Tensor src = Tensor::create(env, cpu, DT_UINT8, {bytes});
  Tensor dst = Tensor::create(env, cpu, DT_UINT8, {bytes});
  std::vector<uint8_t> from(bytes), to(bytes);
  for (int64_t i = 0; i < bytes; ++i) from[i] = src.data<uint8_t>()[i] = uint8_t(i * 7);
  std::memset(dst.data(), 0, bytes);
  const DtValue* s = src.get();
  DtValue* d = dst.get();
  SideBySide(state, bytes, "memcpy",
             [&] {
               if (DtStatus* status = DtCopyTensors(env.get(), &s, &d, 1, nullptr)) {
                 state.SkipWithError(DtGetErrorMessage(status));
               }
             },
             [&] { std::memcpy(to.data(), from.data(), bytes); });
  if (std::memcmp(src.data(), dst.data(), bytes) != 0) state.SkipWithError("copy is wrong");
}
BENCHMARK(CpuCopy)->Name("cpu_copy")->RangeMultiplier(4)->Range(4 << 10, 256 << 20)->UseManualTime();

constexpr int64_t kLayers = 32, kHeads = 8, kMaxLength = 4096, kHeadDim = 128;
constexpr size_t kTokenBytes = kLayers * kHeads * kHeadDim * sizeof(uint16_t);
constexpr size_t kCacheElements = size_t(kLayers * kHeads * kMaxLength * kHeadDim);

void KvCacheAppend(benchmark::State& state) {
  auto& env = SharedEnv();
  auto cpu = env.device(DT_DEVICE_CPU);
  Tensor cache = Tensor::create(env, cpu, DT_FLOAT16, {kLayers, kHeads, kMaxLength, kHeadDim});
  Tensor token = Tensor::create(env, cpu, DT_FLOAT16, {kLayers, kHeads, 1, kHeadDim});
  std::vector<uint16_t> hand_cache(kCacheElements, 0), hand_token(kTokenBytes / 2);
  std::memset(cache.data(), 0, kCacheElements * 2);
  for (size_t i = 0; i < kTokenBytes / 2; ++i) hand_token[i] = token.data<uint16_t>()[i] = uint16_t(i);
  int64_t ours = 0, theirs = 0;  // positions, advancing separately
  const DtValue* from = token.get();
  SideBySide(state, kTokenBytes, "hand_loop",
             [&] {
               DtValue* slot = nullptr;
               DtStatus* status = DtSliceTensor(cache.get(), 2, ours, 1, &slot);
               if (status == nullptr) status = DtCopyTensors(env.get(), &from, &slot, 1, nullptr);
               if (status != nullptr) state.SkipWithError(DtGetErrorMessage(status));
               DtReleaseValue(slot);
               ours = (ours + 1) % kMaxLength;
             },
             [&] {
               for (int64_t row = 0; row < kLayers * kHeads; ++row) {
                 std::memcpy(&hand_cache[size_t((row * kMaxLength + theirs) * kHeadDim)],
                             &hand_token[size_t(row * kHeadDim)], kHeadDim * sizeof(uint16_t));
               }
               theirs = (theirs + 1) % kMaxLength;
             });
  // Both caches hold the same tokens at the same positions.
  if (std::memcmp(cache.data(), hand_cache.data(), kCacheElements * 2) != 0) {
    state.SkipWithError("append is wrong");
  }
}
BENCHMARK(KvCacheAppend)->Name("kv_cache_append")->Arg(kTokenBytes)->UseManualTime();

}  // namespace
