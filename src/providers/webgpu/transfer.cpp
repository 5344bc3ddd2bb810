#include "providers/webgpu/transfer.h"

#include <algorithm>
#include <cstring>

#include "layout/layout.h"
#include "providers/host_memory/strided_copy.h"
#include "providers/webgpu/copy_kernel.h"

namespace devtensor::webgpu {
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
  explicit Batch(Context& context) : context_(context), api_(context.api()) {}
  ~Batch() { ReleaseScratch(); }

  DtStatus* Plan(const DtCopyPair& pair);
  DtStatus* PlanZero(const DtTensorRef& tensor);
  bool ReadsHostMemory() const { return !writes_.empty(); }
  DtStatus* Run(Stream* stream);

 private:
  struct Write {
    wgpu::Buffer buffer;  // null: the upload scratch
    uint64_t offset;
    const void* data;
    size_t size;
  };

  DtStatus* PlanUpload(const DtTensorRef& src, const DtTensorRef& dst);
  DtStatus* PlanDownload(const DtTensorRef& src, const DtTensorRef& dst);
  DtStatus* PlanDeviceCopy(const DtTensorRef& src, const DtTensorRef& dst);
  DtStatus* AddKernel(KernelJob job, Scratch src, Scratch dst);
  // Host bytes of `t` packed densely and padded to a multiple of 4.
  const uint8_t* Packed(const DtTensorRef& t, size_t* bytes);
  bool Touched(wgpu::Buffer buffer) const {
    return std::find(touched_.begin(), touched_.end(), buffer) != touched_.end();
  }
  uint64_t RealSize(wgpu::Buffer buffer) const { return api_.BufferGetSize(buffer); }
  wgpu::Buffer Resolve(Scratch scratch, wgpu::Buffer buffer) const;
  DtStatus* Encode(wgpu::CommandEncoder encoder);
  void ReleaseScratch();

  Context& context_;
  const wgpu::Api& api_;
  std::vector<Command> commands_;
  std::vector<Write> writes_;
  std::vector<std::vector<uint8_t>> host_copies_;
  std::vector<wgpu::Buffer> touched_;  // buffers the encoder's commands use so far
  std::vector<HostTarget> targets_;
  uint64_t upload_bytes_ = 0, pack_bytes_ = 0, readback_bytes_ = 0;

  struct Owned {
    wgpu::Buffer buffer = nullptr;
    uint64_t capacity = 0;
    wgpu::Flags usage = 0;
  };
  Owned upload_, pack_, readback_;
  std::vector<Owned> params_;
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
  size_t bytes = 0;
  const uint8_t* data = Packed(src, &bytes);
  wgpu::Buffer buffer = BufferOf(dst);
  if (WordAligned(dst) && !Touched(buffer)) {
    // Nothing earlier in this batch uses the buffer: the queue's own write is exact and in order.
    writes_.push_back({buffer, dst.byte_offset, data, bytes});
    return nullptr;
  }
  const uint64_t offset = upload_bytes_;
  upload_bytes_ += RoundUp4(bytes);
  writes_.push_back({nullptr, offset, data, static_cast<size_t>(RoundUp4(bytes))});
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

DtStatus* Batch::PlanDownload(const DtTensorRef& src, const DtTensorRef& dst) {
  const uint64_t bytes = Elements(src) * src.element_size;
  wgpu::Buffer buffer = BufferOf(src);
  HostTarget target{};
  target.data = static_cast<uint8_t*>(dst.handle) + dst.byte_offset;
  target.element_size = dst.element_size;
  target.rank = dst.rank;
  std::copy(dst.shape, dst.shape + dst.rank, target.shape);
  std::copy(dst.strides, dst.strides + dst.rank, target.strides);
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
    case Scratch::kUpload: return upload_.buffer;
    case Scratch::kPack: return pack_.buffer;
    case Scratch::kReadback: return readback_.buffer;
    case Scratch::kNone: break;
  }
  return buffer;
}

DtStatus* Batch::Encode(wgpu::CommandEncoder encoder) {
  size_t i = 0;
  while (i < commands_.size()) {
    const Command& command = commands_[i];
    if (!command.is_kernel) {
      wgpu::Buffer dst = Resolve(command.dst.scratch, command.dst.buffer);
      if (command.src.scratch == Scratch::kNone && command.src.buffer == nullptr) {
        api_.CommandEncoderClearBuffer(encoder, dst, command.dst.offset, command.size);
      } else {
        api_.CommandEncoderCopyBufferToBuffer(encoder, Resolve(command.src.scratch, command.src.buffer),
                                              command.src.offset, dst, command.dst.offset,
                                              command.size);
      }
      ++i;
      continue;
    }
    // Consecutive kernels share one compute pass.
    std::vector<KernelJob> jobs;
    for (; i < commands_.size() && commands_[i].is_kernel; ++i) {
      KernelJob job = commands_[i].job;
      job.src.buffer = Resolve(commands_[i].job_src, job.src.buffer);
      job.dst.buffer = Resolve(commands_[i].job_dst, job.dst.buffer);
      if (commands_[i].job_src != Scratch::kNone) job.src.buffer_bytes = RealSize(job.src.buffer);
      if (commands_[i].job_dst != Scratch::kNone) job.dst.buffer_bytes = RealSize(job.dst.buffer);
      jobs.push_back(job);
    }
    Owned params;
    params.usage = wgpu::usage::kStorage | wgpu::usage::kCopyDst;
    if (DtStatus* s = EncodeKernelJobs(context_, encoder, jobs, &params.buffer, &params.capacity)) {
      return s;
    }
    params_.push_back(params);
  }
  return nullptr;
}

void Batch::ReleaseScratch() {
  for (Owned* owned : {&upload_, &pack_}) {
    if (owned->buffer != nullptr) context_.Recycle(owned->buffer, owned->capacity, owned->usage);
    owned->buffer = nullptr;
  }
  for (Owned& owned : params_) context_.Recycle(owned.buffer, owned.capacity, owned.usage);
  params_.clear();
  if (readback_.buffer != nullptr) {
    context_.Recycle(readback_.buffer, readback_.capacity, readback_.usage);
    readback_.buffer = nullptr;
  }
}

void OnMapped(uint32_t status, wgpu::StringView, void* userdata, void*) {
  static_cast<PendingDownload*>(userdata)->map_status = status;
}

// Copies a mapped read-back buffer out to its host targets, unmaps it and pools it.
DtStatus* FinishDownload(Context& context, PendingDownload& download) {
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
    context.Recycle(download.readback, download.capacity, wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
  } else {
    api.BufferRelease(download.readback);
  }
  download.readback = nullptr;
  return status;
}

// Finishes a stream's downloads in order; the first error is reported, all are finished.
DtStatus* FinishDownloads(Context& context, Stream& stream) {
  DtStatus* first = nullptr;
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
  auto take = [&](Owned& owned, uint64_t bytes, wgpu::Flags usage) -> DtStatus* {
    if (bytes == 0) return nullptr;
    owned.usage = usage;
    return context_.TakeBuffer(bytes, usage, &owned.buffer, &owned.capacity);
  };
  if (DtStatus* s = take(upload_, upload_bytes_, Context::kTensorUsage)) return s;
  if (DtStatus* s = take(pack_, pack_bytes_, wgpu::usage::kStorage | wgpu::usage::kCopySrc)) return s;
  if (DtStatus* s = take(readback_, readback_bytes_, wgpu::usage::kMapRead | wgpu::usage::kCopyDst)) {
    return s;
  }
  // Record first: a failure there leaves nothing written. The queue's writes, issued next, still
  // land before the recorded commands run, since those are submitted after them.
  wgpu::CommandEncoder encoder = api_.DeviceCreateCommandEncoder(context_.device(), nullptr);
  if (DtStatus* s = Encode(encoder)) {
    api_.CommandEncoderRelease(encoder);
    return s;
  }
  for (const Write& write : writes_) {
    api_.QueueWriteBuffer(context_.queue(), write.buffer ? write.buffer : upload_.buffer,
                          write.offset, write.data, write.size);
  }
  // Always submit, even with no commands: it also flushes the queue's writes.
  context_.Submit(encoder);

  std::unique_ptr<PendingDownload> download;
  if (readback_.buffer != nullptr) {
    download = std::make_unique<PendingDownload>();
    download->readback = readback_.buffer;
    download->capacity = readback_.capacity;
    download->bytes = readback_bytes_;
    download->targets = std::move(targets_);
    readback_.buffer = nullptr;  // the download owns it now
    wgpu::BufferMapCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnMapped,
                                     download.get(), nullptr};
    download->map = api_.BufferMapAsync(download->readback, wgpu::map_mode::kRead, 0,
                                        download->bytes, info);
  }
  ReleaseScratch();  // submitted: the pools may hand these out again
  if (stream != nullptr) {
    stream->has_work = true;
    if (download) stream->downloads.push_back(std::move(download));
    return context_.TakeErrors();
  }
  if (download) {
    if (DtStatus* s = FinishDownload(context_, *download)) return s;
    return context_.TakeErrors();
  }
  return context_.WaitIdle();
}

}  // namespace

// Host bytes [begin, end) a CPU tensor's elements span.
std::pair<const uint8_t*, const uint8_t*> HostSpan(const DtTensorRef& t) {
  size_t last = 0;
  for (size_t i = 0; i < t.rank; ++i) {
    last += static_cast<size_t>(t.shape[i] - 1) * static_cast<size_t>(t.strides[i]);
  }
  const auto* begin = static_cast<const uint8_t*>(t.handle) + t.byte_offset;
  return {begin, begin + (last + 1) * t.element_size};
}

DtStatus* CopyBatch(Context& context, const DtCopyPair* pairs, size_t count, Stream* stream) {
  std::lock_guard<std::mutex> lock(context.mutex());
  if (DtStatus* s = context.CheckAlive()) return s;
  {
    // Every pair is planned once before anything runs, so that a bad one writes nothing.
    Batch check(context);
    for (size_t i = 0; i < count; ++i) {
      if (DtStatus* s = check.Plan(pairs[i])) return s;
    }
  }
  // An upload reads host memory when it is planned; if an earlier download of this call writes
  // that memory, the work before it runs (and its downloads land) first.
  auto batch = std::make_unique<Batch>(context);
  std::vector<std::pair<const uint8_t*, const uint8_t*>> downloaded;
  for (size_t i = 0; i < count; ++i) {
    const DtTensorRef& src = *pairs[i].src;
    if (src.device_type == DT_DEVICE_CPU) {
      const auto span = HostSpan(src);
      const bool overlaps = std::any_of(downloaded.begin(), downloaded.end(), [&](const auto& d) {
        return span.first < d.second && d.first < span.second;
      });
      if (overlaps) {
        if (DtStatus* s = batch->Run(stream)) return s;
        if (stream != nullptr) {
          if (DtStatus* s = FinishDownloads(context, *stream)) return s;
        }
        batch = std::make_unique<Batch>(context);
        downloaded.clear();
      }
    }
    if (DtStatus* s = batch->Plan(pairs[i])) return s;
    if (pairs[i].dst->device_type == DT_DEVICE_CPU) downloaded.push_back(HostSpan(*pairs[i].dst));
  }
  // Uploads read host memory now; a download queued earlier on the stream may be meant to fill it
  // first, so those finish before.
  if (stream != nullptr && !stream->downloads.empty() && batch->ReadsHostMemory()) {
    if (DtStatus* s = FinishDownloads(context, *stream)) return s;
  }
  return batch->Run(stream);
}

DtStatus* ZeroView(Context& context, const DtTensorRef& tensor, Stream* stream) {
  std::lock_guard<std::mutex> lock(context.mutex());
  if (DtStatus* s = context.CheckAlive()) return s;
  Batch batch(context);
  if (DtStatus* s = batch.PlanZero(tensor)) return s;
  return batch.Run(stream);
}

DtStatus* SynchronizeStream(Stream& stream) {
  Context& context = *stream.context;
  std::lock_guard<std::mutex> lock(context.mutex());
  DtStatus* first = FinishDownloads(context, stream);
  if (stream.has_work) {
    stream.has_work = false;
    DtStatus* status = context.WaitIdle();
    if (first == nullptr) return status;
    if (status != nullptr) context.host()->ReleaseStatus(status);
  }
  return first;
}

}  // namespace devtensor::webgpu
