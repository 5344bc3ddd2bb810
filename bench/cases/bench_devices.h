// The env and devices every case runs on, made once per process and kept to its end.
#ifndef DEVTENSOR_BENCH_CASES_BENCH_DEVICES_H_
#define DEVTENSOR_BENCH_CASES_BENCH_DEVICES_H_

#include "devtensor/devtensor.hpp"
#include "raw_dawn.h"

namespace devtensor::bench {

const devtensor::Env& BenchEnv();
devtensor::Device BenchCpu();

// WebGPU device 0 and the raw Dawn baseline on the same device. Throws std::runtime_error (the
// same message every time) when there is no WebGPU device.
struct WebGpu {
  devtensor::Device device;
  RawDawn raw;
};
const WebGpu& TheWebGpu();

// CUDA device 0 (libdevtensor_cuda.so's). Throws std::runtime_error (the same message every time)
// when there is no CUDA device.
devtensor::Device TheCudaDevice();

// The device a case family runs on: CPU, WebGPU device 0 or CUDA device 0.
devtensor::Device BenchDevice(DtDeviceType type);

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_BENCH_DEVICES_H_
