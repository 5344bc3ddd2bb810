// Ops on every device (kDeviceCases) against the CPU kernels (the reference): every op runs on
// the CPU and on the device under test over the same fresh random inputs, at many shapes, and the
// outputs must agree (exactly, except Div on floating types, which may differ by 2 ulp: GPU
// division is not correctly rounded). On the CPU instance the device run is the CPU's own, on
// tensors devtensor allocates rather than the reference's host memory.
//
// Every operand is a view inside an "arena": a byte buffer pre-filled with kSentinel that exists
// twice, in host memory (for the reference run) and on the device, with identical bytes. Views sit
// at random element offsets that are never multiples of 16 bytes (odd for 1-byte types, 2 mod 4
// for 2-byte types), now and then past the GPU's 256-byte binding alignment, and are often strided
// slices of a larger parent. After the op, every byte of every arena outside the output views'
// elements (gaps of strided views included) must still hold what it held before, on both sides,
// and the output elements must agree. Device arenas are set and read as whole, word-aligned uint8
// tensors, the simplest copy path.
//
// A combination the device has no kernel for must be refused with DT_NOT_SUPPORTED naming the op,
// the type and the device, with nothing written; such combinations are counted and printed (per
// test and at the end of the run), never passed silently. Where the device checks data-dependent
// values on the host (DeviceFixture::ChecksValuesOnTheHost) an integer division by zero, a
// ScatterND index or a KvCacheAppend position out of range fails the call, as on the reference;
// elsewhere the device skips the write and raises an error flag (devtensor.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "device_suite/device_cases.h"

namespace {

using namespace devtensor_test;
using devtensor::Device;
using devtensor::Tensor;

// The types the tests cover (uint64 only where an op moves raw bits).
constexpr DtElementType kCastTypes[] = {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_INT8,
                                        DT_UINT8, DT_INT16,   DT_UINT16,   DT_INT32,
                                        DT_UINT32, DT_INT64,  DT_BOOL,     DT_DOUBLE};
constexpr DtElementType kArithmeticTypes[] = {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_INT32,
                                              DT_UINT8, DT_INT8,    DT_INT16,    DT_UINT16,
                                              DT_UINT32, DT_INT64,  DT_DOUBLE};

std::string Name(DtElementType type) { return DtGetElementTypeName(type); }

bool IsFloat(DtElementType t) {
  return t == DT_FLOAT || t == DT_FLOAT16 || t == DT_BFLOAT16 || t == DT_DOUBLE;
}
bool IsSigned(DtElementType t) {
  return t == DT_INT8 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64;
}

// The multi-index of row-major element `flat` of `shape`.
Shape Unravel(int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    index[i] = flat % shape[i];
    flat /= shape[i];
  }
  return index;
}

// ---- Element values ------------------------------------------------------------------------------

uint64_t Bits(const uint8_t* p, size_t size) {
  uint64_t v = 0;
  std::memcpy(&v, p, size);  // little-endian host
  return v;
}

std::string Hex(const uint8_t* p, size_t size) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%0*" PRIx64, int(size * 2), Bits(p, size));
  return text;
}

// Rounds `v` once, to nearest even, into a binary format with `fraction` fraction bits and
// `exponent` exponent bits (float16: 10, 5; bfloat16: 7, 8). Test data only.
uint16_t EncodeSmallFloat(double v, int fraction, int exponent) {
  const int bias = (1 << (exponent - 1)) - 1;
  const uint32_t inf = ((1u << exponent) - 1u) << fraction;
  const uint16_t sign = std::signbit(v) ? uint16_t(1u << (fraction + exponent)) : 0;
  if (std::isnan(v)) return uint16_t(sign | inf | (1u << (fraction - 1)));
  const double a = std::fabs(v);
  if (a == 0) return sign;
  if (std::isinf(a)) return uint16_t(sign | inf);
  int ex = 0;
  std::frexp(a, &ex);
  int e = ex - 1;
  const int emin = 1 - bias;
  uint64_t bits;
  if (e < emin) {
    bits = uint64_t(std::nearbyint(std::ldexp(a, fraction - emin)));  // may reach the first normal
  } else {
    uint64_t q = uint64_t(std::nearbyint(std::ldexp(a, fraction - e)));
    if (q == (uint64_t(2) << fraction)) {
      q >>= 1;
      ++e;
    }
    if (e > bias) return uint16_t(sign | inf);
    bits = (uint64_t(e + bias) << fraction) | (q - (uint64_t(1) << fraction));
  }
  if (bits >= inf) bits = inf;
  return uint16_t(sign | bits);
}

double DecodeHalf(uint16_t h) {
  const int e = (h >> 10) & 0x1f, f = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 31) return f ? std::nan("") : sign * INFINITY;
  if (e == 0) return sign * std::ldexp(double(f), -24);
  return sign * std::ldexp(double(1024 + f), e - 25);
}

double DecodeBFloat16(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The value of a floating element as double.
double FloatValue(DtElementType type, const uint8_t* p) {
  switch (type) {
    case DT_FLOAT: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case DT_DOUBLE: {
      double d;
      std::memcpy(&d, p, 8);
      return d;
    }
    case DT_FLOAT16: return DecodeHalf(uint16_t(Bits(p, 2)));
    case DT_BFLOAT16: return DecodeBFloat16(uint16_t(Bits(p, 2)));
    default: break;
  }
  return 0;
}

// Stores `v` (rounded to nearest) as a floating element.
void PutFloat(DtElementType type, double v, uint8_t* p) {
  switch (type) {
    case DT_FLOAT: {
      const float f = float(v);
      std::memcpy(p, &f, 4);
      break;
    }
    case DT_DOUBLE: std::memcpy(p, &v, 8); break;
    case DT_FLOAT16: {
      const uint16_t h = EncodeSmallFloat(v, 10, 5);
      std::memcpy(p, &h, 2);
      break;
    }
    case DT_BFLOAT16: {
      const uint16_t b = EncodeSmallFloat(v, 7, 8);
      std::memcpy(p, &b, 2);
      break;
    }
    default: break;
  }
}

// Integer elements, sign- or zero-extended.
int64_t SignedValue(DtElementType type, const uint8_t* p) {
  const size_t size = SizeOf(type);
  const uint64_t v = Bits(p, size);
  if (size == 8) return int64_t(v);
  const unsigned shift = unsigned(64 - 8 * size);
  return int64_t(v << shift) >> shift;
}
// Stores the low bits of `v`.
void PutInt(DtElementType type, uint64_t v, uint8_t* p) { std::memcpy(p, &v, SizeOf(type)); }

// -1, 0 or 1 as a < b, a == b, a > b numerically (NaN-free data).
int NumericCompare(DtElementType type, const uint8_t* a, const uint8_t* b) {
  if (IsFloat(type)) {
    const double x = FloatValue(type, a), y = FloatValue(type, b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (IsSigned(type)) {
    const int64_t x = SignedValue(type, a), y = SignedValue(type, b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const uint64_t x = Bits(a, SizeOf(type)), y = Bits(b, SizeOf(type));
  return x < y ? -1 : x > y ? 1 : 0;
}

// Distance in units in the last place between two floating elements (0 when both are NaN).
uint64_t UlpDistance(DtElementType type, const uint8_t* a, const uint8_t* b) {
  if (std::isnan(FloatValue(type, a)) && std::isnan(FloatValue(type, b))) return 0;
  const size_t size = SizeOf(type);
  auto ordered = [&](uint64_t bits) -> int64_t {
    const uint64_t sign = uint64_t(1) << (size * 8 - 1);
    return (bits & sign) ? -int64_t(bits & ~sign) : int64_t(bits);
  };
  const int64_t x = ordered(Bits(a, size)), y = ordered(Bits(b, size));
  return x > y ? uint64_t(x - y) : uint64_t(y - x);
}

// ---- Random element generators -------------------------------------------------------------------

using Gen = std::function<void(Random&, uint8_t*)>;

// Raw random bits; bools 0 or 1.
Gen AnyBits(DtElementType type) {
  return [type](Random& r, uint8_t* p) {
    const uint64_t v = r();
    PutInt(type, type == DT_BOOL ? (v & 1) : v, p);
  };
}

// A random integer in [lo, hi] (clamped to the type's range).
Gen IntBetween(DtElementType type, int64_t lo, int64_t hi) {
  if (type == DT_BOOL) return AnyBits(type);
  if (!IsSigned(type)) lo = std::max<int64_t>(lo, 0);
  if (SizeOf(type) < 8) {
    const int bits = int(SizeOf(type) * 8);
    const int64_t min = IsSigned(type) ? -(int64_t(1) << (bits - 1)) : 0;
    const int64_t max = IsSigned(type) ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
    lo = std::clamp(lo, min, max);
    hi = std::clamp(hi, min, max);
  }
  return [type, lo, hi](Random& r, uint8_t* p) { PutInt(type, uint64_t(r.Between(lo, hi)), p); };
}

// Integers of every magnitude: a random bit width, then random bits of that width and a sign.
Gen IntAnyMagnitude(DtElementType type) {
  if (type == DT_BOOL) return AnyBits(type);
  return [type](Random& r, uint8_t* p) {
    const int width = int(r.Between(0, int64_t(SizeOf(type) * 8)));
    uint64_t v = width == 64 ? r() : (r() & ((uint64_t(1) << width) - 1));
    if (IsSigned(type) && r.Between(0, 1)) v = uint64_t(0) - v;
    PutInt(type, v, p);
  };
}

// A normal floating value sign * 1.m * 2^e with e in [emin, emax] (clamped to the type's normal
// range) and random fraction bits; with `specials`, now and then +-0 or +-infinity.
Gen NormalFloat(DtElementType type, int emin, int emax, bool specials = false,
                bool subnormals = false) {
  return [=](Random& r, uint8_t* p) {
    const uint64_t sign = r.Between(0, 1);
    const int64_t pick = r.Between(0, 63);
    int fraction = 0, exponent = 0;
    switch (type) {
      case DT_FLOAT: fraction = 23, exponent = 8; break;
      case DT_DOUBLE: fraction = 52, exponent = 11; break;
      case DT_FLOAT16: fraction = 10, exponent = 5; break;
      case DT_BFLOAT16: fraction = 7, exponent = 8; break;
      default: break;
    }
    const int bias = (1 << (exponent - 1)) - 1;
    const uint64_t mantissa = r() & ((uint64_t(1) << fraction) - 1);
    uint64_t field;
    if (specials && pick < 3) {
      field = 0;  // +-0
      PutInt(type, (sign << (fraction + exponent)), p);
      return;
    }
    if (specials && pick < 5) {
      PutInt(type, (sign << (fraction + exponent)) | (((uint64_t(1) << exponent) - 1) << fraction), p);
      return;
    }
    if (subnormals && pick < 9) {
      PutInt(type, (sign << (fraction + exponent)) | (mantissa | 1), p);
      return;
    }
    const int e = int(r.Between(std::max(emin, 1 - bias), std::min(emax, bias)));
    field = uint64_t(e + bias);
    PutInt(type, (sign << (fraction + exponent)) | (field << fraction) | mantissa, p);
  };
}

// Every finite float16 (subnormals included).
Gen FiniteHalf() {
  return [](Random& r, uint8_t* p) {
    uint16_t h;
    do h = uint16_t(r()); while (((h >> 10) & 0x1f) == 0x1f);
    std::memcpy(p, &h, 2);
  };
}

// A nonzero element from `gen`.
Gen NonZero(DtElementType type, Gen gen) {
  return [type, gen](Random& r, uint8_t* p) {
    do gen(r, p);
    while (IsFloat(type) ? FloatValue(type, p) == 0 : Bits(p, SizeOf(type)) == 0);
  };
}

// The integer range of `type` as doubles: [lo, hi].
void IntRange(DtElementType type, double* lo, double* hi) {
  const int bits = int(SizeOf(type) * 8);
  if (type == DT_BOOL) {
    *lo = 0, *hi = 1;
  } else if (IsSigned(type)) {
    *lo = -std::ldexp(1.0, bits - 1), *hi = std::ldexp(1.0, bits - 1) - 1;
  } else {
    *lo = 0, *hi = std::ldexp(1.0, bits) - 1;
  }
}

// A value of floating type `from` whose truncation lies inside the range of integer type `to`:
// random magnitudes (log-uniform) with fractional parts.
Gen FloatForInteger(DtElementType from, DtElementType to) {
  return [from, to](Random& r, uint8_t* p) {
    double lo, hi;
    IntRange(to, &lo, &hi);
    double limit = std::max(-lo, hi);
    if (from == DT_FLOAT16) limit = std::min(limit, 65504.0);
    if (r.Between(0, 7) == 0) {  // beyond the range (saturates), infinite or NaN (gives 0)
      const double beyond[] = {hi + 1, lo - 1, 2 * hi + 7, -2 * hi - 7, 1e30, -1e30, INFINITY,
                               -INFINITY, NAN};
      PutFloat(from, beyond[r.Between(0, int64_t(std::size(beyond)) - 1)], p);
      return;
    }
    for (;;) {
      const double magnitude =
          std::exp2(std::uniform_real_distribution<double>(-2, std::log2(limit))(r.engine));
      const double v = (r.Between(0, 1) ? -1 : 1) * magnitude;
      PutFloat(from, v, p);
      const double stored = std::trunc(FloatValue(from, p));
      if (stored >= lo && stored <= hi) return;
    }
  };
}

// The source values of Cast from `from` to `to`.
Gen CastSource(DtElementType from, DtElementType to) {
  if (!IsFloat(from)) return IntAnyMagnitude(from);
  if (!IsFloat(to) && to != DT_BOOL) return FloatForInteger(from, to);
  // Half the time the source type's whole range (subnormals included), half the time values
  // near the target's range (where rounding, not overflow, decides).
  Gen whole, near;
  switch (from) {
    case DT_FLOAT: whole = NormalFloat(from, -126, 127, true, true); break;
    case DT_FLOAT16: whole = NormalFloat(from, -14, 15, true, true); break;
    case DT_BFLOAT16: whole = NormalFloat(from, -126, 127, true, true); break;
    case DT_DOUBLE: whole = NormalFloat(from, -1022, 1023, true, true); break;
    default: return AnyBits(from);
  }
  switch (to) {
    case DT_FLOAT16: near = NormalFloat(from, -26, 16, true); break;
    case DT_FLOAT:
    case DT_BFLOAT16: near = NormalFloat(from, -150, 128, true); break;
    default: near = whole; break;
  }
  return [whole, near](Random& r, uint8_t* p) { (r.Between(0, 1) ? whole : near)(r, p); };
}

// Operand values of Add, Sub, Mul (and Div's numerator): floats of moderate magnitude (no
// subnormal, infinite or NaN results, but exact zeros and float16 overflow), integers small or,
// now and then, of any magnitude (integers wrap).
Gen ArithmeticValue(DtElementType type, Random& random) {
  switch (type) {
    case DT_FLOAT: return NormalFloat(type, -20, 20, false);
    case DT_FLOAT16: return FiniteHalf();
    case DT_BFLOAT16: return NormalFloat(type, -40, 40, false);
    case DT_DOUBLE: return NormalFloat(type, -20, 20, false);
    default: break;
  }
  if (random.Between(0, 3) == 0) return IntAnyMagnitude(type);
  return IntBetween(type, -1000, 1000);
}

Gen Divisor(DtElementType type, Random& random) {
  if (IsFloat(type)) return NonZero(type, ArithmeticValue(type, random));
  if (random.Between(0, 3) == 0) return NonZero(type, IntAnyMagnitude(type));
  return NonZero(type, IntBetween(type, -300, 300));
}

std::vector<uint8_t> Values(Random& random, DtElementType type, int64_t count, const Gen& gen) {
  std::vector<uint8_t> bytes(size_t(count) * SizeOf(type));
  for (int64_t i = 0; i < count; ++i) gen(random, bytes.data() + size_t(i) * SizeOf(type));
  return bytes;
}

// ---- Shapes ---------------------------------------------------------------------------------------

// Rank in [min_rank, max_rank], dimensions 1..9 (1..5 from rank 3 on); with `empty`, a zero
// dimension now and then.
Shape RandomShape(Random& random, size_t min_rank, size_t max_rank, bool empty = false) {
  if (empty && max_rank >= 2 && random.Between(0, 15) == 0) {
    // Now and then many workgroups' worth of elements (256 invocations each).
    return random.Between(0, 1) ? Shape{random.Between(257, 3000)}
                                : Shape{random.Between(2, 5), random.Between(100, 700)};
  }
  Shape shape(random.Between(int64_t(min_rank), int64_t(max_rank)));
  for (int64_t& d : shape) d = random.Between(1, shape.size() <= 2 ? 9 : 5);
  if (empty && !shape.empty() && random.Between(0, 24) == 0) {
    shape[random.Between(0, int64_t(shape.size()) - 1)] = 0;
  }
  return shape;
}

// A shape that broadcasts to `out`: a suffix of it, with some dimensions 1.
Shape BroadcastableTo(Random& random, const Shape& out) {
  const size_t rank = random.Between(0, int64_t(out.size()));
  Shape shape(out.end() - rank, out.end());
  for (int64_t& d : shape) {
    if (random.Between(0, 2) == 0) d = 1;
  }
  return shape;
}

// ---- The fixture ----------------------------------------------------------------------------------

// Combinations a device refused with DT_NOT_SUPPORTED, per test, printed at the end.
std::map<std::string, std::set<std::string>>& SkippedCombos() {
  static std::map<std::string, std::set<std::string>> skipped;
  return skipped;
}

class SkipReport : public ::testing::Environment {
 public:
  void TearDown() override {
    std::set<std::string> distinct;
    for (const auto& [test, combos] : SkippedCombos()) distinct.insert(combos.begin(), combos.end());
    if (distinct.empty()) return;
    std::printf("[ OpSuite  ] %zu distinct op/type combinations were refused by a device "
                "(DT_NOT_SUPPORTED, message checked, nothing written) and only run on the CPU:\n",
                distinct.size());
    for (const auto& [test, combos] : SkippedCombos()) {
      if (combos.empty()) continue;
      std::string list;
      for (const std::string& combo : combos) list += (list.empty() ? "" : ", ") + combo;
      std::printf("[ OpSuite  ]   %s (%zu): %s\n", test.c_str(), combos.size(), list.c_str());
    }
  }
};
::testing::Environment* const kSkipReport = ::testing::AddGlobalTestEnvironment(new SkipReport);

std::string CurrentTest() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? std::string(info->test_suite_name()) + "." + info->name() : "?";
}

class OpSuite : public DeviceTest {
 public:
  void TearDown() override {
    const auto it = SkippedCombos().find(CurrentTest());
    if (it == SkippedCombos().end() || it->second.empty()) return;
    std::string list;
    for (const std::string& combo : it->second) list += (list.empty() ? "" : ", ") + combo;
    std::printf("[ SKIPPED  ] %zu combination(s) %s refused with DT_NOT_SUPPORTED: %s\n",
                it->second.size(), device_case.name, list.c_str());
  }

  // Notes a DT_NOT_SUPPORTED from the device, checking that its message names the op, `type`
  // and the device.
  void NoteSkip(const std::string& combo, const Outcome& outcome, const char* op,
                DtElementType type) {
    EXPECT_NE(outcome.message.find(op), std::string::npos)
        << "message \"" << outcome.message << "\" lacks the op " << op;
    EXPECT_NE(outcome.message.find(Name(type)), std::string::npos)
        << "message \"" << outcome.message << "\" lacks the type " << Name(type);
    EXPECT_NE(outcome.message.find(DtGetDeviceTypeName(device_case.type)), std::string::npos)
        << "message \"" << outcome.message << "\" lacks the device";
    SkippedCombos()[CurrentTest()].insert(combo);
  }
};
DT_INSTANTIATE_DEVICE_SUITE(OpSuite);

// ---- One op on both devices -------------------------------------------------------------------

// Arenas and operands of one op call, in host memory for the reference and on the device.
class Case {
 public:
  explicit Case(OpSuite& test) : t_(test), random_(test.random) {}

  // A new arena; its first byte is a random distance (now and then past 256) from where the
  // first view goes.
  int NewArena() {
    arenas_.push_back(std::make_unique<Arena>());
    arenas_.back()->cursor =
        random_.Between(0, 3) == 0 ? random_.Between(200, 600) : random_.Between(0, 40);
    return int(arenas_.size()) - 1;
  }

  // Room for `bytes` of `element_size`-byte elements in `arena`, after a random gap, at an offset
  // that is a multiple of the element size but never of 16, and mostly odd (1-byte), 2 mod 4
  // (2-byte), 4 mod 8 (4-byte), 8 mod 16 (8-byte).
  size_t Reserve(int arena, size_t bytes, size_t element_size) {
    Arena& a = *arenas_[size_t(arena)];
    size_t offset = a.cursor + size_t(random_.Between(0, 20));
    offset = (offset + element_size - 1) / element_size * element_size;
    const bool special = random_.Between(0, 3) != 0;
    auto is_special = [&](size_t o) {
      return element_size == 1 ? o % 2 == 1 : o % (element_size * 2) == element_size;
    };
    while (offset % 16 == 0 || (special && !is_special(offset))) offset += element_size;
    a.cursor = offset + bytes;
    return offset;
  }

  // A placement of `shape` in `arena`: dense, or (strided, rank >= 1) a slice of a parent that is
  // longer along random axes.
  Placement Place(int arena, DtElementType type, const Shape& shape, bool strided) {
    Placement p;
    p.shape = p.parent = shape;
    p.start.assign(shape.size(), 0);
    p.element_size = SizeOf(type);
    if (strided && !shape.empty()) {
      const size_t forced = random_.Between(0, int64_t(shape.size()) - 1);
      for (size_t i = 0; i < shape.size(); ++i) {
        if (i != forced && random_.Between(0, 1) == 0) continue;
        const int64_t extra = random_.Between(1, 3);
        p.parent[i] += extra;
        p.start[i] = random_.Between(0, extra);
      }
    }
    p.parent_offset = Reserve(arena, size_t(Product(p.parent)) * p.element_size, p.element_size);
    return p;
  }

  // An operand at `place` in `arena` whose elements are set to `values` (row-major element
  // bytes; empty: left as they are, kSentinel unless another operand wrote them).
  int AddAt(int arena, DtElementType type, const Placement& place,
            std::vector<uint8_t> values = {}) {
    auto o = std::make_unique<Operand>();
    o->arena = arena;
    o->type = type;
    o->place = place;
    o->values = std::move(values);
    Arena& a = *arenas_[size_t(arena)];
    a.cursor = std::max(a.cursor, place.BufferBytes());
    operands_.push_back(std::move(o));
    return int(operands_.size()) - 1;
  }

  // An operand of `shape` in `arena` with values from `gen` (none: sentinels).
  int Add(int arena, DtElementType type, const Shape& shape, bool strided, const Gen& gen = {}) {
    const Placement place = Place(arena, type, shape, strided);
    std::vector<uint8_t> values;
    if (gen) values = Values(random_, type, Product(shape), gen);
    return AddAt(arena, type, place, std::move(values));
  }

  // An operand with the given element values.
  int AddValues(int arena, DtElementType type, const Shape& shape, bool strided,
                std::vector<uint8_t> values) {
    const Placement place = Place(arena, type, shape, strided);
    return AddAt(arena, type, place, std::move(values));
  }

  const Placement& place(int operand) const { return operands_[size_t(operand)]->place; }
  const std::vector<uint8_t>& values(int operand) const { return operands_[size_t(operand)]->values; }
  DtElementType type(int operand) const { return operands_[size_t(operand)]->type; }
  const Tensor& device_view(int operand) const { return operands_[size_t(operand)]->device; }
  const Tensor& cpu_view(int operand) const { return operands_[size_t(operand)]->cpu; }

  // Makes the arenas (kSentinel, then the operands' values in operand order), uploads them, and
  // makes every operand's views.
  void Build() {
    for (auto& a : arenas_) {
      const size_t size = (a->cursor + size_t(random_.Between(1, 16)) + 3) & ~size_t(3);
      a->init.assign(size, kSentinel);
    }
    for (auto& o : operands_) {
      if (o->values.empty()) continue;
      Arena& a = *arenas_[size_t(o->arena)];
      const std::vector<size_t> offsets = o->place.ByteOffsets();
      for (size_t k = 0; k < offsets.size(); ++k) {
        std::memcpy(a.init.data() + offsets[k], o->values.data() + k * o->place.element_size,
                    o->place.element_size);
      }
    }
    for (auto& a : arenas_) {
      a->host = a->init;
      const int64_t size = int64_t(a->host.size());
      a->cpu = Tensor::wrap(t_.env, t_.cpu, a->host.data(), a->host.size(), 0, DT_UINT8, {size});
      a->device = Tensor::create(t_.env, t_.device, DT_UINT8, {size});
      Tensor source = Tensor::wrap(t_.env, t_.cpu, a->init.data(), a->init.size(), 0, DT_UINT8,
                                   {size});
      t_.env.copy(source, a->device);
    }
    for (auto& o : operands_) {
      o->cpu = MakeView(arenas_[size_t(o->arena)]->cpu, o->place, o->type);
      o->device = MakeView(arenas_[size_t(o->arena)]->device, o->place, o->type);
    }
  }

  // Runs `op` on the CPU views and on the device views (on a stream, synchronised, when asked).
  struct Result {
    Outcome cpu, device;
  };
  Result Run(const char* op, const std::vector<int>& inputs, const std::vector<int>& outputs,
             const std::vector<DtAttribute>& attributes = {}, bool on_stream = false) {
    op_ = op;
    outputs_ = outputs;
    std::vector<const DtValue*> ci, di;
    std::vector<DtValue*> co, do_;
    for (int i : inputs) {
      ci.push_back(cpu_view(i).get());
      di.push_back(device_view(i).get());
    }
    for (int o : outputs) {
      co.push_back(cpu_view(o).get());
      do_.push_back(device_view(o).get());
    }
    Result result;
    result.cpu = Take(DtRunOp(t_.env.get(), op, ci.data(), ci.size(), co.data(), co.size(),
                              attributes.data(), attributes.size(), nullptr));
    if (on_stream) {
      devtensor::Stream stream = t_.env.create_stream(t_.device);
      DtStatus* status = DtRunOp(t_.env.get(), op, di.data(), di.size(), do_.data(), do_.size(),
                                 attributes.data(), attributes.size(), stream.get());
      if (status == nullptr) status = DtSynchronizeStream(stream.get());
      result.device = Take(status);
    } else {
      result.device = Take(DtRunOp(t_.env.get(), op, di.data(), di.size(), do_.data(), do_.size(),
                                attributes.data(), attributes.size(), nullptr));
    }
    return result;
  }

  // Runs `op` with different inputs on the two devices (same outputs).
  Result RunSplit(const char* op, const std::vector<int>& cpu_inputs,
                  const std::vector<int>& device_inputs, const std::vector<int>& outputs) {
    op_ = op;
    outputs_ = outputs;
    std::vector<const DtValue*> ci, di;
    std::vector<DtValue*> co, do_;
    for (int i : cpu_inputs) ci.push_back(cpu_view(i).get());
    for (int i : device_inputs) di.push_back(device_view(i).get());
    for (int o : outputs) {
      co.push_back(cpu_view(o).get());
      do_.push_back(device_view(o).get());
    }
    Result result;
    result.cpu = Take(DtRunOp(t_.env.get(), op, ci.data(), ci.size(), co.data(), co.size(),
                              nullptr, 0, nullptr));
    result.device = Take(DtRunOp(t_.env.get(), op, di.data(), di.size(), do_.data(), do_.size(),
                              nullptr, 0, nullptr));
    return result;
  }

  // The device arenas as they are now.
  std::vector<std::vector<uint8_t>> DeviceArenas() const {
    std::vector<std::vector<uint8_t>> result;
    for (const auto& a : arenas_) {
      std::vector<uint8_t> bytes(a->init.size());
      Tensor target = Tensor::wrap(t_.env, t_.cpu, bytes.data(), bytes.size(), 0, DT_UINT8,
                                   {int64_t(bytes.size())});
      t_.env.copy(a->device, target);
      result.push_back(std::move(bytes));
    }
    return result;
  }

  // Every arena on both devices still holds its initial bytes.
  ::testing::AssertionResult Unchanged(bool check_cpu = true) const {
    const auto device = DeviceArenas();
    for (size_t a = 0; a < arenas_.size(); ++a) {
      for (size_t i = 0; i < device[a].size(); ++i) {
        if (device[a][i] != arenas_[a]->init[i]) {
          return ::testing::AssertionFailure()
                 << "device arena " << a << " byte " << i << " changed: " << Hex(&device[a][i], 1)
                 << " instead of " << Hex(&arenas_[a]->init[i], 1) << "\n" << Describe();
        }
        if (check_cpu && arenas_[a]->host[i] != arenas_[a]->init[i]) {
          return ::testing::AssertionFailure()
                 << "CPU arena " << a << " byte " << i << " changed: "
                 << Hex(&arenas_[a]->host[i], 1) << " instead of " << Hex(&arenas_[a]->init[i], 1)
                 << "\n" << Describe();
        }
      }
    }
    return ::testing::AssertionSuccess();
  }

  // The outputs' elements agree between the devices (floating outputs within `ulps`), and every
  // other byte of every arena holds its initial value on both. `explain(output, k)` describes the
  // inputs of element k of an output for the failure message.
  ::testing::AssertionResult Compare(
      uint64_t ulps = 0,
      const std::function<std::string(int, size_t)>& explain = {}) const {
    const auto device = DeviceArenas();
    std::vector<std::vector<int>> owner(arenas_.size());
    for (size_t a = 0; a < arenas_.size(); ++a) owner[a].assign(arenas_[a]->init.size(), -1);
    for (int o : outputs_) {
      const Operand& out = *operands_[size_t(o)];
      for (size_t offset : out.place.ByteOffsets()) {
        for (size_t b = 0; b < out.place.element_size; ++b) owner[size_t(out.arena)][offset + b] = o;
      }
    }
    std::string failures;
    size_t bad_bytes = 0;
    for (size_t a = 0; a < arenas_.size(); ++a) {
      const Arena& arena = *arenas_[a];
      size_t device_changed = 0, cpu_changed = 0, first_device = 0, first_cpu = 0;
      for (size_t i = 0; i < arena.init.size(); ++i) {
        if (owner[a][i] >= 0) continue;
        if (device[a][i] != arena.init[i] && device_changed++ == 0) first_device = i;
        if (arena.host[i] != arena.init[i] && cpu_changed++ == 0) first_cpu = i;
      }
      if (device_changed) {
        failures += "device changed " + std::to_string(device_changed) + " byte(s) of arena " +
                    std::to_string(a) + " outside every output element; first at byte " +
                    std::to_string(first_device) + ": " + Hex(&device[a][first_device], 1) +
                    " instead of " + Hex(&arena.init[first_device], 1) + "\n";
      }
      if (cpu_changed) {
        failures += "CPU changed " + std::to_string(cpu_changed) + " byte(s) of arena " +
                    std::to_string(a) + " outside every output element; first at byte " +
                    std::to_string(first_cpu) + ": " + Hex(&arena.host[first_cpu], 1) +
                    " instead of " + Hex(&arena.init[first_cpu], 1) + "\n";
      }
      bad_bytes += device_changed + cpu_changed;
    }
    for (size_t n = 0; n < outputs_.size(); ++n) {
      const Operand& out = *operands_[size_t(outputs_[n])];
      const std::vector<size_t> offsets = out.place.ByteOffsets();
      const size_t size = out.place.element_size;
      size_t differ = 0;
      std::string first;
      for (size_t k = 0; k < offsets.size(); ++k) {
        const uint8_t* g = device[size_t(out.arena)].data() + offsets[k];
        const uint8_t* c = arenas_[size_t(out.arena)]->host.data() + offsets[k];
        const bool same = (ulps > 0 && IsFloat(out.type)) ? UlpDistance(out.type, g, c) <= ulps
                                                          : std::memcmp(g, c, size) == 0;
        if (same) continue;
        if (differ++ < 4) {  // the first few, each with what it was made from
          first += "\n    element " + Text(Unravel(int64_t(k), out.place.shape)) + ": device " +
                   Hex(g, size) + ", CPU " + Hex(c, size);
          if (IsFloat(out.type)) {
            char values[96];
            std::snprintf(values, sizeof values, " (%.17g and %.17g)", FloatValue(out.type, g),
                          FloatValue(out.type, c));
            first += values;
          }
          if (explain) first += "; " + explain(outputs_[n], k);
        }
      }
      if (differ) {
        failures += "output " + std::to_string(n) + " (" + Name(out.type) + "): " +
                    std::to_string(differ) + " of " + std::to_string(offsets.size()) +
                    " elements differ:" + first + "\n";
      }
    }
    (void)bad_bytes;
    if (failures.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << op_ << ": " << failures << Describe();
  }

  std::string Describe() const {
    std::string text;
    for (size_t a = 0; a < arenas_.size(); ++a) {
      text += "  arena " + std::to_string(a) + ": " + std::to_string(arenas_[a]->init.size()) +
              " bytes\n";
    }
    for (size_t i = 0; i < operands_.size(); ++i) {
      const Operand& o = *operands_[i];
      text += "  operand " + std::to_string(i) + ": " + Name(o.type) + " " + o.place.Describe() +
              " in arena " + std::to_string(o.arena) + "\n";
    }
    return text;
  }

 private:
  struct Arena {
    size_t cursor = 0;
    std::vector<uint8_t> init, host;
    Tensor cpu, device;
  };
  struct Operand {
    int arena = 0;
    DtElementType type = DT_UINT8;
    Placement place;
    std::vector<uint8_t> values;
    Tensor cpu, device;
  };

  static Tensor MakeView(const Tensor& whole, const Placement& p, DtElementType type) {
    Tensor view = whole.view(p.parent_offset, type, p.parent);
    for (size_t axis = 0; axis < p.shape.size(); ++axis) {
      if (p.shape[axis] != p.parent[axis]) view = view.slice(axis, p.start[axis], p.shape[axis]);
    }
    return view;
  }

  OpSuite& t_;
  Random& random_;
  std::vector<std::unique_ptr<Arena>> arenas_;
  std::vector<std::unique_ptr<Operand>> operands_;
  std::vector<int> outputs_;
  std::string op_;
};

// The element at row-major index `k` of operand bytes `values` as hex, with its value.
std::string ElementText(DtElementType type, const std::vector<uint8_t>& values, size_t k) {
  const uint8_t* p = values.data() + k * SizeOf(type);
  std::string text = Name(type) + " " + Hex(p, SizeOf(type));
  char number[64];
  if (IsFloat(type)) {
    std::snprintf(number, sizeof number, " (%.17g)", FloatValue(type, p));
  } else if (IsSigned(type)) {
    std::snprintf(number, sizeof number, " (%" PRId64 ")", SignedValue(type, p));
  } else {
    std::snprintf(number, sizeof number, " (%" PRIu64 ")", Bits(p, SizeOf(type)));
  }
  return text + number;
}

// Row-major index in `in_shape` of the input element that output element `k` (of `out_shape`)
// reads under broadcasting.
size_t BroadcastIndex(const Shape& out_shape, const Shape& in_shape, size_t k) {
  const Shape index = Unravel(int64_t(k), out_shape);
  const Shape strides = RowMajorStrides(in_shape);
  int64_t flat = 0;
  for (size_t i = 0; i < in_shape.size(); ++i) {
    const size_t d = out_shape.size() - in_shape.size() + i;
    if (in_shape[i] != 1) flat += index[d] * strides[i];
  }
  return size_t(flat);
}

DtAttribute Int(const char* name, int64_t value) { return devtensor::IntAttribute(name, value); }
DtAttribute Float(const char* name, float value) { return devtensor::FloatAttribute(name, value); }

// Whether the device result of `r` is a refusal to skip; otherwise both must have succeeded.
enum class Ran { kBoth, kSkipped, kFailed };

Ran CheckRan(OpSuite& test, const Case& c, const Case::Result& r, const std::string& combo,
             const char* op, DtElementType type) {
  if (r.device.code == DT_NOT_SUPPORTED) {
    test.NoteSkip(combo, r.device, op, type);
    EXPECT_EQ(r.cpu.code, DT_OK) << combo << " on the CPU: " << r.cpu.message;
    // A refusal writes nothing on the device.
    const ::testing::AssertionResult unchanged = c.Unchanged(false);
    EXPECT_TRUE(unchanged) << combo << ": refused but wrote";
    return Ran::kSkipped;
  }
  EXPECT_EQ(r.cpu.code, DT_OK) << combo << " on the CPU: " << r.cpu.message << "\n"
                               << c.Describe();
  EXPECT_EQ(r.device.code, DT_OK) << combo << " on " << test.device_case.name << ": "
                                  << DtGetErrorCodeName(r.device.code) << ": "
                                  << r.device.message << "\n" << c.Describe();
  return r.cpu.code == DT_OK && r.device.code == DT_OK ? Ran::kBoth : Ran::kFailed;
}


// ---- Cast -----------------------------------------------------------------------------------------

// One random Cast from `from` to `to`; false (reported) when the devices disagree.
bool RandomCast(OpSuite& t, DtElementType from, DtElementType to, const Gen& source,
                int* skipped, std::string* failure) {
  Random& random = t.random;
  Case c(t);
  const Shape shape = RandomShape(random, 0, 4, true);
  const int in_arena = c.NewArena();
  const int out_arena = random.Between(0, 2) == 0 ? in_arena : c.NewArena();
  const int in = c.Add(in_arena, from, shape, random.Between(0, 1) == 1, source);
  const int out = c.Add(out_arena, to, shape, random.Between(0, 1) == 1);
  c.Build();
  const std::string combo = "Cast " + Name(from) + "->" + Name(to);
  const Case::Result r = c.Run("Cast", {in}, {out}, {Int("to", to)}, random.Between(0, 1) == 1);
  const Ran ran = CheckRan(t, c, r, combo, "Cast", to);
  if (ran == Ran::kSkipped) {
    ++*skipped;
    return true;
  }
  if (ran == Ran::kFailed) return false;
  const ::testing::AssertionResult same = c.Compare(0, [&](int, size_t k) {
    return "input " + ElementText(from, c.values(in), k);
  });
  if (!same) *failure = same.message();
  return bool(same);
}

TEST_P(OpSuite, CastOfEveryPairOfTypesMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  std::vector<std::string> failed;
  for (DtElementType from : kCastTypes) {
    for (DtElementType to : kCastTypes) {
      SCOPED_TRACE(Name(from) + " -> " + Name(to));
      const Gen source = CastSource(from, to);
      for (int trial = 0, skipped = 0; trial < 3 && skipped == 0; ++trial) {
        std::string failure;
        if (!RandomCast(*this, from, to, source, &skipped, &failure)) {
          if (!failure.empty()) {
            ADD_FAILURE() << "Cast " << Name(from) << " -> " << Name(to) << ": " << failure;
          }
          failed.push_back(Name(from) + "->" + Name(to));
          break;
        }
      }
    }
  }
  if (!failed.empty()) {
    std::string list;
    for (const std::string& pair : failed) list += (list.empty() ? "" : ", ") + pair;
    ADD_FAILURE() << failed.size() << " Cast pairs differ from the CPU: " << list;
  }
}

// Values Cast must treat with care: NaN, infinities, signed zeros, subnormals, values beyond the
// target's range (saturation), values a detour through float would round twice, tiny doubles.
TEST_P(OpSuite, CastOfSpecialValuesMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  const double kSpecials[] = {
      NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-300, -1e-300, 1e-40, 5e-45,
      3.0e-8 /* float16 subnormal range */, 6.0e-5, 65504.0, 65520.0, 70000.0, -70000.0, 1e10,
      -1e10, 3e9, -3e9, 1e19, -1e19, 1e30, 3.4028235677973366e38, 1e300, -1e300, 255.9, 256.0,
      -128.9, -129.0, 127.99, 32767.5, -32768.9, 65535.9, 2147483647.9, -2147483648.9,
      4294967295.9, 4294967296.0, 9.3e18, -9.3e18,
      // Halfway between two float16 numbers (1 + 2^-11) and a hair above: a double that rounds
      // to float first lands on the tie and then rounds to even, one ulp off.
      1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40),
      // Likewise for bfloat16 (1 + 2^-8 and a hair).
      1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40),
      // Integers above 2^24: a detour through float loses their low bits.
      16777217.0, 123456789.25, -123456789.75, 2.9999999999, -2.9999999999};
  std::vector<std::string> failed;
  for (DtElementType from : {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_DOUBLE}) {
    for (DtElementType to : kCastTypes) {
      if (from == to) continue;
      SCOPED_TRACE(Name(from) + " -> " + Name(to));
      std::vector<uint8_t> values(std::size(kSpecials) * SizeOf(from));
      for (size_t i = 0; i < std::size(kSpecials); ++i) {
        PutFloat(from, kSpecials[i], values.data() + i * SizeOf(from));
      }
      Case c(*this);
      const int arena = c.NewArena();
      const int in = c.AddValues(arena, from, {int64_t(std::size(kSpecials))}, false, values);
      const int out = c.Add(arena, to, {int64_t(std::size(kSpecials))}, random.Between(0, 1) == 1);
      c.Build();
      const std::string combo = "Cast " + Name(from) + "->" + Name(to);
      const Case::Result r = c.Run("Cast", {in}, {out}, {Int("to", to)});
      if (CheckRan(*this, c, r, combo, "Cast", to) != Ran::kBoth) continue;
      const ::testing::AssertionResult same = c.Compare(0, [&](int, size_t k) {
        return "input " + ElementText(from, values, k);
      });
      if (!same) {
        ADD_FAILURE() << combo << ": " << same.message();
        failed.push_back(Name(from) + "->" + Name(to));
      }
    }
  }
  // Integers of every magnitude into the floating types and bool: exact rounding once.
  for (DtElementType from : {DT_INT32, DT_UINT32, DT_INT64}) {
    for (DtElementType to : {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_DOUBLE}) {
      SCOPED_TRACE(Name(from) + " -> " + Name(to));
      const int64_t kIntegers[] = {-1, -5, -16777217, 16777217, 33685505 /* 2^25 + 2^17 + 1 */,
                                   2147483647, -2147483647 - 1, 4294967295, 65519, 65520, -65520,
                                   (int64_t(1) << 40) + 1, -(int64_t(1) << 40) - 3};
      std::vector<uint8_t> values(std::size(kIntegers) * SizeOf(from));
      for (size_t i = 0; i < std::size(kIntegers); ++i) {
        PutInt(from, uint64_t(kIntegers[i]), values.data() + i * SizeOf(from));
      }
      Case c(*this);
      const int arena = c.NewArena();
      const int in = c.AddValues(arena, from, {int64_t(std::size(kIntegers))}, false, values);
      const int out = c.Add(arena, to, {int64_t(std::size(kIntegers))}, false);
      c.Build();
      const std::string combo = "Cast " + Name(from) + "->" + Name(to);
      const Case::Result r = c.Run("Cast", {in}, {out}, {Int("to", to)});
      if (CheckRan(*this, c, r, combo, "Cast", to) != Ran::kBoth) continue;
      const ::testing::AssertionResult same = c.Compare(0, [&](int, size_t k) {
        return "input " + ElementText(from, values, k);
      });
      if (!same) {
        ADD_FAILURE() << combo << ": " << same.message();
        failed.push_back(Name(from) + "->" + Name(to));
      }
    }
  }
  if (!failed.empty()) {
    std::string list;
    for (const std::string& pair : failed) list += (list.empty() ? "" : ", ") + pair;
    ADD_FAILURE() << failed.size() << " Cast pairs differ from the CPU on special values: " << list;
  }
}

// ---- Add, Sub, Mul, Div ---------------------------------------------------------------------------

TEST_P(OpSuite, ArithmeticOfEveryOpAndTypeWithBroadcastingMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    for (DtElementType type : kArithmeticTypes) {
      const std::string combo = std::string(op) + " " + Name(type);
      SCOPED_TRACE(combo);
      const bool div = std::strcmp(op, "Div") == 0;
      for (int trial = 0; trial < 4; ++trial) {
        Case c(*this);
        const Shape out_shape = RandomShape(random, 0, 4, true);
        Shape a_shape = BroadcastableTo(random, out_shape);
        Shape b_shape = BroadcastableTo(random, out_shape);
        // The result's shape is the broadcast of A's and B's: one of them has the output's rank,
        // and every dimension.
        (random.Between(0, 1) ? a_shape : b_shape) = out_shape;
        std::vector<int> arenas = {c.NewArena()};
        if (random.Between(0, 1)) arenas.push_back(c.NewArena());
        auto pick = [&] { return arenas[size_t(random.Between(0, int64_t(arenas.size()) - 1))]; };
        const int a = c.Add(pick(), type, a_shape, random.Between(0, 1) == 1,
                            ArithmeticValue(type, random));
        const int b = c.Add(pick(), type, b_shape, random.Between(0, 1) == 1,
                            div ? Divisor(type, random) : ArithmeticValue(type, random));
        const int out = c.Add(pick(), type, out_shape, random.Between(0, 1) == 1);
        c.Build();
        const Case::Result r = c.Run(op, {a, b}, {out}, {}, random.Between(0, 1) == 1);
        const Ran ran = CheckRan(*this, c, r, combo, op, type);
        if (ran == Ran::kSkipped) break;
        if (ran == Ran::kFailed) break;
        const ::testing::AssertionResult same = c.Compare(div ? 2 : 0, [&](int, size_t k) {
          return "A " + ElementText(type, c.values(a), BroadcastIndex(out_shape, a_shape, k)) +
                 ", B " + ElementText(type, c.values(b), BroadcastIndex(out_shape, b_shape, k));
        });
        if (!same) {
          ADD_FAILURE() << same.message();
          break;
        }
      }
    }
  }
}

// Division by zero: for integers the CPU refuses the call (nothing written), and so does a device
// that checks on the host; another device yields the dividend (devtensor.h), so it must equal the
// CPU dividing by 1 there. For floats every device gives IEEE infinities and NaN.
TEST_P(OpSuite, IntegerDivisionByZeroFailsOnTheHostAndYieldsTheDividendOnDevices) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_INT8, DT_UINT8, DT_INT16, DT_UINT16, DT_INT32, DT_UINT32, DT_FLOAT,
                             DT_FLOAT16, DT_BFLOAT16}) {
    SCOPED_TRACE("Div by zero " + Name(type));
    Case c(*this);
    const Shape shape = RandomShape(random, 1, 3);
    const int64_t count = Product(shape);
    std::vector<uint8_t> divisor = Values(random, type, count, Divisor(type, random));
    std::vector<uint8_t> ones = divisor;
    for (int64_t i = 0; i < count; ++i) {
      if (random.Between(0, 2) != 0 && i != 0) continue;  // element 0 and a third of the rest
      std::memset(divisor.data() + i * SizeOf(type), 0, SizeOf(type));
      if (random.Between(0, 1)) PutFloat(type, -0.0, divisor.data() + i * SizeOf(type));
      if (!IsFloat(type)) {
        std::memset(ones.data() + i * SizeOf(type), 0, SizeOf(type));
        PutInt(type, 1, ones.data() + i * SizeOf(type));
      } else {
        std::memcpy(ones.data() + i * SizeOf(type), divisor.data() + i * SizeOf(type), SizeOf(type));
      }
    }
    const int arena = c.NewArena();
    const Gen dividend = IsFloat(type) ? Gen([type](Random& r, uint8_t* p) {
      // Zeros too: 0 / 0 is NaN.
      if (r.Between(0, 3) == 0) PutFloat(type, r.Between(0, 1) ? 0.0 : -0.0, p);
      else NormalFloat(type, -10, 10)(r, p);
    }) : ArithmeticValue(type, random);
    const int a = c.Add(arena, type, shape, random.Between(0, 1) == 1, dividend);
    const int b = c.AddValues(arena, type, shape, random.Between(0, 1) == 1, divisor);
    const int b_ones = c.AddValues(c.NewArena(), type, shape, false, ones);
    const int out = c.Add(arena, type, shape, random.Between(0, 1) == 1);
    c.Build();
    if (!IsFloat(type)) {
      const DtValue* in[] = {c.cpu_view(a).get(), c.cpu_view(b).get()};
      DtValue* o = c.cpu_view(out).get();
      DT_EXPECT_ERROR(DtRunOp(env.get(), "Div", in, 2, &o, 1, nullptr, 0, nullptr),
                      DT_INVALID_ARGUMENT, "Div", "zero");
      EXPECT_TRUE(c.Unchanged()) << "a refused division wrote";
      if (ChecksValuesOnTheHost()) {
        const DtValue* on_device[] = {c.device_view(a).get(), c.device_view(b).get()};
        DtValue* o_device = c.device_view(out).get();
        DT_EXPECT_ERROR(DtRunOp(env.get(), "Div", on_device, 2, &o_device, 1, nullptr, 0, nullptr),
                        DT_INVALID_ARGUMENT, "Div", "zero");
        EXPECT_TRUE(c.Unchanged()) << "a refused division wrote on the device";
        continue;
      }
    }
    const Case::Result r = c.RunSplit("Div", {a, b_ones}, {a, b}, {out});
    if (CheckRan(*this, c, r, "Div by zero " + Name(type), "Div", type) != Ran::kBoth) continue;
    EXPECT_TRUE(c.Compare(2, [&](int, size_t k) {
      return "A " + ElementText(type, c.values(a), k) + ", B " + ElementText(type, divisor, k);
    }));
  }
}

// ---- Where ----------------------------------------------------------------------------------------

TEST_P(OpSuite, WhereOfEveryTypeWithBroadcastingMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    const std::string combo = "Where " + Name(type);
    SCOPED_TRACE(combo);
    for (int trial = 0; trial < 4; ++trial) {
      Case c(*this);
      const Shape out_shape = RandomShape(random, 0, 4, true);
      Shape shapes[3] = {BroadcastableTo(random, out_shape), BroadcastableTo(random, out_shape),
                         BroadcastableTo(random, out_shape)};
      shapes[random.Between(0, 2)] = out_shape;
      const int arena = c.NewArena();
      const int other = random.Between(0, 1) ? arena : c.NewArena();
      const int cond = c.Add(arena, DT_BOOL, shapes[0], random.Between(0, 1) == 1, AnyBits(DT_BOOL));
      const int x = c.Add(other, type, shapes[1], random.Between(0, 1) == 1, AnyBits(type));
      const int y = c.Add(arena, type, shapes[2], random.Between(0, 1) == 1, AnyBits(type));
      const int out = c.Add(other, type, out_shape, random.Between(0, 1) == 1);
      c.Build();
      const Case::Result r = c.Run("Where", {cond, x, y}, {out}, {}, random.Between(0, 1) == 1);
      const Ran ran = CheckRan(*this, c, r, combo, "Where", type);
      if (ran != Ran::kBoth) break;
      const ::testing::AssertionResult same = c.Compare();
      if (!same) {
        ADD_FAILURE() << same.message();
        break;
      }
    }
  }
}

// ---- Expand ---------------------------------------------------------------------------------------

TEST_P(OpSuite, ExpandOfEveryTypeMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    const std::string combo = "Expand " + Name(type);
    SCOPED_TRACE(combo);
    for (int trial = 0; trial < 3; ++trial) {
      Case c(*this);
      const Shape out_shape = RandomShape(random, 0, 4);
      const Shape in_shape = BroadcastableTo(random, out_shape);
      // `shape` broadcasts with the input to the output: the output's shape, with 1 where the
      // input has the dimension, and now and then without leading dimensions the input has.
      Shape target = out_shape;
      for (size_t j = 0; j < in_shape.size(); ++j) {
        const size_t i = out_shape.size() - in_shape.size() + j;
        if (in_shape[j] != 1 && random.Between(0, 1)) target[i] = 1;
      }
      if (in_shape.size() == out_shape.size() && !target.empty() && random.Between(0, 1)) {
        target.erase(target.begin(), target.begin() + random.Between(0, int64_t(target.size())));
        // The dropped leading dimensions come from the input, which must have them.
        bool ok = true;
        for (size_t i = 0; i < out_shape.size() - target.size(); ++i) ok = ok && in_shape[i] == out_shape[i];
        if (!ok) target = out_shape;
      }
      std::vector<uint8_t> target_bytes(target.size() * 8);
      if (!target.empty()) std::memcpy(target_bytes.data(), target.data(), target_bytes.size());
      const int arena = c.NewArena();
      const int in = c.Add(arena, type, in_shape, random.Between(0, 1) == 1, AnyBits(type));
      const int shape = c.AddValues(random.Between(0, 1) ? arena : c.NewArena(), DT_INT64,
                                    {int64_t(target.size())}, random.Between(0, 1) == 1,
                                    target_bytes);
      const int out = c.Add(arena, type, out_shape, random.Between(0, 1) == 1);
      c.Build();
      const Case::Result r = c.Run("Expand", {in, shape}, {out}, {}, random.Between(0, 1) == 1);
      const Ran ran = CheckRan(*this, c, r, combo, "Expand", type);
      if (ran != Ran::kBoth) break;
      const ::testing::AssertionResult same = c.Compare();
      if (!same) {
        ADD_FAILURE() << "shape " << Text(target) << ": " << same.message();
        break;
      }
    }
  }
}

// ---- ScatterND ------------------------------------------------------------------------------------

// Indices of `tuples` unique tuples into data.shape[:k], as int64 row-major bytes of
// tuples_shape + [k]; each coordinate negative (counted from the end) with probability 1/3.
std::vector<uint8_t> UniqueTuples(Random& random, const Shape& data_shape, size_t k,
                                  int64_t tuples) {
  const Shape space(data_shape.begin(), data_shape.begin() + int64_t(k));
  std::vector<int64_t> flat(size_t(Product(space)));
  std::iota(flat.begin(), flat.end(), 0);
  std::shuffle(flat.begin(), flat.end(), random.engine);
  std::vector<uint8_t> bytes;
  for (int64_t t = 0; t < tuples; ++t) {
    const Shape index = Unravel(flat[size_t(t)], space);
    for (size_t j = 0; j < k; ++j) {
      int64_t v = index[j];
      if (random.Between(0, 2) == 0) v -= space[j];
      const size_t at = bytes.size();
      bytes.resize(at + 8);
      std::memcpy(bytes.data() + at, &v, 8);
    }
  }
  return bytes;
}

TEST_P(OpSuite, ScatterNDWithUniqueIndicesSomeNegativeMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  const DtElementType kTypes[] = {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_INT8,  DT_UINT8, DT_INT16,
                                  DT_INT32, DT_INT64,   DT_BOOL,     DT_DOUBLE, DT_UINT16};
  for (DtElementType type : kTypes) {
    const std::string combo = "ScatterND " + Name(type);
    SCOPED_TRACE(combo);
    for (int trial = 0; trial < 6; ++trial) {
      Case c(*this);
      const Shape data_shape = RandomShape(random, 1, 4);
      const size_t k = size_t(random.Between(1, int64_t(data_shape.size())));
      const int64_t space = Product(Shape(data_shape.begin(), data_shape.begin() + int64_t(k)));
      // Tuples: a shape of rank 0..2 whose product fits in the index space.
      Shape tuples_shape(random.Between(0, 2));
      for (int64_t& d : tuples_shape) d = random.Between(1, 3);
      while (Product(tuples_shape) > space) tuples_shape.pop_back();
      Shape indices_shape = tuples_shape;
      indices_shape.push_back(int64_t(k));
      Shape updates_shape = tuples_shape;
      updates_shape.insert(updates_shape.end(), data_shape.begin() + int64_t(k), data_shape.end());
      const bool in_place = trial % 2 == 1;
      const int arena = c.NewArena();
      const int other = random.Between(0, 1) ? arena : c.NewArena();
      const int data = c.Add(arena, type, data_shape, random.Between(0, 1) == 1, AnyBits(type));
      const int indices =
          c.AddValues(other, DT_INT64, indices_shape, random.Between(0, 1) == 1,
                      UniqueTuples(random, data_shape, k, Product(tuples_shape)));
      const int updates =
          c.Add(other, type, updates_shape, random.Between(0, 1) == 1, AnyBits(type));
      const int out = in_place ? data : c.Add(arena, type, data_shape, random.Between(0, 1) == 1);
      c.Build();
      const Case::Result r =
          c.Run("ScatterND", {data, indices, updates}, {out}, {}, random.Between(0, 1) == 1);
      const Ran ran = CheckRan(*this, c, r, combo, "ScatterND", type);
      if (ran != Ran::kBoth) break;
      const ::testing::AssertionResult same = c.Compare();
      EXPECT_EQ(ErrorFlags(), 0u) << "no index was out of range";
      if (!same) {
        ADD_FAILURE() << (in_place ? "in place: " : "") << same.message();
        break;
      }
    }
  }
}

// An index out of range: the CPU refuses the call (DT_OUT_OF_RANGE, nothing written), and so does a
// device that checks on the host; another device skips that update, applies the others, and
// raises DT_DEVICE_ERROR_SCATTER_INDEX: compared with the CPU running the call without the bad
// tuple.
TEST_P(OpSuite, ScatterNDIndexOutOfRangeFailsOnTheHostAndIsSkippedAndFlaggedOnDevices) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT, DT_INT8, DT_INT64}) {
    SCOPED_TRACE("ScatterND bad index " + Name(type));
    const int64_t rows = random.Between(3, 6), cols = random.Between(1, 4);
    std::vector<int64_t> good = {random.Between(0, rows - 1)};
    good.push_back((good[0] + 1) % rows - rows);  // another row, counted from the end
    const int64_t bad = random.Between(0, 1) ? rows + random.Between(0, 3) : -rows - 1;
    std::vector<int64_t> all = {good[0], bad, good[1]};
    std::vector<uint8_t> good_bytes(16), all_bytes(24);
    std::memcpy(good_bytes.data(), good.data(), 16);
    std::memcpy(all_bytes.data(), all.data(), 24);
    Case c(*this);
    const int arena = c.NewArena();
    const int data = c.Add(arena, type, {rows, cols}, true, AnyBits(type));
    const int out = c.Add(arena, type, {rows, cols}, true);
    const int all_indices = c.AddValues(c.NewArena(), DT_INT64, {3, 1}, false, all_bytes);
    const int good_indices = c.AddValues(c.NewArena(), DT_INT64, {2, 1}, false, good_bytes);
    const std::vector<uint8_t> all_updates = Values(random, type, 3 * cols, AnyBits(type));
    std::vector<uint8_t> good_updates(all_updates.begin(), all_updates.begin() + cols * SizeOf(type));
    good_updates.insert(good_updates.end(), all_updates.begin() + 2 * cols * SizeOf(type), all_updates.end());
    const int updates = c.AddValues(arena, type, {3, cols}, false, all_updates);
    const int fewer = c.AddValues(arena, type, {2, cols}, false, good_updates);
    c.Build();
    {  // The CPU refuses the bad call outright.
      const DtValue* in[] = {c.cpu_view(data).get(), c.cpu_view(all_indices).get(),
                             c.cpu_view(updates).get()};
      DtValue* o = c.cpu_view(out).get();
      DT_EXPECT_ERROR(DtRunOp(env.get(), "ScatterND", in, 3, &o, 1, nullptr, 0, nullptr),
                      DT_OUT_OF_RANGE, "ScatterND");
      EXPECT_TRUE(c.Unchanged()) << "a refused call wrote";
    }
    if (ChecksValuesOnTheHost()) {
      const DtValue* in[] = {c.device_view(data).get(), c.device_view(all_indices).get(),
                             c.device_view(updates).get()};
      DtValue* o = c.device_view(out).get();
      DT_EXPECT_ERROR(DtRunOp(env.get(), "ScatterND", in, 3, &o, 1, nullptr, 0, nullptr),
                      DT_OUT_OF_RANGE, "ScatterND");
      EXPECT_TRUE(c.Unchanged()) << "a refused call wrote on the device";
      EXPECT_EQ(ErrorFlags(), 0u);
      continue;
    }
    const Case::Result r = c.RunSplit("ScatterND", {data, good_indices, fewer},
                                      {data, all_indices, updates}, {out});
    if (CheckRan(*this, c, r, "ScatterND " + Name(type), "ScatterND", type) != Ran::kBoth) continue;
    EXPECT_TRUE(c.Compare()) << "index " << bad << " of " << rows << " rows";
    EXPECT_EQ(ErrorFlags(), DT_DEVICE_ERROR_SCATTER_INDEX);
    EXPECT_EQ(ErrorFlags(), 0u);
  }
}

// ---- ArgMax ---------------------------------------------------------------------------------------

// Element values of `shape` with no two equal along `axis`.
std::vector<uint8_t> DistinctAlong(Random& random, DtElementType type, const Shape& shape,
                                   size_t axis, const Gen& gen) {
  std::vector<uint8_t> bytes = Values(random, type, Product(shape), gen);
  const size_t size = SizeOf(type);
  const Shape strides = RowMajorStrides(shape);
  for (int64_t flat = 0; flat < Product(shape); ++flat) {
    if (Unravel(flat, shape)[axis] != 0) continue;  // one line per element with index 0 there
    for (int64_t j = 1; j < shape[axis]; ++j) {
      uint8_t* p = bytes.data() + size_t(flat + j * strides[axis]) * size;
      for (bool unique = false; !unique;) {
        unique = true;
        for (int64_t i = 0; i < j && unique; ++i) {
          if (NumericCompare(type, p, bytes.data() + size_t(flat + i * strides[axis]) * size) == 0) {
            unique = false;
          }
        }
        if (!unique) gen(random, p);
      }
    }
  }
  return bytes;
}

// One ArgMax over `data_values` (of `shape`) with random attributes; the result must match.
void RunArgMax(OpSuite& t, DtElementType type, const Shape& shape, size_t axis,
               const std::vector<uint8_t>& data_values, bool keepdims, bool last,
               bool negative_axis, const std::string& what) {
  Random& random = t.random;
  Case c(t);
  Shape out_shape;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != axis) out_shape.push_back(shape[i]);
    else if (keepdims) out_shape.push_back(1);
  }
  const int arena = c.NewArena();
  const int data = c.AddValues(arena, type, shape, random.Between(0, 1) == 1, data_values);
  const int out = c.Add(random.Between(0, 1) ? arena : c.NewArena(), DT_INT64, out_shape,
                        random.Between(0, 1) == 1);
  c.Build();
  const int64_t axis_attr = negative_axis ? int64_t(axis) - int64_t(shape.size()) : int64_t(axis);
  const std::string combo = "ArgMax " + Name(type);
  const Case::Result r =
      c.Run("ArgMax", {data}, {out},
            {Int("axis", axis_attr), Int("keepdims", keepdims), Int("select_last_index", last)},
            random.Between(0, 1) == 1);
  if (CheckRan(t, c, r, combo, "ArgMax", type) != Ran::kBoth) return;
  EXPECT_TRUE(c.Compare(0, [&](int, size_t k) {
    // The line of the output element: its values along the axis.
    Shape index = Unravel(int64_t(k), out_shape);
    if (!keepdims) index.insert(index.begin() + int64_t(axis), 0);
    index[axis] = 0;
    const Shape strides = RowMajorStrides(shape);
    int64_t flat = 0;
    for (size_t i = 0; i < shape.size(); ++i) flat += index[i] * strides[i];
    std::string line = "line";
    for (int64_t j = 0; j < shape[axis] && j < 12; ++j) {
      line += " " + ElementText(type, data_values, size_t(flat + j * strides[axis]));
    }
    return line;
  })) << what << " axis " << axis_attr << " keepdims " << keepdims << " select_last_index "
      << last;
}

TEST_P(OpSuite, ArgMaxOfDistinctValuesEveryAxisAndAttributeMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  const DtElementType kTypes[] = {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_INT8,  DT_UINT8, DT_INT16,
                                  DT_UINT16, DT_INT32,  DT_UINT32,   DT_INT64, DT_DOUBLE, DT_UINT64};
  for (DtElementType type : kTypes) {
    SCOPED_TRACE("ArgMax " + Name(type));
    for (int trial = 0; trial < 6; ++trial) {
      const Shape shape = RandomShape(random, 1, 4);
      const size_t axis = size_t(random.Between(0, int64_t(shape.size()) - 1));
      Gen gen = IsFloat(type) ? (type == DT_FLOAT16 ? FiniteHalf() : NormalFloat(type, -30, 30))
                              : IntAnyMagnitude(type);
      const std::vector<uint8_t> values = DistinctAlong(random, type, shape, axis, gen);
      RunArgMax(*this, type, shape, axis, values, random.Between(0, 1) == 1,
                random.Between(0, 1) == 1, random.Between(0, 1) == 1, "distinct");
      if (HasFailure() || SkippedCombos()[CurrentTest()].count("ArgMax " + Name(type))) break;
    }
  }
}

// Many equal maxima (values from a set of three; +0 and -0 are equal): the first, or with
// select_last_index the last.
TEST_P(OpSuite, ArgMaxTiesPickTheFirstOrTheLastLikeTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_INT8, DT_UINT16, DT_INT32,
                             DT_INT64}) {
    SCOPED_TRACE("ArgMax ties " + Name(type));
    for (int trial = 0; trial < 4; ++trial) {
      const Shape shape = RandomShape(random, 1, 3);
      const size_t axis = size_t(random.Between(0, int64_t(shape.size()) - 1));
      Gen gen = [type](Random& r, uint8_t* p) {
        const int64_t pick = r.Between(0, 2);
        if (IsFloat(type)) {
          PutFloat(type, pick == 0 ? -0.0 : pick == 1 ? 0.0 : 1.0, p);
        } else {
          PutInt(type, uint64_t(pick), p);
        }
      };
      const std::vector<uint8_t> values = Values(random, type, Product(shape), gen);
      for (bool last : {false, true}) {
        RunArgMax(*this, type, shape, axis, values, random.Between(0, 1) == 1, last, false,
                  "ties");
      }
    }
  }
}

// Infinities compare as numbers; NaN is the maximum (numpy's argmax; see src/ops/argmax.cpp).
TEST_P(OpSuite, ArgMaxOfInfinityAndNaNMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16}) {
    SCOPED_TRACE("ArgMax NaN " + Name(type));
    const Shape shape = {4, 5};
    std::vector<uint8_t> values(20 * SizeOf(type));
    const double kRows[4][5] = {{-INFINITY, 2, INFINITY, 3, INFINITY},
                                {1, NAN, 3, 2, 0},
                                {NAN, 5, 1, NAN, 2},
                                {-1, -2, INFINITY, -3, NAN}};
    for (size_t i = 0; i < 20; ++i) {
      PutFloat(type, kRows[i / 5][i % 5], values.data() + i * SizeOf(type));
    }
    for (bool last : {false, true}) {
      RunArgMax(*this, type, shape, 1, values, true, last, false, "NaN");
    }
  }
}

// Axes longer than a workgroup (the GPU kernel splits an axis over 256 lanes and reduces): many
// equal maxima far apart, and rows with NaNs, along the last and the first axis.
TEST_P(OpSuite, ArgMaxAlongLongAxesWithTiesAndNaNMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT, DT_FLOAT16, DT_INT32, DT_INT64, DT_INT8}) {
    SCOPED_TRACE("ArgMax long " + Name(type));
    // Axes longer than a workgroup; those over 4096 elements with few outputs beside them run in
    // two passes (chunks of 2048, then their candidates), along a contiguous or a strided axis;
    // at rank 8 too, the most dimensions a kernel's index space has.
    for (const auto& [shape, axis] : {std::pair{Shape{3, random.Between(257, 5000)}, size_t(1)},
                                      std::pair{Shape{3, 1, 2, 1, 1, 1, 1, random.Between(4097, 6000)},
                                                size_t(7)},
                                      std::pair{Shape{1, 2, 1, 1, random.Between(4097, 6000), 1, 1, 2},
                                                size_t(4)},
                                      std::pair{Shape{random.Between(300, 3000), 2}, size_t(0)},
                                      std::pair{Shape{random.Between(4097, 30000)}, size_t(0)},
                                      std::pair{Shape{2, random.Between(4097, 20000)}, size_t(1)},
                                      std::pair{Shape{random.Between(4097, 12000), 3}, size_t(0)}}) {
      Gen gen = [type](Random& r, uint8_t* p) {
        const int64_t pick = r.Between(0, 40);  // mostly small values, a few equal maxima
        if (IsFloat(type)) {
          PutFloat(type, pick == 0 ? NAN : pick < 4 ? 7.0 : double(pick % 5), p);
        } else {
          PutInt(type, uint64_t(pick < 4 ? 7 : pick % 5), p);
        }
      };
      const std::vector<uint8_t> values = Values(random, type, Product(shape), gen);
      for (bool last : {false, true}) {
        RunArgMax(*this, type, shape, axis, values, random.Between(0, 1) == 1, last, false, "long");
      }
    }
  }
}

// ---- Fill -----------------------------------------------------------------------------------------

TEST_P(OpSuite, FillOfEveryTypeMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    const std::string combo = "Fill " + Name(type);
    SCOPED_TRACE(combo);
    for (int trial = 0; trial < 4; ++trial) {
      // A value the type holds (integers: in range, with a fraction to truncate).
      float value;
      if (IsFloat(type)) {
        value = float(std::ldexp(std::uniform_real_distribution<double>(-2, 2)(random.engine),
                                 int(random.Between(-20, 20))));
      } else if (type == DT_BOOL) {
        value = trial == 0 ? 0.0f : float(random.Between(-3, 3));
      } else {
        double lo, hi;
        IntRange(type, &lo, &hi);
        lo = std::max(lo, -1e6);
        hi = std::min(hi, 1e6);
        value = float(std::uniform_real_distribution<double>(lo, hi)(random.engine));
      }
      Case c(*this);
      const int out = c.Add(c.NewArena(), type, RandomShape(random, 0, 4, true),
                            random.Between(0, 1) == 1);
      c.Build();
      const Case::Result r = c.Run("Fill", {}, {out}, {Float("value", value)},
                                   random.Between(0, 1) == 1);
      if (CheckRan(*this, c, r, combo, "Fill", type) != Ran::kBoth) break;
      const ::testing::AssertionResult same = c.Compare();
      if (!same) {
        ADD_FAILURE() << "value " << value << ": " << same.message();
        break;
      }
    }
  }
}

// Values outside a type's range, negative values into unsigned types, NaN and infinities: the
// conversion is Cast's (saturating; NaN -> 0).
TEST_P(OpSuite, FillValuesOutOfRangeConvertAsCast) {
  SCOPED_TRACE(random.trace());
  const float kValues[] = {-1.5f, -200.0f, 300.0f, 70000.0f, -70000.0f, 3e9f, -3e9f, 1e19f,
                           -1e19f, 1e30f, NAN, INFINITY, -INFINITY};
  std::vector<std::string> failed;
  for (DtElementType type : kAllTypes) {
    for (float value : kValues) {
      Case c(*this);
      const int out = c.Add(c.NewArena(), type, {3}, false);
      c.Build();
      const Case::Result r = c.Run("Fill", {}, {out}, {Float("value", value)});
      const std::string combo = "Fill " + Name(type);
      if (CheckRan(*this, c, r, combo, "Fill", type) != Ran::kBoth) continue;
      if (!c.Compare()) failed.push_back(Name(type) + " " + std::to_string(value));
    }
  }
  if (!failed.empty()) {
    std::string list;
    for (const std::string& f : failed) list += (list.empty() ? "" : ", ") + f;
    ADD_FAILURE() << failed.size() << " Fill values differ from the CPU: " << list;
  }
}

// ---- UpdateAttentionMask --------------------------------------------------------------------------

TEST_P(OpSuite, UpdateAttentionMaskWithTotalLengthBelowInsideAndAboveMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_INT32, DT_INT64}) {
    for (int trial = 0; trial < 16; ++trial) {
      const int64_t batch = random.Between(1, 3), max_length = random.Between(1, 20);
      const int64_t choices[] = {std::numeric_limits<int32_t>::min(), -random.Between(1, 5), 0,
                                 random.Between(0, max_length), max_length - 1, max_length,
                                 max_length + random.Between(1, 5),
                                 std::numeric_limits<int32_t>::max()};
      const int32_t total = int32_t(choices[trial % std::size(choices)]);
      SCOPED_TRACE(Name(type) + " total_length " + std::to_string(total));
      Case c(*this);
      const int arena = c.NewArena();
      const int mask =
          c.Add(arena, type, {batch, max_length}, random.Between(0, 1) == 1, AnyBits(type));
      std::vector<uint8_t> bytes(4);
      std::memcpy(bytes.data(), &total, 4);
      const Shape scalar = random.Between(0, 1) ? Shape{} : Shape{1};
      const int length = c.AddValues(random.Between(0, 1) ? arena : c.NewArena(), DT_INT32, scalar,
                                     false, bytes);
      c.Build();
      const Case::Result r =
          c.Run("UpdateAttentionMask", {length}, {mask}, {}, random.Between(0, 1) == 1);
      if (CheckRan(*this, c, r, "UpdateAttentionMask " + Name(type), "UpdateAttentionMask",
                   type) != Ran::kBoth) {
        continue;
      }
      EXPECT_TRUE(c.Compare());
    }
  }
}

// ---- UpdatePositionIds ----------------------------------------------------------------------------

TEST_P(OpSuite, UpdatePositionIdsIncrementsWrapAndCarryLikeTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_INT32, DT_INT64}) {
    for (int trial = 0; trial < 12; ++trial) {
      // Values around 0, around the carry from the low 32 bits (int64) and around the wrap
      // (int32), and random ones; increments default, small, negative and large.
      const Gen value = [type, trial](Random& r, uint8_t* p) {
        const int64_t near = r.Between(-3, 3);
        uint64_t v;
        switch (r.Between(0, 3)) {
          case 0: v = uint64_t(near); break;
          case 1: v = type == DT_INT64 ? (uint64_t(r.Between(-4, 4)) << 32) + uint64_t(near)
                                       : uint64_t(int64_t(INT32_MAX) + near); break;
          case 2: v = type == DT_INT64 ? uint64_t(INT64_MAX) + uint64_t(near) : uint64_t(near); break;
          default: v = r(); break;
        }
        (void)trial;
        PutInt(type, v, p);
      };
      std::vector<DtAttribute> attributes;
      int64_t increment = 1;
      switch (trial % 4) {
        case 0: break;  // the default, 1
        case 1: increment = random.Between(-5, 5); break;
        case 2: increment = type == DT_INT64 ? int64_t(random()) : random.Between(INT32_MIN, INT32_MAX); break;
        default: increment = type == DT_INT64 ? (int64_t(1) << 32) + random.Between(-3, 3) : -1; break;
      }
      if (trial % 4 != 0) attributes.push_back(Int("increment", increment));
      SCOPED_TRACE(Name(type) + " increment " + std::to_string(increment));
      Case c(*this);
      const int ids = c.Add(c.NewArena(), type, RandomShape(random, 0, 4, true),
                            random.Between(0, 1) == 1, value);
      c.Build();
      const Case::Result r =
          c.Run("UpdatePositionIds", {}, {ids}, attributes, random.Between(0, 1) == 1);
      if (CheckRan(*this, c, r, "UpdatePositionIds " + Name(type), "UpdatePositionIds", type) !=
          Ran::kBoth) {
        continue;
      }
      EXPECT_TRUE(c.Compare(0, [&](int, size_t k) {
        return "was " + ElementText(type, c.values(ids), k);
      }));
    }
  }
}

// ---- KvCacheAppend --------------------------------------------------------------------------------

struct KvShapes {
  int64_t batch, heads, max_len, head_dim, new_len;
};

KvShapes RandomKvShapes(Random& random) {
  KvShapes s;
  s.batch = random.Between(1, 2);
  s.heads = random.Between(1, 3);
  s.max_len = random.Between(1, 10);
  s.head_dim = random.Between(1, 9);
  s.new_len = random.Between(1, s.max_len);
  return s;
}

TEST_P(OpSuite, KvCacheAppendAtRandomPositionsIncludingTheLastMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT16, DT_FLOAT, DT_INT8, DT_BFLOAT16, DT_INT64}) {
    SCOPED_TRACE("KvCacheAppend " + Name(type));
    for (int trial = 0; trial < 8; ++trial) {
      const KvShapes s = RandomKvShapes(random);
      const int32_t last = int32_t(s.max_len - s.new_len);
      const int32_t position = trial % 2 == 0 ? last : int32_t(random.Between(0, last));
      Case c(*this);
      const int arena = c.NewArena();
      const int cache = c.Add(arena, type, {s.batch, s.heads, s.max_len, s.head_dim},
                              random.Between(0, 1) == 1, AnyBits(type));
      const int fresh = c.Add(random.Between(0, 1) ? arena : c.NewArena(), type,
                              {s.batch, s.heads, s.new_len, s.head_dim}, random.Between(0, 1) == 1,
                              AnyBits(type));
      std::vector<uint8_t> bytes(4);
      std::memcpy(bytes.data(), &position, 4);
      const int pos = c.AddValues(c.NewArena(), DT_INT32, random.Between(0, 1) ? Shape{} : Shape{1},
                                  false, bytes);
      c.Build();
      const Case::Result r =
          c.Run("KvCacheAppend", {fresh, pos}, {cache}, {}, random.Between(0, 1) == 1);
      if (CheckRan(*this, c, r, "KvCacheAppend " + Name(type), "KvCacheAppend", type) !=
          Ran::kBoth) {
        break;
      }
      EXPECT_TRUE(c.Compare()) << "position " << position << " of max_len " << s.max_len
                               << ", new_len " << s.new_len;
      EXPECT_EQ(ErrorFlags(), 0u) << "the position was in range";
    }
  }
}

// An out-of-range position: on the CPU, and on a device that checks on the host, the call fails
// with DT_OUT_OF_RANGE; on another device the write is skipped and the flag raised (then cleared
// by the read). The cache, with sentinels around and inside it (a strided view), is unchanged on
// both.
TEST_P(OpSuite, KvCacheAppendPositionOutOfRangeLeavesTheCache) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT16, DT_FLOAT, DT_INT8}) {
    for (int trial = 0; trial < 6; ++trial) {
      KvShapes s = RandomKvShapes(random);
      if (trial == 5) s.new_len = s.max_len + 1;  // no position fits
      const int32_t choices[] = {int32_t(s.max_len - s.new_len + 1), -1, int32_t(s.max_len),
                                 std::numeric_limits<int32_t>::min(),
                                 std::numeric_limits<int32_t>::max(), 0};
      const int32_t position = choices[trial];
      SCOPED_TRACE(Name(type) + " position " + std::to_string(position) + " max_len " +
                   std::to_string(s.max_len) + " new_len " + std::to_string(s.new_len));
      Case c(*this);
      const int arena = c.NewArena();
      const int cache = c.Add(arena, type, {s.batch, s.heads, s.max_len, s.head_dim},
                              /*strided=*/true, AnyBits(type));
      const int fresh = c.Add(c.NewArena(), type, {s.batch, s.heads, s.new_len, s.head_dim},
                              random.Between(0, 1) == 1, AnyBits(type));
      std::vector<uint8_t> bytes(4);
      std::memcpy(bytes.data(), &position, 4);
      const int pos = c.AddValues(c.NewArena(), DT_INT32, {}, false, bytes);
      c.Build();
      const bool on_stream = random.Between(0, 1) == 1;
      const Case::Result r = c.Run("KvCacheAppend", {fresh, pos}, {cache}, {}, on_stream);
      EXPECT_EQ(r.cpu.code, DT_OUT_OF_RANGE) << r.cpu.message;
      if (ChecksValuesOnTheHost()) {
        EXPECT_EQ(r.device.code, DT_OUT_OF_RANGE) << r.device.message;
        EXPECT_NE(r.device.message.find("KvCacheAppend"), std::string::npos) << r.device.message;
        EXPECT_TRUE(c.Unchanged());
        EXPECT_EQ(ErrorFlags(), 0u) << "no flag where the call fails";
        continue;
      }
      // A stream's synchronisation reports the flag its work raised, naming the op.
      EXPECT_EQ(r.device.code, on_stream ? DT_OUT_OF_RANGE : DT_OK) << r.device.message;
      if (on_stream) {
        EXPECT_NE(r.device.message.find("KvCacheAppend"), std::string::npos) << r.device.message;
      }
      EXPECT_TRUE(c.Unchanged());
      EXPECT_EQ(ErrorFlags(), DT_DEVICE_ERROR_KV_POSITION);
      EXPECT_EQ(ErrorFlags(), 0u) << "reading the flags clears them";
    }
  }
}

// An append of nothing (new_len 0, or a zero batch, heads or head_dim) still checks its position:
// out of range it fails on the CPU (and on a device that checks on the host) and raises the flag
// on another device; in range it is no error. Nothing is written either way.
TEST_P(OpSuite, KvCacheAppendOfNothingStillChecksThePosition) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    KvShapes s = RandomKvShapes(random);
    Shape fresh_shape = {s.batch, s.heads, 0, s.head_dim};
    Shape cache_shape = {s.batch, s.heads, s.max_len, s.head_dim};
    if (trial % 4 == 1) fresh_shape = {s.batch, s.heads, s.new_len, s.head_dim}, fresh_shape[3] = 0;
    if (trial % 4 == 1) cache_shape[3] = 0;
    if (trial % 4 == 2) fresh_shape[1] = cache_shape[1] = 0;
    const int64_t new_len = fresh_shape[2];
    const bool in_range = trial < 4;
    const int32_t position = in_range ? int32_t(random.Between(0, s.max_len - new_len))
                                      : (trial % 2 ? -1 : int32_t(s.max_len - new_len + 1));
    SCOPED_TRACE("new_kv " + Text(fresh_shape) + " cache " + Text(cache_shape) + " position " +
                 std::to_string(position));
    Case c(*this);
    const int cache = c.Add(c.NewArena(), DT_FLOAT16, cache_shape, true, AnyBits(DT_FLOAT16));
    const int fresh = c.Add(c.NewArena(), DT_FLOAT16, fresh_shape, false, AnyBits(DT_FLOAT16));
    std::vector<uint8_t> bytes(4);
    std::memcpy(bytes.data(), &position, 4);
    const int pos = c.AddValues(c.NewArena(), DT_INT32, {1}, false, bytes);
    c.Build();
    const Case::Result r = c.Run("KvCacheAppend", {fresh, pos}, {cache});
    EXPECT_EQ(r.cpu.code, in_range ? DT_OK : DT_OUT_OF_RANGE) << r.cpu.message;
    if (ChecksValuesOnTheHost()) {
      EXPECT_EQ(r.device.code, in_range ? DT_OK : DT_OUT_OF_RANGE) << r.device.message;
      EXPECT_EQ(ErrorFlags(), 0u);
    } else {
      EXPECT_EQ(r.device.code, DT_OK) << r.device.message;
      EXPECT_EQ(ErrorFlags(), in_range ? 0u : DT_DEVICE_ERROR_KV_POSITION);
    }
    EXPECT_TRUE(c.Unchanged());
  }
}

// ---- In place -------------------------------------------------------------------------------------

// Add with the output the very view of A (the same DtValue, or an equal view made apart), of B,
// or of both.
TEST_P(OpSuite, AddIntoAnInputMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_INT8, DT_UINT8, DT_INT16,
                             DT_UINT16, DT_INT32, DT_UINT32, DT_INT64}) {
    for (int trial = 0; trial < 4; ++trial) {
      SCOPED_TRACE("Add in place " + Name(type) + " trial " + std::to_string(trial));
      Case c(*this);
      const Shape shape = RandomShape(random, 0, 4);
      const int arena = c.NewArena();
      const int a = c.Add(arena, type, shape, random.Between(0, 1) == 1, ArithmeticValue(type, random));
      const int b = c.Add(random.Between(0, 1) ? arena : c.NewArena(), type,
                          random.Between(0, 1) ? shape : BroadcastableTo(random, shape),
                          random.Between(0, 1) == 1, ArithmeticValue(type, random));
      const int twin = c.AddAt(arena, type, c.place(a));  // an equal view, made apart
      c.Build();
      std::vector<int> inputs = {a, b}, outputs = {random.Between(0, 1) ? a : twin};
      if (trial == 3) inputs = {a, a};  // A + A into A
      if (trial == 2 && c.place(b).shape == shape) {
        outputs = {b};  // into B
      }
      const Case::Result r = c.Run("Add", inputs, outputs, {}, random.Between(0, 1) == 1);
      if (CheckRan(*this, c, r, "Add in place " + Name(type), "Add", type) != Ran::kBoth) continue;
      EXPECT_TRUE(c.Compare());
    }
  }
}

// Where into X (or Y; into the condition for bool), the same view.
TEST_P(OpSuite, WhereIntoAnInputMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_FLOAT, DT_FLOAT16, DT_INT8, DT_UINT16, DT_INT32, DT_INT64,
                             DT_DOUBLE, DT_BOOL}) {
    for (int trial = 0; trial < 3; ++trial) {
      SCOPED_TRACE("Where in place " + Name(type) + " trial " + std::to_string(trial));
      Case c(*this);
      const Shape shape = RandomShape(random, 0, 4);
      const int arena = c.NewArena();
      const int cond = c.Add(arena, DT_BOOL, random.Between(0, 1) ? shape : BroadcastableTo(random, shape),
                             random.Between(0, 1) == 1, AnyBits(DT_BOOL));
      const int x = c.Add(arena, type, shape, random.Between(0, 1) == 1, AnyBits(type));
      const int y = c.Add(c.NewArena(), type, shape, random.Between(0, 1) == 1, AnyBits(type));
      c.Build();
      int out = trial == 1 ? y : x;
      if (trial == 2 && type == DT_BOOL && c.place(cond).shape == shape) out = cond;
      const Case::Result r = c.Run("Where", {cond, x, y}, {out}, {}, random.Between(0, 1) == 1);
      if (CheckRan(*this, c, r, "Where in place " + Name(type), "Where", type) != Ran::kBoth) continue;
      EXPECT_TRUE(c.Compare());
    }
  }
}

// Cast into its own input's view (types of one size), UpdatePositionIds and KvCacheAppend are in
// place by nature (above); Cast here.
TEST_P(OpSuite, CastIntoItsInputMatchesTheCpu) {
  SCOPED_TRACE(random.trace());
  const std::pair<DtElementType, DtElementType> kPairs[] = {
      {DT_INT32, DT_FLOAT}, {DT_FLOAT, DT_INT32}, {DT_FLOAT16, DT_INT16}, {DT_UINT16, DT_BFLOAT16},
      {DT_INT8, DT_UINT8},  {DT_BOOL, DT_INT8},  {DT_UINT32, DT_INT32}};
  for (const auto& [from, to] : kPairs) {
    SCOPED_TRACE("Cast in place " + Name(from) + " -> " + Name(to));
    Case c(*this);
    const Shape shape = RandomShape(random, 0, 4);
    const int arena = c.NewArena();
    const int in = c.Add(arena, from, shape, random.Between(0, 1) == 1, CastSource(from, to));
    const int out = c.AddAt(arena, to, c.place(in));
    c.Build();
    const Case::Result r = c.Run("Cast", {in}, {out}, {Int("to", to)});
    if (CheckRan(*this, c, r, "Cast in place " + Name(from) + "->" + Name(to), "Cast", to) !=
        Ran::kBoth) {
      continue;
    }
    EXPECT_TRUE(c.Compare(0, [&, from = from](int, size_t k) {
      return "input " + ElementText(from, c.values(in), k);
    }));
  }
}

// ---- Partial overlap: the output shares bytes with an input at another offset ---------------------

// A placement like `p` moved by `elements` elements of its own size (staying inside the arena's
// start).
Placement Shifted(Placement p, int64_t elements) {
  const int64_t offset = int64_t(p.parent_offset) + elements * int64_t(p.element_size);
  p.parent_offset = size_t(std::max<int64_t>(offset, 0));
  return p;
}

int64_t Shift(Random& random, const Placement& p) {
  const int64_t span = std::max<int64_t>(Product(p.parent) - 1, 1);
  const int64_t shift = random.Between(1, span);
  return (random.Between(0, 1) && int64_t(p.parent_offset) >= shift * int64_t(p.element_size))
             ? -shift
             : shift;
}

TEST_P(OpSuite, ElementwiseOpsStageAnOverlappingInput) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 24; ++trial) {
    Case c(*this);
    const int arena = c.NewArena();
    std::string what;
    const Shape shape = RandomShape(random, 1, 4);
    switch (trial % 4) {
      case 0: {  // Add: C overlaps A
        const DtElementType type = std::array{DT_FLOAT, DT_INT8, DT_FLOAT16, DT_INT64}[trial / 4 % 4];
        what = "Add " + Name(type);
        const int a = c.Add(arena, type, shape, random.Between(0, 1) == 1, ArithmeticValue(type, random));
        const int b = c.Add(arena, type, BroadcastableTo(random, shape), random.Between(0, 1) == 1,
                            ArithmeticValue(type, random));
        const int out = c.AddAt(arena, type, Shifted(c.place(a), Shift(random, c.place(a))));
        c.Build();
        const Case::Result r = c.Run("Add", {a, b}, {out});
        if (CheckRan(*this, c, r, what, "Add", type) == Ran::kBoth) {
          EXPECT_TRUE(c.Compare()) << what;
        }
        break;
      }
      case 1: {  // Where: the output overlaps Y
        const DtElementType type = std::array{DT_UINT16, DT_INT32, DT_UINT8, DT_DOUBLE}[trial / 4 % 4];
        what = "Where " + Name(type);
        const int cond = c.Add(arena, DT_BOOL, shape, false, AnyBits(DT_BOOL));
        const int x = c.Add(arena, type, shape, random.Between(0, 1) == 1, AnyBits(type));
        const int y = c.Add(arena, type, shape, random.Between(0, 1) == 1, AnyBits(type));
        const int out = c.AddAt(arena, type, Shifted(c.place(y), Shift(random, c.place(y))));
        c.Build();
        const Case::Result r = c.Run("Where", {cond, x, y}, {out});
        if (CheckRan(*this, c, r, what, "Where", type) == Ran::kBoth) {
          EXPECT_TRUE(c.Compare()) << what;
        }
        break;
      }
      case 2: {  // Cast int16 -> int8 / float16 -> uint8: the output lands inside the input's bytes
        const DtElementType from = trial / 4 % 2 ? DT_INT16 : DT_FLOAT16;
        const DtElementType to = trial / 4 % 2 ? DT_INT8 : DT_UINT8;
        what = "Cast " + Name(from) + "->" + Name(to);
        const int in = c.Add(arena, from, shape, random.Between(0, 1) == 1, CastSource(from, to));
        Placement p = c.place(in);
        p.element_size = 1;
        p.parent_offset += size_t(random.Between(1, int64_t(Product(p.parent) * 2 - 1)));
        p.parent = p.shape;
        p.start.assign(p.shape.size(), 0);
        const int out = c.AddAt(arena, to, p);
        c.Build();
        const Case::Result r = c.Run("Cast", {in}, {out}, {Int("to", to)});
        if (CheckRan(*this, c, r, what, "Cast", to) == Ran::kBoth) {
          EXPECT_TRUE(c.Compare()) << what;
        }
        break;
      }
      default: {  // Expand: the (larger) output overlaps the input
        const DtElementType type = std::array{DT_BFLOAT16, DT_UINT32, DT_BOOL, DT_INT64}[trial / 4 % 4];
        what = "Expand " + Name(type);
        const Shape in_shape = BroadcastableTo(random, shape);
        const int in = c.Add(arena, type, in_shape, false, AnyBits(type));
        std::vector<uint8_t> target(shape.size() * 8);
        std::memcpy(target.data(), shape.data(), target.size());
        const int dims = c.AddValues(c.NewArena(), DT_INT64, {int64_t(shape.size())}, false, target);
        Placement p = c.Place(arena, type, shape, random.Between(0, 1) == 1);
        p.parent_offset = size_t(std::max<int64_t>(
            0, int64_t(c.place(in).parent_offset) -
                   random.Between(0, int64_t(Product(p.parent))) * int64_t(SizeOf(type))));
        const int out = c.AddAt(arena, type, p);
        c.Build();
        const Case::Result r = c.Run("Expand", {in, dims}, {out});
        if (CheckRan(*this, c, r, what, "Expand", type) == Ran::kBoth) {
          EXPECT_TRUE(c.Compare()) << what;
        }
        break;
      }
    }
    if (HasFailure()) break;
  }
}

// ScatterND whose updates (or data, at another offset) overlap the output: the CPU reads them
// before writing; every device must too.
TEST_P(OpSuite, ScatterNDStagesOverlappingDataAndUpdates) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    const DtElementType type = std::array{DT_FLOAT, DT_INT8, DT_FLOAT16, DT_INT64}[trial % 4];
    const bool updates_overlap = trial < 4;
    SCOPED_TRACE("ScatterND " + Name(type) + (updates_overlap ? ", updates overlap the output"
                                                              : ", data overlaps the output"));
    Case c(*this);
    const Shape data_shape = {random.Between(3, 6), random.Between(2, 5)};
    const int64_t tuples = random.Between(1, data_shape[0]);
    const int arena = c.NewArena();
    const int out = c.Add(arena, type, data_shape, false, AnyBits(type));
    const int indices = c.AddValues(c.NewArena(), DT_INT64, {tuples, 1}, false,
                                    UniqueTuples(random, data_shape, 1, tuples));
    int data, updates;
    if (updates_overlap) {
      data = c.Add(c.NewArena(), type, data_shape, false, AnyBits(type));
      Placement p = c.place(out);
      p.shape = p.parent = {tuples, data_shape[1]};
      p.start = {0, 0};
      p.parent_offset += size_t(random.Between(0, (data_shape[0] - tuples) * data_shape[1])) * SizeOf(type);
      updates = c.AddAt(arena, type, p, Values(random, type, tuples * data_shape[1], AnyBits(type)));
    } else {
      data = c.AddAt(arena, type, Shifted(c.place(out), Shift(random, c.place(out))),
                     Values(random, type, Product(data_shape), AnyBits(type)));
      updates = c.Add(c.NewArena(), type, {tuples, data_shape[1]}, false, AnyBits(type));
    }
    c.Build();
    const Case::Result r = c.Run("ScatterND", {data, indices, updates}, {out});
    if (CheckRan(*this, c, r, "ScatterND overlap " + Name(type), "ScatterND", type) != Ran::kBoth) {
      continue;
    }
    EXPECT_TRUE(c.Compare());
  }
}

// KvCacheAppend with new_kv inside the cache's buffer over the window it writes, ArgMax over data
// that overlaps its output, UpdateAttentionMask whose total_length is an element of the mask.
TEST_P(OpSuite, DecodeOpsAndArgMaxStageOverlappingInputs) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 4; ++trial) {
    {
      SCOPED_TRACE("KvCacheAppend, new_kv overlapping the cache");
      Case c(*this);
      const KvShapes s = RandomKvShapes(random);
      const int arena = c.NewArena();
      const int cache = c.Add(arena, DT_FLOAT16, {s.batch, s.heads, s.max_len, s.head_dim}, false,
                              AnyBits(DT_FLOAT16));
      const int32_t position = int32_t(random.Between(0, s.max_len - s.new_len));
      Placement p = c.place(cache);
      p.shape = p.parent = {s.batch, s.heads, s.new_len, s.head_dim};
      p.parent_offset += size_t(random.Between(0, s.head_dim * s.max_len)) * 2;
      const int fresh = c.AddAt(arena, DT_FLOAT16, p);  // holds what the cache holds there
      std::vector<uint8_t> bytes(4);
      std::memcpy(bytes.data(), &position, 4);
      const int pos = c.AddValues(c.NewArena(), DT_INT32, {}, false, bytes);
      c.Build();
      const Case::Result r = c.Run("KvCacheAppend", {fresh, pos}, {cache});
      if (CheckRan(*this, c, r, "KvCacheAppend overlap", "KvCacheAppend", DT_FLOAT16) == Ran::kBoth) {
        EXPECT_TRUE(c.Compare()) << "position " << position;
      }
    }
    {
      SCOPED_TRACE("ArgMax, data overlapping the output");
      Case c(*this);
      const Shape shape = {random.Between(2, 6), random.Between(2, 6)};
      const int arena = c.NewArena();
      const int data = c.AddValues(arena, DT_INT64, shape, false,
                                   DistinctAlong(random, DT_INT64, shape, 1, IntAnyMagnitude(DT_INT64)));
      Placement p = c.place(data);
      p.shape = p.parent = {shape[0]};
      p.start = {0};
      p.parent_offset += size_t(random.Between(0, Product(shape) - shape[0])) * 8;
      const int out = c.AddAt(arena, DT_INT64, p);
      c.Build();
      const Case::Result r = c.Run("ArgMax", {data}, {out}, {Int("axis", 1), Int("keepdims", 0)});
      if (CheckRan(*this, c, r, "ArgMax overlap", "ArgMax", DT_INT64) == Ran::kBoth) {
        EXPECT_TRUE(c.Compare());
      }
    }
    {
      SCOPED_TRACE("UpdateAttentionMask, total_length an element of the mask");
      Case c(*this);
      const int64_t max_length = random.Between(2, 12);
      const int arena = c.NewArena();
      const int mask = c.Add(arena, DT_INT32, {2, max_length}, false, IntBetween(DT_INT32, -2, 14));
      Placement p = c.place(mask);
      p.shape = p.parent = {};
      p.start = {};
      p.parent_offset += size_t(random.Between(0, 2 * max_length - 1)) * 4;
      const int length = c.AddAt(arena, DT_INT32, p);
      c.Build();
      const Case::Result r = c.Run("UpdateAttentionMask", {length}, {mask});
      if (CheckRan(*this, c, r, "UpdateAttentionMask overlap", "UpdateAttentionMask", DT_INT32) ==
          Ran::kBoth) {
        EXPECT_TRUE(c.Compare());
      }
    }
    if (HasFailure()) break;
  }
}

// Tensors the library allocates whose byte size is not a multiple of 4, written whole by ops:
// the last element lies in the buffer's last, partial word.
TEST_P(OpSuite, OpsOnWholeTensorsOfOddByteSizesMatchTheCpu) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : {DT_UINT8, DT_INT8, DT_BOOL, DT_INT16, DT_FLOAT16, DT_BFLOAT16}) {
    SCOPED_TRACE(Name(type));
    int64_t n = random.Between(1, 40);
    if (n * int64_t(SizeOf(type)) % 4 == 0) ++n;
    const std::vector<uint8_t> ints = Values(random, DT_INT32, n, IntBetween(DT_INT32, -100, 100));
    std::vector<uint8_t> results[2];
    for (int on_device = 0; on_device < 2; ++on_device) {
      const Device where = on_device ? device : cpu;
      Tensor x = Tensor::create(env, where, type, {n});
      Tensor source = Tensor::create(env, where, DT_INT32, {n});
      std::vector<uint8_t> host = ints;
      Tensor host_source = Tensor::wrap(env, cpu, host.data(), host.size(), 0, DT_INT32, {n});
      env.copy(host_source, source);
      env.run("Fill", {}, {&x}, {Float("value", 3.0f)});
      env.run("Cast", {&source}, {&x}, {Int("to", type)});
      if (type != DT_BOOL) env.run("Add", {&x, &x}, {&x});
      results[on_device].resize(size_t(n) * SizeOf(type));
      Tensor back =
          Tensor::wrap(env, cpu, results[on_device].data(), results[on_device].size(), 0, type, {n});
      env.copy(x, back);
    }
    // What Cast then Add make of each int on the host: integers wrap, bools are != 0, and the
    // 16-bit floats hold every integer up to 200 exactly.
    std::vector<uint8_t> expected(size_t(n) * SizeOf(type));
    for (int64_t k = 0; k < n; ++k) {
      int32_t v = 0;
      std::memcpy(&v, ints.data() + k * 4, 4);
      uint16_t e = 0;
      switch (type) {
        case DT_BOOL: e = v != 0; break;
        case DT_FLOAT16: e = devtensor::ToFloat16(double(2 * v)).bits; break;
        case DT_BFLOAT16: e = devtensor::ToBFloat16(double(2 * v)).bits; break;
        default: e = uint16_t(2 * v); break;  // the low bytes of the wrapped sum
      }
      std::memcpy(expected.data() + size_t(k) * SizeOf(type), &e, SizeOf(type));
    }
    EXPECT_EQ(results[0], expected) << n << " elements on the CPU";
    EXPECT_EQ(results[1], expected) << n << " elements on " << device_case.name;
  }
}

// ---- Errors ---------------------------------------------------------------------------------------

// Combinations some device has no kernel for (WebGPU: Div on int64, arithmetic on double, Cast
// between int64 and double): where the device refuses one, the refusal names the op, the type and
// the device and writes nothing; where it runs one, the result matches the CPU. The CPU runs all.
TEST_P(OpSuite, CombinationsWithoutAKernelAreRefusedByName) {
  SCOPED_TRACE(random.trace());
  struct Combo {
    const char* op;
    DtElementType type;
  };
  const Combo kCombos[] = {{"Div", DT_INT64}, {"Add", DT_DOUBLE}, {"Sub", DT_DOUBLE},
                           {"Mul", DT_DOUBLE}, {"Div", DT_DOUBLE}};
  for (const Combo& combo : kCombos) {
    SCOPED_TRACE(std::string(combo.op) + " " + Name(combo.type));
    Case c(*this);
    const int arena = c.NewArena();
    const Shape shape = RandomShape(random, 1, 3);
    const int a = c.Add(arena, combo.type, shape, true, ArithmeticValue(combo.type, random));
    const int b = c.Add(arena, combo.type, shape, false, Divisor(combo.type, random));
    const int out = c.Add(arena, combo.type, shape, true);
    c.Build();
    const Case::Result r = c.Run(combo.op, {a, b}, {out});
    EXPECT_EQ(r.cpu.code, DT_OK) << r.cpu.message;
    // Whether the device runs it is its own answer, known before the call.
    if (env.supports(device, combo.op, combo.type)) {
      ASSERT_EQ(r.device.code, DT_OK) << r.device.message;
      EXPECT_TRUE(c.Compare(std::strcmp(combo.op, "Div") == 0 ? 2 : 0));
    } else {
      ASSERT_EQ(r.device.code, DT_NOT_SUPPORTED) << r.device.message;
      NoteSkip(std::string(combo.op) + " " + Name(combo.type), r.device, combo.op, combo.type);
      EXPECT_TRUE(c.Unchanged(false));
    }
  }
  for (auto [from, to] : {std::pair{DT_INT64, DT_DOUBLE}, std::pair{DT_DOUBLE, DT_INT64}}) {
    SCOPED_TRACE("Cast " + Name(from) + " -> " + Name(to));
    Case c(*this);
    const int arena = c.NewArena();
    const int in = c.Add(arena, from, {5}, false, CastSource(from, to));
    const int out = c.Add(arena, to, {5}, false);
    c.Build();
    const Case::Result r = c.Run("Cast", {in}, {out}, {Int("to", to)});
    EXPECT_EQ(r.cpu.code, DT_OK) << r.cpu.message;
    if (r.device.code == DT_OK) {
      EXPECT_TRUE(c.Compare());  // supported: then it must be right
    } else {
      EXPECT_EQ(r.device.code, DT_NOT_SUPPORTED) << r.device.message;
      NoteSkip("Cast " + Name(from) + "->" + Name(to), r.device, "Cast", to);
      EXPECT_NE(r.device.message.find(Name(from)), std::string::npos) << r.device.message;
      EXPECT_TRUE(c.Unchanged(false));
    }
  }
}

// The operands of one op call on one device, in one arena of sentinels: a and out (float [4]), a
// float16 cache [1, 1, 4, 2] and a token [1, 1, 1, 2], a position 0 and an int32 mask [1, 4].
struct Operands {
  std::vector<uint8_t> init;
  Tensor arena, a, out, cache, fresh, pos, mask;
};

Operands MakeOperands(OpSuite& t, Device on) {
  Operands o;
  o.init = Sentinels(96);
  const std::vector<uint8_t> a = Values(t.random, DT_FLOAT, 4, ArithmeticValue(DT_FLOAT, t.random));
  const std::vector<uint8_t> cache = Values(t.random, DT_FLOAT16, 8, AnyBits(DT_FLOAT16));
  const std::vector<uint8_t> fresh = Values(t.random, DT_FLOAT16, 2, AnyBits(DT_FLOAT16));
  const std::vector<uint8_t> mask = Values(t.random, DT_INT32, 4, AnyBits(DT_INT32));
  std::copy(a.begin(), a.end(), o.init.begin());
  std::copy(cache.begin(), cache.end(), o.init.begin() + 32);
  std::copy(fresh.begin(), fresh.end(), o.init.begin() + 48);
  std::fill_n(o.init.begin() + 52, 4, 0);
  std::copy(mask.begin(), mask.end(), o.init.begin() + 56);
  o.arena = Tensor::create(t.env, on, DT_UINT8, {96});
  std::vector<uint8_t> bytes = o.init;
  t.env.copy(Tensor::wrap(t.env, t.cpu, bytes.data(), 96, 0, DT_UINT8, {96}), o.arena);
  o.a = o.arena.view(0, DT_FLOAT, {4});
  o.out = o.arena.view(16, DT_FLOAT, {4});
  o.cache = o.arena.view(32, DT_FLOAT16, {1, 1, 4, 2});
  o.fresh = o.arena.view(48, DT_FLOAT16, {1, 1, 1, 2});
  o.pos = o.arena.view(52, DT_INT32, {});
  o.mask = o.arena.view(56, DT_INT32, {1, 4});
  return o;
}

::testing::AssertionResult Unchanged(OpSuite& t, const Operands& o) {
  std::vector<uint8_t> now(96);
  t.env.copy(o.arena, Tensor::wrap(t.env, t.cpu, now.data(), 96, 0, DT_UINT8, {96}));
  return SameBytes(now, o.init);
}

// Tensors of one op on two devices (the device under test and the CPU; for the CPU, another device
// this machine has) are refused before anything runs.
TEST_P(OpSuite, TensorsOfTwoDevicesAreAnInvalidArgument) {
  SCOPED_TRACE(random.trace());
  std::optional<Device> other;
  if (device.get() != cpu.get()) {
    other = cpu;
  } else {
    for (const DeviceCase& c : kDeviceCases) {
      const DtDevice* found = nullptr;
      DtStatus* status = c.type == device_case.type ? nullptr : DtGetDevice(env.get(), c.type, 0, &found);
      DtReleaseStatus(status);
      if (found != nullptr) {
        other = Device(found);
        break;
      }
    }
    if (!other) GTEST_SKIP() << "no device beside the CPU on this machine";
  }
  const Operands d = MakeOperands(*this, device), o = MakeOperands(*this, *other);
  auto run = [&](const char* op, std::vector<const Tensor*> inputs, const Tensor& output) {
    std::vector<const DtValue*> in;
    for (const Tensor* t : inputs) in.push_back(t->get());
    DtValue* out = output.get();
    return DtRunOp(env.get(), op, in.data(), in.size(), &out, 1, nullptr, 0, nullptr);
  };
  DT_EXPECT_ERROR(run("Add", {&o.a, &d.a}, d.out), DT_INVALID_ARGUMENT, "Add");
  DT_EXPECT_ERROR(run("Add", {&d.a, &d.a}, o.out), DT_INVALID_ARGUMENT, "Add");
  DT_EXPECT_ERROR(run("KvCacheAppend", {&d.fresh, &o.pos}, d.cache), DT_INVALID_ARGUMENT,
                  "KvCacheAppend");
  DT_EXPECT_ERROR(run("UpdateAttentionMask", {&o.pos}, d.mask), DT_INVALID_ARGUMENT,
                  "UpdateAttentionMask");
  EXPECT_TRUE(Unchanged(*this, d)) << "the device under test";
  EXPECT_TRUE(Unchanged(*this, o)) << "the other device";
}

// ---- Empty views whose strides overflow ----------------------------------------------------------

// Empty tensors whose other dimensions are huge: a view of shape [1, INT64_MAX, 0] holds no bytes
// and is valid, and its strides (INT64_MAX elements along axis 0) overflow any byte arithmetic
// that multiplies them by an element size or a position. Every op on such views (and on slices of
// them, such as [0, 5, 0]) must succeed and write nothing. Each view lies inside an arena of
// sentinel bytes, which are checked after every call.

constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();
constexpr size_t kArenaBytes = 512;

// A uint8 tensor of kArenaBytes sentinel bytes on a device, in which the test places its views.
struct Arena {
  Arena(const devtensor::Env& env, Device device) : env(env), device(device) {
    whole = Tensor::create(env, device, DT_UINT8, {int64_t(kArenaBytes)});
    std::vector<uint8_t> bytes = Sentinels(kArenaBytes);
    Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), bytes.data(), bytes.size(), 0,
                               DT_UINT8, {int64_t(kArenaBytes)});
    env.copy(host, whole);
  }
  // A contiguous view of `shape` at `byte_offset`.
  Tensor View(size_t byte_offset, DtElementType type, const Shape& shape) const {
    return whole.view(byte_offset, type, shape);
  }
  // Fills `bytes` at `byte_offset` (for inputs the ops read: shapes, indices, scalars).
  void Write(size_t byte_offset, const void* data, size_t bytes) const {
    std::vector<uint8_t> copy(static_cast<const uint8_t*>(data),
                              static_cast<const uint8_t*>(data) + bytes);
    Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), copy.data(), copy.size(), 0,
                               DT_UINT8, {int64_t(bytes)});
    env.copy(host, View(byte_offset, DT_UINT8, {int64_t(bytes)}));
  }
  std::vector<uint8_t> Read() const {
    std::vector<uint8_t> bytes(kArenaBytes, 0);
    Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), bytes.data(), bytes.size(), 0,
                               DT_UINT8, {int64_t(kArenaBytes)});
    env.copy(whole, host);
    return bytes;
  }
  // Expects every byte outside [keep_begin, keep_end) to hold the sentinel still.
  void ExpectUntouched(const std::string& what, size_t keep_begin = 0, size_t keep_end = 0) const {
    std::vector<uint8_t> now = Read();
    std::vector<uint8_t> expected = Sentinels(kArenaBytes);
    for (size_t i = keep_begin; i < keep_end; ++i) expected[i] = now[i];
    EXPECT_TRUE(SameBytes(now, expected)) << what;
  }

  const devtensor::Env& env;
  Device device;
  Tensor whole;
};

// [1, INT64_MAX, 0] of `type` at `byte_offset`, sliced to [0, 5, 0]: strides {INT64_MAX, 1, 1}.
Tensor EmptySlice(const Arena& arena, size_t byte_offset, DtElementType type) {
  return arena.View(byte_offset, type, {1, kHuge, 0}).slice(1, 0, 5).slice(0, 0, 0);
}

DtStatus* RunOpOn(const devtensor::Env& env, const char* op, std::vector<const Tensor*> inputs,
              std::vector<const Tensor*> outputs, std::vector<DtAttribute> attributes = {}) {
  std::vector<const DtValue*> in;
  std::vector<DtValue*> out;
  for (const Tensor* t : inputs) in.push_back(t->get());
  for (const Tensor* t : outputs) out.push_back(t->get());
  return DtRunOp(env.get(), op, in.data(), in.size(), out.data(), out.size(), attributes.data(),
                 attributes.size(), nullptr);
}

// The reported case: int16 [1, INT64_MAX, 0] sliced to [0, 5, 0], divided by itself in place.
TEST_P(OpSuite, DivInPlaceOnAnEmptySliceWithHugeStridesIsANoOp) {
  Arena arena(env, device);
  Tensor t = EmptySlice(arena, 10, DT_INT16);
  ASSERT_EQ(t.shape(), (Shape{0, 5, 0}));
  ASSERT_EQ(t.strides(), (Shape{kHuge, 1, 1}));
  DT_EXPECT_OK(RunOpOn(env, "Div", {&t, &t}, {&t}));
  arena.ExpectUntouched("Div");
}

TEST_P(OpSuite, ElementwiseOpsOnEmptyViewsWithHugeStridesAreNoOps) {
  Arena arena(env, device);
  Tensor a = EmptySlice(arena, 10, DT_INT16), b = EmptySlice(arena, 34, DT_INT16);
  Tensor c = EmptySlice(arena, 66, DT_INT16), f = EmptySlice(arena, 100, DT_FLOAT);
  Tensor cond = EmptySlice(arena, 131, DT_BOOL);
  Tensor whole = arena.View(10, DT_INT16, {1, kHuge, 0});
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    SCOPED_TRACE(op);
    DT_EXPECT_OK(RunOpOn(env, op, {&a, &a}, {&a}));     // in place
    DT_EXPECT_OK(RunOpOn(env, op, {&a, &b}, {&c}));     // three views
    DT_EXPECT_OK(RunOpOn(env, op, {&whole, &whole}, {&whole}));
  }
  DT_EXPECT_OK(RunOpOn(env, "Cast", {&a}, {&f}, {devtensor::IntAttribute("to", DT_FLOAT)}));
  DT_EXPECT_OK(RunOpOn(env, "Cast", {&f}, {&a}, {devtensor::IntAttribute("to", DT_INT16)}));
  DT_EXPECT_OK(RunOpOn(env, "Where", {&cond, &a, &b}, {&c}));
  DT_EXPECT_OK(RunOpOn(env, "Where", {&cond, &a, &a}, {&a}));
  // Expand of [1, 5, 0] to [0, 5, 0] (shape held at byte 160) and of the view to itself.
  const int64_t target[3] = {0, 5, 0};
  arena.Write(160, target, sizeof target);
  Tensor shape = arena.View(160, DT_INT64, {3});
  Tensor one = arena.View(10, DT_INT16, {1, kHuge, 0}).slice(1, 0, 5);
  DT_EXPECT_OK(RunOpOn(env, "Expand", {&one, &shape}, {&c}));
  DT_EXPECT_OK(RunOpOn(env, "Expand", {&a, &shape}, {&a}));
  DT_EXPECT_OK(RunOpOn(env, "Fill", {}, {&a}, {devtensor::FloatAttribute("value", 3.0f)}));
  DT_EXPECT_OK(RunOpOn(env, "Fill", {}, {&f}, {devtensor::FloatAttribute("value", 3.0f)}));
  DT_EXPECT_OK(RunOpOn(env, "Fill", {}, {&whole}, {devtensor::FloatAttribute("value", 3.0f)}));
  arena.ExpectUntouched("elementwise ops", 160, 184);
}

TEST_P(OpSuite, ScatterArgMaxAndDecodeOpsOnEmptyViewsWithHugeStridesAreNoOps) {
  Arena arena(env, device);
  // ScatterND in place into [1, INT64_MAX, 0] at index (0, INT64_MAX - 1): updates [1, 0].
  const int64_t index[2] = {0, kHuge - 1};
  arena.Write(160, index, sizeof index);
  const int32_t position = std::numeric_limits<int32_t>::max() - 1;
  arena.Write(200, &position, sizeof position);
  const size_t written_end = 204;
  Tensor data = arena.View(10, DT_INT16, {1, kHuge, 0});
  Tensor indices = arena.View(160, DT_INT64, {1, 2});
  Tensor updates = arena.View(40, DT_INT16, {1, 0});
  DT_EXPECT_OK(RunOpOn(env, "ScatterND", {&data, &indices, &updates}, {&data}));
  Tensor other = arena.View(42, DT_INT16, {1, kHuge, 0});
  DT_EXPECT_OK(RunOpOn(env, "ScatterND", {&data, &indices, &updates}, {&other}));

  // ArgMax over axis 0 of [2, 2^61, 0]: int64 output [1, 2^61, 0], whose byte strides pass 2^64.
  Tensor values = arena.View(12, DT_INT16, {2, int64_t(1) << 61, 0});
  Tensor argmax = arena.View(48, DT_INT64, {1, int64_t(1) << 61, 0});
  DT_EXPECT_OK(RunOpOn(env, "ArgMax", {&values}, {&argmax}, {devtensor::IntAttribute("axis", 0)}));
  // ArgMax along an axis of INT64_MAX elements, with an empty output [1, 1, 0].
  Tensor long_axis = arena.View(12, DT_INT16, {1, kHuge, 0});
  Tensor one_out = arena.View(48, DT_INT64, {1, 1, 0});
  DT_EXPECT_OK(RunOpOn(env, "ArgMax", {&long_axis}, {&one_out}, {devtensor::IntAttribute("axis", 1)}));

  // KvCacheAppend at position INT32_MAX - 1 into an empty int64 cache [0, 1, 2^31, 2^31], whose
  // byte offset of that position passes 2^63, and of new_kv [1, 1, new_len, 0] into a cache
  // [1, 1, INT64_MAX, 0] with position + new_len at INT64_MAX (valid) and past it (out of range).
  Tensor position_tensor = arena.View(200, DT_INT32, {1});
  Tensor cache = arena.View(24, DT_INT64, {0, 1, int64_t(1) << 31, int64_t(1) << 31});
  Tensor kv = arena.View(24, DT_INT64, {0, 1, 1, int64_t(1) << 31});
  DT_EXPECT_OK(RunOpOn(env, "KvCacheAppend", {&kv, &position_tensor}, {&cache}));
  Tensor long_cache = arena.View(24, DT_INT64, {1, 1, kHuge, 0});
  Tensor fits = arena.View(24, DT_INT64, {1, 1, kHuge - position, 0});
  DT_EXPECT_OK(RunOpOn(env, "KvCacheAppend", {&fits, &position_tensor}, {&long_cache}));
  Tensor too_long = arena.View(24, DT_INT64, {1, 1, kHuge - position + 1, 0});
  if (!ChecksValuesOnTheHost()) {
    EXPECT_EQ(ErrorFlags(), 0u);
    DT_EXPECT_OK(RunOpOn(env, "KvCacheAppend", {&too_long, &position_tensor}, {&long_cache}));
    EXPECT_EQ(ErrorFlags(), DT_DEVICE_ERROR_KV_POSITION) << "the position check of an empty append";
  } else {
    DT_EXPECT_ERROR(RunOpOn(env, "KvCacheAppend", {&too_long, &position_tensor}, {&long_cache}),
                    DT_OUT_OF_RANGE, "position 2147483646", "max_len 9223372036854775807");
  }

  // UpdateAttentionMask of [INT64_MAX, 0] and UpdatePositionIds of [0, 5, 0].
  Tensor mask = arena.View(64, DT_INT32, {kHuge, 0});
  DT_EXPECT_OK(RunOpOn(env, "UpdateAttentionMask", {&position_tensor}, {&mask}));
  Tensor ids = EmptySlice(arena, 72, DT_INT64);
  DT_EXPECT_OK(RunOpOn(env, "UpdatePositionIds", {}, {&ids}));
  arena.ExpectUntouched("scatter, argmax and decode ops", 160, written_end);
  if (!ChecksValuesOnTheHost()) {
    EXPECT_EQ(ErrorFlags(), 0u);
  }
}

}  // namespace
