// Graph capture: a stream records its work into a graph, which replays it with one submit. The
// graph holds the storages the recorded work uses, so they live as long as it does.
#include "common/status.h"
#include "core/stream.h"

using devtensor::Error;
using devtensor::Guarded;

struct DtGraph {
  std::shared_ptr<devtensor::ProviderInstance> provider;
  const DtDevice* device = nullptr;
  void* handle = nullptr;
  std::vector<std::shared_ptr<devtensor::Storage>> storages;
};

namespace {
bool CanCapture(const DtProviderFactory& api) {
  return api.BeginCapture && api.EndCapture && api.ReplayGraph && api.ReleaseGraph;
}
}  // namespace

extern "C" {

DtStatus* DtBeginCapture(DtStream* stream) {
  if (stream == nullptr) return Error(DT_INVALID_ARGUMENT, "stream is NULL");
  return Guarded([&]() -> DtStatus* {
    const DtProviderFactory& api = stream->device->factory->api;
    if (!CanCapture(api) || stream->handle == nullptr) {
      return Error(DT_NOT_SUPPORTED, "streams of ", devtensor::DeviceText(stream->device),
                   " cannot record work into graphs");
    }
    std::vector<std::shared_ptr<devtensor::Storage>> done;
    std::lock_guard<std::mutex> lock(stream->mutex);
    if (stream->capturing) return Error(DT_FAILED_PRECONDITION, "stream is already recording");
    // Earlier work finishes first, so that what the graph holds is only its own.
    DT_RETURN_IF_ERROR(devtensor::DrainStreamLocked(stream, &done));
    DT_RETURN_IF_ERROR(api.BeginCapture(api.state, stream->handle));
    stream->capturing = true;
    return nullptr;
  });
}

DtStatus* DtEndCapture(DtStream* stream, DtGraph** graph) {
  if (stream == nullptr) return Error(DT_INVALID_ARGUMENT, "stream is NULL");
  if (graph == nullptr) return Error(DT_INVALID_ARGUMENT, "graph is NULL");
  return Guarded([&]() -> DtStatus* {
    std::vector<std::shared_ptr<devtensor::Storage>> recorded;  // released after the lock
    std::lock_guard<std::mutex> lock(stream->mutex);
    if (!stream->capturing) return Error(DT_FAILED_PRECONDITION, "stream is not recording");
    const DtProviderFactory& api = stream->device->factory->api;
    auto created = std::make_unique<DtGraph>();
    stream->capturing = false;
    if (DtStatus* status = api.EndCapture(api.state, stream->handle, &created->handle)) {
      // No graph: what the recording held was never run and is let go.
      recorded.swap(stream->in_flight);
      stream->has_pending_work = false;
      return status;
    }
    created->provider = stream->provider;
    created->device = stream->device;
    created->storages.swap(stream->in_flight);  // recorded, never run: nothing is pending
    stream->has_pending_work = false;
    *graph = created.release();
    return nullptr;
  });
}

DtStatus* DtReplayGraph(DtGraph* graph, DtStream* stream) {
  if (graph == nullptr) return Error(DT_INVALID_ARGUMENT, "graph is NULL");
  if (stream == nullptr) return Error(DT_INVALID_ARGUMENT, "stream is NULL");
  return Guarded([&]() -> DtStatus* {
    if (stream->device->factory != graph->device->factory || stream->handle == nullptr) {
      return Error(DT_INVALID_ARGUMENT, "stream is on ", devtensor::DeviceText(stream->device),
                   " but the graph was recorded on ", devtensor::DeviceText(graph->device));
    }
    std::lock_guard<std::mutex> lock(stream->mutex);
    if (stream->capturing) return Error(DT_FAILED_PRECONDITION, "stream is recording");
    const DtProviderFactory& api = graph->device->factory->api;
    DT_RETURN_IF_ERROR(api.ReplayGraph(api.state, graph->handle, stream->handle));
    // The replay may still run after the graph is released: the stream holds what it uses.
    for (const auto& storage : graph->storages) devtensor::HoldUntilDrained(stream, storage);
    stream->has_pending_work = true;
    return nullptr;
  });
}

void DtReleaseGraph(DtGraph* graph) {
  if (graph == nullptr) return;
  const DtProviderFactory& api = graph->device->factory->api;
  api.ReleaseGraph(api.state, graph->handle);
  delete graph;
}

}  // extern "C"
