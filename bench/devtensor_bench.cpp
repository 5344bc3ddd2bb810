// devtensor's CPU benchmarks (see cases/cases.h), as a Google Benchmark binary:
//
//   build/bench/devtensor_bench --benchmark_repetitions=5 --benchmark_out=cpu.json
//   python3 bench/ratios.py cpu.json
//
// `devtensor bench --device cpu` runs the same cases with a progress display, tables and a plot.
#include <benchmark/benchmark.h>

#include "cases/cases.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  devtensor::bench::RegisterCpuCases({devtensor::bench::DefaultMaxBytes()});
  benchmark::RunSpecifiedBenchmarks();
  devtensor::bench::ReleaseCaseState();
  benchmark::Shutdown();
  return 0;
}
