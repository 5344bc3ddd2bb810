// ScatterND (reduction "none"): output = data, then for every index tuple t of `indices` (its
// last dimension, of length k, holds the tuples) output[t, ...] = updates[position of t, ...].
// Negative indices count from the end of their dimension. Every index is checked before anything
// is written: one out of range fails the call with DT_OUT_OF_RANGE. Tuples that repeat are applied
// in row-major order of `indices`, so the last one wins.
//
// DtAttribute has no strings, so ONNX's `reduction` cannot be given at all: an attribute of that
// name, of any type, is DT_NOT_SUPPORTED.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "ops/attributes.h"
#include "ops/op_defs.h"
#include "host_memory/strided_copy.h"

namespace devtensor::ops {

DtStatus* CheckScatterND(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 3, "data, indices, updates", 1, "output"));
  for (size_t i = 0; i < call.num_attributes; ++i) {
    if (call.attributes[i].name != nullptr &&
        std::strcmp(call.attributes[i].name, "reduction") == 0) {
      return Fail(DT_NOT_SUPPORTED, call.op,
                  "attribute 'reduction' is not supported: only ScatterND without reduction "
                  "(ONNX's reduction \"none\") is");
    }
  }
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {}, &attributes));
  const TensorView &data = call.inputs[0], &indices = call.inputs[1], &updates = call.inputs[2];
  const TensorView& output = call.outputs[0];
  if (indices.type != DT_INT64) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 1, "indices"),
                " has element type ", TypeName(indices.type), " but must be int64");
  }
  if (updates.type != data.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 2, "updates"),
                " has element type ", TypeName(updates.type), " but ",
                ArgText("inputs", 0, "data"), " has ", TypeName(data.type));
  }
  if (output.type != data.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "output"),
                " has element type ", TypeName(output.type), " but ",
                ArgText("inputs", 0, "data"), " has ", TypeName(data.type));
  }
  if (data.rank < 1) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "data"),
                " is a scalar; it needs rank >= 1");
  }
  if (indices.rank < 1) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 1, "indices"),
                " is a scalar; it needs rank >= 1");
  }
  const int64_t k = indices.shape[indices.rank - 1];
  if (k > static_cast<int64_t>(data.rank)) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 1, "indices"), " has shape ",
                ShapeText(indices), ": its last dimension, ", k,
                ", exceeds the rank of data of shape ", ShapeText(data), ", ", data.rank);
  }
  // updates.shape = indices.shape[:-1] + data.shape[k:]
  int64_t expected[2 * DT_MAX_RANK];
  size_t rank = 0;
  for (size_t i = 0; i + 1 < indices.rank; ++i) expected[rank++] = indices.shape[i];
  for (size_t i = static_cast<size_t>(k); i < data.rank; ++i) expected[rank++] = data.shape[i];
  if (!SameShape(updates, expected, rank)) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 2, "updates"), " has shape ",
                ShapeText(updates), " but indices of shape ", ShapeText(indices),
                " into data of shape ", ShapeText(data), " need updates of shape ",
                ShapeText(expected, rank), " (indices.shape[:-1] + data.shape[", k, ":])");
  }
  return CheckOutputShape(call, output, Arg{"outputs", 0, "output"}, data.shape, data.rank);
}

DtStatus* RunScatterND(const OpCall& call) {
  const TensorView &data = call.inputs[0], &indices = call.inputs[1], &updates = call.inputs[2];
  const TensorView& output = call.outputs[0];
  const size_t k = static_cast<size_t>(indices.shape[indices.rank - 1]);
  const size_t tuple_rank = indices.rank - 1;  // dimensions of indices that list the tuples
  const int64_t tuples = ElementCount(indices.shape, tuple_rank);
  const size_t element_size = ElementBytes(output.type);

  // Every tuple's element offset in the output, checked before anything is written.
  std::vector<int64_t> targets;
  targets.reserve(static_cast<size_t>(tuples));
  {
    int64_t index[DT_MAX_RANK] = {};  // of the tuple, over indices.shape[:-1]
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t at = 0;
      for (size_t i = 0; i < tuple_rank; ++i) at += index[i] * indices.strides[i];
      int64_t target = 0;
      for (size_t j = 0; j < k; ++j) {
        const int64_t value =
            Load<int64_t>(indices.data, at + int64_t(j) * indices.strides[tuple_rank]);
        const int64_t dim = data.shape[j];
        if (value < -dim || value >= dim) {
          int64_t where[DT_MAX_RANK];
          std::copy(index, index + tuple_rank, where);
          where[tuple_rank] = int64_t(j);
          return Fail(DT_OUT_OF_RANGE, call.op, "indices", ShapeText(where, tuple_rank + 1),
                      " = ", value, " is out of range for dimension ", j,
                      " of data of shape ", ShapeText(data), " (valid: ", -dim, " to ", dim - 1,
                      "); nothing was written");
        }
        target += (value < 0 ? value + dim : value) * output.strides[j];
      }
      targets.push_back(target);
      for (size_t i = tuple_rank; i-- > 0;) {
        if (++index[i] < indices.shape[i]) break;
        index[i] = 0;
      }
    }
  }

  // An empty output takes nothing (updates is empty too, or an index was out of range above), and
  // the offsets below could overflow with the huge strides an empty view may have.
  if (ElementCount(output) == 0) return nullptr;
  if (!SameView(data, output)) {
    CopyStrided(data.data, data.strides, output.data, output.strides, output.shape, output.rank,
                element_size);
  }
  // Each update is the slice data.shape[k:] of `updates` after its tuple dimensions.
  const int64_t* slice_shape = data.shape + k;
  const size_t slice_rank = data.rank - k;
  int64_t index[DT_MAX_RANK] = {};
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t from = 0;
    for (size_t i = 0; i < tuple_rank; ++i) from += index[i] * updates.strides[i];
    CopyStrided(static_cast<const char*>(updates.data) + from * int64_t(element_size),
                updates.strides + tuple_rank,
                static_cast<char*>(output.data) + targets[size_t(t)] * int64_t(element_size),
                output.strides + k, slice_shape, slice_rank, element_size);
    for (size_t i = tuple_rank; i-- > 0;) {
      if (++index[i] < indices.shape[i]) break;
      index[i] = 0;
    }
  }
  return nullptr;
}

}  // namespace devtensor::ops
