#include "providers/webgpu/copy_plan.h"

#include <memory>
#include <utility>

#include "common/return_if_error.h"
#include "host_memory/strided_copy.h"
#include "layout/layout.h"
#include "providers/webgpu/bulk_copy.h"
#include "providers/webgpu/stream.h"

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

}  // namespace

const uint8_t* CopyPlan::Packed(const DtTensorRef& t, size_t* bytes) {
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

DtStatus* CopyPlan::AddKernel(KernelJob job, Scratch src, Scratch dst) {
  DT_RETURN_IF_ERROR(CheckKernelJob(context_, job));
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

DtStatus* CopyPlan::PlanUpload(const DtTensorRef& src, const DtTensorRef& dst) {
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
    DT_RETURN_IF_ERROR(AddKernel(MakeKernelJob(target, buffer, &staged.ref, nullptr),
                                 Scratch::kUpload, Scratch::kNone));
  }
  touched_.push_back(buffer);
  return nullptr;
}

bool CopyPlan::PlanImportedCopy(const DtTensorRef& host, const uint8_t* data, size_t bytes,
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

DtStatus* CopyPlan::PlanDownload(const DtTensorRef& src, const DtTensorRef& dst) {
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
    DT_RETURN_IF_ERROR(AddKernel(MakeKernelJob(packed.ref, nullptr, &from, buffer), Scratch::kNone,
                                 Scratch::kPack));
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

DtStatus* CopyPlan::PlanDeviceCopy(const DtTensorRef& src, const DtTensorRef& dst) {
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
    DT_RETURN_IF_ERROR(AddKernel(MakeKernelJob(b, to, &a, from), Scratch::kNone, Scratch::kNone));
  }
  touched_.push_back(from);
  touched_.push_back(to);
  return nullptr;
}

DtStatus* CopyPlan::Plan(const DtCopyPair& pair) {
  const bool src_gpu = pair.src->device_type == DT_DEVICE_WEBGPU;
  const bool dst_gpu = pair.dst->device_type == DT_DEVICE_WEBGPU;
  if (src_gpu && dst_gpu) return PlanDeviceCopy(*pair.src, *pair.dst);
  if (dst_gpu) return PlanUpload(*pair.src, *pair.dst);
  return PlanDownload(*pair.src, *pair.dst);
}

DtStatus* CopyPlan::PlanZero(const DtTensorRef& tensor) {
  wgpu::Buffer buffer = BufferOf(tensor);
  if (WordAligned(tensor)) {
    Command clear;  // a copy with no source is a clear
    clear.dst = {Scratch::kNone, buffer, tensor.byte_offset};
    clear.size = Elements(tensor) * tensor.element_size;
    commands_.push_back(clear);
  } else {
    DtTensorRef target = tensor;
    target.buffer_bytes = RealSize(buffer);
    DT_RETURN_IF_ERROR(AddKernel(MakeKernelJob(target, buffer, nullptr, nullptr), Scratch::kNone,
                                 Scratch::kNone));
  }
  touched_.push_back(buffer);
  return nullptr;
}

wgpu::Buffer CopyPlan::Resolve(Scratch scratch, wgpu::Buffer buffer) const {
  switch (scratch) {
    case Scratch::kUpload: return upload_;
    case Scratch::kPack: return pack_;
    case Scratch::kReadback: return readback_;
    case Scratch::kNone: break;
  }
  return buffer;
}

DtStatus* CopyPlan::Record(CommandList& list) {
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
      DT_RETURN_IF_ERROR(RecordBulkCopy(context_, list, command.src.buffer, command.src.offset,
                                        command.dst.buffer, command.dst.offset, command.size));
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
    DT_RETURN_IF_ERROR(RecordKernelJobs(context_, list, jobs));
  }
  return nullptr;
}

DtStatus* CopyPlan::Run(Stream* stream) {
  // Scratch first: an allocation failure leaves nothing written.
  auto list = std::make_unique<CommandList>(context_);
  if (upload_bytes_ > 0) {
    DT_RETURN_IF_ERROR(list->TakeBuffer(upload_bytes_, Context::kTensorUsage, &upload_));
  }
  if (pack_bytes_ > 0) {
    DT_RETURN_IF_ERROR(
        list->TakeBuffer(pack_bytes_, wgpu::usage::kStorage | wgpu::usage::kCopySrc, &pack_));
  }
  std::shared_ptr<Download> download;
  if (readback_bytes_ > 0) {
    download = std::make_shared<Download>();
    download->bytes = readback_bytes_;
    download->targets = std::move(targets_);
    DT_RETURN_IF_ERROR(context_.TakeBuffer(readback_bytes_,
                                           wgpu::usage::kMapRead | wgpu::usage::kCopyDst,
                                           &download->readback, &download->capacity));
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

}  // namespace devtensor::webgpu
