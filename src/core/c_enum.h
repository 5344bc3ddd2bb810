// Enum values that arrive from C callers and provider libraries. C lets any int through an enum
// parameter or field, while in C++ loading an enum object that holds a number outside the enum's
// range is undefined. So such a value is first read as the integer it is, checked, and only then
// used as the enum.
#ifndef DEVTENSOR_CORE_C_ENUM_H_
#define DEVTENSOR_CORE_C_ENUM_H_

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "devtensor/devtensor.h"

namespace devtensor {

// The integer stored in `value`, read without loading it as an enum.
template <typename Enum>
int32_t EnumInteger(const Enum& value) {
  static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int32_t),
                "C enums of the ABI are int-sized");
  int32_t raw;
  std::memcpy(&raw, &value, sizeof raw);
  return raw;
}

// True when `raw` is one of DtElementType's enumerators.
inline bool IsElementType(int32_t raw) {
  switch (raw) {
    case DT_FLOAT: case DT_UINT8: case DT_INT8: case DT_UINT16: case DT_INT16: case DT_INT32:
    case DT_INT64: case DT_BOOL: case DT_FLOAT16: case DT_DOUBLE: case DT_UINT32: case DT_UINT64:
    case DT_BFLOAT16:
      return true;
  }
  return false;
}

// True when `raw` is one of DtErrorCode's enumerators.
inline bool IsErrorCode(int32_t raw) { return raw >= DT_OK && raw <= DT_INTERNAL; }

// True when `raw` can be held by a DtDeviceType: a DLPack device number up to the largest the
// enum names (numbers between its enumerators are DLPack devices devtensor has no name for).
inline bool IsDeviceType(int32_t raw) { return raw >= 1 && raw <= DT_DEVICE_WEBGPU; }

}  // namespace devtensor

#endif  // DEVTENSOR_CORE_C_ENUM_H_
