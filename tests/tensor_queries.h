// What tests of tensors and views read back through the C API: shapes, types and buffers of
// tensors, the reference element offsets of a layout, and the bytes at given offsets.
#ifndef DEVTENSOR_TESTS_TENSOR_QUERIES_H_
#define DEVTENSOR_TESTS_TENSOR_QUERIES_H_

#include <cstdint>
#include <vector>

#include "devtensor/devtensor.hpp"
#include "test_util.h"

namespace devtensor_test {

// An out-parameter value no call may leave behind on failure (never dereferenced).
inline DtValue* const kUntouched = reinterpret_cast<DtValue*>(uintptr_t{0x5a5a5a50});

// Element offsets (from element [0, ..., 0]) of every element, in row-major order of `shape`.
inline std::vector<int64_t> ElementOffsets(const Shape& shape, const Shape& strides) {
  std::vector<int64_t> offsets;
  for (int64_t flat = 0; flat < Product(shape); ++flat) {
    int64_t rest = flat, offset = 0;
    for (size_t i = shape.size(); i-- > 0;) {
      offset += (rest % shape[i]) * strides[i];
      rest /= shape[i];
    }
    offsets.push_back(offset);
  }
  return offsets;
}

// Bytes of the elements at `element_offsets` (in elements) from `base`, concatenated.
inline std::vector<uint8_t> Gather(const uint8_t* base, const std::vector<int64_t>& element_offsets,
                                   size_t element_size) {
  std::vector<uint8_t> out;
  for (int64_t offset : element_offsets) {
    out.insert(out.end(), base + offset * element_size, base + (offset + 1) * element_size);
  }
  return out;
}

// A new tensor; throws devtensor::Error on failure (gtest reports it as the test's failure).
inline Value Create(DtEnv* env, const DtDevice* device, DtElementType type, const Shape& shape) {
  DtValue* out = nullptr;
  devtensor::Check(DtCreateTensor(env, device, type, shape.data(), shape.size(), &out));
  return Value(out);
}

inline Shape ShapeOf(const DtValue* tensor) {
  int64_t dims[DT_MAX_RANK];
  size_t rank = 0;
  DT_EXPECT_OK(DtGetTensorShape(tensor, nullptr, dims, DT_MAX_RANK, &rank));
  return Shape(dims, dims + rank);
}

inline DtElementType TypeOf(const DtValue* tensor) {
  DtElementType type = static_cast<DtElementType>(0);
  DT_EXPECT_OK(DtGetTensorShape(tensor, &type, nullptr, 0, nullptr));
  return type;
}

// Where a tensor's element 0 lies in its storage.
struct BufferInfo {
  void* handle = nullptr;
  size_t byte_offset = 0;
  size_t bytes = 0;
};
inline BufferInfo BufferOf(const DtValue* tensor) {
  BufferInfo b;
  DT_EXPECT_OK(DtGetTensorBuffer(tensor, &b.handle, &b.byte_offset, &b.bytes));
  return b;
}

// The elements of `tensor` in row-major order, read by the library: copied into a new contiguous
// tensor on `cpu` whose bytes are returned.
inline std::vector<uint8_t> ReadThroughCopy(DtEnv* env, const DtDevice* cpu,
                                            const DtValue* tensor) {
  const Shape shape = ShapeOf(tensor);
  const DtElementType type = TypeOf(tensor);
  Value dense = Create(env, cpu, type, shape);
  const DtValue* src = tensor;
  DtValue* dst = dense.get();
  devtensor::Check(DtCopyTensors(env, &src, &dst, 1, nullptr));
  const uint8_t* data = DataOf(dense.get());
  return std::vector<uint8_t>(data, data + Product(shape) * SizeOf(type));
}

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_TENSOR_QUERIES_H_
