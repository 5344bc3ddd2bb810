#include "bench_reporter.h"

#include <cmath>

#include "text_format.h"

namespace devtensor::tools {

BenchReporter::BenchReporter(size_t total, std::ostream& progress, Results& results)
    : total_(total), progress_(progress), results_(results) {
  json_.SetOutputStream(&json_text_);
  json_.SetErrorStream(&progress);
}

bool BenchReporter::ReportContext(const Context& context) {
  return json_.ReportContext(context);
}

void BenchReporter::ReportRuns(const std::vector<Run>& runs) {
  json_.ReportRuns(runs);
  for (const Run& run : runs) {
    if (const Row* row = results_.Take(run)) PrintProgress(*row);
  }
}

void BenchReporter::Finalize() { json_.Finalize(); }

void BenchReporter::PrintProgress(const Row& row) {
  ++done_;
  const size_t total = done_ > total_ ? done_ : total_;
  std::string line = "[" + std::to_string(done_) + "/" + std::to_string(total) + "] " + row.name;
  if (!row.error.empty()) {
    line += "  error: " + row.error;
  } else {
    for (const Figure& f : row.figures) {
      line += "  " + Brief(f.contender) + " ";
      line += ShowsBandwidth(row, f) ? RateText(f.gbps) + " GB/s" : TimeText(f.us);
    }
  }
  progress_ << line << std::endl;
}

}  // namespace devtensor::tools
