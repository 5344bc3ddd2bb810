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

}  // namespace devtensor

#endif  // DEVTENSOR_CORE_STREAM_H_
