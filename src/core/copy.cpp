// DtCopyTensors and DtZeroTensor: validate a whole batch, plan each pair onto a data transfer
// (directly, through host memory, or through a temporary when source and destination overlap),
// then run the plan in order, batching consecutive steps of one transfer into one call.
#include <algorithm>
#include <cstring>
#include <memory_resource>
#include <numeric>
#include <tuple>
#include <vector>

#include "core/env.h"
#include "common/status.h"
#include "core/stream.h"
#include "core/tensor.h"

using devtensor::Error;
using devtensor::Guarded;

namespace devtensor {
namespace {

// A tensor's bytes for overlap tests: buffers of addressable devices are compared by address,
// opaque ones by handle.
struct Placement {
  DtDeviceType device_type;
  int32_t device_id;
  const void* space;  // null for the address space of an addressable device, else the handle
  Layout layout;      // byte_offset is absolute within the space
};

Placement PlacementOf(const Storage& storage, const Layout& layout) {
  Placement p{storage.device()->info.type, storage.device()->info.id, storage.handle(), layout};
  if (storage.addressable()) {
    p.space = nullptr;
    p.layout.byte_offset += reinterpret_cast<uintptr_t>(storage.handle());
  }
  return p;
}

bool SameSpace(const Placement& a, const Placement& b) {
  return a.device_type == b.device_type && a.device_id == b.device_id && a.space == b.space;
}

bool Overlap(const Placement& a, const Placement& b) {
  return SameSpace(a, b) && LayoutsOverlap(a.layout, b.layout);
}

// A tensor the plan made for itself (host staging, overlap staging, zeros).
struct Temporary {
  std::shared_ptr<Storage> storage;
  Layout layout;
};

// One call a transfer makes: a copy (src set) or a clear.
struct Step {
  FactoryInstance* factory;
  DtTensorRef src;
  DtTensorRef dst;
  bool is_zero;
  const std::shared_ptr<Storage>* keep[2];  // storages the step uses, held while queued
};

class Plan {
 public:
  Plan(DtEnv* env, size_t pairs) : env_(env) {
    steps_.reserve(pairs);
    pairs_.reserve(pairs);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  DtStatus* AddCopy(size_t index, const DtValue* src, DtValue* dst);
  DtStatus* AddZero(DtValue* tensor);
  // Lets every transfer refuse its pairs before any of them runs.
  DtStatus* Check();
  DtStatus* Run(DtStream* stream);

  // Finds (and remembers) the transfer for src -> dst.
  FactoryInstance* Transfer(const DtDevice* src, const DtDevice* dst);

 private:
  DtStatus* NewTemporary(const DtDevice* device, const Layout& like, bool zeroed, Temporary** out);
  void AddStep(FactoryInstance* factory, const std::shared_ptr<Storage>* src_storage,
               const Layout* src_layout, const std::shared_ptr<Storage>& dst_storage,
               const Layout& dst_layout, DtElementType type);
  DtStatus* RunGroup(size_t begin, size_t end, DtStream* stream,
                     std::vector<std::shared_ptr<Storage>>* done);

  DtEnv* env_;
  // A small call plans on the stack: no heap allocation on the per-token path.
  alignas(std::max_align_t) std::byte arena_[4096];
  std::pmr::monotonic_buffer_resource memory_{arena_, sizeof arena_};
  std::pmr::vector<Step> steps_{&memory_};
  std::pmr::vector<DtCopyPair> pairs_{&memory_};
  std::vector<std::unique_ptr<Temporary>> temporaries_;  // steps point into them
  std::vector<std::shared_ptr<ProviderInstance>> transfers_alive_;
  struct Route {
    const DtDevice* src;
    const DtDevice* dst;
    FactoryInstance* factory;
  };
  std::pmr::vector<Route> routes_{&memory_};
};

FactoryInstance* Plan::Transfer(const DtDevice* src, const DtDevice* dst) {
  for (const Route& route : routes_) {
    if (route.src == src && route.dst == dst) return route.factory;
  }
  TransferChoice choice;
  FactoryInstance* factory = nullptr;
  if (FindTransfer(*env_, src, dst, &choice)) {
    factory = choice.factory;
    if (choice.keep_alive) transfers_alive_.push_back(std::move(choice.keep_alive));
  }
  routes_.push_back({src, dst, factory});
  return factory;
}

DtStatus* Plan::NewTemporary(const DtDevice* device, const Layout& like, bool zeroed,
                             Temporary** out) {
  Temporary temporary;
  temporary.layout = like;
  temporary.layout.byte_offset = 0;
  ContiguousStrides(like.shape, like.rank, temporary.layout.strides);
  size_t elements = 0;
  ElementCount(like.shape, like.rank, &elements);
  DT_RETURN_IF_ERROR(Storage::Allocate(device, elements * like.element_size, &temporary.storage));
  if (zeroed) {  // only ever asked of the CPU device, whose handles are pointers
    std::memset(temporary.storage->handle(), 0, temporary.storage->bytes());
  }
  temporaries_.push_back(std::make_unique<Temporary>(std::move(temporary)));
  *out = temporaries_.back().get();
  return nullptr;
}

void Plan::AddStep(FactoryInstance* factory, const std::shared_ptr<Storage>* src_storage,
                   const Layout* src_layout, const std::shared_ptr<Storage>& dst_storage,
                   const Layout& dst_layout, DtElementType type) {
  Step step{};
  step.factory = factory;
  step.is_zero = src_storage == nullptr;
  if (!step.is_zero) step.src = MakeTensorRef(**src_storage, *src_layout, type);
  step.dst = MakeTensorRef(*dst_storage, dst_layout, type);
  step.keep[0] = src_storage;
  step.keep[1] = &dst_storage;
  steps_.push_back(step);
}

bool IsEmpty(const Layout& layout) { return ExtentBytes(layout) == 0; }

DtStatus* Plan::AddCopy(size_t index, const DtValue* src, DtValue* dst) {
  if (IsEmpty(src->layout)) return nullptr;
  const DtDevice* from = src->storage->device();
  const DtDevice* to = dst->storage->device();
  if (FactoryInstance* direct = Transfer(from, to)) {
    const Placement a = PlacementOf(*src->storage, src->layout);
    const Placement b = PlacementOf(*dst->storage, dst->layout);
    if (!Overlap(a, b)) {
      AddStep(direct, &src->storage, &src->layout, dst->storage, dst->layout, src->type);
      return nullptr;
    }
    // Source and destination share bytes: read everything before writing anything.
    FactoryInstance* local = Transfer(from, from);
    if (local == nullptr) {
      return Error(DT_NOT_SUPPORTED, "pair ", index, ": source and destination overlap in one ",
                   DeviceText(from), " buffer, and no data transfer copies within that device");
    }
    Temporary* staged = nullptr;
    DT_RETURN_IF_ERROR(NewTemporary(from, src->layout, false, &staged));
    AddStep(local, &src->storage, &src->layout, staged->storage, staged->layout, src->type);
    AddStep(direct, &staged->storage, &staged->layout, dst->storage, dst->layout, src->type);
    return nullptr;
  }
  const DtDevice* host = CpuDevice(*env_);
  FactoryInstance* down = Transfer(from, host);
  FactoryInstance* up = Transfer(host, to);
  if (down == nullptr || up == nullptr) {
    return Error(DT_NOT_SUPPORTED, "pair ", index, ": no data transfer copies from ",
                 DeviceText(from), " to ", DeviceText(to), ", directly or through host memory");
  }
  Temporary* staged = nullptr;
  DT_RETURN_IF_ERROR(NewTemporary(host, src->layout, false, &staged));
  AddStep(down, &src->storage, &src->layout, staged->storage, staged->layout, src->type);
  AddStep(up, &staged->storage, &staged->layout, dst->storage, dst->layout, src->type);
  return nullptr;
}

DtStatus* Plan::AddZero(DtValue* tensor) {
  if (IsEmpty(tensor->layout)) return nullptr;
  const DtDevice* device = tensor->storage->device();
  FactoryInstance* own = device->factory;
  if (own->transfer.ZeroTensor != nullptr) {
    AddStep(own, nullptr, nullptr, tensor->storage, tensor->layout, tensor->type);
    return nullptr;
  }
  const DtDevice* host = CpuDevice(*env_);
  FactoryInstance* up = Transfer(host, device);
  if (up == nullptr) {
    return Error(DT_NOT_SUPPORTED, "tensor: ", DeviceText(device),
                 " has no way to clear memory and no data transfer from host memory");
  }
  Temporary* zeros = nullptr;
  DT_RETURN_IF_ERROR(NewTemporary(host, tensor->layout, true, &zeros));
  AddStep(up, &zeros->storage, &zeros->layout, tensor->storage, tensor->layout, tensor->type);
  return nullptr;
}

DtStatus* Plan::RunGroup(size_t begin, size_t end, DtStream* stream,
                         std::vector<std::shared_ptr<Storage>>* done) {
  FactoryInstance* factory = steps_[begin].factory;
  void* provider_stream = nullptr;
  DT_RETURN_IF_ERROR(PrepareStream(stream, factory, &provider_stream, done));
  const DtDataTransfer& transfer = factory->transfer;
  if (steps_[begin].is_zero) {
    DT_RETURN_IF_ERROR(transfer.ZeroTensor(transfer.state, &steps_[begin].dst, provider_stream));
  } else {
    pairs_.clear();
    for (size_t i = begin; i < end; ++i) {
      pairs_.push_back(DtCopyPair{&steps_[i].src, &steps_[i].dst, provider_stream});
    }
    DT_RETURN_IF_ERROR(transfer.CopyTensors(transfer.state, pairs_.data(), pairs_.size()));
  }
  if (provider_stream != nullptr) {
    for (size_t i = begin; i < end; ++i) {
      for (const std::shared_ptr<Storage>* storage : steps_[i].keep) {
        if (storage != nullptr) HoldUntilDrained(stream, *storage);
      }
    }
  }
  return nullptr;
}

DtStatus* Plan::Check() {
  // Same grouping as Run: each transfer checks the pairs it will get, before anything runs.
  size_t begin = 0;
  while (begin < steps_.size()) {
    size_t end = begin + 1;
    while (end < steps_.size() && steps_[end].factory == steps_[begin].factory) ++end;
    const DtDataTransfer& transfer = steps_[begin].factory->transfer;
    if (transfer.CheckCopies != nullptr) {
      pairs_.clear();
      for (size_t i = begin; i < end; ++i) {
        if (!steps_[i].is_zero) pairs_.push_back(DtCopyPair{&steps_[i].src, &steps_[i].dst, nullptr});
      }
      if (!pairs_.empty()) DT_RETURN_IF_ERROR(transfer.CheckCopies(transfer.state, pairs_.data(), pairs_.size()));
    }
    begin = end;
  }
  return nullptr;
}

DtStatus* Plan::Run(DtStream* stream) {
  std::vector<std::shared_ptr<Storage>> done;  // dropped after the stream's lock
  std::unique_lock<std::mutex> lock;
  if (stream != nullptr) lock = std::unique_lock<std::mutex>(stream->mutex);
  size_t begin = 0;
  while (begin < steps_.size()) {
    // Consecutive copies of one transfer go in one call; a clear goes alone.
    size_t end = begin + 1;
    if (!steps_[begin].is_zero) {
      while (end < steps_.size() && steps_[end].factory == steps_[begin].factory &&
             !steps_[end].is_zero) {
        ++end;
      }
    }
    DT_RETURN_IF_ERROR(RunGroup(begin, end, stream, &done));
    begin = end;
  }
  return nullptr;
}

DtStatus* CheckPair(size_t i, const DtValue* src, const DtValue* dst) {
  if (src == nullptr) return Error(DT_INVALID_ARGUMENT, "src[", i, "] is NULL");
  if (dst == nullptr) return Error(DT_INVALID_ARGUMENT, "dst[", i, "] is NULL");
  if (src->type != dst->type) {
    return Error(DT_INVALID_ARGUMENT, "pair ", i, ": src type ", DtGetElementTypeName(src->type),
                 " does not match dst type ", DtGetElementTypeName(dst->type));
  }
  const Layout& a = src->layout;
  const Layout& b = dst->layout;
  if (a.rank != b.rank || !std::equal(a.shape, a.shape + a.rank, b.shape)) {
    return Error(DT_INVALID_ARGUMENT, "pair ", i, ": src shape ", ShapeText(a.shape, a.rank),
                 " does not match dst shape ", ShapeText(b.shape, b.rank));
  }
  return nullptr;
}

// Fails when two destinations share a byte. Sorted by start so that only neighbours whose spans
// meet are compared exactly.
DtStatus* CheckDestinationsDisjoint(DtValue* const* dst, size_t count) {
  if (count < 2) return nullptr;
  std::vector<Placement> places;
  places.reserve(count);
  for (size_t i = 0; i < count; ++i) places.push_back(PlacementOf(*dst[i]->storage, dst[i]->layout));
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](size_t i) {
    const Placement& p = places[i];
    return std::make_tuple(p.device_type, p.device_id, p.space, p.layout.byte_offset);
  };
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return key(x) < key(y); });
  for (size_t k = 0; k < count; ++k) {
    const Placement& a = places[order[k]];
    const size_t a_end = a.layout.byte_offset + ExtentBytes(a.layout);
    for (size_t m = k + 1; m < count; ++m) {
      const Placement& b = places[order[m]];
      if (!SameSpace(a, b) || b.layout.byte_offset >= a_end) break;
      if (LayoutsOverlap(a.layout, b.layout)) {
        const size_t first = std::min(order[k], order[m]), second = std::max(order[k], order[m]);
        return Error(DT_INVALID_ARGUMENT, "dst[", first, "] and dst[", second,
                     "] overlap in one buffer (bytes from ", dst[first]->layout.byte_offset, " and ",
                     dst[second]->layout.byte_offset, "); destinations of one call must be disjoint");
      }
    }
  }
  return nullptr;
}

}  // namespace
}  // namespace devtensor

using namespace devtensor;

extern "C" {

DtStatus* DtCopyTensors(DtEnv* env, const DtValue* const* src, DtValue* const* dst, size_t count,
                        DtStream* stream) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (count == 0) return nullptr;
    if (src == nullptr) return Error(DT_INVALID_ARGUMENT, "src is NULL for count ", count);
    if (dst == nullptr) return Error(DT_INVALID_ARGUMENT, "dst is NULL for count ", count);
    for (size_t i = 0; i < count; ++i) DT_RETURN_IF_ERROR(CheckPair(i, src[i], dst[i]));
    DT_RETURN_IF_ERROR(CheckDestinationsDisjoint(dst, count));
    // Planning allocates temporaries but writes nothing the caller can see.
    Plan plan(env, count);
    for (size_t i = 0; i < count; ++i) DT_RETURN_IF_ERROR(plan.AddCopy(i, src[i], dst[i]));
    DT_RETURN_IF_ERROR(plan.Check());
    return plan.Run(stream);
  });
}

DtStatus* DtZeroTensor(DtEnv* env, DtValue* tensor, DtStream* stream) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
    Plan plan(env, 1);
    DT_RETURN_IF_ERROR(plan.AddZero(tensor));
    return plan.Run(stream);
  });
}

}  // extern "C"
