// Expand: output = input broadcast with the shape held in the int64 1-D tensor `shape` (an input,
// read by the kernel); the output's shape must be broadcast(input's shape, shape).
//
// Without data, the check knows the result's rank (max of the input's rank and shape's length)
// and every dimension where the input's is not 1; the kernel checks the rest.
#include <array>

#include "ops/attributes.h"
#include "ops/broadcast.h"
#include "ops/op_defs.h"

namespace devtensor::ops {

DtStatus* CheckExpand(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 2, "input, shape", 1, "output"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {}, &attributes));
  const TensorView &input = call.inputs[0], &shape = call.inputs[1], &output = call.outputs[0];
  const std::string output_arg = ArgText("outputs", 0, "output");
  if (shape.type != DT_INT64) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 1, "shape"), " has element type ",
                TypeName(shape.type), " but must be int64");
  }
  if (shape.rank != 1) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 1, "shape"), " has shape ",
                ShapeText(shape), " but must be 1-D");
  }
  if (output.type != input.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, output_arg, " has element type ",
                TypeName(output.type), " but ", ArgText("inputs", 0, "input"), " has ",
                TypeName(input.type));
  }
  const size_t length = static_cast<size_t>(shape.shape[0]);
  const size_t rank = std::max(input.rank, length);
  if (output.rank != rank) {
    return Fail(DT_INVALID_ARGUMENT, call.op, output_arg, " has shape ", ShapeText(output),
                " (rank ", output.rank, ") but the result of expanding ",
                ArgText("inputs", 0, "input"), " of shape ", ShapeText(input), " to ", length,
                " dimensions has rank ", rank);
  }
  for (size_t j = 0; j < input.rank; ++j) {
    const size_t i = rank - input.rank + j;
    if (input.shape[j] != 1 && output.shape[i] != input.shape[j]) {
      return Fail(DT_INVALID_ARGUMENT, call.op, output_arg, " has shape ", ShapeText(output),
                  " but ", ArgText("inputs", 0, "input"), " of shape ", ShapeText(input),
                  " cannot expand to it: dimension ", i, " is ", output.shape[i], " where the input has ",
                  input.shape[j]);
    }
  }
  return nullptr;
}

DtStatus* RunExpand(const OpCall& call) {
  const TensorView &input = call.inputs[0], &shape = call.inputs[1], &output = call.outputs[0];
  Shape target;
  target.rank = static_cast<size_t>(shape.shape[0]);
  for (size_t i = 0; i < target.rank; ++i) {
    target.dims[i] = Load<int64_t>(shape.data, static_cast<int64_t>(i) * shape.strides[0]);
    if (target.dims[i] < 0) {
      return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 1, "shape"), " holds ",
                  ShapeText(target.dims, target.rank), ": dimension ", i, " is negative");
    }
  }
  Shape result;
  size_t axis_input = 0, axis_shape = 0;
  if (!BroadcastShapes(ShapeOf(input), target, &result, &axis_input, &axis_shape)) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "input"), " of shape ",
                ShapeText(input), " does not broadcast with ", ArgText("inputs", 1, "shape"),
                " = ", ShapeText(target.dims, target.rank), ": dimension ", axis_input, " is ",
                input.shape[axis_input], " where shape has ", target.dims[axis_shape]);
  }
  DT_RETURN_IF_ERROR(CheckOutputShape(call, output, Arg{"outputs", 0, "output"}, result.dims,
                                   result.rank));
  int64_t sin[DT_MAX_RANK];
  BroadcastStrides(input, output.shape, output.rank, sin);
  std::array<const int64_t*, 2> strides = {sin, output.strides};
  VisitWord(ElementBytes(output.type), [&](auto tag) {
    using W = typename decltype(tag)::type;
    ForEachIndex<2>(output.shape, output.rank, strides, [&](const std::array<int64_t, 2>& at) {
      Store<W>(output.data, at[1], Load<W>(input.data, at[0]));
    });
  });
  return nullptr;
}

}  // namespace devtensor::ops
