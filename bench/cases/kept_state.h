// What a case keeps between the calls Google Benchmark makes of it (one to size the iteration
// count, more for it and for each repetition), so that a large case allocates, fills and checks its
// buffers once. One case's state is kept at a time: asking with another key frees the previous
// state first, so cases never hold memory together.
#ifndef DEVTENSOR_BENCH_CASES_KEPT_STATE_H_
#define DEVTENSOR_BENCH_CASES_KEPT_STATE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace devtensor::bench {

namespace detail {
struct KeptSlot {
  std::string key;
  std::shared_ptr<void> value;
};
KeptSlot& TheKeptSlot();
}  // namespace detail

// The state kept under `key`, made by `make` when the key changes.
template <typename T>
T& Kept(const std::string& key, const std::function<std::unique_ptr<T>()>& make) {
  detail::KeptSlot& slot = detail::TheKeptSlot();
  if (slot.key != key || slot.value == nullptr) {
    slot.value.reset();
    slot.key.clear();
    slot.value = std::shared_ptr<T>(make());
    slot.key = key;
  }
  return *static_cast<T*>(slot.value.get());
}

// Frees the kept state (after a run, before the process goes on to other work).
void ReleaseKeptState();

// Deterministic bytes for a case's data: each seed gives a different pattern.
std::vector<uint8_t> Pattern(size_t size, uint8_t seed);

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_KEPT_STATE_H_
