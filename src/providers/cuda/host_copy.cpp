#include "providers/cuda/host_copy.h"

#include "host_memory/strided_copy.h"

namespace devtensor::cuda {

void HostCopy::Run() const noexcept {
  CopyStrided(src, src_strides, dst, dst_strides, shape, rank, element_size);
}

void HostCopy::RunKept(void* copy) noexcept { static_cast<const HostCopy*>(copy)->Run(); }

void HostCopy::RunOnce(void* copy) noexcept {
  auto* run = static_cast<HostCopy*>(copy);
  run->Run();
  delete run;
}

}  // namespace devtensor::cuda
