// Copies and clears on CUDA devices: host <-> device, device <-> device on one device and between
// devices, contiguous or strided, from pinned or pageable host memory. The host checked every pair
// (types, shapes, bounds, overlaps) before.
#ifndef DEVTENSOR_PROVIDERS_CUDA_TRANSFER_H_
#define DEVTENSOR_PROVIDERS_CUDA_TRANSFER_H_

#include <cstddef>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/stream.h"

namespace devtensor::cuda {

// The CUDA device of a pair: the destination's when it is on CUDA, else the source's.
int32_t CudaDeviceOf(const DtCopyPair& pair);

// Copies `count` pairs, in order, with their work on `work` (every pair's CUDA device — or, for
// pairs between two CUDA devices, one of them — is work's device).
DtStatus* CopyBatch(WorkStream& work, Device* (*device_of)(int32_t), const DtCopyPair* pairs,
                    size_t count);

// Sets the elements of a tensor on work's device to zero bytes.
DtStatus* ZeroView(WorkStream& work, const DtTensorRef& tensor);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_TRANSFER_H_
