// Graphs: work a stream recorded between DtBeginCapture and DtEndCapture, kept as command lists
// and the downloads they end with, and replayed on a stream as often as asked. A graph's schedule
// is made once, when the recording ends; its uploads read host memory and its downloads write it
// at each replay.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_GRAPH_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_GRAPH_H_

#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/download.h"
#include "providers/webgpu/schedule.h"

namespace devtensor::webgpu {

struct Stream;

// Recorded work: command lists and the downloads they end with, and the schedule they replay
// with (made once, when the recording ends).
struct Graph {
  std::shared_ptr<Context> context;
  std::vector<std::unique_ptr<CommandList>> lists;
  std::vector<std::shared_ptr<Download>> downloads;  // read-back buffers owned by the graph
  std::unique_ptr<Schedule> schedule;
  bool raises_flags = false;  // it holds ops that may raise the device's error flags
  // Gives the lists' buffers back to the pools, under the context's lock.
  ~Graph();
};

// Makes a recorded graph's schedule (binding its ops, compiling batched kernels), if not yet made.
// The caller holds the context's mutex.
DtStatus* ScheduleGraph(Graph& graph);

// Ends `stream`'s recording and makes the graph ready to replay. A recording that holds no
// command fails with DT_FAILED_PRECONDITION. Either way the stream records no more. The caller
// holds the context's mutex.
DtStatus* EndRecording(Stream& stream, std::unique_ptr<Graph>* graph);

// Replays a graph on a stream, submitted in parts of a few dozen dispatches.
DtStatus* Replay(Graph& graph, Stream& stream);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_GRAPH_H_
