#include "providers/webgpu/op_kernels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "layout/element_type.h"
#include "providers/webgpu/copy_kernel.h"
#include "providers/webgpu/op_dispatch.h"

namespace devtensor::webgpu {
namespace {

// ---- element types ------------------------------------------------------------------------------

// How a type is computed with in WGSL: f32, i32, u32, or raw 64-bit words (vec2<u32>).
enum class Class { kFloat, kSigned, kUnsigned, kWide };

struct TypeInfo {
  uint32_t size;
  Class cls;
};

bool Describe(DtElementType type, TypeInfo* info) {
  switch (type) {
    case DT_FLOAT: *info = {4, Class::kFloat}; return true;
    case DT_FLOAT16: *info = {2, Class::kFloat}; return true;
    case DT_BFLOAT16: *info = {2, Class::kFloat}; return true;
    case DT_INT8: *info = {1, Class::kSigned}; return true;
    case DT_INT16: *info = {2, Class::kSigned}; return true;
    case DT_INT32: *info = {4, Class::kSigned}; return true;
    case DT_UINT8: case DT_BOOL: *info = {1, Class::kUnsigned}; return true;
    case DT_UINT16: *info = {2, Class::kUnsigned}; return true;
    case DT_UINT32: *info = {4, Class::kUnsigned}; return true;
    case DT_INT64: case DT_UINT64: case DT_DOUBLE: *info = {8, Class::kWide}; return true;
  }
  return false;
}

// ---- shader pieces ------------------------------------------------------------------------------

// Helpers every op shader has: 64-bit integer arithmetic on (low, high) words, exact conversions
// between f32 and f16/bf16/f64 bit patterns (round to nearest even), and the element index.
constexpr const char* kLibrary = R"(

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}
fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}
fn mul32(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let middle = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let lo = (p00 & 0xffffu) | (middle << 16u);
  let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (middle >> 16u);
  return vec2<u32>(lo, hi);
}
fn mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let low = mul32(a.x, b.x);
  return vec2<u32>(low.x, low.y + a.x * b.y + a.y * b.x);
}
fn less_i64(a: vec2<u32>, b: vec2<u32>) -> bool {
  return bitcast<i32>(a.y) < bitcast<i32>(b.y) || (a.y == b.y && a.x < b.x);
}
fn less_u64(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.y < b.y || (a.y == b.y && a.x < b.x);
}
fn f32_to_f16(f: f32) -> u32 {
  let x = bitcast<u32>(f);
  let sign = (x >> 16u) & 0x8000u;
  let exponent = (x >> 23u) & 0xffu;
  let mantissa = x & 0x7fffffu;
  if (exponent == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u | (mantissa >> 13u), mantissa != 0u); }
  let e = i32(exponent) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let m = mantissa | 0x800000u;
    let shift = u32(14 - e);
    let halfway = 1u << (shift - 1u);
    let rest = m & ((1u << shift) - 1u);
    var r = m >> shift;
    if (rest > halfway || (rest == halfway && (r & 1u) == 1u)) { r += 1u; }
    return sign | r;
  }
  var r = (u32(e) << 10u) | (mantissa >> 13u);
  let rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 1u) == 1u)) { r += 1u; }
  return sign | r;
}
// By bits: GPUs may flush subnormals and canonicalise NaNs in float instructions.
fn f16_to_f32(bits: u32) -> f32 {
  let sign = (bits & 0x8000u) << 16u;
  let e = (bits >> 10u) & 0x1fu;
  let m = bits & 0x3ffu;
  if (e == 0x1fu) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); }
  if (e == 0u) {
    if (m == 0u) { return bitcast<f32>(sign); }
    let top = firstLeadingBit(m);  // f16 subnormals are normal f32 values
    return bitcast<f32>(sign | ((top + 103u) << 23u) | ((m << (23u - top)) & 0x7fffffu));
  }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}
fn f32_to_bf16(f: f32) -> u32 {
  let x = bitcast<u32>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) { return (x >> 16u) | 0x40u; }
  return (x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u;
}
fn bf16_to_f32(bits: u32) -> f32 { return bitcast<f32>((bits & 0xffffu) << 16u); }
fn f32_to_f64(f: f32) -> vec2<u32> {
  let x = bitcast<u32>(f);
  let sign = x & 0x80000000u;
  let exponent = (x >> 23u) & 0xffu;
  var m = x & 0x7fffffu;
  if (exponent == 0xffu) { return vec2<u32>(m << 29u, sign | 0x7ff00000u | (m >> 3u)); }
  if (exponent == 0u) {
    if (m == 0u) { return vec2<u32>(0u, sign); }
    var e = 897u;
    loop {
      if ((m & 0x800000u) != 0u) { break; }
      m = m << 1u;
      e = e - 1u;
    }
    m = m & 0x7fffffu;
    return vec2<u32>(m << 29u, sign | (e << 20u) | (m >> 3u));
  }
  return vec2<u32>(m << 29u, sign | ((exponent + 896u) << 20u) | (m >> 3u));
}
fn shl64(v: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return v; }
  if (s >= 64u) { return vec2<u32>(0u, 0u); }
  if (s >= 32u) { return vec2<u32>(0u, v.x << (s - 32u)); }
  return vec2<u32>(v.x << s, (v.y << s) | (v.x >> (32u - s)));
}
fn shr64(v: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return v; }
  if (s >= 64u) { return vec2<u32>(0u, 0u); }
  if (s >= 32u) { return vec2<u32>(v.y >> (s - 32u), 0u); }
  return vec2<u32>((v.x >> s) | (v.y << (32u - s)), v.y >> s);
}
fn neg64(v: vec2<u32>) -> vec2<u32> { return add64(vec2<u32>(~v.x, ~v.y), vec2<u32>(1u, 0u)); }
fn is_zero64(v: vec2<u32>) -> bool { return v.x == 0u && v.y == 0u; }
fn msb64(v: vec2<u32>) -> u32 {
  if (v.y != 0u) { return 32u + firstLeadingBit(v.y); }
  return firstLeadingBit(v.x);
}
// v >> s rounded to nearest, ties to even.
fn round_shr64(v: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return v; }
  let kept = shr64(v, s);
  let rest = sub64(v, shl64(kept, s));
  let half = shl64(vec2<u32>(1u, 0u), s - 1u);
  if (less_u64(half, rest) || (rest.x == half.x && rest.y == half.y && (kept.x & 1u) == 1u)) {
    return add64(kept, vec2<u32>(1u, 0u));
  }
  return kept;
}
// The magnitude m (with its sign) as an f32 rounded once to `sig` significant bits (24: f32,
// 11: f16, 8: bf16), so that narrowing the result to the target format is exact.
fn int_to_float(m: vec2<u32>, negative: bool, sig: u32) -> f32 {
  if (is_zero64(m)) { return 0.0; }
  let p = msb64(m);
  var kept = m;
  var scale = 0u;
  if (p + 1u > sig) {
    scale = p + 1u - sig;
    kept = round_shr64(m, scale);
  }
  // kept has at most sig + 1 significant bits: both halves convert exactly.
  let magnitude = ldexp(f32(kept.y) * 4294967296.0 + f32(kept.x), i32(scale));
  return select(magnitude, -magnitude, negative);
}
fn int_to_f64(m: vec2<u32>, negative: bool) -> vec2<u32> {
  if (is_zero64(m)) { return vec2<u32>(0u, 0u); }
  var p = msb64(m);
  var mantissa: vec2<u32>;
  if (p <= 52u) {
    mantissa = shl64(m, 52u - p);
  } else {
    mantissa = round_shr64(m, p - 52u);
    if (msb64(mantissa) == 53u) { mantissa = shr64(mantissa, 1u); p = p + 1u; }
  }
  let high = (mantissa.y & 0xfffffu) | ((p + 1023u) << 20u) | select(0u, 0x80000000u, negative);
  return vec2<u32>(mantissa.x, high);
}
// An f64 as an f32 rounded once to the target's precision: `sig` significant bits, fewer below
// its smallest normal exponent `emin` (f32 -126, f16 -14, bf16 -126), where it is subnormal.
// Built from bits alone, so that subnormal results survive GPUs that flush them in arithmetic.
fn f64_to_float(v: vec2<u32>, sig: u32, emin: i32) -> f32 {
  let sign = v.y & 0x80000000u;
  let e = i32((v.y >> 20u) & 0x7ffu);
  let fraction = vec2<u32>(v.x, v.y & 0xfffffu);
  if (e == 0x7ff) {
    if (!is_zero64(fraction)) { return bitcast<f32>(sign | 0x7fc00000u | (fraction.y << 3u) | (fraction.x >> 29u)); }
    return bitcast<f32>(sign | 0x7f800000u);
  }
  if (e == 0) { return bitcast<f32>(sign); }  // f64 subnormals: far below every target
  let m = vec2<u32>(fraction.x, fraction.y | 0x100000u);  // 53 significant bits
  let exponent = e - 1023;
  let keep = i32(sig) - max(emin - exponent, 0);
  if (keep < 0) { return bitcast<f32>(sign); }
  let drop = u32(53 - keep);
  let kept = round_shr64(m, drop).x;  // below 2^25
  if (kept == 0u) { return bitcast<f32>(sign); }
  // The value is kept * 2^(exponent - 52 + drop).
  let top = firstLeadingBit(kept);
  let e32 = i32(top) + exponent - 52 + i32(drop);
  if (e32 > 127) { return bitcast<f32>(sign | 0x7f800000u); }
  if (e32 >= -126) {
    var mantissa = kept;
    if (top > 23u) { mantissa = kept >> (top - 23u); } else { mantissa = kept << (23u - top); }
    return bitcast<f32>(sign | (u32(e32 + 127) << 23u) | (mantissa & 0x7fffffu));
  }
  // An f32 subnormal: kept was rounded at its last place, 2^-149.
  return bitcast<f32>(sign | (kept << u32(exponent - 52 + i32(drop) + 149)));
}
// Truncation toward zero of a float given as (magnitude bits m with `fraction_bits` below the
// point, unbiased exponent e): the integer part's magnitude, or all ones when it needs 64 bits.
fn trunc_magnitude(m: vec2<u32>, e: i32, fraction_bits: u32) -> vec2<u32> {
  if (e < 0) { return vec2<u32>(0u, 0u); }
  if (e >= 64) { return vec2<u32>(0xffffffffu, 0xffffffffu); }
  if (u32(e) >= fraction_bits) { return shl64(m, u32(e) - fraction_bits); }
  return shr64(m, fraction_bits - u32(e));
}
fn f32_magnitude(f: f32) -> vec2<u32> {
  let x = bitcast<u32>(f);
  let e = i32((x >> 23u) & 0xffu);
  if (e == 0xff) { return select(vec2<u32>(0xffffffffu, 0xffffffffu), vec2<u32>(0u, 0u), (x & 0x7fffffu) != 0u); }
  if (e == 0) { return vec2<u32>(0u, 0u); }
  return trunc_magnitude(vec2<u32>((x & 0x7fffffu) | 0x800000u, 0u), e - 127, 23u);
}
fn f64_magnitude(v: vec2<u32>) -> vec2<u32> {
  let e = i32((v.y >> 20u) & 0x7ffu);
  if (e == 0x7ff) { return select(vec2<u32>(0xffffffffu, 0xffffffffu), vec2<u32>(0u, 0u), (v.x | (v.y & 0xfffffu)) != 0u); }
  if (e == 0) { return vec2<u32>(0u, 0u); }
  return trunc_magnitude(vec2<u32>(v.x, (v.y & 0xfffffu) | 0x100000u), e - 1023, 52u);
}
// A truncated float (magnitude, sign) saturated into [lo, hi] of a signed target of up to 64 bits.
fn saturate_signed(m: vec2<u32>, negative: bool, lo: vec2<u32>, hi: vec2<u32>) -> vec2<u32> {
  if (negative) {
    if (less_u64(neg64(lo), m)) { return lo; }
    return neg64(m);
  }
  if (less_u64(hi, m)) { return hi; }
  return m;
}
fn saturate_unsigned(m: vec2<u32>, negative: bool, hi: vec2<u32>) -> vec2<u32> {
  if (negative) { return vec2<u32>(0u, 0u); }
  if (less_u64(hi, m)) { return hi; }
  return m;
}
fn abs64(v: vec2<u32>) -> vec2<u32> { return select(v, neg64(v), bitcast<i32>(v.y) < 0); }
fn sign_extend(x: i32) -> vec2<u32> {
  return vec2<u32>(bitcast<u32>(x), select(0u, 0xffffffffu, x < 0));
}

// Element `i` of the call's index space (shape at p[8..15], rank p[1]) as a multi-index.
fn unravel(i: u32) -> array<u32, 8> {
  var index: array<u32, 8>;
  var rest = i;
  for (var d = i32(pw(1)) - 1; d >= 0; d--) {
    let n = pw(8u + u32(d));
    index[d] = rest % n;
    rest = rest / n;
  }
  return index;
}
// Byte address of `index` in tensor `t` (0: the output, 1...: inputs; base and strides in p).
fn address(t: u32, index: array<u32, 8>) -> u32 {
  var a = pw(16u + t * 12u);
  for (var d = 0u; d < pw(1); d++) { a += index[d] * pw(17u + t * 12u + d); }
  return a;
}
fn out_word(w: u32) -> u32 { return out_load(w); }
// Writes the low `size` bytes of `bits` at byte `a`, leaving the rest of the word as it is.
fn store_bits(a: u32, bits: u32, size: u32) {
  if (size == 4u) { out_store(a >> 2u, bits); return; }
  let shift = (a & 3u) * 8u;
  let mask = ((1u << (size * 8u)) - 1u) << shift;
  out_and(a >> 2u, ~mask);
  out_or(a >> 2u, (bits << shift) & mask);
}
fn store_wide(a: u32, v: vec2<u32>) {
  out_store(a >> 2u, v.x);
  out_store((a >> 2u) + 1u, v.y);
}
)";

// Raw bits of an element at byte `a` through word accessor `word`: u32 for sizes 1, 2 and 4
// (zero-extended), vec2<u32> for 8.
std::string RawLoad(const std::string& name, const std::string& word, uint32_t size) {
  std::string f = "fn " + name + "(a: u32) -> " + (size == 8 ? "vec2<u32>" : "u32") + " {\n";
  if (size == 8) {
    f += "  return vec2<u32>(" + word + "(a >> 2u), " + word + "((a >> 2u) + 1u));\n";
  } else if (size == 4) {
    f += "  return " + word + "(a >> 2u);\n";
  } else {
    f += "  return (" + word + "(a >> 2u) >> ((a & 3u) * 8u)) & " + (size == 1 ? "0xffu" : "0xffffu") + ";\n";
  }
  return f + "}\n";
}

// Value of an element of `type` from its raw bits `r`, in the type's compute class.
std::string FromBits(DtElementType type, const std::string& r) {
  switch (type) {
    case DT_FLOAT: return "bitcast<f32>(" + r + ")";
    case DT_FLOAT16: return "f16_to_f32(" + r + ")";
    case DT_BFLOAT16: return "bf16_to_f32(" + r + ")";
    case DT_INT8: return "extractBits(bitcast<i32>(" + r + "), 0u, 8u)";
    case DT_INT16: return "extractBits(bitcast<i32>(" + r + "), 0u, 16u)";
    case DT_INT32: return "bitcast<i32>(" + r + ")";
    default: return r;  // unsigned and bool as u32, 64-bit as raw words
  }
}

// Raw bits of a value of `type` (in its compute class).
std::string ToBits(DtElementType type, const std::string& v) {
  switch (type) {
    case DT_FLOAT: return "bitcast<u32>(" + v + ")";
    case DT_FLOAT16: return "f32_to_f16(" + v + ")";
    case DT_BFLOAT16: return "f32_to_bf16(" + v + ")";
    case DT_INT8: case DT_INT16: case DT_INT32: return "bitcast<u32>(" + v + ")";
    default: return v;
  }
}

std::string Store(DtElementType type, uint32_t size, const std::string& address,
                  const std::string& value) {
  if (size == 8) return "store_wide(" + address + ", " + value + ");";
  return "store_bits(" + address + ", " + ToBits(type, value) + ", " + std::to_string(size) + "u);";
}
std::string StoreRaw(uint32_t size, const std::string& address, const std::string& bits) {
  if (size == 8) return "store_wide(" + address + ", " + bits + ");";
  return "store_bits(" + address + ", " + bits + ", " + std::to_string(size) + "u);";
}

// A conversion of a value of `from` (its class) into a value of `to` (its class), as Cast does
// on the host: integers wrap, floats to integers truncate and saturate (NaN gives 0), to floats
// rounds once to nearest even, to bool is "not zero" (NaN is true). Empty when there is none.
std::string Convert(DtElementType from, DtElementType to, const std::string& v) {
  if (from == to) return v;
  TypeInfo a{}, b{};
  Describe(from, &a);
  Describe(to, &b);
  const bool from_float = a.cls == Class::kFloat || from == DT_DOUBLE;
  const bool from_int64 = from == DT_INT64 || from == DT_UINT64;
  // The source as (magnitude, negative) for integer and truncated-float paths.
  std::string magnitude, negative;
  if (from == DT_DOUBLE) {
    magnitude = "f64_magnitude(" + v + ")";
    negative = "((" + v + ".y & 0x80000000u) != 0u)";
  } else if (a.cls == Class::kFloat) {
    magnitude = "f32_magnitude(" + v + ")";
    negative = "((bitcast<u32>(" + v + ") & 0x80000000u) != 0u)";
  } else if (from == DT_INT64) {
    magnitude = "abs64(" + v + ")";
    negative = "(bitcast<i32>(" + v + ".y) < 0)";
  } else if (from == DT_UINT64) {
    magnitude = v;
    negative = "false";
  } else if (a.cls == Class::kSigned) {
    magnitude = "abs64(sign_extend(" + v + "))";
    negative = "(" + v + " < 0)";
  } else {
    magnitude = "vec2<u32>(" + v + ", 0u)";
    negative = "false";
  }
  if (to == DT_BOOL) {
    if (from == DT_DOUBLE) return "select(0u, 1u, ((" + v + ".y & 0x7fffffffu) | " + v + ".x) != 0u)";
    if (a.cls == Class::kFloat) return "select(0u, 1u, (bitcast<u32>(" + v + ") & 0x7fffffffu) != 0u)";
    if (from_int64) return "select(0u, 1u, !is_zero64(" + v + "))";
    return std::string("select(0u, 1u, ") + v + (a.cls == Class::kSigned ? " != 0)" : " != 0u)");
  }
  if (b.cls == Class::kFloat) {  // f32, f16, bf16: rounded once to the target's precision
    const std::string sig = to == DT_FLOAT ? "24u" : to == DT_FLOAT16 ? "11u" : "8u";
    const std::string emin = to == DT_FLOAT16 ? "-14" : "-126";
    if (from == DT_DOUBLE) return "f64_to_float(" + v + ", " + sig + ", " + emin + ")";
    if (a.cls == Class::kFloat) return v;  // f16/bf16 -> f32 is exact; narrowing rounds at store
    return "int_to_float(" + magnitude + ", " + negative + ", " + sig + ")";
  }
  if (to == DT_DOUBLE) {
    if (a.cls == Class::kFloat) return "f32_to_f64(" + v + ")";
    return "int_to_f64(" + magnitude + ", " + negative + ")";
  }
  // Integer targets.
  if (from_float) {
    std::string lo, hi;
    switch (to) {
      case DT_INT8: lo = "vec2<u32>(0xffffff80u, 0xffffffffu)"; hi = "vec2<u32>(127u, 0u)"; break;
      case DT_INT16: lo = "vec2<u32>(0xffff8000u, 0xffffffffu)"; hi = "vec2<u32>(32767u, 0u)"; break;
      case DT_INT32: lo = "vec2<u32>(0x80000000u, 0xffffffffu)"; hi = "vec2<u32>(0x7fffffffu, 0u)"; break;
      case DT_INT64: lo = "vec2<u32>(0u, 0x80000000u)"; hi = "vec2<u32>(0xffffffffu, 0x7fffffffu)"; break;
      case DT_UINT8: hi = "vec2<u32>(255u, 0u)"; break;
      case DT_UINT16: hi = "vec2<u32>(65535u, 0u)"; break;
      case DT_UINT32: hi = "vec2<u32>(0xffffffffu, 0u)"; break;
      case DT_UINT64: hi = "vec2<u32>(0xffffffffu, 0xffffffffu)"; break;
      default: return "";
    }
    const std::string t = lo.empty() ? "saturate_unsigned(" + magnitude + ", " + negative + ", " + hi + ")"
                                     : "saturate_signed(" + magnitude + ", " + negative + ", " + lo + ", " + hi + ")";
    if (b.cls == Class::kWide) return t;
    return b.cls == Class::kSigned ? "bitcast<i32>(" + t + ".x)" : t + ".x";
  }
  // Integer to integer: two's complement wrap.
  if (b.cls == Class::kWide) {
    if (from_int64) return v;
    return a.cls == Class::kSigned ? "sign_extend(" + v + ")" : "vec2<u32>(" + v + ", 0u)";
  }
  const std::string low = from_int64 ? v + ".x" : (a.cls == Class::kSigned ? "bitcast<u32>(" + v + ")" : v);
  return b.cls == Class::kSigned ? "bitcast<i32>(" + low + ")" : low;
}

// ---- parameters and bindings ---------------------------------------------------------------------

// A tensor bound to the shader: the buffer window that covers it and its element 0 inside it.
struct Bound {
  wgpu::Buffer buffer = nullptr;
  uint64_t window_offset = 0;
  uint64_t window_size = 0;
  uint64_t begin = 0, end = 0;  // the bytes the tensor spans in the buffer (begin: element 0)
};

bool IsEmpty(const DtTensorRef& t) {
  return std::any_of(t.shape, t.shape + t.rank, [](int64_t n) { return n == 0; });
}

// Bytes from the first element to the end of the last; 0 when empty, UINT64_MAX when it does not
// fit (no buffer is that large, so binding it fails with the numbers).
uint64_t Extent(const DtTensorRef& t) {
  if (IsEmpty(t)) return 0;
  uint64_t last = 0;
  for (size_t i = 0; i < t.rank; ++i) {
    uint64_t step = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(t.shape[i] - 1),
                               static_cast<uint64_t>(t.strides[i]), &step) ||
        __builtin_add_overflow(last, step, &last)) {
      return UINT64_MAX;
    }
  }
  uint64_t bytes = 0;
  if (__builtin_add_overflow(last, 1, &last) || __builtin_mul_overflow(last, t.element_size, &bytes)) {
    return UINT64_MAX;
  }
  return bytes;
}

class OpBuilder {
 public:
  OpBuilder(Context& context, CommandList& list, const DtOpCall& call)
      : context_(context), api_(context.api()), list_(list), call_(call) {
  }

  DtStatus* NotSupported(const std::string& why) {
    // The type that decides which kernel: the first input's (what Cast or ArgMax reads), else the
    // output's.
    const DtElementType type =
        call_.num_inputs > 0 ? call_.inputs[0]->element_type : call_.outputs[0]->element_type;
    std::string message = std::string(call_.op_type) + " on " + ElementTypeName(type) +
                          " on WebGPU:" + std::to_string(call_.device_id) + ": " + why;
    return context_.host()->CreateStatus(DT_NOT_SUPPORTED, message.c_str());
  }
  DtStatus* Fail(DtErrorCode code, const std::string& why) {
    std::string message = std::string(call_.op_type) + ": " + why;
    return context_.host()->CreateStatus(code, message.c_str());
  }

  // Binds the output (slot 0). Must come first: inputs are compared with it.
  DtStatus* BindOutput(const DtTensorRef& out) {
    out_ = out;
    return Bind(out, &bound_[0]);
  }

  // Binds input `slot` (1..4). An input in the output's buffer is read through the output's
  // binding (whose window grows to cover it) when it is the output's very view and `may_alias`,
  // or when the bytes it spans are apart from the output's; else through a scratch copy.
  DtStatus* BindInput(uint32_t slot, const DtTensorRef& in, bool may_alias, DtTensorRef* used) {
    *used = in;
    if (IsEmpty(in)) {
      // Never read (a dispatch over its elements has none): the output's window stands in, so
      // that an empty view at the very end of a buffer needs no binding of its own.
      aliased_[slot] = true;
      bound_[slot] = bound_[0];
      bound_[slot].end = bound_[slot].begin;
      return nullptr;
    }
    if (in.handle != out_.handle) return Bind(in, &bound_[slot]);
    const bool same_view = may_alias && in.byte_offset == out_.byte_offset && in.rank == out_.rank &&
                           std::equal(in.shape, in.shape + in.rank, out_.shape) &&
                           std::equal(in.strides, in.strides + in.rank, out_.strides) &&
                           in.element_size == out_.element_size;
    const uint64_t begin = in.byte_offset, end = SpanEnd(in);
    if (end == UINT64_MAX) return Bind(in, &bound_[slot]);  // which says why it cannot be bound
    const bool apart = end <= bound_[0].begin || bound_[0].end <= begin;
    if (same_view || (apart && CoverInOutput(begin, end))) {
      aliased_[slot] = true;
      bound_[slot] = bound_[0];
      bound_[slot].begin = begin;
      bound_[slot].end = end;
      return nullptr;
    }
    // Stage: copy the input's elements, densely, into a buffer of its own.
    // Not empty, and bound above as a window of one buffer: the count and bytes fit.
    const uint64_t bytes = [&] {
      uint64_t n = in.element_size;
      for (size_t i = 0; i < in.rank; ++i) n *= static_cast<uint64_t>(in.shape[i]);
      return n;
    }();
    wgpu::Buffer scratch = nullptr;
    if (DtStatus* s = list_.TakeBuffer((bytes + 3) & ~uint64_t(3), Context::kTensorUsage, &scratch)) {
      return s;
    }
    staged_strides_.emplace_back(DT_MAX_RANK, 0);
    int64_t* strides = staged_strides_.back().data();
    int64_t stride = 1;
    for (size_t i = in.rank; i-- > 0;) {
      strides[i] = stride;
      stride *= std::max<int64_t>(in.shape[i], 1);
    }
    DtTensorRef dense = in;
    dense.handle = scratch;
    dense.byte_offset = 0;
    dense.buffer_bytes = api_.BufferGetSize(scratch);
    dense.strides = strides;
    DtTensorRef from = in;
    from.buffer_bytes = api_.BufferGetSize(static_cast<wgpu::Buffer>(in.handle));
    KernelJob job = MakeKernelJob(dense, scratch, &from, static_cast<wgpu::Buffer>(in.handle));
    if (DtStatus* s = CheckKernelJob(context_, job)) return s;
    if (DtStatus* s = RecordKernelJobs(context_, list_, {job})) return s;
    *used = dense;
    return Bind(dense, &bound_[slot]);
  }

  // Index space of the dispatch (one invocation per element of `shape`). A count past 2^64
  // saturates; Dispatch refuses any past 2^32.
  void SetSpace(const int64_t* shape, size_t rank) {
    count_ = 1;
    params_[1] = static_cast<uint32_t>(rank);
    for (size_t d = 0; d < rank; ++d) {
      params_[8 + d] = static_cast<uint32_t>(shape[d]);
      if (__builtin_mul_overflow(count_, static_cast<uint64_t>(shape[d]), &count_)) count_ = UINT64_MAX;
    }
  }
  // Strides (bytes) of tensor `slot` over the dispatch's dimensions, modulo 2^32. Shaders sum
  // addresses in u32 arithmetic, which is modulo 2^32 too, and every address a dispatch reaches
  // lies in its binding (below 2^32 bytes), so the sums are exact; unsigned arithmetic keeps the
  // huge strides of empty tensors (never dispatched) defined.
  void SetStrides(uint32_t slot, const int64_t* element_strides, size_t rank, size_t element_size) {
    for (size_t d = 0; d < rank; ++d) {
      params_[17 + slot * 12 + d] =
          static_cast<uint32_t>(static_cast<uint64_t>(element_strides[d]) * element_size);
    }
  }
  uint32_t& Extra(size_t i) { return params_[3 + i]; }   // 5 words of op-specific values
  uint32_t& Word(size_t i) { return params_[i]; }         // anywhere, for ops with more

  DtStatus* BindFlags() {
    if (DtStatus* s = context_.ErrorFlags(&flags_)) return s;
    return nullptr;
  }

  // Finds (or compiles) the kernel family and records one dispatch over the index space. The
  // family is found by the op, `variant` (what else its body depends on), the call's element
  // types, which inputs are read through the output's binding and whether it raises flags;
  // `body` makes its WGSL (see op_dispatch.h) on first use. A `batchable` body starts its main
  // with MainHead, and its parameters hold no place in a buffer but the bases.
  DtStatus* Dispatch(const DtOpCall& call, const char* variant, const std::function<std::string()>& body,
                     uint32_t inputs, bool batchable = true) {
    if (count_ == 0) return nullptr;
    if (count_ > 0xFFFFFFFFull) return NotSupported("more than 2^32 elements in one op");
    for (uint32_t t = 0; t <= inputs; ++t) {
      const Bound& window = bound_[t > 0 && aliased_[t] ? 0 : t];  // read through the output's
      params_[OpBaseWord(t)] = static_cast<uint32_t>(bound_[t].begin - window.window_offset);
    }
    params_[0] = static_cast<uint32_t>(count_);
    uint32_t columns = 0, rows = 0;
    OpGrid(context_.limits(), (count_ + kOpWorkgroup - 1) / kOpWorkgroup, &columns, &rows);
    params_[2] = columns * kOpWorkgroup;
    std::string key;
    key.reserve(96);
    key.append(call.op_type).append("/").append(variant).append("/");
    for (size_t k = 0; k < call.num_outputs; ++k) key.append(ElementTypeName(call.outputs[k]->element_type)).append(",");
    key.append("/");
    for (size_t k = 0; k < call.num_inputs; ++k) key.append(ElementTypeName(call.inputs[k]->element_type)).append(",");
    key.append("/");
    for (uint32_t k = 1; k <= inputs; ++k) key.push_back(aliased_[k] ? 'a' : 'b');
    if (flags_ != nullptr) key.append("/flags");
    const KernelFamily* family = FamilyFor(context_, key, [&](KernelFamily& f) {
      f.body = body();
      f.inputs = inputs;
      std::copy(aliased_, aliased_ + kOpInputs + 1, f.aliased);
      f.uses_flags = flags_ != nullptr;
      f.batchable = batchable;
    });
    if (family == nullptr) {
      return Fail(DT_INTERNAL, "the WebGPU shader did not compile: " + context_.TakeErrorText());
    }
    OpDispatch& op = list_.AddOp();
    op.family = family;
    op.params = params_;
    for (uint32_t t = 0; t <= inputs; ++t) {
      const Bound& window = bound_[t > 0 && aliased_[t] ? 0 : t];
      op.roles[t] = {bound_[t].buffer, window.window_offset, window.window_size, bound_[t].begin,
                     bound_[t].end};
    }
    op.flags = flags_;
    op.invocations = count_;
    return nullptr;
  }

 private:
  // Grows the output's window to cover bytes [begin, end) of its buffer too; false when it would
  // then be larger than one binding may be.
  bool CoverInOutput(uint64_t begin, uint64_t end) {
    Bound& out = bound_[0];
    const uint64_t alignment =
        std::max<uint64_t>(context_.limits().min_storage_buffer_offset_alignment, 4);
    const uint64_t offset = std::min(out.window_offset, begin / alignment * alignment);
    const uint64_t window_end = std::max(out.window_offset + out.window_size, (end + 3) & ~uint64_t(3));
    if (window_end > api_.BufferGetSize(out.buffer) ||
        window_end - offset > context_.limits().max_storage_buffer_binding_size) {
      return false;
    }
    out.window_offset = offset;
    out.window_size = window_end - offset;
    return true;
  }

  // One past the last byte `t` spans (at least one byte, for an empty tensor); UINT64_MAX when that
  // does not fit.
  static uint64_t SpanEnd(const DtTensorRef& t) {
    uint64_t end = 0;
    if (__builtin_add_overflow(t.byte_offset, std::max<uint64_t>(Extent(t), 1), &end) ||
        end > UINT64_MAX - 3) {
      return UINT64_MAX;
    }
    return end;
  }

  DtStatus* Bind(const DtTensorRef& t, Bound* bound) {
    const uint64_t alignment =
        std::max<uint64_t>(context_.limits().min_storage_buffer_offset_alignment, 4);
    auto buffer = static_cast<wgpu::Buffer>(t.handle);
    const uint64_t size = api_.BufferGetSize(buffer);
    const uint64_t begin = t.byte_offset, end = SpanEnd(t);
    bound->buffer = buffer;
    bound->begin = begin;
    bound->end = end;
    bound->window_offset = begin / alignment * alignment;
    if (end == UINT64_MAX) {
      return NotSupported("a tensor at byte " + std::to_string(begin) + " spans more bytes than " +
                          "a 64-bit offset holds");
    }
    bound->window_size = ((end + 3) & ~uint64_t(3)) - bound->window_offset;
    if (bound->window_offset + bound->window_size > size) {
      return NotSupported("a tensor ends in the last, partial word of a buffer whose size is not "
                          "a multiple of 4");
    }
    if (bound->window_size > context_.limits().max_storage_buffer_binding_size) {
      return NotSupported("a tensor spans " + std::to_string(bound->window_size) +
                          " bytes, more than one shader binding of this device takes (" +
                          std::to_string(context_.limits().max_storage_buffer_binding_size) + ")");
    }
    return nullptr;
  }

  Context& context_;
  const wgpu::Api& api_;
  CommandList& list_;
  const DtOpCall& call_;
  DtTensorRef out_{};
  Bound bound_[kOpInputs + 1];
  bool aliased_[kOpInputs + 1] = {};
  std::vector<std::vector<int64_t>> staged_strides_;
  std::array<uint32_t, kOpParamWords> params_{};  // see the layout in kLibrary
  uint64_t count_ = 0;
  wgpu::Buffer flags_ = nullptr;
};

// ---- attributes ----------------------------------------------------------------------------------

const DtAttribute* FindAttribute(const DtOpCall& call, const char* name) {
  for (size_t i = 0; i < call.num_attributes; ++i) {
    if (std::strcmp(call.attributes[i].name, name) == 0) return &call.attributes[i];
  }
  return nullptr;
}
int64_t IntAttribute(const DtOpCall& call, const char* name, int64_t fallback) {
  const DtAttribute* a = FindAttribute(call, name);
  return a != nullptr ? a->i : fallback;
}

// Strides (elements) of `t` broadcast to `rank` dimensions of `shape`: right-aligned, 0 where t
// has size 1 or no dimension.
std::vector<int64_t> BroadcastStrides(const DtTensorRef& t, const int64_t* shape, size_t rank) {
  std::vector<int64_t> strides(rank, 0);
  for (size_t i = 0; i < t.rank; ++i) {
    const size_t d = rank - t.rank + i;
    strides[d] = (t.shape[i] == 1 && shape[d] != 1) ? 0 : t.strides[i];
  }
  return strides;
}

// The start of a batchable kernel's main: the invocation's element (see op_dispatch.h).
std::string MainHead() {
  return "@compute @workgroup_size(256)\n"
         "fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,\n"
         "        @builtin(local_invocation_index) lane: u32) {\n"
         "  let i = element_index(group, groups, lane);\n"
         "  if (i >= pw(0)) { return; }\n"
         "  let index = unravel(i);\n";
}

// ---- ops -----------------------------------------------------------------------------------------

// Add, Sub, Mul, Div with broadcasting; Where; Expand; Cast: one invocation per output element,
// inputs read at their broadcast positions.
DtStatus* Elementwise(OpBuilder& b, const DtOpCall& call) {
  const std::string op = call.op_type;
  const DtTensorRef& out = *call.outputs[0];
  TypeInfo out_type{};
  if (!Describe(out.element_type, &out_type)) return b.NotSupported("no such element type");
  if (DtStatus* s = b.BindOutput(out)) return s;
  const uint32_t inputs = op == "Expand" ? 1 : static_cast<uint32_t>(call.num_inputs);
  std::vector<DtTensorRef> used(inputs);
  for (uint32_t k = 0; k < inputs; ++k) {
    if (DtStatus* s = b.BindInput(k + 1, *call.inputs[k], true, &used[k])) return s;
  }
  b.SetSpace(out.shape, out.rank);
  b.SetStrides(0, out.strides, out.rank, out.element_size);
  for (uint32_t k = 0; k < inputs; ++k) {
    std::vector<int64_t> strides = BroadcastStrides(used[k], out.shape, out.rank);
    b.SetStrides(k + 1, strides.data(), out.rank, used[k].element_size);
  }
  if (op == "Cast" && Convert(used[0].element_type, out.element_type, "v").empty()) {
    return b.NotSupported(std::string("Cast from ") + ElementTypeName(used[0].element_type));
  }
  const bool arithmetic = op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
  if (arithmetic && out_type.cls == Class::kWide && (out.element_type == DT_DOUBLE || op == "Div")) {
    return b.NotSupported("no 64-bit " + op + " in WebGPU shaders");
  }
  if (arithmetic && out.element_type == DT_BOOL) return b.NotSupported("arithmetic on bool");
  // The statement that stores the result, from raw1, raw2, raw3 read at their addresses.
  auto store = [&] {
    const std::string a1 = "raw1(address(1u, index))";
    const std::string out_address = "address(0u, index)";
    if (op == "Expand") return StoreRaw(out_type.size, out_address, a1);
    if (op == "Where") {
      return "let bits = select(raw3(address(3u, index)), raw2(address(2u, index)), " + a1 +
             " != 0u);\n  " + StoreRaw(out_type.size, out_address, "bits");
    }
    if (op == "Cast") {
      const DtElementType from = used[0].element_type;
      return Store(out.element_type, out_type.size, out_address,
                   Convert(from, out.element_type, FromBits(from, a1)));
    }
    const std::string a = FromBits(out.element_type, a1);
    const std::string c = FromBits(out.element_type, "raw2(address(2u, index))");
    if (out_type.cls == Class::kWide) {
      return Store(out.element_type, out_type.size, out_address,
                   (op == "Add" ? "add64(" : op == "Sub" ? "sub64(" : "mul64(") + a + ", " + c + ")");
    }
    const char* symbol = op == "Add" ? "+" : op == "Sub" ? "-" : op == "Mul" ? "*" : "/";
    return Store(out.element_type, out_type.size, out_address, "(" + a + " " + symbol + " " + c + ")");
  };
  return b.Dispatch(call, "", [&] {
    std::string code = kLibrary;
    for (uint32_t k = 0; k < inputs; ++k) {
      code += RawLoad("raw" + std::to_string(k + 1), "word_in" + std::to_string(k + 1),
                      static_cast<uint32_t>(used[k].element_size));
    }
    return code + MainHead() + "  " + store() + "\n}\n";
  }, inputs);
}

// A float truncated toward zero into T, saturating at T's limits; NaN gives 0 (as Cast does).
template <typename T>
T Saturate(float value) {
  if (std::isnan(value)) return 0;
  const double t = std::trunc(static_cast<double>(value));
  if (t <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (t >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(t);
}

DtStatus* Fill(OpBuilder& b, const DtOpCall& call) {
  const DtTensorRef& out = *call.outputs[0];
  TypeInfo info{};
  if (!Describe(out.element_type, &info)) return b.NotSupported("no such element type");
  const DtAttribute* attribute = FindAttribute(call, "value");
  const float value = attribute ? (attribute->type == DT_ATTR_INT ? float(attribute->i) : attribute->f) : 0.0f;
  // The value's bits in the output's type, made here as Cast would.
  uint64_t bits = 0;
  switch (out.element_type) {
    case DT_FLOAT: std::memcpy(&bits, &value, 4); break;
    case DT_DOUBLE: { const double d = value; std::memcpy(&bits, &d, 8); break; }
    case DT_BOOL: bits = !(value == 0.0f); break;  // NaN is true
    case DT_INT8: bits = static_cast<uint64_t>(Saturate<int8_t>(value)); break;
    case DT_INT16: bits = static_cast<uint64_t>(Saturate<int16_t>(value)); break;
    case DT_INT32: bits = static_cast<uint32_t>(Saturate<int32_t>(value)); break;
    case DT_INT64: bits = static_cast<uint64_t>(Saturate<int64_t>(value)); break;
    case DT_UINT8: bits = Saturate<uint8_t>(value); break;
    case DT_UINT16: bits = Saturate<uint16_t>(value); break;
    case DT_UINT32: bits = Saturate<uint32_t>(value); break;
    case DT_UINT64: bits = Saturate<uint64_t>(value); break;
    case DT_FLOAT16: case DT_BFLOAT16: {
      // Round to nearest even, on the host, with the shader's own rules.
      uint32_t x;
      std::memcpy(&x, &value, 4);
      if (out.element_type == DT_BFLOAT16) {
        bits = ((x & 0x7fffffffu) > 0x7f800000u) ? ((x >> 16) | 0x40u) : ((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
      } else {
        const uint32_t sign = (x >> 16) & 0x8000u, exponent = (x >> 23) & 0xffu, mantissa = x & 0x7fffffu;
        const int e = int(exponent) - 112;
        if (exponent == 0xffu) bits = sign | 0x7c00u | (mantissa ? (0x200u | (mantissa >> 13)) : 0u);
        else if (e >= 31) bits = sign | 0x7c00u;
        else if (e <= 0) {
          if (e < -10) { bits = sign; }
          else {
            const uint32_t m = mantissa | 0x800000u, shift = uint32_t(14 - e), half = 1u << (shift - 1);
            const uint32_t rest = m & ((1u << shift) - 1u);
            uint32_t r = m >> shift;
            if (rest > half || (rest == half && (r & 1u))) ++r;
            bits = sign | r;
          }
        } else {
          uint32_t r = (uint32_t(e) << 10) | (mantissa >> 13);
          const uint32_t rest = mantissa & 0x1fffu;
          if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;
          bits = sign | r;
        }
      }
      break;
    }
  }
  if (DtStatus* s = b.BindOutput(out)) return s;
  b.SetSpace(out.shape, out.rank);
  b.SetStrides(0, out.strides, out.rank, out.element_size);
  b.Extra(0) = static_cast<uint32_t>(bits);
  b.Extra(1) = static_cast<uint32_t>(bits >> 32);
  return b.Dispatch(call, "", [&] {
    std::string code = std::string(kLibrary) + MainHead();
    code += "  " + StoreRaw(info.size, "address(0u, index)", info.size == 8 ? "vec2<u32>(pw(3), pw(4))" : "pw(3)") + "\n}\n";
    return code;
  }, 0);
}

DtStatus* UpdatePositionIds(OpBuilder& b, const DtOpCall& call) {
  const DtTensorRef& out = *call.outputs[0];
  if (out.element_type != DT_INT32 && out.element_type != DT_INT64) return b.NotSupported("needs int32 or int64");
  const int64_t increment = IntAttribute(call, "increment", 1);
  if (DtStatus* s = b.BindOutput(out)) return s;
  b.SetSpace(out.shape, out.rank);
  b.SetStrides(0, out.strides, out.rank, out.element_size);
  b.Extra(0) = static_cast<uint32_t>(static_cast<uint64_t>(increment));
  b.Extra(1) = static_cast<uint32_t>(static_cast<uint64_t>(increment) >> 32);
  return b.Dispatch(call, "", [&] {
    std::string code = std::string(kLibrary) + MainHead() + "  let a = address(0u, index);\n";
    if (out.element_type == DT_INT32) {
      code += "  out_store(a >> 2u, out_word(a >> 2u) + pw(3));\n}\n";
    } else {
      code += "  store_wide(a, add64(vec2<u32>(out_word(a >> 2u), out_word((a >> 2u) + 1u)), vec2<u32>(pw(3), pw(4))));\n}\n";
    }
    return code;
  }, 0);
}

DtStatus* UpdateAttentionMask(OpBuilder& b, const DtOpCall& call) {
  const DtTensorRef& mask = *call.outputs[0];
  if (mask.element_type != DT_INT32 && mask.element_type != DT_INT64) return b.NotSupported("needs int32 or int64");
  if (DtStatus* s = b.BindOutput(mask)) return s;
  DtTensorRef total;
  if (DtStatus* s = b.BindInput(1, *call.inputs[0], false, &total)) return s;
  b.SetSpace(mask.shape, mask.rank);
  b.SetStrides(0, mask.strides, mask.rank, mask.element_size);
  b.Extra(0) = static_cast<uint32_t>(mask.shape[1]);
  return b.Dispatch(call, "", [&] {
    std::string code = std::string(kLibrary) + MainHead();
    code += "  let total = u32(clamp(bitcast<i32>(word_in1(pw(28) >> 2u)), 0, i32(pw(3))));\n";
    code += "  let one = select(0u, 1u, index[1] < total);\n";
    code += mask.element_type == DT_INT32 ? "  out_store(address(0u, index) >> 2u, one);\n}\n"
                                          : "  store_wide(address(0u, index), vec2<u32>(one, 0u));\n}\n";
    return code;
  }, 1);
}

DtStatus* KvCacheAppend(OpBuilder& b, const DtOpCall& call) {
  const DtTensorRef& cache = *call.outputs[0];
  const DtTensorRef& fresh = *call.inputs[0];
  TypeInfo info{};
  if (!Describe(cache.element_type, &info)) return b.NotSupported("no such element type");
  // The last position the append may start at, clamped to an int32 position's range; -1 when
  // none fits. max_len and new_len are not negative, so the difference cannot overflow.
  const int64_t room = std::clamp<int64_t>(cache.shape[2] - fresh.shape[2], -1, INT32_MAX);
  if (IsEmpty(cache) || IsEmpty(fresh)) {
    // An empty append still checks its position: one invocation that writes nothing. Nothing is
    // read but the position, which also stands in for the new values' binding.
    if (DtStatus* s = b.BindOutput(*call.inputs[1])) return s;
    DtTensorRef position;
    if (DtStatus* s = b.BindInput(1, *call.inputs[1], true, &position)) return s;
    if (DtStatus* s = b.BindInput(2, *call.inputs[1], true, &position)) return s;
    if (DtStatus* s = b.BindFlags()) return s;
    const int64_t one = 1;
    b.SetSpace(&one, 1);
    b.Extra(0) = static_cast<uint32_t>(static_cast<int32_t>(room));
    return b.Dispatch(call, "check", [&] {
      return std::string(kLibrary) + MainHead() +
             "  let position = bitcast<i32>(word_in2(pw(40) >> 2u));\n"
             "  if (position < 0 || position > bitcast<i32>(pw(3))) { raise_flag(1u); }\n}\n";
    }, 2);
  }
  if (DtStatus* s = b.BindOutput(cache)) return s;
  DtTensorRef kv, position;
  if (DtStatus* s = b.BindInput(1, fresh, false, &kv)) return s;
  if (DtStatus* s = b.BindInput(2, *call.inputs[1], false, &position)) return s;
  if (DtStatus* s = b.BindFlags()) return s;
  b.SetSpace(kv.shape, kv.rank);
  b.SetStrides(0, cache.strides, cache.rank, cache.element_size);
  b.SetStrides(1, kv.strides, kv.rank, kv.element_size);
  b.Extra(0) = static_cast<uint32_t>(static_cast<int32_t>(room));
  return b.Dispatch(call, "", [&] {
    std::string code = std::string(kLibrary) + RawLoad("raw1", "word_in1", info.size) + MainHead();
    // The value is read before the position is known: the two loads overlap.
    code += "  let value = raw1(address(1u, index));\n";
    code += "  let position = bitcast<i32>(word_in2(pw(40) >> 2u));\n";
    code += "  if (position < 0 || position > bitcast<i32>(pw(3))) { raise_flag(1u); return; }\n";
    code += "  var at = index;\n  at[2] = at[2] + u32(position);\n";
    code += "  " + StoreRaw(info.size, "address(0u, at)", "value") + "\n}\n";
    return code;
  }, 2);
}

// ArgMax: every workgroup of 256 lanes scans a stretch of the axis (each lane every 256th
// element) and reduces to one candidate with a tree. A short axis, or one with many outputs
// beside it, is one pass (a workgroup per output). A long axis with few outputs (the logits of a
// decode step: one output, 128256 elements) would leave the GPU idle, so it is split into chunks
// of kArgMaxChunk elements: a first pass writes one candidate (value bits, index) per chunk into
// scratch and a second pass reduces each output's candidates.
constexpr int64_t kArgMaxChunk = 2048;
constexpr int64_t kArgMaxSplitOutputs = 128;  // split only when there are fewer outputs

enum class ArgMaxPass { kWhole, kChunks, kCandidates };

// The WGSL of one pass. Element raw bits are u32 (zero-extended) or vec2<u32> (8 bytes).
std::string ArgMaxCode(DtElementType type, uint32_t size, bool last, ArgMaxPass pass) {
  // NaN is the maximum, as on the host: found from the raw bits (a shader may assume no NaN).
  std::string nan = "false";
  if (type == DT_FLOAT) nan = "(r & 0x7fffffffu) > 0x7f800000u";
  if (type == DT_FLOAT16) nan = "(r & 0x7fffu) > 0x7c00u";
  if (type == DT_BFLOAT16) nan = "(r & 0x7fffu) > 0x7f80u";
  const bool wide = size == 8;
  const std::string raw_type = wide ? "vec2<u32>" : "u32";
  const std::string greater = wide ? "less_i64(va, vb)" : "vb > va";
  const std::string equal = wide ? "all(va == vb)" : "vb == va";
  // Whether candidate b (raw rb, index ib) beats a: NaN beats numbers, a larger value beats a
  // smaller one, and between equals (or two NaNs) the first index wins, or the last one with
  // select_last_index.
  const std::string tie = last ? "ib > ia" : "ib < ia";
  std::string code = std::string(kLibrary) +
                     RawLoad("raw1", "word_in1", pass == ArgMaxPass::kCandidates ? 4 : size);
  if (pass == ArgMaxPass::kCandidates && wide) code += RawLoad("raw1_wide", "word_in1", 8);
  code += "fn beats(rb: " + raw_type + ", ib: u32, ra: " + raw_type + ", ia: u32) -> bool {\n";
  code += "  var r = rb;\n  let nb = " + nan + ";\n  r = ra;\n  let na = " + nan + ";\n";
  code += "  if (nb != na) { return nb; }\n  if (nb) { return " + tie + "; }\n";
  code += "  let vb = " + FromBits(type, "rb") + ";\n  let va = " + FromBits(type, "ra") + ";\n";
  code += "  if (" + equal + ") { return " + tie + "; }\n  return " + greater + ";\n}\n";
  code += "var<workgroup> best_raw: array<" + raw_type + ", 256>;\n";
  code += "var<workgroup> best_at: array<u32, 256>;\n";  // index along the axis; none: 0xffffffff
  code += "@compute @workgroup_size(256)\n"
          "fn main(@builtin(global_invocation_id) id: vec3<u32>,\n"
          "        @builtin(local_invocation_index) lane: u32) {\n"
          "  let i = id.x + id.y * pw(2);\n"
          "  let live = i < pw(0);\n"
          "  let index = unravel(min(i, pw(0) - 1u));\n"
          "  let start = address(1u, index);\n"
          "  var raw: " + raw_type + ";\n"
          "  var at = 0xffffffffu;\n";
  switch (pass) {
    case ArgMaxPass::kWhole:
      code += "  let first = 0u;\n  let count = pw(3);\n";
      break;
    case ArgMaxPass::kChunks:  // the chunk is the index's next-to-last dimension
      code += "  let first = index[pw(1) - 2u] * pw(5);\n  let count = min(pw(5), pw(3) - first);\n";
      break;
    case ArgMaxPass::kCandidates:  // 16 bytes each: value bits (1 or 2 words), then the index
      code += "  let count = pw(3);\n";
      break;
  }
  if (pass == ArgMaxPass::kCandidates) {
    code += "  if (live) {\n"
            "    for (var c = lane; c < count; c += 256u) {\n"
            "      let a = start + c * 16u;\n"
            "      let k = word_in1((a >> 2u) + 2u);\n"
            "      let r = " + std::string(wide ? "raw1_wide(a)" : "raw1(a)") + ";\n"
            "      if (k != 0xffffffffu && (at == 0xffffffffu || beats(r, k, raw, at))) { raw = r; at = k; }\n"
            "    }\n"
            "  }\n";
  } else {
    code += "  if (live) {\n"
            "    for (var k = lane; k < count; k += 256u) {\n"
            "      let r = raw1(start + k * pw(4));\n"
            "      if (at == 0xffffffffu || beats(r, first + k, raw, at)) { raw = r; at = first + k; }\n"
            "    }\n"
            "  }\n";
  }
  code += "  best_raw[lane] = raw;\n  best_at[lane] = at;\n"
          "  workgroupBarrier();\n"
          "  for (var half = 128u; half > 0u; half >>= 1u) {\n"
          "    if (lane < half) {\n"
          "      let ib = best_at[lane + half];\n"
          "      let ia = best_at[lane];\n"
          "      if (ib != 0xffffffffu && (ia == 0xffffffffu ||\n"
          "          beats(best_raw[lane + half], ib, best_raw[lane], ia))) {\n"
          "        best_raw[lane] = best_raw[lane + half];\n        best_at[lane] = ib;\n"
          "      }\n"
          "    }\n"
          "    workgroupBarrier();\n"
          "  }\n"
          "  if (live && lane == 0u) {\n"
          "    let a = address(0u, index);\n";
  if (pass == ArgMaxPass::kChunks) {
    code += wide ? "    store_wide(a, best_raw[0]);\n" : "    out_store(a >> 2u, best_raw[0]);\n";
    code += "    out_store((a >> 2u) + 2u, best_at[0]);\n";
  } else {
    code += "    store_wide(a, vec2<u32>(select(best_at[0], 0u, best_at[0] == 0xffffffffu), 0u));\n";
  }
  return code + "  }\n}\n";
}

DtStatus* ArgMax(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  const DtTensorRef& data = *call.inputs[0];
  const DtTensorRef& out = *call.outputs[0];
  TypeInfo info{};
  if (!Describe(data.element_type, &info) || data.element_type == DT_DOUBLE || data.element_type == DT_UINT64) {
    return b.NotSupported("ArgMax of this element type");
  }
  int64_t axis = IntAttribute(call, "axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(data.rank);
  const bool keepdims = IntAttribute(call, "keepdims", 1) != 0;
  const bool last = IntAttribute(call, "select_last_index", 0) != 0;
  // The outputs' index space is the input's shape without the axis; strides over it.
  std::vector<int64_t> shape, out_strides;
  size_t o = 0;
  for (size_t d = 0; d < data.rank; ++d) {
    if (static_cast<int64_t>(d) == axis) {
      if (keepdims) ++o;
      continue;
    }
    shape.push_back(data.shape[d]);
    out_strides.push_back(out.strides[o++]);
  }
  if (shape.empty()) {  // a 1-D input: one output element
    shape.push_back(1);
    out_strides.push_back(0);
  }
  // The input's strides over that space, as bound (a staged input is dense).
  auto strides_without_axis = [&](const DtTensorRef& in) {
    std::vector<int64_t> strides;
    for (size_t d = 0; d < in.rank; ++d) {
      if (static_cast<int64_t>(d) != axis) strides.push_back(in.strides[d]);
    }
    if (strides.empty()) strides.push_back(0);
    return strides;
  };
  int64_t outputs = 1;
  for (int64_t n : shape) outputs *= n;
  const int64_t length = data.shape[axis];
  const int64_t chunks = (length + kArgMaxChunk - 1) / kArgMaxChunk;
  const char* order = last ? "last" : "first";

  if (chunks <= 2 || outputs >= kArgMaxSplitOutputs) {
    // One pass: a workgroup per output (a last dimension of 256 lanes, stride 0 in both).
    if (DtStatus* s = b.BindOutput(out)) return s;
    DtTensorRef in;
    if (DtStatus* s = b.BindInput(1, data, false, &in)) return s;
    std::vector<int64_t> in_strides = strides_without_axis(in);
    shape.push_back(kOpWorkgroup);
    in_strides.push_back(0);
    out_strides.push_back(0);
    b.SetSpace(shape.data(), shape.size());
    b.SetStrides(0, out_strides.data(), shape.size(), 8);
    b.SetStrides(1, in_strides.data(), shape.size(), in.element_size);
    b.Extra(0) = static_cast<uint32_t>(length);
    b.Extra(1) = static_cast<uint32_t>(in.strides[axis] * static_cast<int64_t>(in.element_size));
    return b.Dispatch(call, (std::string(order) + "/whole").c_str(), [&] {
      return ArgMaxCode(data.element_type, info.size, last, ArgMaxPass::kWhole);
    }, 1, /*batchable=*/false);
  }

  // Two passes through a scratch of [outputs, chunks] candidates of 16 bytes.
  const int64_t scratch_bytes = outputs * chunks * 16;
  wgpu::Buffer scratch = nullptr;
  if (DtStatus* s = list.TakeBuffer(static_cast<uint64_t>(scratch_bytes), Context::kTensorUsage, &scratch)) {
    return s;
  }
  const int64_t scratch_shape[1] = {scratch_bytes / 4};
  const int64_t scratch_unit[1] = {1};
  DtTensorRef candidates{};
  candidates.struct_size = sizeof(DtTensorRef);
  candidates.device_type = out.device_type;
  candidates.device_id = out.device_id;
  candidates.handle = scratch;
  candidates.buffer_bytes = context.api().BufferGetSize(scratch);
  candidates.element_type = DT_UINT32;
  candidates.element_size = 4;
  candidates.rank = 1;
  candidates.shape = scratch_shape;
  candidates.strides = scratch_unit;
  // Candidate strides (bytes) over the outputs' dimensions: dense, chunks * 16 per output.
  std::vector<int64_t> candidate_strides(shape.size());
  int64_t stride = chunks * 16;
  for (size_t d = shape.size(); d-- > 0;) {
    candidate_strides[d] = stride;
    stride *= shape[d];
  }

  // First pass: a workgroup per (output, chunk).
  if (DtStatus* s = b.BindOutput(candidates)) return s;
  DtTensorRef in;
  if (DtStatus* s = b.BindInput(1, data, false, &in)) return s;
  std::vector<int64_t> space = shape, read = strides_without_axis(in), write = candidate_strides;
  for (int64_t& r : read) r *= static_cast<int64_t>(in.element_size);
  space.push_back(chunks);
  read.push_back(kArgMaxChunk * in.strides[axis] * static_cast<int64_t>(in.element_size));
  write.push_back(16);
  space.push_back(kOpWorkgroup);
  read.push_back(0);
  write.push_back(0);
  b.SetSpace(space.data(), space.size());
  b.SetStrides(0, write.data(), space.size(), 1);
  b.SetStrides(1, read.data(), space.size(), 1);
  b.Extra(0) = static_cast<uint32_t>(length);
  b.Extra(1) = static_cast<uint32_t>(in.strides[axis] * static_cast<int64_t>(in.element_size));
  b.Extra(2) = static_cast<uint32_t>(kArgMaxChunk);
  if (DtStatus* s = b.Dispatch(call, (std::string(order) + "/chunks").c_str(), [&] {
        return ArgMaxCode(data.element_type, info.size, last, ArgMaxPass::kChunks);
      }, 1, /*batchable=*/false)) {
    return s;
  }

  // Second pass: a workgroup per output over its candidates.
  OpBuilder reduce(context, list, call);
  if (DtStatus* s = reduce.BindOutput(out)) return s;
  DtTensorRef bound;
  if (DtStatus* s = reduce.BindInput(1, candidates, false, &bound)) return s;
  space = shape;
  read = candidate_strides;
  write = out_strides;
  for (int64_t& w : write) w *= 8;
  space.push_back(kOpWorkgroup);
  read.push_back(0);
  write.push_back(0);
  reduce.SetSpace(space.data(), space.size());
  reduce.SetStrides(0, write.data(), space.size(), 1);
  reduce.SetStrides(1, read.data(), space.size(), 1);
  reduce.Extra(0) = static_cast<uint32_t>(chunks);
  return reduce.Dispatch(call, (std::string(order) + "/candidates").c_str(), [&] {
    return ArgMaxCode(data.element_type, info.size, last, ArgMaxPass::kCandidates);
  }, 1, /*batchable=*/false);
}

// ScatterND's scatter step, bound before the data is copied to the output: staging an updates or
// indices tensor that overlaps the output must read it before that copy writes there.
DtStatus* BindScatter(OpBuilder& b, const DtOpCall& call, DtTensorRef* indices, DtTensorRef* updates) {
  if (DtStatus* s = b.BindOutput(*call.outputs[0])) return s;
  if (DtStatus* s = b.BindInput(1, *call.inputs[1], false, indices)) return s;
  if (DtStatus* s = b.BindInput(2, *call.inputs[2], false, updates)) return s;
  return b.BindFlags();
}

// The copy of data into the output, unless the op updates data in place.
DtStatus* ScatterCopy(OpBuilder& b, const DtOpCall& call) {
  const DtTensorRef& data = *call.inputs[0];
  const DtTensorRef& out = *call.outputs[0];
  const bool in_place = data.handle == out.handle && data.byte_offset == out.byte_offset &&
                        std::equal(data.strides, data.strides + data.rank, out.strides);
  if (in_place) return nullptr;
  DtOpCall expand = call;
  expand.op_type = "Expand";
  expand.num_inputs = 1;
  return Elementwise(b, expand);
}

// One invocation per element of updates: its index tuple picks where in the output it goes.
DtStatus* ScatterUpdates(OpBuilder& b, const DtOpCall& call, const DtTensorRef& ind,
                         const DtTensorRef& upd) {
  const DtTensorRef& out = *call.outputs[0];
  TypeInfo info{};
  Describe(out.element_type, &info);
  const size_t k = static_cast<size_t>(ind.shape[ind.rank - 1]);
  b.SetSpace(upd.shape, upd.rank);
  b.SetStrides(2, upd.strides, upd.rank, upd.element_size);
  b.SetStrides(1, ind.strides, ind.rank, 8);  // tuple dimensions, then between a tuple's entries
  b.SetStrides(0, out.strides, out.rank, out.element_size);
  b.Extra(0) = static_cast<uint32_t>(k);
  b.Extra(1) = static_cast<uint32_t>(ind.rank - 1);
  for (size_t d = 0; d < out.rank; ++d) b.Word(80 + d) = static_cast<uint32_t>(out.shape[d]);
  return b.Dispatch(call, "", [&] {
    std::string code = std::string(kLibrary) + RawLoad("raw2", "word_in2", info.size) + MainHead();
    code += "  var tuple = pw(28);\n  for (var d = 0u; d < pw(4); d++) { tuple += index[d] * pw(29u + d); }\n";
    code += "  var dest = pw(16);\n";
    code += "  for (var t = 0u; t < pw(3); t++) {\n";
    code += "    let a = tuple + t * pw(29u + pw(4));\n";
    code += "    let lo = word_in1(a >> 2u);\n    let hi = word_in1((a >> 2u) + 1u);\n";
    code += "    var v = bitcast<i32>(lo);\n    let n = pw(80u + t);\n";
    code += "    if (bitcast<i32>(hi) < 0) { v = v + i32(n); }\n";
    code += "    if (v < 0 || u32(v) >= n || (hi != 0u && hi != 0xffffffffu)) { raise_flag(2u); return; }\n";
    code += "    dest += u32(v) * pw(17u + t);\n  }\n";
    code += "  for (var d = pw(4); d < pw(1); d++) { dest += index[d] * pw(17u + pw(3) + d - pw(4)); }\n";
    code += "  " + StoreRaw(info.size, "dest", "raw2(address(2u, index))") + "\n}\n";
    return code;
  }, 2);
}

}  // namespace

DtStatus* RecordOp(Context& context, CommandList& list, const DtOpCall& call) {
  const std::string op = call.op_type;
  // An op whose output has no elements writes nothing: a no-op, whatever the sizes and strides
  // of its other dimensions (which may be huge). KvCacheAppend still checks its position.
  if (op != "KvCacheAppend" &&
      std::any_of(call.outputs, call.outputs + call.num_outputs,
                  [](const DtTensorRef* t) { return IsEmpty(*t); })) {
    return nullptr;
  }
  OpBuilder builder(context, list, call);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Where" || op == "Expand" ||
      op == "Cast") {
    return Elementwise(builder, call);
  }
  if (op == "Fill") return Fill(builder, call);
  if (op == "UpdatePositionIds") return UpdatePositionIds(builder, call);
  if (op == "UpdateAttentionMask") return UpdateAttentionMask(builder, call);
  if (op == "KvCacheAppend") return KvCacheAppend(builder, call);
  if (op == "ArgMax") return ArgMax(context, list, call);
  if (op == "ScatterND") {
    OpBuilder scatter(context, list, call);
    DtTensorRef indices, updates;
    if (DtStatus* s = BindScatter(scatter, call, &indices, &updates)) return s;
    if (DtStatus* s = ScatterCopy(builder, call)) return s;
    return ScatterUpdates(scatter, call, indices, updates);
  }
  return builder.NotSupported("no WebGPU kernel");
}

DtStatus* ReadErrorFlags(Context& context, uint32_t* flags) {
  wgpu::Buffer buffer = nullptr;
  if (DtStatus* s = context.ErrorFlags(&buffer)) return s;
  const wgpu::Api& api = context.api();
  wgpu::Buffer readback = nullptr;
  uint64_t capacity = 0;
  if (DtStatus* s = context.TakeBuffer(16, wgpu::usage::kMapRead | wgpu::usage::kCopyDst, &readback, &capacity)) {
    return s;
  }
  wgpu::CommandEncoder encoder = api.DeviceCreateCommandEncoder(context.device(), nullptr);
  api.CommandEncoderCopyBufferToBuffer(encoder, buffer, 0, readback, 0, 16);
  api.CommandEncoderClearBuffer(encoder, buffer, 0, 16);
  context.Submit(encoder);
  struct Mapped {
    uint32_t status = 0;
  } mapped;
  wgpu::BufferMapCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly,
                                   [](uint32_t status, wgpu::StringView, void* m, void*) {
                                     static_cast<Mapped*>(m)->status = status;
                                   },
                                   &mapped, nullptr};
  if (DtStatus* s = context.Wait(api.BufferMapAsync(readback, wgpu::map_mode::kRead, 0, 16, info),
                                 "the error flags")) {
    return s;
  }
  if (mapped.status != wgpu::kRequestSuccess) {
    return context.host()->CreateStatus(DT_DEVICE_LOST, "reading the WebGPU error flags failed");
  }
  std::memcpy(flags, api.BufferGetConstMappedRange(readback, 0, 16), sizeof(uint32_t));
  api.BufferUnmap(readback);
  context.Recycle(readback, capacity, wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
  return context.TakeErrors();
}

}  // namespace devtensor::webgpu
