// Each case file's registration function; suite.cpp puts them together per device.
#ifndef DEVTENSOR_BENCH_CASES_REGISTRY_H_
#define DEVTENSOR_BENCH_CASES_REGISTRY_H_

#include "cases.h"
#include "devtensor/devtensor.h"

namespace devtensor::bench {

void RegisterTransferCases(const SuiteOptions& options);    // transfer_cases.cpp
void RegisterUpdateCases(const SuiteOptions& options);      // update_cases.cpp
void RegisterKvAppendCases(const SuiteOptions& options);    // kv_append_cases.cpp
void RegisterCpuCopyCases(const SuiteOptions& options);     // cpu_cases.cpp
void RegisterDecodeCases(const SuiteOptions& options, DtDeviceType device);  // decode_cases.cpp
void RegisterDecodePartsCases(const SuiteOptions& options);  // decode_parts_cases.cpp
void RegisterCopyCostCases(const SuiteOptions& options);     // copy_cost_cases.cpp
// RegisterCudaCases (cases.h) is cuda_cases.cpp's.

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_REGISTRY_H_
