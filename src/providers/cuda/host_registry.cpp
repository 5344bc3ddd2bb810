#include "providers/cuda/host_registry.h"

#include "platform/pinned_pages.h"

namespace devtensor::cuda {

HostPages::~HostPages() {
  if (device == nullptr) return;
  ScopedContext current(*device);
  device->api().cuMemHostUnregister(reinterpret_cast<void*>(begin));
  HostRegistry& registry = HostRegistry::Get();
  std::lock_guard<std::mutex> lock(registry.mutex_);
  registry.registered_bytes_ -= end - begin;
}

HostRegistry& HostRegistry::Get() {
  // Never destroyed: at exit the process's pages go with it, and the driver may be gone first.
  static HostRegistry* registry = new HostRegistry;
  return *registry;
}

std::shared_ptr<HostPages> HostRegistry::Use(Device& device, const void* storage,
                                             size_t storage_bytes, const void* data,
                                             size_t bytes) {
  if (bytes < kMinBytes) return nullptr;
  const uintptr_t first = reinterpret_cast<uintptr_t>(data), last = first + bytes;
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<HostPages>>& list = storages_[storage];
  for (const std::shared_ptr<HostPages>& pages : list) {
    if (pages->begin > first || last > pages->end) continue;
    if (pages->device != nullptr) return pages;
    if (pages->refused) return nullptr;
    // The second copy: registered now, if the budget allows.
    const size_t size = pages->end - pages->begin;
    if (registered_bytes_ + size > PinnedBudget()) return nullptr;
    if (device.api().cuMemHostRegister(reinterpret_cast<void*>(pages->begin), size,
                                       kMemHostRegisterPortable) != kCudaSuccess) {
      pages->refused = true;  // read-only or file-backed pages, or pages registered elsewhere
      return nullptr;
    }
    pages->device = &device;
    registered_bytes_ += size;
    return pages;
  }
  // The first copy: remembered, staged.
  const PageRange range = PagesToPin(storage, storage_bytes, first, last);
  auto pages = std::make_shared<HostPages>();
  pages->begin = range.begin;
  pages->end = range.end;
  list.push_back(std::move(pages));
  return nullptr;
}

void HostRegistry::Forget(const void* storage) {
  std::vector<std::shared_ptr<HostPages>> going;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = storages_.find(storage);
    if (it == storages_.end()) return;
    going = std::move(it->second);
    storages_.erase(it);
  }
  // Unregistered here, outside the lock, unless a graph still holds them.
}

}  // namespace devtensor::cuda
