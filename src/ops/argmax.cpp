// ArgMax: the index of the largest element along `axis` (default 0, negative counts from the
// end), as int64. keepdims (default 1) keeps the axis as a dimension of 1; select_last_index
// (default 0) picks the last of equal maxima instead of the first. NaN is larger than every
// number (as numpy's argmax: the first NaN wins, or the last with select_last_index).
#include <array>

#include "ops/attributes.h"
#include "ops/convert.h"
#include "ops/op_defs.h"

namespace devtensor::ops {

namespace {

// Parses the attributes into call.params->argmax, the axis made non-negative.
DtStatus* ParseAttributes(const OpCall& call) {
  auto& params = call.params->argmax;
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(
      call, {{"axis", DT_ATTR_INT}, {"keepdims", DT_ATTR_INT}, {"select_last_index", DT_ATTR_INT}},
      &attributes));
  const TensorView& data = call.inputs[0];
  const int64_t rank = static_cast<int64_t>(data.rank);
  const int64_t axis = attributes.Int("axis", 0);
  if (rank == 0) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "data"),
                " is a scalar; it needs rank >= 1");
  }
  if (axis < -rank || axis >= rank) {
    return Fail(DT_OUT_OF_RANGE, call.op, "attribute 'axis' is ", axis, " but ",
                ArgText("inputs", 0, "data"), " of shape ", ShapeText(data), " has rank ", rank,
                " (valid: ", -rank, " to ", rank - 1, ")");
  }
  params.axis = axis < 0 ? axis + rank : axis;
  for (const char* name : {"keepdims", "select_last_index"}) {
    const int64_t value = attributes.Int(name, name[0] == 'k' ? 1 : 0);
    if (value != 0 && value != 1) {
      return Fail(DT_INVALID_ARGUMENT, call.op, "attribute '", name, "' is ", value,
                  " but must be 0 or 1");
    }
    (name[0] == 'k' ? params.keepdims : params.select_last_index) = static_cast<int32_t>(value);
  }
  return nullptr;
}

// a > b, where NaN is above every number and equal to NaN.
template <typename T>
bool Greater(T a, T b) {
  if constexpr (kIsFloat<T>) {
    const double x = AsDouble(a), y = AsDouble(b);
    if (std::isnan(x)) return !std::isnan(y);
    if (std::isnan(y)) return false;
    return x > y;
  } else {
    return a > b;
  }
}

}  // namespace

DtStatus* CheckArgMax(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 1, "data", 1, "reduced"));
  DT_RETURN_IF_ERROR(ParseAttributes(call));
  const auto& params = call.params->argmax;
  const size_t axis = static_cast<size_t>(params.axis);
  const TensorView &data = call.inputs[0], &reduced = call.outputs[0];
  if (!IsNumeric(data.type)) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "data"), " has element type ",
                TypeName(data.type), "; the op takes numeric types (every type but bool)");
  }
  if (reduced.type != DT_INT64) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "reduced"),
                " has element type ", TypeName(reduced.type), " but must be int64");
  }
  int64_t shape[DT_MAX_RANK];
  size_t rank = 0;
  for (size_t i = 0; i < data.rank; ++i) {
    if (i != axis) {
      shape[rank++] = data.shape[i];
    } else if (params.keepdims) {
      shape[rank++] = 1;
    }
  }
  if (data.shape[axis] == 0 && ElementCount(shape, rank) > 0) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "data"), " of shape ",
                ShapeText(data), " has no elements along axis ", axis,
                ", so it has no maximum there");
  }
  return CheckOutputShape(call, reduced, Arg{"outputs", 0, "reduced"}, shape, rank);
}

DtStatus* RunArgMax(const OpCall& call) {
  const auto& params = call.params->argmax;
  const size_t axis = static_cast<size_t>(params.axis);
  const TensorView &data = call.inputs[0], &reduced = call.outputs[0];
  // Walk data's shape with the axis collapsed to 1; the output's strides aligned to data's
  // dimensions (0 for the axis when keepdims drops it).
  int64_t outer_shape[DT_MAX_RANK], out_strides[DT_MAX_RANK];
  for (size_t i = 0, o = 0; i < data.rank; ++i) {
    outer_shape[i] = i == axis ? 1 : data.shape[i];
    if (i == axis && !params.keepdims) {
      out_strides[i] = 0;
    } else {
      out_strides[i] = reduced.strides[o++];
    }
  }
  const int64_t length = data.shape[axis];
  const int64_t step = data.strides[axis];
  std::array<const int64_t*, 2> strides = {data.strides, out_strides};
  VisitType(data.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ForEachIndex<2>(outer_shape, data.rank, strides, [&](const std::array<int64_t, 2>& at) {
      int64_t best = 0;
      T best_value = Load<T>(data.data, at[0]);
      for (int64_t j = 1; j < length; ++j) {
        const T value = Load<T>(data.data, at[0] + j * step);
        if (Greater(value, best_value) ||
            (params.select_last_index && !Greater(best_value, value))) {
          best = j;
          best_value = value;
        }
      }
      Store<int64_t>(reduced.data, at[1], best);
    });
  });
  return nullptr;
}

}  // namespace devtensor::ops
