// The names of the CUDA kernels (kernels/cuda/ops.cuh) as NVRTC name expressions
// ("dtk_run<dtk_cast_op<float, int>>"): the device code's names of element types, every kernel the
// provider launches, and the family a kernel is compiled with.
#ifndef DEVTENSOR_PROVIDERS_CUDA_KERNEL_NAMES_H_
#define DEVTENSOR_PROVIDERS_CUDA_KERNEL_NAMES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"

namespace devtensor::cuda {

// The device code's name of an element type ("float", "dtk_half", ...), and of the unsigned
// word of `bytes` bytes ("unsigned short", ...).
const char* DeviceTypeName(DtElementType type);
const char* WordTypeName(size_t bytes);

// "op<a, b>" (or "op<a>" when b is empty): an op functor's name expression.
std::string OpName(const char* op, const std::string& a, const std::string& b = "");

// Every op functor the provider runs ("dtk_cast_op<float, int>", ...), for every type it takes,
// and every kernel that runs them: dtk_run<op> and dtk_run_many<op>.
std::vector<std::string> EveryOpName();
std::vector<std::string> EveryKernelName();

// The kernels compiled together with `expression` (itself included): its template for every
// type, or, for Cast, every target of its source type. One NVRTC program costs far more than
// one more kernel in it, and a call that needs one of them usually needs its neighbours.
std::vector<std::string> KernelFamily(const std::string& expression);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_KERNEL_NAMES_H_
