// The WebGPU data transfer's entry points: CPU->GPU, GPU->CPU and GPU->GPU copies of views at any
// byte offset, contiguous or strided, and clears, now or on a stream. A call's pairs become one
// batch (copy_plan.h), split only where an upload reads host memory an earlier download of the
// call writes; uploads wait for the downloads a stream queued before them.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_TRANSFER_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_TRANSFER_H_

#include <cstddef>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/stream.h"

namespace devtensor::webgpu {

// Copies pairs whose WebGPU sides all live on `context`'s device, which CheckBatch accepted.
// With `stream` null the call returns when the data is in place.
DtStatus* CopyBatch(Context& context, const DtCopyPair* pairs, size_t count, Stream* stream);

// Refuses, with no side effect, what CopyBatch would refuse for these pairs.
DtStatus* CheckBatch(Context& context, const DtCopyPair* pairs, size_t count);

// Sets a view's elements to zero on the device.
DtStatus* ZeroView(Context& context, const DtTensorRef& tensor, Stream* stream);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_TRANSFER_H_
