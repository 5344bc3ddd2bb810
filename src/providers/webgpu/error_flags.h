// The device's error flags as work raises them: some ops (KvCacheAppend, ScatterND) skip an
// out-of-range write and OR a bit into the device's flag words instead of failing. A stream notes
// when its work holds such ops, so that its synchronisation reads the flags and fails naming the
// op; what a synchronisation read is kept until DtGetDeviceErrorFlags reports it.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_ERROR_FLAGS_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_ERROR_FLAGS_H_

#include <cstdint>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

struct Stream;

// Notes that `op`, issued on `stream` (recording or not; null: none), may raise the device's error
// flags when it is one that does (KvCacheAppend, ScatterND).
void NoteFlagRaisingOp(Stream* stream, DtOpId op);

// The device's error flags raised by all its work so far, streams' queued work included, which
// is submitted first; reading clears them. The caller holds the context's mutex.
DtStatus* TakeDeviceErrorFlags(Context& context, uint32_t* flags);

// After a stream's work that may raise flags: a status naming the ops when a flag was raised. The
// flags read are kept for DtGetDeviceErrorFlags. The caller holds the context's mutex.
DtStatus* CheckRaisedFlags(Context& context);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_ERROR_FLAGS_H_
