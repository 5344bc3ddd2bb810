// Where the CUDA provider looks for NVRTC: DEVTENSOR_NVRTC alone when set; else the library
// search path by name, then the CUDA toolkit, then the nvidia-cuda-nvrtc wheel's folder; never its
// builtins library. And what LoadNvrtc says when there is none (the nvrtc_missing test runs this
// binary with DEVTENSOR_NVRTC naming nothing and DT_TEST_WITHOUT_NVRTC=1).
#include "providers/cuda/kernel_compiler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace devtensor::cuda {
namespace {

namespace fs = std::filesystem;

// Sets an environment variable for the test's life, then puts back what was there.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedVariable() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

void Touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "not a library";
}

size_t IndexOf(const std::vector<std::string>& list, const std::string& item) {
  return size_t(std::find(list.begin(), list.end(), item) - list.begin());
}

TEST(CudaNvrtc, LooksOnThePathThenInTheToolkitThenInTheWheel) {
  if (std::getenv("DEVTENSOR_NVRTC") != nullptr) GTEST_SKIP() << "DEVTENSOR_NVRTC is set here";
  const fs::path root = fs::temp_directory_path() / ("dt_nvrtc_" + std::to_string(getpid()));
  const fs::path toolkit_library = root / "toolkit/lib64/libnvrtc.so.12";
  const fs::path wheel = root / "venv/lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib";
  Touch(toolkit_library);
  Touch(root / "toolkit/lib64/libnvrtc-builtins.so.12");
  Touch(wheel / "libnvrtc.so.12");
  Touch(wheel / "libnvrtc-builtins.so.12.8");
  std::vector<std::string> candidates;
  {
    ScopedVariable home("CUDA_HOME", (root / "toolkit").string());
    ScopedVariable venv("VIRTUAL_ENV", (root / "venv").string());
    candidates = NvrtcCandidates();
  }
  fs::remove_all(root);
  const size_t by_name = IndexOf(candidates, "libnvrtc.so");
  const size_t toolkit = IndexOf(candidates, toolkit_library.string());
  const size_t in_wheel = IndexOf(candidates, (wheel / "libnvrtc.so.12").string());
  ASSERT_LT(by_name, candidates.size());
  ASSERT_LT(toolkit, candidates.size()) << "the toolkit's libnvrtc under $CUDA_HOME/lib64";
  ASSERT_LT(in_wheel, candidates.size()) << "the wheel's libnvrtc under $VIRTUAL_ENV";
  EXPECT_LT(by_name, toolkit);
  EXPECT_LT(toolkit, in_wheel);
  for (const std::string& candidate : candidates) {
    EXPECT_EQ(candidate.find("builtins"), std::string::npos) << candidate;
  }
}

TEST(CudaNvrtc, TheVariableIsTheOnlyPlaceWhenSet) {
  ScopedVariable named("DEVTENSOR_NVRTC", "/nowhere/libnvrtc.so.99");
  EXPECT_EQ(NvrtcCandidates(), std::vector<std::string>{"/nowhere/libnvrtc.so.99"});
}

TEST(CudaNvrtc, WithoutNvrtcSaysWhatWasTriedAndHowToFixIt) {
  if (std::getenv("DT_TEST_WITHOUT_NVRTC") == nullptr) {
    GTEST_SKIP() << "run by the nvrtc_missing test, with DEVTENSOR_NVRTC naming nothing";
  }
  std::string why;
  EXPECT_EQ(LoadNvrtc(&why), nullptr);
  const char* named = std::getenv("DEVTENSOR_NVRTC");
  ASSERT_NE(named, nullptr);
  for (const char* part : {"no NVRTC", named, "CUDA toolkit", "nvidia-cuda-nvrtc", "CUDA_HOME",
                           "DEVTENSOR_NVRTC"}) {
    EXPECT_NE(why.find(part), std::string::npos) << "'" << part << "' in: " << why;
  }
}

}  // namespace
}  // namespace devtensor::cuda
