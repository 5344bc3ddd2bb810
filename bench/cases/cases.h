// devtensor's benchmark cases, registered with Google Benchmark. The benchmark binaries and the
// `devtensor bench` command register them through these functions and run them with Google
// Benchmark's own runner, so every front end times the same cases the same way.
//
// Names are <case>/<size>: the bytes one iteration moves, or the position t for decode cases.
// Counters: see side_by_side.h; contender names and their labels: contenders.h.
#ifndef DEVTENSOR_BENCH_CASES_CASES_H_
#define DEVTENSOR_BENCH_CASES_CASES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"

namespace devtensor::bench {

struct SuiteOptions {
  size_t max_bytes;      // the largest transfer (sizes go 4 KiB, 16 KiB, ... up to it)
  int decode_steps = 5;  // timed decode steps per repetition
};

// DEVTENSOR_BENCH_MAX_BYTES when set, else 1 GiB.
size_t DefaultMaxBytes();

// WebGPU device 0: upload, download, device_copy (beside raw Dawn and, when a CUDA runtime is
// found, cudaMemcpy); update_4_bytes_at_*, small_updates, kv_append (beside raw Dawn); decode.
void RegisterWebGpuCases(const SuiteOptions& options);
// CPU: cpu_copy (beside memcpy), kv_cache_append (beside a hand-written loop); decode.
void RegisterCpuCases(const SuiteOptions& options);
// CUDA device 0: upload and download from pinned host memory (beside cudaMemcpy from pinned
// memory) and from pageable host memory (upload_pageable, download_pageable: beside cudaMemcpy
// from pinned and from pageable memory), device_copy (beside cudaMemcpy), update_4_bytes_at_1026
// from pinned and from pageable memory (beside a 4-byte cudaMemcpy); decode. Registers what can
// run here and returns why the rest is left out (empty when nothing is): every case without a
// CUDA device, the transfers and updates without a CUDA runtime for their baselines.
std::vector<std::string> RegisterCudaCases(const SuiteOptions& options);

// "WebGPU device 0 (its adapter's name)", "CUDA device 0 (...)" or "CPU (...)": what the cases
// of `type` run on. Throws std::exception when there is no such device.
std::string DeviceDescription(DtDeviceType type);

// Frees what the last case kept; call after running.
void ReleaseCaseState();

// How bandwidth figures are computed, for table headers.
extern const char* const kBandwidthConvention;

// Which CUDA runtime the CUDA baselines use, or why there are none.
std::string CudaBaselineDescription();

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_CASES_H_
