// WGSL code generation for elements of any type: how a type is computed with, how its raw bits are
// loaded and stored through the bindings' word accessors, and how Cast converts between types
// (with the rules of ops/conversion_rules.h, so that WebGPU converts exactly as the CPU does).
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_ELEMENT_CODE_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_ELEMENT_CODE_H_

#include <cstdint>
#include <string>

#include "devtensor/devtensor.h"

namespace devtensor::webgpu {

// How a type is computed with in WGSL: f32, i32, u32, or raw 64-bit words (vec2<u32>).
enum class Class { kFloat, kSigned, kUnsigned, kWide };

struct TypeInfo {
  uint32_t size;
  Class cls;
};

// The size and compute class of `type`; false for a number that is no element type.
bool Describe(DtElementType type, TypeInfo* info);

// A WGSL function `name(a: u32)` returning the raw bits of the element at byte `a`, read through
// word accessor `word`: u32 for sizes 1, 2 and 4 (zero-extended), vec2<u32> for 8.
std::string RawLoad(const std::string& name, const std::string& word, uint32_t size);

// The value of an element of `type` from its raw bits `r`, in the type's compute class.
std::string FromBits(DtElementType type, const std::string& r);

// The raw bits of a value `v` of `type` (in its compute class).
std::string ToBits(DtElementType type, const std::string& v);

// The statement that stores value `value` of `type` (of `size` bytes) at byte `address`.
std::string Store(DtElementType type, uint32_t size, const std::string& address,
                  const std::string& value);

// The statement that stores raw bits `bits` of an element of `size` bytes at byte `address`.
std::string StoreRaw(uint32_t size, const std::string& address, const std::string& bits);

// The conversion of a value `v` of `from` (its class) into a value of `to` (its class), as Cast
// does on the host.
std::string Convert(DtElementType from, DtElementType to, const std::string& v);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_ELEMENT_CODE_H_
