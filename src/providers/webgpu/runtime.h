// The WebGPU runtime: Dawn loaded with dlopen, one instance, and the adapters found on this
// machine. Created on first use and kept for the life of the process: instances and adapters are
// costly to make, and nothing of Dawn may be torn down by static destructors at exit (a crash
// others have hit). The provider library pins itself in memory for the same reason.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_RUNTIME_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_RUNTIME_H_

#include <chrono>
#include <string>
#include <vector>

#include "providers/webgpu/webgpu_api.h"

namespace devtensor::webgpu {

struct AdapterRecord {
  wgpu::Adapter adapter = nullptr;
  std::string name;         // "NVIDIA H200 (Vulkan, discrete GPU)"
  uint32_t adapter_type = 0;
  uint32_t backend_type = 0;
  uint32_t vendor_id = 0;
  wgpu::Limits limits{};
  bool has_shader_f16 = false;
  bool has_timestamp_query = false;
};

struct Runtime {
  wgpu::Api api;
  std::string library_path;
  wgpu::Instance instance = nullptr;
  // In devtensor's device order: discrete GPUs first, then integrated, then CPU adapters; the
  // adapter named by DEVTENSOR_WEBGPU_ADAPTER (an index into this order) moves to the front.
  std::vector<AdapterRecord> adapters;
};

// The process's runtime, loaded on the first call from DEVTENSOR_WEBGPU_RUNTIME when it is set (and
// from there only), else from libwebgpu_wrapper.so beside the provider library, else from the
// system library search path. On failure returns null and sets `why` to what was tried and how to
// fix it; later calls try again.
const Runtime* GetRuntime(std::string* why);

// How long WaitFor polls before it blocks.
inline constexpr std::chrono::microseconds kPollBeforeBlocking{1000};

// Waits for `future`: polls for up to kPollBeforeBlocking, then blocks; false if it timed out for
// good (two minutes) or the runtime reported an error.
bool WaitFor(const Runtime& runtime, wgpu::Future future);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_RUNTIME_H_
