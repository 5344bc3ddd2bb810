#include "providers/webgpu/error_flags.h"

#include <cstring>
#include <string>

#include "common/device_error_flags.h"
#include "common/return_if_error.h"
#include "providers/webgpu/stream.h"

namespace devtensor::webgpu {
namespace {

// Reads and clears the device's flags buffer.
DtStatus* ReadErrorFlags(Context& context, uint32_t* flags) {
  wgpu::Buffer buffer = nullptr;
  DT_RETURN_IF_ERROR(context.ErrorFlags(&buffer));
  const wgpu::Api& api = context.api();
  wgpu::Buffer readback = nullptr;
  uint64_t capacity = 0;
  DT_RETURN_IF_ERROR(
      context.TakeBuffer(16, wgpu::usage::kMapRead | wgpu::usage::kCopyDst, &readback, &capacity));
  wgpu::CommandEncoder encoder = api.DeviceCreateCommandEncoder(context.device(), nullptr);
  api.CommandEncoderCopyBufferToBuffer(encoder, buffer, 0, readback, 0, 16);
  api.CommandEncoderClearBuffer(encoder, buffer, 0, 16);
  context.Submit(encoder);
  struct Mapped {
    uint32_t status = 0;
  } mapped;
  wgpu::BufferMapCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly,
                                   [](uint32_t status, wgpu::StringView, void* m, void*) {
                                     static_cast<Mapped*>(m)->status = status;
                                   },
                                   &mapped, nullptr};
  DT_RETURN_IF_ERROR(
      context.Wait(api.BufferMapAsync(readback, wgpu::map_mode::kRead, 0, 16, info), "the error flags"));
  if (mapped.status != wgpu::kRequestSuccess) {
    return context.host()->CreateStatus(DT_DEVICE_LOST, "reading the WebGPU error flags failed");
  }
  std::memcpy(flags, api.BufferGetConstMappedRange(readback, 0, 16), sizeof(uint32_t));
  api.BufferUnmap(readback);
  context.Recycle(readback, capacity, wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
  return context.TakeErrors();
}

}  // namespace

void NoteFlagRaisingOp(Stream* stream, DtOpId op) {
  if (stream == nullptr) return;
  if (op != DT_OP_KV_CACHE_APPEND && op != DT_OP_SCATTER_ND) return;
  if (stream->recording != nullptr) {
    stream->recording->raises_flags = true;
  } else {
    stream->raises_flags = true;
  }
}

DtStatus* TakeDeviceErrorFlags(Context& context, uint32_t* flags) {
  // The flags buffer is read after every stream's queued work, in the queue's order.
  for (Stream* stream : context.streams()) {
    DT_RETURN_IF_ERROR(Flush(context, *stream));
  }
  uint32_t raised = 0;
  DT_RETURN_IF_ERROR(ReadErrorFlags(context, &raised));
  *flags = raised | context.unreported_flags();
  context.unreported_flags() = 0;
  return nullptr;
}

DtStatus* CheckRaisedFlags(Context& context) {
  uint32_t raised = 0;
  DT_RETURN_IF_ERROR(ReadErrorFlags(context, &raised));
  context.unreported_flags() |= raised;
  if (raised == 0) return nullptr;
  return context.host()->CreateStatus(
      DT_OUT_OF_RANGE, ("work on the stream raised device error flags: " + DeviceErrorFlagsText(raised) +
                        "; DtGetDeviceErrorFlags reports them too")
                           .c_str());
}

}  // namespace devtensor::webgpu
