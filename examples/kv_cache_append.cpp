// Appends one token's keys to a KV cache per decode step through strided views, the way a decode
// loop does: cache[:, :, position, :] = new_k. Checks the cache against a plain loop at the end.
#include <cstdio>
#include <cstring>
#include <vector>

#include "devtensor/devtensor.hpp"

int main() {
  constexpr int64_t kLayers = 4, kHeads = 2, kMaxLength = 16, kHeadDim = 8, kSteps = 5;
  devtensor::Env env;
  devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  auto cache = devtensor::Tensor::create(env, cpu, DT_FLOAT, {kLayers, kHeads, kMaxLength, kHeadDim});
  env.zero(cache);

  std::vector<float> expected(kLayers * kHeads * kMaxLength * kHeadDim, 0.0f);
  for (int64_t position = 0; position < kSteps; ++position) {
    // The new token's keys, as a producer would leave them: contiguous [layers, heads, 1, dim].
    auto token = devtensor::Tensor::create(env, cpu, DT_FLOAT, {kLayers, kHeads, 1, kHeadDim});
    float* values = token.data<float>();
    for (size_t i = 0; i < token.element_count(); ++i) values[i] = float(position * 1000 + i);
    auto slot = cache.slice(2, position, 1);  // a strided view into the cache
    env.copy(token, slot);
    for (int64_t l = 0; l < kLayers * kHeads; ++l) {
      std::memcpy(&expected[(l * kMaxLength + position) * kHeadDim], &values[l * kHeadDim],
                  kHeadDim * sizeof(float));
    }
  }
  const bool same =
      std::memcmp(cache.data<float>(), expected.data(), expected.size() * sizeof(float)) == 0;
  auto strides = cache.slice(2, 0, 1).strides();
  std::printf("kv cache [%lld, %lld, %lld, %lld]: appended %lld tokens through views with strides "
              "[%lld, %lld, %lld, %lld]: %s\n",
              (long long)kLayers, (long long)kHeads, (long long)kMaxLength, (long long)kHeadDim,
              (long long)kSteps, (long long)strides[0], (long long)strides[1],
              (long long)strides[2], (long long)strides[3], same ? "matches the reference" : "MISMATCH");
  return same ? 0 : 1;
}
