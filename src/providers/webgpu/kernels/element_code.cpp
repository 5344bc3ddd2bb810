#include "providers/webgpu/kernels/element_code.h"

#include <cstdio>

#include "ops/conversion_rules.h"

namespace devtensor::webgpu {
namespace {

using ops::Conversion;

// A 64-bit value as a WGSL vec2<u32> literal (low word, high word).
std::string Wide(uint64_t value) {
  char text[48];
  std::snprintf(text, sizeof text, "vec2<u32>(0x%08xu, 0x%08xu)", static_cast<unsigned>(value),
                static_cast<unsigned>(value >> 32));
  return text;
}

// A source value as (magnitude, negative) for the integer and truncated-float paths.
struct Magnitude {
  std::string magnitude, negative;
};

Magnitude MagnitudeOf(DtElementType from, const TypeInfo& a, const std::string& v) {
  if (from == DT_DOUBLE) return {"f64_magnitude(" + v + ")", "((" + v + ".y & 0x80000000u) != 0u)"};
  if (a.cls == Class::kFloat) {
    return {"f32_magnitude(" + v + ")", "((bitcast<u32>(" + v + ") & 0x80000000u) != 0u)"};
  }
  if (from == DT_INT64) return {"abs64(" + v + ")", "(bitcast<i32>(" + v + ".y) < 0)"};
  if (from == DT_UINT64) return {v, "false"};
  if (a.cls == Class::kSigned) return {"abs64(sign_extend(" + v + "))", "(" + v + " < 0)"};
  return {"vec2<u32>(" + v + ", 0u)", "false"};  // unsigned and bool
}

}  // namespace

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

// Values computed as f32 (f32, f16, bf16) are converted in f32: a narrower target rounds when
// it is stored (f32_to_f16, f32_to_bf16), once, since widening to f32 is exact.
std::string Convert(DtElementType from, DtElementType to, const std::string& v) {
  TypeInfo a{}, b{};
  Describe(from, &a);
  Describe(to, &b);
  Conversion conversion = ops::ConversionBetween(from, to);
  if (conversion == Conversion::kFromBool) {  // bool is a u32 of 0 or 1: then as that integer
    conversion = ops::IsFloatType(to) ? Conversion::kRoundToFloat : Conversion::kWrapInteger;
  }
  switch (conversion) {
    case Conversion::kSame:
      return v;
    case Conversion::kToBool:
      if (from == DT_DOUBLE) return "select(0u, 1u, ((" + v + ".y & 0x7fffffffu) | " + v + ".x) != 0u)";
      if (a.cls == Class::kFloat) return "select(0u, 1u, (bitcast<u32>(" + v + ") & 0x7fffffffu) != 0u)";
      if (a.cls == Class::kWide) return "select(0u, 1u, !is_zero64(" + v + "))";
      return std::string("select(0u, 1u, ") + v + (a.cls == Class::kSigned ? " != 0)" : " != 0u)");
    case Conversion::kExactToFloat:
      // Into f32 the value is already exact; into f64 its bits are rebuilt.
      return to == DT_DOUBLE ? "f32_to_f64(" + v + ")" : v;
    case Conversion::kRoundToFloat: {
      const Magnitude m = MagnitudeOf(from, a, v);
      if (to == DT_DOUBLE) return "int_to_f64(" + m.magnitude + ", " + m.negative + ")";
      const ops::FloatFormat format = ops::FloatFormatOf(to);
      const std::string significand = std::to_string(format.significand_bits) + "u";
      if (from == DT_DOUBLE) {
        return "f64_to_float(" + v + ", " + significand + ", " +
               std::to_string(format.min_normal_exponent) + ")";
      }
      if (a.cls == Class::kFloat) return v;  // rounds when stored
      return "int_to_float(" + m.magnitude + ", " + m.negative + ", " + significand + ")";
    }
    case Conversion::kSaturateToInteger: {
      const Magnitude m = MagnitudeOf(from, a, v);
      const ops::IntegerRange range = ops::IntegerRangeOf(to);
      const std::string t =
          range.min == 0
              ? "saturate_unsigned(" + m.magnitude + ", " + m.negative + ", " + Wide(range.max) + ")"
              : "saturate_signed(" + m.magnitude + ", " + m.negative + ", " +
                    Wide(static_cast<uint64_t>(range.min)) + ", " + Wide(range.max) + ")";
      if (b.cls == Class::kWide) return t;
      return b.cls == Class::kSigned ? "bitcast<i32>(" + t + ".x)" : t + ".x";
    }
    case Conversion::kWrapInteger:
    case Conversion::kFromBool:
      break;
  }
  // Integer to integer: two's complement wrap.
  if (b.cls == Class::kWide) {
    if (a.cls == Class::kWide) return v;
    return a.cls == Class::kSigned ? "sign_extend(" + v + ")" : "vec2<u32>(" + v + ", 0u)";
  }
  const std::string low = a.cls == Class::kWide ? v + ".x" : (a.cls == Class::kSigned ? "bitcast<u32>(" + v + ")" : v);
  return b.cls == Class::kSigned ? "bitcast<i32>(" + low + ")" : low;
}

}  // namespace devtensor::webgpu
