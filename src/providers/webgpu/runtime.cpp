#include "providers/webgpu/runtime.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/loaded_file.h"

namespace devtensor::webgpu {
namespace {

constexpr const char* kRuntimeFile = "libwebgpu_wrapper.so";

std::mutex g_mutex;
Runtime* g_runtime = nullptr;  // never freed: lives as long as the process

// Where the runtime is looked for, in order, each with where it came from.
std::vector<std::pair<std::string, std::string>> RuntimeCandidates() {
  // The variable, when set, is the only place looked at: a wrong path must not be papered over.
  if (const char* env = std::getenv("DEVTENSOR_WEBGPU_RUNTIME"); env && *env) {
    return {{env, "DEVTENSOR_WEBGPU_RUNTIME"}};
  }
  std::vector<std::pair<std::string, std::string>> candidates;
  // A build tree and an installation both keep the runtime beside the provider.
  const void* provider = reinterpret_cast<const void*>(&GetRuntime);
  if (const std::string directory = DirectoryOfLoadedFile(provider); !directory.empty()) {
    candidates.emplace_back(directory + kRuntimeFile, "beside the WebGPU provider");
  }
  candidates.emplace_back(kRuntimeFile, "the system library search path");
  return candidates;
}

void* OpenLibrary(std::string* path, std::string* why) {
  std::string tried;
  for (const auto& [candidate, origin] : RuntimeCandidates()) {
    dlerror();
    // RTLD_NODELETE: Dawn stays mapped even if every handle is closed.
    void* library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (library != nullptr) {
      *path = candidate;
      return library;
    }
    const char* error = dlerror();
    tried += " [" + candidate + " (" + origin + "): " + (error ? error : "not loadable") + "]";
  }
  *why = "the Dawn WebGPU runtime " + std::string(kRuntimeFile) + " could not be loaded; tried" +
         tried + ". Install devtensor with its runtime (cmake --install puts " + kRuntimeFile +
         " beside libdevtensor_webgpu.so), in a source checkout run scripts/setup.sh (it unpacks " +
         "the runtime into deps/dawn, which the build copies beside the provider), or set " +
         "DEVTENSOR_WEBGPU_RUNTIME to the library's path (when it is set, nothing else is tried)";
  return nullptr;
}

bool ResolveFunctions(void* library, wgpu::Api* api, std::string* why) {
  if (const char* missing = wgpu::ResolveApi(library, api)) {
    *why = std::string("the WebGPU runtime lacks ") + missing + "; it is not the pinned Dawn runtime";
    return false;
  }
  return true;
}

const char* BackendName(uint32_t backend) {
  switch (backend) {
    case wgpu::backend::kNull: return "Null";
    case wgpu::backend::kWebGpu: return "WebGPU";
    case wgpu::backend::kD3D11: return "D3D11";
    case wgpu::backend::kD3D12: return "D3D12";
    case wgpu::backend::kMetal: return "Metal";
    case wgpu::backend::kVulkan: return "Vulkan";
    case wgpu::backend::kOpenGl: return "OpenGL";
    case wgpu::backend::kOpenGlEs: return "OpenGLES";
  }
  return "unknown backend";
}

const char* AdapterTypeName(uint32_t type) {
  switch (type) {
    case wgpu::adapter_type::kDiscreteGpu: return "discrete GPU";
    case wgpu::adapter_type::kIntegratedGpu: return "integrated GPU";
    case wgpu::adapter_type::kCpu: return "CPU";
  }
  return "unknown type";
}

int TypeRank(uint32_t type) {
  switch (type) {
    case wgpu::adapter_type::kDiscreteGpu: return 0;
    case wgpu::adapter_type::kIntegratedGpu: return 1;
    case wgpu::adapter_type::kCpu: return 2;
  }
  return 3;
}

struct AdapterRequest {
  uint32_t status = 0;
  wgpu::Adapter adapter = nullptr;
};

// Callbacks only record what they are told: nothing may throw through Dawn.
void OnAdapter(uint32_t status, wgpu::Adapter adapter, wgpu::StringView, void* userdata, void*) {
  auto* request = static_cast<AdapterRequest*>(userdata);
  request->status = status;
  request->adapter = adapter;
}

wgpu::Adapter RequestAdapter(const Runtime& runtime, uint32_t power) {
  wgpu::RequestAdapterOptions options{};
  options.feature_level = wgpu::kFeatureLevelCore;
  options.power_preference = power;
  options.backend_type = wgpu::backend::kVulkan;
  AdapterRequest request;
  wgpu::RequestAdapterCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnAdapter,
                                        &request, nullptr};
  wgpu::Future future = runtime.api.InstanceRequestAdapter(runtime.instance, &options, info);
  if (!WaitFor(runtime, future) || request.status != wgpu::kRequestSuccess) return nullptr;
  return request.adapter;
}

bool Describe(const Runtime& runtime, wgpu::Adapter adapter, AdapterRecord* record) {
  const wgpu::Api& api = runtime.api;
  wgpu::AdapterInfo info{};
  if (api.AdapterGetInfo(adapter, &info) != wgpu::kStatusSuccess) return false;
  record->adapter = adapter;
  record->adapter_type = info.adapter_type;
  record->backend_type = info.backend_type;
  record->vendor_id = info.vendor_id;
  std::string device = wgpu::Text(info.device);
  if (device.empty()) device = wgpu::Text(info.description);
  record->name = device + " (" + BackendName(info.backend_type) + ", " +
                 AdapterTypeName(info.adapter_type) + ")";
  api.AdapterInfoFreeMembers(info);
  wgpu::LimitsOut limits{};
  if (api.AdapterGetLimits(adapter, &limits.limits) != wgpu::kStatusSuccess) return false;
  record->limits = limits.limits;
  record->has_shader_f16 = api.AdapterHasFeature(adapter, wgpu::feature::kShaderF16) != 0;
  record->has_timestamp_query = api.AdapterHasFeature(adapter, wgpu::feature::kTimestampQuery) != 0;
  return true;
}

bool SameAdapter(const AdapterRecord& a, const AdapterRecord& b) {
  return a.adapter == b.adapter ||
         (a.name == b.name && a.vendor_id == b.vendor_id && a.adapter_type == b.adapter_type);
}

// Finds the adapters: a high-performance and a low-power request (the C API has no enumeration),
// never Dawn's Null backend, whose buffers hold no data.
void FindAdapters(Runtime* runtime) {
  for (uint32_t power : {wgpu::power::kHighPerformance, wgpu::power::kLowPower}) {
    wgpu::Adapter adapter = RequestAdapter(*runtime, power);
    if (adapter == nullptr) continue;
    AdapterRecord record;
    if (!Describe(*runtime, adapter, &record) || record.backend_type == wgpu::backend::kNull ||
        std::any_of(runtime->adapters.begin(), runtime->adapters.end(),
                    [&](const AdapterRecord& r) { return SameAdapter(r, record); })) {
      runtime->api.AdapterRelease(adapter);
      continue;
    }
    runtime->adapters.push_back(record);
  }
  std::stable_sort(runtime->adapters.begin(), runtime->adapters.end(),
                   [](const AdapterRecord& a, const AdapterRecord& b) {
                     return TypeRank(a.adapter_type) < TypeRank(b.adapter_type);
                   });
  if (const char* chosen = std::getenv("DEVTENSOR_WEBGPU_ADAPTER"); chosen && *chosen) {
    const long index = std::strtol(chosen, nullptr, 10);
    if (index > 0 && index < static_cast<long>(runtime->adapters.size())) {
      std::rotate(runtime->adapters.begin(), runtime->adapters.begin() + index,
                  runtime->adapters.begin() + index + 1);
    }
  }
}

}  // namespace

bool WaitFor(const Runtime& runtime, wgpu::Future future) {
  wgpu::FutureWaitInfo wait{future, 0};
  // Polled first: a blocking wait wakes some tens of microseconds after the GPU is done, which a
  // decode step or a small copy would pay every time.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < kPollBeforeBlocking) {
    const uint32_t status = runtime.api.InstanceWaitAny(runtime.instance, 1, &wait, 0);
    if (status == wgpu::kWaitSuccess && wait.completed) return true;
    if (status != wgpu::kWaitTimedOut) return false;
    std::this_thread::yield();
  }
  // Long enough for any copy; a runtime that stops answering for this long is treated as lost.
  constexpr uint64_t kTimeoutNs = 120ull * 1000 * 1000 * 1000;
  const uint32_t status = runtime.api.InstanceWaitAny(runtime.instance, 1, &wait, kTimeoutNs);
  return status == wgpu::kWaitSuccess && wait.completed;
}

const Runtime* GetRuntime(std::string* why) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_runtime != nullptr) return g_runtime;
  auto runtime = std::make_unique<Runtime>();
  void* library = OpenLibrary(&runtime->library_path, why);
  if (library == nullptr) return nullptr;
  if (!ResolveFunctions(library, &runtime->api, why)) return nullptr;
  wgpu::InstanceDescriptor descriptor{};
  descriptor.capabilities.timed_wait_any_enable = 1;
  descriptor.capabilities.timed_wait_any_max_count = 64;
  runtime->instance = runtime->api.CreateInstance(&descriptor);
  if (runtime->instance == nullptr) {
    *why = "the WebGPU runtime at " + runtime->library_path + " could not create an instance";
    return nullptr;
  }
  FindAdapters(runtime.get());
  g_runtime = runtime.release();
  return g_runtime;
}

}  // namespace devtensor::webgpu
