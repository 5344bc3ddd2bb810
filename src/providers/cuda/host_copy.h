// A copy between host memory and pinned staging memory that runs on the stream as a host
// function, in the stream's order: the payload of cuLaunchHostFunc. It only copies bytes and
// never throws, as a device callback must.
#ifndef DEVTENSOR_PROVIDERS_CUDA_HOST_COPY_H_
#define DEVTENSOR_PROVIDERS_CUDA_HOST_COPY_H_

#include <cstddef>
#include <cstdint>

#include "devtensor/devtensor.h"

namespace devtensor::cuda {

struct HostCopy {
  const char* src = nullptr;
  char* dst = nullptr;
  size_t rank = 0;
  int64_t shape[DT_MAX_RANK] = {};
  int64_t src_strides[DT_MAX_RANK] = {};
  int64_t dst_strides[DT_MAX_RANK] = {};
  size_t element_size = 1;

  // Copies now.
  void Run() const noexcept;
  // cuLaunchHostFunc callbacks: one that runs the copy and keeps it (a graph's, replayed), one that
  // runs it once and deletes it.
  static void RunKept(void* copy) noexcept;
  static void RunOnce(void* copy) noexcept;
};

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_HOST_COPY_H_
