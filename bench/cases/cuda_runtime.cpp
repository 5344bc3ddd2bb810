#include "cuda_runtime.h"

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace devtensor::bench {

struct CudaRuntime::Loaded {
  CudaRuntime* runtime = nullptr;
  std::string description;
};

const CudaRuntime::Loaded& CudaRuntime::TheLoaded() {
  static const Loaded loaded = [] {
    Loaded l;
    const char* path = std::getenv("DEVTENSOR_BENCH_CUDART");
    if (path && std::string(path) == "none") {
      l.description = "no CUDA baselines (DEVTENSOR_BENCH_CUDART=none)";
      return l;
    }
    std::vector<std::string> names;
    if (path && *path) names.push_back(path);
    for (const char* name : {"libcudart.so", "libcudart.so.12", "libcudart.so.13", "libcudart.so.11.0"}) {
      names.push_back(name);
    }
    void* library = nullptr;
    std::string loaded_name;
    for (const std::string& name : names) {
      library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (library != nullptr) {
        loaded_name = name;
        break;
      }
    }
    if (library == nullptr) {
      l.description = "no CUDA runtime (tried";
      for (const std::string& name : names) l.description += " " + name;
      l.description += "; DEVTENSOR_BENCH_CUDART names one)";
      return l;
    }
    auto* cuda = new CudaRuntime();  // kept for the life of the process, as the library is
    bool complete = true;
    auto resolve = [&](auto& function, const char* symbol) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library, symbol));
      complete = complete && function != nullptr;
    };
    resolve(cuda->malloc_host_, "cudaMallocHost");
    resolve(cuda->free_host_, "cudaFreeHost");
    resolve(cuda->malloc_, "cudaMalloc");
    resolve(cuda->free_, "cudaFree");
    resolve(cuda->memcpy_, "cudaMemcpy");
    resolve(cuda->synchronize_, "cudaDeviceSynchronize");
    resolve(cuda->error_string_, "cudaGetErrorString");
    if (!complete) {
      l.description = loaded_name + " lacks a CUDA runtime function";
      delete cuda;
      return l;
    }
    // cudaFree(nullptr) makes the context: it fails when there is no usable device.
    if (const Error error = cuda->free_(nullptr); error != 0) {
      l.description = loaded_name + " found no usable device: " + cuda->error_string_(error);
      delete cuda;
      return l;
    }
    l.runtime = cuda;
    l.description = "CUDA runtime " + loaded_name;
    return l;
  }();
  return loaded;
}

const CudaRuntime* CudaRuntime::Get() { return TheLoaded().runtime; }

const std::string& CudaRuntime::Description() { return TheLoaded().description; }

void CudaRuntime::Check(Error error, const char* call) const {
  if (error != 0) throw std::runtime_error(std::string(call) + ": " + error_string_(error));
}

void* CudaRuntime::AllocateHost(size_t bytes) const {
  void* p = nullptr;
  Check(malloc_host_(&p, bytes), "cudaMallocHost");
  return p;
}

void* CudaRuntime::AllocateDevice(size_t bytes) const {
  void* p = nullptr;
  Check(malloc_(&p, bytes), "cudaMalloc");
  return p;
}

void CudaRuntime::FreeHost(void* p) const { Check(free_host_(p), "cudaFreeHost"); }

void CudaRuntime::FreeDevice(void* p) const { Check(free_(p), "cudaFree"); }

void CudaRuntime::Copy(void* to, const void* from, size_t bytes, CudaCopy kind) const {
  Check(memcpy_(to, from, bytes, static_cast<int>(kind)), "cudaMemcpy");
  Check(synchronize_(), "cudaDeviceSynchronize");
}

CudaBuffer::CudaBuffer(const CudaRuntime& cuda, Where where, size_t bytes)
    : cuda_(cuda), where_(where) {
  data_ = where == Where::kHost ? cuda.AllocateHost(bytes) : cuda.AllocateDevice(bytes);
}

CudaBuffer::~CudaBuffer() {
  try {
    if (where_ == Where::kHost) cuda_.FreeHost(data_);
    else cuda_.FreeDevice(data_);
  } catch (const std::exception&) {
    // A failed free at teardown leaves nothing to do.
  }
}

}  // namespace devtensor::bench
