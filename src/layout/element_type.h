// Facts about element types that the core, the ops and every provider need: their sizes and
// names (ONNX numbering, ONNX names).
#ifndef DEVTENSOR_LAYOUT_ELEMENT_TYPE_H_
#define DEVTENSOR_LAYOUT_ELEMENT_TYPE_H_

#include <cstddef>

#include "devtensor/devtensor.h"

namespace devtensor {

// Bytes per element; 0 for a number that is not a DtElementType.
inline size_t ElementTypeSize(DtElementType type) {
  switch (type) {
    case DT_UINT8: case DT_INT8: case DT_BOOL: return 1;
    case DT_UINT16: case DT_INT16: case DT_FLOAT16: case DT_BFLOAT16: return 2;
    case DT_FLOAT: case DT_INT32: case DT_UINT32: return 4;
    case DT_INT64: case DT_DOUBLE: case DT_UINT64: return 8;
  }
  return 0;
}

// The ONNX name ("float", "int64", "bfloat16", ...); "unknown" for other numbers.
inline const char* ElementTypeName(DtElementType type) {
  switch (type) {
    case DT_FLOAT: return "float";
    case DT_UINT8: return "uint8";
    case DT_INT8: return "int8";
    case DT_UINT16: return "uint16";
    case DT_INT16: return "int16";
    case DT_INT32: return "int32";
    case DT_INT64: return "int64";
    case DT_BOOL: return "bool";
    case DT_FLOAT16: return "float16";
    case DT_DOUBLE: return "double";
    case DT_UINT32: return "uint32";
    case DT_UINT64: return "uint64";
    case DT_BFLOAT16: return "bfloat16";
  }
  return "unknown";
}

}  // namespace devtensor

#endif  // DEVTENSOR_LAYOUT_ELEMENT_TYPE_H_
