#include "providers/webgpu/error_flags.h"

#include <cstring>
#include <string>

#include "common/return_if_error.h"
#include "providers/webgpu/op_kernels.h"
#include "providers/webgpu/stream.h"

namespace devtensor::webgpu {
namespace {

// What the error flags `raised` say, naming the ops that raise them.
std::string FlagText(uint32_t raised) {
  std::string text;
  if (raised & DT_DEVICE_ERROR_KV_POSITION) {
    text += "KvCacheAppend: a position was out of range, so its write was skipped "
            "(DT_DEVICE_ERROR_KV_POSITION)";
  }
  if (raised & DT_DEVICE_ERROR_SCATTER_INDEX) {
    if (!text.empty()) text += "; ";
    text += "ScatterND: an index was out of range, so its update was skipped "
            "(DT_DEVICE_ERROR_SCATTER_INDEX)";
  }
  return text;
}

}  // namespace

void NoteFlagRaisingOp(Stream* stream, const char* op_type) {
  if (stream == nullptr) return;
  if (std::strcmp(op_type, "KvCacheAppend") != 0 && std::strcmp(op_type, "ScatterND") != 0) return;
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
      DT_OUT_OF_RANGE, ("work on the stream raised device error flags: " + FlagText(raised) +
                        "; DtGetDeviceErrorFlags reports them too")
                           .c_str());
}

}  // namespace devtensor::webgpu
