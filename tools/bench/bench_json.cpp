#include "bench_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace devtensor::tools {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Number(double v) {
  if (!std::isfinite(v)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

double StepMs(const Row& row, const char* mode) {
  const Figure* f = row.find(mode);
  return f ? f->us / 1e3 : NAN;
}

std::string RowJson(const Row& row) {
  std::string s = "{\"name\": " + Quote(row.name) + ", \"case\": " + Quote(row.family) +
                  ", \"size\": " + std::to_string(row.size);
  if (!row.error.empty()) return s + ", \"error\": " + Quote(row.error) + "}";
  s += ", \"figures\": [";
  for (size_t i = 0; i < row.figures.size(); ++i) {
    const Figure& f = row.figures[i];
    s += std::string(i ? ", " : "") + "{\"contender\": " + Quote(f.contender) + ", \"us\": " + Number(f.us);
    if (!std::isnan(f.gbps)) s += ", \"GBps\": " + Number(f.gbps);
    if (!std::isnan(f.ratio)) s += ", \"ratio\": " + Number(f.ratio);
    s += "}";
  }
  return s + "]}";
}

std::string DecodeJson(const Results& results) {
  std::vector<const Row*> rows;
  for (const Row& r : results.rows()) {
    if (r.family == "decode" && r.error.empty()) rows.push_back(&r);
  }
  std::sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) { return a->size < b->size; });
  const char* modes[] = {"host", "device", "captured"};
  std::string s = "{\"ms_per_step\": {";
  for (size_t i = 0; i < rows.size(); ++i) {
    s += std::string(i ? ", " : "") + "\"" + std::to_string(rows[i]->size) + "\": {";
    for (size_t m = 0; m < 3; ++m) s += std::string(m ? ", " : "") + Quote(modes[m]) + ": " + Number(StepMs(*rows[i], modes[m]));
    s += ", \"host_over_device\": " + Number(StepMs(*rows[i], "host") / StepMs(*rows[i], "device"));
    s += ", \"device_over_captured\": " + Number(StepMs(*rows[i], "device") / StepMs(*rows[i], "captured")) + "}";
  }
  s += "}";
  if (rows.size() >= 2) {
    const Row& first = *rows.front();
    const Row& last = *rows.back();
    s += ", \"flatness\": {\"from_t\": " + std::to_string(first.size) + ", \"to_t\": " + std::to_string(last.size);
    for (const char* mode : modes) s += ", " + Quote(mode) + ": " + Number(StepMs(last, mode) / StepMs(first, mode));
    s += "}";
  }
  return s + "}";
}

}  // namespace

std::string BenchJson(const std::string& google_benchmark_json, const RunSettings& settings,
                      const Results& results) {
  std::string summary = "  \"devtensor_bench\": {\n";
  summary += "    \"device\": " + Quote(settings.device) + ",\n";
  summary += "    \"cuda\": " + Quote(settings.cuda) + ",\n";
  summary += "    \"bandwidth\": " + Quote(settings.bandwidth) + ",\n";
  summary += "    \"ratio\": \"baseline time / subject time (above 1: the subject is faster)\",\n";
  summary += "    \"filter\": " + Quote(settings.filter) + ",\n";
  summary += "    \"repetitions\": " + std::to_string(settings.repetitions) + ",\n";
  summary += "    \"min_time_s\": " + Number(settings.min_time) + ",\n";
  summary += "    \"max_bytes\": " + std::to_string(settings.max_bytes) + ",\n";
  summary += "    \"rows\": [";
  const auto& rows = results.rows();
  for (size_t i = 0; i < rows.size(); ++i) summary += std::string(i ? ",\n      " : "\n      ") + RowJson(rows[i]);
  summary += "\n    ],\n    \"decode\": " + DecodeJson(results) + "\n  }\n";
  // Google Benchmark's JSON is one object: add ours as its last member.
  std::string json = google_benchmark_json;
  const size_t end = json.rfind('}');
  if (end == std::string::npos) return "{\n" + summary + "}\n";
  size_t last = end;
  while (last > 0 && (json[last - 1] == ' ' || json[last - 1] == '\n')) --last;
  const bool empty = last > 0 && json[last - 1] == '{';
  return json.substr(0, last) + (empty ? "\n" : ",\n") + summary + "}\n";
}

}  // namespace devtensor::tools
