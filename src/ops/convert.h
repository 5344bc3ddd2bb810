// Conversion of one element between any two element types on the host, as Cast defines it (and
// Fill, which converts its float value "as Cast would"), by the rules of conversion_rules.h, which
// device kernel generators follow too.
#ifndef DEVTENSOR_OPS_CONVERT_H_
#define DEVTENSOR_OPS_CONVERT_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/conversion_rules.h"
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

// A finite or infinite double (or NaN) to the integer type To: truncation, NaN -> 0, saturation to
// IntegerRangeOf(To).
template <typename To>
To SaturatingFromDouble(double value) {
  if (std::isnan(value)) return To(0);
  constexpr IntegerRange kRange = IntegerRangeOf(element_type_of<To>());
  const double truncated = std::trunc(value);
  // The bounds as doubles are exact, or (the largest 64-bit values) round up to 2^63 and 2^64,
  // the first values beyond them.
  if (truncated >= static_cast<double>(kRange.max)) return static_cast<To>(kRange.max);
  if (truncated <= static_cast<double>(kRange.min)) return static_cast<To>(kRange.min);
  return static_cast<To>(truncated);
}

// A value of From converted to To, by the rule ConversionBetween picks for their element types.
template <typename To, typename From>
To Convert(From value) {
  constexpr Conversion kRule = ConversionBetween(element_type_of<From>(), element_type_of<To>());
  if constexpr (kRule == Conversion::kSame) {
    return value;
  } else if constexpr (kRule == Conversion::kToBool) {
    if constexpr (kIsHalf<From>) {
      return ToFloat(value) != 0.0f;
    } else {
      return value != From(0);
    }
  } else if constexpr (kRule == Conversion::kFromBool) {
    return Convert<To>(static_cast<uint8_t>(value ? 1 : 0));
  } else if constexpr (kRule == Conversion::kWrapInteger) {
    return static_cast<To>(value);
  } else if constexpr (kRule == Conversion::kSaturateToInteger) {
    return SaturatingFromDouble<To>(AsDouble(value));
  } else if constexpr (kIsInteger<From>) {  // kRoundToFloat from an integer
    if constexpr (std::is_same_v<To, Float16>) {
      if constexpr (std::is_signed_v<From>) return ToFloat16(int64_t(value));
      else return ToFloat16(uint64_t(value));
    } else if constexpr (std::is_same_v<To, BFloat16>) {
      if constexpr (std::is_signed_v<From>) return ToBFloat16(int64_t(value));
      else return ToBFloat16(uint64_t(value));
    } else {
      return static_cast<To>(value);  // float, double: C++ rounds to nearest even
    }
  } else {  // kRoundToFloat or kExactToFloat from a float
    const double exact = AsDouble(value);
    if constexpr (std::is_same_v<To, Float16>) {
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
      float result = static_cast<float>(exact);
      if (std::isnan(result)) {
        // Quiet, as IEEE conversions are: an optimiser may drop the float -> double -> float
        // round trip of a half's signalling NaN, which the hardware would have quieted.
        uint32_t bits = 0;
        std::memcpy(&bits, &result, sizeof bits);
        bits |= 0x00400000u;
        std::memcpy(&result, &bits, sizeof bits);
      }
      return result;
    } else {
      return exact;  // double
    }
  }
}

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_CONVERT_H_
