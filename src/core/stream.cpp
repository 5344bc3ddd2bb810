// DtStream: creation, synchronisation and release.
#include "core/stream.h"

#include "core/env.h"
#include "common/status.h"

using devtensor::Error;
using devtensor::Guarded;

namespace devtensor {

DtStatus* DrainStreamLocked(DtStream* stream, std::vector<std::shared_ptr<Storage>>* done) {
  DtStatus* status = nullptr;
  if (stream->handle != nullptr && stream->has_pending_work) {
    const DtProviderFactory& api = stream->device->factory->api;
    status = api.SynchronizeStream(api.state, stream->handle);
  }
  stream->has_pending_work = false;
  done->insert(done->end(), std::make_move_iterator(stream->in_flight.begin()),
               std::make_move_iterator(stream->in_flight.end()));
  stream->in_flight.clear();
  return status;
}

DtStatus* PrepareStream(DtStream* stream, const FactoryInstance* factory, void** provider_stream,
                        std::vector<std::shared_ptr<Storage>>* done) {
  *provider_stream = ProviderStreamFor(stream, factory);
  if (*provider_stream != nullptr || stream == nullptr) return nullptr;
  if (stream->capturing) {
    return Error(DT_FAILED_PRECONDITION, "stream is recording work of ",
                 DeviceText(stream->device), " and cannot record work that runs on another device");
  }
  if (stream->has_pending_work) return DrainStreamLocked(stream, done);
  return nullptr;
}

}  // namespace devtensor

extern "C" {

DtStatus* DtCreateStream(DtEnv* env, const DtDevice* device, DtStream** stream) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (device == nullptr) return Error(DT_INVALID_ARGUMENT, "device is NULL");
    if (stream == nullptr) return Error(DT_INVALID_ARGUMENT, "stream is NULL");
    auto created = std::make_unique<DtStream>();
    created->provider = device->factory->owner->shared_from_this();
    created->device = device;
    if (device->factory->has_streams) {
      const DtProviderFactory& api = device->factory->api;
      DT_RETURN_IF_ERROR(api.CreateStream(api.state, device->info.id, &created->handle));
    }
    created->provider->live_objects.fetch_add(1);
    *stream = created.release();
    return nullptr;
  });
}

DtStatus* DtSynchronizeStream(DtStream* stream) {
  if (stream == nullptr) return Error(DT_INVALID_ARGUMENT, "stream is NULL");
  return Guarded([&]() -> DtStatus* {
    std::vector<std::shared_ptr<devtensor::Storage>> done;  // released after the lock
    std::lock_guard<std::mutex> lock(stream->mutex);
    if (stream->capturing) {
      return Error(DT_FAILED_PRECONDITION, "stream is recording; end the capture first");
    }
    return devtensor::DrainStreamLocked(stream, &done);
  });
}

const DtDevice* DtGetStreamDevice(const DtStream* stream) {
  return stream ? stream->device : nullptr;
}

void DtReleaseStream(DtStream* stream) {
  if (stream == nullptr) return;
  // Work still queued must finish before the stream and the storages it holds go; an error it hit
  // has no one left to report to.
  DtReleaseStatus(DtSynchronizeStream(stream));
  if (stream->handle != nullptr) {
    const DtProviderFactory& api = stream->device->factory->api;
    api.ReleaseStream(api.state, stream->handle);
  }
  stream->provider->live_objects.fetch_sub(1);
  delete stream;
}

}  // extern "C"
