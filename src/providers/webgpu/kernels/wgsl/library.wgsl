// Helpers every op kernel has: 64-bit integer arithmetic on (low, high) words, exact conversions
// between f32 and f16/bf16/f64 bit patterns (round to nearest even), the element's multi-index and
// addresses, and stores of elements narrower than a word. The parameters' accessors (param_*)
// and the bindings' (pw, out_load, out_store, out_and, out_or) come before it.
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

// Element `i` of the call's index space as a multi-index.
fn unravel(i: u32) -> array<u32, 8> {
  var index: array<u32, 8>;
  var rest = i;
  for (var d = i32(param_rank()) - 1; d >= 0; d--) {
    let n = param_extent(u32(d));
    index[d] = rest % n;
    rest = rest / n;
  }
  return index;
}
// Byte address of `index` in role `t` (0: the output, 1...: inputs).
fn address(t: u32, index: array<u32, 8>) -> u32 {
  var a = param_base(t);
  for (var d = 0u; d < param_rank(); d++) { a += index[d] * param_stride(t, d); }
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
