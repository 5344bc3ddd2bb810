// The WebGPU provider when the runtime cannot be loaded: the library still works on CPU, and
// asking for a WebGPU device says what was tried and how to fix it. Runs in its own process
// (ctest's webgpu_without_runtime) with DEVTENSOR_WEBGPU_RUNTIME pointing nowhere.
#include <cstdlib>
#include <cstring>

#include "devtensor/devtensor.hpp"
#include "test_util.h"

namespace {

TEST(WebGpuWithoutRuntime, CpuWorksAndWebGpuIsNotFoundWithAFix) {
  if (std::getenv("DT_TEST_WITHOUT_WEBGPU_RUNTIME") == nullptr) {
    GTEST_SKIP() << "runs only in the webgpu_without_runtime ctest entry";
  }
  devtensor::Env env;
  const DtDevice* device = nullptr;
  DT_EXPECT_ERROR(DtGetDevice(env.get(), DT_DEVICE_WEBGPU, 0, &device), DT_NOT_FOUND,
                  "WebGPU(15):0", "/nonexistent/libwebgpu_wrapper.so", "DEVTENSOR_WEBGPU_RUNTIME",
                  "scripts/setup.sh");
  EXPECT_EQ(device, nullptr);
  // The same reasons, without asking for a device (what `devtensor info` prints).
  const char* errors = nullptr;
  DT_ASSERT_OK(DtGetProviderLoadErrors(env.get(), &errors));
  for (const char* part : {"webgpu", "/nonexistent/libwebgpu_wrapper.so", "DEVTENSOR_WEBGPU_RUNTIME"}) {
    EXPECT_NE(std::strstr(errors, part), nullptr) << errors << " lacks " << part;
  }
  // CPU copies are unaffected.
  auto cpu = env.device(DT_DEVICE_CPU);
  auto a = devtensor::Tensor::create(env, cpu, DT_INT32, {4});
  auto b = devtensor::Tensor::create(env, cpu, DT_INT32, {4});
  for (int i = 0; i < 4; ++i) a.data<int32_t>()[i] = 7 * i + 1;
  env.copy(a, b);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), 16), 0);
}

}  // namespace
