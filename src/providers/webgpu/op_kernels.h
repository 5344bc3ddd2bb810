// Op kernels on WebGPU: each op is a generated compute shader with one invocation per element it
// produces. Outputs are bound as arrays of atomic words: elements narrower than a word are written
// with masked atomic AND/OR, so views at any element offset and with any strides are written
// exactly, with no race on the words they share with neighbours. Inputs that share a buffer with
// the output are read through the output's binding when they are the very same view (in-place
// updates) or span bytes apart from the output's, and are staged through a scratch copy when they
// overlap it (WebGPU forbids binding one buffer both read-only and read-write in one dispatch).
// Ops are recorded as OpDispatch records (op_dispatch.h), bound when a schedule runs them.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_OP_KERNELS_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_OP_KERNELS_H_

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

// Records the op into `list` (no execution). DT_NOT_SUPPORTED, naming the op, the type and the
// device, when there is no kernel for the call's types. The caller holds the context's mutex.
DtStatus* RecordOp(Context& context, CommandList& list, const DtOpCall& call);

// Reads and clears the device's error flags (bit 0: a KvCacheAppend position was out of range).
DtStatus* ReadErrorFlags(Context& context, uint32_t* flags);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_OP_KERNELS_H_
