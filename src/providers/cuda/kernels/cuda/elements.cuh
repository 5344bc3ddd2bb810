// The element types of the CUDA kernels and the rules for one element: Cast's conversions,
// Add/Sub/Mul/Div and ArgMax's comparison, each exactly as the CPU reference defines it
// (src/ops/conversion_rules.h, convert.h, float16.h, elementwise.cpp, argmax.cpp), bit for bit.
//
// NVRTC compiles this file after kernel_abi.h and before ops.cuh; the unit test
// (cuda_element_rules_test.cpp) compiles it as host C++ against the CPU reference. So it has no
// includes and uses only the fundamental types; conversions work on bit patterns, never on a
// hardware conversion whose NaN or overflow handling could differ between the two.
//
// The launcher names kernels by their template arguments, so every element type has exactly one
// spelling: float, double, signed char (int8), unsigned char (uint8), short, unsigned short, int,
// unsigned int, long long, unsigned long long, dtk_bool, dtk_half (float16), dtk_bfloat16.
#ifndef DEVTENSOR_PROVIDERS_CUDA_KERNELS_CUDA_ELEMENTS_CUH_
#define DEVTENSOR_PROVIDERS_CUDA_KERNELS_CUDA_ELEMENTS_CUH_

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define DTK_DEVICE_CODE 1
#define DTK_FN __device__ __forceinline__
#else
#define DTK_DEVICE_CODE 0
#define DTK_FN inline
#endif

// bool as a type of its own (not uint8): one byte, nonzero is true.
struct dtk_bool {
  unsigned char value;
};
// IEEE binary16: sign, 5 exponent bits, 10 fraction bits.
struct dtk_half {
  unsigned short bits;
};
// bfloat16: a float's upper half (sign, 8 exponent bits, 7 fraction bits).
struct dtk_bfloat16 {
  unsigned short bits;
};

// ---- bit patterns --------------------------------------------------------------------------------

DTK_FN unsigned long long dtk_bits(float value) {
#if DTK_DEVICE_CODE
  return __float_as_uint(value);
#else
  unsigned int bits;
  __builtin_memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}
DTK_FN unsigned long long dtk_bits(double value) {
#if DTK_DEVICE_CODE
  return static_cast<unsigned long long>(__double_as_longlong(value));
#else
  unsigned long long bits;
  __builtin_memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}
DTK_FN unsigned long long dtk_bits(dtk_half value) { return value.bits; }
DTK_FN unsigned long long dtk_bits(dtk_bfloat16 value) { return value.bits; }

DTK_FN float dtk_float_from_bits(unsigned int bits) {
#if DTK_DEVICE_CODE
  return __uint_as_float(bits);
#else
  float value;
  __builtin_memcpy(&value, &bits, sizeof value);
  return value;
#endif
}
DTK_FN double dtk_double_from_bits(unsigned long long bits) {
#if DTK_DEVICE_CODE
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double value;
  __builtin_memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

// ---- what each element type is ---------------------------------------------------------------------

enum dtk_kind { DTK_BOOL, DTK_SIGNED, DTK_UNSIGNED, DTK_FLOAT };

// kind and width; floating types also their format (fraction and exponent bits) and how to make
// a value from its bits.
template <typename T>
struct dtk_traits;

template <dtk_kind Kind, int Bits>
struct dtk_integer_traits {
  static constexpr dtk_kind kind = Kind;
  static constexpr int bits = Bits;
  static constexpr bool is_half = false;
};
template <> struct dtk_traits<signed char> : dtk_integer_traits<DTK_SIGNED, 8> {};
template <> struct dtk_traits<short> : dtk_integer_traits<DTK_SIGNED, 16> {};
template <> struct dtk_traits<int> : dtk_integer_traits<DTK_SIGNED, 32> {};
template <> struct dtk_traits<long long> : dtk_integer_traits<DTK_SIGNED, 64> {};
template <> struct dtk_traits<unsigned char> : dtk_integer_traits<DTK_UNSIGNED, 8> {};
template <> struct dtk_traits<unsigned short> : dtk_integer_traits<DTK_UNSIGNED, 16> {};
template <> struct dtk_traits<unsigned int> : dtk_integer_traits<DTK_UNSIGNED, 32> {};
template <> struct dtk_traits<unsigned long long> : dtk_integer_traits<DTK_UNSIGNED, 64> {};
template <> struct dtk_traits<dtk_bool> : dtk_integer_traits<DTK_BOOL, 8> {};

template <int Fraction, int Exponent, bool IsHalf>
struct dtk_float_traits {
  static constexpr dtk_kind kind = DTK_FLOAT;
  static constexpr int bits = 1 + Exponent + Fraction;
  static constexpr bool is_half = IsHalf;  // float16 or bfloat16: arithmetic runs in float
  static constexpr int fraction = Fraction;
  static constexpr int exponent = Exponent;
};
template <> struct dtk_traits<float> : dtk_float_traits<23, 8, false> {
  DTK_FN static float from_bits(unsigned long long bits) {
    return dtk_float_from_bits(static_cast<unsigned int>(bits));
  }
};
template <> struct dtk_traits<double> : dtk_float_traits<52, 11, false> {
  DTK_FN static double from_bits(unsigned long long bits) { return dtk_double_from_bits(bits); }
};
template <> struct dtk_traits<dtk_half> : dtk_float_traits<10, 5, true> {
  DTK_FN static dtk_half from_bits(unsigned long long bits) {
    return dtk_half{static_cast<unsigned short>(bits)};
  }
};
template <> struct dtk_traits<dtk_bfloat16> : dtk_float_traits<7, 8, true> {
  DTK_FN static dtk_bfloat16 from_bits(unsigned long long bits) {
    return dtk_bfloat16{static_cast<unsigned short>(bits)};
  }
};

template <typename A, typename B>
struct dtk_same_type {
  static constexpr bool value = false;
};
template <typename A>
struct dtk_same_type<A, A> {
  static constexpr bool value = true;
};

// ---- floating values, exactly ----------------------------------------------------------------------

// The pieces of a floating type T's bit pattern.
template <typename T>
struct dtk_float_parts {
  static constexpr int kFraction = dtk_traits<T>::fraction;
  static constexpr int kExponent = dtk_traits<T>::exponent;
  static constexpr unsigned long long kExponentMask = (1ull << kExponent) - 1;

  DTK_FN explicit dtk_float_parts(T value) : bits(dtk_bits(value)) {}
  DTK_FN bool negative() const { return ((bits >> (kFraction + kExponent)) & 1) != 0; }
  DTK_FN unsigned long long biased_exponent() const { return (bits >> kFraction) & kExponentMask; }
  DTK_FN unsigned long long fraction() const { return bits & ((1ull << kFraction) - 1); }
  DTK_FN bool is_nan() const { return biased_exponent() == kExponentMask && fraction() != 0; }
  DTK_FN bool is_infinite() const { return biased_exponent() == kExponentMask && fraction() == 0; }
  DTK_FN bool is_zero() const { return biased_exponent() == 0 && fraction() == 0; }

  unsigned long long bits;
};

// A finite value as (-1)^negative * magnitude * 2^exponent, exactly: every element type's values
// fit (64-bit integers and the 53-bit significands of doubles alike).
struct dtk_exact {
  bool negative;
  unsigned long long magnitude;
  int exponent;
};

template <typename T>
DTK_FN dtk_exact dtk_exact_of_float(T value) {  // finite values only
  const dtk_float_parts<T> parts(value);
  constexpr int kBias = (1 << (dtk_traits<T>::exponent - 1)) - 1;
  constexpr int kFraction = dtk_traits<T>::fraction;
  const int biased = static_cast<int>(parts.biased_exponent());
  if (biased == 0) return dtk_exact{parts.negative(), parts.fraction(), 1 - kBias - kFraction};
  return dtk_exact{parts.negative(), parts.fraction() | (1ull << kFraction),
                   biased - kBias - kFraction};
}

template <typename T>
DTK_FN dtk_exact dtk_exact_of_integer(T value) {
  const unsigned long long word = static_cast<unsigned long long>(value);
  if constexpr (dtk_traits<T>::kind == DTK_SIGNED) {
    if (value < T(0)) return dtk_exact{true, 0ull - word, 0};
  }
  return dtk_exact{false, word, 0};
}

// The index of the highest set bit of a nonzero word.
DTK_FN int dtk_highest_bit(unsigned long long word) {
  int bit = 0;
  for (int step = 32; step > 0; step /= 2) {
    if ((word >> step) != 0) {
      word >>= step;
      bit += step;
    }
  }
  return bit;
}

// The bits of x rounded once, to nearest with ties to even, into the binary format with Fraction
// fraction bits and Exponent exponent bits; beyond the largest finite number gives infinity.
// The same rule as EncodeBinary16 of devtensor.hpp, for every format up to double.
template <int Fraction, int Exponent>
DTK_FN unsigned long long dtk_round_to_format(dtk_exact x) {
  constexpr int kBias = (1 << (Exponent - 1)) - 1;
  constexpr int kMinExponent = 1 - kBias;  // of the smallest normal number
  constexpr unsigned long long kInfinity = ((1ull << Exponent) - 1) << Fraction;
  const unsigned long long sign = x.negative ? 1ull << (Fraction + Exponent) : 0ull;
  if (x.magnitude == 0) return sign;
  const int value_exponent = dtk_highest_bit(x.magnitude) + x.exponent;  // x in [2^e, 2^(e+1))
  if (value_exponent > kBias) return sign | kInfinity;
  // The result is a multiple of 2^quantum: Fraction bits below the leading one when normal, the
  // spacing of the subnormals below the smallest normal number.
  const int quantum =
      value_exponent >= kMinExponent ? value_exponent - Fraction : kMinExponent - Fraction;
  const int shift = quantum - x.exponent;  // bits of the magnitude below the quantum
  unsigned long long q;
  if (shift <= 0) {
    q = x.magnitude << -shift;  // exact, and below 2^(Fraction + 1)
  } else if (shift > 64) {
    q = 0;  // below half the quantum
  } else {
    const unsigned long long kept = shift == 64 ? 0ull : x.magnitude >> shift;
    const unsigned long long rest =
        shift == 64 ? x.magnitude : x.magnitude & ((1ull << shift) - 1);
    const unsigned long long half = 1ull << (shift - 1);
    q = kept + ((rest > half || (rest == half && (kept & 1) != 0)) ? 1 : 0);
  }
  unsigned long long bits;
  if (value_exponent >= kMinExponent) {
    // q carries the implicit one at bit Fraction, so it adds 1 to the exponent field written as
    // (biased - 1); a carry out of the fraction moves into the next binade by itself.
    bits = (static_cast<unsigned long long>(value_exponent + kBias - 1) << Fraction) + q;
  } else {
    bits = q;  // subnormal, or the smallest normal number when q reaches 2^Fraction
  }
  return sign | (bits < kInfinity ? bits : kInfinity);
}

template <typename To>
DTK_FN To dtk_float_from_exact(dtk_exact x) {
  return dtk_traits<To>::from_bits(
      dtk_round_to_format<dtk_traits<To>::fraction, dtk_traits<To>::exponent>(x));
}

// The float value of a float16 or bfloat16, exactly, NaN bits included (devtensor's ToFloat):
// what arithmetic and comparisons work on.
DTK_FN float dtk_to_float(dtk_half value) {
  const unsigned int sign = static_cast<unsigned int>(value.bits & 0x8000u) << 16;
  const unsigned int exponent = (value.bits >> 10) & 0x1Fu;
  const unsigned int fraction = value.bits & 0x3FFu;
  if (exponent == 0x1F) return dtk_float_from_bits(sign | 0x7F800000u | (fraction << 13));
  if (exponent != 0) return dtk_float_from_bits(sign | ((exponent + 112) << 23) | (fraction << 13));
  const float magnitude = static_cast<float>(fraction) * 5.9604644775390625e-8f;  // * 2^-24, exact
  return sign != 0 ? -magnitude : magnitude;
}
DTK_FN float dtk_to_float(dtk_bfloat16 value) {
  return dtk_float_from_bits(static_cast<unsigned int>(value.bits) << 16);
}

// ---- conversions (Cast) -----------------------------------------------------------------------------

template <typename To, typename From>
DTK_FN To dtk_convert(From value);

// float -> integer: truncation toward zero, NaN -> 0, saturation to To's range.
template <typename To, typename From>
DTK_FN To dtk_saturate(From value) {
  constexpr int kBits = dtk_traits<To>::bits;
  constexpr bool kSigned = dtk_traits<To>::kind == DTK_SIGNED;
  // The largest value and the magnitude of the smallest.
  constexpr unsigned long long kMax = ~0ull >> (64 - kBits + (kSigned ? 1 : 0));
  constexpr unsigned long long kMinMagnitude = kSigned ? kMax + 1 : 0ull;
  const To max = static_cast<To>(kMax), min = static_cast<To>(0ull - kMinMagnitude);
  const dtk_float_parts<From> parts(value);
  if (parts.is_nan()) return To(0);
  if (parts.is_infinite()) return parts.negative() ? min : max;
  const dtk_exact x = dtk_exact_of_float(value);
  // The integer part of the magnitude; `beyond` when it does not fit in 64 bits.
  unsigned long long whole;
  bool beyond = false;
  if (x.exponent >= 64) {
    whole = 0;
    beyond = x.magnitude != 0;
  } else if (x.exponent > 0) {
    whole = x.magnitude << x.exponent;
    beyond = (x.magnitude >> (64 - x.exponent)) != 0;
  } else {
    whole = x.exponent <= -64 ? 0ull : x.magnitude >> -x.exponent;
  }
  if (!x.negative) return beyond || whole > kMax ? max : static_cast<To>(whole);
  return beyond || whole > kMinMagnitude ? min : static_cast<To>(0ull - whole);
}

// float -> float. NaN: into float16 or bfloat16 the quiet NaN of its sign; into float or double
// quiet, with sign and payload kept (the fraction's top bits), as the host's conversions do.
template <typename To, typename From>
DTK_FN To dtk_float_to_float(From value) {
  constexpr int kFrom = dtk_traits<From>::fraction, kTo = dtk_traits<To>::fraction;
  constexpr int kToExponent = dtk_traits<To>::exponent;
  constexpr unsigned long long kInfinity = ((1ull << kToExponent) - 1) << kTo;
  constexpr unsigned long long kQuiet = 1ull << (kTo - 1);
  const dtk_float_parts<From> parts(value);
  const unsigned long long sign = parts.negative() ? 1ull << (kTo + kToExponent) : 0ull;
  if (parts.is_nan()) {
    unsigned long long payload = 0;  // none for float16 and bfloat16
    if constexpr (!dtk_traits<To>::is_half && kTo >= kFrom) {
      payload = parts.fraction() << (kTo - kFrom);
    } else if constexpr (!dtk_traits<To>::is_half) {
      payload = parts.fraction() >> (kFrom - kTo);
    }
    return dtk_traits<To>::from_bits(sign | kInfinity | kQuiet | payload);
  }
  if (parts.is_infinite()) return dtk_traits<To>::from_bits(sign | kInfinity);
  return dtk_float_from_exact<To>(dtk_exact_of_float(value));
}

template <typename To, typename From>
DTK_FN To dtk_convert(From value) {
  constexpr dtk_kind kFrom = dtk_traits<From>::kind, kTo = dtk_traits<To>::kind;
  if constexpr (dtk_same_type<To, From>::value) {
    return value;
  } else if constexpr (kTo == DTK_BOOL) {
    if constexpr (kFrom == DTK_FLOAT) {
      return dtk_bool{dtk_float_parts<From>(value).is_zero() ? (unsigned char)0 : (unsigned char)1};
    } else {
      return dtk_bool{value != From(0) ? (unsigned char)1 : (unsigned char)0};
    }
  } else if constexpr (kFrom == DTK_BOOL) {
    return dtk_convert<To>(static_cast<unsigned char>(value.value != 0 ? 1 : 0));
  } else if constexpr (kTo == DTK_FLOAT) {
    if constexpr (kFrom == DTK_FLOAT) {
      return dtk_float_to_float<To>(value);
    } else {
      return dtk_float_from_exact<To>(dtk_exact_of_integer(value));
    }
  } else if constexpr (kFrom == DTK_FLOAT) {
    return dtk_saturate<To>(value);
  } else {
    return static_cast<To>(static_cast<unsigned long long>(value));  // modulo 2^bits
  }
}

// ---- arithmetic (Add, Sub, Mul, Div) -------------------------------------------------------------

// One op on T: float16 and bfloat16 in float, rounded back to nearest even; float and double in
// their own IEEE arithmetic; integers by the op's wrapping rule.
template <typename Op, typename T>
DTK_FN T dtk_arithmetic(T a, T b) {
  if constexpr (dtk_traits<T>::is_half) {
    return dtk_convert<T>(Op::real(dtk_to_float(a), dtk_to_float(b)));
  } else if constexpr (dtk_traits<T>::kind == DTK_FLOAT) {
    return Op::real(a, b);
  } else {
    return Op::integer(a, b);
  }
}

// Integers: in 64-bit unsigned arithmetic, which wraps; the conversion back keeps the low bits.
struct dtk_add {
  template <typename T>
  DTK_FN static T apply(T a, T b) { return dtk_arithmetic<dtk_add>(a, b); }
  template <typename F>
  DTK_FN static F real(F a, F b) { return a + b; }
  template <typename I>
  DTK_FN static I integer(I a, I b) {
    return static_cast<I>(static_cast<unsigned long long>(a) + static_cast<unsigned long long>(b));
  }
};
struct dtk_sub {
  template <typename T>
  DTK_FN static T apply(T a, T b) { return dtk_arithmetic<dtk_sub>(a, b); }
  template <typename F>
  DTK_FN static F real(F a, F b) { return a - b; }
  template <typename I>
  DTK_FN static I integer(I a, I b) {
    return static_cast<I>(static_cast<unsigned long long>(a) - static_cast<unsigned long long>(b));
  }
};
struct dtk_mul {
  template <typename T>
  DTK_FN static T apply(T a, T b) { return dtk_arithmetic<dtk_mul>(a, b); }
  template <typename F>
  DTK_FN static F real(F a, F b) { return a * b; }
  template <typename I>
  DTK_FN static I integer(I a, I b) {
    return static_cast<I>(static_cast<unsigned long long>(a) * static_cast<unsigned long long>(b));
  }
};
// Integer division truncates toward zero; MIN / -1 wraps to MIN. A zero divisor yields the
// dividend: the host refuses such a call, a device cannot report it.
struct dtk_div {
  template <typename T>
  DTK_FN static T apply(T a, T b) { return dtk_arithmetic<dtk_div>(a, b); }
  template <typename F>
  DTK_FN static F real(F a, F b) { return a / b; }
  template <typename I>
  DTK_FN static I integer(I a, I b) {
    if (b == I(0)) return a;
    if constexpr (dtk_traits<I>::kind == DTK_SIGNED) {
      if (b == I(-1)) return static_cast<I>(0ull - static_cast<unsigned long long>(a));
    }
    return static_cast<I>(a / b);
  }
};

// ---- ArgMax's comparison --------------------------------------------------------------------------

// a > b, where NaN is above every number and equal to NaN; -0 equals +0.
template <typename T>
DTK_FN bool dtk_greater(T a, T b) {
  if constexpr (dtk_traits<T>::is_half) {
    return dtk_greater(dtk_to_float(a), dtk_to_float(b));
  } else if constexpr (dtk_traits<T>::kind == DTK_FLOAT) {
    const bool a_nan = dtk_float_parts<T>(a).is_nan(), b_nan = dtk_float_parts<T>(b).is_nan();
    if (a_nan || b_nan) return a_nan && !b_nan;
    return a > b;
  } else {
    return a > b;
  }
}

#endif  // DEVTENSOR_PROVIDERS_CUDA_KERNELS_CUDA_ELEMENTS_CUH_
