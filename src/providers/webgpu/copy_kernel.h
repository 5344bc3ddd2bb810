// The copy kernel: one compute shader that copies (or clears) any strided view at any byte offset
// into any other, exactly, at a cost in proportion to the view's bytes. Invocations go over the
// words of the destination's contiguous rows and rewrite only the bytes of each word that belong
// to the view (atomically where a word is shared), so unaligned heads and tails and the gaps of
// strided views are never touched.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_COPY_KERNEL_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_COPY_KERNEL_H_

#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/webgpu_api.h"

namespace devtensor::webgpu {

class Context;
class CommandList;

// One side of a kernel copy: a buffer and a byte layout in it (strides in bytes, merged).
struct KernelSide {
  wgpu::Buffer buffer = nullptr;
  uint64_t buffer_bytes = 0;
  uint64_t offset = 0;  // byte offset of element [0, ..., 0]
  int64_t strides[DT_MAX_RANK] = {};
};

// A copy (or a clear, when `zero`) of `shape` elements of `element_size` bytes.
struct KernelJob {
  bool zero = false;
  bool empty = false;  // no elements: recording it records nothing
  uint32_t rank = 0;
  uint32_t element_size = 1;
  int64_t shape[DT_MAX_RANK] = {};
  KernelSide dst;
  KernelSide src;  // unused when zero
};

// Builds the job for copying `src` into `dst` (both in buffers of this device) or clearing `dst`:
// merges dimensions and converts strides to bytes.
KernelJob MakeKernelJob(const DtTensorRef& dst, wgpu::Buffer dst_buffer, const DtTensorRef* src,
                        wgpu::Buffer src_buffer);

// Fails when a job's views cannot be bound by a shader (a buffer whose size is not a multiple of
// 4, with the view touching its last bytes). Checked before anything is recorded.
DtStatus* CheckKernelJob(Context& context, const KernelJob& job);

// Records kernel jobs into `list` as dispatches, splitting jobs whose bindings exceed the
// device's limits. Their parameters go to a buffer the list owns, written now (they never
// change, so a replayed list reuses them). Jobs must have passed CheckKernelJob.
DtStatus* RecordKernelJobs(Context& context, CommandList& list, const std::vector<KernelJob>& jobs);

// Compiles the kernel; `same_buffer` selects the variant whose source is its destination buffer.
wgpu::ComputePipeline CreateCopyPipeline(Context& context, bool same_buffer);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_COPY_KERNEL_H_
