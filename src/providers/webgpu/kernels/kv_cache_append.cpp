// KvCacheAppend: the new keys or values written into the cache at the position, one invocation
// per new element; a position out of range raises error flag bit 0 and writes nothing.
#include <algorithm>

#include "common/return_if_error.h"
#include "providers/webgpu/kernels/element_code.h"
#include "providers/webgpu/kernels/kernels.h"
#include "providers/webgpu/kernels/library.h"

namespace devtensor::webgpu {
namespace {

constexpr Param kParamList[] = {
    {"last_position", ParamType::kI32},  // the last position the append may start at; -1: none
};
constexpr ParamTable kParams(kParamList);
constexpr Param kLastPosition = kParams["last_position"];

// The check of the position alone, for an append of no elements.
DtStatus* RecordCheck(OpBuilder& b, const DtOpCall& call, int32_t last_position) {
  // One invocation that writes nothing. Nothing is read but the position, which also stands in
  // for the output and the new values' binding.
  DT_RETURN_IF_ERROR(b.BindOutput(*call.inputs[1]));
  DtTensorRef position;
  DT_RETURN_IF_ERROR(b.BindInput(1, *call.inputs[1], true, &position));
  DT_RETURN_IF_ERROR(b.BindInput(2, *call.inputs[1], true, &position));
  DT_RETURN_IF_ERROR(b.BindFlags());
  const int64_t one = 1;
  b.SetSpace(&one, 1);
  b.params().Set(kLastPosition, last_position);
  return b.Dispatch(call, "check", [&] {
    return KernelLibrary() + kParams.Accessors() + MainHead() +
           "  let position = bitcast<i32>(word_in2(param_base(2u) >> 2u));\n"
           "  if (position < 0 || position > param_last_position()) { raise_flag(1u); }\n}\n";
  }, 2);
}

}  // namespace

DtStatus* RecordKvCacheAppend(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  const DtTensorRef& cache = *call.outputs[0];
  const DtTensorRef& fresh = *call.inputs[0];
  const auto size = static_cast<uint32_t>(cache.element_size);
  // The last position the append may start at, clamped to an int32 position's range; -1 when
  // none fits. max_len and new_len are not negative, so the difference cannot overflow.
  const auto last_position =
      static_cast<int32_t>(std::clamp<int64_t>(cache.shape[2] - fresh.shape[2], -1, INT32_MAX));
  if (IsEmpty(cache) || IsEmpty(fresh)) return RecordCheck(b, call, last_position);
  DT_RETURN_IF_ERROR(b.BindOutput(cache));
  DtTensorRef kv, position;
  DT_RETURN_IF_ERROR(b.BindInput(1, fresh, false, &kv));
  DT_RETURN_IF_ERROR(b.BindInput(2, *call.inputs[1], false, &position));
  DT_RETURN_IF_ERROR(b.BindFlags());
  b.SetSpace(kv.shape, kv.rank);
  b.SetStrides(0, cache.strides, cache.rank, cache.element_size);
  b.SetStrides(1, kv.strides, kv.rank, kv.element_size);
  b.params().Set(kLastPosition, last_position);
  return b.Dispatch(call, "", [&] {
    std::string code = KernelLibrary() + kParams.Accessors() + RawLoad("raw1", "word_in1", size) + MainHead();
    // The value is read before the position is known: the two loads overlap.
    code += "  let value = raw1(address(1u, index));\n";
    code += "  let position = bitcast<i32>(word_in2(param_base(2u) >> 2u));\n";
    code += "  if (position < 0 || position > param_last_position()) { raise_flag(1u); return; }\n";
    code += "  var at = index;\n  at[2] = at[2] + u32(position);\n";
    code += "  " + StoreRaw(size, "address(0u, at)", "value") + "\n}\n";
    return code;
  }, 2);
}

}  // namespace devtensor::webgpu
