// NVRTC, the CUDA runtime compiler, found at run time: the provider compiles its kernels on the
// machine that runs them, for that machine's GPUs, so the build needs no CUDA toolkit.
#ifndef DEVTENSOR_PROVIDERS_CUDA_KERNEL_COMPILER_H_
#define DEVTENSOR_PROVIDERS_CUDA_KERNEL_COMPILER_H_

#include <string>
#include <vector>

#include "providers/cuda/cuda_api.h"

namespace devtensor::cuda {

struct Nvrtc {
  NvrtcApi api{};
  std::string library;     // where it was found
  int major = 0, minor = 0;
  std::vector<int> archs;  // the real architectures it compiles for: 75, 80, 90, ...

  // Compiles `source` (named `name` in messages) for compute capability `arch` (major * 10 +
  // minor) and looks up each of `expressions`: a kernel's name expression, "dtk_cast<float,
  // int>". Fills `image` and `lowered` (the mangled names, one per expression). The image is
  // PTX of the newest architecture NVRTC knows up to `arch`, which the driver compiles for the
  // device and keeps in its compute cache; with `sass`, machine code for `arch` itself (for a
  // driver older than NVRTC, which cannot read its PTX). False with the log in `error`.
  bool Compile(const std::string& source, const char* name, int arch, bool sass,
               const std::vector<std::string>& expressions, std::string* image,
               std::vector<std::string>* lowered, std::string* error) const;
};

// NVRTC, loaded once per process; null with `why` listing every place looked at and how to fix it.
// Looked for: DEVTENSOR_NVRTC alone when set; else libnvrtc by name on the library search path,
// in the CUDA toolkit ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda), and in the nvidia-cuda-nvrtc
// Python wheel's folder of the usual Python package directories.
const Nvrtc* LoadNvrtc(std::string* why);

// The places LoadNvrtc tries, in order, as this process's environment names them now.
std::vector<std::string> NvrtcCandidates();

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_KERNEL_COMPILER_H_
