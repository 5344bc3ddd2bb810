#include "providers/webgpu/transfer.h"

#include <algorithm>
#include <cstring>

#include "layout/layout.h"
#include "host_memory/strided_copy.h"
#include "providers/webgpu/bulk_copy.h"
#include "providers/webgpu/copy_kernel.h"
#include "providers/webgpu/op_kernels.h"
#include "providers/webgpu/schedule.h"

namespace devtensor::webgpu {

// Work on a stream or in a graph's replay is submitted in parts of about this many dispatches:
// Dawn turns each dispatch into Vulkan commands on the host (~2.5 µs), and a part's GPU work
// overlaps the host's work on the next.
constexpr size_t kDispatchesPerSubmit = 32;
namespace {

uint64_t RoundUp4(uint64_t v) { return (v + 3) & ~uint64_t(3); }

size_t Elements(const DtTensorRef& t) {
  size_t count = 1;
  for (size_t i = 0; i < t.rank; ++i) count *= static_cast<size_t>(t.shape[i]);
  return count;
}

bool Contiguous(const DtTensorRef& t) {
  Layout layout;
  layout.rank = t.rank;
  std::copy(t.shape, t.shape + t.rank, layout.shape);
  std::copy(t.strides, t.strides + t.rank, layout.strides);
  return IsContiguous(layout);
}

// Contiguous, and placed so that copyBufferToBuffer, writeBuffer and clearBuffer take it as is.
bool WordAligned(const DtTensorRef& t) {
  return Contiguous(t) && t.byte_offset % 4 == 0 && (Elements(t) * t.element_size) % 4 == 0;
}

wgpu::Buffer BufferOf(const DtTensorRef& t) { return static_cast<wgpu::Buffer>(t.handle); }

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

// A contiguous tensor ref over scratch memory with `like`'s type and shape.
struct ScratchRef {
  DtTensorRef ref;
  int64_t strides[DT_MAX_RANK];
  ScratchRef(const DtTensorRef& like, uint64_t offset) : ref(like) {
    ContiguousStrides(like.shape, like.rank, strides);
    ref.handle = nullptr;
    ref.byte_offset = offset;
    ref.buffer_bytes = UINT64_MAX;  // scratch is sized to fit
    ref.strides = strides;
  }
};

class Batch {
 public:
  // When the work runs: now; queued on a stream until it flushes (uploads are staged and their
  // host data copied now); or recorded into a graph, maybe run many times (uploads are staged and
  // read host memory at each run). Staged uploads never write straight into a tensor, because
  // queue writes run before every command of the submit that follows them.
  // kCheck plans only, to refuse what cannot be done: it reads no host memory and runs nothing.
  enum class When { kCheck, kNow, kQueued, kRecorded };
  Batch(Context& context, When when) : context_(context), api_(context.api()), when_(when) {}

  DtStatus* Plan(const DtCopyPair& pair);
  DtStatus* PlanZero(const DtTensorRef& tensor);
  DtStatus* Run(Stream* stream);

 private:
  struct Write {
    wgpu::Buffer buffer;  // null: the upload scratch
    uint64_t offset;
    const void* data;
    size_t size;
    const DtTensorRef* host = nullptr;  // packed at each execution (recorded strided uploads)
  };

  DtStatus* PlanUpload(const DtTensorRef& src, const DtTensorRef& dst);
  DtStatus* PlanDownload(const DtTensorRef& src, const DtTensorRef& dst);
  DtStatus* PlanDeviceCopy(const DtTensorRef& src, const DtTensorRef& dst);
  // A large synchronous copy between contiguous host bytes `data` of `host` and `buffer` at
  // `offset` (both word-aligned) as one copy command over the host pages imported in place: no
  // host copy, no staging. False, planning nothing, when the pages are not imported.
  bool PlanImportedCopy(const DtTensorRef& host, const uint8_t* data, size_t bytes,
                        wgpu::Buffer buffer, uint64_t offset, bool upload);
  DtStatus* AddKernel(KernelJob job, Scratch src, Scratch dst);
  // Host bytes of `t` packed densely and padded to a multiple of 4.
  const uint8_t* Packed(const DtTensorRef& t, size_t* bytes);
  bool Touched(wgpu::Buffer buffer) const {
    return std::find(touched_.begin(), touched_.end(), buffer) != touched_.end();
  }
  uint64_t RealSize(wgpu::Buffer buffer) const { return api_.BufferGetSize(buffer); }
  wgpu::Buffer Resolve(Scratch scratch, wgpu::Buffer buffer) const;
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

const uint8_t* Batch::Packed(const DtTensorRef& t, size_t* bytes) {
  *bytes = Elements(t) * t.element_size;
  const uint8_t* data = static_cast<const uint8_t*>(t.handle) + t.byte_offset;
  if (Contiguous(t) && *bytes % 4 == 0) return data;
  host_copies_.emplace_back(RoundUp4(*bytes), 0);
  int64_t strides[DT_MAX_RANK];
  ContiguousStrides(t.shape, t.rank, strides);
  CopyStrided(data, t.strides, host_copies_.back().data(), strides, t.shape, t.rank,
              t.element_size);
  return host_copies_.back().data();
}

DtStatus* Batch::AddKernel(KernelJob job, Scratch src, Scratch dst) {
  if (DtStatus* status = CheckKernelJob(context_, job)) return status;
  // Views at unaligned offsets or with strides are copied by a shader, which binds the buffers as
  // storage: an application's buffer made without that usage cannot take part.
  for (const auto& [side, scratch] : {std::pair{&job.dst, dst}, std::pair{&job.src, src}}) {
    if (scratch != Scratch::kNone || side->buffer == nullptr) continue;
    if ((api_.BufferGetUsage(side->buffer) & wgpu::usage::kStorage) == 0) {
      return context_.host()->CreateStatus(
          DT_NOT_SUPPORTED,
          "this copy needs the exact-copy shader (an offset or size that is not a multiple of 4, "
          "or a strided view), which binds buffers as storage; the WGPUBuffer lacks the Storage "
          "usage (0x80)");
    }
  }
  Command command;
  command.is_kernel = true;
  command.job = job;
  command.job_src = src;
  command.job_dst = dst;
  commands_.push_back(command);
  return nullptr;
}

DtStatus* Batch::PlanUpload(const DtTensorRef& src, const DtTensorRef& dst) {
  size_t bytes = Elements(src) * src.element_size;
  // A recording reads host memory at each replay, so it cannot pack it now.
  const bool pack_later = when_ == When::kRecorded && !(Contiguous(src) && bytes % 4 == 0);
  const uint8_t* data = pack_later || when_ == When::kCheck ? nullptr : Packed(src, &bytes);
  wgpu::Buffer buffer = BufferOf(dst);
  if (WordAligned(dst) && Contiguous(src) && bytes % 4 == 0 &&
      PlanImportedCopy(src, data, bytes, buffer, dst.byte_offset, /*upload=*/true)) {
    return nullptr;
  }
  if (WordAligned(dst) && !Touched(buffer) && when_ == When::kNow) {
    // Nothing earlier in this batch uses the buffer: the queue's own write is exact and in order.
    writes_.push_back({buffer, dst.byte_offset, data, bytes});
    return nullptr;
  }
  const uint64_t offset = upload_bytes_;
  upload_bytes_ += RoundUp4(bytes);
  writes_.push_back({nullptr, offset, data, static_cast<size_t>(RoundUp4(bytes)),
                     pack_later ? &src : nullptr});
  if (WordAligned(dst)) {
    Command copy;
    copy.src = {Scratch::kUpload, nullptr, offset};
    copy.dst = {Scratch::kNone, buffer, dst.byte_offset};
    copy.size = bytes;
    commands_.push_back(copy);
  } else {
    DtTensorRef target = dst;
    target.buffer_bytes = RealSize(buffer);
    ScratchRef staged(src, offset);
    if (DtStatus* s = AddKernel(MakeKernelJob(target, buffer, &staged.ref, nullptr), Scratch::kUpload,
                                Scratch::kNone)) {
      return s;
    }
  }
  touched_.push_back(buffer);
  return nullptr;
}

bool Batch::PlanImportedCopy(const DtTensorRef& host, const uint8_t* data, size_t bytes,
                             wgpu::Buffer buffer, uint64_t offset, bool upload) {
  if (when_ != When::kNow || reinterpret_cast<uintptr_t>(data) % 4 != 0) return false;
  wgpu::Buffer pages = nullptr;
  uint64_t at = 0;  // imports start on a page, so `at` keeps data's word alignment
  if (!context_.host_imports().Find(context_, host.handle, host.buffer_bytes, data, bytes, &pages,
                                    &at)) {
    return false;
  }
  const Location device{Scratch::kNone, buffer, offset}, in_place{Scratch::kNone, pages, at};
  Command copy;
  copy.src = upload ? in_place : device;
  copy.dst = upload ? device : in_place;
  copy.size = bytes;
  commands_.push_back(copy);
  touched_.push_back(buffer);
  return true;
}

DtStatus* Batch::PlanDownload(const DtTensorRef& src, const DtTensorRef& dst) {
  const uint64_t bytes = Elements(src) * src.element_size;
  wgpu::Buffer buffer = BufferOf(src);
  HostTarget target{};
  target.data = static_cast<uint8_t*>(dst.handle) + dst.byte_offset;
  target.element_size = dst.element_size;
  target.rank = dst.rank;
  std::copy(dst.shape, dst.shape + dst.rank, target.shape);
  std::copy(dst.strides, dst.strides + dst.rank, target.strides);
  if (WordAligned(src) && Contiguous(dst) &&
      PlanImportedCopy(dst, target.data, bytes, buffer, src.byte_offset, /*upload=*/false)) {
    return nullptr;
  }
  const uint64_t begin = src.byte_offset & ~uint64_t(3);
  const uint64_t end = RoundUp4(src.byte_offset + bytes);
  Command copy;
  copy.dst = {Scratch::kReadback, nullptr, readback_bytes_};
  if (Contiguous(src) && end <= RealSize(buffer)) {
    // Reading a few bytes more than the view is harmless; only writes must be exact.
    copy.src = {Scratch::kNone, buffer, begin};
    copy.size = end - begin;
    target.readback_offset = readback_bytes_ + (src.byte_offset - begin);
  } else {
    const uint64_t offset = pack_bytes_;
    pack_bytes_ += RoundUp4(bytes);
    DtTensorRef from = src;
    from.buffer_bytes = RealSize(buffer);
    ScratchRef packed(src, offset);
    if (DtStatus* s = AddKernel(MakeKernelJob(packed.ref, nullptr, &from, buffer), Scratch::kNone,
                                Scratch::kPack)) {
      return s;
    }
    copy.src = {Scratch::kPack, nullptr, offset};
    copy.size = RoundUp4(bytes);
    target.readback_offset = readback_bytes_;
  }
  readback_bytes_ += copy.size;
  commands_.push_back(copy);
  targets_.push_back(target);
  touched_.push_back(buffer);
  return nullptr;
}

DtStatus* Batch::PlanDeviceCopy(const DtTensorRef& src, const DtTensorRef& dst) {
  wgpu::Buffer from = BufferOf(src), to = BufferOf(dst);
  if (WordAligned(src) && WordAligned(dst) && from != to) {
    Command copy;
    copy.src = {Scratch::kNone, from, src.byte_offset};
    copy.dst = {Scratch::kNone, to, dst.byte_offset};
    copy.size = Elements(src) * src.element_size;
    copy.is_bulk = when_ != When::kCheck &&
                   UseBulkCopy(context_, from, src.byte_offset, to, dst.byte_offset, copy.size);
    commands_.push_back(copy);
  } else {
    DtTensorRef a = src, b = dst;
    a.buffer_bytes = RealSize(from);
    b.buffer_bytes = RealSize(to);
    if (DtStatus* s = AddKernel(MakeKernelJob(b, to, &a, from), Scratch::kNone, Scratch::kNone)) {
      return s;
    }
  }
  touched_.push_back(from);
  touched_.push_back(to);
  return nullptr;
}

DtStatus* Batch::Plan(const DtCopyPair& pair) {
  const bool src_gpu = pair.src->device_type == DT_DEVICE_WEBGPU;
  const bool dst_gpu = pair.dst->device_type == DT_DEVICE_WEBGPU;
  if (src_gpu && dst_gpu) return PlanDeviceCopy(*pair.src, *pair.dst);
  if (dst_gpu) return PlanUpload(*pair.src, *pair.dst);
  return PlanDownload(*pair.src, *pair.dst);
}

DtStatus* Batch::PlanZero(const DtTensorRef& tensor) {
  wgpu::Buffer buffer = BufferOf(tensor);
  if (WordAligned(tensor)) {
    Command clear;  // a copy with no source is a clear
    clear.dst = {Scratch::kNone, buffer, tensor.byte_offset};
    clear.size = Elements(tensor) * tensor.element_size;
    commands_.push_back(clear);
  } else {
    DtTensorRef target = tensor;
    target.buffer_bytes = RealSize(buffer);
    if (DtStatus* s = AddKernel(MakeKernelJob(target, buffer, nullptr, nullptr), Scratch::kNone,
                                Scratch::kNone)) {
      return s;
    }
  }
  touched_.push_back(buffer);
  return nullptr;
}

wgpu::Buffer Batch::Resolve(Scratch scratch, wgpu::Buffer buffer) const {
  switch (scratch) {
    case Scratch::kUpload: return upload_;
    case Scratch::kPack: return pack_;
    case Scratch::kReadback: return readback_;
    case Scratch::kNone: break;
  }
  return buffer;
}

DtStatus* Batch::Record(CommandList& list) {
  for (const Write& write : writes_) {
    wgpu::Buffer buffer = write.buffer ? write.buffer : upload_;
    if (write.host != nullptr) {
      list.WritePacked(buffer, write.offset, *write.host, write.size);
    } else {
      list.Write(buffer, write.offset, write.data, write.size, when_ == When::kQueued);
    }
  }
  size_t i = 0;
  while (i < commands_.size()) {
    const Command& command = commands_[i];
    if (command.is_bulk) {
      if (DtStatus* s = RecordBulkCopy(context_, list, command.src.buffer, command.src.offset,
                                       command.dst.buffer, command.dst.offset, command.size)) {
        return s;
      }
      ++i;
      continue;
    }
    if (!command.is_kernel) {
      wgpu::Buffer dst = Resolve(command.dst.scratch, command.dst.buffer);
      if (command.src.scratch == Scratch::kNone && command.src.buffer == nullptr) {
        list.Clear(dst, command.dst.offset, command.size);
      } else {
        list.Copy(Resolve(command.src.scratch, command.src.buffer), command.src.offset, dst,
                  command.dst.offset, command.size);
      }
      ++i;
      continue;
    }
    std::vector<KernelJob> jobs;
    for (; i < commands_.size() && commands_[i].is_kernel; ++i) {
      KernelJob job = commands_[i].job;
      job.src.buffer = Resolve(commands_[i].job_src, job.src.buffer);
      job.dst.buffer = Resolve(commands_[i].job_dst, job.dst.buffer);
      if (commands_[i].job_src != Scratch::kNone) job.src.buffer_bytes = RealSize(job.src.buffer);
      if (commands_[i].job_dst != Scratch::kNone) job.dst.buffer_bytes = RealSize(job.dst.buffer);
      jobs.push_back(job);
    }
    if (DtStatus* s = RecordKernelJobs(context_, list, jobs)) return s;
  }
  return nullptr;
}

void OnMapped(uint32_t status, wgpu::StringView, void* userdata, void*) {
  static_cast<Download*>(userdata)->map_status = status;
}

void StartMap(const wgpu::Api& api, Download& download) {
  download.map_status = 0;
  download.pending = true;
  wgpu::BufferMapCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnMapped,
                                   &download, nullptr};
  download.map = api.BufferMapAsync(download.readback, wgpu::map_mode::kRead, 0, download.bytes,
                                    info);
}

// A download whose work was never submitted: its read-back buffer goes back unused.
void DropUnmapped(Context& context, Download& download) {
  if (!download.owned) return;
  context.Recycle(download.readback, download.capacity, wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
  download.readback = nullptr;
}

// Copies a mapped read-back buffer out to its host targets, unmaps it and pools it (unless a graph
// owns it).
DtStatus* FinishDownload(Context& context, Download& download) {
  if (!download.pending) return nullptr;  // finished already (a graph's, by another stream)
  download.pending = false;
  DtStatus* status = context.Wait(download.map, "a read-back mapping");
  const wgpu::Api& api = context.api();
  if (status == nullptr && download.map_status != wgpu::kRequestSuccess) {
    status = context.TakeErrors();
    if (status == nullptr) {
      status = context.host()->CreateStatus(DT_DEVICE_LOST, "mapping a WebGPU read-back buffer failed");
    }
  }
  if (status == nullptr) {
    const auto* mapped = static_cast<const uint8_t*>(
        api.BufferGetConstMappedRange(download.readback, 0, download.bytes));
    for (const HostTarget& target : download.targets) {
      int64_t packed[DT_MAX_RANK];
      ContiguousStrides(target.shape, target.rank, packed);
      CopyStrided(mapped + target.readback_offset, packed, target.data, target.strides,
                  target.shape, target.rank, target.element_size);
    }
    api.BufferUnmap(download.readback);
    if (download.owned) {
      context.Recycle(download.readback, download.capacity,
                      wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
    }
  } else if (download.owned) {
    api.BufferRelease(download.readback);
  }
  if (download.owned) download.readback = nullptr;
  return status;
}

// The lists a stream queued or a graph recorded, in order.
std::vector<const CommandList*> Lists(const std::vector<std::unique_ptr<CommandList>>& owned) {
  std::vector<const CommandList*> lists;
  lists.reserve(owned.size());
  for (const auto& list : owned) lists.push_back(list.get());
  return lists;
}

// Runs `lists` now, as one schedule and one submit.
DtStatus* RunNow(Context& context, std::vector<const CommandList*> lists) {
  std::unique_ptr<Schedule> schedule;
  if (DtStatus* s = Schedule::Make(context, std::move(lists), &schedule)) return s;
  schedule->Run(0);
  return nullptr;
}

// Submits a stream's queued work as one schedule and starts mapping its downloads. When the
// schedule cannot be made, the queued work is dropped and its downloads never land.
DtStatus* Flush(Context& context, Stream& stream) {
  if (stream.queued.empty() && stream.unmapped.empty()) return nullptr;
  const wgpu::Api& api = context.api();
  DtStatus* status = RunNow(context, Lists(stream.queued));
  stream.queued.clear();  // submitted: their buffers may go back to the pools
  stream.open = nullptr;
  stream.queued_dispatches = 0;
  for (auto& download : stream.unmapped) {
    if (status != nullptr) {
      DropUnmapped(context, *download);
      continue;
    }
    StartMap(api, *download);
    stream.downloads.push_back(std::move(download));
  }
  stream.unmapped.clear();
  if (status != nullptr) return status;
  return context.TakeErrors();
}

// Finishes a stream's downloads in order (flushing its queued work first); the first error is
// reported, all are finished.
DtStatus* FinishDownloads(Context& context, Stream& stream) {
  DtStatus* first = Flush(context, stream);
  for (auto& download : stream.downloads) {
    DtStatus* status = FinishDownload(context, *download);
    if (first == nullptr) {
      first = status;
    } else if (status != nullptr) {
      context.host()->ReleaseStatus(status);
    }
  }
  stream.downloads.clear();
  return first;
}

DtStatus* Batch::Run(Stream* stream) {
  // Scratch first: an allocation failure leaves nothing written.
  auto list = std::make_unique<CommandList>(context_);
  if (upload_bytes_ > 0) {
    if (DtStatus* s = list->TakeBuffer(upload_bytes_, Context::kTensorUsage, &upload_)) return s;
  }
  if (pack_bytes_ > 0) {
    if (DtStatus* s = list->TakeBuffer(pack_bytes_, wgpu::usage::kStorage | wgpu::usage::kCopySrc,
                                       &pack_)) {
      return s;
    }
  }
  std::shared_ptr<Download> download;
  if (readback_bytes_ > 0) {
    download = std::make_shared<Download>();
    download->bytes = readback_bytes_;
    download->targets = std::move(targets_);
    if (DtStatus* s = context_.TakeBuffer(readback_bytes_, wgpu::usage::kMapRead | wgpu::usage::kCopyDst,
                                          &download->readback, &download->capacity)) {
      return s;
    }
    readback_ = download->readback;
  }
  if (DtStatus* s = Record(*list)) {
    if (download) {
      context_.Recycle(download->readback, download->capacity,
                       wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
    }
    return s;
  }
  return Execute(context_, std::move(list), std::move(download), stream);
}

}  // namespace

Download::~Download() {
  if (graph_context != nullptr && readback != nullptr) {
    std::lock_guard<std::recursive_mutex> lock(graph_context->mutex());
    graph_context->api().BufferRelease(readback);
  }
}

Stream::Stream(std::shared_ptr<Context> on) : context(std::move(on)) {
  std::lock_guard<std::recursive_mutex> lock(context->mutex());
  context->streams().push_back(this);
}

Stream::~Stream() {
  // Queued lists give their buffers back to the pools: under the context's lock.
  std::lock_guard<std::recursive_mutex> lock(context->mutex());
  std::erase(context->streams(), this);
  queued.clear();
  for (const auto& download : unmapped) DropUnmapped(*context, *download);
  unmapped.clear();
  downloads.clear();
  recording.reset();
}

Graph::~Graph() {
  std::lock_guard<std::recursive_mutex> lock(context->mutex());
  schedule.reset();
  lists.clear();
  downloads.clear();
}

DtStatus* Execute(Context& context, std::unique_ptr<CommandList> list,
                  std::shared_ptr<Download> download, Stream* stream) {
  if (stream != nullptr && stream->recording != nullptr) {
    if (download) {
      download->owned = false;  // the graph keeps the read-back buffer for every replay
      download->graph_context = stream->context;
      stream->recording->downloads.push_back(std::move(download));
    }
    stream->recording->lists.push_back(std::move(list));
    return nullptr;
  }
  if (stream != nullptr) {  // queued, submitted at the stream's next flush
    stream->queued_dispatches += list->dispatches();
    stream->queued.push_back(std::move(list));
    stream->open = nullptr;
    if (download) stream->unmapped.push_back(std::move(download));
    stream->has_work = true;
    // A long run of ops is submitted in parts, so that the GPU works while the host records.
    if (stream->queued_dispatches >= kDispatchesPerSubmit) return Flush(context, *stream);
    return nullptr;
  }
  const wgpu::Api& api = context.api();
  DtStatus* status = RunNow(context, {list.get()});
  list.reset();  // submitted: its buffers may go back to the pools
  if (status != nullptr) {
    if (download) DropUnmapped(context, *download);
    return status;
  }
  if (download) StartMap(api, *download);
  if (download) {
    if (DtStatus* s = FinishDownload(context, *download)) return s;
    return context.TakeErrors();
  }
  return context.WaitIdle();
}

DtStatus* QueueOnStream(Context& context, Stream& stream,
                        const std::function<DtStatus*(CommandList&)>& record) {
  if (stream.queued.empty() || stream.queued.back().get() != stream.open) {
    stream.queued.push_back(std::make_unique<CommandList>(context));
    stream.queued.back()->Reserve(kDispatchesPerSubmit);
    stream.open = stream.queued.back().get();
  }
  CommandList& list = *stream.queued.back();
  const CommandList::Mark mark = list.mark();
  DtStatus* status = nullptr;
  try {
    status = record(list);
  } catch (...) {  // out of host memory half way: nothing of this call stays queued
    list.RollBack(mark);
    throw;
  }
  if (status != nullptr) {
    list.RollBack(mark);
    return status;
  }
  stream.queued_dispatches += list.dispatches() - mark.dispatches;
  stream.has_work = true;
  if (stream.queued_dispatches >= kDispatchesPerSubmit) return Flush(context, stream);
  return nullptr;
}

DtStatus* ScheduleGraph(Graph& graph) {
  if (graph.schedule != nullptr) return nullptr;
  return Schedule::Make(*graph.context, Lists(graph.lists), &graph.schedule);
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
  if (DtStatus* s = ScheduleGraph(*recorded)) return s;
  *graph = std::move(recorded);
  return nullptr;
}

void NoteFlagRaisingOp(Stream* stream, const char* op_type) {
  if (stream == nullptr) return;
  if (std::strcmp(op_type, "KvCacheAppend") != 0 && std::strcmp(op_type, "ScatterND") != 0) return;
  if (stream->recording != nullptr) {
    stream->recording->raises_flags = true;
  } else {
    stream->raises_flags = true;
  }
}

DtStatus* TakeDeviceErrorFlags(Context& context, uint32_t* flags) {
  // The flags buffer is read after every stream's queued work, in the queue's order.
  for (Stream* stream : context.streams()) {
    if (DtStatus* s = Flush(context, *stream)) return s;
  }
  uint32_t raised = 0;
  if (DtStatus* s = ReadErrorFlags(context, &raised)) return s;
  *flags = raised | context.unreported_flags();
  context.unreported_flags() = 0;
  return nullptr;
}

DtStatus* Replay(Graph& graph, Stream& stream) {
  Context& context = *stream.context;
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  if (DtStatus* s = context.CheckAlive()) return s;
  // The graph's read-back buffers are mapped by an earlier replay's downloads until those finish,
  // on this stream or another one.
  if (DtStatus* s = FinishDownloads(context, stream)) return s;
  for (const auto& download : graph.downloads) {
    if (DtStatus* s = FinishDownload(context, *download)) return s;
  }
  const wgpu::Api& api = context.api();
  if (DtStatus* s = ScheduleGraph(graph)) return s;
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

// Host bytes [begin, end) a CPU tensor's elements span.
std::pair<const uint8_t*, const uint8_t*> HostSpan(const DtTensorRef& t) {
  size_t last = 0;
  for (size_t i = 0; i < t.rank; ++i) {
    last += static_cast<size_t>(t.shape[i] - 1) * static_cast<size_t>(t.strides[i]);
  }
  const auto* begin = static_cast<const uint8_t*>(t.handle) + t.byte_offset;
  return {begin, begin + (last + 1) * t.element_size};
}

DtStatus* CheckBatch(Context& context, const DtCopyPair* pairs, size_t count) {
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  if (DtStatus* s = context.CheckAlive()) return s;
  Batch check(context, Batch::When::kCheck);
  for (size_t i = 0; i < count; ++i) {
    if (DtStatus* s = check.Plan(pairs[i])) return s;
  }
  return nullptr;
}

DtStatus* CopyBatch(Context& context, const DtCopyPair* pairs, size_t count, Stream* stream) {
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  if (DtStatus* s = context.CheckAlive()) return s;
  const bool recording = stream != nullptr && stream->recording != nullptr;
  // The host checked these pairs with CheckCopies (CheckBatch) before any of its groups ran, so
  // a pair refused below can only follow an earlier part of this very call.
  // Uploads read host memory (some while being planned); a download queued earlier on the stream
  // may be meant to fill it, so those land first.
  const bool reads_host = std::any_of(pairs, pairs + count, [](const DtCopyPair& pair) {
    return pair.src->device_type == DT_DEVICE_CPU;
  });
  if (!recording && reads_host && stream != nullptr &&
      (!stream->downloads.empty() || !stream->unmapped.empty())) {
    if (DtStatus* s = FinishDownloads(context, *stream)) return s;
  }
  // An upload reads host memory when it is planned; if an earlier download of this call writes
  // that memory, the work before it runs (and its downloads land) first.
  const Batch::When when = recording ? Batch::When::kRecorded
                           : stream != nullptr ? Batch::When::kQueued
                                               : Batch::When::kNow;
  auto batch = std::make_unique<Batch>(context, when);
  std::vector<std::pair<const uint8_t*, const uint8_t*>> downloaded;
  for (size_t i = 0; i < count; ++i) {
    const DtTensorRef& src = *pairs[i].src;
    if (src.device_type == DT_DEVICE_CPU) {
      const auto span = HostSpan(src);
      const bool overlaps = std::any_of(downloaded.begin(), downloaded.end(), [&](const auto& d) {
        return span.first < d.second && d.first < span.second;
      });
      if (overlaps && recording) {
        return context.host()->CreateStatus(
            DT_NOT_SUPPORTED,
            "a graph cannot upload host memory that an earlier download of the same graph writes: "
            "downloads land when the stream is synchronised");
      }
      if (overlaps) {
        if (DtStatus* s = batch->Run(stream)) return s;
        if (stream != nullptr) {
          if (DtStatus* s = FinishDownloads(context, *stream)) return s;
        }
        batch = std::make_unique<Batch>(context, when);
        downloaded.clear();
      }
    }
    if (DtStatus* s = batch->Plan(pairs[i])) return s;
    if (pairs[i].dst->device_type == DT_DEVICE_CPU) downloaded.push_back(HostSpan(*pairs[i].dst));
  }
  return batch->Run(stream);
}

DtStatus* ZeroView(Context& context, const DtTensorRef& tensor, Stream* stream) {
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  if (DtStatus* s = context.CheckAlive()) return s;
  Batch batch(context, stream == nullptr           ? Batch::When::kNow
                       : stream->recording != nullptr ? Batch::When::kRecorded
                                                    : Batch::When::kQueued);
  if (DtStatus* s = batch.PlanZero(tensor)) return s;
  return batch.Run(stream);
}

namespace {

// What the error flags `raised` say, naming the ops that raise them.
std::string FlagText(uint32_t raised) {
  std::string text;
  if (raised & DT_DEVICE_ERROR_KV_POSITION) {
    text += "KvCacheAppend: a position was out of range, so its write was skipped "
            "(DT_DEVICE_ERROR_KV_POSITION)";
  }
  if (raised & DT_DEVICE_ERROR_SCATTER_INDEX) {
    if (!text.empty()) text += "; ";
    text += "ScatterND: an index was out of range, so its update was skipped "
            "(DT_DEVICE_ERROR_SCATTER_INDEX)";
  }
  return text;
}

// After a stream's work that may raise flags: a status naming the ops when a flag was raised. The
// flags read are kept for DtGetDeviceErrorFlags.
DtStatus* CheckRaisedFlags(Context& context) {
  uint32_t raised = 0;
  if (DtStatus* s = ReadErrorFlags(context, &raised)) return s;
  context.unreported_flags() |= raised;
  if (raised == 0) return nullptr;
  return context.host()->CreateStatus(
      DT_OUT_OF_RANGE, ("work on the stream raised device error flags: " + FlagText(raised) +
                        "; DtGetDeviceErrorFlags reports them too")
                           .c_str());
}

}  // namespace

DtStatus* SynchronizeStream(Stream& stream) {
  Context& context = *stream.context;
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  DtStatus* first = FinishDownloads(context, stream);
  if (stream.has_work) {
    stream.has_work = false;
    DtStatus* status = context.WaitIdle();
    if (first == nullptr) {
      first = status;
    } else if (status != nullptr) {
      context.host()->ReleaseStatus(status);
    }
  }
  if (stream.raises_flags) {
    stream.raises_flags = false;
    if (first == nullptr) first = CheckRaisedFlags(context);
  }
  return first;
}

}  // namespace devtensor::webgpu
