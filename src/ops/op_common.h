// What every op's check and kernel share: the call, error messages, shape text, element-type
// dispatch and strided iteration over host memory.
#ifndef DEVTENSOR_OPS_OP_COMMON_H_
#define DEVTENSOR_OPS_OP_COMMON_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "ops/float16.h"
#include "ops/ops.h"

namespace devtensor::ops {

// One op call. Inputs and outputs as the caller passed them (in a host run, possibly replaced by
// snapshots, see ops.cpp).
struct OpCall {
  const char* op = "";
  // The parsed attributes: the check fills them, the host kernel reads them.
  DtOpParams* params = nullptr;
  const TensorView* inputs = nullptr;
  size_t num_inputs = 0;
  const TensorView* outputs = nullptr;
  size_t num_outputs = 0;
  const DtAttribute* attributes = nullptr;
  size_t num_attributes = 0;
};

// ---- Messages -----------------------------------------------------------------------------------

// An error whose message is `op`: followed by the parts.
template <typename... Parts>
DtStatus* Fail(DtErrorCode code, const char* op, const Parts&... parts) {
  return MakeStatus(code, Concat(op, ": ", parts...));
}

// "[2, 3]"; "[]" for a scalar (common/text.h).
using ::devtensor::ShapeText;
inline std::string ShapeText(const TensorView& view) { return ShapeText(view.shape, view.rank); }

// "inputs[1] (B)"; the name is the op's name for the argument.
std::string ArgText(const char* what, size_t index, const char* name);
// An argument named for an error message, whose text is made only when there is one.
struct Arg {
  const char* what;
  size_t index;
  const char* name;
  std::string text() const { return ArgText(what, index, name); }
};

const char* TypeName(DtElementType type);

// Number of elements; shapes were validated by the core, so no overflow.
int64_t ElementCount(const TensorView& view);
int64_t ElementCount(const int64_t* shape, size_t rank);

bool SameShape(const TensorView& view, const int64_t* shape, size_t rank);

// Bytes per element; 0 for an unknown type.
size_t ElementBytes(DtElementType type);

// ---- Element types ------------------------------------------------------------------------------

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with T the C++ type that stores `type` (bool for DT_BOOL, Float16 and
// BFloat16 for the 16-bit floats). `type` must be a DtElementType; f's result is returned.
template <typename F>
decltype(auto) VisitType(DtElementType type, F&& f) {
  switch (type) {
    case DT_UINT8: return f(TypeTag<uint8_t>{});
    case DT_INT8: return f(TypeTag<int8_t>{});
    case DT_UINT16: return f(TypeTag<uint16_t>{});
    case DT_INT16: return f(TypeTag<int16_t>{});
    case DT_INT32: return f(TypeTag<int32_t>{});
    case DT_INT64: return f(TypeTag<int64_t>{});
    case DT_BOOL: return f(TypeTag<bool>{});
    case DT_FLOAT16: return f(TypeTag<Float16>{});
    case DT_DOUBLE: return f(TypeTag<double>{});
    case DT_UINT32: return f(TypeTag<uint32_t>{});
    case DT_UINT64: return f(TypeTag<uint64_t>{});
    case DT_BFLOAT16: return f(TypeTag<BFloat16>{});
    case DT_FLOAT: break;
  }
  return f(TypeTag<float>{});
}

// Calls f(TypeTag<W>{}) with W the unsigned integer of `bytes` (1, 2, 4 or 8) bytes: for kernels
// that only move elements, whatever their type.
template <typename F>
decltype(auto) VisitWord(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    case 4: return f(TypeTag<uint32_t>{});
  }
  return f(TypeTag<uint64_t>{});
}

template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;
template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T> || kIsHalf<T>;
template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

bool IsKnownType(DtElementType type);
// Every type but bool: what Add, Sub, Mul, Div and ArgMax take.
bool IsNumeric(DtElementType type);

// ---- Host memory --------------------------------------------------------------------------------

// Element `element` (an offset in elements) of host memory at `base`. Bools are read as bytes, any
// nonzero byte being true.
template <typename T>
T Load(const void* base, int64_t element) {
  if constexpr (std::is_same_v<T, bool>) {
    return Load<uint8_t>(base, element) != 0;
  } else {
    T value;
    std::memcpy(&value, static_cast<const char*>(base) + element * int64_t(sizeof(T)), sizeof(T));
    return value;
  }
}
template <typename T>
void Store(void* base, int64_t element, T value) {
  std::memcpy(static_cast<char*>(base) + element * int64_t(sizeof(T)), &value, sizeof(T));
}

// Calls f(offsets) for every index of `shape` in row-major order, where offsets[k] is the element
// offset sum(index[i] * strides[k][i]) of operand k. Strides of 0 broadcast.
template <size_t N, typename F>
void ForEachIndex(const int64_t* shape, size_t rank, const std::array<const int64_t*, N>& strides,
                  F&& f) {
  for (size_t i = 0; i < rank; ++i) {
    if (shape[i] == 0) return;
  }
  int64_t index[DT_MAX_RANK] = {};
  std::array<int64_t, N> offsets{};
  while (true) {
    f(static_cast<const std::array<int64_t, N>&>(offsets));
    size_t i = rank;
    while (true) {
      if (i == 0) return;
      --i;
      if (++index[i] < shape[i]) {
        for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][i];
        break;
      }
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][i] * (shape[i] - 1);
      index[i] = 0;
    }
  }
}

// True when the two views' elements are at the same addresses in the same order: one data
// pointer, element size, shape and strides (strides of dimensions of size 1 ignored).
bool SameView(const TensorView& a, const TensorView& b);

// True when the views share at least one byte.
bool ViewsOverlap(const TensorView& a, const TensorView& b);

// Reads a one-element int32 tensor (a scalar such as total_length or position).
int32_t LoadScalarInt32(const TensorView& view);

// ---- Checks shared by the ops -------------------------------------------------------------------

// Exact input and output counts, naming the arguments: "Add takes 2 inputs (A, B) and 1 output (C)".
DtStatus* CheckCounts(const OpCall& call, size_t inputs, const char* input_names, size_t outputs,
                    const char* output_names);

// `view` (named by `arg`) has exactly one element and type int32.
DtStatus* CheckInt32Scalar(const OpCall& call, const TensorView& view, const Arg& arg);

// The output's shape equals `shape`: "outputs[0] (C) has shape [..] but the result has shape [..]".
DtStatus* CheckOutputShape(const OpCall& call, const TensorView& output, const Arg& arg,
                         const int64_t* shape, size_t rank);

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_OP_COMMON_H_
