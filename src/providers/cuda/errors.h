// How the CUDA provider reports errors: statuses made by the host (DtHostApi::CreateStatus), a
// failed driver call named with the driver's own error name.
#ifndef DEVTENSOR_PROVIDERS_CUDA_ERRORS_H_
#define DEVTENSOR_PROVIDERS_CUDA_ERRORS_H_

#include <string>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/cuda_api.h"

namespace devtensor::cuda {

// The host every status is made by; set once by DtProviderInit (one host per process).
void SetHost(const DtHostApi* host);
const DtHostApi* Host();

DtStatus* Fail(DtErrorCode code, const std::string& message);
// A failed driver call: DT_OUT_OF_MEMORY for CUDA_ERROR_OUT_OF_MEMORY, else DT_INTERNAL, the
// message "<what>: <call>: <CUDA error name> (<description>)".
DtStatus* CudaFail(const std::string& what, const char* call, CUresult result);

}  // namespace devtensor::cuda

// Returns the status of a failed driver call `call(args...)` made through `api`.
#define DT_CUDA_RETURN_IF_ERROR(what, api, call, ...)                                 \
  do {                                                                                \
    const ::devtensor::cuda::CUresult dt_cuda_result_ = (api).call(__VA_ARGS__);       \
    if (dt_cuda_result_ != ::devtensor::cuda::kCudaSuccess) {                         \
      return ::devtensor::cuda::CudaFail((what), #call, dt_cuda_result_);             \
    }                                                                                 \
  } while (false)

#endif  // DEVTENSOR_PROVIDERS_CUDA_ERRORS_H_
