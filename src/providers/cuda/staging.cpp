#include "providers/cuda/staging.h"

#include "providers/cuda/errors.h"

namespace devtensor::cuda {

Staging::~Staging() {
  for (Slot& slot : slots_) {
    if (slot.used) api_.cuEventSynchronize(slot.event);
    if (slot.event != nullptr) api_.cuEventDestroy(slot.event);
    if (slot.memory != nullptr) api_.cuMemFreeHost(slot.memory);
  }
  for (Pending& p : pending_) {
    api_.cuEventSynchronize(p.event);
    api_.cuEventDestroy(p.event);
    api_.cuMemFreeHost(p.memory);
  }
}

DtStatus* Staging::Next(char** memory) {
  if (slots_.empty()) {
    slots_.resize(kSlots);
    for (Slot& slot : slots_) {
      DT_CUDA_RETURN_IF_ERROR("pinning staging memory", api_, cuMemHostAlloc,
                              reinterpret_cast<void**>(&slot.memory), kSlotBytes,
                              kMemHostAllocPortable);
      DT_CUDA_RETURN_IF_ERROR("staging", api_, cuEventCreate, &slot.event, kEventDisableTiming);
    }
  }
  Slot& slot = slots_[next_];
  if (slot.used) {
    DT_CUDA_RETURN_IF_ERROR("waiting for a staging slot", api_, cuEventSynchronize, slot.event);
    slot.used = false;
  }
  *memory = slot.memory;
  return nullptr;
}

DtStatus* Staging::Release(CUstream stream) {
  Slot& slot = slots_[next_];
  next_ = (next_ + 1) % slots_.size();
  DT_CUDA_RETURN_IF_ERROR("staging", api_, cuEventRecord, slot.event, stream);
  slot.used = true;
  return nullptr;
}

DtStatus* Staging::Wait(char* memory) {
  for (Slot& slot : slots_) {
    if (slot.memory != memory || !slot.used) continue;
    DT_CUDA_RETURN_IF_ERROR("waiting for a staging slot", api_, cuEventSynchronize, slot.event);
    slot.used = false;
  }
  return nullptr;
}

void Staging::FreeFinished() {
  for (size_t i = 0; i < pending_.size();) {
    if (api_.cuEventQuery(pending_[i].event) == kCudaSuccess) {
      api_.cuEventDestroy(pending_[i].event);
      api_.cuMemFreeHost(pending_[i].memory);
      pending_[i] = pending_.back();
      pending_.pop_back();
    } else {
      ++i;
    }
  }
}

DtStatus* Staging::Take(size_t bytes, char** memory) {
  FreeFinished();
  if (bytes <= kSlotBytes) return Next(memory);
  DT_CUDA_RETURN_IF_ERROR("pinning staging memory", api_, cuMemHostAlloc,
                          reinterpret_cast<void**>(memory), bytes, kMemHostAllocPortable);
  return nullptr;
}

DtStatus* Staging::Give(char* memory, CUstream stream) {
  if (!slots_.empty() && memory == slots_[next_].memory) return Release(stream);
  CUevent event = nullptr;
  if (CUresult r = api_.cuEventCreate(&event, kEventDisableTiming); r != kCudaSuccess) {
    api_.cuStreamSynchronize(stream);
    api_.cuMemFreeHost(memory);
    return CudaFail("staging", "cuEventCreate", r);
  }
  api_.cuEventRecord(event, stream);
  pending_.push_back({memory, event});
  return nullptr;
}

}  // namespace devtensor::cuda
