// Where: output = condition ? X : Y, with multidirectional broadcasting of all three.
#include <array>

#include "ops/attributes.h"
#include "ops/broadcast.h"
#include "ops/op_defs.h"

namespace devtensor::ops {

DtStatus* CheckWhere(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 3, "condition, X, Y", 1, "output"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {}, &attributes));
  const TensorView &condition = call.inputs[0], &x = call.inputs[1], &y = call.inputs[2];
  const TensorView& output = call.outputs[0];
  if (condition.type != DT_BOOL) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "condition"),
                " has element type ", TypeName(condition.type), " but must be bool");
  }
  if (y.type != x.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 2, "Y"), " has element type ",
                TypeName(y.type), " but ", ArgText("inputs", 1, "X"), " has ", TypeName(x.type),
                "; both must have one type");
  }
  if (output.type != x.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "output"),
                " has element type ", TypeName(output.type), " but X and Y have ",
                TypeName(x.type));
  }
  return CheckBroadcastOutput(call, {0, 1, 2}, {"condition", "X", "Y"}, "output");
}

DtStatus* RunWhere(const OpCall& call) {
  const TensorView &condition = call.inputs[0], &x = call.inputs[1], &y = call.inputs[2];
  const TensorView& output = call.outputs[0];
  int64_t sc[DT_MAX_RANK], sx[DT_MAX_RANK], sy[DT_MAX_RANK];
  BroadcastStrides(condition, output.shape, output.rank, sc);
  BroadcastStrides(x, output.shape, output.rank, sx);
  BroadcastStrides(y, output.shape, output.rank, sy);
  std::array<const int64_t*, 4> strides = {sc, sx, sy, output.strides};
  VisitWord(ElementBytes(output.type), [&](auto tag) {
    using W = typename decltype(tag)::type;
    ForEachIndex<4>(output.shape, output.rank, strides, [&](const std::array<int64_t, 4>& at) {
      const bool pick_x = Load<uint8_t>(condition.data, at[0]) != 0;
      Store<W>(output.data, at[3], pick_x ? Load<W>(x.data, at[1]) : Load<W>(y.data, at[2]));
    });
  });
  return nullptr;
}

}  // namespace devtensor::ops
