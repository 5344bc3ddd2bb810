// Add, Sub, Mul, Div: C = A op B with multidirectional broadcasting, on every type but bool.
//
//   floats           IEEE arithmetic in the type; float16 and bfloat16 compute in float and round
//                    to nearest even (float holds enough bits that this rounds as the exact result)
//   integers         Add, Sub and Mul wrap modulo 2^bits; Div truncates toward zero as C does,
//                    and MIN / -1 wraps to MIN. A zero divisor fails the whole call with
//                    DT_INVALID_ARGUMENT before anything is written.
#include <array>

#include "ops/attributes.h"
#include "ops/broadcast.h"
#include "ops/convert.h"
#include "ops/op_defs.h"

namespace devtensor::ops {

namespace {

enum class Arithmetic { kAdd, kSub, kMul, kDiv };

template <Arithmetic kOp, typename T>
T Apply(T a, T b) {
  if constexpr (kIsHalf<T>) {
    return Convert<T>(Apply<kOp, float>(ToFloat(a), ToFloat(b)));
  } else if constexpr (std::is_floating_point_v<T>) {
    if constexpr (kOp == Arithmetic::kAdd) return a + b;
    if constexpr (kOp == Arithmetic::kSub) return a - b;
    if constexpr (kOp == Arithmetic::kMul) return a * b;
    if constexpr (kOp == Arithmetic::kDiv) return a / b;
  } else {
    // In uint64_t arithmetic, which wraps; the conversion back keeps the low bits.
    const uint64_t x = static_cast<uint64_t>(a), y = static_cast<uint64_t>(b);
    if constexpr (kOp == Arithmetic::kAdd) return static_cast<T>(x + y);
    if constexpr (kOp == Arithmetic::kSub) return static_cast<T>(x - y);
    if constexpr (kOp == Arithmetic::kMul) return static_cast<T>(x * y);
    if constexpr (kOp == Arithmetic::kDiv) {
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return static_cast<T>(uint64_t(0) - x);  // MIN / -1 wraps
      }
      return static_cast<T>(a / b);
    }
  }
}

template <typename T>
DtStatus* CheckNoZeroDivisor(const OpCall& call, const TensorView& b) {
  bool zero = false;
  std::array<const int64_t*, 1> strides = {b.strides};
  ForEachIndex<1>(b.shape, b.rank, strides, [&](const std::array<int64_t, 1>& offset) {
    if (Load<T>(b.data, offset[0]) == T(0)) zero = true;
  });
  if (!zero) return nullptr;
  return Fail(DT_INVALID_ARGUMENT, call.op, "division by zero: ", ArgText("inputs", 1, "B"),
              " (", TypeName(b.type), ", shape ", ShapeText(b),
              ") holds a zero, which integer division does not define; nothing was written");
}

template <Arithmetic kOp>
DtStatus* RunBinary(const OpCall& call) {
  const TensorView &a = call.inputs[0], &b = call.inputs[1], &c = call.outputs[0];
  return VisitType(c.type, [&](auto tag) -> DtStatus* {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return Fail(DT_INVALID_ARGUMENT, call.op, "bool is not a numeric type");
    } else {
      if constexpr (kOp == Arithmetic::kDiv && kIsInteger<T>) {
        // An empty result reads nothing, so B's zeros do not matter then.
        if (ElementCount(c) == 0) return nullptr;
        DT_RETURN_IF_ERROR(CheckNoZeroDivisor<T>(call, b));
      }
      int64_t sa[DT_MAX_RANK], sb[DT_MAX_RANK];
      BroadcastStrides(a, c.shape, c.rank, sa);
      BroadcastStrides(b, c.shape, c.rank, sb);
      std::array<const int64_t*, 3> strides = {sa, sb, c.strides};
      ForEachIndex<3>(c.shape, c.rank, strides, [&](const std::array<int64_t, 3>& at) {
        Store<T>(c.data, at[2], Apply<kOp, T>(Load<T>(a.data, at[0]), Load<T>(b.data, at[1])));
      });
      return nullptr;
    }
  });
}

}  // namespace

DtStatus* CheckBinary(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 2, "A, B", 1, "C"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {}, &attributes));
  const TensorView &a = call.inputs[0], &b = call.inputs[1], &c = call.outputs[0];
  if (!IsNumeric(a.type)) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "A"), " has element type ",
                TypeName(a.type), "; the op takes numeric types (every type but bool)");
  }
  if (b.type != a.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 1, "B"), " has element type ",
                TypeName(b.type), " but ", ArgText("inputs", 0, "A"), " has ", TypeName(a.type),
                "; both must have one type");
  }
  if (c.type != a.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "C"), " has element type ",
                TypeName(c.type), " but the inputs have ", TypeName(a.type));
  }
  return CheckBroadcastOutput(call, {0, 1}, {"A", "B"}, "C");
}

DtStatus* RunAdd(const OpCall& call) { return RunBinary<Arithmetic::kAdd>(call); }
DtStatus* RunSub(const OpCall& call) { return RunBinary<Arithmetic::kSub>(call); }
DtStatus* RunMul(const OpCall& call) { return RunBinary<Arithmetic::kMul>(call); }
DtStatus* RunDiv(const OpCall& call) { return RunBinary<Arithmetic::kDiv>(call); }

}  // namespace devtensor::ops
