// The WebGPU data transfer: CPU->GPU, GPU->CPU and GPU->GPU copies of views at any byte offset,
// contiguous or strided, and clears. A batch of pairs becomes one command encoder and one submit;
// uploads are staged together and downloads land in one read-back buffer mapped once.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_TRANSFER_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_TRANSFER_H_

#include <functional>
#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/schedule.h"

namespace devtensor::webgpu {

// A host destination of a download that completes later, with its own copy of shape and strides.
struct HostTarget {
  uint8_t* data;  // element [0, ..., 0]
  size_t element_size;
  size_t rank;
  int64_t shape[DT_MAX_RANK];
  int64_t strides[DT_MAX_RANK];
  uint64_t readback_offset;  // where its packed bytes start in the read-back buffer
};

// Downloads into one read-back buffer: its host targets and where their bytes are.
struct Download {
  wgpu::Buffer readback = nullptr;
  uint64_t capacity = 0;
  uint64_t bytes = 0;
  std::vector<HostTarget> targets;
  bool owned = true;  // recycled when done; a graph's read-back buffer stays with the graph
  wgpu::Future map{};
  uint32_t map_status = 0;
  bool pending = false;  // mapped (or being mapped) and not yet copied out
  std::shared_ptr<Context> graph_context;  // set for a graph's: releases its buffer at the end
  ~Download();
};

// Recorded work: command lists and the downloads they end with, and the schedule they replay
// with (made once, when the recording ends).
struct Graph {
  std::shared_ptr<Context> context;
  std::vector<std::unique_ptr<CommandList>> lists;
  std::vector<std::shared_ptr<Download>> downloads;  // read-back buffers owned by the graph
  std::unique_ptr<Schedule> schedule;
  bool raises_flags = false;  // it holds ops that may raise the device's error flags
  ~Graph();
};

// A WebGPU stream: work is queued as it is issued and the calls return at once; the queued work
// goes to the GPU as one schedule when the stream is synchronised (or when later work needs it:
// an upload of host memory a queued download fills, a graph replay); downloads finish, and errors
// are reported, at Synchronize. While `recording` is set, work is recorded into it instead.
struct Stream {
  std::shared_ptr<Context> context;
  std::vector<std::unique_ptr<CommandList>> queued;    // not yet submitted, in order
  size_t queued_dispatches = 0;                        // in `queued`
  std::vector<std::shared_ptr<Download>> unmapped;     // downloads of the queued work
  std::vector<std::shared_ptr<Download>> downloads;    // submitted, mapping
  bool has_work = false;
  const CommandList* open = nullptr;  // queued.back() while ops may still be recorded into it
  std::unique_ptr<Graph> recording;
  // Work since the last synchronisation holds ops that may raise the device's error flags, which
  // the synchronisation then reads.
  bool raises_flags = false;
  // Made on `context`, and known to it (Context::streams) until destroyed.
  explicit Stream(std::shared_ptr<Context> on);
  ~Stream();
};

// Copies pairs whose WebGPU sides all live on `context`'s device, which CheckBatch accepted.
// With `stream` null the call returns when the data is in place.
DtStatus* CopyBatch(Context& context, const DtCopyPair* pairs, size_t count, Stream* stream);

// Refuses, with no side effect, what CopyBatch would refuse for these pairs.
DtStatus* CheckBatch(Context& context, const DtCopyPair* pairs, size_t count);

// Sets a view's elements to zero on the device.
DtStatus* ZeroView(Context& context, const DtTensorRef& tensor, Stream* stream);

// Waits for a stream's work and finishes its downloads. When that work held ops that raise error
// flags and one was raised, fails with DT_OUT_OF_RANGE naming the op; the flag stays for
// TakeDeviceErrorFlags to report.
DtStatus* SynchronizeStream(Stream& stream);

// Notes that `op_type`, issued on `stream` (recording or not; null: none), may raise the device's
// error flags.
void NoteFlagRaisingOp(Stream* stream, const char* op_type);

// The device's error flags raised by all its work so far, streams' queued work included, which
// is submitted first; reading clears them. The caller holds the context's mutex.
DtStatus* TakeDeviceErrorFlags(Context& context, uint32_t* flags);

// Executes `list` (and then maps `download`, if any): recorded into the stream's graph while it
// records, else submitted now; with no stream, waited for. The caller holds the context's mutex.
DtStatus* Execute(Context& context, std::unique_ptr<CommandList> list,
                  std::shared_ptr<Download> download, Stream* stream);

// Records work (`record` fills the list) onto a stream that is not recording: into the list the
// last such work went to, while nothing else was queued after it, so that a run of ops costs no
// list each. What `record` recorded before it failed is taken back. The caller holds the
// context's mutex.
DtStatus* QueueOnStream(Context& context, Stream& stream,
                        const std::function<DtStatus*(CommandList&)>& record);

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

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_TRANSFER_H_
