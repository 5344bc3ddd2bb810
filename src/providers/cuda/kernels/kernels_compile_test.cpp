// Every CUDA kernel the provider can launch compiles with NVRTC (to PTX, as the provider compiles
// them first, for the newest architecture the NVRTC found here knows) and can be found by its name
// expression: a machine with NVRTC and no GPU checks the kernels' source. Skipped, saying why,
// where there is no NVRTC.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "providers/cuda/kernels/embedded_cuda.h"
#include "providers/cuda/kernel_names.h"
#include "providers/cuda/kernel_compiler.h"

namespace devtensor::cuda {
namespace {

TEST(CudaKernels, EveryKernelCompilesWithNvrtc) {
  std::string why;
  const Nvrtc* nvrtc = LoadNvrtc(&why);
  if (nvrtc == nullptr) GTEST_SKIP() << why;
  ASSERT_FALSE(nvrtc->archs.empty()) << nvrtc->library << " names no architecture";
  const int arch = nvrtc->archs.back();
  const std::string source = std::string(source::kKernelAbiH) + "\n" + source::kElementsCuh +
                             "\n" + source::kOpsCuh;
  const std::vector<std::string> names = EveryKernelName();
  std::string image, error;
  std::vector<std::string> lowered;
  ASSERT_TRUE(nvrtc->Compile(source, "devtensor_kernels.cu", arch, false, names, &image, &lowered, &error))
      << error;
  EXPECT_FALSE(image.empty());
  ASSERT_EQ(lowered.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_FALSE(lowered[i].empty()) << names[i];
  }
  std::printf("compiled %zu CUDA kernels for compute_%d with %s (NVRTC %d.%d): %zu bytes of PTX\n",
              names.size(), arch, nvrtc->library.c_str(), nvrtc->major, nvrtc->minor,
              image.size());
}

}  // namespace
}  // namespace devtensor::cuda
