// CPU copies through devtensor beside the code a user would write by hand, in one binary and one
// run: contiguous DtCopyTensors against memcpy, and a KV-cache append (one token into a strided
// slice of a [layers, kv heads, max length, head dim] fp16 cache) against a hand-written loop.
//
//   build/bench/devtensor_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "devtensor/devtensor.hpp"

namespace {

using devtensor::Tensor;

devtensor::Env& SharedEnv() {
  static devtensor::Env env;
  return env;
}

void ContiguousSizes(benchmark::internal::Benchmark* b) {
  for (int64_t size = 4 << 10; size <= 256 << 20; size *= 4) b->Arg(size);
}

void BM_Memcpy(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> src(bytes, 1), dst(bytes, 2);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_Memcpy)->Apply(ContiguousSizes);

void BM_DtCopyTensors(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  auto& env = SharedEnv();
  auto cpu = env.device(DT_DEVICE_CPU);
  Tensor src = Tensor::create(env, cpu, DT_UINT8, {bytes});
  Tensor dst = Tensor::create(env, cpu, DT_UINT8, {bytes});
  std::memset(src.data(), 1, bytes);
  std::memset(dst.data(), 2, bytes);
  const DtValue* from = src.get();
  DtValue* to = dst.get();
  for (auto _ : state) {
    DtStatus* status = DtCopyTensors(env.get(), &from, &to, 1, nullptr);
    if (status != nullptr) state.SkipWithError(DtGetErrorMessage(status));
    benchmark::ClobberMemory();
  }
  if (std::memcmp(src.data(), dst.data(), bytes) != 0) state.SkipWithError("copy is wrong");
  state.SetBytesProcessed(int64_t(state.iterations()) * bytes);
}
BENCHMARK(BM_DtCopyTensors)->Apply(ContiguousSizes);

// Llama-8B-shaped cache: 32 layers x 8 KV heads x 4096 positions x 128 dims of fp16.
constexpr int64_t kLayers = 32, kHeads = 8, kMaxLength = 4096, kHeadDim = 128;
constexpr size_t kTokenBytes = kLayers * kHeads * kHeadDim * sizeof(uint16_t);

void BM_KvAppendHandLoop(benchmark::State& state) {
  std::vector<uint16_t> cache(size_t(kLayers * kHeads * kMaxLength * kHeadDim), 0);
  std::vector<uint16_t> token(kTokenBytes / 2, 7);
  int64_t position = 0;
  for (auto _ : state) {
    for (int64_t row = 0; row < kLayers * kHeads; ++row) {
      std::memcpy(&cache[size_t((row * kMaxLength + position) * kHeadDim)],
                  &token[size_t(row * kHeadDim)], kHeadDim * sizeof(uint16_t));
    }
    benchmark::ClobberMemory();
    position = (position + 1) % kMaxLength;
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kTokenBytes));
}
BENCHMARK(BM_KvAppendHandLoop);

// What a decode loop does each step: slice the cache at the position, copy the token into it.
void BM_KvAppendDevtensor(benchmark::State& state) {
  auto& env = SharedEnv();
  auto cpu = env.device(DT_DEVICE_CPU);
  Tensor cache = Tensor::create(env, cpu, DT_FLOAT16, {kLayers, kHeads, kMaxLength, kHeadDim});
  std::memset(cache.data(), 0, size_t(kLayers * kHeads * kMaxLength * kHeadDim * 2));
  Tensor token = Tensor::create(env, cpu, DT_FLOAT16, {kLayers, kHeads, 1, kHeadDim});
  std::memset(token.data(), 7, kTokenBytes);
  int64_t position = 0;
  const DtValue* from = token.get();
  for (auto _ : state) {
    DtValue* slot = nullptr;
    DtStatus* status = DtSliceTensor(cache.get(), 2, position, 1, &slot);
    if (status == nullptr) status = DtCopyTensors(env.get(), &from, &slot, 1, nullptr);
    if (status != nullptr) state.SkipWithError(DtGetErrorMessage(status));
    DtReleaseValue(slot);
    benchmark::ClobberMemory();
    position = (position + 1) % kMaxLength;
  }
  // Check one appended row against the token.
  const auto* row = cache.data<uint8_t>() + (kMaxLength + 0) * kHeadDim * 2;  // layer 0, head 1
  if (std::memcmp(row, token.data<uint8_t>() + kHeadDim * 2, kHeadDim * 2) != 0) {
    state.SkipWithError("append is wrong");
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kTokenBytes));
}
BENCHMARK(BM_KvAppendDevtensor);

}  // namespace
