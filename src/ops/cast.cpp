// Cast: output = input converted to the type `to` (an ONNX TensorProto type number), element by
// element, as convert.h defines.
#include <array>

#include "ops/attributes.h"
#include "ops/convert.h"
#include "ops/op_defs.h"

namespace devtensor::ops {

namespace {

// ONNX types devtensor has no element type for: string, complex, 8-bit floats, 4-bit types.
const char* UnsupportedOnnxType(int64_t to) {
  switch (to) {
    case 8: return "string";
    case 14: return "complex64";
    case 15: return "complex128";
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
  }
  return nullptr;
}

}  // namespace

DtStatus* CheckCast(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 1, "input", 1, "output"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {{"to", DT_ATTR_INT}}, &attributes));
  const DtAttribute* to = attributes.Find("to");
  if (to == nullptr) return Fail(DT_INVALID_ARGUMENT, call.op, "attribute 'to' is required");
  if (const char* name = UnsupportedOnnxType(to->i)) {
    return Fail(DT_NOT_SUPPORTED, call.op, "to ", to->i, " (", name,
                ") is not supported: devtensor has no such element type");
  }
  if (to->i < 0 || to->i > 64 || !IsKnownType(static_cast<DtElementType>(to->i))) {
    return Fail(DT_INVALID_ARGUMENT, call.op, "attribute 'to' is ", to->i,
                ", which is no ONNX element type");
  }
  const TensorView &input = call.inputs[0], &output = call.outputs[0];
  if (output.type != static_cast<DtElementType>(to->i)) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "output"),
                " has element type ", TypeName(output.type), " but 'to' is ", to->i, " (",
                TypeName(static_cast<DtElementType>(to->i)), ")");
  }
  call.params->cast.to = output.type;
  return CheckOutputShape(call, output, Arg{"outputs", 0, "output"}, input.shape, input.rank);
}

DtStatus* RunCast(const OpCall& call) {
  const TensorView &input = call.inputs[0], &output = call.outputs[0];
  std::array<const int64_t*, 2> strides = {input.strides, output.strides};
  VisitType(input.type, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    VisitType(output.type, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      ForEachIndex<2>(output.shape, output.rank, strides, [&](const std::array<int64_t, 2>& at) {
        Store<To>(output.data, at[1], Convert<To>(Load<From>(input.data, at[0])));
      });
    });
  });
  return nullptr;
}

}  // namespace devtensor::ops
