// bench.json: Google Benchmark's JSON of every run, with a "devtensor_bench" object added beside
// "context" and "benchmarks": the run's settings and each case's final figures as the tables show
// them (medians, bandwidths, ratios), and the decode step's ratios and flatness.
#ifndef DEVTENSOR_TOOLS_BENCH_BENCH_JSON_H_
#define DEVTENSOR_TOOLS_BENCH_BENCH_JSON_H_

#include <cstddef>
#include <string>

#include "bench_results.h"

namespace devtensor::tools {

struct RunSettings {
  std::string device;       // what the cases ran on
  std::string cuda;         // the CUDA baselines' runtime, or why there are none
  std::string bandwidth;    // how GB/s figures are computed
  std::string filter;
  int repetitions = 1;
  double min_time = 0;
  size_t max_bytes = 0;
};

std::string BenchJson(const std::string& google_benchmark_json, const RunSettings& settings,
                      const Results& results);

}  // namespace devtensor::tools

#endif  // DEVTENSOR_TOOLS_BENCH_BENCH_JSON_H_
