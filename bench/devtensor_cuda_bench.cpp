// devtensor's CUDA benchmarks (see cases/cases.h), as a Google Benchmark binary:
//
//   build/bench/devtensor_cuda_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_out=cuda.json
//   python3 bench/ratios.py cuda.json
//
// DEVTENSOR_BENCH_MAX_BYTES caps the transfer sizes (default 1 GiB); DEVTENSOR_BENCH_CUDART names
// the CUDA runtime of the baselines. Without a CUDA device it says why and runs nothing (exit 0).
// `devtensor bench --device cuda` runs the same cases with a progress display, tables and a plot.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cases/cases.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const std::vector<std::string> left_out =
      devtensor::bench::RegisterCudaCases({devtensor::bench::DefaultMaxBytes()});
  for (const std::string& reason : left_out) std::fprintf(stderr, "skipped: %s\n", reason.c_str());
  try {
    devtensor::bench::DeviceDescription(DT_DEVICE_CUDA);
  } catch (const std::exception&) {
    return 0;  // no CUDA device: nothing was registered, and the reason is printed
  }
  benchmark::RunSpecifiedBenchmarks();
  devtensor::bench::ReleaseCaseState();
  benchmark::Shutdown();
  return 0;
}
