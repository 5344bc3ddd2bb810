// Tensors, views and slices on every device (kDeviceCases): creation at every rank and element
// type, empty and overflowing shapes, the queries, argument errors, lifetimes (every release order,
// a thousand env cycles), views at any byte offset that share the storage and may reinterpret its
// type, views of views, slices along every axis and of slices, and the refusals of views and
// slices outside their base or off their element size. Expected shapes, strides, offsets and
// contents are computed here with plain row-major arithmetic, independently of the library;
// storage is set and read by the test itself (DeviceFixture), and contents read back through
// DtCopyTensors, so that the library's own idea of where the elements are is what gets checked.
// Data pointers are checked on devices whose handles are pointers (DtDeviceInfo::is_addressable).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "device_suite/device_cases.h"
#include "tensor_queries.h"

namespace {

using namespace devtensor_test;
using devtensor::Tensor;

// ---- Reference arithmetic ----------------------------------------------------------------------

// Contiguous by definition: the k-th element in row-major order sits at element offset k.
bool IsDenseRowMajor(const Shape& shape, const Shape& strides) {
  const std::vector<int64_t> offsets = ElementOffsets(shape, strides);
  for (size_t k = 0; k < offsets.size(); ++k) {
    if (offsets[k] != static_cast<int64_t>(k)) return false;
  }
  return true;
}

// Bytes from the first to the last element inclusive.
size_t ExtentOf(const Shape& shape, const Shape& strides, size_t element_size) {
  int64_t last = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return 0;
    last += (shape[i] - 1) * strides[i];
  }
  return static_cast<size_t>(last + 1) * element_size;
}

// ---- Library calls ------------------------------------------------------------------------------
// Setup steps throw devtensor::Error on failure; gtest reports that as a failure of the test.

Shape StridesOf(const DtValue* tensor) {
  int64_t strides[DT_MAX_RANK];
  DT_EXPECT_OK(DtGetTensorStrides(tensor, strides, DT_MAX_RANK));
  return Shape(strides, strides + ShapeOf(tensor).size());
}

struct Size {
  size_t count = 0;
  size_t extent = 0;
};
Size SizeOfTensor(const DtValue* tensor) {
  Size s;
  DT_EXPECT_OK(DtGetTensorSize(tensor, &s.count, &s.extent));
  return s;
}

// The tensor and view suites: the device's raw pointers, and shorthands of the C API.
class DeviceTensorTest : public DeviceTest {
 public:
  bool Addressable() const { return info.is_addressable != 0; }
  DtEnv* e() const { return env.get(); }
  const DtDevice* d() const { return device.get(); }

  // A tensor devtensor allocates on the device, its storage set to `bytes`.
  Value CreateHolding(DtElementType type, const Shape& shape, const std::vector<uint8_t>& bytes) {
    Value t = Create(e(), d(), type, shape);
    SetDeviceStorage(t.get(), bytes);
    return t;
  }
  std::vector<uint8_t> Read(const DtValue* tensor) const {
    return ReadThroughCopy(e(), cpu.get(), tensor);
  }
};

class TensorSuite : public DeviceTensorTest {};
class ViewSuite : public DeviceTensorTest {};
DT_INSTANTIATE_DEVICE_SUITE(TensorSuite);
DT_INSTANTIATE_DEVICE_SUITE(ViewSuite);

// ---- DtCreateTensor -----------------------------------------------------------------------------

TEST_P(TensorSuite, EveryRankFromZeroToMaxHasRowMajorLayout) {
  SCOPED_TRACE(random.trace());
  for (size_t rank = 0; rank <= DT_MAX_RANK; ++rank) {
    const DtElementType type = RandomType(random);
    Shape shape(rank);
    for (int64_t& d : shape) d = random.Between(1, 4);
    SCOPED_TRACE("shape " + Text(shape) + " of " + DtGetElementTypeName(type));
    Value t = Create(e(), d(), type, shape);

    DtElementType got_type = static_cast<DtElementType>(0);
    int64_t dims[DT_MAX_RANK];
    size_t got_rank = 99;
    DT_ASSERT_OK(DtGetTensorShape(t.get(), &got_type, dims, DT_MAX_RANK, &got_rank));
    EXPECT_EQ(got_type, type);
    ASSERT_EQ(got_rank, rank);
    EXPECT_EQ(Shape(dims, dims + got_rank), shape);
    EXPECT_EQ(StridesOf(t.get()), RowMajorStrides(shape));

    const size_t count = static_cast<size_t>(Product(shape));
    const size_t bytes = count * SizeOf(type);
    const Size size = SizeOfTensor(t.get());
    EXPECT_EQ(size.count, count);
    EXPECT_EQ(size.extent, bytes);
    EXPECT_EQ(DtIsTensorContiguous(t.get()), 1);
    EXPECT_EQ(DtGetTensorDevice(t.get()), d());

    const BufferInfo buffer = BufferOf(t.get());
    EXPECT_NE(buffer.handle, nullptr);
    EXPECT_EQ(buffer.byte_offset, 0u);
    EXPECT_GE(buffer.bytes, bytes);
    void* data = kUntouched;
    if (Addressable()) {
      DT_ASSERT_OK(DtGetTensorData(t.get(), &data));
      ASSERT_NE(data, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % SizeOf(type), 0u)
          << "typed access needs alignment";
      EXPECT_EQ(buffer.handle, data);
    } else {
      DT_EXPECT_ERROR(DtGetTensorData(t.get(), &data), DT_NOT_SUPPORTED, "DtGetTensorBuffer");
      EXPECT_EQ(data, kUntouched);
    }

    // What is written into the storage is what the library copies out.
    const std::vector<uint8_t> pattern = RandomBytes(random, bytes);
    SetDeviceStorage(t.get(), pattern);
    EXPECT_EQ(Read(t.get()), pattern);
  }
}

TEST_P(TensorSuite, EveryElementTypeHasItsOnnxSize) {
  for (DtElementType type : kAllTypes) {
    SCOPED_TRACE(DtGetElementTypeName(type));
    EXPECT_EQ(DtGetElementSize(type), SizeOf(type));
    Value t = Create(e(), d(), type, {5, 3});
    EXPECT_EQ(TypeOf(t.get()), type);
    EXPECT_EQ(SizeOfTensor(t.get()).extent, 15 * SizeOf(type));
  }
  // Numbers that are no element type. They stay within the enum's value range (0..31): a C++
  // caller (this test) may not even form DtElementType(99), and UBSan flags the library's load of
  // it.
  for (int not_a_type : {0, 8, 14, 15, 17, 31}) {
    EXPECT_EQ(DtGetElementSize(static_cast<DtElementType>(not_a_type)), 0u) << not_a_type;
  }
}

TEST_P(TensorSuite, ZeroDimensionsMakeEmptyTensors) {
  SCOPED_TRACE(random.trace());
  const Shape shapes[] = {{0}, {0, 3}, {3, 0}, {2, 0, 4}, {1, 1, 0}, {5, 4, 3, 2, 1, 0}};
  for (const Shape& shape : shapes) {
    const DtElementType type = RandomType(random);
    SCOPED_TRACE("shape " + Text(shape) + " of " + DtGetElementTypeName(type));
    Value t = Create(e(), d(), type, shape);
    EXPECT_EQ(ShapeOf(t.get()), shape);
    EXPECT_EQ(TypeOf(t.get()), type);
    const Size size = SizeOfTensor(t.get());
    EXPECT_EQ(size.count, 0u);
    EXPECT_EQ(size.extent, 0u);
    EXPECT_EQ(DtIsTensorContiguous(t.get()), 1);
    if (Addressable()) {
      void* data = nullptr;
      DT_EXPECT_OK(DtGetTensorData(t.get(), &data));
    }
    // Empty tensors copy (nothing) like any other, within the device and from and to the host.
    Value other = Create(e(), d(), type, shape);
    Value host = Create(e(), cpu.get(), type, shape);
    const DtValue* src = t.get();
    DtValue* dst = other.get();
    DT_EXPECT_OK(DtCopyTensors(e(), &src, &dst, 1, nullptr));
    dst = host.get();
    DT_EXPECT_OK(DtCopyTensors(e(), &src, &dst, 1, nullptr));
    src = host.get();
    dst = t.get();
    DT_EXPECT_OK(DtCopyTensors(e(), &src, &dst, 1, nullptr));
  }
}

// A zero dimension makes an empty tensor whatever the other dimensions are; whether the count
// "overflows" must not depend on where the zero stands.
TEST_P(TensorSuite, ZeroDimensionDoesNotHideAnOverflowingShape) {
  // Row-major strides come from the non-zero dimensions, so they must fit whatever the position
  // of the zero: the answer may not depend on the order of the dimensions.
  const int64_t huge = int64_t{1} << 40;
  for (const Shape& shape : {Shape{0, huge, huge}, Shape{huge, huge, 0}, Shape{huge, 0, huge}}) {
    SCOPED_TRACE("shape " + Text(shape));
    DtValue* out = kUntouched;
    DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_FLOAT, shape.data(), shape.size(), &out),
                    DT_INVALID_ARGUMENT, "1099511627776", "more elements than fit");
    EXPECT_EQ(out, kUntouched);
  }
  // A zero beside dimensions whose product fits is an ordinary empty tensor.
  const Shape fits = {huge, 0, 1 << 20};
  DtValue* out = nullptr;
  DT_EXPECT_OK(DtCreateTensor(e(), d(), DT_FLOAT, fits.data(), fits.size(), &out));
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(SizeOfTensor(out).count, 0u);
  EXPECT_EQ(SizeOfTensor(out).extent, 0u);
  DtReleaseValue(out);
}

TEST_P(TensorSuite, RejectsBadArgumentsWithoutSettingOutput) {
  const Shape shape = {2, 3};
  DtValue* out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensor(nullptr, d(), DT_FLOAT, shape.data(), 2, &out),
                  DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtCreateTensor(e(), nullptr, DT_FLOAT, shape.data(), 2, &out),
                  DT_INVALID_ARGUMENT, "device");
  DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_FLOAT, shape.data(), 2, nullptr),
                  DT_INVALID_ARGUMENT, "tensor");
  DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_FLOAT, nullptr, 2, &out), DT_INVALID_ARGUMENT,
                  "shape");

  const Shape nine(DT_MAX_RANK + 1, 1);
  DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_FLOAT, nine.data(), nine.size(), &out),
                  DT_INVALID_ARGUMENT, "rank 9", "8");

  const Shape negative = {2, -3, 4};
  DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_FLOAT, negative.data(), 3, &out),
                  DT_INVALID_ARGUMENT, "shape[1]", "-3");

  // 2^40 * 2^40 elements do not fit in size_t.
  const Shape too_many = {int64_t{1} << 40, int64_t{1} << 40};
  DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_UINT8, too_many.data(), 2, &out),
                  DT_INVALID_ARGUMENT, "1099511627776");

  // 2^62 elements fit, 2^62 * 4 bytes do not.
  const Shape too_big = {int64_t{1} << 62};
  DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_FLOAT, too_big.data(), 1, &out),
                  DT_INVALID_ARGUMENT, "4611686018427387904");

  for (int type : {8 /* string */, 0, 31 /* largest the enum can hold, see above */}) {
    const std::string quoted = "type " + std::to_string(type);
    DT_EXPECT_ERROR(
        DtCreateTensor(e(), d(), static_cast<DtElementType>(type), shape.data(), 2, &out),
        DT_INVALID_ARGUMENT, quoted.c_str());
  }
  EXPECT_EQ(out, kUntouched);
}

// A device that states its largest allocation refuses anything larger, quoting both sizes.
TEST_P(TensorSuite, AllocationsBeyondTheLargestBufferAreRefused) {
  const uint64_t limit = info.max_allocation_bytes;
  if (limit == 0) GTEST_SKIP() << device_case.name << " states no largest allocation";
  const int64_t shape[] = {int64_t(limit) + 1};
  const std::string asked = std::to_string(limit + 1), largest = std::to_string(limit);
  const std::string where = DeviceText();
  DtValue* out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensor(e(), d(), DT_UINT8, shape, 1, &out), DT_OUT_OF_MEMORY,
                  asked.c_str(), largest.c_str(), where.c_str());
  EXPECT_EQ(out, kUntouched);
}

// ---- Queries ------------------------------------------------------------------------------------

TEST_P(TensorSuite, CapacityTooSmallWritesNothing) {
  Value t = Create(e(), d(), DT_INT16, {2, 3, 4});
  int64_t dims[3] = {-7, -7, -7};
  DtElementType type = static_cast<DtElementType>(31);
  size_t rank = 77;
  DT_EXPECT_ERROR(DtGetTensorShape(t.get(), &type, dims, 2, &rank), DT_OUT_OF_RANGE, "capacity 2",
                  "rank 3");
  EXPECT_EQ(Shape(dims, dims + 3), Shape({-7, -7, -7}));
  EXPECT_EQ(type, static_cast<DtElementType>(31));
  EXPECT_EQ(rank, 77u);

  int64_t strides[3] = {-7, -7, -7};
  DT_EXPECT_ERROR(DtGetTensorStrides(t.get(), strides, 2), DT_OUT_OF_RANGE, "capacity 2", "rank 3");
  EXPECT_EQ(Shape(strides, strides + 3), Shape({-7, -7, -7}));

  // Capacity 0 and no shape array asks for type and rank only.
  DT_EXPECT_OK(DtGetTensorShape(t.get(), &type, nullptr, 0, &rank));
  EXPECT_EQ(type, DT_INT16);
  EXPECT_EQ(rank, 3u);
  DT_EXPECT_ERROR(DtGetTensorShape(t.get(), nullptr, nullptr, 3, nullptr), DT_INVALID_ARGUMENT,
                  "shape");
  // A capacity larger than the rank is fine.
  int64_t big[DT_MAX_RANK];
  DT_EXPECT_OK(DtGetTensorStrides(t.get(), big, DT_MAX_RANK));
  EXPECT_EQ(Shape(big, big + 3), RowMajorStrides({2, 3, 4}));
}

TEST_P(TensorSuite, NullArguments) {
  Value t = Create(e(), d(), DT_FLOAT, {4});
  int64_t dims[1];
  size_t count = 5;
  void* data = kUntouched;
  DT_EXPECT_ERROR(DtGetTensorShape(nullptr, nullptr, dims, 1, nullptr), DT_INVALID_ARGUMENT,
                  "tensor");
  DT_EXPECT_ERROR(DtGetTensorStrides(nullptr, dims, 1), DT_INVALID_ARGUMENT, "tensor");
  DT_EXPECT_ERROR(DtGetTensorSize(nullptr, &count, nullptr), DT_INVALID_ARGUMENT, "tensor");
  DT_EXPECT_ERROR(DtGetTensorData(nullptr, &data), DT_INVALID_ARGUMENT, "tensor");
  DT_EXPECT_ERROR(DtGetTensorBuffer(nullptr, &data, nullptr, nullptr), DT_INVALID_ARGUMENT,
                  "tensor");
  DT_EXPECT_ERROR(DtGetTensorData(t.get(), nullptr), DT_INVALID_ARGUMENT, "data");
  EXPECT_EQ(count, 5u);
  EXPECT_EQ(data, kUntouched);
  EXPECT_EQ(DtIsTensorContiguous(nullptr), 0);
  EXPECT_EQ(DtGetTensorDevice(nullptr), nullptr);
  // Every out-parameter of these may be NULL.
  DT_EXPECT_OK(DtGetTensorBuffer(t.get(), nullptr, nullptr, nullptr));
  DT_EXPECT_OK(DtGetTensorSize(t.get(), nullptr, nullptr));
  // A scalar has no strides to write.
  Value scalar = Create(e(), d(), DT_DOUBLE, {});
  DT_EXPECT_OK(DtGetTensorStrides(scalar.get(), nullptr, 0));
  EXPECT_EQ(SizeOfTensor(scalar.get()).count, 1u);
}

// ---- Lifetimes ----------------------------------------------------------------------------------

// Env, base tensor, a view of it and a slice of that view, released in each of the 24 orders.
// After every release the remaining tensors keep their shape and device, still read their data by
// pointer where the device has pointers (under ASan a use after free would show), and while the
// env lives they still copy.
TEST_P(TensorSuite, EveryReleaseOrderKeepsTheRestUsable) {
  SCOPED_TRACE(random.trace());
  std::array<int, 4> order = {0, 1, 2, 3};  // 0 env, 1 base, 2 view, 3 slice of the view
  int orders = 0;
  do {
    ++orders;
    SCOPED_TRACE("release order " + std::to_string(order[0]) + std::to_string(order[1]) +
                 std::to_string(order[2]) + std::to_string(order[3]));
    DtEnv* own = nullptr;
    const DtDevice *on = nullptr, *host = nullptr;
    DT_ASSERT_OK(DtCreateEnv(&own));
    DT_ASSERT_OK(DtGetDevice(own, device_case.type, 0, &on));
    DT_ASSERT_OK(DtGetDevice(own, DT_DEVICE_CPU, 0, &host));
    const Shape base_shape = {8, 16}, view_shape = {6, 16}, slice_shape = {6, 5};
    DtValue* values[4] = {};  // [1] base, [2] view, [3] slice
    DT_ASSERT_OK(DtCreateTensor(own, on, DT_FLOAT, base_shape.data(), 2, &values[1]));
    const std::vector<uint8_t> bytes = RandomBytes(random, 8 * 16 * 4);
    {
      std::vector<uint8_t> staging = bytes;
      DtValue* from = nullptr;
      DT_ASSERT_OK(DtCreateTensorWithData(own, host, staging.data(), staging.size(), 0, DT_FLOAT,
                                          base_shape.data(), 2, &from));
      const DtValue* src = from;
      DT_EXPECT_OK(DtCopyTensors(own, &src, &values[1], 1, nullptr));
      DtReleaseValue(from);
    }
    DT_ASSERT_OK(DtCreateTensorView(values[1], 64, DT_FLOAT, view_shape.data(), 2, &values[2]));
    DT_ASSERT_OK(DtSliceTensor(values[2], 1, 3, 5, &values[3]));

    // Expected contents: base all, view from row 1, slice = view[:, 3:8].
    std::vector<int64_t> elements[4];
    elements[1] = ElementOffsets(base_shape, {16, 1});
    elements[2] = ElementOffsets(view_shape, {16, 1});
    for (int64_t& e : elements[2]) e += 16;
    elements[3] = ElementOffsets(slice_shape, {16, 1});
    for (int64_t& e : elements[3]) e += 16 + 3;
    const Shape shapes[4] = {{}, base_shape, view_shape, slice_shape};

    bool env_alive = true;
    for (int victim : order) {
      if (victim == 0) {
        DtReleaseEnv(own);
        env_alive = false;
      } else {
        DtReleaseValue(values[victim]);
        values[victim] = nullptr;
      }
      for (int i = 1; i < 4; ++i) {
        if (values[i] == nullptr) continue;
        SCOPED_TRACE("object " + std::to_string(i) + " after releasing " + std::to_string(victim));
        EXPECT_EQ(ShapeOf(values[i]), shapes[i]);
        EXPECT_EQ(DtGetDeviceType(DtGetTensorDevice(values[i])), device_case.type);
        const std::vector<uint8_t> expected = Gather(bytes.data(), elements[i], 4);
        if (device_case.host_memory) {
          // Read the elements straight from memory, by the reference offsets from the root.
          const uint8_t* root = DataOf(values[i]) - elements[i][0] * 4;
          EXPECT_EQ(Gather(root, elements[i], 4), expected);
        }
        if (env_alive) {
          EXPECT_EQ(ReadThroughCopy(own, host, values[i]), expected);
        }
      }
    }
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(orders, 24);
}

// A cycle: create an env, a uint8 [1 + cycle % 13] and an int16 [3, 7] tensor on the device,
// copy into them and back, release (the env first or last, alternately). While the fixture's env
// lives, devices may be shared between envs; the last cycles run after it is released, so each
// makes and drops a device of its own.
TEST_P(TensorSuite, ThousandEnvCycles) {
  SCOPED_TRACE(random.trace());
  for (int cycle = 0; cycle < 1000; ++cycle) {
    if (cycle == 900) env = devtensor::Env(nullptr);
    DtEnv* own = nullptr;
    const DtDevice *on = nullptr, *host = nullptr;
    DT_ASSERT_OK(DtCreateEnv(&own));
    DT_ASSERT_OK(DtGetDevice(own, device_case.type, 0, &on));
    DT_ASSERT_OK(DtGetDevice(own, DT_DEVICE_CPU, 0, &host));
    const Shape bytes_shape = {1 + cycle % 13}, int16_shape = {3, 7};
    std::vector<uint8_t> bytes = RandomBytes(random, size_t(bytes_shape[0])),
                         int16s = RandomBytes(random, 42);
    std::vector<uint8_t> bytes_back(bytes.size()), int16s_back(42);
    DtValue *a = nullptr, *b = nullptr, *in_a = nullptr, *in_b = nullptr, *out_a = nullptr,
            *out_b = nullptr;
    DT_ASSERT_OK(DtCreateTensor(own, on, DT_UINT8, bytes_shape.data(), 1, &a));
    DT_ASSERT_OK(DtCreateTensor(own, on, DT_INT16, int16_shape.data(), 2, &b));
    DT_ASSERT_OK(DtCreateTensorWithData(own, host, bytes.data(), bytes.size(), 0, DT_UINT8,
                                        bytes_shape.data(), 1, &in_a));
    DT_ASSERT_OK(DtCreateTensorWithData(own, host, int16s.data(), 42, 0, DT_INT16,
                                        int16_shape.data(), 2, &in_b));
    DT_ASSERT_OK(DtCreateTensorWithData(own, host, bytes_back.data(), bytes_back.size(), 0,
                                        DT_UINT8, bytes_shape.data(), 1, &out_a));
    DT_ASSERT_OK(DtCreateTensorWithData(own, host, int16s_back.data(), 42, 0, DT_INT16,
                                        int16_shape.data(), 2, &out_b));
    const DtValue* up[] = {in_a, in_b};
    DtValue* onto[] = {a, b};
    DT_ASSERT_OK(DtCopyTensors(own, up, onto, 2, nullptr));
    const DtValue* down[] = {a, b};
    DtValue* back[] = {out_a, out_b};
    DT_ASSERT_OK(DtCopyTensors(own, down, back, 2, nullptr));
    ASSERT_EQ(bytes_back, bytes) << "cycle " << cycle;
    ASSERT_EQ(int16s_back, int16s) << "cycle " << cycle;
    if (cycle % 2 == 0) DtReleaseEnv(own);
    for (DtValue* v : {a, b, in_a, in_b, out_a, out_b}) DtReleaseValue(v);
    if (cycle % 2 == 1) DtReleaseEnv(own);
  }
}

// ---- DtCreateTensorView -------------------------------------------------------------------------

TEST_P(ViewSuite, AtRandomOffsetsSharesTheStorage) {
  SCOPED_TRACE(random.trace());
  Value base = Create(e(), d(), DT_FLOAT, {256});
  const BufferInfo base_buffer = BufferOf(base.get());
  for (int trial = 0; trial < Trials(50, 20); ++trial) {
    const std::vector<uint8_t> before = RandomBytes(random, 1024);
    SetDeviceStorage(base.get(), before);
    const int64_t first = random.Between(0, 256);
    const int64_t length = random.Between(0, 256 - first);
    const Shape shape =
        length % 2 == 0 && random.Between(0, 1) ? Shape{2, length / 2} : Shape{length};
    const size_t offset = static_cast<size_t>(first) * 4;
    SCOPED_TRACE("view " + Text(shape) + " at byte " + std::to_string(offset));
    Value view = View(base.get(), offset, DT_FLOAT, shape);

    EXPECT_EQ(ShapeOf(view.get()), shape);
    EXPECT_EQ(TypeOf(view.get()), DT_FLOAT);
    if (length > 0) {  // the strides of an empty tensor are not specified
      EXPECT_EQ(StridesOf(view.get()), RowMajorStrides(shape));
    }
    EXPECT_EQ(DtIsTensorContiguous(view.get()), 1);
    EXPECT_EQ(SizeOfTensor(view.get()).extent, static_cast<size_t>(length) * 4);
    if (Addressable()) {
      EXPECT_EQ(DataOf(view.get()), DataOf(base.get()) + offset);
    }
    const BufferInfo buffer = BufferOf(view.get());
    EXPECT_EQ(buffer.handle, base_buffer.handle);
    EXPECT_EQ(buffer.byte_offset, offset);
    EXPECT_EQ(buffer.bytes, base_buffer.bytes);

    // Reads and writes through the view go to the base's bytes [offset, offset + 4 * length).
    EXPECT_EQ(Read(view.get()),
              std::vector<uint8_t>(before.begin() + offset, before.begin() + offset + length * 4));
    Value src = Create(e(), cpu.get(), DT_FLOAT, shape);
    const std::vector<uint8_t> values = RandomBytes(random, length * 4);
    if (length > 0) std::memcpy(DataOf(src.get()), values.data(), values.size());
    const DtValue* from = src.get();
    DtValue* to = view.get();
    DT_ASSERT_OK(DtCopyTensors(e(), &from, &to, 1, nullptr));
    std::vector<uint8_t> expected = before;
    std::copy(values.begin(), values.end(), expected.begin() + offset);
    EXPECT_EQ(GetDeviceStorage(base.get(), 1024), expected);
  }
}

TEST_P(ViewSuite, ReinterpretsTheElementType) {
  SCOPED_TRACE(random.trace());
  const std::vector<uint8_t> memory = RandomBytes(random, 64);
  auto bytes = NewBytes(Where::kDevice, 64);
  bytes->Set(memory);
  const Tensor base = bytes->View(DensePlacement({16}, 4, 0, 0), DT_FLOAT);
  struct Case {
    size_t offset;
    DtElementType type;
    Shape shape;
  };
  const Case cases[] = {{0, DT_UINT8, {64}},     {8, DT_INT32, {2, 3}}, {2, DT_UINT16, {5}},
                        {8, DT_DOUBLE, {3}},     {1, DT_BOOL, {7, 1}},  {6, DT_BFLOAT16, {29}},
                        {16, DT_UINT64, {2, 3}}, {0, DT_FLOAT16, {32}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(DtGetElementTypeName(c.type)) + " " + Text(c.shape) + " at byte " +
                 std::to_string(c.offset));
    Value view = View(base.get(), c.offset, c.type, c.shape);
    EXPECT_EQ(TypeOf(view.get()), c.type);
    EXPECT_EQ(ShapeOf(view.get()), c.shape);
    if (Addressable()) {
      EXPECT_EQ(DataOf(view.get()), DataOf(base.get()) + c.offset);
    }
    EXPECT_EQ(BufferOf(view.get()).byte_offset, c.offset);
    const size_t size = Product(c.shape) * SizeOf(c.type);
    EXPECT_EQ(SizeOfTensor(view.get()).extent, size);
    // The view's elements are the base's bytes, reinterpreted.
    EXPECT_EQ(Read(view.get()),
              std::vector<uint8_t>(memory.begin() + c.offset, memory.begin() + c.offset + size));
  }
}

TEST_P(ViewSuite, ViewsOfViewsReferToTheRootStorage) {
  SCOPED_TRACE(random.trace());
  const std::vector<uint8_t> memory = RandomBytes(random, 1024);
  auto bytes = NewBytes(Where::kDevice, 1024);
  bytes->Set(memory);
  const size_t o0 = 4 * random.Between(0, 40);  // base in the buffer
  const size_t o1 = 4 * random.Between(0, 50);  // v1 in base
  const size_t o2 = 4 * random.Between(0, 30);  // v2 in v1
  const size_t o3 = random.Between(0, 40);      // v3 (bytes) in v2
  const void* root = bytes->whole().buffer().handle;
  Tensor base = bytes->View(DensePlacement({200}, 4, o0 / 4, 1024 - o0 - 800), DT_FLOAT);
  Value v1 = View(base.get(), o1, DT_FLOAT, {100});
  Value v2 = View(v1.get(), o2, DT_INT32, {10, 7});
  Value v3 = View(v2.get(), o3, DT_UINT8, {80});

  size_t offset = 0;
  const std::pair<DtValue*, size_t> chain[] = {
      {base.get(), o0}, {v1.get(), o1}, {v2.get(), o2}, {v3.get(), o3}};
  for (const auto& [value, step] : chain) {
    offset += step;
    const BufferInfo buffer = BufferOf(value);
    EXPECT_EQ(buffer.handle, root) << "at byte " << offset;
    EXPECT_EQ(buffer.byte_offset, offset);
    EXPECT_EQ(buffer.bytes, memory.size());
    if (Addressable()) {
      EXPECT_EQ(DataOf(value), static_cast<const uint8_t*>(root) + offset);
    }
  }
  // The innermost view outlives the ones it was made from.
  base = Tensor();
  v1.reset();
  v2.reset();
  EXPECT_EQ(Read(v3.get()),
            std::vector<uint8_t>(memory.begin() + offset, memory.begin() + offset + 80));
}

TEST_P(ViewSuite, MustLieInsideTheBasesExtentNotJustTheStorage) {
  Value root = Create(e(), d(), DT_FLOAT, {256});     // 1024 bytes
  Value inner = View(root.get(), 256, DT_FLOAT, {16});  // 64 bytes, with 704 more after it
  const Shape one = {1}, sixteen = {16}, seventeen = {17}, empty = {0}, bytes8 = {8};
  DtValue* out = nullptr;
  // Inside, up to the last byte.
  const std::pair<size_t, Shape> inside[] = {{0, sixteen}, {60, one}, {64, empty}};
  for (const auto& [offset, shape] : inside) {
    out = nullptr;
    DT_EXPECT_OK(DtCreateTensorView(inner.get(), offset, DT_FLOAT, shape.data(), 1, &out));
    DtReleaseValue(out);
  }
  out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensorView(inner.get(), 32, DT_FLOAT, sixteen.data(), 1, &out),
                  DT_OUT_OF_RANGE, "byte_offset 32 + 64 bytes exceeds base extent of 64 bytes");
  DT_EXPECT_ERROR(DtCreateTensorView(inner.get(), 64, DT_FLOAT, one.data(), 1, &out),
                  DT_OUT_OF_RANGE, "byte_offset 64 + 4 bytes", "64 bytes");
  DT_EXPECT_ERROR(DtCreateTensorView(inner.get(), 0, DT_FLOAT, seventeen.data(), 1, &out),
                  DT_OUT_OF_RANGE, "68 bytes", "64 bytes");
  DT_EXPECT_ERROR(DtCreateTensorView(inner.get(), 68, DT_FLOAT, empty.data(), 1, &out),
                  DT_OUT_OF_RANGE, "byte_offset 68");
  const std::string huge = "byte_offset " + std::to_string(SIZE_MAX - 3);
  DT_EXPECT_ERROR(DtCreateTensorView(inner.get(), SIZE_MAX - 3, DT_UINT8, bytes8.data(), 1, &out),
                  DT_OUT_OF_RANGE, huge.c_str());

  // The same for a tensor over part of a larger buffer (host memory: wrapped caller memory): the
  // buffer is larger, the tensor's extent counts.
  auto memory = NewBytes(Where::kDevice, 10000);
  const Tensor wrapped = memory->View(DensePlacement({100}, 4, 0, 9600), DT_FLOAT);
  const Shape hundred_one = {101};
  DT_EXPECT_ERROR(DtCreateTensorView(wrapped.get(), 0, DT_FLOAT, hundred_one.data(), 1, &out),
                  DT_OUT_OF_RANGE, "404 bytes", "400 bytes");
  EXPECT_EQ(out, kUntouched);
}

TEST_P(ViewSuite, OutOfBoundsViewsAndSlicesAreRefused) {
  Value t = Create(e(), d(), DT_FLOAT, {4, 6});  // 96 bytes
  const int64_t three[] = {3}, thirteen[] = {13}, two[] = {2};
  DtValue* out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensorView(t.get(), 88, DT_FLOAT, three, 1, &out), DT_OUT_OF_RANGE,
                  "byte_offset 88", "12 bytes", "96 bytes");
  DT_EXPECT_ERROR(DtCreateTensorView(t.get(), 0, DT_DOUBLE, thirteen, 1, &out), DT_OUT_OF_RANGE,
                  "104 bytes", "96 bytes");
  DT_EXPECT_ERROR(DtSliceTensor(t.get(), 1, 4, 3, &out), DT_OUT_OF_RANGE, "start 4", "length 3",
                  "dimension 1", "size 6");
  DT_EXPECT_ERROR(DtSliceTensor(t.get(), 0, -1, 1, &out), DT_OUT_OF_RANGE, "start -1");
  DT_EXPECT_ERROR(DtSliceTensor(t.get(), 2, 0, 1, &out), DT_OUT_OF_RANGE, "axis 2", "rank 2");
  // A slice's extent runs from its first to its last element: [0, 2] .. [3, 4] is 84 bytes.
  Value columns = Slice(t.get(), 1, 2, 3);
  DT_EXPECT_ERROR(DtCreateTensorView(columns.get(), 80, DT_FLOAT, two, 1, &out), DT_OUT_OF_RANGE,
                  "byte_offset 80", "8 bytes", "84 bytes");
  EXPECT_EQ(out, kUntouched);
}

// A view's offset must suit its element type, counted in the storage: 3 bytes into a view at
// byte 1 is byte 4, aligned for float although 3 is not a multiple of 4.
TEST_P(ViewSuite, OffsetsOffTheElementSizeAreRefused) {
  Value whole = Create(e(), d(), DT_UINT8, {256});
  const int64_t four[] = {4};
  for (DtElementType type : kAllTypes) {
    const size_t size = SizeOf(type);
    for (size_t offset = 1; offset < 3 * size; ++offset) {
      if (offset % size == 0) continue;
      SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " at byte " + std::to_string(offset));
      // Named: DT_EXPECT_ERROR's list of parts outlives temporaries.
      const std::string at = "byte_offset " + std::to_string(offset);
      const std::string element = "element size " + std::to_string(size);
      const std::string name = DtGetElementTypeName(type);
      DtValue* out = kUntouched;
      DT_EXPECT_ERROR(DtCreateTensorView(whole.get(), offset, type, four, 1, &out),
                      DT_INVALID_ARGUMENT, at.c_str(), element.c_str(), name.c_str());
      EXPECT_EQ(out, kUntouched);
    }
  }
  Value root = Create(e(), d(), DT_UINT8, {64});
  Value odd = View(root.get(), 1, DT_UINT8, {32});  // starts at storage byte 1
  const Shape two = {2}, one = {1};

  DtValue* out = nullptr;
  DT_ASSERT_OK(DtCreateTensorView(odd.get(), 3, DT_FLOAT, two.data(), 1, &out));
  Value aligned(out);
  if (Addressable()) {
    EXPECT_EQ(DataOf(aligned.get()), DataOf(root.get()) + 4);
  }
  EXPECT_EQ(BufferOf(aligned.get()).byte_offset, 4u);

  out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensorView(odd.get(), 4, DT_FLOAT, two.data(), 1, &out),
                  DT_INVALID_ARGUMENT, "byte_offset 4", "byte 5", "element size 4");
  DT_EXPECT_ERROR(DtCreateTensorView(root.get(), 2, DT_INT64, one.data(), 1, &out),
                  DT_INVALID_ARGUMENT, "byte_offset 2", "element size 8");
  DT_EXPECT_ERROR(DtCreateTensorView(odd.get(), 2, DT_FLOAT16, one.data(), 1, &out),
                  DT_INVALID_ARGUMENT, "byte_offset 2", "byte 3", "element size 2");
  EXPECT_EQ(out, kUntouched);
  const std::pair<size_t, DtElementType> fine[] = {{6, DT_FLOAT16}, {8, DT_DOUBLE}, {3, DT_INT8}};
  for (const auto& [offset, type] : fine) {
    out = nullptr;
    DT_EXPECT_OK(DtCreateTensorView(root.get(), offset, type, one.data(), 1, &out));
    DtReleaseValue(out);
  }
}

TEST_P(ViewSuite, OnSlicedBasesCoversTheSlicesExtent) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < Trials(20, 10); ++trial) {
    const int64_t rows = random.Between(1, 8), cols = random.Between(2, 12);
    const int64_t c0 = random.Between(0, cols - 1), width = random.Between(1, cols - c0);
    SCOPED_TRACE("[" + std::to_string(rows) + ", " + std::to_string(cols) + "][:, " +
                 std::to_string(c0) + ":+" + std::to_string(width) + "]");
    const std::vector<uint8_t> bytes = RandomBytes(random, rows * cols * 4);
    Value root = CreateHolding(DT_FLOAT, {rows, cols}, bytes);
    Value slice = Slice(root.get(), 1, c0, width);
    const size_t extent = ExtentOf({rows, width}, {cols, 1}, 4);
    ASSERT_EQ(SizeOfTensor(slice.get()).extent, extent);

    // A flat view over the whole extent sees root elements c0 .. c0 + extent / 4 - 1.
    const int64_t span = static_cast<int64_t>(extent / 4);
    Value flat = View(slice.get(), 0, DT_FLOAT, {span});
    if (Addressable()) {
      EXPECT_EQ(DataOf(flat.get()), DataOf(root.get()) + c0 * 4);
    }
    EXPECT_EQ(BufferOf(flat.get()).byte_offset, size_t(c0) * 4);
    EXPECT_EQ(Read(flat.get()),
              std::vector<uint8_t>(bytes.begin() + c0 * 4, bytes.begin() + (c0 + span) * 4));
    if (span > 1) {
      const int64_t skip = random.Between(1, span - 1);
      Value tail = View(slice.get(), skip * 4, DT_FLOAT, {span - skip});
      EXPECT_EQ(Read(tail.get()), std::vector<uint8_t>(bytes.begin() + (c0 + skip) * 4,
                                                       bytes.begin() + (c0 + span) * 4));
    }
    const Shape too_long = {span + 1};
    const std::string quoted = "base extent of " + std::to_string(extent) + " bytes";
    DtValue* out = kUntouched;
    DT_EXPECT_ERROR(DtCreateTensorView(slice.get(), 0, DT_FLOAT, too_long.data(), 1, &out),
                    DT_OUT_OF_RANGE, quoted.c_str());
    EXPECT_EQ(out, kUntouched);
  }
}

TEST_P(ViewSuite, RejectsBadArgumentsWithoutSettingOutput) {
  Value base = Create(e(), d(), DT_FLOAT, {16});
  const Shape four = {4}, negative = {-2}, nine(DT_MAX_RANK + 1, 1);
  DtValue* out = kUntouched;
  DT_EXPECT_ERROR(DtCreateTensorView(nullptr, 0, DT_FLOAT, four.data(), 1, &out),
                  DT_INVALID_ARGUMENT, "base");
  DT_EXPECT_ERROR(DtCreateTensorView(base.get(), 0, DT_FLOAT, four.data(), 1, nullptr),
                  DT_INVALID_ARGUMENT, "view");
  DT_EXPECT_ERROR(
      DtCreateTensorView(base.get(), 0, static_cast<DtElementType>(8), four.data(), 1, &out),
      DT_INVALID_ARGUMENT, "type 8");
  DT_EXPECT_ERROR(DtCreateTensorView(base.get(), 0, DT_FLOAT, negative.data(), 1, &out),
                  DT_INVALID_ARGUMENT, "shape[0]", "-2");
  DT_EXPECT_ERROR(DtCreateTensorView(base.get(), 0, DT_UINT8, nine.data(), nine.size(), &out),
                  DT_INVALID_ARGUMENT, "rank 9");
  EXPECT_EQ(out, kUntouched);
}

// ---- DtSliceTensor ------------------------------------------------------------------------------

// Checks `slice` against `root` (a contiguous tensor of `root_shape` holding `root_bytes`) sliced
// to start at element index `start` with shape `shape`: layout, offset and every element.
void ExpectSliceOf(const DeviceTensorTest& t, const DtValue* root, const Shape& root_shape,
                   const std::vector<uint8_t>& root_bytes, const Shape& start, const Shape& shape,
                   const DtValue* slice) {
  const DtElementType type = TypeOf(root);
  const size_t size = SizeOf(type);
  const Shape strides = RowMajorStrides(root_shape);
  int64_t first = 0;
  for (size_t i = 0; i < start.size(); ++i) first += start[i] * strides[i];

  EXPECT_EQ(ShapeOf(slice), shape);
  EXPECT_EQ(TypeOf(slice), type);
  EXPECT_EQ(StridesOf(slice), strides) << "slicing keeps the strides";
  const Size sizes = SizeOfTensor(slice);
  EXPECT_EQ(sizes.count, static_cast<size_t>(Product(shape)));
  EXPECT_EQ(sizes.extent, ExtentOf(shape, strides, size));
  EXPECT_EQ(DtIsTensorContiguous(slice), IsDenseRowMajor(shape, strides) ? 1 : 0);
  EXPECT_EQ(BufferOf(slice).handle, BufferOf(root).handle);
  if (Product(shape) == 0) return;  // where an empty slice points is not specified
  EXPECT_EQ(BufferOf(slice).byte_offset, BufferOf(root).byte_offset + first * size);
  if (t.Addressable()) {
    EXPECT_EQ(DataOf(slice), DataOf(root) + first * size);
  }

  std::vector<int64_t> offsets = ElementOffsets(shape, strides);
  for (int64_t& offset : offsets) offset += first;
  EXPECT_EQ(t.Read(slice), Gather(root_bytes.data(), offsets, size));
}

TEST_P(ViewSuite, SlicesOnEveryAxisOfARank4Tensor) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < Trials(20, 5); ++trial) {
    const DtElementType type = RandomType(random);
    Shape shape(4);
    for (int64_t& d : shape) d = random.Between(1, 6);
    SCOPED_TRACE("base " + Text(shape) + " of " + DtGetElementTypeName(type));
    const std::vector<uint8_t> bytes = RandomBytes(random, Product(shape) * SizeOf(type));
    Value base = CreateHolding(type, shape, bytes);

    for (size_t axis = 0; axis < 4; ++axis) {
      for (int k = 0; k < 4; ++k) {
        const int64_t start = random.Between(0, shape[axis]);
        const int64_t length = random.Between(0, shape[axis] - start);
        SCOPED_TRACE("axis " + std::to_string(axis) + " start " + std::to_string(start) +
                     " length " + std::to_string(length));
        Value slice = Slice(base.get(), axis, start, length);
        Shape starts(4, 0), sliced = shape;
        starts[axis] = start;
        sliced[axis] = length;
        ExpectSliceOf(*this, base.get(), shape, bytes, starts, sliced, slice.get());
        if (axis == 0) {
          EXPECT_EQ(DtIsTensorContiguous(slice.get()), 1);
        }
      }
    }
    if (HasFailure()) break;
  }
}

TEST_P(ViewSuite, SlicesOfSlicesAddUp) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < Trials(50, 10); ++trial) {
    Shape shape(4);
    for (int64_t& d : shape) d = random.Between(1, 6);
    const DtElementType type = RandomType(random);
    const std::vector<uint8_t> bytes = RandomBytes(random, Product(shape) * SizeOf(type));
    Value base = CreateHolding(type, shape, bytes);

    Shape start(4, 0), sliced = shape;
    Value current = Slice(base.get(), 0, 0, shape[0]);
    std::string trace = "base " + Text(shape);
    for (int depth = 0; depth < 3; ++depth) {
      const size_t axis = random.Between(0, 3);
      const int64_t s = random.Between(0, sliced[axis] - 1);
      const int64_t length = random.Between(1, sliced[axis] - s);
      current = Slice(current.get(), axis, s, length);
      start[axis] += s;
      sliced[axis] = length;
      trace += " -> axis " + std::to_string(axis) + " [" + std::to_string(s) + ":+" +
               std::to_string(length) + "]";
    }
    SCOPED_TRACE(trace);
    ExpectSliceOf(*this, base.get(), shape, bytes, start, sliced, current.get());
    if (HasFailure()) break;
  }
}

TEST_P(ViewSuite, ZeroLengthSlicesAreEmpty) {
  SCOPED_TRACE(random.trace());
  const Shape shape = {4, 5, 6};
  const std::vector<uint8_t> bytes = RandomBytes(random, 120 * 4);
  Value base = CreateHolding(DT_INT32, shape, bytes);
  for (size_t axis = 0; axis < 3; ++axis) {
    for (int64_t start : {int64_t{0}, shape[axis] / 2, shape[axis]}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + " start " + std::to_string(start));
      Value empty = Slice(base.get(), axis, start, 0);
      Shape expected = shape;
      expected[axis] = 0;
      EXPECT_EQ(ShapeOf(empty.get()), expected);
      EXPECT_EQ(SizeOfTensor(empty.get()).count, 0u);
      EXPECT_EQ(SizeOfTensor(empty.get()).extent, 0u);
      EXPECT_EQ(DtIsTensorContiguous(empty.get()), 1);
      // Copies into and out of it, within the device and from and to the host, do nothing.
      for (const DtDevice* on : {d(), cpu.get()}) {
        Value other = Create(e(), on, DT_INT32, expected);
        const DtValue* src = other.get();
        DtValue* dst = empty.get();
        DT_EXPECT_OK(DtCopyTensors(e(), &src, &dst, 1, nullptr));
        src = empty.get();
        dst = other.get();
        DT_EXPECT_OK(DtCopyTensors(e(), &src, &dst, 1, nullptr));
      }
      EXPECT_EQ(GetDeviceStorage(base.get(), bytes.size()), bytes);
      // It slices further along other axes.
      const size_t other_axis = (axis + 1) % 3;
      Value further = Slice(empty.get(), other_axis, 1, 2);
      EXPECT_EQ(SizeOfTensor(further.get()).count, 0u);
    }
  }
}

TEST_P(ViewSuite, SlicesOutOfRangeAreRefusedWithoutSettingOutput) {
  Value base = Create(e(), d(), DT_FLOAT, {3, 4, 5, 6});
  DtValue* out = kUntouched;
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 4, 0, 1, &out), DT_OUT_OF_RANGE, "axis 4", "rank 4");
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 1000, 0, 1, &out), DT_OUT_OF_RANGE, "axis 1000");
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 1, -1, 2, &out), DT_OUT_OF_RANGE, "start -1");
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 1, 0, -2, &out), DT_OUT_OF_RANGE, "length -2");
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 1, 3, 2, &out), DT_OUT_OF_RANGE, "start 3", "length 2",
                  "size 4");
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 3, 7, 0, &out), DT_OUT_OF_RANGE, "start 7", "size 6");
  // start + length overflows int64: still a range error, never a wrapped-around slice.
  const std::string big = "start " + std::to_string(INT64_MAX);
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 2, INT64_MAX, 1, &out), DT_OUT_OF_RANGE, big.c_str());
  const std::string long_length = "length " + std::to_string(INT64_MAX);
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 2, 1, INT64_MAX, &out), DT_OUT_OF_RANGE,
                  long_length.c_str());
  DT_EXPECT_ERROR(DtSliceTensor(nullptr, 0, 0, 1, &out), DT_INVALID_ARGUMENT, "base");
  DT_EXPECT_ERROR(DtSliceTensor(base.get(), 0, 0, 1, nullptr), DT_INVALID_ARGUMENT, "view");
  EXPECT_EQ(out, kUntouched);
  // A scalar has no axis to slice.
  Value scalar = Create(e(), d(), DT_FLOAT, {});
  DT_EXPECT_ERROR(DtSliceTensor(scalar.get(), 0, 0, 1, &out), DT_OUT_OF_RANGE, "axis 0", "rank 0");
  EXPECT_EQ(out, kUntouched);
}

TEST_P(ViewSuite, ContiguityOfSlicesFollowsTheLayout) {
  struct Case {
    Shape shape;
    size_t axis;
    int64_t start, length;
    bool contiguous;  // what a user can tell from the shape
  };
  const Case cases[] = {
      {{3, 4, 5}, 0, 1, 2, true},     // rows of a contiguous tensor
      {{3, 4, 5}, 1, 1, 2, false},    // a block in each of 3 outer rows
      {{3, 4, 5}, 2, 0, 5, true},     // the whole axis
      {{3, 4, 5}, 2, 1, 1, false},    // a column
      {{1, 1, 5, 6}, 2, 1, 3, true},  // outer dimensions of 1: rows 1..3 of one matrix
      {{2, 1, 5, 6}, 2, 1, 3, false}, {{1, 4, 6}, 2, 2, 3, false},   {{4, 1}, 1, 0, 1, true},
      {{3, 4, 1}, 1, 0, 2, false},    {{1, 1, 1, 6}, 3, 2, 3, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Text(c.shape) + " axis " + std::to_string(c.axis) + " [" +
                 std::to_string(c.start) + ":+" + std::to_string(c.length) + "]");
    Value base = Create(e(), d(), DT_UINT8, c.shape);
    Value slice = Slice(base.get(), c.axis, c.start, c.length);
    Shape sliced = c.shape;
    sliced[c.axis] = c.length;
    ASSERT_EQ(IsDenseRowMajor(sliced, RowMajorStrides(c.shape)), c.contiguous) << "test table";
    EXPECT_EQ(DtIsTensorContiguous(slice.get()), c.contiguous ? 1 : 0);
  }
}

}  // namespace
