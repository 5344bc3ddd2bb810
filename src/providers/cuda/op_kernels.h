// The ops on CUDA devices: which ones (every op on every element type the op takes) and how each
// call becomes kernel launches (kernels/cuda/ops.cuh).
#ifndef DEVTENSOR_PROVIDERS_CUDA_OP_KERNELS_H_
#define DEVTENSOR_PROVIDERS_CUDA_OP_KERNELS_H_

#include <cstddef>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/stream.h"

namespace devtensor::cuda {

extern const DtOpSupport kCudaOpSupport[];
extern const size_t kCudaOpSupportCount;

// Queues `call` on `work` (the host checked it against the op's definition).
DtStatus* RunOpOn(WorkStream& work, const DtOpCall& call);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_OP_KERNELS_H_
