// Conversion of one element between any two element types, as Cast defines it (and Fill, which
// converts its float value "as Cast would").
//
//   to bool            value != 0 (NaN is true, -0.0 false)
//   from bool          0 or 1
//   integer -> integer modulo 2^bits of the target (two's complement), as C++ and numpy do
//   float -> integer   truncation toward zero; NaN gives 0; values beyond the target's range
//                      saturate to its minimum or maximum
//   to float / double  rounding to nearest even (C++ conversions)
//   to float16 / bfloat16  rounding to nearest even, once, from the exact source value
//   from float16 / bfloat16  exact (through float)
#ifndef DEVTENSOR_OPS_CONVERT_H_
#define DEVTENSOR_OPS_CONVERT_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ops/float16.h"
#include "ops/op_common.h"

namespace devtensor::ops {

// The value of a floating element as double (exact for every floating type).
template <typename T>
double AsDouble(T value) {
  if constexpr (kIsHalf<T>) {
    return ToFloat(value);
  } else {
    return static_cast<double>(value);
  }
}

// A finite or infinite double (or NaN) to the integer type To: truncation, NaN -> 0, saturation.
template <typename To>
To SaturatingFromDouble(double value) {
  if (std::isnan(value)) return To(0);
  const double truncated = std::trunc(value);
  constexpr int kBits = std::numeric_limits<To>::digits;  // value bits: 63 for int64, 64 for uint64
  const double above = std::ldexp(1.0, kBits);               // the first value above the maximum
  const double lowest = std::is_signed_v<To> ? -above : 0.0;
  if (truncated >= above) return std::numeric_limits<To>::max();
  if (truncated <= lowest) return std::numeric_limits<To>::min();
  return static_cast<To>(truncated);
}

template <typename To, typename From>
To Convert(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (kIsHalf<From>) {
      return ToFloat(value) != 0.0f;
    } else {
      return value != From(0);
    }
  } else if constexpr (std::is_same_v<From, bool>) {
    return Convert<To>(static_cast<uint8_t>(value ? 1 : 0));
  } else if constexpr (kIsInteger<From>) {
    if constexpr (kIsInteger<To>) {
      return static_cast<To>(value);
    } else if constexpr (std::is_same_v<To, Float16>) {
      if constexpr (std::is_signed_v<From>) return ToFloat16(int64_t(value));
      else return ToFloat16(uint64_t(value));
    } else if constexpr (std::is_same_v<To, BFloat16>) {
      if constexpr (std::is_signed_v<From>) return ToBFloat16(int64_t(value));
      else return ToBFloat16(uint64_t(value));
    } else {
      return static_cast<To>(value);  // float, double
    }
  } else {
    // From is a floating type.
    const double exact = AsDouble(value);
    if constexpr (kIsInteger<To>) {
      return SaturatingFromDouble<To>(exact);
    } else if constexpr (std::is_same_v<To, Float16>) {
      return ToFloat16(exact);
    } else if constexpr (std::is_same_v<To, BFloat16>) {
      return ToBFloat16(exact);
    } else if constexpr (std::is_same_v<To, float>) {
      // Beyond the float range C++ leaves the conversion undefined; IEEE rounds to the largest
      // float below 2^128 - 2^103 (half an ulp above it) and to infinity from there on.
      if (std::isfinite(exact) && std::fabs(exact) > double(std::numeric_limits<float>::max())) {
        const double limit = std::ldexp(1.0, 128) - std::ldexp(1.0, 103);
        const float big = std::fabs(exact) >= limit ? std::numeric_limits<float>::infinity()
                                                    : std::numeric_limits<float>::max();
        return exact < 0 ? -big : big;
      }
      return static_cast<float>(exact);
    } else {
      return exact;  // double
    }
  }
}

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_CONVERT_H_
