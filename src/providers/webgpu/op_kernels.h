// Op kernels on WebGPU: each op is a generated compute shader with one invocation per element it
// produces (kernels/: one file per op or family, kernels/op_builder.h for how tensors are bound).
// Ops are recorded as OpDispatch records (op_dispatch.h), bound when a schedule runs them.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_OP_KERNELS_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_OP_KERNELS_H_

#include <cstddef>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

// The ops the kernels run and the element types each takes as its op's principal type (inputs[0]
// for Cast, Add, Sub, Mul, Div, ScatterND, ArgMax, Expand and KvCacheAppend; inputs[1] for
// Where; the output for Fill, UpdateAttentionMask and UpdatePositionIds): the factory's op_support.
extern const DtOpSupport kWebGpuOpSupport[];
// Entries of kWebGpuOpSupport.
extern const size_t kWebGpuOpSupportCount;

// Records the op into `list` (no execution). DT_NOT_SUPPORTED, naming the op, the type and the
// device, when there is no kernel for the call (or the host passes no typed call: provider ABI
// 1.1). The caller holds the context's mutex.
DtStatus* RecordOp(Context& context, CommandList& list, const DtOpCall& call);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_OP_KERNELS_H_
