// Bytes per element by the ONNX definitions, written independently of DtGetElementSize so that
// tests and fuzz targets check the library against their own reference.
#ifndef DEVTENSOR_TESTS_ELEMENT_SIZES_H_
#define DEVTENSOR_TESTS_ELEMENT_SIZES_H_

#include <cstddef>

#include "devtensor/devtensor.h"

namespace devtensor_test {

// 0 for a value that is not an element type.
inline size_t SizeOf(DtElementType type) {
  switch (type) {
    case DT_UINT8: case DT_INT8: case DT_BOOL: return 1;
    case DT_UINT16: case DT_INT16: case DT_FLOAT16: case DT_BFLOAT16: return 2;
    case DT_FLOAT: case DT_INT32: case DT_UINT32: return 4;
    case DT_INT64: case DT_DOUBLE: case DT_UINT64: return 8;
  }
  return 0;
}

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_ELEMENT_SIZES_H_
