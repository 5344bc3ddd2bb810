// float16 (IEEE binary16) and bfloat16 in the kernels: the public types and conversions of
// devtensor.hpp (devtensor::Float16, ToFloat16, ToFloat, ...), so that the library and its users
// round the same way, plus conversions from integers, which Cast needs. Every conversion into a
// 16-bit format rounds once, to nearest with ties to even, straight from the source value (no
// detour through float that could round twice). NaN stays NaN (quiet, sign kept); values beyond
// the largest finite number become infinity.
#ifndef DEVTENSOR_OPS_FLOAT16_H_
#define DEVTENSOR_OPS_FLOAT16_H_

#include <cstdint>

#include "devtensor/devtensor.hpp"

namespace devtensor::ops {

using ::devtensor::BFloat16;
using ::devtensor::Float16;
using ::devtensor::ToBFloat16;
using ::devtensor::ToFloat;
using ::devtensor::ToFloat16;

// A signed integer, rounded to the format.
template <int kFraction, int kExponent>
uint16_t EncodeSigned(int64_t value) {
  const bool negative = value < 0;
  const uint64_t magnitude = negative ? uint64_t(0) - uint64_t(value) : uint64_t(value);
  return ::devtensor::detail::EncodeBinary16<kFraction, kExponent>(negative, magnitude, 0);
}

inline Float16 ToFloat16(int64_t value) { return {EncodeSigned<10, 5>(value)}; }
inline Float16 ToFloat16(uint64_t value) {
  return {::devtensor::detail::EncodeBinary16<10, 5>(false, value, 0)};
}
inline BFloat16 ToBFloat16(int64_t value) { return {EncodeSigned<7, 8>(value)}; }
inline BFloat16 ToBFloat16(uint64_t value) {
  return {::devtensor::detail::EncodeBinary16<7, 8>(false, value, 0)};
}

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_FLOAT16_H_
