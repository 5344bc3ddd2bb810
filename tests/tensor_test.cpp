// Tensors on the CPU device that only host memory has: DtCreateTensorWithData over caller memory
// (shared both ways, bounds and alignment checks), and the C++ wrapper's tensors, slices, copies
// and errors. What every device does with tensors, views and slices is in
// tests/device_suite/view_suite_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "tensor_queries.h"
#include "test_util.h"

namespace {

using namespace devtensor_test;

// ---- Library calls ------------------------------------------------------------------------------
// Setup steps throw devtensor::Error on failure; gtest reports that as a failure of the test.

Value Wrap(DtEnv* env, const DtDevice* device, void* data, size_t data_bytes, size_t byte_offset,
           DtElementType type, const Shape& shape) {
  DtValue* out = nullptr;
  devtensor::Check(DtCreateTensorWithData(env, device, data, data_bytes, byte_offset, type,
                                          shape.data(), shape.size(), &out));
  return Value(out);
}

using TensorWithData = CpuEnvTest;

// ---- DtCreateTensorWithData ---------------------------------------------------------------------

TEST_F(TensorWithData, WrapsCallerMemoryWithoutCopying) {
  Random random;
  SCOPED_TRACE(random.trace());
  std::vector<float> memory(64);
  const size_t memory_bytes = memory.size() * sizeof(float);
  const size_t first = static_cast<size_t>(random.Between(0, 16));  // in floats
  const size_t offset = first * sizeof(float);
  const Shape shape = {4, 8};
  Value t = Wrap(env_, cpu_, memory.data(), memory_bytes, offset, DT_FLOAT, shape);

  auto* data = reinterpret_cast<float*>(DataOf(t.get()));
  EXPECT_EQ(data, memory.data() + first);
  const BufferInfo buffer = BufferOf(t.get());
  EXPECT_EQ(buffer.handle, memory.data()) << "the offset must not be folded into the handle";
  EXPECT_EQ(buffer.byte_offset, offset);
  EXPECT_EQ(buffer.bytes, memory_bytes);
  EXPECT_EQ(DtGetTensorDevice(t.get()), cpu_);

  // Writes on either side are seen on the other.
  data[5] = 3.5f;
  EXPECT_EQ(memory[first + 5], 3.5f);
  memory[first + 31] = -1.25f;
  EXPECT_EQ(data[31], -1.25f);

  // A copy into the tensor lands in the caller's array, in the tensor's bytes only.
  std::memset(memory.data(), kSentinel, memory_bytes);
  Value src = Create(env_, cpu_, DT_FLOAT, shape);
  const std::vector<uint8_t> values = RandomBytes(random, 32 * sizeof(float));
  std::memcpy(DataOf(src.get()), values.data(), values.size());
  const DtValue* from = src.get();
  DtValue* to = t.get();
  DT_ASSERT_OK(DtCopyTensors(env_, &from, &to, 1, nullptr));
  std::vector<uint8_t> expected(memory_bytes, kSentinel);
  std::copy(values.begin(), values.end(), expected.begin() + offset);
  const auto* bytes = reinterpret_cast<const uint8_t*>(memory.data());
  EXPECT_EQ(std::vector<uint8_t>(bytes, bytes + memory_bytes), expected);

  // A copy out of the tensor reads the caller's array as it is now.
  const std::vector<uint8_t> fresh = RandomBytes(random, memory_bytes);
  std::memcpy(memory.data(), fresh.data(), memory_bytes);
  EXPECT_EQ(ReadThroughCopy(env_, cpu_, t.get()),
            std::vector<uint8_t>(fresh.begin() + offset, fresh.begin() + offset + 128));
}

TEST_F(TensorWithData, TensorMayEndAtTheBufferEnd) {
  std::vector<uint8_t> memory(10000, kSentinel);
  const Shape shape = {2048};  // 8192 bytes of float
  DtValue* out = nullptr;
  DT_EXPECT_OK(DtCreateTensorWithData(env_, cpu_, memory.data(), 10000, 10000 - 8192, DT_FLOAT,
                                      shape.data(), 1, &out));
  DtReleaseValue(out);
  out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensorWithData(env_, cpu_, memory.data(), 10000, 10000 - 8192 + 4,
                                         DT_FLOAT, shape.data(), 1, &out),
                  DT_OUT_OF_RANGE, "byte_offset 1812 + 8192 bytes exceeds buffer of 10000 bytes");
  EXPECT_EQ(out, kUntouched);
  // An empty tensor at the very end is inside the buffer.
  const Shape empty = {0};
  out = nullptr;
  DT_EXPECT_OK(DtCreateTensorWithData(env_, cpu_, memory.data(), 10000, 10000, DT_FLOAT,
                                      empty.data(), 1, &out));
  DtReleaseValue(out);
}

TEST_F(TensorWithData, RejectsBadArgumentsWithoutSettingOutput) {
  std::vector<uint8_t> memory(10000, kSentinel);
  void* data = memory.data();
  const Shape shape = {2048};
  DtValue* out = kUntouched;

  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env_, cpu_, data, 10000, 4096, DT_FLOAT, shape.data(), 1, &out),
      DT_OUT_OF_RANGE, "byte_offset 4096 + 8192 bytes exceeds buffer of 10000 bytes");

  // byte_offset + bytes wraps around size_t: still out of range, with the numbers quoted.
  const std::string huge = "byte_offset " + std::to_string(SIZE_MAX - 3);
  DT_EXPECT_ERROR(DtCreateTensorWithData(env_, cpu_, data, 10000, SIZE_MAX - 3, DT_FLOAT,
                                         shape.data(), 1, &out),
                  DT_OUT_OF_RANGE, huge.c_str(), "buffer of 10000 bytes");

  const Shape small = {4};
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env_, cpu_, data, 10000, 2, DT_FLOAT, small.data(), 1, &out),
      DT_INVALID_ARGUMENT, "byte_offset 2", "element size 4");
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env_, cpu_, data, 10000, 12, DT_INT64, small.data(), 1, &out),
      DT_INVALID_ARGUMENT, "byte_offset 12", "element size 8");

  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env_, cpu_, nullptr, 10000, 0, DT_FLOAT, small.data(), 1, &out),
      DT_INVALID_ARGUMENT, "data");
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(nullptr, cpu_, data, 10000, 0, DT_FLOAT, small.data(), 1, &out),
      DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env_, nullptr, data, 10000, 0, DT_FLOAT, small.data(), 1, &out),
      DT_INVALID_ARGUMENT, "device");
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env_, cpu_, data, 10000, 0, DT_FLOAT, small.data(), 1, nullptr),
      DT_INVALID_ARGUMENT, "tensor");
  DT_EXPECT_ERROR(DtCreateTensorWithData(env_, cpu_, data, 10000, 0, static_cast<DtElementType>(31),
                                         small.data(), 1, &out),
                  DT_INVALID_ARGUMENT, "type 31");
  const Shape negative = {-1};
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env_, cpu_, data, 10000, 0, DT_FLOAT, negative.data(), 1, &out),
      DT_INVALID_ARGUMENT, "shape[0]", "-1");

  EXPECT_EQ(out, kUntouched);
  EXPECT_EQ(memory, std::vector<uint8_t>(10000, kSentinel));
}

// ---- The C++ wrapper ----------------------------------------------------------------------------

// The devtensor::Error a call throws; fails the test when it throws none.
template <typename Call>
devtensor::Error ErrorOf(Call&& call) {
  try {
    call();
  } catch (const devtensor::Error& error) {
    return error;
  }
  ADD_FAILURE() << "no devtensor::Error thrown";
  return devtensor::Error(DT_OK, "");
}

TEST(TensorWrapper, CreateSliceAndCopy) {
  Random random;
  SCOPED_TRACE(random.trace());
  devtensor::Env env;
  const devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  EXPECT_EQ(cpu.type(), DT_DEVICE_CPU);
  EXPECT_EQ(cpu.id(), 0);
  const Shape shape = {3, 4, 5};
  auto tensor = devtensor::Tensor::create(env, cpu, DT_INT32, shape);
  EXPECT_EQ(tensor.shape(), shape);
  EXPECT_EQ(tensor.strides(), RowMajorStrides(shape));
  EXPECT_EQ(tensor.type(), DT_INT32);
  EXPECT_EQ(tensor.element_count(), 60u);
  EXPECT_TRUE(tensor.contiguous());
  EXPECT_EQ(tensor.device(), cpu);
  const std::vector<uint8_t> bytes = RandomBytes(random, 60 * 4);
  std::memcpy(tensor.data(), bytes.data(), bytes.size());

  auto slice = tensor.slice(2, 1, 3);
  EXPECT_EQ(slice.shape(), Shape({3, 4, 3}));
  EXPECT_EQ(slice.strides(), RowMajorStrides(shape));
  EXPECT_FALSE(slice.contiguous());
  EXPECT_EQ(slice.data<uint8_t>(), tensor.data<uint8_t>() + 4);
  EXPECT_EQ(slice.buffer().handle, tensor.buffer().handle);
  EXPECT_EQ(slice.buffer().byte_offset, 4u);

  auto dense = devtensor::Tensor::create(env, cpu, DT_INT32, {3, 4, 3});
  env.copy(slice, dense);
  std::vector<int64_t> offsets = ElementOffsets({3, 4, 3}, RowMajorStrides(shape));
  for (int64_t& offset : offsets) offset += 1;
  const std::vector<uint8_t> expected = Gather(bytes.data(), offsets, 4);
  EXPECT_EQ(std::vector<uint8_t>(dense.data<uint8_t>(), dense.data<uint8_t>() + expected.size()),
            expected);

  // Moving hands the value over; the moved-from wrapper is empty.
  devtensor::Tensor moved = std::move(slice);
  EXPECT_TRUE(moved);
  EXPECT_FALSE(slice);  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(moved.shape(), Shape({3, 4, 3}));
}

TEST(TensorWrapper, WrapAndViewCallerMemory) {
  Random random;
  SCOPED_TRACE(random.trace());
  devtensor::Env env;
  const devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  std::vector<uint8_t> memory = RandomBytes(random, 256);
  auto wrapped =
      devtensor::Tensor::wrap(env, cpu, memory.data(), memory.size(), 32, DT_UINT16, {8, 8});
  const auto buffer = wrapped.buffer();
  EXPECT_EQ(buffer.handle, memory.data());
  EXPECT_EQ(buffer.byte_offset, 32u);
  EXPECT_EQ(buffer.buffer_bytes, 256u);
  EXPECT_EQ(wrapped.data<uint8_t>(), memory.data() + 32);

  auto view = wrapped.view(16, DT_UINT32, {2, 6});
  EXPECT_EQ(view.type(), DT_UINT32);
  EXPECT_EQ(view.buffer().byte_offset, 48u);
  auto copy = devtensor::Tensor::create(env, cpu, DT_UINT32, {2, 6});
  env.copy({{&view, &copy}});
  EXPECT_EQ(std::vector<uint8_t>(copy.data<uint8_t>(), copy.data<uint8_t>() + 48),
            std::vector<uint8_t>(memory.begin() + 48, memory.begin() + 96));
}

TEST(TensorWrapper, ErrorsThrowWithCodeAndMessage) {
  devtensor::Env env;
  const devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  auto tensor = devtensor::Tensor::create(env, cpu, DT_FLOAT, {4, 4});

  devtensor::Error error = ErrorOf([&] { tensor.slice(1, 3, 2); });
  EXPECT_EQ(error.code(), DT_OUT_OF_RANGE);
  EXPECT_NE(std::string(error.what()).find("start 3"), std::string::npos) << error.what();
  EXPECT_NE(std::string(error.what()).find("DT_OUT_OF_RANGE"), std::string::npos) << error.what();

  error = ErrorOf([&] { devtensor::Tensor::create(env, cpu, DT_FLOAT, {2, -1}); });
  EXPECT_EQ(error.code(), DT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error.what()).find("-1"), std::string::npos) << error.what();

  std::vector<uint8_t> memory(100, kSentinel);
  error = ErrorOf(
      [&] { devtensor::Tensor::wrap(env, cpu, memory.data(), memory.size(), 96, DT_FLOAT, {2}); });
  EXPECT_EQ(error.code(), DT_OUT_OF_RANGE);
  EXPECT_NE(std::string(error.what()).find("buffer of 100 bytes"), std::string::npos)
      << error.what();

  error = ErrorOf([&] { tensor.view(2, DT_FLOAT, {1}); });
  EXPECT_EQ(error.code(), DT_INVALID_ARGUMENT);
}

}  // namespace
