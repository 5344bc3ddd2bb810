// The CUDA driver, found at run time: libcuda.so.1 (the NVIDIA driver installs it; the CUDA
// toolkit is not needed), its entry points resolved through cuGetProcAddress, cuInit called once.
#ifndef DEVTENSOR_PROVIDERS_CUDA_DRIVER_H_
#define DEVTENSOR_PROVIDERS_CUDA_DRIVER_H_

#include <string>

#include "providers/cuda/cuda_api.h"

namespace devtensor::cuda {

struct Driver {
  DriverApi api{};
  int version = 0;        // cuDriverGetVersion: 12040 for CUDA 12.4
  int device_count = 0;   // at least 1
  std::string library;    // where libcuda was found

  // "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string ErrorText(const char* call, CUresult result) const;
};

// The driver with at least one device, loaded once per process and never unloaded; null with
// `why` saying what was tried and how to fix it when there is no driver or no device.
const Driver* LoadDriver(std::string* why);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_DRIVER_H_
