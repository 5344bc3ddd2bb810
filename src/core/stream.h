// Streams: an ordered queue of work on one device. When the provider has streams the work runs
// asynchronously on the provider's stream; otherwise each call runs synchronously, which keeps it
// ordered. A stream holds every storage its queued work uses until it is synchronised.
#ifndef DEVTENSOR_CORE_STREAM_H_
#define DEVTENSOR_CORE_STREAM_H_

#include <memory>
#include <mutex>
#include <vector>

#include "core/provider_instance.h"
#include "core/tensor.h"

struct DtStream {
  std::shared_ptr<devtensor::ProviderInstance> provider;
  const DtDevice* device = nullptr;
  void* handle = nullptr;  // the provider's stream; null when the provider has none

  std::mutex mutex;
  bool has_pending_work = false;  // asynchronous work may be queued
  bool capturing = false;         // between DtBeginCapture and DtEndCapture
  std::vector<std::shared_ptr<devtensor::Storage>> in_flight;
};

namespace devtensor {

// The provider stream to hand a transfer of `factory`, or null when `stream` is not one of its
// streams (then the work must run synchronously after the stream's queued work).
inline void* ProviderStreamFor(const DtStream* stream, const FactoryInstance* factory) {
  return stream && stream->handle && stream->device->factory == factory ? stream->handle : nullptr;
}

// Waits for the stream's queued work and moves the storages it held into `done`, for the caller to
// drop outside the lock. The caller holds stream->mutex.
DtStatus* DrainStreamLocked(DtStream* stream, std::vector<std::shared_ptr<Storage>>* done);

// Decides how work of `factory` runs on `stream` (null allowed; the caller holds its mutex):
// sets `provider_stream` to the provider's stream when the work can be queued on it, else to null
// after the stream's earlier work has finished (the work then runs synchronously, in order).
// A stream that is recording accepts only work it can record.
DtStatus* PrepareStream(DtStream* stream, const FactoryInstance* factory, void** provider_stream,
                        std::vector<std::shared_ptr<Storage>>* done);

// Notes that work holding `storage` was queued on `stream`, which keeps it alive until drained.
inline void HoldUntilDrained(DtStream* stream, const std::shared_ptr<Storage>& storage) {
  stream->has_pending_work = true;
  stream->in_flight.push_back(storage);
}

}  // namespace devtensor

#endif  // DEVTENSOR_CORE_STREAM_H_
