#include "providers/webgpu/kernels/library.h"

#include "providers/webgpu/kernels/embedded_wgsl.h"
#include "providers/webgpu/kernels/kernel_params.h"

namespace devtensor::webgpu {

std::string KernelLibrary() {
  static const std::string library = kFixedParams.Accessors() + wgsl::kLibraryWgsl;
  return library;
}

std::string MainHead() { return wgsl::kMainHeadWgsl; }

}  // namespace devtensor::webgpu
