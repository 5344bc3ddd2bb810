// The WGSL every op kernel shares: the accessors of the fixed parameter words and the helper
// library (wgsl/library.wgsl), and the head of a batchable kernel's main (wgsl/main_head.wgsl).
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_LIBRARY_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_LIBRARY_H_

#include <string>

namespace devtensor::webgpu {

// What every op kernel's WGSL starts with (after the bindings' prelude of op_dispatch.h).
std::string KernelLibrary();

// The start of a batchable kernel's main, which defines `i` (the invocation's element) and
// `index` (its multi-index) and returns for invocations past the element count; the kernel adds
// its statements and the closing brace.
std::string MainHead();

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_LIBRARY_H_
