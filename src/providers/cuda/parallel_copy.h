// Copies between pageable host memory and pinned staging memory on several cores: one core's
// memcpy moves a fraction of what a GPU's DMA does, so a staged copy would be bound by it.
#ifndef DEVTENSOR_PROVIDERS_CUDA_PARALLEL_COPY_H_
#define DEVTENSOR_PROVIDERS_CUDA_PARALLEL_COPY_H_

#include <cstddef>

namespace devtensor::cuda {

// memcpy(dst, src, bytes), split over a pool of worker threads (made on first use, kept for the
// process) and the calling thread when `bytes` is large; the regions must not overlap. The pool's
// size and its stores are settings (parallel_copy.cpp: DEVTENSOR_CUDA_COPY_THREADS,
// DEVTENSOR_CUDA_COPY_STREAMING).
void ParallelCopy(void* dst, const void* src, size_t bytes);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_PARALLEL_COPY_H_
