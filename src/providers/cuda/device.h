// One CUDA device of the process, shared by every env and made on first use: its primary context
// (retained, so an application that uses the CUDA runtime on the device shares memory and
// pointers with devtensor), its memory pool, its compiled kernels, its pinned staging ring and
// its error flags. Lives as long as the process.
#ifndef DEVTENSOR_PROVIDERS_CUDA_DEVICE_H_
#define DEVTENSOR_PROVIDERS_CUDA_DEVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/cuda_api.h"
#include "providers/cuda/driver.h"
#include "providers/cuda/kernel_compiler.h"
#include "providers/cuda/staging.h"

namespace devtensor::cuda {

class Device {
 public:
  // Device `ordinal` (0 to driver.device_count - 1).
  static DtStatus* Get(const Driver& driver, const Nvrtc& nvrtc, int ordinal, Device** out);

  const Driver& driver() const { return driver_; }
  const DriverApi& api() const { return driver_.api; }
  int ordinal() const { return ordinal_; }
  CUcontext context() const { return context_; }
  const std::string& name() const { return name_; }
  size_t total_bytes() const { return total_bytes_; }
  int arch() const { return arch_; }  // compute capability, major * 10 + minor
  int multiprocessors() const { return multiprocessors_; }

  // Device memory every stream may use at once (from the device's pool when it has one).
  // DT_OUT_OF_MEMORY names the bytes asked for and the bytes free.
  DtStatus* Allocate(size_t bytes, CUdeviceptr* pointer);
  // Frees what Allocate returned once the work queued on `stream` (null: none) is done.
  void Free(CUdeviceptr pointer, CUstream stream = nullptr);

  // The kernel named `expression` ("dtk_cast<float, int>"), compiled on first use.
  DtStatus* Kernel(const std::string& expression, CUfunction* function);

  // The stream work without a stream runs on, one call at a time (lock sync_mutex()).
  std::mutex& sync_mutex() { return sync_mutex_; }
  CUstream sync_stream() const { return sync_stream_; }

  // Pinned host memory for copies from and to pageable host memory.
  Staging& staging() { return *staging_; }

  // A device word the kernels or DT_DEVICE_ERROR_* bits into.
  CUdeviceptr error_flags() const { return error_flags_; }
  // Reads and clears the error flags after the work queued on `stream` (null: all the device's
  // work); what it read is also kept for TakeErrorFlags when `keep` is set.
  DtStatus* ReadErrorFlags(CUstream stream, bool keep, uint32_t* flags);
  // Every flag raised since the last call: all the device's work is waited for first.
  DtStatus* TakeErrorFlags(uint32_t* flags);

  // True when kernels on this device can read and write `peer`'s memory (peer access enabled
  // on first use).
  bool CanReach(Device& peer);

 private:
  Device(const Driver& driver, const Nvrtc& nvrtc) : driver_(driver), nvrtc_(nvrtc) {}
  DtStatus* Initialize(int ordinal);

  const Driver& driver_;
  const Nvrtc& nvrtc_;
  int ordinal_ = 0;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  std::string name_;
  size_t total_bytes_ = 0;
  int arch_ = 0;
  int multiprocessors_ = 0;
  CUmemoryPool pool_ = nullptr;      // null: cuMemAlloc
  CUstream allocation_stream_ = nullptr;
  std::mutex memory_mutex_;
  std::mutex sync_mutex_;
  CUstream sync_stream_ = nullptr;
  std::unique_ptr<Staging> staging_;
  CUdeviceptr error_flags_ = 0;
  std::mutex flags_mutex_;
  uint32_t unreported_flags_ = 0;
  std::mutex kernels_mutex_;
  std::map<std::string, CUfunction> kernels_;
  std::mutex peers_mutex_;
  std::map<int, bool> peers_;
};

// Makes a device's context current on this thread for the guard's life.
class ScopedContext {
 public:
  explicit ScopedContext(const Device& device) : api_(device.api()) {
    api_.cuCtxPushCurrent(device.context());
  }
  ~ScopedContext() {
    CUcontext popped = nullptr;
    api_.cuCtxPopCurrent(&popped);
  }
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  const DriverApi& api_;
};

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_DEVICE_H_
