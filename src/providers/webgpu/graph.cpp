#include "providers/webgpu/graph.h"

#include <algorithm>
#include <mutex>

#include "common/return_if_error.h"
#include "providers/webgpu/stream.h"

namespace devtensor::webgpu {

Graph::~Graph() {
  std::lock_guard<std::recursive_mutex> lock(context->mutex());
  schedule.reset();
  lists.clear();
  downloads.clear();
}

DtStatus* ScheduleGraph(Graph& graph) {
  if (graph.schedule != nullptr) return nullptr;
  return Schedule::Make(*graph.context, ListsOf(graph.lists), &graph.schedule);
}

DtStatus* EndRecording(Stream& stream, std::unique_ptr<Graph>* graph) {
  std::unique_ptr<Graph> recorded = std::move(stream.recording);
  const bool empty = std::all_of(recorded->lists.begin(), recorded->lists.end(),
                                 [](const auto& list) { return list->empty(); });
  if (empty) {
    // A graph that replays nothing is almost always a mistake: work issued with no stream, or on
    // another stream, runs at once and is not recorded.
    return stream.context->host()->CreateStatus(
        DT_FAILED_PRECONDITION,
        "nothing was recorded on the stream between DtBeginCapture and DtEndCapture (work issued "
        "with no stream or on another stream runs at once and is not recorded)");
  }
  DT_RETURN_IF_ERROR(ScheduleGraph(*recorded));
  *graph = std::move(recorded);
  return nullptr;
}

DtStatus* Replay(Graph& graph, Stream& stream) {
  Context& context = *stream.context;
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  DT_RETURN_IF_ERROR(context.CheckAlive());
  // The graph's read-back buffers are mapped by an earlier replay's downloads until those finish,
  // on this stream or another one.
  DT_RETURN_IF_ERROR(FinishDownloads(context, stream));
  for (const auto& download : graph.downloads) {
    DT_RETURN_IF_ERROR(FinishDownload(context, *download));
  }
  const wgpu::Api& api = context.api();
  DT_RETURN_IF_ERROR(ScheduleGraph(graph));
  // In parts, so that the GPU starts while the rest is encoded.
  graph.schedule->Run(kDispatchesPerSubmit);
  stream.has_work = true;
  if (graph.raises_flags) stream.raises_flags = true;
  for (const auto& download : graph.downloads) {
    StartMap(api, *download);
    stream.downloads.push_back(download);
  }
  return context.TakeErrors();
}

}  // namespace devtensor::webgpu
