#include "providers/cuda/driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <mutex>

namespace devtensor::cuda {
namespace {

// The CUDA version whose signatures cuda_api.h declares.
constexpr int kApiVersion = 12000;

using GetProcAddressV2 = CUresult (*)(const char*, void**, int, unsigned long long, int*);
using GetProcAddressV1 = CUresult (*)(const char*, void**, int, unsigned long long);

struct Resolver {
  GetProcAddressV2 v2 = nullptr;
  GetProcAddressV1 v1 = nullptr;

  template <typename Fn>
  bool Get(const char* name, Fn* out) const {
    void* function = nullptr;
    int found = 0;
    const CUresult result = v2 != nullptr ? v2(name, &function, kApiVersion, 0, &found)
                                          : v1(name, &function, kApiVersion, 0);
    *out = reinterpret_cast<Fn>(function);
    return result == kCudaSuccess && function != nullptr;
  }
};

// Resolves every entry of DriverApi; the name of the first one missing, or null.
const char* Resolve(const Resolver& r, DriverApi* a) {
#define DT_RESOLVE(name) \
  if (!r.Get(#name, &a->name)) return #name;
  DT_RESOLVE(cuInit) DT_RESOLVE(cuDriverGetVersion) DT_RESOLVE(cuGetErrorName)
  DT_RESOLVE(cuGetErrorString) DT_RESOLVE(cuDeviceGetCount) DT_RESOLVE(cuDeviceGet)
  DT_RESOLVE(cuDeviceGetName) DT_RESOLVE(cuDeviceTotalMem) DT_RESOLVE(cuDeviceGetAttribute)
  DT_RESOLVE(cuDeviceCanAccessPeer) DT_RESOLVE(cuDevicePrimaryCtxRetain)
  DT_RESOLVE(cuDevicePrimaryCtxRelease) DT_RESOLVE(cuCtxPushCurrent) DT_RESOLVE(cuCtxPopCurrent)
  DT_RESOLVE(cuCtxEnablePeerAccess) DT_RESOLVE(cuCtxSynchronize) DT_RESOLVE(cuMemGetInfo) DT_RESOLVE(cuMemAlloc)
  DT_RESOLVE(cuMemFree) DT_RESOLVE(cuMemPoolCreate) DT_RESOLVE(cuMemPoolSetAttribute)
  DT_RESOLVE(cuMemAllocFromPoolAsync) DT_RESOLVE(cuMemFreeAsync) DT_RESOLVE(cuMemHostAlloc)
  DT_RESOLVE(cuMemFreeHost) DT_RESOLVE(cuMemHostRegister) DT_RESOLVE(cuMemHostUnregister) DT_RESOLVE(cuMemGetAddressRange) DT_RESOLVE(cuPointerGetAttribute)
  DT_RESOLVE(cuMemcpyAsync) DT_RESOLVE(cuMemcpyPeerAsync) DT_RESOLVE(cuMemsetD8Async)
  DT_RESOLVE(cuStreamCreate) DT_RESOLVE(cuStreamDestroy) DT_RESOLVE(cuStreamSynchronize)
  DT_RESOLVE(cuStreamWaitEvent) DT_RESOLVE(cuStreamIsCapturing) DT_RESOLVE(cuStreamBeginCapture)
  DT_RESOLVE(cuStreamEndCapture) DT_RESOLVE(cuEventCreate) DT_RESOLVE(cuEventRecord)
  DT_RESOLVE(cuEventSynchronize) DT_RESOLVE(cuEventQuery) DT_RESOLVE(cuEventDestroy)
  DT_RESOLVE(cuGraphInstantiateWithFlags) DT_RESOLVE(cuGraphLaunch) DT_RESOLVE(cuGraphExecDestroy)
  DT_RESOLVE(cuGraphDestroy) DT_RESOLVE(cuGraphGetNodes) DT_RESOLVE(cuModuleLoadData) DT_RESOLVE(cuModuleUnload)
  DT_RESOLVE(cuModuleGetFunction) DT_RESOLVE(cuLaunchKernel) DT_RESOLVE(cuLaunchHostFunc)
#undef DT_RESOLVE
  return nullptr;
}

constexpr const char* kFix =
    "CUDA devices need the NVIDIA driver (its libcuda.so.1) and an NVIDIA GPU it can use; "
    "DEVTENSOR_CUDA_DRIVER names the driver library when it is not on the library search path";

Driver* Load(std::string* why) {
  const char* named = std::getenv("DEVTENSOR_CUDA_DRIVER");
  const std::string path = named != nullptr && *named ? named : "libcuda.so.1";
  dlerror();
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (library == nullptr) {
    const char* error = dlerror();
    *why = "no CUDA driver: " + path + " could not be loaded (" +
           (error != nullptr ? error : "not loadable") + "); " + kFix;
    return nullptr;
  }
  Resolver resolver;
  resolver.v2 = reinterpret_cast<GetProcAddressV2>(dlsym(library, "cuGetProcAddress_v2"));
  if (resolver.v2 == nullptr) {
    resolver.v1 = reinterpret_cast<GetProcAddressV1>(dlsym(library, "cuGetProcAddress"));
  }
  if (resolver.v1 == nullptr && resolver.v2 == nullptr) {
    *why = "the CUDA driver " + path + " has no cuGetProcAddress: it predates CUDA 11.3; " +
           "devtensor needs a driver of CUDA 12 or later";
    return nullptr;
  }
  auto driver = std::make_unique<Driver>();
  driver->library = path;
  if (const char* missing = Resolve(resolver, &driver->api)) {
    *why = "the CUDA driver " + path + " lacks " + missing +
           "; devtensor needs a driver of CUDA 12 or later";
    return nullptr;
  }
  const DriverApi& a = driver->api;
  if (CUresult r = a.cuInit(0); r != kCudaSuccess) {
    *why = "the CUDA driver " + path + " found no usable device (" +
           driver->ErrorText("cuInit", r) + "); " + kFix;
    return nullptr;
  }
  a.cuDriverGetVersion(&driver->version);
  if (driver->version < kApiVersion) {
    *why = "the CUDA driver " + path + " is of CUDA " + std::to_string(driver->version / 1000) +
           "." + std::to_string(driver->version % 1000 / 10) +
           "; devtensor needs CUDA 12.0 or later (update the NVIDIA driver)";
    return nullptr;
  }
  if (CUresult r = a.cuDeviceGetCount(&driver->device_count);
      r != kCudaSuccess || driver->device_count < 1) {
    *why = "the CUDA driver " + path + " found no CUDA device" +
           (r != kCudaSuccess ? " (" + driver->ErrorText("cuDeviceGetCount", r) + ")" : "") +
           "; " + kFix;
    return nullptr;
  }
  return driver.release();
}

}  // namespace

std::string Driver::ErrorText(const char* call, CUresult result) const {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.cuGetErrorName == nullptr || api.cuGetErrorName(result, &name) != kCudaSuccess) {
    name = nullptr;
  }
  if (api.cuGetErrorString == nullptr || api.cuGetErrorString(result, &text) != kCudaSuccess) {
    text = nullptr;
  }
  std::string message = std::string(call) + ": " +
                        (name != nullptr ? name : "CUDA error " + std::to_string(result));
  if (text != nullptr) message += std::string(" (") + text + ")";
  return message;
}

const Driver* LoadDriver(std::string* why) {
  static std::mutex mutex;
  static const Driver* driver = nullptr;  // never freed: the driver stays loaded
  static std::string failure;
  std::lock_guard<std::mutex> lock(mutex);
  if (driver == nullptr && failure.empty()) {
    driver = Load(&failure);
    if (driver == nullptr && failure.empty()) failure = "the CUDA driver could not be loaded";
  }
  if (driver == nullptr) *why = failure;
  return driver;
}

}  // namespace devtensor::cuda
