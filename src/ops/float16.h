// float16 (IEEE binary16) and bfloat16 as bit patterns, and exact conversions to and from them.
// Every conversion into a 16-bit format rounds once, to nearest with ties to even, straight from
// the source value (no detour through float that could round twice). NaN stays NaN (quiet, sign
// kept); values beyond the largest finite number become infinity.
#ifndef DEVTENSOR_OPS_FLOAT16_H_
#define DEVTENSOR_OPS_FLOAT16_H_

#include <cmath>
#include <cstdint>
#include <cstring>

namespace devtensor::ops {

struct Float16 {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

namespace float16_detail {

// Rounds (-1)^negative * magnitude * 2^exponent to the binary format with kFraction explicit
// fraction bits and kExponent exponent bits; returns its bits (sign included).
template <int kFraction, int kExponent>
uint16_t Encode(bool negative, uint64_t magnitude, int exponent) {
  const uint16_t sign = negative ? uint16_t(1u << (kFraction + kExponent)) : uint16_t(0);
  if (magnitude == 0) return sign;
  constexpr int kBias = (1 << (kExponent - 1)) - 1;
  constexpr int kMinExponent = 1 - kBias;  // of the smallest normal number
  constexpr uint32_t kInfinity = ((1u << kExponent) - 1u) << kFraction;
  const int msb = 63 - __builtin_clzll(magnitude);
  const int value_exponent = msb + exponent;  // the value is in [2^e, 2^(e+1))
  if (value_exponent > kBias) return uint16_t(sign | kInfinity);
  // The result is an integer multiple of 2^quantum: kFraction bits below the leading one for
  // normal numbers, a fixed quantum for subnormal ones.
  const int quantum = value_exponent >= kMinExponent ? value_exponent - kFraction
                                                     : kMinExponent - kFraction;
  const int shift = quantum - exponent;  // bits of `magnitude` below the quantum
  uint64_t q;
  if (shift <= 0) {
    q = magnitude << -shift;  // exact; fits, since q < 2^(kFraction + 1)
  } else if (shift > 64) {
    q = 0;  // below half a quantum
  } else {
    const uint64_t kept = shift == 64 ? 0 : magnitude >> shift;
    const uint64_t rest = shift == 64 ? magnitude : magnitude & ((uint64_t(1) << shift) - 1);
    const uint64_t half = uint64_t(1) << (shift - 1);
    q = kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
  }
  uint32_t bits;
  if (value_exponent >= kMinExponent) {
    // q holds the implicit bit at kFraction; adding it to (biased exponent - 1) << kFraction sets
    // the exponent, and a carry out of the fraction moves to the next binade by itself.
    bits = (uint32_t(value_exponent + kBias - 1) << kFraction) + uint32_t(q);
  } else {
    bits = uint32_t(q);  // subnormal; q == 2^kFraction is the smallest normal number
  }
  if (bits >= kInfinity) bits = kInfinity;
  return uint16_t(sign | bits);
}

template <int kFraction, int kExponent>
uint16_t EncodeDouble(double value) {
  constexpr uint16_t kSignBit = uint16_t(1u << (kFraction + kExponent));
  const bool negative = std::signbit(value);
  if (std::isnan(value)) {
    const uint32_t quiet_nan = (((1u << kExponent) - 1u) << kFraction) | (1u << (kFraction - 1));
    return uint16_t((negative ? kSignBit : 0) | quiet_nan);
  }
  if (std::isinf(value)) {
    return uint16_t((negative ? kSignBit : 0) | (((1u << kExponent) - 1u) << kFraction));
  }
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const int biased = int((bits >> 52) & 0x7FF);
  uint64_t mantissa = bits & ((uint64_t(1) << 52) - 1);
  int exponent;
  if (biased == 0) {
    exponent = -1074;  // subnormal double
  } else {
    mantissa |= uint64_t(1) << 52;
    exponent = biased - 1075;
  }
  return Encode<kFraction, kExponent>(negative, mantissa, exponent);
}


// A signed integer, rounded to the format.
template <int kFraction, int kExponent>
uint16_t EncodeSigned(int64_t value) {
  const bool negative = value < 0;
  const uint64_t magnitude = negative ? uint64_t(0) - uint64_t(value) : uint64_t(value);
  return Encode<kFraction, kExponent>(negative, magnitude, 0);
}

}  // namespace float16_detail

// float16 <-> float / double / integers.
inline float ToFloat(Float16 h) {
  const uint32_t sign = uint32_t(h.bits & 0x8000) << 16;
  const uint32_t exponent = (h.bits >> 10) & 0x1F;
  const uint32_t fraction = h.bits & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (fraction << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (fraction << 13);
  } else {
    // Zero or subnormal: fraction * 2^-24, exact in float.
    float value = std::ldexp(float(fraction), -24);
    return sign ? -value : value;
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
inline Float16 ToFloat16(double value) { return {float16_detail::EncodeDouble<10, 5>(value)}; }
inline Float16 ToFloat16(int64_t value) { return {float16_detail::EncodeSigned<10, 5>(value)}; }
inline Float16 ToFloat16(uint64_t value) { return {float16_detail::Encode<10, 5>(false, value, 0)}; }

// bfloat16 <-> float / double / integers.
inline float ToFloat(BFloat16 b) {
  const uint32_t bits = uint32_t(b.bits) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
inline BFloat16 ToBFloat16(double value) { return {float16_detail::EncodeDouble<7, 8>(value)}; }
inline BFloat16 ToBFloat16(int64_t value) { return {float16_detail::EncodeSigned<7, 8>(value)}; }
inline BFloat16 ToBFloat16(uint64_t value) { return {float16_detail::Encode<7, 8>(false, value, 0)}; }

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_FLOAT16_H_
