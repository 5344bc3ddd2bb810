// Pinned host memory through which copies reach pageable host memory: a ring of slots, each
// reused once the work that last used it is done (an event per slot), so a long copy moves in
// slot-sized chunks whose host copy overlaps the previous chunk's DMA. Buffers larger than a
// slot, for one stream copy, are pinned for that copy and freed once its work is done.
#ifndef DEVTENSOR_PROVIDERS_CUDA_STAGING_H_
#define DEVTENSOR_PROVIDERS_CUDA_STAGING_H_

#include <cstddef>
#include <mutex>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/cuda_api.h"

namespace devtensor::cuda {

class Staging {
 public:
  static constexpr size_t kSlotBytes = size_t(8) << 20;
  static constexpr int kSlots = 4;

  // `api` and the device's context (current on the calling thread whenever this is used).
  explicit Staging(const DriverApi& api) : api_(api) {}
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // Lock around a copy's use of the ring, from Next to Release and from Take to Give.
  std::recursive_mutex& mutex() { return mutex_; }

  // The next slot (kSlotBytes), once the work that used it last is done.
  DtStatus* Next(char** memory);
  // The slot Next gave last is used by the work queued on `stream` so far.
  DtStatus* Release(CUstream stream);
  // Waits until the work that last used slot `memory` is done.
  DtStatus* Wait(char* memory);

  // Pinned memory of `bytes` for one copy (a slot when it fits, else its own allocation).
  DtStatus* Take(size_t bytes, char** memory);
  // What Take gave is used by the work queued on `stream` so far; it is reused or freed after.
  DtStatus* Give(char* memory, CUstream stream);

 private:
  struct Slot {
    char* memory = nullptr;
    CUevent event = nullptr;
    bool used = false;  // the event marks the last use
  };
  struct Pending {
    char* memory;
    CUevent event;
  };
  void FreeFinished();  // frees own allocations whose work is done

  const DriverApi& api_;
  std::recursive_mutex mutex_;
  std::vector<Slot> slots_;
  size_t next_ = 0;
  std::vector<Pending> pending_;  // own allocations waiting for their work
};

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_STAGING_H_
