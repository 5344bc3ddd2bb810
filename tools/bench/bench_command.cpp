// devtensor-bench, which `devtensor bench` runs: the benchmark suite of bench/cases through Google
// Benchmark's runner. Shows progress on stderr, prints the tables at the end and writes bench.json,
// bench.md and bandwidth.png (with its data and gnuplot script) to the output folder.
#include "bench_command.h"

#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bandwidth_plot.h"
#include "bench_json.h"
#include "bench_reporter.h"
#include "bench_results.h"
#include "bench_tables.h"
#include "bench_usage.h"
#include "cases/cases.h"

namespace devtensor::tools {
namespace {

struct Options {
  std::string device = "webgpu";
  std::string filter = ".";
  int repetitions = 3;
  size_t max_bytes = bench::DefaultMaxBytes();
  double min_time = 0.1;
  int decode_steps = 5;
  std::string out = "bench-out";
  std::vector<std::string> passed_on;  // --benchmark_* flags
};

bool ParseBytes(const std::string& text, size_t& bytes) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str()) return false;
  const std::string unit = end;
  const size_t scale = unit.empty() ? 1 : unit == "K" || unit == "KiB" ? 1 << 10 : unit == "M" || unit == "MiB" ? 1 << 20
                       : unit == "G" || unit == "GiB" ? size_t(1) << 30 : 0;
  bytes = size_t(value) * scale;
  return scale != 0 && bytes > 0;
}

bool IsOption(const std::string& key) {
  for (const char* known : {"--device", "--filter", "--repetitions", "--max-bytes", "--min-time",
                            "--decode-steps", "--out"}) {
    if (key == known) return true;
  }
  return false;
}

// Returns false (after saying why) on bad arguments.
bool Parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i], value;
    if (key.rfind("--benchmark_", 0) == 0) {
      o.passed_on.push_back(key);
      continue;
    }
    if (key == "--help" || key == "-h") {
      std::fputs(kBenchUsage, stdout);
      std::exit(0);
    }
    if (const size_t eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (!IsOption(key)) {
      std::fprintf(stderr, "devtensor bench: unknown option %s\n%s", key.c_str(), kBenchUsage);
      return false;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "devtensor bench: %s needs a value\n", key.c_str());
      return false;
    }
    bool ok = true;
    if (key == "--device") {
      o.device = value;
      ok = value == "webgpu" || value == "cpu" || value == "cuda";
    } else if (key == "--filter") {
      o.filter = value;
    } else if (key == "--repetitions") {
      o.repetitions = std::atoi(value.c_str());
      ok = o.repetitions >= 1;
    } else if (key == "--max-bytes") {
      ok = ParseBytes(value, o.max_bytes);
    } else if (key == "--min-time") {
      o.min_time = std::atof(value.c_str());
      ok = o.min_time > 0;
    } else if (key == "--decode-steps") {
      o.decode_steps = std::atoi(value.c_str());
      ok = o.decode_steps >= 1;
    } else if (key == "--out") {
      o.out = value;
      ok = !value.empty();
    } else {
      std::fprintf(stderr, "devtensor bench: unknown option %s\n%s", key.c_str(), kBenchUsage);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "devtensor bench: bad value for %s: %s\n", key.c_str(), value.c_str());
      return false;
    }
  }
  return true;
}

// Google Benchmark reads its settings from a command line: this one says what the options say.
std::vector<std::string> BenchmarkFlags(const Options& o, bool list_only) {
  std::vector<std::string> flags = {
      "devtensor bench",
      "--benchmark_filter=" + o.filter,
      "--benchmark_repetitions=" + std::to_string(o.repetitions),
      "--benchmark_min_time=" + std::to_string(o.min_time),
      std::string("--benchmark_list_tests=") + (list_only ? "true" : "false"),
  };
  flags.insert(flags.end(), o.passed_on.begin(), o.passed_on.end());
  return flags;
}

void InitializeBenchmark(const std::vector<std::string>& flags) {
  std::vector<char*> argv;
  for (const std::string& flag : flags) argv.push_back(const_cast<char*>(flag.c_str()));
  argv.push_back(nullptr);
  int argc = int(flags.size());
  benchmark::Initialize(&argc, argv.data());
}

// How many registered cases the filter picks.
size_t CountCases(const Options& o) {
  InitializeBenchmark(BenchmarkFlags(o, true));
  std::ostringstream names;
  benchmark::JSONReporter quiet;
  quiet.SetOutputStream(&names);
  quiet.SetErrorStream(&names);
  return benchmark::RunSpecifiedBenchmarks(&quiet);
}

DtDeviceType DeviceType(const Options& o) {
  return o.device == "cpu" ? DT_DEVICE_CPU : o.device == "cuda" ? DT_DEVICE_CUDA : DT_DEVICE_WEBGPU;
}

std::string DeviceDescription(const Options& o) {
  try {
    return bench::DeviceDescription(DeviceType(o));
  } catch (const std::exception& e) {
    return o.device + " (unavailable: " + e.what() + ")";
  }
}

bool MakeFolder(const std::string& path) {
  std::string partial;
  std::stringstream parts(path);
  for (std::string part; std::getline(parts, part, '/');) {
    partial += part + "/";
    if (part.empty() || part == ".") continue;
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  return bool(file);
}

}  // namespace
}  // namespace devtensor::tools

int RunBenchSuite(int argc, char** argv) {
  using namespace devtensor::tools;
  namespace bench = devtensor::bench;
  Options o;
  if (!Parse(argc, argv, o)) return 2;
  if (!MakeFolder(o.out)) {
    std::fprintf(stderr, "devtensor bench: cannot make the output folder %s: %s\n", o.out.c_str(), std::strerror(errno));
    return 1;
  }

  bench::SuiteOptions suite{o.max_bytes, o.decode_steps};
  std::vector<std::string> left_out;  // why cases of the device are not registered here
  if (o.device == "cpu") bench::RegisterCpuCases(suite);
  else if (o.device == "cuda") left_out = bench::RegisterCudaCases(suite);
  else bench::RegisterWebGpuCases(suite);
  for (const std::string& reason : left_out) std::fprintf(stderr, "devtensor bench: skipped: %s\n", reason.c_str());
  const size_t total = CountCases(o);
  if (total == 0 && !left_out.empty()) {
    // Nothing of this device can run here: no results, and not a failure.
    std::fprintf(stderr, "devtensor bench: no %s case runs on this machine; nothing measured\n", o.device.c_str());
    return 0;
  }
  if (total == 0) {
    std::fprintf(stderr, "devtensor bench: no case matches --filter %s\n", o.filter.c_str());
    return 1;
  }

  RunSettings settings;
  settings.device = DeviceDescription(o);
  settings.cuda = o.device == "cpu" ? "not used on CPU" : bench::CudaBaselineDescription();
  settings.bandwidth = bench::kBandwidthConvention;
  settings.filter = o.filter;
  settings.repetitions = o.repetitions;
  settings.min_time = o.min_time;
  settings.max_bytes = o.max_bytes;
  std::fprintf(stderr, "devtensor bench: %zu cases on %s; %s\n", total, settings.device.c_str(),
               settings.cuda.c_str());

  Results results;
  BenchReporter reporter(total, std::cerr, results);
  InitializeBenchmark(BenchmarkFlags(o, false));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  bench::ReleaseCaseState();
  benchmark::Shutdown();

  const std::string heading = "devtensor bench on " + settings.device;
  std::vector<std::string> notes = {
      settings.cuda,
      settings.bandwidth,
      o.device == "cuda"
          ? "times are medians of per-iteration times, each waiting for its work to complete; devtensor "
            "and its CUDA baselines (cudaMemcpy, then cudaDeviceSynchronize) alternate in one loop on "
            "the same device; with repetitions, the median over them"
          : "times are medians of per-iteration times, each waiting for its work to complete; devtensor and "
            "its WebGPU baselines alternate in one loop; CUDA is timed in a loop of its own right after, in "
            "the same case (alternated with Vulkan work, the GPU's switches between the two APIs would be "
            "timed in both); with repetitions, the median over them",
      "ratios are times: baseline / subject (the first column); above 1: the subject is faster",
  };
  if (o.device == "cuda") {
    notes.push_back("upload, download, update_4_bytes_at_1026: devtensor from pinned host memory "
                    "(cudaMallocHost, wrapped in a CPU tensor), CUDA from pinned memory; *_pageable: "
                    "devtensor from pageable memory, CUDA from pinned and (CUDA pageable) from "
                    "pageable memory");
  }
  for (const std::string& reason : left_out) notes.push_back("skipped: " + reason);
  const std::vector<Table> tables = BuildTables(results);
  std::fputs(("\n" + TextTables(heading, notes, tables)).c_str(), stdout);

  bool written = WriteFile(o.out + "/bench.json", BenchJson(reporter.json(), settings, results));
  written = WriteFile(o.out + "/bench.md", MarkdownTables(heading, notes, tables)) && written;
  std::string title = heading;
  for (char& c : title) {
    if (c == '"') c = '\'';
  }
  const PlotOutcome plot = DrawBandwidth(o.out, title + ": bandwidth", results);
  std::printf("\nwrote %s/bench.json and %s/bench.md\n%s\n", o.out.c_str(), o.out.c_str(), plot.message.c_str());
  if (!written) {
    std::fprintf(stderr, "devtensor bench: could not write the results in %s\n", o.out.c_str());
    return 1;
  }
  return results.any_error() ? 1 : 0;
}
