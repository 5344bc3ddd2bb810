// Times a case's contenders side by side in one loop: devtensor and each baseline doing the same
// work, alternately, each iteration waiting for its work to complete. The first contender is the
// subject (usually devtensor); the others are its baselines.
//
// Before timing each contender runs once untimed (warm-up: pipelines, staging buffers, caches).
// The order rotates every iteration, so every contender sees every position of the loop.
// Contenders marked own_loop are timed after that loop instead (see Contender). Reported
// figures are medians of the per-iteration times, as counters:
//   <name>_us     median time of one iteration
//   <name>_GBps   bytes / median time (cases that move bytes)
//   ratio_<name>  baseline time / subject time, for each baseline (above 1: the subject is faster)
//   ratio         ratio_<first baseline>, the figure older tables read
// Google Benchmark's own (manual) time is the subject's.
#ifndef DEVTENSOR_BENCH_CASES_SIDE_BY_SIDE_H_
#define DEVTENSOR_BENCH_CASES_SIDE_BY_SIDE_H_

#include <benchmark/benchmark.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace devtensor::bench {

struct Contender {
  std::string name;            // counter prefix: devtensor, raw_dawn, cuda, ...
  std::function<void()> run;   // does the work once and returns when it is complete
  // Timed in a loop of its own after the shared one, as many times, after a warm-up of its own:
  // for a baseline on another API to the same GPU (CUDA beside Vulkan), where switching the GPU
  // between the two APIs would otherwise be timed in both.
  bool own_loop = false;
};

// Runs the timed loop. `bytes` is what one iteration moves (0: no bandwidth counters).
// `after_warmup` runs once between the warm-up and the timed loop. An exception from a contender
// ends the case with its message as the error.
void RunSideBySide(benchmark::State& state, size_t bytes, const std::vector<Contender>& contenders,
                   const std::function<void()>& after_warmup = {});

// Runs a case's body, turning an exception into the case's error.
void Guarded(benchmark::State& state, const std::function<void()>& body);

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_SIDE_BY_SIDE_H_
