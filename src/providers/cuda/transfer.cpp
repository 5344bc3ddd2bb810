#include "providers/cuda/transfer.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/return_if_error.h"
#include "host_memory/strided_copy.h"
#include "layout/layout.h"
#include "providers/cuda/errors.h"
#include "providers/cuda/host_copy.h"
#include "providers/cuda/host_registry.h"
#include "providers/cuda/launch.h"
#include "providers/cuda/parallel_copy.h"

namespace devtensor::cuda {
namespace {

bool IsContiguous(const DtTensorRef& t) {
  Layout layout;
  layout.rank = t.rank;
  std::copy(t.shape, t.shape + t.rank, layout.shape);
  std::copy(t.strides, t.strides + t.rank, layout.strides);
  layout.element_size = t.element_size;
  return devtensor::IsContiguous(layout);
}

// True when [data, data + bytes) is host memory pinned or registered with CUDA, which copies
// reach by DMA directly.
bool IsPinned(const DriverApi& api, const void* data, size_t bytes) {
  const auto address = reinterpret_cast<CUdeviceptr>(data);
  unsigned type = 0;
  if (api.cuPointerGetAttribute(&type, kPointerMemoryType, address) != kCudaSuccess ||
      type != kMemoryTypeHost) {
    return false;
  }
  void* start = nullptr;
  size_t size = 0;
  if (api.cuPointerGetAttribute(&start, kPointerRangeStart, address) != kCudaSuccess ||
      api.cuPointerGetAttribute(&size, kPointerRangeSize, address) != kCudaSuccess) {
    return false;
  }
  const auto begin = reinterpret_cast<CUdeviceptr>(start);
  return address >= begin && address + bytes <= begin + size;
}

// The copies between device tensors that one kernel launch makes (up to DTK_COPY_BATCH pairs
// that neither read what another writes nor write what another reads).
class KernelCopies {
 public:
  explicit KernelCopies(WorkStream& work) : work_(work) { block_.pairs = 0; }

  DtStatus* Add(const char* src, const int64_t* src_strides, char* dst,
                const int64_t* dst_strides, const int64_t* shape, size_t rank,
                size_t element_size, Extent reads, Extent writes) {
    if (block_.pairs == DTK_COPY_BATCH || Conflicts(reads, writes)) DT_RETURN_IF_ERROR(Flush());
    const int64_t* strides[2] = {src_strides, dst_strides};
    DtkCopyPair& p = block_.pair[block_.pairs];
    int64_t merged_src[DT_MAX_RANK], merged_dst[DT_MAX_RANK];
    int64_t* merged[2] = {merged_src, merged_dst};
    int64_t merged_shape[DT_MAX_RANK];
    const size_t merged_rank = MergeDimensions(shape, rank, strides, 2, merged_shape, merged);
    p.src = src;
    p.dst = dst;
    p.rank = int(merged_rank);
    p.element_size = int(element_size);
    for (size_t d = 0; d < merged_rank; ++d) {
      p.shape[d] = merged_shape[d];
      p.src_strides[d] = merged_src[d];
      p.dst_strides[d] = merged_dst[d];
    }
    block_.first[block_.pairs + 1] = block_.first[block_.pairs] + CountOf(shape, rank);
    ++block_.pairs;
    reads_.push_back(reads);
    writes_.push_back(writes);
    return nullptr;
  }

  DtStatus* Flush() {
    if (block_.pairs == 0) return nullptr;
    KernelCall call("dtk_copy_pairs_op", block_, block_.first[block_.pairs]);
    call.reads = std::move(reads_);
    call.writes = std::move(writes_);
    block_.pairs = 0;
    reads_.clear();
    writes_.clear();
    return Launch(work_, std::move(call));
  }

 private:
  bool Conflicts(const Extent& reads, const Extent& writes) const {
    for (const Extent& w : writes_) {
      if (w.Overlaps(reads)) return true;
    }
    for (const Extent& r : reads_) {
      if (r.Overlaps(writes)) return true;
    }
    return false;
  }

  WorkStream& work_;
  DtkCopyBatch block_{};
  std::vector<Extent> reads_, writes_;
};

// Pageable copies up to this size, of work without a stream, go through the driver's own staging:
// one call, no event of ours to record.
constexpr size_t kDriverStagedBytes = size_t(64) << 10;

// One batch's copies on one work stream.
class Copier {
 public:
  Copier(WorkStream& work, Device* (*device_of)(int32_t))
      : work_(work), device_of_(device_of), kernels_(work) {}

  DtStatus* Copy(const DtCopyPair& pair) {
    const DtTensorRef &src = *pair.src, &dst = *pair.dst;
    const bool src_device = src.device_type == DT_DEVICE_CUDA;
    const bool dst_device = dst.device_type == DT_DEVICE_CUDA;
    if (CountOf(src.shape, src.rank) == 0) return nullptr;
    if (src_device && dst_device) return DeviceToDevice(src, dst);
    DT_RETURN_IF_ERROR(InOrder());
    return dst_device ? HostToDevice(src, dst) : DeviceToHost(src, dst);
  }

  DtStatus* Finish() { return kernels_.Flush(); }

  // Before work other than kernels (DMA, host functions): every kernel call issued before it is
  // launched, also those the stream (or its recording) held back.
  DtStatus* InOrder() {
    DT_RETURN_IF_ERROR(kernels_.Flush());
    return FlushHeldCalls(work_);
  }

 private:
  const DriverApi& api() const { return work_.device().api(); }

  // Pinned host memory for one stream copy: the staging ring's, or, while recording, the graph's.
  DtStatus* TakePinned(size_t bytes, char** memory) {
    if (GraphResources* recording = work_.recording()) {
      DT_CUDA_RETURN_IF_ERROR("pinning host memory for a recorded copy", api(), cuMemHostAlloc,
                              reinterpret_cast<void**>(memory), bytes, kMemHostAllocPortable);
      recording->pinned.push_back(*memory);
      return nullptr;
    }
    Staging& staging = work_.device().staging();
    if (!staging_lock_.owns_lock()) staging_lock_ = std::unique_lock(staging.mutex());
    return staging.Take(bytes, memory);
  }
  DtStatus* GivePinned(char* memory) {
    if (work_.recording() != nullptr) return nullptr;
    return work_.device().staging().Give(memory, work_.handle());
  }

  // While recording, pins the pages of [host, host + bytes) for the graph's life, so that its
  // replays move them by DMA (a host function in a graph costs tens of microseconds). False when
  // not recording or when CUDA refuses (pages another registration holds, say).
  bool PinForGraph(const char* host, size_t bytes) {
    GraphResources* recording = work_.recording();
    if (recording == nullptr) return false;
    static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const uintptr_t first = reinterpret_cast<uintptr_t>(host) & ~(page - 1);
    const uintptr_t last = (reinterpret_cast<uintptr_t>(host) + bytes + page - 1) & ~(page - 1);
    void* pages = reinterpret_cast<void*>(first);
    if (api().cuMemHostRegister(pages, last - first, kMemHostRegisterPortable) != kCudaSuccess) {
      return false;
    }
    recording->registered.push_back(pages);
    return true;
  }

  // Whether the contiguous host bytes [host, host + bytes) of `t` are reached by DMA directly:
  // pages the registry registered (held by a recording for its graph's life), pages the
  // application pinned, or, while recording, pages pinned for the graph.
  bool ReachedByDma(const DtTensorRef& t, const char* host, size_t bytes) {
    GraphResources* recording = work_.recording();
    if (recording == nullptr && IsPinned(api(), host, bytes)) return true;
    if (std::shared_ptr<HostPages> pages =
            HostRegistry::Get().Use(work_.device(), t.handle, t.buffer_bytes, host, bytes)) {
      if (recording != nullptr) recording->host_pages.push_back(std::move(pages));
      return true;
    }
    return recording != nullptr && (IsPinned(api(), host, bytes) || PinForGraph(host, bytes));
  }

  // Queues a host copy on the stream, after the work queued before it.
  DtStatus* QueueHostCopy(std::unique_ptr<HostCopy> copy) {
    if (GraphResources* recording = work_.recording()) {
      HostCopy* kept = copy.get();
      recording->host_copies.push_back(std::move(copy));
      DT_CUDA_RETURN_IF_ERROR("recording a host copy", api(), cuLaunchHostFunc, work_.handle(),
                              &HostCopy::RunKept, kept);
      return nullptr;
    }
    HostCopy* once = copy.release();
    if (CUresult r = api().cuLaunchHostFunc(work_.handle(), &HostCopy::RunOnce, once);
        r != kCudaSuccess) {
      delete once;
      return CudaFail("queueing a host copy", "cuLaunchHostFunc", r);
    }
    return nullptr;
  }

  static std::unique_ptr<HostCopy> MakeHostCopy(const char* from, const int64_t* from_strides,
                                                char* to, const int64_t* to_strides,
                                                const DtTensorRef& shape_of) {
    auto copy = std::make_unique<HostCopy>();
    copy->src = from;
    copy->dst = to;
    copy->rank = shape_of.rank;
    copy->element_size = shape_of.element_size;
    std::copy(shape_of.shape, shape_of.shape + shape_of.rank, copy->shape);
    std::copy(from_strides, from_strides + shape_of.rank, copy->src_strides);
    std::copy(to_strides, to_strides + shape_of.rank, copy->dst_strides);
    return copy;
  }

  DtStatus* HostToDevice(const DtTensorRef& src, const DtTensorRef& dst) {
    const size_t bytes = size_t(CountOf(src.shape, src.rank)) * src.element_size;
    const char* host = ElementZero(src);
    const auto device = reinterpret_cast<CUdeviceptr>(ElementZero(dst));
    const bool host_contiguous = IsContiguous(src), device_contiguous = IsContiguous(dst);
    const bool pinned_host = host_contiguous && ReachedByDma(src, host, bytes);
    if (pinned_host && device_contiguous) {
      DT_CUDA_RETURN_IF_ERROR("copying to a CUDA tensor", api(), cuMemcpyAsync, device,
                              reinterpret_cast<CUdeviceptr>(host), bytes, work_.handle());
      work_.Did();
      return nullptr;
    }
    int64_t packed[DT_MAX_RANK];
    ContiguousStrides(src.shape, src.rank, packed);
    CUdeviceptr target = device;
    if (!device_contiguous) DT_RETURN_IF_ERROR(work_.Temporary(bytes, &target));
    if (pinned_host) {
      DT_CUDA_RETURN_IF_ERROR("copying to a CUDA tensor", api(), cuMemcpyAsync, target,
                              reinterpret_cast<CUdeviceptr>(host), bytes, work_.handle());
    } else if (work_.synchronous()) {
      std::vector<char> gathered;
      if (!host_contiguous) {
        gathered.resize(bytes);
        CopyStrided(host, src.strides, gathered.data(), packed, src.shape, src.rank,
                    src.element_size);
        host = gathered.data();
      }
      DT_RETURN_IF_ERROR(UploadPageable(host, target, bytes));
    } else {
      char* pinned = nullptr;
      DT_RETURN_IF_ERROR(TakePinned(bytes, &pinned));
      DT_RETURN_IF_ERROR(QueueHostCopy(MakeHostCopy(host, src.strides, pinned, packed, src)));
      DT_CUDA_RETURN_IF_ERROR("copying to a CUDA tensor", api(), cuMemcpyAsync, target,
                              reinterpret_cast<CUdeviceptr>(pinned), bytes, work_.handle());
      DT_RETURN_IF_ERROR(GivePinned(pinned));
    }
    work_.Did();
    if (!device_contiguous) {
      const char* from = reinterpret_cast<const char*>(target);
      DT_RETURN_IF_ERROR(kernels_.Add(from, packed, ElementZero(dst), dst.strides, dst.shape,
                                      dst.rank, dst.element_size,
                                      {uintptr_t(target), uintptr_t(target + bytes)},
                                      ExtentOf(dst)));
    }
    return nullptr;
  }

  // Pageable (or strided-then-gathered) host bytes to device memory, through the staging ring:
  // each chunk's host copy (on several cores) overlaps the DMA of the chunk before.
  DtStatus* UploadPageable(const char* host, CUdeviceptr device, size_t bytes) {
    if (bytes <= kDriverStagedBytes) {
      DT_CUDA_RETURN_IF_ERROR("copying to a CUDA tensor", api(), cuMemcpyAsync, device,
                              reinterpret_cast<CUdeviceptr>(host), bytes, work_.handle());
      return nullptr;
    }
    Staging& staging = work_.device().staging();
    std::lock_guard<std::recursive_mutex> lock(staging.mutex());
    for (size_t offset = 0; offset < bytes; offset += Staging::kSlotBytes) {
      const size_t chunk = std::min(Staging::kSlotBytes, bytes - offset);
      char* slot = nullptr;
      DT_RETURN_IF_ERROR(staging.Next(&slot));
      ParallelCopy(slot, host + offset, chunk);
      DT_CUDA_RETURN_IF_ERROR("copying to a CUDA tensor", api(), cuMemcpyAsync, device + offset,
                              reinterpret_cast<CUdeviceptr>(slot), chunk, work_.handle());
      DT_RETURN_IF_ERROR(staging.Release(work_.handle()));
    }
    return nullptr;
  }

  // Device memory to pageable host memory through the staging ring: a chunk is copied out of its
  // slot while the DMAs of the next chunks run.
  DtStatus* DownloadPageable(CUdeviceptr device, char* host, size_t bytes) {
    if (bytes <= kDriverStagedBytes) {
      DT_CUDA_RETURN_IF_ERROR("copying from a CUDA tensor", api(), cuMemcpyAsync,
                              reinterpret_cast<CUdeviceptr>(host), device, bytes, work_.handle());
      return nullptr;
    }
    Staging& staging = work_.device().staging();
    std::lock_guard<std::recursive_mutex> lock(staging.mutex());
    struct InFlight {
      char* slot;
      size_t offset, size;
    };
    std::deque<InFlight> in_flight;
    auto drain_one = [&]() -> DtStatus* {
      const InFlight done = in_flight.front();
      in_flight.pop_front();
      DT_RETURN_IF_ERROR(staging.Wait(done.slot));
      ParallelCopy(host + done.offset, done.slot, done.size);
      return nullptr;
    };
    for (size_t offset = 0; offset < bytes; offset += Staging::kSlotBytes) {
      const size_t chunk = std::min(Staging::kSlotBytes, bytes - offset);
      if (in_flight.size() + 1 >= size_t(Staging::kSlots)) DT_RETURN_IF_ERROR(drain_one());
      char* slot = nullptr;
      DT_RETURN_IF_ERROR(staging.Next(&slot));
      DT_CUDA_RETURN_IF_ERROR("copying from a CUDA tensor", api(), cuMemcpyAsync,
                              reinterpret_cast<CUdeviceptr>(slot), device + offset, chunk,
                              work_.handle());
      DT_RETURN_IF_ERROR(staging.Release(work_.handle()));
      in_flight.push_back({slot, offset, chunk});
    }
    while (!in_flight.empty()) DT_RETURN_IF_ERROR(drain_one());
    return nullptr;
  }

  DtStatus* DeviceToHost(const DtTensorRef& src, const DtTensorRef& dst) {
    const size_t bytes = size_t(CountOf(src.shape, src.rank)) * src.element_size;
    char* host = ElementZero(dst);
    const auto device = reinterpret_cast<CUdeviceptr>(ElementZero(src));
    const bool host_contiguous = IsContiguous(dst), device_contiguous = IsContiguous(src);
    const bool pinned_host = host_contiguous && ReachedByDma(dst, host, bytes);
    if (pinned_host && device_contiguous) {
      DT_CUDA_RETURN_IF_ERROR("copying from a CUDA tensor", api(), cuMemcpyAsync,
                              reinterpret_cast<CUdeviceptr>(host), device, bytes, work_.handle());
      work_.Did();
      return nullptr;
    }
    int64_t packed[DT_MAX_RANK];
    ContiguousStrides(src.shape, src.rank, packed);
    CUdeviceptr source = device;
    if (!device_contiguous) {
      DT_RETURN_IF_ERROR(work_.Temporary(bytes, &source));
      DT_RETURN_IF_ERROR(kernels_.Add(ElementZero(src), src.strides,
                                      reinterpret_cast<char*>(source), packed, src.shape,
                                      src.rank, src.element_size, ExtentOf(src),
                                      {uintptr_t(source), uintptr_t(source + bytes)}));
      DT_RETURN_IF_ERROR(InOrder());
    }
    if (pinned_host) {
      DT_CUDA_RETURN_IF_ERROR("copying from a CUDA tensor", api(), cuMemcpyAsync,
                              reinterpret_cast<CUdeviceptr>(host), source, bytes, work_.handle());
    } else if (work_.synchronous()) {
      if (host_contiguous) {
        DT_RETURN_IF_ERROR(DownloadPageable(source, host, bytes));
      } else {
        std::vector<char> gathered(bytes);
        DT_RETURN_IF_ERROR(DownloadPageable(source, gathered.data(), bytes));
        CopyStrided(gathered.data(), packed, host, dst.strides, dst.shape, dst.rank,
                    dst.element_size);
      }
    } else {
      char* pinned = nullptr;
      DT_RETURN_IF_ERROR(TakePinned(bytes, &pinned));
      DT_CUDA_RETURN_IF_ERROR("copying from a CUDA tensor", api(), cuMemcpyAsync,
                              reinterpret_cast<CUdeviceptr>(pinned), source, bytes,
                              work_.handle());
      DT_RETURN_IF_ERROR(QueueHostCopy(MakeHostCopy(pinned, packed, host, dst.strides, dst)));
      DT_RETURN_IF_ERROR(GivePinned(pinned));
    }
    work_.Did();
    return nullptr;
  }

  DtStatus* DeviceToDevice(const DtTensorRef& src, const DtTensorRef& dst) {
    Device& here = work_.device();
    Device* src_device = device_of_(src.device_id);
    Device* dst_device = device_of_(dst.device_id);
    const size_t bytes = size_t(CountOf(src.shape, src.rank)) * src.element_size;
    const auto from = reinterpret_cast<CUdeviceptr>(ElementZero(src));
    const auto to = reinterpret_cast<CUdeviceptr>(ElementZero(dst));
    if (IsContiguous(src) && IsContiguous(dst)) {
      DT_RETURN_IF_ERROR(InOrder());
      if (src_device == dst_device) {
        DT_CUDA_RETURN_IF_ERROR("copying between CUDA tensors", api(), cuMemcpyAsync, to, from,
                                bytes, work_.handle());
      } else {
        DT_CUDA_RETURN_IF_ERROR("copying between CUDA devices", api(), cuMemcpyPeerAsync, to,
                                dst_device->context(), from, src_device->context(), bytes,
                                work_.handle());
      }
      work_.Did();
      return nullptr;
    }
    Device& other = src_device == &here ? *dst_device : *src_device;
    if (here.CanReach(other)) {
      work_.Did();
      return kernels_.Add(ElementZero(src), src.strides, ElementZero(dst), dst.strides, src.shape,
                          src.rank, src.element_size, ExtentOf(src), ExtentOf(dst));
    }
    return BetweenUnreachableDevices(src, dst, *src_device);
  }

  // A strided copy between CUDA devices that cannot reach each other's memory: gathered on the
  // source device, moved by the driver, scattered on this one.
  DtStatus* BetweenUnreachableDevices(const DtTensorRef& src, const DtTensorRef& dst,
                                      Device& src_device) {
    if (work_.recording() != nullptr) {
      return Fail(DT_NOT_SUPPORTED,
                  "a strided copy between CUDA devices " + std::to_string(src.device_id) +
                      " and " + std::to_string(dst.device_id) +
                      ", which have no peer access, cannot be recorded; copy contiguous tensors");
    }
    DT_RETURN_IF_ERROR(InOrder());
    const size_t bytes = size_t(CountOf(src.shape, src.rank)) * src.element_size;
    int64_t packed[DT_MAX_RANK];
    ContiguousStrides(src.shape, src.rank, packed);
    CUdeviceptr gathered = 0, landed = 0;
    DT_RETURN_IF_ERROR(src_device.Allocate(bytes, &gathered));
    {
      WorkStream there(src_device, nullptr);
      KernelCopies gather(there);
      DtStatus* status = gather.Add(ElementZero(src), src.strides,
                                    reinterpret_cast<char*>(gathered), packed, src.shape,
                                    src.rank, src.element_size, ExtentOf(src), {});
      if (status == nullptr) status = gather.Flush();
      if (status == nullptr) status = there.Finish();
      if (status != nullptr) {
        src_device.Free(gathered);
        return status;
      }
    }
    DtStatus* status = work_.Temporary(bytes, &landed);
    if (status == nullptr) {
      const CUresult r =
          api().cuMemcpyPeerAsync(landed, work_.device().context(), gathered,
                                  src_device.context(), bytes, work_.handle());
      if (r != kCudaSuccess) status = CudaFail("copying between CUDA devices", "cuMemcpyPeerAsync", r);
    }
    if (status == nullptr && api().cuStreamSynchronize(work_.handle()) != kCudaSuccess) {
      status = Fail(DT_INTERNAL, "copying between CUDA devices failed");
    }
    src_device.Free(gathered);
    DT_RETURN_IF_ERROR(status);
    work_.Did();
    return kernels_.Add(reinterpret_cast<const char*>(landed), packed, ElementZero(dst),
                        dst.strides, dst.shape, dst.rank, dst.element_size, {}, ExtentOf(dst));
  }

  WorkStream& work_;
  Device* (*device_of_)(int32_t);
  KernelCopies kernels_;
  std::unique_lock<std::recursive_mutex> staging_lock_;  // from the first TakePinned on
};

}  // namespace

int32_t CudaDeviceOf(const DtCopyPair& pair) {
  return pair.dst->device_type == DT_DEVICE_CUDA ? pair.dst->device_id : pair.src->device_id;
}

DtStatus* CopyBatch(WorkStream& work, Device* (*device_of)(int32_t), const DtCopyPair* pairs,
                    size_t count) {
  Copier copier(work, device_of);
  for (size_t i = 0; i < count; ++i) DT_RETURN_IF_ERROR(copier.Copy(pairs[i]));
  return copier.Finish();
}

DtStatus* ZeroView(WorkStream& work, const DtTensorRef& tensor) {
  const unsigned long long count = CountOf(tensor.shape, tensor.rank);
  if (count == 0) return nullptr;
  work.Did();
  if (IsContiguous(tensor)) {
    DT_RETURN_IF_ERROR(FlushHeldCalls(work));
    DT_CUDA_RETURN_IF_ERROR("zeroing a CUDA tensor", work.device().api(), cuMemsetD8Async,
                            reinterpret_cast<CUdeviceptr>(ElementZero(tensor)), 0,
                            size_t(count) * tensor.element_size, work.handle());
    return nullptr;
  }
  DtkFill block{};
  SetShape(&block.t, tensor.shape, tensor.rank);
  SetTensor(&block.t, 0, tensor);
  block.bits = 0;
  KernelCall call(OpName("dtk_fill_op", WordTypeName(tensor.element_size)), block, count);
  call.writes.push_back(ExtentOf(tensor));
  return Launch(work, std::move(call));
}

}  // namespace devtensor::cuda
