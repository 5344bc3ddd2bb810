// Google Benchmark's display reporter for `devtensor bench`: a progress line on stderr per case as
// it finishes, the rows for the tables, and Google Benchmark's own JSON of every run, kept for
// bench.json.
#ifndef DEVTENSOR_TOOLS_BENCH_BENCH_REPORTER_H_
#define DEVTENSOR_TOOLS_BENCH_BENCH_REPORTER_H_

#include <benchmark/benchmark.h>

#include <cstddef>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_results.h"

namespace devtensor::tools {

class BenchReporter : public benchmark::BenchmarkReporter {
 public:
  // `total`: how many cases will run (for "[k/total]").
  BenchReporter(size_t total, std::ostream& progress, Results& results);

  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  // Google Benchmark's JSON of the whole run (complete after Finalize).
  std::string json() const { return json_text_.str(); }

 private:
  void PrintProgress(const Row& row);

  size_t total_, done_ = 0;
  std::ostream& progress_;
  Results& results_;
  std::ostringstream json_text_;
  benchmark::JSONReporter json_;
};

}  // namespace devtensor::tools

#endif  // DEVTENSOR_TOOLS_BENCH_BENCH_REPORTER_H_
