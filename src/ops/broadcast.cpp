#include "ops/broadcast.h"

#include <algorithm>
#include <string>

namespace devtensor::ops {

bool BroadcastShapes(const Shape& a, const Shape& b, Shape* out, size_t* axis_a, size_t* axis_b) {
  const size_t rank = std::max(a.rank, b.rank);
  if (rank > DT_MAX_RANK) return false;
  Shape result;
  result.rank = rank;
  for (size_t k = 0; k < rank; ++k) {  // k counts from the last dimension
    const int64_t da = k < a.rank ? a.dims[a.rank - 1 - k] : 1;
    const int64_t db = k < b.rank ? b.dims[b.rank - 1 - k] : 1;
    int64_t d;
    if (da == db || db == 1) {
      d = da;
    } else if (da == 1) {
      d = db;
    } else {
      if (axis_a != nullptr) *axis_a = a.rank - 1 - k;
      if (axis_b != nullptr) *axis_b = b.rank - 1 - k;
      return false;
    }
    result.dims[rank - 1 - k] = d;
  }
  *out = result;
  return true;
}

void BroadcastStrides(const TensorView& view, const int64_t* out_shape, size_t out_rank,
                      int64_t* strides) {
  const size_t lead = out_rank - view.rank;
  for (size_t i = 0; i < out_rank; ++i) {
    if (i < lead) {
      strides[i] = 0;
    } else {
      const size_t j = i - lead;
      strides[i] = (view.shape[j] == 1 && out_shape[i] != 1) ? 0 : view.strides[j];
    }
  }
}

DtStatus* CheckBroadcastOutput(const OpCall& call, std::initializer_list<size_t> inputs,
                             std::initializer_list<const char*> names, const char* output_name) {
  // The shapes broadcast before input `until`, for messages (made only when one is needed).
  auto so_far = [&](size_t until) {
    std::string text;
    auto name = names.begin();
    for (size_t input : inputs) {
      if (input == until) break;
      text += (text.empty() ? "" : " and ") + ArgText("inputs", input, *name++) + " of shape " +
              ShapeText(call.inputs[input]);
    }
    return text;
  };
  Shape result;
  size_t n = 0;
  auto name = names.begin();
  for (size_t input : inputs) {
    const TensorView& view = call.inputs[input];
    const Shape shape = ShapeOf(view);
    if (n == 0) {
      result = shape;
    } else {
      Shape next;
      size_t axis_result = 0, axis_input = 0;
      if (!BroadcastShapes(result, shape, &next, &axis_result, &axis_input)) {
        return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", input, *name), " of shape ",
                    ShapeText(view), " does not broadcast with ", so_far(input), ": dimension ",
                    axis_input, " is ", view.shape[axis_input], " where the other has ",
                    result.dims[axis_result]);
      }
      result = next;
    }
    ++n;
    ++name;
  }
  return CheckOutputShape(call, call.outputs[0], Arg{"outputs", 0, output_name}, result.dims,
                          result.rank);
}

}  // namespace devtensor::ops
