// UpdateAttentionMask: mask[b, j] = 1 for the first total_length columns, 0 after.
#include "common/return_if_error.h"
#include "providers/webgpu/kernels/kernels.h"
#include "providers/webgpu/kernels/library.h"

namespace devtensor::webgpu {
namespace {

constexpr Param kParamList[] = {
    {"columns", ParamType::kU32},  // the mask's columns, which total_length is clamped to
};
constexpr ParamTable kParams(kParamList);
constexpr Param kColumns = kParams["columns"];

}  // namespace

DtStatus* RecordUpdateAttentionMask(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  const DtTensorRef& mask = *call.outputs[0];
  DT_RETURN_IF_ERROR(b.BindOutputElements(mask));
  DtTensorRef total;
  DT_RETURN_IF_ERROR(b.BindInput(1, *call.inputs[0], false, &total));
  b.params().Set(kColumns, static_cast<uint32_t>(mask.shape[1]));
  return b.Dispatch(call, "", [&] {
    std::string code = KernelLibrary() + kParams.Accessors() + MainHead();
    code += "  let total = u32(clamp(bitcast<i32>(word_in1(param_base(1u) >> 2u)), 0, i32(param_columns())));\n";
    code += "  let one = select(0u, 1u, index[1] < total);\n";
    code += mask.element_type == DT_INT32 ? "  out_store(address(0u, index) >> 2u, one);\n}\n"
                                          : "  store_wide(address(0u, index), vec2<u32>(one, 0u));\n}\n";
    return code;
  }, 1);
}

}  // namespace devtensor::webgpu
