#include "kept_state.h"

namespace devtensor::bench {

// Never destroyed: a kept state may hold device buffers, which ReleaseKeptState frees while the
// runtime is alive, not a destructor at exit.
detail::KeptSlot& detail::TheKeptSlot() {
  static KeptSlot* slot = new KeptSlot();
  return *slot;
}

void ReleaseKeptState() {
  detail::TheKeptSlot().value.reset();
  detail::TheKeptSlot().key.clear();
}

std::vector<uint8_t> Pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + seed);
  return bytes;
}

}  // namespace devtensor::bench
