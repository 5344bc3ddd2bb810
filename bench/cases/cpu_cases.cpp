// CPU copies through devtensor beside the code a user would write by hand:
//   cpu_copy          contiguous DtCopyTensors against memcpy, 4 KiB to the size cap
//   kv_cache_append   one token into a strided slice of a [32 layers, 8 KV heads, 4096 positions,
//                     128 dims] fp16 cache, slicing the view each step as a decode loop does,
//                     against a hand-written loop of row copies
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

struct CpuCopyState {
  explicit CpuCopyState(size_t size)
      : size(size),
        src(Tensor::create(BenchEnv(), BenchCpu(), DT_UINT8, {int64_t(size)})),
        dst(Tensor::create(BenchEnv(), BenchCpu(), DT_UINT8, {int64_t(size)})),
        from(Pattern(size, 7)),
        to(size, 0) {
    std::memcpy(src.data(), from.data(), size);
    std::memset(dst.data(), 0, size);
  }
  size_t size;
  Tensor src, dst;
  std::vector<uint8_t> from, to;
  bool checked = false;
};

void CpuCopy(benchmark::State& state, size_t size) {
  Guarded(state, [&] {
    auto& s = Kept<CpuCopyState>("cpu_copy/" + std::to_string(size), [&] {
      return std::make_unique<CpuCopyState>(size);
    });
    RunSideBySide(state, size,
                  {{"devtensor", [&] { BenchEnv().copy(s.src, s.dst); }},
                   {"memcpy", [&] { std::memcpy(s.to.data(), s.from.data(), size); }}});
    if (!s.checked && !state.error_occurred()) {
      if (std::memcmp(s.dst.data(), s.from.data(), size) != 0) throw std::runtime_error("wrong data from devtensor");
      s.checked = true;
    }
  });
}

constexpr int64_t kLayers = 32, kHeads = 8, kMaxLength = 4096, kHeadDim = 128;
constexpr size_t kTokenBytes = kLayers * kHeads * kHeadDim * sizeof(uint16_t);
constexpr size_t kCacheElements = size_t(kLayers * kHeads * kMaxLength * kHeadDim);

struct CpuKvState {
  CpuKvState()
      : cache(Tensor::create(BenchEnv(), BenchCpu(), DT_FLOAT16, {kLayers, kHeads, kMaxLength, kHeadDim})),
        token(Tensor::create(BenchEnv(), BenchCpu(), DT_FLOAT16, {kLayers, kHeads, 1, kHeadDim})),
        hand_cache(kCacheElements, 0),
        hand_token(kTokenBytes / 2) {
    std::memset(cache.data(), 0, kCacheElements * 2);
    for (size_t i = 0; i < kTokenBytes / 2; ++i) hand_token[i] = token.data<uint16_t>()[i] = uint16_t(i);
  }
  Tensor cache, token;
  std::vector<uint16_t> hand_cache, hand_token;
  int64_t ours = 0, theirs = 0;  // positions, advancing separately
  bool checked = false;
};

void CpuKvCacheAppend(benchmark::State& state) {
  Guarded(state, [&] {
    auto& s = Kept<CpuKvState>("kv_cache_append", [] { return std::make_unique<CpuKvState>(); });
    RunSideBySide(state, kTokenBytes,
                  {{"devtensor", [&] {
                      BenchEnv().copy(s.token, s.cache.slice(2, s.ours, 1));
                      s.ours = (s.ours + 1) % kMaxLength;
                    }},
                   {"hand_loop", [&] {
                      for (int64_t row = 0; row < kLayers * kHeads; ++row) {
                        std::memcpy(&s.hand_cache[size_t((row * kMaxLength + s.theirs) * kHeadDim)],
                                    &s.hand_token[size_t(row * kHeadDim)], kHeadDim * sizeof(uint16_t));
                      }
                      s.theirs = (s.theirs + 1) % kMaxLength;
                    }}});
    // Both caches hold the same tokens at the same positions.
    if (!s.checked && !state.error_occurred()) {
      if (std::memcmp(s.cache.data(), s.hand_cache.data(), kCacheElements * 2) != 0) {
        throw std::runtime_error("wrong data from devtensor");
      }
      s.checked = true;
    }
  });
}

}  // namespace

void RegisterCpuCopyCases(const SuiteOptions& options) {
  for (size_t size = 4 << 10; size <= options.max_bytes; size *= 4) {
    const std::string name = "cpu_copy/" + std::to_string(size);
    benchmark::RegisterBenchmark(name.c_str(), [size](benchmark::State& state) {
      CpuCopy(state, size);
    })->UseManualTime();
  }
  benchmark::RegisterBenchmark(("kv_cache_append/" + std::to_string(kTokenBytes)).c_str(),
                               &CpuKvCacheAppend)
      ->UseManualTime();
}

}  // namespace devtensor::bench
