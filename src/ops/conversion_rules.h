// How Cast converts one element type into another, as facts about the types: which rule applies
// to a pair, the range an integer target saturates to, the precision a float target rounds to.
// The host kernels (convert.h) and every device's kernel generator (the WebGPU provider's WGSL)
// take their rules from here, so that a device converts exactly as the CPU does.
//
//   to bool            value != 0 (NaN is true, -0.0 false)
//   from bool          0 or 1, then as that integer
//   integer -> integer modulo 2^bits of the target (two's complement)
//   float -> integer   truncation toward zero; NaN gives 0; values beyond the target's range
//                      saturate to IntegerRangeOf(target)
//   -> float           rounding to nearest even, once, from the exact source value, to the
//                      target's FloatFormatOf (significand bits, smallest normal exponent)
//   float -> wider float  exact
#ifndef DEVTENSOR_OPS_CONVERSION_RULES_H_
#define DEVTENSOR_OPS_CONVERSION_RULES_H_

#include <cstdint>

#include "devtensor/devtensor.h"

namespace devtensor::ops {

// True for float, float16, bfloat16 and double.
constexpr bool IsFloatType(DtElementType type) {
  return type == DT_FLOAT || type == DT_FLOAT16 || type == DT_BFLOAT16 || type == DT_DOUBLE;
}

// The values an integer type holds: [min, max]. For float -> integer saturation.
struct IntegerRange {
  int64_t min;
  uint64_t max;
};
constexpr IntegerRange IntegerRangeOf(DtElementType type) {
  switch (type) {
    case DT_INT8: return {INT8_MIN, INT8_MAX};
    case DT_INT16: return {INT16_MIN, INT16_MAX};
    case DT_INT32: return {INT32_MIN, INT32_MAX};
    case DT_INT64: return {INT64_MIN, INT64_MAX};
    case DT_UINT8: return {0, UINT8_MAX};
    case DT_UINT16: return {0, UINT16_MAX};
    case DT_UINT32: return {0, UINT32_MAX};
    case DT_UINT64: return {0, UINT64_MAX};
    default: break;
  }
  return {0, 1};  // bool
}

// What a float type rounds to: significand bits (the implicit one included) and the exponent of
// its smallest normal number, below which it is subnormal.
struct FloatFormat {
  int significand_bits;
  int min_normal_exponent;
};
constexpr FloatFormat FloatFormatOf(DtElementType type) {
  switch (type) {
    case DT_FLOAT16: return {11, -14};
    case DT_BFLOAT16: return {8, -126};
    case DT_DOUBLE: return {53, -1022};
    default: break;
  }
  return {24, -126};  // float
}

// Which rule converts a value of `from` into `to`.
enum class Conversion {
  kSame,               // the same type: the bits as they are
  kToBool,             // != 0; NaN is true
  kFromBool,           // 0 or 1, then as an integer
  kWrapInteger,        // integer -> integer, modulo 2^bits
  kSaturateToInteger,  // float -> integer: truncate, NaN -> 0, saturate to IntegerRangeOf(to)
  kRoundToFloat,       // -> a float that may not hold the value: round once to FloatFormatOf(to)
  kExactToFloat,       // float -> a float that holds every value of `from`
};

constexpr Conversion ConversionBetween(DtElementType from, DtElementType to) {
  if (from == to) return Conversion::kSame;
  if (to == DT_BOOL) return Conversion::kToBool;
  if (from == DT_BOOL) return Conversion::kFromBool;
  if (IsFloatType(to)) {
    if (IsFloatType(from)) {
      const FloatFormat a = FloatFormatOf(from), b = FloatFormatOf(to);
      const bool holds = b.significand_bits >= a.significand_bits &&
                         b.min_normal_exponent <= a.min_normal_exponent;
      return holds ? Conversion::kExactToFloat : Conversion::kRoundToFloat;
    }
    return Conversion::kRoundToFloat;
  }
  return IsFloatType(from) ? Conversion::kSaturateToInteger : Conversion::kWrapInteger;
}

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_CONVERSION_RULES_H_
