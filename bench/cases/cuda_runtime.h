// The CUDA runtime as a baseline: cudaMemcpy between pinned host memory and device memory, the
// physical ceiling of a transfer on an NVIDIA GPU (and from pageable memory, what a plain
// cudaMemcpy of a caller's buffer costs). The build needs no CUDA: libcudart is loaded at run time
// (DEVTENSOR_BENCH_CUDART first, then the usual sonames; DEVTENSOR_BENCH_CUDART=none leaves CUDA
// out) and the few functions used are declared here. Without a runtime, or without a device it
// can use, the CUDA baselines are simply left out.
#ifndef DEVTENSOR_BENCH_CASES_CUDA_RUNTIME_H_
#define DEVTENSOR_BENCH_CASES_CUDA_RUNTIME_H_

#include <cstddef>
#include <string>

namespace devtensor::bench {

enum class CudaCopy { kHostToDevice = 1, kDeviceToHost = 2, kDeviceToDevice = 3 };  // cudaMemcpyKind

class CudaRuntime {
 public:
  // The loaded runtime, or null when there is none to use.
  static const CudaRuntime* Get();
  // Which library was loaded, or why none is used.
  static const std::string& Description();

  // Each throws std::runtime_error naming the call and CUDA's message.
  void* AllocateHost(size_t bytes) const;  // pinned (page-locked)
  void* AllocateDevice(size_t bytes) const;
  void FreeHost(void* p) const;
  void FreeDevice(void* p) const;
  // cudaMemcpy, then waits for the device: a device-to-device cudaMemcpy returns before the copy
  // is done. Host memory may be pinned (AllocateHost) or pageable (any other host memory: the
  // runtime stages it through pinned buffers of its own).
  void Copy(void* to, const void* from, size_t bytes, CudaCopy kind) const;

 private:
  using Error = int;
  Error (*malloc_host_)(void**, size_t) = nullptr;
  Error (*free_host_)(void*) = nullptr;
  Error (*malloc_)(void**, size_t) = nullptr;
  Error (*free_)(void*) = nullptr;
  Error (*memcpy_)(void*, const void*, size_t, int) = nullptr;
  Error (*synchronize_)() = nullptr;
  const char* (*error_string_)(Error) = nullptr;

  struct Loaded;
  static const Loaded& TheLoaded();
  void Check(Error error, const char* call) const;
};

// CUDA memory owned by a baseline: pinned host or device memory, freed with its owner.
class CudaBuffer {
 public:
  enum class Where { kHost, kDevice };
  CudaBuffer(const CudaRuntime& cuda, Where where, size_t bytes);
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  ~CudaBuffer();
  void* get() const { return data_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }

 private:
  const CudaRuntime& cuda_;
  Where where_;
  void* data_ = nullptr;
};

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_CUDA_RUNTIME_H_
