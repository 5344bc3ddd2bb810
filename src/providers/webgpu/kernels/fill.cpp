// Fill: every element of the output set to the value, whose bits in the output's type the host
// made (DtOpParams::fill.bits, converted as Cast converts).
#include "common/return_if_error.h"
#include "providers/webgpu/kernels/element_code.h"
#include "providers/webgpu/kernels/kernels.h"
#include "providers/webgpu/kernels/library.h"

namespace devtensor::webgpu {
namespace {

constexpr Param kParamList[] = {
    {"value", ParamType::kU64},  // the element's bits, in the low bytes
};
constexpr ParamTable kParams(kParamList);
constexpr Param kValue = kParams["value"];

}  // namespace

DtStatus* RecordFill(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  const DtTensorRef& out = *call.outputs[0];
  const auto size = static_cast<uint32_t>(out.element_size);
  DT_RETURN_IF_ERROR(b.BindOutputElements(out));
  b.params().Set(kValue, static_cast<uint64_t>(call.params->fill.bits));
  return b.Dispatch(call, "", [&] {
    const std::string bits = size == 8 ? "param_value()" : "param_value().x";
    return KernelLibrary() + kParams.Accessors() + MainHead() + "  " +
           StoreRaw(size, "address(0u, index)", bits) + "\n}\n";
  }, 0);
}

}  // namespace devtensor::webgpu
