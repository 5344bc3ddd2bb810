// Appends one token's keys to a float16 KV cache per decode step with the KvCacheAppend op, the way
// a decode loop does: cache[:, :, position, :] = new_k, with the position an int32 on the device
// that UpdatePositionIds advances, so nothing but the new keys crosses to the device. Runs on WebGPU
// when there is a WebGPU device, else on the CPU (or where --device says: webgpu, cuda, cpu), and
// checks the cache against a plain loop.
#include <cstdio>
#include <string>
#include <vector>

#include "devtensor/devtensor.hpp"
#include "options.h"

namespace {

constexpr int64_t kLayers = 4, kHeads = 2, kMaxLength = 16, kHeadDim = 8;

devtensor::Device PickDevice(const devtensor::Env& env, const std::string& name) {
  if (name == "cpu") return env.device(DT_DEVICE_CPU);
  if (name == "cuda") return env.device(DT_DEVICE_CUDA);
  if (name == "webgpu" || env.device_count(DT_DEVICE_WEBGPU) > 0) return env.device(DT_DEVICE_WEBGPU);
  return env.device(DT_DEVICE_CPU);
}

// The keys a model would produce for the token at `position`: [layers, heads, 1, head_dim].
std::vector<devtensor::Float16> TokenKeys(int64_t position) {
  std::vector<devtensor::Float16> keys(kLayers * kHeads * kHeadDim);
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = devtensor::ToFloat16(float(position) + float(i) / 64.0f);
  }
  return keys;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto";
  int64_t steps = 5;
  example::Options options("kv_cache_append",
                           "Appends one token's keys per decode step to a float16 KV cache with "
                           "the KvCacheAppend op.");
  options.add("--device", &device_name, "auto: WebGPU when there is a device, else CPU",
              {"auto", "webgpu", "cuda", "cpu"});
  options.add("--steps", &steps, "decode steps, one token each (at most 16)", 1);
  options.parse(argc, argv);
  if (steps > kMaxLength) options.fail("--steps must be at most the cache's length, 16");
  std::printf("kv_cache_append: a float16 KV cache on the device, one token's keys appended per "
              "step by the KvCacheAppend op\n");
  try {
    devtensor::Env env;
    const devtensor::Device device = PickDevice(env, device_name);
    auto cache = devtensor::Tensor::create(env, device, DT_FLOAT16, {kLayers, kHeads, kMaxLength, kHeadDim});
    env.zero(cache);
    auto position = devtensor::Tensor::from_host<int32_t>(env, device, {}, {0});

    std::vector<uint16_t> expected(kLayers * kHeads * kMaxLength * kHeadDim, 0);
    for (int64_t step = 0; step < steps; ++step) {
      const std::vector<devtensor::Float16> keys = TokenKeys(step);
      auto token = devtensor::Tensor::from_host(env, device, {kLayers, kHeads, 1, kHeadDim}, keys);
      env.kv_cache_append(cache, token, position);  // at the position the device holds
      env.update_position_ids(position);
      for (int64_t row = 0; row < kLayers * kHeads; ++row) {
        for (int64_t d = 0; d < kHeadDim; ++d) {
          expected[(row * kMaxLength + step) * kHeadDim + d] = keys[row * kHeadDim + d].bits;
        }
      }
    }
    const std::vector<uint16_t> result = cache.to_host<uint16_t>(env);
    const int32_t length = position.to_host<int32_t>(env)[0];
    const bool same = result == expected && length == steps && device.error_flags() == 0;
    std::printf("kv cache [%lld, %lld, %lld, %lld] float16 on %s (%s): appended %lld tokens, length %d "
                "on the device: %s\n",
                (long long)kLayers, (long long)kHeads, (long long)kMaxLength, (long long)kHeadDim,
                device.type_name(), device.name().c_str(), (long long)steps, length,
                same ? "matches the reference" : "MISMATCH");
    return same ? 0 : 1;
  } catch (const devtensor::Error& e) {
    std::fprintf(stderr, "kv_cache_append: %s\n", e.what());
    return 1;
  }
}
