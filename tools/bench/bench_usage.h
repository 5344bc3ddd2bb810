// What `devtensor bench --help` prints: shared by devtensor-bench and the devtensor CLI, which
// prints it also where devtensor-bench is not built.
#ifndef DEVTENSOR_TOOLS_BENCH_BENCH_USAGE_H_
#define DEVTENSOR_TOOLS_BENCH_BENCH_USAGE_H_

namespace devtensor::tools {

inline constexpr const char* kBenchUsage =
    "usage: devtensor bench [--device webgpu|cpu|cuda] [--filter REGEX] [--repetitions N]\n"
    "                       [--max-bytes N[K|M|G]] [--min-time SECONDS] [--decode-steps N]\n"
    "                       [--out DIR] [--benchmark_...]\n"
    "\n"
    "Runs devtensor's benchmark cases beside their baselines (raw Dawn; cudaMemcpy when a CUDA\n"
    "runtime is found: DEVTENSOR_BENCH_CUDART names one) and writes DIR/bench.json, DIR/bench.md\n"
    "and DIR/bandwidth.png. Runs devtensor-bench, which `make bench` builds beside devtensor.\n"
    "  --device        webgpu (default): transfers, small updates, KV append, decode step;\n"
    "                  cpu: copies, KV append, decode step;\n"
    "                  cuda: transfers from pinned and pageable host memory, device copies and\n"
    "                  a 4-byte update beside cudaMemcpy, decode step (without a CUDA device it\n"
    "                  says why and measures nothing)\n"
    "  --filter        which cases (Google Benchmark's regex over names like upload/4096)\n"
    "  --repetitions   repetitions of each case; tables show the median (default 3)\n"
    "  --max-bytes     largest transfer (default DEVTENSOR_BENCH_MAX_BYTES or 1G)\n"
    "  --min-time      seconds of devtensor time per repetition of a case (default 0.1)\n"
    "  --decode-steps  timed decode steps per repetition (default 5)\n"
    "  --out           output folder (default bench-out)\n"
    "  --benchmark_... passed to Google Benchmark as they are\n"
    "  -h, --help      this text\n";

}  // namespace devtensor::tools

#endif  // DEVTENSOR_TOOLS_BENCH_BENCH_USAGE_H_
