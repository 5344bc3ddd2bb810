#include "bench_results.h"

#include <algorithm>
#include <cstdlib>

#include "cases/contenders.h"

namespace devtensor::tools {
namespace {

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

const Figure* Row::find(const std::string& contender) const {
  for (const Figure& f : figures) {
    if (f.contender == contender) return &f;
  }
  return nullptr;
}

const Row* Results::Take(const benchmark::BenchmarkReporter::Run& run) {
  const std::string name = run.run_name.function_name;
  const bool seen = std::any_of(rows_.begin(), rows_.end(), [&](const Row& r) { return r.name == name; });
  if (seen) return nullptr;
  const bool is_final = run.error_occurred ||
                        (run.run_type == benchmark::BenchmarkReporter::Run::RT_Aggregate
                             ? run.aggregate_name == "median"
                             : run.repetitions <= 1);
  if (!is_final) return nullptr;
  Row row;
  row.name = name;
  const size_t slash = name.find('/');
  row.family = name.substr(0, slash);
  if (slash != std::string::npos) row.size = std::strtoll(name.c_str() + slash + 1, nullptr, 10);
  if (run.error_occurred) {
    row.error = run.error_message.empty() ? "failed" : run.error_message;
  }
  auto counter = [&](const std::string& key) {
    auto it = run.counters.find(key);
    return it == run.counters.end() ? NAN : double(it->second.value);
  };
  for (const auto& [key, value] : run.counters) {
    if (!EndsWith(key, "_us")) continue;
    Figure f;
    f.contender = key.substr(0, key.size() - 3);
    f.us = value.value;
    f.gbps = counter(f.contender + "_GBps");
    f.ratio = counter("ratio_" + f.contender);
    row.figures.push_back(f);
  }
  // The subject (no ratio of its own) first, then the baselines in table order.
  std::sort(row.figures.begin(), row.figures.end(), [](const Figure& a, const Figure& b) {
    const bool a_subject = std::isnan(a.ratio), b_subject = std::isnan(b.ratio);
    if (a_subject != b_subject) return a_subject;
    return TableOrder(a.contender) < TableOrder(b.contender);
  });
  rows_.push_back(row);
  return &rows_.back();
}

bool Results::any_error() const {
  return std::any_of(rows_.begin(), rows_.end(), [](const Row& r) { return !r.error.empty(); });
}

bool ShowsBandwidth(const Row& row, const Figure& figure) {
  return !std::isnan(figure.gbps) && row.size >= (int64_t(64) << 10);
}

// Unknown names go last.
size_t TableOrder(const std::string& contender) {
  size_t i = 0;
  for (const auto& known : bench::kContenderLabels) {
    if (known.name == contender) return i;
    ++i;
  }
  return i;
}

std::string Label(const std::string& contender) {
  for (const auto& known : bench::kContenderLabels) {
    if (known.name == contender) return std::string(known.label);
  }
  return contender;
}

std::string Brief(const std::string& contender) {
  for (const auto& known : bench::kContenderLabels) {
    if (known.name == contender) return std::string(known.brief);
  }
  return contender;
}

}  // namespace devtensor::tools
