// Host memory registered with CUDA (cuMemHostRegister), so that copies reach it by DMA directly
// instead of through the staging ring. Registering pins the pages, which costs several staged
// copies of them, so pages are registered on their second large copy (a buffer a loop copies
// every step) and kept until the host says the storage is going (ForgetHostMemory), or, when a
// recorded graph moves them, until that graph goes too. The process pins PinnedBudget() bytes at
// most this way; past it, copies are staged.
#ifndef DEVTENSOR_PROVIDERS_CUDA_HOST_REGISTRY_H_
#define DEVTENSOR_PROVIDERS_CUDA_HOST_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "providers/cuda/device.h"

namespace devtensor::cuda {

// Pages of one host storage that were copied, and registered from their second copy on. When
// registered, the pages are unregistered when the last owner (the registry, graphs) lets go.
struct HostPages {
  uintptr_t begin = 0, end = 0;
  Device* device = nullptr;  // whose context registered them; null: not registered
  bool refused = false;      // CUDA would not register them: staged from then on
  ~HostPages();
};

class HostRegistry {
 public:
  // Copies smaller than this are staged: below it, registering does not pay.
  static constexpr size_t kMinBytes = size_t(1) << 20;

  static HostRegistry& Get();  // the process's

  // The registered pages holding [data, data + bytes) of host storage `storage` (`storage_bytes`
  // long), registering them now when they were copied before; null when they are not (yet)
  // registered. `device`'s context is current.
  std::shared_ptr<HostPages> Use(Device& device, const void* storage, size_t storage_bytes,
                                 const void* data, size_t bytes);

  // The storage at `storage` is about to be freed: its pages are unregistered (once the graphs
  // that move them are gone too). Any thread.
  void Forget(const void* storage);

 private:
  std::mutex mutex_;
  std::unordered_map<const void*, std::vector<std::shared_ptr<HostPages>>> storages_;
  size_t registered_bytes_ = 0;
  friend struct HostPages;
};

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_HOST_REGISTRY_H_
