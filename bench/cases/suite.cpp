#include <cstdlib>

#include "bench_devices.h"
#include "cases.h"
#include "cuda_runtime.h"
#include "kept_state.h"
#include "registry.h"

namespace devtensor::bench {

const char* const kBandwidthConvention =
    "GB/s = bytes copied / time (1 GB = 10^9 bytes); every byte counts once, also in device copies, "
    "which read it and write it: a read+write figure, as CUDA's bandwidth test quotes for "
    "device-to-device copies, is twice this";

size_t DefaultMaxBytes() {
  const char* max = std::getenv("DEVTENSOR_BENCH_MAX_BYTES");
  return max && *max ? std::strtoull(max, nullptr, 10) : (size_t(1) << 30);
}

void RegisterWebGpuCases(const SuiteOptions& options) {
  RegisterTransferCases(options);
  RegisterUpdateCases(options);
  RegisterKvAppendCases(options);
  RegisterDecodeCases(options, DT_DEVICE_WEBGPU);
  RegisterDecodePartsCases(options);
  RegisterCopyCostCases(options);
}

void RegisterCpuCases(const SuiteOptions& options) {
  RegisterCpuCopyCases(options);
  RegisterDecodeCases(options, DT_DEVICE_CPU);
}

std::string DeviceDescription(DtDeviceType type) {
  const DtDeviceInfo info = BenchDevice(type).info();
  const char* what = type == DT_DEVICE_CPU ? "CPU" : type == DT_DEVICE_CUDA ? "CUDA device 0" : "WebGPU device 0";
  return std::string(what) + " (" + info.name + ")";
}

void ReleaseCaseState() { ReleaseKeptState(); }

std::string CudaBaselineDescription() { return CudaRuntime::Description(); }

}  // namespace devtensor::bench
