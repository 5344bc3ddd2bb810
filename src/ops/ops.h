// Op definitions and their reference semantics. Used by the core to check every DtRunOp call
// before a provider sees it, and by host-memory providers (the CPU provider) as their kernels.
//
// Every op follows the list in include/devtensor/devtensor.h: the ONNX ops Cast, Add, Sub, Mul,
// Div, Where, ScatterND, ArgMax, Expand with ONNX semantics, and devtensor's decode ops Fill,
// UpdateAttentionMask, UpdatePositionIds, KvCacheAppend.
#ifndef DEVTENSOR_OPS_OPS_H_
#define DEVTENSOR_OPS_OPS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "devtensor/devtensor.h"

namespace devtensor::ops {

// An op's failure: a code and a message naming the op, the argument and the numbers.
struct OpError {
  DtErrorCode code = DT_OK;
  std::string message;
  explicit operator bool() const { return code != DT_OK; }
};

// A tensor as ops see it. `data` is the address of element [0, ..., 0] for host kernels, null
// when only the metadata is known (checks). Strides in elements.
struct TensorView {
  DtElementType type = DT_FLOAT;
  size_t rank = 0;
  int64_t shape[DT_MAX_RANK] = {};
  int64_t strides[DT_MAX_RANK] = {};
  void* data = nullptr;
};

// True for the op types devtensor defines.
bool IsKnownOp(const char* op_type);

// Checks a call against the op's definition: input and output counts, element types, shapes
// (outputs must have the shape the op produces; broadcasting as ONNX), and attributes (names,
// types, values). Reads no tensor data.
OpError CheckOp(const char* op_type, const TensorView* inputs, size_t num_inputs,
                const TensorView* outputs, size_t num_outputs, const DtAttribute* attributes,
                size_t num_attributes);

// Runs the op on host memory (the reference semantics). The call passed CheckOp. Outputs may
// share memory with inputs: an output that overlaps an input other than by being the very same
// view is computed into a temporary first. Only the outputs' elements are written.
OpError RunHostOp(const char* op_type, const TensorView* inputs, size_t num_inputs,
                  const TensorView* outputs, size_t num_outputs, const DtAttribute* attributes,
                  size_t num_attributes);

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_OPS_H_
