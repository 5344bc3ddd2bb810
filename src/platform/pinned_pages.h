// Pages of host memory that a provider pins for the GPU to read and write in place (a WebGPU host
// import, a CUDA registration): how they are chosen around a copy, and how many bytes a process
// pins at most.
#ifndef DEVTENSOR_PLATFORM_PINNED_PAGES_H_
#define DEVTENSOR_PLATFORM_PINNED_PAGES_H_

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace devtensor {

inline uintptr_t PageSize() {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// Pinned pages are taken from the machine's memory: at most a quarter of it, and 16 GiB.
inline size_t PinnedBudget() {
  static const size_t budget = [] {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const size_t quarter = pages > 0 ? size_t(pages) * PageSize() / 4 : size_t(1) << 30;
    return std::min(quarter, size_t(16) << 30);
  }();
  return budget;
}

// Pins cover whole pages; a copy's bytes [first, last) are widened to this granule, within the
// pages of the storage, so that later slices of the same storage find the pages pinned already.
inline constexpr uintptr_t kPinGranule = uintptr_t(64) << 20;

struct PageRange {
  uintptr_t begin = 0, end = 0;
};

// The pages to pin for bytes [first, last) of the host storage [storage, storage + bytes).
inline PageRange PagesToPin(const void* storage, size_t storage_bytes, uintptr_t first,
                            uintptr_t last) {
  const uintptr_t page = PageSize();
  const uintptr_t low = reinterpret_cast<uintptr_t>(storage) & ~(page - 1);
  const uintptr_t high =
      (reinterpret_cast<uintptr_t>(storage) + storage_bytes + page - 1) & ~(page - 1);
  return {std::max(low, first & ~(kPinGranule - 1)),
          std::min(high, (last + kPinGranule - 1) & ~(kPinGranule - 1))};
}

}  // namespace devtensor

#endif  // DEVTENSOR_PLATFORM_PINNED_PAGES_H_
