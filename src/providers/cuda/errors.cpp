#include "providers/cuda/errors.h"

#include <atomic>

#include "providers/cuda/driver.h"

namespace devtensor::cuda {
namespace {
std::atomic<const DtHostApi*> g_host{nullptr};
}  // namespace

void SetHost(const DtHostApi* host) { g_host.store(host); }
const DtHostApi* Host() { return g_host.load(); }

DtStatus* Fail(DtErrorCode code, const std::string& message) {
  return Host()->CreateStatus(code, message.c_str());
}

DtStatus* CudaFail(const std::string& what, const char* call, CUresult result) {
  std::string why;
  const Driver* driver = LoadDriver(&why);
  const std::string text = driver != nullptr ? driver->ErrorText(call, result)
                                             : std::string(call) + ": CUDA error " +
                                                   std::to_string(result);
  return Fail(result == kCudaErrorOutOfMemory ? DT_OUT_OF_MEMORY : DT_INTERNAL,
              what + ": " + text);
}

}  // namespace devtensor::cuda
