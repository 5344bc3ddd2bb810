#include "providers/webgpu/op_kernels.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "common/return_if_error.h"
#include "providers/webgpu/kernels/kernels.h"

namespace devtensor::webgpu {

const DtOpSupport kWebGpuOpSupport[] = {
    {DT_OP_CAST, kAllTypes},  // to any type
    {DT_OP_ADD, kArithmeticTypes},
    {DT_OP_SUB, kArithmeticTypes},
    {DT_OP_MUL, kArithmeticTypes},
    {DT_OP_DIV, kDivTypes},
    {DT_OP_WHERE, kAllTypes},
    {DT_OP_SCATTER_ND, kAllTypes},
    {DT_OP_ARGMAX, kArgMaxTypes},
    {DT_OP_EXPAND, kAllTypes},
    {DT_OP_FILL, kAllTypes},
    {DT_OP_UPDATE_ATTENTION_MASK, kIndexTypes},
    {DT_OP_UPDATE_POSITION_IDS, kIndexTypes},
    {DT_OP_KV_CACHE_APPEND, kAllTypes},
};
const size_t kWebGpuOpSupportCount = std::size(kWebGpuOpSupport);

namespace {

// The kernel of `op`; null when there is none.
RecordFunction KernelOf(DtOpId op) {
  switch (op) {
    case DT_OP_CAST: return &RecordCast;
    case DT_OP_ADD: case DT_OP_SUB: case DT_OP_MUL: case DT_OP_DIV: return &RecordArithmetic;
    case DT_OP_WHERE: return &RecordWhere;
    case DT_OP_SCATTER_ND: return &RecordScatterND;
    case DT_OP_ARGMAX: return &RecordArgMax;
    case DT_OP_EXPAND: return &RecordExpand;
    case DT_OP_FILL: return &RecordFill;
    case DT_OP_UPDATE_ATTENTION_MASK: return &RecordUpdateAttentionMask;
    case DT_OP_UPDATE_POSITION_IDS: return &RecordUpdatePositionIds;
    case DT_OP_KV_CACHE_APPEND: return &RecordKvCacheAppend;
  }
  return nullptr;
}

}  // namespace

DtStatus* RecordOp(Context& context, CommandList& list, const DtOpCall& call) {
  if (!DT_STRUCT_HAS_FIELD(&call, DtOpCall, params) || call.params == nullptr ||
      !DT_STRUCT_HAS_FIELD(call.params, DtOpParams, update_position_ids)) {
    const std::string message = std::string(call.op_type) + " on WebGPU:" + std::to_string(call.device_id) +
                                ": the host is older than provider ABI 1.2 (ops need typed calls)";
    return context.host()->CreateStatus(DT_NOT_SUPPORTED, message.c_str());
  }
  // An op whose output has no elements writes nothing: a no-op, whatever the sizes and strides
  // of its other dimensions (which may be huge). KvCacheAppend still checks its position.
  if (call.op != DT_OP_KV_CACHE_APPEND &&
      std::any_of(call.outputs, call.outputs + call.num_outputs,
                  [](const DtTensorRef* t) { return IsEmpty(*t); })) {
    return nullptr;
  }
  // The host hands over only calls kWebGpuOpSupport lists, so each kernel sees its own types.
  const RecordFunction record = KernelOf(call.op);
  if (record == nullptr) return OpBuilder(context, list, call).NotSupported("no WebGPU kernel");
  return record(context, list, call);
}

}  // namespace devtensor::webgpu
