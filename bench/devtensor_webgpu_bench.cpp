// devtensor's WebGPU benchmarks (see cases/cases.h), as a Google Benchmark binary:
//
//   build/bench/devtensor_webgpu_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_out=webgpu.json
//   python3 bench/ratios.py webgpu.json
//
// DEVTENSOR_BENCH_MAX_BYTES caps the transfer sizes (default 1 GiB); DEVTENSOR_BENCH_CUDART names
// the CUDA runtime for the CUDA baselines. `devtensor bench` runs the same cases with a progress
// display, tables and a plot.
#include <benchmark/benchmark.h>

#include "cases/cases.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  devtensor::bench::RegisterWebGpuCases({devtensor::bench::DefaultMaxBytes()});
  benchmark::RunSpecifiedBenchmarks();
  devtensor::bench::ReleaseCaseState();
  benchmark::Shutdown();
  return 0;
}
