// The CUDA kernels' element rules (kernels/cuda/elements.cuh), compiled as host C++, against the
// CPU reference bit for bit: Cast's conversion between every pair of the 13 element types
// (ops::Convert), Add/Sub/Mul/Div and ArgMax's comparison (the rules of src/ops/elementwise.cpp
// and argmax.cpp, on the CPU's own conversions). Inputs are edge values (signed zeros,
// infinities, NaNs with payloads, subnormals, ties of every target format, integer limits) and
// fresh random ones.
#include "providers/cuda/kernels/kernel_abi.h"
#include "providers/cuda/kernels/cuda/elements.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ops/convert.h"
#include "test_util.h"

namespace devtensor::cuda {
namespace {

using devtensor::BFloat16;
using devtensor::Float16;
using devtensor_test::Random;

std::string NameOf(DtElementType type) {
  switch (type) {
    case DT_FLOAT: return "float";
    case DT_DOUBLE: return "double";
    case DT_INT8: return "int8";
    case DT_UINT8: return "uint8";
    case DT_INT16: return "int16";
    case DT_UINT16: return "uint16";
    case DT_INT32: return "int32";
    case DT_UINT32: return "uint32";
    case DT_INT64: return "int64";
    case DT_UINT64: return "uint64";
    case DT_BOOL: return "bool";
    case DT_FLOAT16: return "float16";
    case DT_BFLOAT16: return "bfloat16";
    default: return "?";
  }
}

// A kernel element type and the host type of the same element type.
template <typename D, typename H>
struct Type {
  using Dev = D;
  using Host = H;
  static constexpr DtElementType kType = element_type_of<H>();
  static std::string Name() { return NameOf(kType); }
};
using AllTypes =
    std::tuple<Type<float, float>, Type<double, double>, Type<signed char, int8_t>,
               Type<unsigned char, uint8_t>, Type<short, int16_t>, Type<unsigned short, uint16_t>,
               Type<int, int32_t>, Type<unsigned int, uint32_t>, Type<long long, int64_t>,
               Type<unsigned long long, uint64_t>, Type<dtk_bool, bool>, Type<dtk_half, Float16>,
               Type<dtk_bfloat16, BFloat16>>;

// Calls f.template operator()<Type<...>>() for every type.
template <typename F>
void ForEachType(F&& f) {
  [&]<size_t... I>(std::index_sequence<I...>) {
    (f.template operator()<std::tuple_element_t<I, AllTypes>>(), ...);
  }(std::make_index_sequence<std::tuple_size_v<AllTypes>>{});
}

// An element from the low bytes of `bits`, and back (little-endian, as tensors hold them).
template <typename T>
T FromBits(uint64_t bits) {
  static_assert(sizeof(T) <= sizeof(bits));
  T value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
template <typename T>
uint64_t BitsOf(const T& value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof value);
  return bits;
}

std::string Hex(uint64_t bits, size_t size) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%0*llx", int(size * 2), static_cast<unsigned long long>(bits));
  return text;
}

uint64_t DoubleBits(double value) { return BitsOf(value); }
uint64_t FloatBits(float value) { return BitsOf(value); }

// ---- inputs -----------------------------------------------------------------------------------------

// Integers that rounding into each float format (fraction bits 7, 10, 23, 52) must treat with
// care: exact ties (either parity), a hair above and below them, and all-ones runs that round up
// into the next power of two.
std::vector<uint64_t> IntegerTies() {
  std::vector<uint64_t> ties;
  for (int fraction : {7, 10, 23, 52}) {
    for (int top = fraction + 1; top < 64; ++top) {
      const uint64_t lead = uint64_t(1) << top, half = uint64_t(1) << (top - fraction - 1);
      for (uint64_t v : {lead | half, lead | half | (half << 1), lead | (half - 1),
                         (lead | half) + 1, (lead | half) - 1, lead - 1, lead + (lead - 1)}) {
        ties.push_back(v);
        ties.push_back(uint64_t(0) - v);
      }
    }
  }
  return ties;
}

// Doubles that rounding into float, float16 and bfloat16 must treat with care: ties and near ties
// in the normal and subnormal range of each, and the ends of each range.
std::vector<double> FloatTies() {
  std::vector<double> ties;
  struct Format {
    int fraction, min_exponent, max_exponent;
  };
  for (const Format f : {Format{23, -126, 127}, Format{10, -14, 15}, Format{7, -126, 127}}) {
    for (int e : {f.min_exponent - f.fraction - 1, f.min_exponent - f.fraction,
                  f.min_exponent - 3, f.min_exponent - 1, f.min_exponent, 0, 1, f.max_exponent}) {
      // Within the binade of 2^e (or, below the normal range, on its grid): ulp of the format.
      const int ulp = std::max(e, f.min_exponent) - f.fraction;
      for (double m : {1.0, 1.5, 1.75}) {
        const double base = std::ldexp(m, e);
        for (double v : {base + std::ldexp(1.0, ulp - 1), base + std::ldexp(3.0, ulp - 1),
                         base + std::ldexp(1.0, ulp - 1) + std::ldexp(1.0, ulp - 30),
                         base + std::ldexp(1.0, ulp - 1) - std::ldexp(1.0, ulp - 30),
                         base - std::ldexp(1.0, ulp - 2), std::ldexp(1.0, ulp - 1),
                         std::ldexp(1.0, ulp - 1) + std::ldexp(1.0, ulp - 40)}) {
          ties.push_back(v);
          ties.push_back(-v);
        }
      }
    }
    // The largest finite number, and the tie above it, which rounds to infinity.
    const double max = std::ldexp(2.0 - std::ldexp(1.0, -f.fraction), f.max_exponent);
    const double tie = std::ldexp(2.0 - std::ldexp(1.0, -f.fraction - 1), f.max_exponent);
    for (double v : {max, tie, std::nextafter(tie, 0.0), std::nextafter(tie, INFINITY)}) {
      ties.push_back(v);
      ties.push_back(-v);
    }
  }
  return ties;
}

// Doubles at the edges of the integer ranges (truncation and saturation).
std::vector<double> IntegerEdges() {
  std::vector<double> edges;
  for (int bits : {7, 8, 15, 16, 31, 32, 53, 63, 64}) {
    const double p = std::ldexp(1.0, bits);
    for (double v : {p, p - 1, p - 0.5, p + 1, p - 1024, p + 2048, std::nextafter(p, 0.0),
                     std::nextafter(p, INFINITY)}) {
      edges.push_back(v);
      edges.push_back(-v);
    }
  }
  for (double v : {0.5, 0.99999, 1.0, 1.5, 2.5, 127.5, 128.5, 255.9, 32767.5, 65535.9,
                   2147483647.9, 4294967295.9, 9.3e18, 1.9e19, 1e20, 1e30, 1e300}) {
    edges.push_back(v);
    edges.push_back(-v);
  }
  return edges;
}

// A random double: random sign, exponent in [lo, hi] and significand, its low bits sometimes
// cleared to a random width (so that ties and exact small values come up) and sometimes one bit
// set again far below (a hair above a tie).
double RandomDouble(Random& random, int lo, int hi) {
  uint64_t significand = random() >> 11;  // 53 bits
  if (random.Between(0, 1) == 0) {
    const int kept = int(random.Between(1, 53));
    significand &= ~((uint64_t(1) << (53 - kept)) - 1);
    if (random.Between(0, 2) == 0) significand |= 1;
  }
  significand |= uint64_t(1) << 52;
  const double v = std::ldexp(double(significand), int(random.Between(lo, hi)) - 52);
  return random.Between(0, 1) ? -v : v;
}

// The values of D a test walks: edge values and random ones, as bit patterns.
template <typename D>
std::vector<uint64_t> Values(Random& random, size_t random_count) {
  std::vector<uint64_t> values;
  if constexpr (std::is_same_v<D, dtk_bool>) {
    values = {0, 1};
  } else if constexpr (std::is_same_v<D, dtk_half> || std::is_same_v<D, dtk_bfloat16>) {
    for (uint64_t bits = 0; bits < 0x10000; ++bits) values.push_back(bits);  // every one
  } else if constexpr (std::is_same_v<D, float> || std::is_same_v<D, double>) {
    constexpr bool kDouble = std::is_same_v<D, double>;
    auto add = [&](double v) {  // into float as Cast rounds (no overflow to undefined behaviour)
      values.push_back(kDouble ? DoubleBits(v) : FloatBits(ops::Convert<float>(v)));
    };
    if constexpr (kDouble) {
      for (uint64_t bits : std::initializer_list<uint64_t>{
               0, uint64_t(1) << 63, 0x7FF0000000000000ull, 0xFFF0000000000000ull,
            0x7FF8000000000000ull, 0xFFF8000000000000ull, 0x7FF0000000000001ull,
            0xFFF0000000000001ull, 0x7FF7FFFFFFFFFFFFull, 0x7FF8000020000000ull,
            0x7FFC0000E0000000ull, 0xFFFFFFFFFFFFFFFFull, 0x0000000000000001ull,
            0x800FFFFFFFFFFFFFull, 0x0008000000000000ull, 0x0010000000000000ull,
            0x7FEFFFFFFFFFFFFFull, 0xFFEFFFFFFFFFFFFFull}) {
        values.push_back(bits);
      }
      // Around the float range: 2^128 - 2^104 (the largest float), the tie 2^128 - 2^103 above
      // it, which rounds to infinity, and their neighbours.
      for (double v : {std::ldexp(1.0, 128) - std::ldexp(1.0, 104),
                       std::ldexp(1.0, 128) - std::ldexp(1.0, 103), std::ldexp(1.0, 128)}) {
        for (double w : {v, std::nextafter(v, 0.0), std::nextafter(v, INFINITY)}) {
          add(w);
          add(-w);
        }
      }
      for (double v : {1e-300, 1e-40, 5e-45, 1e-46, 3.0e-8, 6.0e-5}) {
        add(v);
        add(-v);
      }
    } else {
      for (uint64_t bits : std::initializer_list<uint64_t>{0x00000000ull, 0x80000000ull, 0x7F800000ull, 0xFF800000ull,
                            0x7FC00000ull, 0xFFC00000ull, 0x7F800001ull, 0xFF800001ull,
                            0x7FBFFFFFull, 0x7FC12345ull, 0xFFFFFFFFull, 0x7FA00000ull,
                            0x00000001ull, 0x807FFFFFull, 0x00400000ull, 0x00800000ull,
                            0x7F7FFFFFull, 0xFF7FFFFFull}) {
        values.push_back(bits);
      }
    }
    for (double v : FloatTies()) add(v);
    for (double v : IntegerEdges()) add(v);
    for (size_t i = 0; i < random_count; ++i) {
      switch (random.Between(0, 3)) {
        case 0: values.push_back(kDouble ? random() : random() & 0xFFFFFFFFu); break;
        case 1: add(RandomDouble(random, -30, 70)); break;   // integer range and around 1
        case 2: add(RandomDouble(random, -160, 140)); break;  // float's range and beyond
        default:
          add(RandomDouble(random, kDouble ? -1100 : -160, kDouble ? 1023 : 127));
          break;
      }
    }
  } else {
    constexpr int kBits = 8 * sizeof(D);
    constexpr uint64_t kMask = kBits == 64 ? ~uint64_t(0) : (uint64_t(1) << kBits) - 1;
    std::vector<uint64_t> wide = IntegerTies();
    for (int bits : {7, 8, 15, 16, 31, 32, 63}) {
      const uint64_t p = uint64_t(1) << bits;
      for (uint64_t v : {p - 1, p, p + 1, uint64_t(0) - p, uint64_t(0) - p - 1}) wide.push_back(v);
    }
    for (uint64_t v : {uint64_t(0), uint64_t(1), uint64_t(2), ~uint64_t(0), ~uint64_t(1),
                       uint64_t(65504), uint64_t(65519), uint64_t(65520), uint64_t(65535)}) {
      wide.push_back(v);
    }
    for (size_t i = 0; i < random_count; ++i) {
      // Random bits, or a random value of random width and sign.
      uint64_t v = random();
      if (random.Between(0, 1)) v >>= random.Between(0, 63);
      if (random.Between(0, 3) == 0) v = uint64_t(0) - v;
      wide.push_back(v);
    }
    std::set<uint64_t> seen;
    for (uint64_t v : wide) {
      if (seen.insert(v & kMask).second) values.push_back(v & kMask);
    }
  }
  return values;
}

// A few values of D to combine with each other in arithmetic: zeros, ones, infinities, NaNs,
// subnormals, limits.
template <typename D>
std::vector<uint64_t> Specials() {
  if constexpr (std::is_same_v<D, dtk_half>) {
    return {0x0000, 0x8000, 0x3C00, 0xBC00, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7E55,
            0x0001, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C01, 0x4000, 0x3555, 0x1400, 0x0200};
  } else if constexpr (std::is_same_v<D, dtk_bfloat16>) {
    return {0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0x7FD5,
            0x0001, 0x807F, 0x0080, 0x7F7F, 0xFF7F, 0x3F81, 0x4000, 0x3EAB, 0x0040, 0x3400};
  } else if constexpr (std::is_same_v<D, float>) {
    return {0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000,
            0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FC12345, 0x00000001, 0x807FFFFF,
            0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800001, 0x40000000, 0x3EAAAAAB};
  } else if constexpr (std::is_same_v<D, double>) {
    return {0x0000000000000000, 0x8000000000000000, 0x3FF0000000000000, 0xBFF0000000000000,
            0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000,
            0x7FF0000000000001, 0x7FF8000000012345, 0x0000000000000001, 0x800FFFFFFFFFFFFF,
            0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x3FF0000000000001,
            0x4000000000000000, 0x3FD5555555555555};
  } else {
    constexpr int kBits = 8 * sizeof(D);
    constexpr uint64_t kMask = kBits == 64 ? ~uint64_t(0) : (uint64_t(1) << kBits) - 1;
    const uint64_t top = uint64_t(1) << (kBits - 1);
    std::vector<uint64_t> values;
    for (uint64_t v : {uint64_t(0), uint64_t(1), uint64_t(2), uint64_t(3), uint64_t(7),
                       ~uint64_t(0), ~uint64_t(1), ~uint64_t(6), top, top - 1, top + 1, top >> 1,
                       (top >> 1) + 1, uint64_t(0) - (top >> 1)}) {
      values.push_back(v & kMask);
    }
    return values;
  }
}

// ---- the CPU's rules --------------------------------------------------------------------------------

// The CPU's Add/Sub/Mul/Div of one element (src/ops/elementwise.cpp), from the CPU's own
// conversions. (RunHostOp would run that very kernel, but its error messages need the core
// library, which devtensor_unit_tests does not link.)
enum class Arithmetic { kAdd, kSub, kMul, kDiv };
template <typename T>
T CpuArithmetic(Arithmetic op, T a, T b) {
  if constexpr (ops::kIsHalf<T>) {
    return ops::Convert<T>(CpuArithmetic<float>(op, ToFloat(a), ToFloat(b)));
  } else if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case Arithmetic::kAdd: return a + b;
      case Arithmetic::kSub: return a - b;
      case Arithmetic::kMul: return a * b;
      case Arithmetic::kDiv: return a / b;
    }
  } else {
    const uint64_t x = static_cast<uint64_t>(a), y = static_cast<uint64_t>(b);
    switch (op) {
      case Arithmetic::kAdd: return static_cast<T>(x + y);
      case Arithmetic::kSub: return static_cast<T>(x - y);
      case Arithmetic::kMul: return static_cast<T>(x * y);
      case Arithmetic::kDiv:
        if constexpr (std::is_signed_v<T>) {
          if (b == T(-1)) return static_cast<T>(uint64_t(0) - x);
        }
        return static_cast<T>(a / b);  // b != 0: the CPU refuses a zero divisor
    }
  }
  return T{};
}

// ArgMax's a > b on the CPU (src/ops/argmax.cpp): NaN above every number and equal to NaN.
template <typename T>
bool CpuGreater(T a, T b) {
  if constexpr (ops::kIsFloat<T>) {
    const double x = ops::AsDouble(a), y = ops::AsDouble(b);
    if (std::isnan(x)) return !std::isnan(y);
    if (std::isnan(y)) return false;
    return x > y;
  } else {
    return a > b;
  }
}

// Pairs (a, b) of values of D: every pair of specials, then random values against each other.
template <typename D>
std::vector<std::pair<uint64_t, uint64_t>> Operands(Random& random) {
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  const std::vector<uint64_t> specials = Specials<D>();
  for (uint64_t a : specials) {
    for (uint64_t b : specials) pairs.emplace_back(a, b);
  }
  std::vector<uint64_t> values = Values<D>(random, 2000);
  std::shuffle(values.begin(), values.end(), random.engine);
  const size_t n = std::min<size_t>(values.size(), 6000);
  std::vector<uint64_t> others(values.begin(), values.begin() + n);
  std::shuffle(others.begin(), others.end(), random.engine);
  for (size_t i = 0; i < n; ++i) {
    pairs.emplace_back(values[i], others[i]);
    pairs.emplace_back(values[i], specials[i % specials.size()]);
  }
  return pairs;
}

// ---- the tests --------------------------------------------------------------------------------------

template <typename To, typename From>
void ExpectConversionsMatch(const std::vector<uint64_t>& inputs, std::vector<std::string>* failed) {
  size_t differ = 0;
  std::string examples;
  for (uint64_t bits : inputs) {
    const uint64_t device = BitsOf(
        dtk_convert<typename To::Dev>(FromBits<typename From::Dev>(bits)));
    const uint64_t host =
        BitsOf(ops::Convert<typename To::Host>(FromBits<typename From::Host>(bits)));
    if (device == host) continue;
    if (differ++ < 4) {
      examples += "\n  " + Hex(bits, sizeof(typename From::Host)) + " -> " +
                  Hex(device, sizeof(typename To::Host)) + " instead of " +
                  Hex(host, sizeof(typename To::Host));
    }
  }
  if (differ != 0) {
    failed->push_back(From::Name() + "->" + To::Name());
    ADD_FAILURE() << "Cast " << From::Name() << " -> " << To::Name() << ": " << differ << " of "
                  << inputs.size() << " values differ from the CPU" << examples;
  }
}

TEST(CudaElementRules, ConversionsBetweenEveryPairOfTypesMatchTheCpu) {
  Random random;
  SCOPED_TRACE(random.trace());
  std::vector<std::string> failed;
  size_t pairs = 0;
  ForEachType([&]<typename From>() {
    const std::vector<uint64_t> inputs = Values<typename From::Dev>(random, 20000);
    ForEachType([&]<typename To>() {
      ExpectConversionsMatch<To, From>(inputs, &failed);
      ++pairs;
    });
  });
  EXPECT_EQ(pairs, 13u * 13u);
  EXPECT_TRUE(failed.empty()) << failed.size() << " pairs differ";
}

// A bool byte other than 0 and 1 (which host bools never hold) is true on the device.
TEST(CudaElementRules, AnyNonzeroBoolByteIsTrue) {
  EXPECT_EQ(dtk_convert<int>(dtk_bool{2}), 1);
  EXPECT_EQ(dtk_convert<dtk_bool>(dtk_bool{0x80}).value, 0x80);  // the same type: the bits
  EXPECT_EQ(BitsOf(dtk_convert<dtk_half>(dtk_bool{0xFF})), 0x3C00u);
  EXPECT_EQ(dtk_convert<double>(dtk_bool{7}), 1.0);
}

template <typename T>
void ExpectArithmeticMatches(Random& random) {
  using D = typename T::Dev;
  using H = typename T::Host;
  SCOPED_TRACE(T::Name());
  const std::vector<std::pair<uint64_t, uint64_t>> operands = Operands<D>(random);
  struct Op {
    const char* name;
    Arithmetic cpu;
    D (*device)(D, D);
  };
  for (const Op& op : {Op{"Add", Arithmetic::kAdd, &dtk_add::apply<D>},
                       Op{"Sub", Arithmetic::kSub, &dtk_sub::apply<D>},
                       Op{"Mul", Arithmetic::kMul, &dtk_mul::apply<D>},
                       Op{"Div", Arithmetic::kDiv, &dtk_div::apply<D>}}) {
    SCOPED_TRACE(op.name);
    size_t differ = 0;
    for (const auto& [a, b] : operands) {
      const uint64_t device = BitsOf(op.device(FromBits<D>(a), FromBits<D>(b)));
      uint64_t cpu;
      if (ops::kIsInteger<H> && op.cpu == Arithmetic::kDiv && b == 0) {
        cpu = a;  // the device yields the dividend (the CPU refuses the call)
      } else {
        cpu = BitsOf(CpuArithmetic<H>(op.cpu, FromBits<H>(a), FromBits<H>(b)));
      }
      if (device == cpu) continue;
      // Which NaN arithmetic on a NaN gives is the hardware's (x86 keeps an operand's payload,
      // in an order the compiler may swap; NVIDIA GPUs give the canonical NaN): a NaN for a NaN.
      if constexpr (!ops::kIsInteger<H>) {
        const auto is_nan = [](uint64_t bits) {
          return std::isnan(static_cast<double>(ops::AsDouble(FromBits<H>(bits))));
        };
        if (is_nan(device) && is_nan(cpu)) continue;
      }
      if (differ++ < 4) {
        ADD_FAILURE() << Hex(a, sizeof(H)) << " " << op.name << " " << Hex(b, sizeof(H)) << " = "
                      << Hex(device, sizeof(H)) << " instead of " << Hex(cpu, sizeof(H));
      }
    }
    EXPECT_EQ(differ, 0u) << "of " << operands.size();
  }
}

TEST(CudaElementRules, AddSubMulDivMatchTheCpu) {
  Random random;
  SCOPED_TRACE(random.trace());
  ForEachType([&]<typename T>() {
    if constexpr (!std::is_same_v<typename T::Host, bool>) ExpectArithmeticMatches<T>(random);
  });
}

TEST(CudaElementRules, IntegerDivisionWrapsAndYieldsTheDividendForZero) {
  EXPECT_EQ(dtk_div::apply<int>(std::numeric_limits<int>::min(), -1), std::numeric_limits<int>::min());
  EXPECT_EQ(dtk_div::apply<long long>(std::numeric_limits<long long>::min(), -1),
            std::numeric_limits<long long>::min());
  EXPECT_EQ(dtk_div::apply<signed char>(-128, -1), -128);
  EXPECT_EQ(dtk_div::apply<int>(-7, 2), -3);
  EXPECT_EQ(dtk_div::apply<int>(7, 0), 7);
  EXPECT_EQ(dtk_div::apply<unsigned long long>(~0ull, 0), ~0ull);
  EXPECT_EQ(dtk_div::apply<short>(-5, 0), -5);
  EXPECT_EQ(dtk_mul::apply<unsigned short>(0xFFFF, 0xFFFF), 1);
  EXPECT_EQ(dtk_add::apply<long long>(std::numeric_limits<long long>::max(), 1),
            std::numeric_limits<long long>::min());
}

template <typename T>
void ExpectGreaterMatches(Random& random) {
  using D = typename T::Dev;
  using H = typename T::Host;
  SCOPED_TRACE(T::Name());
  size_t differ = 0, count = 0;
  for (const auto& [a, b] : Operands<D>(random)) {
    for (const auto& [x, y] : {std::pair(a, b), std::pair(b, a)}) {
      const bool device = dtk_greater(FromBits<D>(x), FromBits<D>(y));
      const bool cpu = CpuGreater(FromBits<H>(x), FromBits<H>(y));
      ++count;
      if (device == cpu) continue;
      if (differ++ < 4) {
        ADD_FAILURE() << "Greater(" << Hex(x, sizeof(H)) << ", " << Hex(y, sizeof(H)) << ") is "
                      << device << " instead of " << cpu;
      }
    }
  }
  EXPECT_EQ(differ, 0u) << "of " << count;
}

TEST(CudaElementRules, ArgMaxComparisonMatchesTheCpu) {
  Random random;
  SCOPED_TRACE(random.trace());
  ForEachType([&]<typename T>() {
    if constexpr (!std::is_same_v<typename T::Host, bool>) ExpectGreaterMatches<T>(random);
  });
  // NaN is above everything, infinity included, and equal to NaN; -0 equals +0.
  EXPECT_TRUE(dtk_greater(dtk_half{0x7E00}, dtk_half{0x7C00}));
  EXPECT_FALSE(dtk_greater(dtk_half{0x7C00}, dtk_half{0xFE00}));
  EXPECT_FALSE(dtk_greater(dtk_bfloat16{0x7FC0}, dtk_bfloat16{0xFFC1}));
  EXPECT_FALSE(dtk_greater(0.0, -0.0));
  EXPECT_FALSE(dtk_greater(-0.0f, 0.0f));
}

}  // namespace
}  // namespace devtensor::cuda
