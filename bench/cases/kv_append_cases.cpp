// A KV-cache append on WebGPU device 0: one token from the host into a cache of
// [layers, 8 KV heads, 4096 positions, 128 dims] fp16 at position t, which advances every step.
// devtensor slices the cache at t each step (DtSliceTensor, a strided view) and copies the token
// into the view with one DtCopyTensors; raw Dawn writes each (layer, head) row of 256 bytes with
// its own queue write, then submits once and waits.
//   kv_append             one layer (an 8 MiB cache; 8 rows per step)
//   kv_append_32_layers   32 layers in one cache (256 MiB; 256 rows per step)
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_devices.h"
#include "kept_state.h"
#include "registry.h"
#include "side_by_side.h"

namespace devtensor::bench {
namespace {

using devtensor::Tensor;

constexpr int64_t kHeads = 8, kMaxLength = 4096, kHeadDim = 128;
constexpr size_t kRowBytes = kHeadDim * sizeof(uint16_t);

size_t TokenBytes(int64_t layers) { return size_t(layers * kHeads) * kRowBytes; }
size_t CacheBytes(int64_t layers) { return TokenBytes(layers) * kMaxLength; }

struct KvAppendState {
  KvAppendState(const WebGpu& gpu, int64_t layers)
      : layers(layers),
        cache(Tensor::create(BenchEnv(), gpu.device, DT_FLOAT16, {layers, kHeads, kMaxLength, kHeadDim})),
        token(Tensor::create(BenchEnv(), BenchCpu(), DT_FLOAT16, {layers, kHeads, 1, kHeadDim})),
        raw_cache(gpu.raw, CacheBytes(layers)) {  // WebGPU buffers start as zeros
    BenchEnv().zero(cache);
    const std::vector<uint8_t> bytes = Pattern(TokenBytes(layers), 21);
    std::memcpy(token.data(), bytes.data(), bytes.size());
  }
  int64_t layers;
  Tensor cache, token;
  RawBuffer raw_cache;
  int64_t ours = 0, theirs = 0;  // positions, advancing separately
  int64_t steps = 0;             // steps each side has taken
  bool checked = false;
};

// Both caches hold the token at every position written so far and zeros elsewhere.
void Check(const WebGpu& gpu, const KvAppendState& s) {
  const size_t bytes = CacheBytes(s.layers);
  const int64_t filled = s.steps < kMaxLength ? s.steps : kMaxLength;
  std::vector<uint8_t> expected(bytes, 0);
  const auto* token = s.token.data<uint8_t>();
  for (int64_t row = 0; row < s.layers * kHeads; ++row) {
    for (int64_t t = 0; t < filled; ++t) {
      std::memcpy(&expected[size_t(row * kMaxLength + t) * kRowBytes], token + row * kRowBytes, kRowBytes);
    }
  }
  Tensor mine = Tensor::create(BenchEnv(), BenchCpu(), DT_FLOAT16, {s.layers, kHeads, kMaxLength, kHeadDim});
  BenchEnv().copy(s.cache, mine);
  if (std::memcmp(mine.data(), expected.data(), bytes) != 0) throw std::runtime_error("wrong data from devtensor");
  std::vector<uint8_t> back(bytes);
  RawBuffer readback(gpu.raw, bytes, kReadbackUsage);
  gpu.raw.Download(s.raw_cache.get(), 0, readback.get(), back.data(), bytes);
  if (back != expected) throw std::runtime_error("wrong data from raw Dawn");
}

void KvAppend(benchmark::State& state, int64_t layers) {
  Guarded(state, [&] {
    const WebGpu& gpu = TheWebGpu();
    const RawDawn& raw = gpu.raw;
    auto& s = Kept<KvAppendState>("kv_append/" + std::to_string(layers), [&] {
      return std::make_unique<KvAppendState>(gpu, layers);
    });
    const devtensor::Env& env = BenchEnv();
    RunSideBySide(state, TokenBytes(layers),
                  {{"devtensor", [&] {
                      env.copy(s.token, s.cache.slice(2, s.ours, 1));
                      s.ours = (s.ours + 1) % kMaxLength;
                    }},
                   {"raw_dawn", [&] {
                      const auto* token = s.token.data<uint8_t>();
                      for (int64_t row = 0; row < s.layers * kHeads; ++row) {
                        raw.Write(s.raw_cache.get(), size_t(row * kMaxLength + s.theirs) * kRowBytes,
                                  token + row * kRowBytes, kRowBytes);
                      }
                      raw.SubmitAndWait();
                      s.theirs = (s.theirs + 1) % kMaxLength;
                      ++s.steps;
                    }}});
    if (!s.checked && !state.error_occurred()) {
      Check(gpu, s);
      s.checked = true;
    }
  });
}

}  // namespace

void RegisterKvAppendCases(const SuiteOptions&) {
  for (int64_t layers : {1, 32}) {
    const std::string name = std::string(layers == 1 ? "kv_append" : "kv_append_32_layers") + "/" +
                             std::to_string(TokenBytes(layers));
    benchmark::RegisterBenchmark(name.c_str(), [layers](benchmark::State& state) {
      KvAppend(state, layers);
    })->UseManualTime();
  }
}

}  // namespace devtensor::bench
