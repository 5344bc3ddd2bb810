// UpdatePositionIds: every id advanced by the increment, in place.
#include "common/return_if_error.h"
#include "providers/webgpu/kernels/kernels.h"
#include "providers/webgpu/kernels/library.h"

namespace devtensor::webgpu {
namespace {

constexpr Param kParamList[] = {
    {"increment", ParamType::kU64},  // two's complement; int32 ids add its low word
};
constexpr ParamTable kParams(kParamList);
constexpr Param kIncrement = kParams["increment"];

}  // namespace

DtStatus* RecordUpdatePositionIds(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  const DtTensorRef& out = *call.outputs[0];
  DT_RETURN_IF_ERROR(b.BindOutputElements(out));
  b.params().Set(kIncrement, static_cast<uint64_t>(call.params->update_position_ids.increment));
  return b.Dispatch(call, "", [&] {
    std::string code = KernelLibrary() + kParams.Accessors() + MainHead() + "  let a = address(0u, index);\n";
    if (out.element_type == DT_INT32) {
      code += "  out_store(a >> 2u, out_word(a >> 2u) + param_increment().x);\n}\n";
    } else {
      code += "  store_wide(a, add64(vec2<u32>(out_word(a >> 2u), out_word((a >> 2u) + 1u)), param_increment()));\n}\n";
    }
    return code;
  }, 0);
}

}  // namespace devtensor::webgpu
