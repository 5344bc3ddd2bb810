#include "providers/webgpu/kernels/kernel_params.h"

namespace devtensor::webgpu {
namespace {

std::string Number(uint32_t n) { return std::to_string(n) + "u"; }

// `name * n`, or `name` alone when n is 1.
std::string Scaled(const char* name, uint32_t n) {
  return n == 1 ? std::string(name) : std::string(name) + " * " + Number(n);
}

}  // namespace

std::string ParamAccessor(const Param& p) {
  std::string arguments, word = Number(p.word);
  if (p.rows > 1) {
    arguments = "row: u32, i: u32";
    word += " + " + Scaled("row", p.RowStep()) + " + " + Scaled("i", p.ValueStep());
  } else if (p.count > 1) {
    arguments = "i: u32";
    word += " + " + Scaled("i", p.ValueStep());
  }
  std::string type, value;
  switch (p.type) {
    case ParamType::kU32: type = "u32"; value = "pw(" + word + ")"; break;
    case ParamType::kI32: type = "i32"; value = "bitcast<i32>(pw(" + word + "))"; break;
    case ParamType::kU64:
      type = "vec2<u32>";
      value = "vec2<u32>(pw(" + word + "), pw(" + word + " + 1u))";
      break;
  }
  return "fn param_" + std::string(p.name) + "(" + arguments + ") -> " + type + " { return " + value +
         "; }\n";
}

}  // namespace devtensor::webgpu
