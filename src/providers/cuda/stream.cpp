#include "providers/cuda/stream.h"

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
      context_(device) {
  if (stream == nullptr) lock_ = std::unique_lock<std::mutex>(device.sync_mutex());
}

WorkStream::~WorkStream() {
  for (CUdeviceptr temporary : temporaries_) device_.Free(temporary, handle_);
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
  if (stream_ != nullptr) return nullptr;
  DT_CUDA_RETURN_IF_ERROR("waiting for CUDA work", device_.api(), cuStreamSynchronize, handle_);
  return nullptr;
}

DtStatus* SynchronizeStream(Stream& stream) {
  Device& device = *stream.device;
  {
    ScopedContext current(device);
    DT_CUDA_RETURN_IF_ERROR("synchronizing a CUDA stream", device.api(), cuStreamSynchronize,
                            stream.handle);
  }
  if (!stream.raises_flags) return nullptr;
  stream.raises_flags = false;
  uint32_t raised = 0;
  DT_RETURN_IF_ERROR(device.ReadErrorFlags(stream.handle, true, &raised));
  if (raised == 0) return nullptr;
  return Fail(DT_OUT_OF_RANGE, "work on the stream raised device error flags: " +
                                   DeviceErrorFlagsText(raised) +
                                   "; DtGetDeviceErrorFlags reports them too");
}

}  // namespace devtensor::cuda
