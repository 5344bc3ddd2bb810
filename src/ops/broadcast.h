// Multidirectional (numpy) broadcasting, as ONNX defines it for Add, Sub, Mul, Div, Where and
// Expand: shapes are aligned at their last dimension; two dimensions agree when they are equal or
// one of them is 1, and the result takes the other.
#ifndef DEVTENSOR_OPS_BROADCAST_H_
#define DEVTENSOR_OPS_BROADCAST_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "ops/op_common.h"

namespace devtensor::ops {

// A shape of up to DT_MAX_RANK dimensions.
struct Shape {
  size_t rank = 0;
  int64_t dims[DT_MAX_RANK] = {};
};

inline Shape ShapeOf(const TensorView& view) {
  Shape shape;
  shape.rank = view.rank;
  for (size_t i = 0; i < view.rank; ++i) shape.dims[i] = view.shape[i];
  return shape;
}

// The broadcast of `a` and `b` into `out`; false when a pair of dimensions disagrees (then
// `*axis_a`, `*axis_b` name the first such pair, in each shape's own numbering, when not null) or
// the result's rank exceeds DT_MAX_RANK.
bool BroadcastShapes(const Shape& a, const Shape& b, Shape* out, size_t* axis_a = nullptr,
                     size_t* axis_b = nullptr);

// The strides (in elements) that read `view` broadcast to `out_shape` (whose rank is >= the
// view's and which the view broadcasts to): the view's strides aligned right, 0 for dimensions the
// view lacks or has as 1.
void BroadcastStrides(const TensorView& view, const int64_t* out_shape, size_t out_rank,
                      int64_t* strides);

// Checks that the listed inputs broadcast together and that outputs[0] has the result's shape.
// `names` are the inputs' op names, e.g. {"A", "B"}.
DtStatus* CheckBroadcastOutput(const OpCall& call, std::initializer_list<size_t> inputs,
                             std::initializer_list<const char*> names, const char* output_name);

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_BROADCAST_H_
