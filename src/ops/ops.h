// Op definitions and their reference semantics. Used by the core to check every DtRunOp call
// before a provider sees it, and by host-memory providers (the CPU provider) as their kernels.
//
// Every op follows the list in include/devtensor/devtensor.h: the ONNX ops Cast, Add, Sub, Mul,
// Div, Where, ScatterND, ArgMax, Expand with ONNX semantics, and devtensor's decode ops Fill,
// UpdateAttentionMask, UpdatePositionIds, KvCacheAppend. Where the header and ONNX leave a choice
// open, these are the definitions (one file per op family in this folder holds the details):
//
//   Calls       The core checks a call once (CheckOp), which parses its attributes into a
//               DtOpParams with every default filled in, and hands providers the op's DtOpId and
//               those parameters. Host kernels (RunHostOp) take the parameters, never attributes.
//   Errors      Counts, element types, shapes and attributes are DT_INVALID_ARGUMENT, except an
//               attribute value devtensor cannot express or run (Cast to string, complex or 8-bit
//               float types; ScatterND's `reduction`), which is DT_NOT_SUPPORTED, and an `axis`
//               outside [-rank, rank - 1], which is DT_OUT_OF_RANGE as in DtSliceTensor. Unknown
//               attribute names, a name given twice, and the wrong DtAttributeType are errors.
//               Messages name the op, the argument ("inputs[1] (B)") and the numbers, and quote
//               both shapes when an output's shape is not the result's.
//   Data        Errors that depend on tensor data are found by RunHostOp, before it writes
//               anything: an integer Div by zero (DT_INVALID_ARGUMENT), a ScatterND index out of
//               range (DT_OUT_OF_RANGE), Expand's shape values (negative, not broadcastable, or
//               not the output's shape: DT_INVALID_ARGUMENT), a KvCacheAppend position out of range
//               (DT_OUT_OF_RANGE). CheckOp checks what it can without data: Expand's result rank
//               and the dimensions where the input's is not 1; ScatterND's ranks and shapes.
//   Scalars     total_length and position are int32 tensors holding exactly one element, of any
//               rank (shape [] or [1] alike).
//   Cast        `to` is required. Float to integer truncates toward zero, saturates to the
//               target's range and maps NaN to 0; integer to integer wraps; to bool is != 0 (NaN
//               is true); to float16/bfloat16 rounds once to nearest even from the exact value.
//   Arithmetic  Not on bool. Integers wrap (Add, Sub, Mul; MIN / -1 = MIN); Div truncates toward
//               zero. float16/bfloat16 compute in float and round to nearest even.
//   ArgMax      Not on bool; needs rank >= 1; keepdims and select_last_index must be 0 or 1;
//               an axis of size 0 is an error unless the output is empty. NaN is the maximum
//               (numpy's argmax).
//   ScatterND   Repeated index tuples: the last in row-major order of `indices` wins. Any
//               attribute named `reduction` is DT_NOT_SUPPORTED (DtAttribute has no strings, so
//               reduction "none" is the attribute's absence).
//   Fill        `value` (float) is required; converted to y's type as Cast converts a float.
//   UpdatePositionIds  Wraps on overflow; `increment` must fit in int32 for int32 ids.
//   KvCacheAppend  new_kv and cache have one element type (any) and equal batch, heads and
//               head_dim; new_len > max_len is found at run time (no position fits).
#ifndef DEVTENSOR_OPS_OPS_H_
#define DEVTENSOR_OPS_OPS_H_

#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "devtensor/devtensor.h"
#include "devtensor/devtensor_provider.h"

namespace devtensor::ops {

// A tensor as ops see it. `data` is the address of element [0, ..., 0] for host kernels, null
// when only the metadata is known (checks). Strides in elements.
struct TensorView {
  DtElementType type = DT_FLOAT;
  size_t rank = 0;
  int64_t shape[DT_MAX_RANK] = {};
  int64_t strides[DT_MAX_RANK] = {};
  void* data = nullptr;
};

struct OpCall;

// One op devtensor defines: its identity, the tensor whose type keys its kernels, its check and
// its host kernel (ops.cpp holds the table; one file per op family holds the functions).
struct OpDefinition {
  DtOpId id;
  const char* name;
  // The principal tensor (see DtGetOpSupport): input `principal_input`, or the first output when
  // it is negative.
  int principal_input;
  // The principal element types the definition allows.
  bool (*takes)(DtElementType type);
  // Checks a call (counts, element types, shapes, attributes) and fills call.params.
  DtStatus* (*check)(const OpCall& call);
  // Runs a checked call on host memory. No input overlaps an output except as the very same view
  // for the inputs in `in_place_inputs` (RunHostOp snapshots the others first).
  DtStatus* (*run)(const OpCall& call);
  // Bit i set: input i may be the same view as outputs[0], and the kernel reads each element of
  // it before writing the output element at the same place.
  unsigned in_place_inputs;
};

// The op named `op_type` (NULL: none), or null when devtensor defines no such op.
const OpDefinition* FindOp(const char* op_type);
// The op with identifier `id`, or null for a number that is no DtOpId.
const OpDefinition* FindOp(DtOpId id);

// The type that keys `op`'s kernels in a call of these tensors (see DtGetOpSupport).
DtElementType PrincipalType(const OpDefinition& op, const TensorView* inputs,
                            const TensorView* outputs);

// Checks a call against the op's definition: input and output counts, element types, shapes
// (outputs must have the shape the op produces; broadcasting as ONNX), and attributes (names,
// types, values). Reads no tensor data. On success `params` holds the parsed attributes, with
// every default filled in.
DtStatus* CheckOp(const OpDefinition& op, const TensorView* inputs, size_t num_inputs,
                  const TensorView* outputs, size_t num_outputs, const DtAttribute* attributes,
                  size_t num_attributes, DtOpParams* params);

// Runs a call CheckOp accepted, with the parameters it made, on host memory (the reference
// semantics). Outputs may share memory with inputs: an input that overlaps an output is read from
// a snapshot taken before anything is written, unless it is the very same view as the output and
// the op works element by element in place (Cast, Add, Sub, Mul, Div, Where, Expand; ScatterND's
// data). Only the outputs' elements are written, and nothing at all when the op fails.
DtStatus* RunHostOp(const OpDefinition& op, const TensorView* inputs, size_t num_inputs,
                    const TensorView* outputs, size_t num_outputs, const DtOpParams& params);

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_OPS_H_
