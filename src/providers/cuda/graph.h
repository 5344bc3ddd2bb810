// Recording a stream's work into a CUDA graph (stream capture) and replaying it: the kernels'
// arguments are captured by value and positions are read from device tensors, so a replay does
// what issuing the calls again would.
#ifndef DEVTENSOR_PROVIDERS_CUDA_GRAPH_H_
#define DEVTENSOR_PROVIDERS_CUDA_GRAPH_H_

#include <memory>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/stream.h"

namespace devtensor::cuda {

struct Graph {
  Device* device = nullptr;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  CUevent replayed = nullptr;  // after the last replay's work
  std::unique_ptr<GraphResources> resources;

  ~Graph();
};

DtStatus* BeginRecording(Stream& stream);
// The recorded graph, instantiated; an error (no graph) when nothing was recorded.
DtStatus* EndRecording(Stream& stream, std::unique_ptr<Graph>* graph);
DtStatus* Replay(Graph& graph, Stream& stream);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_GRAPH_H_
