// A devtensor stream on a CUDA device: a CUDA stream of the device's primary context, and, while
// it is being recorded (DtBeginCapture), the resources the recorded work will use at each replay.
#ifndef DEVTENSOR_PROVIDERS_CUDA_STREAM_H_
#define DEVTENSOR_PROVIDERS_CUDA_STREAM_H_

#include <memory>
#include <mutex>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/cuda_api.h"
#include "providers/cuda/device.h"
#include "providers/cuda/host_copy.h"
#include "providers/cuda/host_registry.h"
#include "providers/cuda/launch.h"

namespace devtensor::cuda {

// What a graph keeps for its replays: device temporaries (and the argument blocks of batched
// launches), pinned host buffers, host memory registered with CUDA and the payloads of its
// host-function nodes; while recording, the kernel calls not yet scheduled.
struct GraphResources {
  Device* device = nullptr;
  std::vector<CUdeviceptr> temporaries;
  std::vector<char*> pinned;
  std::vector<void*> registered;  // host pages pinned for the graph's copies
  std::vector<std::shared_ptr<HostPages>> host_pages;  // the registry's pages its copies move
  std::vector<std::unique_ptr<HostCopy>> host_copies;
  std::vector<KernelCall> calls;  // held back until scheduled (launch.h)
  bool raises_flags = false;  // holds an op that may raise error flags

  ~GraphResources();
};

// A stream's kernel calls are held back, as a recording's are, and launched as one schedule
// (independent calls of one op in one launch) when the stream is synchronised, when other work
// (a copy by DMA, a clear, a replay, a recording) is queued after them, when the device's error
// flags are read, or when this many are held.
inline constexpr size_t kHeldCallsLimit = 256;

struct Stream {
  Device* device = nullptr;
  CUstream handle = nullptr;
  // Guards what follows: calls on a stream come one at a time, but error flags are read, and held
  // calls launched, from any thread.
  std::mutex mutex;
  bool raises_flags = false;  // work since the last synchronisation may have raised error flags
  std::vector<KernelCall> held;                // kernel calls not yet launched, in issue order
  std::vector<CUdeviceptr> held_temporaries;  // memory they may use, freed once they are launched
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
  // Where kernel calls wait to be scheduled (the recording's or the stream's); null for work
  // without a stream, which launches at once.
  std::vector<KernelCall>* held_calls() const;
  // Frees the temporaries earlier calls left to the stream's held calls, once those are launched
  // (queued frees, after them on the stream).
  void ReleaseHeldTemporaries();
  // Notes work that may raise error flags (ops), for the stream's synchronisation or the graph.
  void Did(bool raises_flags = false);
  // Ends a call: waits for the work without a stream; on a stream, launches the held calls once
  // there are kHeldCallsLimit of them.
  DtStatus* Finish();
  // Device memory for this call's work: freed after the call's work on the stream (after the
  // held calls it may feed, once they are launched), or kept by the recording for every replay.
  DtStatus* Temporary(size_t bytes, CUdeviceptr* pointer);

 private:
  Device& device_;
  Stream* stream_;
  CUstream handle_;
  ScopedContext context_;
  std::unique_lock<std::mutex> lock_;  // the sync stream's, or the stream's own
  std::vector<CUdeviceptr> temporaries_;
};

// Launches the stream's held calls, waits for its work and reports the error flags that work
// raised.
DtStatus* SynchronizeStream(Stream& stream);

// Streams of a device whose held calls DtGetDeviceErrorFlags must launch first: every stream
// between its creation and its release.
void RegisterStream(Stream* stream);
void ForgetStream(Stream* stream);
// Launches the held calls of every stream of `device`.
DtStatus* LaunchHeldCalls(Device& device);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_STREAM_H_
