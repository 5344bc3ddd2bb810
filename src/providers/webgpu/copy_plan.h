// Copy planning: a batch of copy pairs (CPU->GPU, GPU->CPU and GPU->GPU, of views at any byte
// offset, contiguous or strided) and clears becomes the commands of one list and one submit.
// Uploads are staged together, downloads land in one read-back buffer mapped once, large
// synchronous copies go through host pages imported in place, and views a buffer copy cannot
// take exactly are copied by the copy kernel.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_COPY_PLAN_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_COPY_PLAN_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/copy_kernel.h"
#include "providers/webgpu/download.h"

namespace devtensor::webgpu {

struct Stream;

class CopyPlan {
 public:
  // When the work runs: now; queued on a stream until it flushes (uploads are staged and their
  // host data copied now); or recorded into a graph, maybe run many times (uploads are staged and
  // read host memory at each run). Staged uploads never write straight into a tensor, because
  // queue writes run before every command of the submit that follows them.
  // kCheck plans only, to refuse what cannot be done: it reads no host memory and runs nothing.
  enum class When { kCheck, kNow, kQueued, kRecorded };
  // An empty plan for work on `context`'s device that runs `when`.
  CopyPlan(Context& context, When when) : context_(context), api_(context.api()), when_(when) {}

  // Plans one pair, whose WebGPU sides live on the context's device.
  DtStatus* Plan(const DtCopyPair& pair);
  // Plans setting a view's elements to zero.
  DtStatus* PlanZero(const DtTensorRef& tensor);
  // Takes the scratch buffers, records what was planned into one list and executes it (Execute,
  // stream.h) on `stream`.
  DtStatus* Run(Stream* stream);

 private:
  // Scratch buffers a batch makes for itself.
  enum class Scratch { kNone, kUpload, kPack, kReadback };

  struct Location {
    Scratch scratch = Scratch::kNone;
    wgpu::Buffer buffer = nullptr;  // when scratch is kNone
    uint64_t offset = 0;
  };

  // One command of the batch's encoder, in pair order.
  struct Command {
    bool is_kernel = false;
    bool is_bulk = false;  // a large device copy through the bulk-copy shader
    Location src, dst;  // buffer-to-buffer copy
    uint64_t size = 0;
    KernelJob job;      // kernel; a scratch side gets its buffer when encoded
    Scratch job_src = Scratch::kNone, job_dst = Scratch::kNone;
  };

  struct Write {
    wgpu::Buffer buffer;  // null: the upload scratch
    uint64_t offset;
    const void* data;
    size_t size;
    const DtTensorRef* host = nullptr;  // packed at each execution (recorded strided uploads)
  };

  // Plans a CPU->GPU pair.
  DtStatus* PlanUpload(const DtTensorRef& src, const DtTensorRef& dst);
  // Plans a GPU->CPU pair.
  DtStatus* PlanDownload(const DtTensorRef& src, const DtTensorRef& dst);
  // Plans a GPU->GPU pair.
  DtStatus* PlanDeviceCopy(const DtTensorRef& src, const DtTensorRef& dst);
  // A large synchronous copy between contiguous host bytes `data` of `host` and `buffer` at
  // `offset` (both word-aligned) as one copy command over the host pages imported in place: no
  // host copy, no staging. False, planning nothing, when the pages are not imported.
  bool PlanImportedCopy(const DtTensorRef& host, const uint8_t* data, size_t bytes,
                        wgpu::Buffer buffer, uint64_t offset, bool upload);
  // Plans a copy-kernel job, refusing views the kernel cannot bind.
  DtStatus* AddKernel(KernelJob job, Scratch src, Scratch dst);
  // Host bytes of `t` packed densely and padded to a multiple of 4.
  const uint8_t* Packed(const DtTensorRef& t, size_t* bytes);
  // Whether a command planned so far uses `buffer`.
  bool Touched(wgpu::Buffer buffer) const {
    return std::find(touched_.begin(), touched_.end(), buffer) != touched_.end();
  }
  // The buffer's size as made, which may exceed the tensor's bytes.
  uint64_t RealSize(wgpu::Buffer buffer) const { return api_.BufferGetSize(buffer); }
  // The buffer a location or job side names: a scratch buffer once taken, else `buffer`.
  wgpu::Buffer Resolve(Scratch scratch, wgpu::Buffer buffer) const;
  // Records the planned writes and commands into `list`.
  DtStatus* Record(CommandList& list);

  Context& context_;
  const wgpu::Api& api_;
  const When when_;
  std::vector<Command> commands_;
  std::vector<Write> writes_;
  std::vector<std::vector<uint8_t>> host_copies_;
  std::vector<wgpu::Buffer> touched_;  // buffers the encoder's commands use so far
  std::vector<HostTarget> targets_;
  uint64_t upload_bytes_ = 0, pack_bytes_ = 0, readback_bytes_ = 0;
  wgpu::Buffer upload_ = nullptr, pack_ = nullptr, readback_ = nullptr;
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_COPY_PLAN_H_
