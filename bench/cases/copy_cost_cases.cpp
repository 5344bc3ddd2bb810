// What a strided copy costs on WebGPU device 0 beside the op that does the same writes: one fp16
// token [8, 1, 128] copied with DtCopyTensors into DtSliceTensor(cache, 1, position, 1) of a
// cache [8, 4096, 128] (8 rows of 256 bytes, 1 MiB apart), against KvCacheAppend of the same
// token into the same cache (seen as [1, 8, 4096, 128]) at the same position, and DtZeroTensor of
// the same slice. A copy or zero should cost what it writes (2 KiB), not the 8 MiB its view spans.
//   strided_token_copy/2048   subject: the strided copy; baselines: kv_cache_append, strided_zero
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_devices.h"
#include "kept_state.h"
#include "registry.h"
#include "side_by_side.h"

namespace devtensor::bench {
namespace {

using devtensor::Tensor;

constexpr int64_t kHeads = 8, kMaxLength = 4096, kHeadDim = 128, kPosition = 1234;
constexpr size_t kTokenBytes = size_t(kHeads * kHeadDim) * 2;

struct CopyCostState {
  explicit CopyCostState(const WebGpu& gpu)
      : cache(Tensor::create(BenchEnv(), gpu.device, DT_FLOAT16, {1, kHeads, kMaxLength, kHeadDim})),
        token(Tensor::create(BenchEnv(), gpu.device, DT_FLOAT16, {1, kHeads, 1, kHeadDim})),
        position(Tensor::create(BenchEnv(), gpu.device, DT_INT32, {1})),
        cache3(cache.view(0, DT_FLOAT16, {kHeads, kMaxLength, kHeadDim})),
        token3(token.view(0, DT_FLOAT16, {kHeads, 1, kHeadDim})),
        slice(cache3.slice(1, kPosition, 1)) {
    const devtensor::Env& env = BenchEnv();
    env.zero(cache);
    std::vector<uint8_t> bytes(kTokenBytes);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 7 + 3);
    Tensor host = Tensor::wrap(env, BenchCpu(), bytes.data(), bytes.size(), 0, DT_FLOAT16,
                               {1, kHeads, 1, kHeadDim});
    env.copy(host, token);
    int32_t at = kPosition;
    Tensor host_position = Tensor::wrap(env, BenchCpu(), &at, sizeof at, 0, DT_INT32, {1});
    env.copy(host_position, position);
  }
  Tensor cache, token, position, cache3, token3, slice;
};

void KvTokenCopy(benchmark::State& state) {
  Guarded(state, [&] {
    const WebGpu& gpu = TheWebGpu();
    auto& s = Kept<CopyCostState>("strided_token_copy",
                                  [&] { return std::make_unique<CopyCostState>(gpu); });
    const devtensor::Env& env = BenchEnv();
    RunSideBySide(state, kTokenBytes,
                  {{"strided_copy", [&] { env.copy(s.token3, s.slice); }},
                   {"kv_cache_append",
                    [&] { env.run("KvCacheAppend", {&s.token, &s.position}, {&s.cache}); }},
                   {"strided_zero", [&] { env.zero(s.slice); }}});
  });
}

}  // namespace

void RegisterCopyCostCases(const SuiteOptions&) {
  benchmark::RegisterBenchmark(("strided_token_copy/" + std::to_string(kTokenBytes)).c_str(),
                               &KvTokenCopy)
      ->UseManualTime();
}

}  // namespace devtensor::bench
