#include "side_by_side.h"

#include <algorithm>
#include <chrono>
#include <exception>

namespace devtensor::bench {
namespace {

double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

double Seconds(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  benchmark::ClobberMemory();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void RunSideBySide(benchmark::State& state, size_t bytes, const std::vector<Contender>& contenders,
                   const std::function<void()>& after_warmup) {
  try {
    for (const Contender& c : contenders) {
      if (!c.own_loop) c.run();
    }
    if (after_warmup) after_warmup();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const size_t n = contenders.size();
  std::vector<size_t> shared;  // contenders of the shared loop, the subject first
  for (size_t i = 0; i < n; ++i) {
    if (i == 0 || !contenders[i].own_loop) shared.push_back(i);
  }
  std::vector<std::vector<double>> seconds(n);
  size_t first = 0;  // which of the shared loop's contenders goes first this iteration
  for (auto _ : state) {
    try {
      for (size_t k = 0; k < shared.size(); ++k) {
        const size_t i = shared[(first + k) % shared.size()];
        seconds[i].push_back(Seconds(contenders[i].run));
      }
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
    first = (first + 1) % shared.size();
    state.SetIterationTime(seconds[0].back());
  }
  try {
    for (size_t i = 1; i < n && !state.error_occurred(); ++i) {
      if (!contenders[i].own_loop) continue;
      contenders[i].run();
      for (size_t k = 0; k < seconds[0].size(); ++k) seconds[i].push_back(Seconds(contenders[i].run));
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  if (seconds[0].empty()) return;
  const double subject = Median(seconds[0]);
  for (size_t i = 0; i < n; ++i) {
    const std::string& name = contenders[i].name;
    const double median = i == 0 ? subject : Median(seconds[i]);
    state.counters[name + "_us"] = median * 1e6;
    if (bytes > 0) state.counters[name + "_GBps"] = double(bytes) / median / 1e9;
    if (i > 0) state.counters["ratio_" + name] = median / subject;
    if (i == 1) state.counters["ratio"] = median / subject;
  }
  if (bytes > 0) state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

void Guarded(benchmark::State& state, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

}  // namespace devtensor::bench
