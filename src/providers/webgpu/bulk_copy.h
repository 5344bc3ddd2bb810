// Large device-to-device copies as a compute shader that moves 16 bytes per load and store.
// copyBufferToBuffer on the pinned runtime reaches about a fifth of the GPU's memory bandwidth
// (Dawn on Vulkan, measured on an H200: ~330 GB/s against ~1.1-1.8 TB/s for this shader), so
// copies large enough for bandwidth to matter, between distinct buffers, at 16-byte-aligned
// offsets and sizes, go through here.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_BULK_COPY_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_BULK_COPY_H_

#include <cstdint>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/webgpu_api.h"

namespace devtensor::webgpu {

class Context;
class CommandList;

// Whether a copy of `size` bytes from `src` at `src_offset` to `dst` at `dst_offset` goes through
// the shader: large, aligned, distinct buffers with the Storage usage, within binding limits.
bool UseBulkCopy(Context& context, wgpu::Buffer src, uint64_t src_offset, wgpu::Buffer dst,
                 uint64_t dst_offset, uint64_t size);

// Records the copy (one that UseBulkCopy accepted) into `list`.
DtStatus* RecordBulkCopy(Context& context, CommandList& list, wgpu::Buffer src, uint64_t src_offset,
                         wgpu::Buffer dst, uint64_t dst_offset, uint64_t size);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_BULK_COPY_H_
