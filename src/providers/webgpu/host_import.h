// Host memory the GPU reads and writes in place. The pages of a host tensor are imported into
// Dawn as a buffer (the runtime's host-mapped-pointer feature; VK_EXT_external_memory_host under
// Vulkan), so a large upload or download is one GPU copy across the bus: no host copy, no
// staging buffer. Importing pins the pages, which costs about as much as copying them once, so
// imports are kept per host storage and reused, until the host says the storage is going
// (ForgetHostMemory) or the budget of pinned bytes pushes the least recently used out.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_HOST_IMPORT_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_HOST_IMPORT_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "providers/webgpu/webgpu_api.h"

namespace devtensor::webgpu {

class Context;

class HostImports {
 public:
  // Copies smaller than this go through the queue's own write or a read-back buffer: below it,
  // the fixed cost of an import outweighs the host copy it saves.
  static constexpr size_t kMinBytes = size_t(1) << 20;

  // Where [data, data + bytes) of host storage `storage` (`storage_bytes` long, `data` inside it)
  // lies in an imported buffer: `buffer` at `offset`. False when the context cannot import or
  // these pages would not import; the caller then copies through staging. The caller holds the
  // context's mutex and finishes every GPU use of the buffer before releasing it.
  bool Find(Context& context, const void* storage, size_t storage_bytes, const uint8_t* data,
            size_t bytes, wgpu::Buffer* buffer, uint64_t* offset);

  // The storage at `storage` is about to be freed: its imports may not be used again. Any thread,
  // without the context's mutex: the buffers are released at the next Find or at Release.
  void Forget(const void* storage);

  // Releases every import (the context is going).
  void Release(const wgpu::Api& api);

 private:
  struct Import {
    uintptr_t begin = 0, end = 0;   // the imported pages
    wgpu::Buffer buffer = nullptr;  // null: these pages do not import
    uint64_t last_use = 0;
  };
  void ReleaseForgotten(const wgpu::Api& api);  // with mutex_ held
  void Evict(const wgpu::Api& api, size_t incoming);  // with mutex_ held

  std::mutex mutex_;
  std::unordered_map<const void*, std::vector<Import>> imports_;
  std::vector<wgpu::Buffer> forgotten_;
  size_t pinned_bytes_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_HOST_IMPORT_H_
