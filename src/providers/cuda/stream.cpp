#include "providers/cuda/stream.h"

#include <set>
#include <string>

#include "common/device_error_flags.h"
#include "common/return_if_error.h"
#include "providers/cuda/errors.h"
#include "providers/cuda/host_copy.h"

namespace devtensor::cuda {

GraphResources::~GraphResources() {
  if (device == nullptr) return;
  ScopedContext current(*device);
  for (CUdeviceptr temporary : temporaries) device->Free(temporary);
  for (char* memory : pinned) device->api().cuMemFreeHost(memory);
  for (void* pages : registered) device->api().cuMemHostUnregister(pages);
}

WorkStream::WorkStream(Device& device, Stream* stream)
    : device_(device),
      stream_(stream),
      handle_(stream != nullptr ? stream->handle : device.sync_stream()),
      context_(device),
      lock_(stream != nullptr ? stream->mutex : device.sync_mutex()) {}

WorkStream::~WorkStream() {
  if (stream_ != nullptr && stream_->recording == nullptr && !stream_->held.empty()) {
    // Held calls may use them: they go once those are launched.
    stream_->held_temporaries.insert(stream_->held_temporaries.end(), temporaries_.begin(),
                                     temporaries_.end());
    return;
  }
  for (CUdeviceptr temporary : temporaries_) device_.Free(temporary, handle_);
}

std::vector<KernelCall>* WorkStream::held_calls() const {
  if (stream_ == nullptr) return nullptr;
  return stream_->recording != nullptr ? &stream_->recording->calls : &stream_->held;
}

void WorkStream::ReleaseHeldTemporaries() {
  if (stream_ == nullptr || stream_->recording != nullptr) return;
  for (CUdeviceptr temporary : stream_->held_temporaries) device_.Free(temporary, handle_);
  stream_->held_temporaries.clear();
}

DtStatus* WorkStream::Temporary(size_t bytes, CUdeviceptr* pointer) {
  DT_RETURN_IF_ERROR(device_.Allocate(bytes, pointer));
  if (GraphResources* recording = this->recording()) {
    recording->temporaries.push_back(*pointer);
  } else {
    temporaries_.push_back(*pointer);
  }
  return nullptr;
}

void WorkStream::Did(bool raises_flags) {
  if (stream_ == nullptr) return;
  if (stream_->recording != nullptr) {
    stream_->recording->raises_flags |= raises_flags;
  } else {
    stream_->raises_flags |= raises_flags;
  }
}

DtStatus* WorkStream::Finish() {
  if (stream_ != nullptr) {
    if (stream_->recording == nullptr && stream_->held.size() >= kHeldCallsLimit) {
      return FlushHeldCalls(*this);
    }
    return nullptr;
  }
  DT_CUDA_RETURN_IF_ERROR("waiting for CUDA work", device_.api(), cuStreamSynchronize, handle_);
  return nullptr;
}

DtStatus* SynchronizeStream(Stream& stream) {
  Device& device = *stream.device;
  {
    WorkStream work(device, &stream);
    DtStatus* launched = FlushHeldCalls(work);
    DT_CUDA_RETURN_IF_ERROR("synchronizing a CUDA stream", device.api(), cuStreamSynchronize,
                            stream.handle);
    DT_RETURN_IF_ERROR(launched);
  }
  std::lock_guard<std::mutex> lock(stream.mutex);
  if (!stream.raises_flags) return nullptr;
  stream.raises_flags = false;
  uint32_t raised = 0;
  DT_RETURN_IF_ERROR(device.ReadErrorFlags(stream.handle, true, &raised));
  if (raised == 0) return nullptr;
  return Fail(DT_OUT_OF_RANGE, "work on the stream raised device error flags: " +
                                   DeviceErrorFlagsText(raised) +
                                   "; DtGetDeviceErrorFlags reports them too");
}

namespace {

std::mutex& StreamsMutex() {
  static std::mutex mutex;
  return mutex;
}
std::set<Stream*>& Streams() {
  static std::set<Stream*> streams;
  return streams;
}

}  // namespace

void RegisterStream(Stream* stream) {
  std::lock_guard<std::mutex> lock(StreamsMutex());
  Streams().insert(stream);
}

void ForgetStream(Stream* stream) {
  std::lock_guard<std::mutex> lock(StreamsMutex());
  Streams().erase(stream);
}

DtStatus* LaunchHeldCalls(Device& device) {
  std::lock_guard<std::mutex> lock(StreamsMutex());
  DtStatus* first = nullptr;
  for (Stream* stream : Streams()) {
    if (stream->device != &device) continue;
    WorkStream work(device, stream);
    if (work.recording() != nullptr) continue;  // a recording launches nothing
    DtStatus* status = FlushHeldCalls(work);
    if (first == nullptr) {
      first = status;
    } else {
      Host()->ReleaseStatus(status);
    }
  }
  return first;
}

}  // namespace devtensor::cuda
