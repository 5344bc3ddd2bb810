#include "providers/webgpu/host_import.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "platform/pinned_pages.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {
namespace {

void DisposeNothing(void*) {}  // the pages belong to the host storage, not to the buffer

// Whether [begin, end) lies in private, writable, anonymous memory (the heap, mmap'd blocks).
// Drivers refuse, or worse fail the device on, imports of read-only or file-backed pages, so only
// those are imported; this is read from /proc/self/maps once per new import.
bool PlainWritableMemory(uintptr_t begin, uintptr_t end) {
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return false;
  char line[512];
  uintptr_t covered = begin;
  while (covered < end && std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long low = 0, high = 0;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &low, &high, perms, &path_at) < 3) continue;
    if (high <= covered) continue;
    if (low > covered) break;  // a hole: the maps are sorted
    const char* path = line + path_at;
    const bool anonymous = *path == '\n' || *path == '\0' || std::strncmp(path, "[heap]", 6) == 0 ||
                           std::strncmp(path, "[anon", 5) == 0;
    if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' || !anonymous) break;
    covered = high;
  }
  std::fclose(maps);
  return covered >= end;
}

}  // namespace

bool HostImports::Find(Context& context, const void* storage, size_t storage_bytes,
                       const uint8_t* data, size_t bytes, wgpu::Buffer* buffer, uint64_t* offset) {
  if (!context.can_import_host_memory() || bytes < kMinBytes) return false;
  const wgpu::Api& api = context.api();
  std::lock_guard<std::mutex> lock(mutex_);
  ReleaseForgotten(api);
  const uintptr_t first = reinterpret_cast<uintptr_t>(data);
  const uintptr_t last = first + bytes;
  std::vector<Import>& list = imports_[storage];
  for (Import& import : list) {
    if (import.begin <= first && last <= import.end) {
      if (import.buffer == nullptr) return false;
      import.last_use = ++clock_;
      *buffer = import.buffer;
      *offset = first - import.begin;
      return true;
    }
  }
  // Every page that holds a byte of the storage is mapped, so the import may grow to them.
  const PageRange range = PagesToPin(storage, storage_bytes, first, last);
  Import import;
  import.begin = range.begin;
  import.end = range.end;
  const size_t size = import.end - import.begin;
  if (size > PinnedBudget()) return false;
  if (!PlainWritableMemory(import.begin, import.end)) {
    import.buffer = nullptr;  // remembered: this storage is copied through staging
    list.push_back(import);
    return false;
  }
  Evict(api, size);
  wgpu::BufferHostMappedPointer pages{{nullptr, wgpu::stype::kBufferHostMappedPointer},
                                      reinterpret_cast<void*>(import.begin), &DisposeNothing,
                                      nullptr};
  wgpu::BufferDescriptor descriptor{};
  descriptor.next_in_chain = &pages.chain;
  descriptor.label = wgpu::View("devtensor host import");
  descriptor.usage = wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
  descriptor.size = size;
  import.buffer = api.DeviceCreateBuffer(context.device(), &descriptor);
  // Pages the driver refuses (read-only or file-backed mappings, for example) are remembered as
  // such and copied through staging from then on.
  if (DtStatus* status = context.TakeErrors()) {
    context.host()->ReleaseStatus(status);
    if (import.buffer != nullptr) api.BufferRelease(import.buffer);
    import.buffer = nullptr;
  }
  if (import.buffer != nullptr) pinned_bytes_ += size;
  import.last_use = ++clock_;
  list.push_back(import);
  if (import.buffer == nullptr) return false;
  *buffer = import.buffer;
  *offset = first - import.begin;
  return true;
}

void HostImports::Forget(const void* storage) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = imports_.find(storage);
  if (it == imports_.end()) return;
  for (const Import& import : it->second) {
    if (import.buffer == nullptr) continue;
    forgotten_.push_back(import.buffer);
    pinned_bytes_ -= import.end - import.begin;
  }
  imports_.erase(it);
}

void HostImports::Release(const wgpu::Api& api) {
  std::lock_guard<std::mutex> lock(mutex_);
  ReleaseForgotten(api);
  for (auto& [storage, list] : imports_) {
    for (const Import& import : list) {
      if (import.buffer != nullptr) api.BufferRelease(import.buffer);
    }
  }
  imports_.clear();
  pinned_bytes_ = 0;
}

void HostImports::ReleaseForgotten(const wgpu::Api& api) {
  for (wgpu::Buffer buffer : forgotten_) api.BufferRelease(buffer);
  forgotten_.clear();
}

void HostImports::Evict(const wgpu::Api& api, size_t incoming) {
  while (pinned_bytes_ + incoming > PinnedBudget()) {
    std::vector<Import>* oldest_list = nullptr;
    size_t oldest = 0;
    for (auto& [storage, list] : imports_) {
      for (size_t i = 0; i < list.size(); ++i) {
        if (list[i].buffer == nullptr) continue;
        if (oldest_list == nullptr || list[i].last_use < (*oldest_list)[oldest].last_use) {
          oldest_list = &list;
          oldest = i;
        }
      }
    }
    if (oldest_list == nullptr) return;
    const Import& import = (*oldest_list)[oldest];
    api.BufferRelease(import.buffer);
    pinned_bytes_ -= import.end - import.begin;
    oldest_list->erase(oldest_list->begin() + static_cast<ptrdiff_t>(oldest));
  }
}

}  // namespace devtensor::webgpu
