// A devtensor stream on a CUDA device: a CUDA stream of the device's primary context, and, while
// it is being recorded (DtBeginCapture), the resources the recorded work will use at each replay.
#ifndef DEVTENSOR_PROVIDERS_CUDA_STREAM_H_
#define DEVTENSOR_PROVIDERS_CUDA_STREAM_H_

#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/cuda_api.h"
#include "providers/cuda/device.h"
#include "providers/cuda/host_copy.h"
#include "providers/cuda/launch.h"

namespace devtensor::cuda {

// What a graph keeps for its replays: device temporaries (and the argument blocks of batched
// launches), pinned host buffers, host memory it registered with CUDA and the payloads of its
// host-function nodes; while recording, the kernel calls not yet scheduled.
struct GraphResources {
  Device* device = nullptr;
  std::vector<CUdeviceptr> temporaries;
  std::vector<char*> pinned;
  std::vector<void*> registered;  // host pages pinned for the graph's copies
  std::vector<std::unique_ptr<HostCopy>> host_copies;
  std::vector<KernelCall> calls;  // held back until scheduled (launch.h)
  bool raises_flags = false;  // holds an op that may raise error flags

  ~GraphResources();
};

struct Stream {
  Device* device = nullptr;
  CUstream handle = nullptr;
  bool raises_flags = false;  // work since the last synchronisation may have raised error flags
  std::unique_ptr<GraphResources> recording;  // while capturing
};

// Where one call's work goes: a stream's CUDA stream, or, for work without a stream, the
// device's sync stream, locked and waited for when the call ends.
class WorkStream {
 public:
  WorkStream(Device& device, Stream* stream);
  ~WorkStream();
  WorkStream(const WorkStream&) = delete;
  WorkStream& operator=(const WorkStream&) = delete;

  Device& device() const { return device_; }
  CUstream handle() const { return handle_; }
  bool synchronous() const { return stream_ == nullptr; }
  // The recording of the stream, while it is captured.
  GraphResources* recording() const { return stream_ != nullptr ? stream_->recording.get() : nullptr; }
  // Notes work that may raise error flags (ops), for the stream's synchronisation or the graph.
  void Did(bool raises_flags = false);
  // Waits for the work without a stream; nothing for a stream's work.
  DtStatus* Finish();
  // Device memory for this call's work: freed once the work queued so far is done, or kept by the
  // recording for every replay.
  DtStatus* Temporary(size_t bytes, CUdeviceptr* pointer);

 private:
  Device& device_;
  Stream* stream_;
  CUstream handle_;
  ScopedContext context_;
  std::unique_lock<std::mutex> lock_;  // the sync stream's
  std::vector<CUdeviceptr> temporaries_;
};

DtStatus* SynchronizeStream(Stream& stream);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_STREAM_H_
