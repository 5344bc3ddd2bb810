// DtRunOp on the CPU device: every op against a reference written here, independently of the
// library (conversions by searching the nearest representable value, arithmetic in long double),
// on fresh random data. Outputs are views inside host buffers full of kSentinel bytes, often
// strided slices of a larger parent; after a run the whole buffer is compared, so that a byte
// written outside the output's elements shows as well as a wrong element. Inputs are strided views
// too, in-place calls pass one view as input and output, and every error path is checked to write
// nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "test_util.h"

namespace {

using namespace devtensor_test;

constexpr DtElementType kNumericTypes[] = {DT_FLOAT,  DT_UINT8,  DT_INT8,    DT_UINT16,
                                           DT_INT16,  DT_INT32,  DT_INT64,   DT_FLOAT16,
                                           DT_DOUBLE, DT_UINT32, DT_UINT64,  DT_BFLOAT16};

std::string Name(DtElementType type) { return DtGetElementTypeName(type); }

// The multi-index of flat row-major position `flat` in `shape`.
Shape Unflatten(int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    index[i] = flat % shape[i];
    flat /= shape[i];
  }
  return index;
}

// ---- Element types, independently of the library -----------------------------------------------

struct F16 {
  uint16_t bits;
};
struct BF16 {
  uint16_t bits;
};

template <typename T>
struct Tag {
  using type = T;
};

// f(Tag<T>{}) with T the storage type of `type`.
template <typename F>
void ForType(DtElementType type, F&& f) {
  switch (type) {
    case DT_FLOAT: return f(Tag<float>{});
    case DT_UINT8: return f(Tag<uint8_t>{});
    case DT_INT8: return f(Tag<int8_t>{});
    case DT_UINT16: return f(Tag<uint16_t>{});
    case DT_INT16: return f(Tag<int16_t>{});
    case DT_INT32: return f(Tag<int32_t>{});
    case DT_INT64: return f(Tag<int64_t>{});
    case DT_BOOL: return f(Tag<bool>{});
    case DT_FLOAT16: return f(Tag<F16>{});
    case DT_DOUBLE: return f(Tag<double>{});
    case DT_UINT32: return f(Tag<uint32_t>{});
    case DT_UINT64: return f(Tag<uint64_t>{});
    case DT_BFLOAT16: return f(Tag<BF16>{});
  }
  FAIL() << "unknown type " << int(type);
}

template <typename T>
constexpr bool kFloating = std::is_floating_point_v<T> || std::is_same_v<T, F16> ||
                           std::is_same_v<T, BF16>;
template <typename T>
constexpr bool kInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// The exact value of a float16 (1 sign, 5 exponent, 10 fraction bits) or bfloat16 (1, 8, 7).
long double DecodeBits(uint16_t bits, int exponent_bits, int fraction_bits) {
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const int exponent = (bits >> fraction_bits) & ((1 << exponent_bits) - 1);
  const int fraction = bits & ((1 << fraction_bits) - 1);
  long double value;
  if (exponent == (1 << exponent_bits) - 1) {
    value = fraction ? std::numeric_limits<long double>::quiet_NaN()
                     : std::numeric_limits<long double>::infinity();
  } else if (exponent == 0) {
    value = std::ldexp((long double)fraction, 1 - bias - fraction_bits);
  } else {
    value = std::ldexp((long double)(fraction + (1 << fraction_bits)), exponent - bias - fraction_bits);
  }
  return (bits >> (exponent_bits + fraction_bits)) & 1 ? -value : value;
}

long double Exact(F16 h) { return DecodeBits(h.bits, 5, 10); }
long double Exact(BF16 b) { return DecodeBits(b.bits, 8, 7); }
long double Exact(float f) { return f; }
long double Exact(double d) { return d; }

// The value of non-negative bit pattern `bits` of floating type T; the pattern of infinity stands
// for the next power of two above the largest finite value (where IEEE rounding places it).
template <typename T>
long double PatternValue(uint64_t bits) {
  if constexpr (std::is_same_v<T, float>) {
    if (bits == 0x7F800000u) return std::ldexp(1.0L, 128);
    const uint32_t b = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  } else if constexpr (std::is_same_v<T, F16>) {
    if (bits == 0x7C00u) return 65536.0L;
    return DecodeBits(static_cast<uint16_t>(bits), 5, 10);
  } else {
    if (bits == 0x7F80u) return std::ldexp(1.0L, 128);
    return DecodeBits(static_cast<uint16_t>(bits), 8, 7);
  }
}

template <typename T>
T FromBits(uint64_t bits) {
  T value;
  if constexpr (std::is_same_v<T, float>) {
    const uint32_t b = static_cast<uint32_t>(bits);
    std::memcpy(&value, &b, 4);
  } else {
    value.bits = static_cast<uint16_t>(bits);
  }
  return value;
}

// `x` rounded to the nearest value of the floating type T, ties to the even pattern, found by
// binary search over the (monotonic) non-negative bit patterns up to infinity.
template <typename T>
T Nearest(long double x) {
  if constexpr (std::is_same_v<T, double>) {
    return static_cast<double>(x);  // long double -> double rounds to nearest even
  } else {
    constexpr bool kFloat = std::is_same_v<T, float>;
    const uint64_t sign = kFloat ? 0x80000000u : 0x8000u;
    const uint64_t infinity = kFloat ? 0x7F800000u : std::is_same_v<T, F16> ? 0x7C00u : 0x7F80u;
    const uint64_t quiet = kFloat ? 0x400000u : std::is_same_v<T, F16> ? 0x200u : 0x40u;
    if (std::isnan(x)) return FromBits<T>(infinity | quiet);
    const long double magnitude = std::fabs(x);
    uint64_t lo = 0, hi = infinity;  // value(lo) <= magnitude < value(hi) unless at the ends
    if (magnitude >= PatternValue<T>(infinity)) {
      lo = infinity;
    } else {
      while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        (PatternValue<T>(mid) <= magnitude ? lo : hi) = mid;
      }
      const long double below = magnitude - PatternValue<T>(lo);
      const long double above = PatternValue<T>(hi) - magnitude;
      if (above < below || (above == below && (hi & 1) == 0)) lo = hi;
    }
    return FromBits<T>(lo | (std::signbit(x) ? sign : 0));
  }
}

// Cast's conversion of one element, written from the definitions in ops.h.
template <typename To, typename From>
To Converted(From value) {
  if constexpr (std::is_same_v<To, bool>) {
    if constexpr (kFloating<From>) {
      return Exact(value) != 0 || std::isnan(Exact(value));
    } else {
      return value != 0;
    }
  } else if constexpr (std::is_same_v<From, bool>) {
    return Converted<To>(uint8_t(value ? 1 : 0));
  } else if constexpr (kInteger<From> && kInteger<To>) {
    return static_cast<To>(value);
  } else if constexpr (kInteger<From>) {
    return Nearest<To>(static_cast<long double>(value));  // exact in long double
  } else if constexpr (kInteger<To>) {
    const long double x = Exact(value);
    if (std::isnan(x)) return 0;
    const long double t = std::trunc(x);
    if (t >= (long double)std::numeric_limits<To>::max()) return std::numeric_limits<To>::max();
    if (t <= (long double)std::numeric_limits<To>::min()) return std::numeric_limits<To>::min();
    return static_cast<To>(t);
  } else {
    return Nearest<To>(Exact(value));
  }
}

// Elements of one type in row-major order, as bytes.
struct Elements {
  DtElementType type = DT_FLOAT;
  Shape shape;
  std::vector<uint8_t> bytes;

  Elements() = default;
  Elements(DtElementType t, Shape s)
      : type(t), shape(std::move(s)), bytes(Product(shape) * SizeOf(t)) {}
  int64_t count() const { return Product(shape); }
  template <typename T>
  T Get(int64_t i) const {
    T value;
    std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
    return value;
  }
  template <typename T>
  void Set(int64_t i, T value) {
    std::memcpy(bytes.data() + i * sizeof(T), &value, sizeof(T));
  }
};

// A random value of T: integers over their whole range or small; floats of many magnitudes with
// zeros, infinities, NaN and subnormals now and then (`specials` false leaves those out).
template <typename T>
T RandomValue(Random& random, bool specials = true) {
  if constexpr (std::is_same_v<T, bool>) {
    return random.Between(0, 1) == 1;
  } else if constexpr (kInteger<T>) {
    if (random.Between(0, 3) == 0) return static_cast<T>(random.Between(-3, 3));
    return static_cast<T>(random());
  } else {
    const int pick = static_cast<int>(random.Between(0, 19));
    long double x;
    if (specials && pick == 0) {
      const long double kSpecial[] = {0.0L, -0.0L, INFINITY, -INFINITY, NAN, 1e-42L, -1e-7L,
                                      65519.0L, 65520.0L, 3e38L, 1e300L};
      x = kSpecial[random.Between(0, std::size(kSpecial) - 1)];
    } else if (pick < 4) {
      x = static_cast<long double>(random.Between(-300, 300));  // integers, exact ties
    } else {
      x = std::ldexp(static_cast<long double>(random.Between(-(1ll << 40), 1ll << 40)),
                     static_cast<int>(random.Between(-50, -28)));
    }
    return Nearest<T>(x);
  }
}

Elements RandomElements(Random& random, DtElementType type, const Shape& shape,
                        bool specials = true) {
  Elements e(type, shape);
  ForType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < e.count(); ++i) e.Set<T>(i, RandomValue<T>(random, specials));
  });
  return e;
}

// Element i of `e` as text, for messages.
std::string ElementText(const Elements& e, int64_t i) {
  std::string text;
  ForType(e.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = e.Get<T>(i);
    if constexpr (kFloating<T>) {
      text = std::to_string(static_cast<double>(Exact(v)));
    } else if constexpr (std::is_same_v<T, bool>) {
      text = v ? "true" : "false";
    } else {
      text = std::to_string(v);
    }
  });
  return text;
}

// ---- Host buffers with sentinels and views into them --------------------------------------------

// A view placed in a buffer: a row-major `parent` at `parent_offset` bytes, and the view
// parent[start[0] : start[0] + shape[0], ...].
struct Placement {
  Shape parent, start, shape;
  size_t parent_offset = 0;
};

// A host buffer, kSentinel everywhere it is not written.
struct Arena {
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> before;  // as it was before the op under test
};

// A view of an arena; the output or input of an op.
struct Slot {
  std::shared_ptr<Arena> arena;
  DtElementType type;
  Placement place;
  Value view;

  const Shape& shape() const { return place.shape; }
  DtValue* get() const { return view.get(); }

  // Byte offsets in the arena of the view's elements in row-major order.
  std::vector<size_t> Offsets() const {
    const Shape strides = RowMajorStrides(place.parent);
    std::vector<size_t> offsets;
    for (int64_t flat = 0; flat < Product(place.shape); ++flat) {
      const Shape index = Unflatten(flat, place.shape);
      int64_t element = 0;
      for (size_t i = 0; i < index.size(); ++i) element += (place.start[i] + index[i]) * strides[i];
      offsets.push_back(place.parent_offset + static_cast<size_t>(element) * SizeOf(type));
    }
    return offsets;
  }
  void Write(const Elements& e) {
    const size_t size = SizeOf(type);
    const std::vector<size_t> offsets = Offsets();
    for (size_t k = 0; k < offsets.size(); ++k) {
      std::memcpy(arena->bytes.data() + offsets[k], e.bytes.data() + k * size, size);
    }
  }
  Elements Read() const {
    Elements e(type, place.shape);
    const size_t size = SizeOf(type);
    const std::vector<size_t> offsets = Offsets();
    for (size_t k = 0; k < offsets.size(); ++k) {
      std::memcpy(e.bytes.data() + k * size, arena->bytes.data() + offsets[k], size);
    }
    return e;
  }
  std::string Describe() const {
    return Name(type) + " view " + Text(place.shape) + " at " + Text(place.start) + " of parent " +
           Text(place.parent) + " at byte " + std::to_string(place.parent_offset);
  }
};

class OpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DT_ASSERT_OK(DtCreateEnv(&env_));
    DT_ASSERT_OK(DtGetDevice(env_, DT_DEVICE_CPU, 0, &cpu_));
  }
  void TearDown() override { DtReleaseEnv(env_); }

  // A view of `shape` in a fresh arena: dense, or (strided) a slice of a parent longer along at
  // least one axis. Its elements hold random bytes (valid values: see Fill); the rest kSentinel.
  Slot NewSlot(DtElementType type, const Shape& shape, bool strided) {
    Placement p;
    p.parent = shape;
    p.start.assign(shape.size(), 0);
    p.shape = shape;
    const size_t size = SizeOf(type);
    p.parent_offset = size * static_cast<size_t>(random_.Between(1, 5));
    if (strided && !shape.empty()) {
      const size_t forced = random_.Between(0, shape.size() - 1);
      for (size_t i = 0; i < shape.size(); ++i) {
        if (i != forced && random_.Between(0, 1) == 0) continue;
        const int64_t extra = random_.Between(1, 3);
        p.parent[i] += extra;
        p.start[i] = random_.Between(0, extra);
      }
    }
    auto arena = std::make_shared<Arena>();
    arena->bytes.assign(p.parent_offset + Product(p.parent) * size + random_.Between(1, 24),
                        kSentinel);
    return SlotIn(arena, type, p);
  }

  Slot SlotIn(const std::shared_ptr<Arena>& arena, DtElementType type, const Placement& p) {
    DtValue* parent = nullptr;
    devtensor::Check(DtCreateTensorWithData(env_, cpu_, arena->bytes.data(), arena->bytes.size(),
                                            p.parent_offset, type, p.parent.data(),
                                            p.parent.size(), &parent));
    Value view(parent);
    for (size_t axis = 0; axis < p.shape.size(); ++axis) {
      if (p.shape[axis] == p.parent[axis]) continue;
      DtValue* slice = nullptr;
      devtensor::Check(DtSliceTensor(view.get(), axis, p.start[axis], p.shape[axis], &slice));
      view.reset(slice);
    }
    return Slot{arena, type, p, std::move(view)};
  }

  // A slot holding `values`.
  Slot Input(const Elements& values, bool strided) {
    Slot slot = NewSlot(values.type, values.shape, strided);
    slot.Write(values);
    return slot;
  }

  Slot Input(const Elements& values) { return Input(values, random_.Between(0, 1) == 1); }

  Slot Output(DtElementType type, const Shape& shape) {
    return NewSlot(type, shape, random_.Between(0, 1) == 1);
  }

  DtStatus* Run(const char* op, std::vector<const Slot*> inputs, std::vector<const Slot*> outputs,
                std::vector<DtAttribute> attributes = {}) {
    std::vector<const DtValue*> in;
    std::vector<DtValue*> out;
    for (const Slot* s : inputs) in.push_back(s->get());
    for (const Slot* s : outputs) out.push_back(s->get());
    for (const Slot* s : inputs) s->arena->before = s->arena->bytes;
    for (const Slot* s : outputs) s->arena->before = s->arena->bytes;
    return DtRunOp(env_, op, in.data(), in.size(), out.data(), out.size(),
                   attributes.empty() ? nullptr : attributes.data(), attributes.size(), nullptr);
  }

  Random random_;
  DtEnv* env_ = nullptr;
  const DtDevice* cpu_ = nullptr;
};

DtAttribute IntAttribute(const char* name, int64_t value) {
  DtAttribute a{};
  a.name = name;
  a.type = DT_ATTR_INT;
  a.i = value;
  return a;
}

DtAttribute FloatAttribute(const char* name, float value) {
  DtAttribute a{};
  a.name = name;
  a.type = DT_ATTR_FLOAT;
  a.f = value;
  return a;
}

// The slot's arena holds `expected` in the slot's elements (NaN matching any NaN) and, everywhere
// else, what it held before the op.
::testing::AssertionResult Holds(const Slot& slot, const Elements& expected) {
  const std::vector<size_t> offsets = slot.Offsets();
  std::vector<bool> is_element(slot.arena->bytes.size(), false);
  const size_t size = SizeOf(slot.type);
  for (size_t o : offsets) std::fill_n(is_element.begin() + o, size, true);
  for (size_t i = 0; i < is_element.size(); ++i) {
    if (!is_element[i] && slot.arena->bytes[i] != slot.arena->before[i]) {
      return ::testing::AssertionFailure()
             << "byte " << i << " outside the output's elements changed from 0x" << std::hex
             << int(slot.arena->before[i]) << " to 0x" << int(slot.arena->bytes[i]) << std::dec
             << " (" << slot.Describe() << ")";
    }
  }
  const Elements actual = slot.Read();
  for (int64_t k = 0; k < expected.count(); ++k) {
    if (std::memcmp(actual.bytes.data() + k * size, expected.bytes.data() + k * size, size) == 0) {
      continue;
    }
    bool both_nan = false;
    ForType(slot.type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kFloating<T>) {
        both_nan = std::isnan(Exact(actual.Get<T>(k))) && std::isnan(Exact(expected.Get<T>(k)));
      }
    });
    if (both_nan) continue;
    return ::testing::AssertionFailure()
           << "element " << Text(Unflatten(k, expected.shape)) << " is " << ElementText(actual, k)
           << " but should be " << ElementText(expected, k) << " (" << slot.Describe() << ")";
  }
  return ::testing::AssertionSuccess();
}

// The slot's arena is exactly as before the op.
::testing::AssertionResult Untouched(const Slot& slot) {
  const auto& a = slot.arena->bytes;
  const auto& b = slot.arena->before;
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "no snapshot was taken";
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      return ::testing::AssertionFailure() << "byte " << i << " changed (" << slot.Describe() << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// ---- Shapes and broadcasting ---------------------------------------------------------------------

Shape RandomShape(Random& random, size_t min_rank, size_t max_rank, int64_t max_dim = 4) {
  Shape shape(random.Between(min_rank, max_rank));
  for (int64_t& d : shape) d = random.Between(1, max_dim);
  return shape;
}

// A shape that broadcasts to `out`: a suffix of it with some dimensions 1.
Shape BroadcastableTo(Random& random, const Shape& out) {
  const size_t rank = random.Between(0, out.size());
  Shape shape(out.end() - rank, out.end());
  for (int64_t& d : shape) {
    if (random.Between(0, 2) == 0) d = 1;
  }
  return shape;
}

// The flat row-major index into `shape` (broadcast to `out`) of output position `index`.
int64_t BroadcastSource(const Shape& index, const Shape& out, const Shape& shape) {
  int64_t flat = 0;
  const size_t lead = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    flat = flat * shape[i] + (shape[i] == 1 ? 0 : index[lead + i]);
  }
  return flat;
}

// ---- Add, Sub, Mul, Div -------------------------------------------------------------------------

using OpArithmetic = OpTest;

template <typename T>
T Arithmetic(char op, T a, T b) {
  if constexpr (std::is_same_v<T, double>) {
    return op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
  } else if constexpr (kFloating<T>) {
    // Exact (+, -, *) or rounded to 64 bits (/) in long double, then rounded once more: for
    // formats of at most 24 bits that equals rounding the exact result.
    const long double x = Exact(a), y = Exact(b);
    return Nearest<T>(op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y);
  } else {
    // Two's complement wrap-around; division truncates; MIN / -1 wraps to MIN.
    using U = std::make_unsigned_t<T>;
    if (op == '+') return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
    if (op == '-') return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
    if (op == '*') {
      return static_cast<T>(static_cast<U>(static_cast<unsigned __int128>(static_cast<U>(a)) *
                                           static_cast<U>(b)));
    }
    if constexpr (std::is_signed_v<T>) {
      if (a == std::numeric_limits<T>::min() && b == -1) return a;
    }
    return static_cast<T>(a / b);
  }
}

const char* OpName(char op) {
  return op == '+' ? "Add" : op == '-' ? "Sub" : op == '*' ? "Mul" : "Div";
}

Elements BinaryReference(char op, const Elements& a, const Elements& b, const Shape& out) {
  Elements c(a.type, out);
  ForType(a.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      for (int64_t k = 0; k < c.count(); ++k) {
        const Shape index = Unflatten(k, out);
        c.Set<T>(k, Arithmetic<T>(op, a.Get<T>(BroadcastSource(index, out, a.shape)),
                                  b.Get<T>(BroadcastSource(index, out, b.shape))));
      }
    }
  });
  return c;
}

// Replaces zeros of an integer divisor by 1.
void NoZeros(Elements* e) {
  ForType(e->type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kInteger<T>) {
      for (int64_t i = 0; i < e->count(); ++i) {
        if (e->Get<T>(i) == 0) e->Set<T>(i, T(1));
      }
    }
  });
}

TEST_F(OpArithmetic, EveryNumericTypeWithBroadcastingAndStridedViews) {
  SCOPED_TRACE(random_.trace());
  for (char op : {'+', '-', '*', '/'}) {
    for (DtElementType type : kNumericTypes) {
      for (int trial = 0; trial < 4; ++trial) {
        const Shape out = RandomShape(random_, 0, 4);
        Shape a_shape = BroadcastableTo(random_, out), b_shape = BroadcastableTo(random_, out);
        if (trial == 0) a_shape = out;  // at least one trial where one side is the whole shape
        // The broadcast result must be `out`: give one side the full shape where both lack it.
        for (size_t i = 0; i < out.size(); ++i) {
          const size_t ka = i + a_shape.size(), kb = i + b_shape.size();
          const bool a_has = ka >= out.size() && a_shape[ka - out.size()] == out[i];
          const bool b_has = kb >= out.size() && b_shape[kb - out.size()] == out[i];
          if (!a_has && !b_has && out[i] != 1) a_shape = out;
        }
        if (std::max(a_shape.size(), b_shape.size()) < out.size()) a_shape = out;
        SCOPED_TRACE(std::string(OpName(op)) + " " + Name(type) + " " + Text(a_shape) + " and " +
                     Text(b_shape) + " to " + Text(out));
        Elements a = RandomElements(random_, type, a_shape);
        Elements b = RandomElements(random_, type, b_shape);
        if (op == '/') NoZeros(&b);
        Slot sa = Input(a), sb = Input(b), sc = Output(type, out);
        DT_EXPECT_OK(Run(OpName(op), {&sa, &sb}, {&sc}));
        EXPECT_TRUE(Holds(sc, BinaryReference(op, a, b, out)));
        EXPECT_TRUE(Untouched(sa));
        EXPECT_TRUE(Untouched(sb));
      }
    }
  }
}

TEST_F(OpArithmetic, IntegerEdgesWrapAndTruncate) {
  SCOPED_TRACE(random_.trace());
  auto run = [&](const char* op, DtElementType type, std::vector<int64_t> a_values,
                 std::vector<int64_t> b_values, std::vector<int64_t> expected_values) {
    SCOPED_TRACE(std::string(op) + " " + Name(type));
    const Shape shape = {static_cast<int64_t>(a_values.size())};
    Elements a(type, shape), b(type, shape), expected(type, shape);
    ForType(type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_arithmetic_v<T>) {  // only integer types reach here
        for (size_t i = 0; i < a_values.size(); ++i) {
          a.Set<T>(i, static_cast<T>(a_values[i]));
          b.Set<T>(i, static_cast<T>(b_values[i]));
          expected.Set<T>(i, static_cast<T>(expected_values[i]));
        }
      }
    });
    Slot sa = Input(a), sb = Input(b), sc = Output(type, shape);
    DT_EXPECT_OK(Run(op, {&sa, &sb}, {&sc}));
    EXPECT_TRUE(Holds(sc, expected));
  };
  run("Div", DT_INT32, {7, -7, 7, -7, INT32_MIN, 5}, {2, 2, -2, -2, -1, 7},
      {3, -3, -3, 3, INT32_MIN, 0});
  run("Div", DT_INT8, {-128, 127, -1}, {-1, -1, 3}, {-128, -127, 0});
  run("Div", DT_INT64, {INT64_MIN, -9}, {-1, 4}, {INT64_MIN, -2});
  run("Add", DT_INT32, {INT32_MAX, INT32_MIN}, {1, -1}, {INT32_MIN, INT32_MAX});
  run("Mul", DT_UINT16, {65535, 300}, {65535, 300}, {1, 90000 & 0xFFFF});
  run("Sub", DT_UINT8, {0, 5}, {1, 7}, {255, 254});
  run("Mul", DT_INT64, {INT64_MAX, -3}, {2, INT64_MIN}, {-2, INT64_MIN});
}

TEST_F(OpArithmetic, OutputIsInputAOrBInPlace) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : kNumericTypes) {
    const Shape shape = RandomShape(random_, 1, 3);
    const Shape other = BroadcastableTo(random_, shape);
    SCOPED_TRACE(Name(type) + " " + Text(shape) + " and " + Text(other));
    // C = A: Sub(full, x) into full.
    Elements a = RandomElements(random_, type, shape), x = RandomElements(random_, type, other);
    Slot full = Input(a, true), sx = Input(x);
    DT_EXPECT_OK(Run("Sub", {&full, &sx}, {&full}));
    EXPECT_TRUE(Holds(full, BinaryReference('-', a, x, shape)));
    // C = B: Div(y, full) into full.
    Elements b = RandomElements(random_, type, shape), y = RandomElements(random_, type, other);
    NoZeros(&b);
    Slot divisor = Input(b, true), sy = Input(y);
    DT_EXPECT_OK(Run("Div", {&sy, &divisor}, {&divisor}));
    EXPECT_TRUE(Holds(divisor, BinaryReference('/', y, b, shape)));
  }
}

TEST_F(OpArithmetic, OutputOverlappingAnInputReadsTheInputAsItWas) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : {DT_FLOAT, DT_INT16, DT_BFLOAT16}) {
    for (int64_t shift : {-3, -1, 1, 2}) {
      SCOPED_TRACE(Name(type) + " shift " + std::to_string(shift));
      // A [2, 5] and C [2, 5] in one buffer, C starting `shift` elements after A.
      auto arena = std::make_shared<Arena>();
      const size_t size = SizeOf(type);
      arena->bytes.assign(size * 40, kSentinel);
      Placement pa{{2, 5}, {0, 0}, {2, 5}, size * 10};
      Placement pc{{2, 5}, {0, 0}, {2, 5}, size * static_cast<size_t>(10 + shift)};
      Slot sa = SlotIn(arena, type, pa), sc = SlotIn(arena, type, pc);
      Elements a = RandomElements(random_, type, {2, 5}, false);
      Elements b = RandomElements(random_, type, {5}, false);
      sa.Write(a);
      Slot sb = Input(b);
      DT_EXPECT_OK(Run("Mul", {&sa, &sb}, {&sc}));
      EXPECT_TRUE(Holds(sc, BinaryReference('*', a, b, {2, 5})));
    }
  }
}

TEST_F(OpArithmetic, IntegerDivisionByZeroFailsAndWritesNothing) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : {DT_INT8, DT_UINT8, DT_INT32, DT_UINT64}) {
    Elements a = RandomElements(random_, type, {3, 4});
    Elements b = RandomElements(random_, type, {4});
    NoZeros(&b);
    ForType(type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kInteger<T>) b.Set<T>(random_.Between(0, 3), T(0));
    });
    Slot sa = Input(a), sb = Input(b), sc = Output(type, {3, 4});
    DT_EXPECT_ERROR(Run("Div", {&sa, &sb}, {&sc}), DT_INVALID_ARGUMENT, "Div", "division by zero",
                    "inputs[1] (B)");
    EXPECT_TRUE(Untouched(sc));
    // In place: the output is A, which must keep its values.
    DT_EXPECT_ERROR(Run("Div", {&sa, &sb}, {&sa}), DT_INVALID_ARGUMENT, "division by zero");
    EXPECT_TRUE(Untouched(sa));
  }
  // Floats divide by zero as IEEE does.
  Elements a(DT_FLOAT, {3}), b(DT_FLOAT, {3});
  a.Set<float>(0, 1), a.Set<float>(1, -1), a.Set<float>(2, 0);
  Slot sa = Input(a), sb = Input(b), sc = Output(DT_FLOAT, {3});
  DT_EXPECT_OK(Run("Div", {&sa, &sb}, {&sc}));
  const Elements c = sc.Read();
  EXPECT_EQ(c.Get<float>(0), INFINITY);
  EXPECT_EQ(c.Get<float>(1), -INFINITY);
  EXPECT_TRUE(std::isnan(c.Get<float>(2)));
}

TEST_F(OpArithmetic, EmptyTensorsWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Elements a(DT_INT32, {0, 3}), b(DT_INT32, {3});  // b holds zeros: nothing is divided
  Slot sa = Input(a, false), sb = Input(b, false), sc = Output(DT_INT32, {0, 3});
  DT_EXPECT_OK(Run("Div", {&sa, &sb}, {&sc}));
  EXPECT_TRUE(Untouched(sc));
}

TEST_F(OpArithmetic, BadCallsFailNamingTheArgumentAndWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Slot a = Input(RandomElements(random_, DT_FLOAT, {2, 3}));
  Slot b = Input(RandomElements(random_, DT_FLOAT, {3}));
  Slot b_int = Input(RandomElements(random_, DT_INT32, {3}));
  Slot bad_b = Input(RandomElements(random_, DT_FLOAT, {2}));
  Slot c = Output(DT_FLOAT, {2, 3});
  Slot c_int = Output(DT_INT32, {2, 3});
  Slot c_wrong = Output(DT_FLOAT, {3, 2});
  Slot bool_a = Input(RandomElements(random_, DT_BOOL, {3}));
  Slot bool_c = Output(DT_BOOL, {3});

  DT_EXPECT_ERROR(Run("Add", {&a}, {&c}), DT_INVALID_ARGUMENT, "Add", "2 inputs (A, B)",
                  "got 1 input");
  DT_EXPECT_ERROR(Run("Add", {&a, &b, &b}, {&c}), DT_INVALID_ARGUMENT, "got 3 inputs");
  DT_EXPECT_ERROR(Run("Add", {&a, &b}, {&c, &c}), DT_INVALID_ARGUMENT, "got 2 inputs and 2 outputs");
  DT_EXPECT_ERROR(Run("Sub", {&a, &b_int}, {&c}), DT_INVALID_ARGUMENT, "Sub", "inputs[1] (B)",
                  "int32", "float");
  DT_EXPECT_ERROR(Run("Mul", {&a, &b}, {&c_int}), DT_INVALID_ARGUMENT, "outputs[0] (C)", "int32");
  DT_EXPECT_ERROR(Run("Div", {&a, &b}, {&c_wrong}), DT_INVALID_ARGUMENT, "outputs[0] (C)", "[3, 2]",
                  "[2, 3]");
  DT_EXPECT_ERROR(Run("Add", {&a, &bad_b}, {&c}), DT_INVALID_ARGUMENT, "inputs[1] (B)", "[2]",
                  "does not broadcast", "[2, 3]");
  DT_EXPECT_ERROR(Run("Add", {&bool_a, &bool_a}, {&bool_c}), DT_INVALID_ARGUMENT, "bool",
                  "numeric");
  DT_EXPECT_ERROR(Run("Add", {&a, &b}, {&c}, {IntAttribute("axis", 1)}), DT_INVALID_ARGUMENT,
                  "unknown attribute 'axis'");
  for (const Slot* s : {&c, &c_int, &c_wrong, &bool_c, &a, &b}) EXPECT_TRUE(Untouched(*s));
}

// ---- Cast ---------------------------------------------------------------------------------------

using OpCast = OpTest;

Elements CastReference(const Elements& in, DtElementType to) {
  Elements out(to, in.shape);
  ForType(in.type, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    ForType(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      for (int64_t i = 0; i < in.count(); ++i) out.Set<To>(i, Converted<To>(in.Get<From>(i)));
    });
  });
  return out;
}

TEST_F(OpCast, EveryPairOfTypesWithSpecialValuesAndStridedViews) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType from : kAllTypes) {
    for (DtElementType to : kAllTypes) {
      SCOPED_TRACE(Name(from) + " to " + Name(to));
      const Shape shape = RandomShape(random_, 0, 3, 6);
      Elements in = RandomElements(random_, from, shape);
      Slot si = Input(in), so = Output(to, shape);
      DT_EXPECT_OK(Run("Cast", {&si}, {&so}, {IntAttribute("to", to)}));
      EXPECT_TRUE(Holds(so, CastReference(in, to)));
      EXPECT_TRUE(Untouched(si));
    }
  }
}

// Known roundings, in particular those that rounding through float would get wrong.
TEST_F(OpCast, RoundsToNearestEvenOnceFromTheExactValue) {
  SCOPED_TRACE(random_.trace());
  struct Case {
    DtElementType from, to;
    double value;
    uint16_t bits;
  };
  const Case cases[] = {
      {DT_FLOAT, DT_BFLOAT16, 0.48033667f, 0x3EF6},      // 0x3EF5EEB0 rounds up (not truncated)
      {DT_FLOAT, DT_BFLOAT16, 1.00390625f, 0x3F80},      // 0x3F808000: tie, to even
      {DT_FLOAT, DT_BFLOAT16, 1.01171875f, 0x3F82},      // 0x3F818000: tie, to even (up)
      {DT_FLOAT, DT_BFLOAT16, 3.4028234e38f, 0x7F80},    // rounds to infinity
      {DT_FLOAT, DT_FLOAT16, 2049.0f, 0x6800},           // tie between 2048 and 2050: even
      {DT_FLOAT, DT_FLOAT16, 2051.0f, 0x6802},           // tie between 2050 and 2052: even
      {DT_FLOAT, DT_FLOAT16, 65519.0f, 0x7BFF},          // largest finite
      {DT_FLOAT, DT_FLOAT16, 65520.0f, 0x7C00},          // halfway to 65536: infinity
      {DT_FLOAT, DT_FLOAT16, -0.0f, 0x8000},
      {DT_FLOAT, DT_FLOAT16, 2.98023224e-08f, 0x0000},   // 2^-25: tie with 0, to even
      {DT_FLOAT, DT_FLOAT16, 4.47034836e-08f, 0x0001},   // 1.5 * 2^-25 rounds to 2^-24
      {DT_DOUBLE, DT_FLOAT16, 1.0 + 0x1p-11 + 0x1p-40, 0x3C01},  // through float: 0x3C00
      {DT_DOUBLE, DT_BFLOAT16, 1.0 + 0x1p-8 + 0x1p-40, 0x3F81},  // through float: 0x3F80
      {DT_INT64, DT_BFLOAT16, double((1ll << 40) + (1ll << 32) + 1), 0x5381},  // tie + 1: up
      {DT_INT32, DT_FLOAT16, 2049, 0x6800},
      {DT_INT32, DT_FLOAT16, 70000, 0x7C00},
      {DT_UINT64, DT_FLOAT16, 1e19, 0x7C00},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Name(c.from) + " " + std::to_string(c.value) + " to " + Name(c.to));
    Elements in(c.from, {1});
    if (c.from == DT_FLOAT) in.Set<float>(0, static_cast<float>(c.value));
    if (c.from == DT_DOUBLE) in.Set<double>(0, c.value);
    if (c.from == DT_INT64) in.Set<int64_t>(0, (1ll << 40) + (1ll << 32) + 1);
    if (c.from == DT_INT32) in.Set<int32_t>(0, static_cast<int32_t>(c.value));
    if (c.from == DT_UINT64) in.Set<uint64_t>(0, static_cast<uint64_t>(c.value));
    Slot si = Input(in), so = Output(c.to, {1});
    DT_EXPECT_OK(Run("Cast", {&si}, {&so}, {IntAttribute("to", c.to)}));
    EXPECT_EQ(so.Read().Get<uint16_t>(0), c.bits);
  }
}

TEST_F(OpCast, FloatToIntegerTruncatesSaturatesAndMapsNanToZero) {
  SCOPED_TRACE(random_.trace());
  const float values[] = {2.9f, -2.9f, 1e10f, -1e10f, NAN, INFINITY, -INFINITY, -0.5f, 255.5f};
  Elements in(DT_FLOAT, {9});
  for (int i = 0; i < 9; ++i) in.Set<float>(i, values[i]);
  Slot si = Input(in);
  Slot s8 = Output(DT_UINT8, {9}), s32 = Output(DT_INT32, {9}), sb = Output(DT_BOOL, {9});
  DT_EXPECT_OK(Run("Cast", {&si}, {&s8}, {IntAttribute("to", DT_UINT8)}));
  DT_EXPECT_OK(Run("Cast", {&si}, {&s32}, {IntAttribute("to", DT_INT32)}));
  DT_EXPECT_OK(Run("Cast", {&si}, {&sb}, {IntAttribute("to", DT_BOOL)}));
  const std::vector<int64_t> u8 = {2, 0, 255, 0, 0, 255, 0, 0, 255};
  const std::vector<int64_t> i32 = {2, -2, INT32_MAX, INT32_MIN, 0, INT32_MAX, INT32_MIN, 0, 255};
  const std::vector<int64_t> b = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(s8.Read().Get<uint8_t>(i), u8[i]) << values[i];
    EXPECT_EQ(s32.Read().Get<int32_t>(i), i32[i]) << values[i];
    EXPECT_EQ(sb.Read().Get<uint8_t>(i), b[i]) << values[i];
  }
}

TEST_F(OpCast, InPlaceAndOverlapping) {
  SCOPED_TRACE(random_.trace());
  // float -> int32 over the same bytes (one view as input and output, reinterpreted).
  Elements in = RandomElements(random_, DT_FLOAT, {4, 3}, false);
  Slot si = Input(in, true);
  Slot same = SlotIn(si.arena, DT_INT32, si.place);
  DT_EXPECT_OK(Run("Cast", {&si}, {&same}, {IntAttribute("to", DT_INT32)}));
  EXPECT_TRUE(Holds(same, CastReference(in, DT_INT32)));
  // float16 -> float, the output overlapping the input's bytes from its middle on.
  Elements h = RandomElements(random_, DT_FLOAT16, {8});
  auto arena = std::make_shared<Arena>();
  arena->bytes.assign(64, kSentinel);
  Slot sh = SlotIn(arena, DT_FLOAT16, Placement{{8}, {0}, {8}, 8});
  Slot sf = SlotIn(arena, DT_FLOAT, Placement{{8}, {0}, {8}, 12});
  sh.Write(h);
  DT_EXPECT_OK(Run("Cast", {&sh}, {&sf}, {IntAttribute("to", DT_FLOAT)}));
  EXPECT_TRUE(Holds(sf, CastReference(h, DT_FLOAT)));
}

TEST_F(OpCast, BadCallsWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Slot in = Input(RandomElements(random_, DT_FLOAT, {2, 3}));
  Slot out = Output(DT_INT32, {2, 3});
  Slot wrong_shape = Output(DT_INT32, {6});
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}, {IntAttribute("to", 8)}), DT_NOT_SUPPORTED, "Cast",
                  "string");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}, {IntAttribute("to", 14)}), DT_NOT_SUPPORTED,
                  "complex64");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}, {IntAttribute("to", 99)}), DT_INVALID_ARGUMENT, "99");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}), DT_INVALID_ARGUMENT, "'to' is required");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}, {IntAttribute("to", DT_INT64)}), DT_INVALID_ARGUMENT,
                  "outputs[0] (output)", "int32", "int64");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}, {FloatAttribute("to", 6)}), DT_INVALID_ARGUMENT,
                  "'to'", "float", "int");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&wrong_shape}, {IntAttribute("to", DT_INT32)}),
                  DT_INVALID_ARGUMENT, "[6]", "[2, 3]");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}, {IntAttribute("to", DT_INT32), IntAttribute("to", 6)}),
                  DT_INVALID_ARGUMENT, "twice");
  DT_EXPECT_ERROR(Run("Cast", {&in}, {&out}, {IntAttribute("to", DT_INT32), IntAttribute("saturate", 1)}),
                  DT_INVALID_ARGUMENT, "'saturate'");
  EXPECT_TRUE(Untouched(out));
  EXPECT_TRUE(Untouched(wrong_shape));
}

// ---- Where --------------------------------------------------------------------------------------

using OpWhere = OpTest;

TEST_F(OpWhere, EveryTypeWithBroadcastingOfAllThree) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : kAllTypes) {
    for (int trial = 0; trial < 3; ++trial) {
      const Shape out = RandomShape(random_, 0, 4);
      Shape shapes[3];
      for (Shape& s : shapes) s = BroadcastableTo(random_, out);
      shapes[random_.Between(0, 2)] = out;
      SCOPED_TRACE(Name(type) + " " + Text(shapes[0]) + " " + Text(shapes[1]) + " " +
                   Text(shapes[2]) + " to " + Text(out));
      Elements cond = RandomElements(random_, DT_BOOL, shapes[0]);
      Elements x = RandomElements(random_, type, shapes[1]);
      Elements y = RandomElements(random_, type, shapes[2]);
      Slot sc = Input(cond), sx = Input(x), sy = Input(y), so = Output(type, out);
      DT_EXPECT_OK(Run("Where", {&sc, &sx, &sy}, {&so}));
      Elements expected(type, out);
      const size_t size = SizeOf(type);
      for (int64_t k = 0; k < expected.count(); ++k) {
        const Shape index = Unflatten(k, out);
        const bool pick = cond.Get<bool>(BroadcastSource(index, out, cond.shape));
        const Elements& from = pick ? x : y;
        std::memcpy(expected.bytes.data() + k * size,
                    from.bytes.data() + BroadcastSource(index, out, from.shape) * size, size);
      }
      EXPECT_TRUE(Holds(so, expected));
    }
  }
}

TEST_F(OpWhere, InPlaceIntoXAndBadCalls) {
  SCOPED_TRACE(random_.trace());
  Elements cond = RandomElements(random_, DT_BOOL, {3, 1});
  Elements x = RandomElements(random_, DT_INT64, {3, 4});
  Elements y = RandomElements(random_, DT_INT64, {4});
  Slot sc = Input(cond), sx = Input(x, true), sy = Input(y);
  DT_EXPECT_OK(Run("Where", {&sc, &sx, &sy}, {&sx}));
  Elements expected = x;
  for (int64_t k = 0; k < 12; ++k) {
    if (!cond.Get<bool>(k / 4)) expected.Set<int64_t>(k, y.Get<int64_t>(k % 4));
  }
  EXPECT_TRUE(Holds(sx, expected));

  Slot not_bool = Input(RandomElements(random_, DT_UINT8, {3, 1}));
  Slot y32 = Input(RandomElements(random_, DT_INT32, {4}));
  Slot out = Output(DT_INT64, {3, 4}), out32 = Output(DT_INT32, {3, 4}), out_big = Output(DT_INT64, {2, 3, 4});
  DT_EXPECT_ERROR(Run("Where", {&not_bool, &sx, &sy}, {&out}), DT_INVALID_ARGUMENT, "Where",
                  "inputs[0] (condition)", "uint8", "bool");
  DT_EXPECT_ERROR(Run("Where", {&sc, &sx, &y32}, {&out}), DT_INVALID_ARGUMENT, "inputs[2] (Y)",
                  "int32", "int64");
  DT_EXPECT_ERROR(Run("Where", {&sc, &sx, &sy}, {&out32}), DT_INVALID_ARGUMENT, "outputs[0] (output)");
  DT_EXPECT_ERROR(Run("Where", {&sc, &sx, &sy}, {&out_big}), DT_INVALID_ARGUMENT, "[2, 3, 4]", "[3, 4]");
  DT_EXPECT_ERROR(Run("Where", {&sc, &sx}, {&out}), DT_INVALID_ARGUMENT, "3 inputs (condition, X, Y)");
  EXPECT_TRUE(Untouched(out));
  EXPECT_TRUE(Untouched(out32));
  EXPECT_TRUE(Untouched(out_big));
}

// ---- ScatterND ----------------------------------------------------------------------------------

using OpScatterND = OpTest;

struct ScatterCase {
  Elements data, indices, updates;
};

ScatterCase RandomScatter(Random& random, DtElementType type, bool negative) {
  ScatterCase c;
  const Shape data_shape = RandomShape(random, 1, 4);
  const int64_t k = random.Between(1, data_shape.size());
  Shape tuples = RandomShape(random, 0, 2);
  Shape indices_shape = tuples;
  indices_shape.push_back(k);
  Shape updates_shape = tuples;
  updates_shape.insert(updates_shape.end(), data_shape.begin() + k, data_shape.end());
  c.data = RandomElements(random, type, data_shape);
  c.updates = RandomElements(random, type, updates_shape);
  c.indices = Elements(DT_INT64, indices_shape);
  for (int64_t t = 0; t < Product(tuples); ++t) {
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = random.Between(0, data_shape[j] - 1);
      if (negative && random.Between(0, 1)) v -= data_shape[j];
      c.indices.Set<int64_t>(t * k + j, v);
    }
  }
  return c;
}

Elements ScatterReference(const ScatterCase& c) {
  Elements out = c.data;
  const size_t k = c.indices.shape.back();
  const int64_t tuples = c.indices.count() / static_cast<int64_t>(k);
  const Shape slice(c.data.shape.begin() + k, c.data.shape.end());
  const int64_t slice_count = Product(slice);
  const size_t size = SizeOf(c.data.type);
  const Shape data_strides = RowMajorStrides(c.data.shape);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t first = 0;
    for (size_t j = 0; j < k; ++j) {
      int64_t v = c.indices.Get<int64_t>(t * k + j);
      if (v < 0) v += c.data.shape[j];
      first += v * data_strides[j];
    }
    std::memcpy(out.bytes.data() + first * size, c.updates.bytes.data() + t * slice_count * size,
                slice_count * size);
  }
  return out;
}

TEST_F(OpScatterND, RandomIndicesNegativeAndRepeatedLastWins) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : kAllTypes) {
    for (int trial = 0; trial < 3; ++trial) {
      ScatterCase c = RandomScatter(random_, type, true);
      SCOPED_TRACE(Name(type) + " data " + Text(c.data.shape) + " indices " +
                   Text(c.indices.shape));
      Slot sd = Input(c.data), si = Input(c.indices), su = Input(c.updates);
      Slot so = Output(type, c.data.shape);
      DT_EXPECT_OK(Run("ScatterND", {&sd, &si, &su}, {&so}));
      EXPECT_TRUE(Holds(so, ScatterReference(c)));
      // In place: the output is data.
      DT_EXPECT_OK(Run("ScatterND", {&sd, &si, &su}, {&sd}));
      EXPECT_TRUE(Holds(sd, ScatterReference(c)));
    }
  }
}

TEST_F(OpScatterND, IndexOutOfRangeFailsAndWritesNothing) {
  SCOPED_TRACE(random_.trace());
  for (int64_t bad : {4, -5, 100}) {
    ScatterCase c;
    c.data = RandomElements(random_, DT_FLOAT, {4, 3});
    c.indices = Elements(DT_INT64, {3, 1});
    c.indices.Set<int64_t>(0, 1);
    c.indices.Set<int64_t>(1, 2);
    c.indices.Set<int64_t>(2, bad);  // the last tuple: the first two must not be written either
    c.updates = RandomElements(random_, DT_FLOAT, {3, 3});
    Slot sd = Input(c.data), si = Input(c.indices), su = Input(c.updates);
    Slot so = Output(DT_FLOAT, {4, 3});
    const std::string value = "= " + std::to_string(bad);
    DT_EXPECT_ERROR(Run("ScatterND", {&sd, &si, &su}, {&so}), DT_OUT_OF_RANGE, "ScatterND",
                    "indices[2, 0]", value.c_str(), "[4, 3]");
    EXPECT_TRUE(Untouched(so));
    DT_EXPECT_ERROR(Run("ScatterND", {&sd, &si, &su}, {&sd}), DT_OUT_OF_RANGE, "out of range");
    EXPECT_TRUE(Untouched(sd));
  }
}

TEST_F(OpScatterND, UpdatesOverlappingTheOutputAreReadAsTheyWere) {
  SCOPED_TRACE(random_.trace());
  // data [4, 3] is the output; updates [2, 3] are rows 1..2 of it, scattered to rows 2 and 3.
  Elements data = RandomElements(random_, DT_INT32, {4, 3});
  Slot sd = Input(data, false);
  Placement rows = sd.place;
  rows.parent = {4, 3};
  rows.start = {1, 0};
  rows.shape = {2, 3};
  Slot su = SlotIn(sd.arena, DT_INT32, rows);
  Elements indices(DT_INT64, {2, 1});
  indices.Set<int64_t>(0, 2);
  indices.Set<int64_t>(1, 3);
  Slot si = Input(indices);
  DT_EXPECT_OK(Run("ScatterND", {&sd, &si, &su}, {&sd}));
  Elements expected = data;
  for (int64_t j = 0; j < 3; ++j) {
    expected.Set<int32_t>(6 + j, data.Get<int32_t>(3 + j));
    expected.Set<int32_t>(9 + j, data.Get<int32_t>(6 + j));
  }
  EXPECT_TRUE(Holds(sd, expected));
}

TEST_F(OpScatterND, BadCallsWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Slot data = Input(RandomElements(random_, DT_FLOAT, {4, 3}));
  Elements idx(DT_INT64, {2, 1});
  Slot indices = Input(idx);
  Slot indices32 = Input(Elements(DT_INT32, {2, 1}));
  Slot indices_deep = Input(Elements(DT_INT64, {2, 3}));
  Slot updates = Input(RandomElements(random_, DT_FLOAT, {2, 3}));
  Slot updates_wrong = Input(RandomElements(random_, DT_FLOAT, {2, 4}));
  Slot updates_f16 = Input(RandomElements(random_, DT_FLOAT16, {2, 3}));
  Slot out = Output(DT_FLOAT, {4, 3});
  Slot out_wrong = Output(DT_FLOAT, {3, 4});
  DT_EXPECT_ERROR(Run("ScatterND", {&data, &indices, &updates}, {&out},
                      {IntAttribute("reduction", 0)}),
                  DT_NOT_SUPPORTED, "ScatterND", "reduction");
  DT_EXPECT_ERROR(Run("ScatterND", {&data, &indices32, &updates}, {&out}), DT_INVALID_ARGUMENT,
                  "inputs[1] (indices)", "int32", "int64");
  DT_EXPECT_ERROR(Run("ScatterND", {&data, &indices_deep, &updates}, {&out}), DT_INVALID_ARGUMENT,
                  "inputs[1] (indices)", "3", "rank");
  DT_EXPECT_ERROR(Run("ScatterND", {&data, &indices, &updates_wrong}, {&out}), DT_INVALID_ARGUMENT,
                  "inputs[2] (updates)", "[2, 4]", "[2, 3]");
  DT_EXPECT_ERROR(Run("ScatterND", {&data, &indices, &updates_f16}, {&out}), DT_INVALID_ARGUMENT,
                  "float16");
  DT_EXPECT_ERROR(Run("ScatterND", {&data, &indices, &updates}, {&out_wrong}), DT_INVALID_ARGUMENT,
                  "outputs[0] (output)", "[3, 4]", "[4, 3]");
  DT_EXPECT_ERROR(Run("ScatterND", {&data, &indices}, {&out}), DT_INVALID_ARGUMENT,
                  "3 inputs (data, indices, updates)");
  EXPECT_TRUE(Untouched(out));
  EXPECT_TRUE(Untouched(out_wrong));
}

// ---- ArgMax -------------------------------------------------------------------------------------

using OpArgMax = OpTest;

// a > b with NaN above every number.
template <typename T>
bool Above(T a, T b) {
  if constexpr (kFloating<T>) {
    const long double x = Exact(a), y = Exact(b);
    if (std::isnan(y)) return false;
    return std::isnan(x) || x > y;
  } else {
    return a > b;
  }
}

TEST_F(OpArgMax, EveryNumericTypeAxisKeepdimsAndSelectLastIndex) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : kNumericTypes) {
    for (int trial = 0; trial < 6; ++trial) {
      const Shape shape = RandomShape(random_, 1, 4, 5);
      const int64_t rank = static_cast<int64_t>(shape.size());
      const int64_t axis = random_.Between(-rank, rank - 1);
      const size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
      const int64_t keepdims = random_.Between(0, 1), last = random_.Between(0, 1);
      const bool defaults = trial == 0;
      SCOPED_TRACE(Name(type) + " " + Text(shape) + " axis " + std::to_string(axis) +
                   " keepdims " + std::to_string(keepdims) + " select_last_index " +
                   std::to_string(last) + (defaults ? " (defaults)" : ""));
      // Few distinct values so that ties are common; NaN now and then for floats.
      Elements data(type, shape);
      ForType(type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        for (int64_t i = 0; i < data.count(); ++i) {
          long double v = random_.Between(-2, 2);
          if (kFloating<T> && random_.Between(0, 15) == 0) v = NAN;
          if constexpr (std::is_unsigned_v<T>) v = std::fabs(v);
          if constexpr (kFloating<T>) data.Set<T>(i, Nearest<T>(v));
          else data.Set<T>(i, static_cast<T>(v));
        }
      });
      Shape out_shape;
      for (size_t i = 0; i < shape.size(); ++i) {
        if (i != (defaults ? 0 : a)) out_shape.push_back(shape[i]);
        else if (defaults || keepdims) out_shape.push_back(1);
      }
      const size_t ax = defaults ? 0 : a;
      Elements expected(DT_INT64, out_shape);
      ForType(type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const Shape strides = RowMajorStrides(shape);
        int64_t k = 0;
        for (int64_t flat = 0; flat < data.count(); ++flat) {
          const Shape index = Unflatten(flat, shape);
          if (index[ax] != 0) continue;
          int64_t best = 0;
          for (int64_t j = 1; j < shape[ax]; ++j) {
            const T v = data.Get<T>(flat + j * strides[ax]);
            const T b = data.Get<T>(flat + best * strides[ax]);
            if (Above(v, b) || (!defaults && last && !Above(b, v))) best = j;
          }
          expected.Set<int64_t>(k++, best);
        }
      });
      std::vector<DtAttribute> attributes;
      if (!defaults) {
        attributes = {IntAttribute("axis", axis), IntAttribute("keepdims", keepdims),
                      IntAttribute("select_last_index", last)};
      }
      Slot si = Input(data), so = Output(DT_INT64, out_shape);
      DT_EXPECT_OK(Run("ArgMax", {&si}, {&so}, attributes));
      EXPECT_TRUE(Holds(so, expected));
    }
  }
}

TEST_F(OpArgMax, BadCallsWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Slot in = Input(RandomElements(random_, DT_FLOAT, {2, 3}));
  Slot in_bool = Input(RandomElements(random_, DT_BOOL, {2, 3}));
  Slot out = Output(DT_INT64, {1, 3});
  Slot out32 = Output(DT_INT32, {1, 3});
  Slot out_wrong = Output(DT_INT64, {3});
  DT_EXPECT_ERROR(Run("ArgMax", {&in}, {&out}, {IntAttribute("axis", 2)}), DT_OUT_OF_RANGE,
                  "ArgMax", "'axis' is 2", "rank 2");
  DT_EXPECT_ERROR(Run("ArgMax", {&in}, {&out}, {IntAttribute("axis", -3)}), DT_OUT_OF_RANGE, "-3");
  DT_EXPECT_ERROR(Run("ArgMax", {&in}, {&out}, {FloatAttribute("axis", 0)}), DT_INVALID_ARGUMENT,
                  "'axis'", "float");
  DT_EXPECT_ERROR(Run("ArgMax", {&in}, {&out}, {IntAttribute("keepdims", 2)}), DT_INVALID_ARGUMENT,
                  "'keepdims' is 2");
  DT_EXPECT_ERROR(Run("ArgMax", {&in}, {&out}, {IntAttribute("axes", 0)}), DT_INVALID_ARGUMENT,
                  "unknown attribute 'axes'");
  DT_EXPECT_ERROR(Run("ArgMax", {&in}, {&out32}), DT_INVALID_ARGUMENT, "outputs[0] (reduced)",
                  "int32", "int64");
  DT_EXPECT_ERROR(Run("ArgMax", {&in}, {&out_wrong}), DT_INVALID_ARGUMENT, "[3]", "[1, 3]");
  DT_EXPECT_ERROR(Run("ArgMax", {&in_bool}, {&out}), DT_INVALID_ARGUMENT, "bool");
  EXPECT_TRUE(Untouched(out));
  EXPECT_TRUE(Untouched(out32));
  EXPECT_TRUE(Untouched(out_wrong));
}

// ---- Expand -------------------------------------------------------------------------------------

using OpExpand = OpTest;

TEST_F(OpExpand, RandomShapesEveryType) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : kAllTypes) {
    for (int trial = 0; trial < 3; ++trial) {
      const Shape out = RandomShape(random_, 0, 4);
      const Shape in_shape = BroadcastableTo(random_, out);
      // `shape` is the result with 1 where the input has the dimension, and without leading 1s
      // when the input has the result's rank.
      Shape target = out;
      const size_t lead = out.size() - in_shape.size();
      for (size_t i = lead; i < out.size(); ++i) {
        if (in_shape[i - lead] == out[i] && random_.Between(0, 1)) target[i] = 1;
      }
      while (lead == 0 && !target.empty() && target[0] == 1 && random_.Between(0, 1)) {
        target.erase(target.begin());
      }
      SCOPED_TRACE(Name(type) + " " + Text(in_shape) + " by " + Text(target) + " to " + Text(out));
      Elements in = RandomElements(random_, type, in_shape);
      Elements shape_values(DT_INT64, {static_cast<int64_t>(target.size())});
      for (size_t i = 0; i < target.size(); ++i) shape_values.Set<int64_t>(i, target[i]);
      Slot si = Input(in), ss = Input(shape_values), so = Output(type, out);
      DT_EXPECT_OK(Run("Expand", {&si, &ss}, {&so}));
      Elements expected(type, out);
      const size_t size = SizeOf(type);
      for (int64_t k = 0; k < expected.count(); ++k) {
        std::memcpy(expected.bytes.data() + k * size,
                    in.bytes.data() + BroadcastSource(Unflatten(k, out), out, in_shape) * size, size);
      }
      EXPECT_TRUE(Holds(so, expected));
    }
  }
}

TEST_F(OpExpand, ShapeValuesAreCheckedBeforeWriting) {
  SCOPED_TRACE(random_.trace());
  Slot in = Input(RandomElements(random_, DT_FLOAT, {3, 1}));
  auto shape_of = [&](std::vector<int64_t> values) {
    Elements e(DT_INT64, {static_cast<int64_t>(values.size())});
    for (size_t i = 0; i < values.size(); ++i) e.Set<int64_t>(i, values[i]);
    return Input(e);
  };
  Slot out = Output(DT_FLOAT, {3, 4});
  Slot to5 = shape_of({1, 5}), to_bad = shape_of({2, 4}), negative = shape_of({-1, 4});
  Slot longer = shape_of({2, 3, 4});
  Slot shape32 = Input(Elements(DT_INT32, {2}));
  DT_EXPECT_ERROR(Run("Expand", {&in, &to5}, {&out}), DT_INVALID_ARGUMENT, "Expand",
                  "outputs[0] (output)", "[3, 4]", "[3, 5]");
  DT_EXPECT_ERROR(Run("Expand", {&in, &to_bad}, {&out}), DT_INVALID_ARGUMENT, "does not broadcast",
                  "[2, 4]");
  DT_EXPECT_ERROR(Run("Expand", {&in, &negative}, {&out}), DT_INVALID_ARGUMENT, "negative");
  DT_EXPECT_ERROR(Run("Expand", {&in, &longer}, {&out}), DT_INVALID_ARGUMENT, "rank 3");
  DT_EXPECT_ERROR(Run("Expand", {&in, &shape32}, {&out}), DT_INVALID_ARGUMENT,
                  "inputs[1] (shape)", "int32", "int64");
  Slot out_wrong = Output(DT_FLOAT, {4, 4});
  DT_EXPECT_ERROR(Run("Expand", {&in, &to5}, {&out_wrong}), DT_INVALID_ARGUMENT, "[4, 4]", "[3, 1]");
  EXPECT_TRUE(Untouched(out));
  EXPECT_TRUE(Untouched(out_wrong));
}

// ---- Fill ---------------------------------------------------------------------------------------

using OpFill = OpTest;

TEST_F(OpFill, EveryTypeConvertsAsCast) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : kAllTypes) {
    for (float value : {0.0f, -0.0f, 1.0f, -1.0f, 2.75f, -300.5f, 1e10f, NAN, INFINITY, 65520.0f}) {
      SCOPED_TRACE(Name(type) + " " + std::to_string(value));
      const Shape shape = RandomShape(random_, 0, 3);
      Slot y = Output(type, shape);
      DT_EXPECT_OK(Run("Fill", {}, {&y}, {FloatAttribute("value", value)}));
      Elements source(DT_FLOAT, shape);
      for (int64_t i = 0; i < source.count(); ++i) source.Set<float>(i, value);
      EXPECT_TRUE(Holds(y, CastReference(source, type)));
    }
  }
  Slot y = Output(DT_FLOAT, {2});
  DT_EXPECT_ERROR(Run("Fill", {}, {&y}), DT_INVALID_ARGUMENT, "Fill", "'value'", "required");
  DT_EXPECT_ERROR(Run("Fill", {}, {&y}, {IntAttribute("value", 1)}), DT_INVALID_ARGUMENT, "'value'",
                  "int", "float");
  DT_EXPECT_ERROR(Run("Fill", {&y}, {&y}, {FloatAttribute("value", 1)}), DT_INVALID_ARGUMENT,
                  "0 inputs", "got 1 input");
  EXPECT_TRUE(Untouched(y));
}

// ---- UpdateAttentionMask ------------------------------------------------------------------------

using OpUpdateAttentionMask = OpTest;

TEST_F(OpUpdateAttentionMask, SetsOnesThenZerosClampingTotalLength) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : {DT_INT32, DT_INT64}) {
    for (int trial = 0; trial < 12; ++trial) {
      const Shape shape = {random_.Between(1, 4), random_.Between(1, 9)};
      const int32_t total = static_cast<int32_t>(random_.Between(-3, shape[1] + 3));
      SCOPED_TRACE(Name(type) + " " + Text(shape) + " total_length " + std::to_string(total));
      Elements length(DT_INT32, trial % 2 ? Shape{} : Shape{1});
      length.Set<int32_t>(0, total);
      Slot sl = Input(length);
      Slot mask = Input(RandomElements(random_, type, shape), true);
      DT_EXPECT_OK(Run("UpdateAttentionMask", {&sl}, {&mask}));
      Elements expected(type, shape);
      ForType(type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (std::is_arithmetic_v<T>) {  // masks are int32 or int64
          for (int64_t k = 0; k < expected.count(); ++k) {
            expected.Set<T>(k, T(k % shape[1] < total ? 1 : 0));
          }
        }
      });
      EXPECT_TRUE(Holds(mask, expected));
    }
  }
}

TEST_F(OpUpdateAttentionMask, BadCallsWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Elements length(DT_INT32, {});
  Slot sl = Input(length), sl64 = Input(Elements(DT_INT64, {})), sl2 = Input(Elements(DT_INT32, {2}));
  Slot mask = Output(DT_INT32, {2, 5}), mask_f = Output(DT_FLOAT, {2, 5}), mask3 = Output(DT_INT64, {1, 2, 5});
  DT_EXPECT_ERROR(Run("UpdateAttentionMask", {&sl64}, {&mask}), DT_INVALID_ARGUMENT,
                  "UpdateAttentionMask", "inputs[0] (total_length)", "int64", "int32");
  DT_EXPECT_ERROR(Run("UpdateAttentionMask", {&sl2}, {&mask}), DT_INVALID_ARGUMENT, "[2]",
                  "one element");
  DT_EXPECT_ERROR(Run("UpdateAttentionMask", {&sl}, {&mask_f}), DT_INVALID_ARGUMENT,
                  "outputs[0] (mask)", "float");
  DT_EXPECT_ERROR(Run("UpdateAttentionMask", {&sl}, {&mask3}), DT_INVALID_ARGUMENT, "[1, 2, 5]",
                  "rank 2");
  DT_EXPECT_ERROR(Run("UpdateAttentionMask", {}, {&mask}), DT_INVALID_ARGUMENT,
                  "1 input (total_length)");
  for (const Slot* s : {&mask, &mask_f, &mask3}) EXPECT_TRUE(Untouched(*s));
}

// ---- UpdatePositionIds --------------------------------------------------------------------------

using OpUpdatePositionIds = OpTest;

TEST_F(OpUpdatePositionIds, AddsTheIncrementInPlaceAndWraps) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : {DT_INT32, DT_INT64}) {
    for (int trial = 0; trial < 6; ++trial) {
      const Shape shape = RandomShape(random_, 0, 3);
      const bool by_default = trial == 0;
      const int64_t increment = by_default ? 1 : random_.Between(-1000, 1000);
      SCOPED_TRACE(Name(type) + " " + Text(shape) + " += " + std::to_string(increment));
      Elements ids = RandomElements(random_, type, shape);
      Slot s = Input(ids, true);
      DT_EXPECT_OK(Run("UpdatePositionIds", {}, {&s},
                       by_default ? std::vector<DtAttribute>{}
                                  : std::vector<DtAttribute>{IntAttribute("increment", increment)}));
      Elements expected(type, shape);
      ForType(type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (kInteger<T>) {
          using U = std::make_unsigned_t<T>;
          for (int64_t k = 0; k < expected.count(); ++k) {
            expected.Set<T>(k, static_cast<T>(static_cast<U>(ids.Get<T>(k)) + static_cast<U>(increment)));
          }
        }
      });
      EXPECT_TRUE(Holds(s, expected));
    }
  }
  Elements max(DT_INT32, {2});
  max.Set<int32_t>(0, INT32_MAX);
  max.Set<int32_t>(1, 7);
  Slot s = Input(max);
  DT_EXPECT_OK(Run("UpdatePositionIds", {}, {&s}));
  EXPECT_EQ(s.Read().Get<int32_t>(0), INT32_MIN);
  EXPECT_EQ(s.Read().Get<int32_t>(1), 8);
}

TEST_F(OpUpdatePositionIds, BadCallsWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Slot ids = Input(RandomElements(random_, DT_INT32, {1, 4}));
  Slot ids_f = Input(RandomElements(random_, DT_FLOAT, {1, 4}));
  DT_EXPECT_ERROR(Run("UpdatePositionIds", {}, {&ids}, {IntAttribute("increment", 1ll << 40)}),
                  DT_INVALID_ARGUMENT, "UpdatePositionIds", "'increment'", "int32");
  DT_EXPECT_ERROR(Run("UpdatePositionIds", {}, {&ids}, {FloatAttribute("increment", 1)}),
                  DT_INVALID_ARGUMENT, "'increment'", "float");
  DT_EXPECT_ERROR(Run("UpdatePositionIds", {}, {&ids_f}), DT_INVALID_ARGUMENT,
                  "outputs[0] (position_ids)", "float");
  DT_EXPECT_ERROR(Run("UpdatePositionIds", {&ids}, {&ids}), DT_INVALID_ARGUMENT, "0 inputs");
  EXPECT_TRUE(Untouched(ids));
  EXPECT_TRUE(Untouched(ids_f));
}

// ---- KvCacheAppend ------------------------------------------------------------------------------

using OpKvCacheAppend = OpTest;

Elements AppendReference(const Elements& cache, const Elements& new_kv, int64_t position) {
  Elements out = cache;
  const size_t size = SizeOf(cache.type);
  for (int64_t k = 0; k < new_kv.count(); ++k) {
    Shape index = Unflatten(k, new_kv.shape);
    index[2] += position;
    const Shape strides = RowMajorStrides(cache.shape);
    int64_t flat = 0;
    for (size_t i = 0; i < 4; ++i) flat += index[i] * strides[i];
    std::memcpy(out.bytes.data() + flat * size, new_kv.bytes.data() + k * size, size);
  }
  return out;
}

TEST_F(OpKvCacheAppend, WritesTheRowsInPlaceIntoStridedCaches) {
  SCOPED_TRACE(random_.trace());
  for (DtElementType type : kAllTypes) {
    for (int trial = 0; trial < 3; ++trial) {
      const int64_t batch = random_.Between(1, 3), heads = random_.Between(1, 3);
      const int64_t max_len = random_.Between(1, 8), head_dim = random_.Between(1, 5);
      const int64_t new_len = random_.Between(0, max_len);
      const int64_t position = random_.Between(0, max_len - new_len);
      SCOPED_TRACE(Name(type) + " max_len " + std::to_string(max_len) + " new_len " +
                   std::to_string(new_len) + " position " + std::to_string(position));
      Elements cache = RandomElements(random_, type, {batch, heads, max_len, head_dim});
      Elements new_kv = RandomElements(random_, type, {batch, heads, new_len, head_dim});
      Elements pos(DT_INT32, trial == 0 ? Shape{1} : Shape{});
      pos.Set<int32_t>(0, static_cast<int32_t>(position));
      Slot sc = Input(cache), sn = Input(new_kv), sp = Input(pos);
      DT_EXPECT_OK(Run("KvCacheAppend", {&sn, &sp}, {&sc}));
      EXPECT_TRUE(Holds(sc, AppendReference(cache, new_kv, position)));
      EXPECT_TRUE(Untouched(sn));
    }
  }
}

TEST_F(OpKvCacheAppend, PositionOutOfRangeFailsNamingTheNumbersAndWritesNothing) {
  SCOPED_TRACE(random_.trace());
  Slot cache = Input(RandomElements(random_, DT_FLOAT16, {1, 2, 6, 4}));
  Slot new_kv = Input(RandomElements(random_, DT_FLOAT16, {1, 2, 3, 4}));
  for (int32_t position : {-1, 4, 7, INT32_MAX, INT32_MIN}) {
    Elements pos(DT_INT32, {});
    pos.Set<int32_t>(0, position);
    Slot sp = Input(pos);
    const std::string named = "position " + std::to_string(position);
    DT_EXPECT_ERROR(Run("KvCacheAppend", {&new_kv, &sp}, {&cache}), DT_OUT_OF_RANGE,
                    "KvCacheAppend", named.c_str(), "new_len 3", "max_len 6");
    EXPECT_TRUE(Untouched(cache));
  }
}

TEST_F(OpKvCacheAppend, NewRowsFromTheCacheItselfAreReadAsTheyWere) {
  SCOPED_TRACE(random_.trace());
  // new_kv is rows 0..3 of the cache, appended at position 2: overlapping source and target. The
  // cache is a slice of a parent with a longer head_dim, so that rows are copied one by one.
  Elements cache = RandomElements(random_, DT_INT16, {2, 1, 8, 3});
  auto arena = std::make_shared<Arena>();
  arena->bytes.assign(2 * 8 * 5 * 2 + 16, kSentinel);
  Slot sc = SlotIn(arena, DT_INT16, Placement{{2, 1, 8, 5}, {0, 0, 0, 1}, {2, 1, 8, 3}, 6});
  sc.Write(cache);
  Placement rows = sc.place;
  rows.shape = {2, 1, 4, 3};
  Slot sn = SlotIn(sc.arena, DT_INT16, rows);
  const Elements new_kv = sn.Read();
  Elements pos(DT_INT32, {});
  pos.Set<int32_t>(0, 2);
  Slot sp = Input(pos);
  DT_EXPECT_OK(Run("KvCacheAppend", {&sn, &sp}, {&sc}));
  EXPECT_TRUE(Holds(sc, AppendReference(cache, new_kv, 2)));
}

TEST_F(OpKvCacheAppend, BadCallsWriteNothing) {
  SCOPED_TRACE(random_.trace());
  Slot cache = Output(DT_FLOAT, {2, 2, 6, 4});
  Slot new_kv = Input(RandomElements(random_, DT_FLOAT, {2, 2, 1, 4}));
  Slot kv_heads = Input(RandomElements(random_, DT_FLOAT, {2, 3, 1, 4}));
  Slot kv_dim = Input(RandomElements(random_, DT_FLOAT, {2, 2, 1, 5}));
  Slot kv_f16 = Input(RandomElements(random_, DT_FLOAT16, {2, 2, 1, 4}));
  Slot kv3 = Input(RandomElements(random_, DT_FLOAT, {2, 1, 4}));
  Slot pos = Input(Elements(DT_INT32, {})), pos64 = Input(Elements(DT_INT64, {}));
  DT_EXPECT_ERROR(Run("KvCacheAppend", {&kv_heads, &pos}, {&cache}), DT_INVALID_ARGUMENT,
                  "KvCacheAppend", "heads", "3", "2");
  DT_EXPECT_ERROR(Run("KvCacheAppend", {&kv_dim, &pos}, {&cache}), DT_INVALID_ARGUMENT,
                  "head_dim", "5", "4");
  DT_EXPECT_ERROR(Run("KvCacheAppend", {&kv_f16, &pos}, {&cache}), DT_INVALID_ARGUMENT,
                  "float16", "float");
  DT_EXPECT_ERROR(Run("KvCacheAppend", {&kv3, &pos}, {&cache}), DT_INVALID_ARGUMENT,
                  "inputs[0] (new_kv)", "rank 4");
  DT_EXPECT_ERROR(Run("KvCacheAppend", {&new_kv, &pos64}, {&cache}), DT_INVALID_ARGUMENT,
                  "inputs[1] (position)", "int64");
  DT_EXPECT_ERROR(Run("KvCacheAppend", {&new_kv}, {&cache}), DT_INVALID_ARGUMENT,
                  "2 inputs (new_kv, position)");
  DT_EXPECT_ERROR(Run("KvCacheAppend", {&new_kv, &pos}, {&cache}, {IntAttribute("axis", 2)}),
                  DT_INVALID_ARGUMENT, "unknown attribute 'axis'");
  EXPECT_TRUE(Untouched(cache));
}

// ---- The call itself ----------------------------------------------------------------------------

using OpCall = OpTest;

TEST_F(OpCall, TensorsOnAnotherDeviceAreRefusedBeforeAnythingRuns) {
  SCOPED_TRACE(random_.trace());
  const DtDevice* webgpu = nullptr;
  DtStatus* status = DtGetDevice(env_, DT_DEVICE_WEBGPU, 0, &webgpu);
  if (status != nullptr) {
    const std::string why = DtGetErrorMessage(status);
    DtReleaseStatus(status);
    GTEST_SKIP() << "no WebGPU device: " << why;
  }
  const int64_t shape[] = {4};
  DtValue* gpu = nullptr;
  DT_ASSERT_OK(DtCreateTensor(env_, webgpu, DT_FLOAT, shape, 1, &gpu));
  Value gpu_tensor(gpu);
  Slot a = Input(RandomElements(random_, DT_FLOAT, {4}));
  Slot c = Output(DT_FLOAT, {4});
  const DtValue* inputs[] = {a.get(), gpu};
  DtValue* outputs[] = {c.get()};
  c.arena->before = c.arena->bytes;
  a.arena->before = a.arena->bytes;
  DT_EXPECT_ERROR(DtRunOp(env_, "Add", inputs, 2, outputs, 1, nullptr, 0, nullptr),
                  DT_INVALID_ARGUMENT, "Add", "inputs[1]", "one device");
  EXPECT_TRUE(Untouched(c));
  // A WebGPU output with CPU inputs.
  const DtValue* cpu_inputs[] = {a.get(), a.get()};
  DtValue* gpu_outputs[] = {gpu};
  DT_EXPECT_ERROR(DtRunOp(env_, "Add", cpu_inputs, 2, gpu_outputs, 1, nullptr, 0, nullptr),
                  DT_INVALID_ARGUMENT, "one device");
  EXPECT_TRUE(Untouched(a));
}

TEST_F(OpCall, MalformedCallsAreRefused) {
  SCOPED_TRACE(random_.trace());
  Slot a = Input(RandomElements(random_, DT_FLOAT, {4}));
  Slot c = Output(DT_FLOAT, {4});
  const DtValue* inputs[] = {a.get(), a.get()};
  DtValue* outputs[] = {c.get()};
  c.arena->before = c.arena->bytes;
  DT_EXPECT_ERROR(DtRunOp(env_, "Softmax", inputs, 1, outputs, 1, nullptr, 0, nullptr),
                  DT_NOT_SUPPORTED, "Softmax");
  DT_EXPECT_ERROR(DtRunOp(env_, "Add", inputs, 2, outputs, 1, nullptr, 1, nullptr),
                  DT_INVALID_ARGUMENT, "attributes");
  DtAttribute unnamed = IntAttribute(nullptr, 1);
  DT_EXPECT_ERROR(DtRunOp(env_, "Add", inputs, 2, outputs, 1, &unnamed, 1, nullptr),
                  DT_INVALID_ARGUMENT, "NULL name");
  DtAttribute ints{};
  ints.name = "to";
  ints.type = DT_ATTR_INTS;
  ints.count = 2;
  DT_EXPECT_ERROR(DtRunOp(env_, "Cast", inputs, 1, outputs, 1, &ints, 1, nullptr),
                  DT_INVALID_ARGUMENT, "'to'");
  DtAttribute bad_type = IntAttribute("to", 1);
  bad_type.type = static_cast<DtAttributeType>(42);
  DT_EXPECT_ERROR(DtRunOp(env_, "Cast", inputs, 1, outputs, 1, &bad_type, 1, nullptr),
                  DT_INVALID_ARGUMENT, "'to'", "42");
  EXPECT_TRUE(Untouched(c));
}

TEST_F(OpCall, RunsOnACpuStream) {
  SCOPED_TRACE(random_.trace());
  DtStream* stream = nullptr;
  DT_ASSERT_OK(DtCreateStream(env_, cpu_, &stream));
  Elements a = RandomElements(random_, DT_DOUBLE, {3, 2}), b = RandomElements(random_, DT_DOUBLE, {2});
  Slot sa = Input(a), sb = Input(b), sc = Output(DT_DOUBLE, {3, 2});
  const DtValue* inputs[] = {sa.get(), sb.get()};
  DtValue* outputs[] = {sc.get()};
  sc.arena->before = sc.arena->bytes;
  DT_EXPECT_OK(DtRunOp(env_, "Add", inputs, 2, outputs, 1, nullptr, 0, stream));
  DT_EXPECT_OK(DtSynchronizeStream(stream));
  EXPECT_TRUE(Holds(sc, BinaryReference('+', a, b, {3, 2})));
  DtReleaseStream(stream);
}

}  // namespace
