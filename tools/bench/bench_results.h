// The suite's results as rows: one per case and size, with each contender's median time, its
// bandwidth where the case moves bytes, and each baseline's ratio to the subject. Built from
// Google Benchmark's runs (the median aggregate when there are repetitions).
#ifndef DEVTENSOR_TOOLS_BENCH_BENCH_RESULTS_H_
#define DEVTENSOR_TOOLS_BENCH_BENCH_RESULTS_H_

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace devtensor::tools {

struct Figure {
  std::string contender;  // counter prefix: devtensor, raw_dawn, cuda, ...
  double us = NAN;        // median time of one iteration
  double gbps = NAN;      // NaN where the case moves no bytes
  double ratio = NAN;     // this time / the subject's; NaN for the subject
};

struct Row {
  std::string name;    // upload/4096
  std::string family;  // upload
  int64_t size = 0;    // bytes an iteration moves, or t for decode
  std::string error;   // empty when the case ran
  std::vector<Figure> figures;  // the subject first, then its baselines in table order

  const Figure* find(const std::string& contender) const;
};

class Results {
 public:
  // Takes a run when it is a case's final figure: the only run without repetitions, the median
  // with them, or the first error. Returns the row it added, or null.
  const Row* Take(const benchmark::BenchmarkReporter::Run& run);

  const std::vector<Row>& rows() const { return rows_; }
  bool any_error() const;

 private:
  std::vector<Row> rows_;
};

// Whether tables show a figure's bandwidth beside its time: where it moves 64 KiB or more (below,
// a transfer's time is its latency, and GB/s says little).
bool ShowsBandwidth(const Row& row, const Figure& figure);

// Display names and order from bench/cases/contenders.h.
std::string Label(const std::string& contender);
std::string Brief(const std::string& contender);
size_t TableOrder(const std::string& contender);

}  // namespace devtensor::tools

#endif  // DEVTENSOR_TOOLS_BENCH_BENCH_RESULTS_H_
