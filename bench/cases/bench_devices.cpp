#include "bench_devices.h"

#include <memory>
#include <stdexcept>
#include <string>

namespace devtensor::bench {

// Never destroyed: cases may keep tensors until the process ends.
const devtensor::Env& BenchEnv() {
  static const devtensor::Env* env = new devtensor::Env();
  return *env;
}

devtensor::Device BenchCpu() { return BenchEnv().device(DT_DEVICE_CPU); }

const WebGpu& TheWebGpu() {
  static std::string error;
  static const WebGpu* gpu = []() -> const WebGpu* {
    try {
      const devtensor::Device device = BenchEnv().device(DT_DEVICE_WEBGPU);
      return new WebGpu{device, RawDawn(device)};
    } catch (const std::exception& e) {
      error = e.what();
      return nullptr;
    }
  }();
  if (gpu == nullptr) throw std::runtime_error(error);
  return *gpu;
}

devtensor::Device TheCudaDevice() {
  static std::string error;
  static const devtensor::Device* cuda = []() -> const devtensor::Device* {
    try {
      return new devtensor::Device(BenchEnv().device(DT_DEVICE_CUDA));
    } catch (const std::exception& e) {
      error = e.what();
      return nullptr;
    }
  }();
  if (cuda == nullptr) throw std::runtime_error(error);
  return *cuda;
}

devtensor::Device BenchDevice(DtDeviceType type) {
  switch (type) {
    case DT_DEVICE_WEBGPU: return TheWebGpu().device;
    case DT_DEVICE_CUDA: return TheCudaDevice();
    default: return BenchCpu();
  }
}

}  // namespace devtensor::bench
