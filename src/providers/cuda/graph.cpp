#include "providers/cuda/graph.h"

#include "common/return_if_error.h"
#include "providers/cuda/errors.h"
#include "providers/cuda/launch.h"

namespace devtensor::cuda {

Graph::~Graph() {
  ScopedContext current(*device);
  const DriverApi& api = device->api();
  // A replay may still run: what it uses goes after it.
  if (replayed != nullptr) {
    api.cuEventSynchronize(replayed);
    api.cuEventDestroy(replayed);
  }
  if (exec != nullptr) api.cuGraphExecDestroy(exec);
  if (graph != nullptr) api.cuGraphDestroy(graph);
  resources.reset();
}

DtStatus* BeginRecording(Stream& stream) {
  WorkStream work(*stream.device, &stream);
  DT_RETURN_IF_ERROR(FlushHeldCalls(work));  // earlier calls run, not recorded
  auto recording = std::make_unique<GraphResources>();
  recording->device = stream.device;
  // Relaxed: work of other streams and threads (work without a stream, say) may go on meanwhile.
  DT_CUDA_RETURN_IF_ERROR("starting to record a CUDA stream", stream.device->api(),
                          cuStreamBeginCapture, stream.handle, kCaptureModeRelaxed);
  stream.recording = std::move(recording);
  return nullptr;
}

DtStatus* EndRecording(Stream& stream, std::unique_ptr<Graph>* out) {
  Device& device = *stream.device;
  const DriverApi& api = device.api();
  ScopedContext current(device);
  DtStatus* flushed = nullptr;
  {
    WorkStream work(device, &stream);
    flushed = FlushHeldCalls(work);
  }
  auto graph = std::make_unique<Graph>();
  graph->device = &device;
  graph->resources = std::move(stream.recording);
  DT_CUDA_RETURN_IF_ERROR("recording a CUDA stream", api, cuStreamEndCapture, stream.handle,
                          &graph->graph);
  DT_RETURN_IF_ERROR(flushed);
  size_t nodes = 0;
  DT_CUDA_RETURN_IF_ERROR("recording a CUDA stream", api, cuGraphGetNodes, graph->graph, nullptr,
                          &nodes);
  if (nodes == 0) {
    return Fail(DT_FAILED_PRECONDITION,
                "nothing was recorded on the stream between DtBeginCapture and DtEndCapture (work "
                "issued with no stream or on another stream runs at once and is not recorded)");
  }
  DT_CUDA_RETURN_IF_ERROR("instantiating a CUDA graph", api, cuGraphInstantiateWithFlags,
                          &graph->exec, graph->graph, 0);
  DT_CUDA_RETURN_IF_ERROR("instantiating a CUDA graph", api, cuEventCreate, &graph->replayed,
                          kEventDisableTiming);
  *out = std::move(graph);
  return nullptr;
}

DtStatus* Replay(Graph& graph, Stream& stream) {
  if (graph.device != stream.device) {
    return Fail(DT_INVALID_ARGUMENT, "the graph was recorded on CUDA device " +
                                         std::to_string(graph.device->ordinal()) +
                                         " but the stream is on CUDA device " +
                                         std::to_string(stream.device->ordinal()));
  }
  const DriverApi& api = graph.device->api();
  WorkStream work(*graph.device, &stream);
  DT_RETURN_IF_ERROR(FlushHeldCalls(work));  // the replay runs after the calls issued before it
  DT_CUDA_RETURN_IF_ERROR("replaying a CUDA graph", api, cuGraphLaunch, graph.exec, stream.handle);
  DT_CUDA_RETURN_IF_ERROR("replaying a CUDA graph", api, cuEventRecord, graph.replayed,
                          stream.handle);
  stream.raises_flags |= graph.resources->raises_flags;
  return nullptr;
}

}  // namespace devtensor::cuda
