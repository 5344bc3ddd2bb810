// Streams and the executor every piece of work goes through: a command list (and the download it
// ends with) runs now and is waited for, is queued on a stream until the stream flushes, or is
// recorded into the graph the stream is capturing. A stream's queued work goes to the GPU as one
// schedule, in parts of a few dozen dispatches.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_STREAM_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_STREAM_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/download.h"
#include "providers/webgpu/graph.h"

namespace devtensor::webgpu {

// Work on a stream or in a graph's replay is submitted in parts of about this many dispatches:
// Dawn turns each dispatch into Vulkan commands on the host (~2.5 µs), and a part's GPU work
// overlaps the host's work on the next.
inline constexpr size_t kDispatchesPerSubmit = 32;

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
  // Drops the queued work (its downloads never land) and any recording, under the context's lock.
  ~Stream();
};

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

// Submits a stream's queued work as one schedule and starts mapping its downloads. When the
// schedule cannot be made, the queued work is dropped and its downloads never land. The caller
// holds the context's mutex.
DtStatus* Flush(Context& context, Stream& stream);

// Finishes a stream's downloads in order (flushing its queued work first); the first error is
// reported, all are finished. The caller holds the context's mutex.
DtStatus* FinishDownloads(Context& context, Stream& stream);

// Waits for a stream's work and finishes its downloads. When that work held ops that raise error
// flags and one was raised, fails with DT_OUT_OF_RANGE naming the op; the flag stays for
// TakeDeviceErrorFlags to report.
DtStatus* SynchronizeStream(Stream& stream);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_STREAM_H_
