// Empty tensors whose other dimensions are huge: a view of shape [1, INT64_MAX, 0] holds no bytes
// and is valid, and its strides (INT64_MAX elements along axis 0) overflow any byte arithmetic
// that multiplies them by an element size or a position. Every op, copy and zero on such views
// (and on slices of them, such as [0, 5, 0]) must succeed and write nothing, on the CPU and on
// WebGPU. Each view lies inside an arena of sentinel bytes, which are checked after every call.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "test_util.h"

namespace {

using namespace devtensor_test;
using devtensor::Device;
using devtensor::Tensor;

constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();
constexpr size_t kArenaBytes = 512;

// A uint8 tensor of kArenaBytes sentinel bytes on a device, in which the test places its views.
struct Arena {
  Arena(const devtensor::Env& env, Device device) : env(env), device(device) {
    whole = Tensor::create(env, device, DT_UINT8, {int64_t(kArenaBytes)});
    std::vector<uint8_t> bytes = Sentinels(kArenaBytes);
    Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), bytes.data(), bytes.size(), 0,
                               DT_UINT8, {int64_t(kArenaBytes)});
    env.copy(host, whole);
  }
  // A contiguous view of `shape` at `byte_offset`.
  Tensor View(size_t byte_offset, DtElementType type, const Shape& shape) const {
    return whole.view(byte_offset, type, shape);
  }
  // Fills `bytes` at `byte_offset` (for inputs the ops read: shapes, indices, scalars).
  void Write(size_t byte_offset, const void* data, size_t bytes) const {
    std::vector<uint8_t> copy(static_cast<const uint8_t*>(data),
                              static_cast<const uint8_t*>(data) + bytes);
    Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), copy.data(), copy.size(), 0,
                               DT_UINT8, {int64_t(bytes)});
    env.copy(host, View(byte_offset, DT_UINT8, {int64_t(bytes)}));
  }
  std::vector<uint8_t> Read() const {
    std::vector<uint8_t> bytes(kArenaBytes, 0);
    Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), bytes.data(), bytes.size(), 0,
                               DT_UINT8, {int64_t(kArenaBytes)});
    env.copy(whole, host);
    return bytes;
  }
  // Expects every byte outside [keep_begin, keep_end) to hold the sentinel still.
  void ExpectUntouched(const std::string& what, size_t keep_begin = 0, size_t keep_end = 0) const {
    std::vector<uint8_t> now = Read();
    std::vector<uint8_t> expected = Sentinels(kArenaBytes);
    for (size_t i = keep_begin; i < keep_end; ++i) expected[i] = now[i];
    EXPECT_TRUE(SameBytes(now, expected)) << what;
  }

  const devtensor::Env& env;
  Device device;
  Tensor whole;
};

// [1, INT64_MAX, 0] of `type` at `byte_offset`, sliced to [0, 5, 0]: strides {INT64_MAX, 1, 1}.
Tensor EmptySlice(const Arena& arena, size_t byte_offset, DtElementType type) {
  return arena.View(byte_offset, type, {1, kHuge, 0}).slice(1, 0, 5).slice(0, 0, 0);
}

DtStatus* RunOp(const devtensor::Env& env, const char* op, std::vector<const Tensor*> inputs,
              std::vector<const Tensor*> outputs, std::vector<DtAttribute> attributes = {}) {
  std::vector<const DtValue*> in;
  std::vector<DtValue*> out;
  for (const Tensor* t : inputs) in.push_back(t->get());
  for (const Tensor* t : outputs) out.push_back(t->get());
  return DtRunOp(env.get(), op, in.data(), in.size(), out.data(), out.size(), attributes.data(),
                 attributes.size(), nullptr);
}

class EmptyHugeViews : public WebGpuEnvTest {
 protected:
  std::vector<std::pair<const char*, Device>> Devices() const {
    return {{"CPU", cpu}, {"WebGPU", gpu}};
  }
};

// The reported case: int16 [1, INT64_MAX, 0] sliced to [0, 5, 0], divided by itself in place.
TEST_F(EmptyHugeViews, DivInPlaceOnASliceIsANoOp) {
  for (const auto& [name, device] : Devices()) {
    SCOPED_TRACE(name);
    Arena arena(env, device);
    Tensor t = EmptySlice(arena, 10, DT_INT16);
    ASSERT_EQ(t.shape(), (Shape{0, 5, 0}));
    ASSERT_EQ(t.strides(), (Shape{kHuge, 1, 1}));
    DT_EXPECT_OK(RunOp(env, "Div", {&t, &t}, {&t}));
    arena.ExpectUntouched("Div");
  }
}

TEST_F(EmptyHugeViews, ElementwiseOpsAreNoOps) {
  for (const auto& [name, device] : Devices()) {
    SCOPED_TRACE(name);
    Arena arena(env, device);
    Tensor a = EmptySlice(arena, 10, DT_INT16), b = EmptySlice(arena, 34, DT_INT16);
    Tensor c = EmptySlice(arena, 66, DT_INT16), f = EmptySlice(arena, 100, DT_FLOAT);
    Tensor cond = EmptySlice(arena, 131, DT_BOOL);
    Tensor whole = arena.View(10, DT_INT16, {1, kHuge, 0});
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
      SCOPED_TRACE(op);
      DT_EXPECT_OK(RunOp(env, op, {&a, &a}, {&a}));     // in place
      DT_EXPECT_OK(RunOp(env, op, {&a, &b}, {&c}));     // three views
      DT_EXPECT_OK(RunOp(env, op, {&whole, &whole}, {&whole}));
    }
    DT_EXPECT_OK(RunOp(env, "Cast", {&a}, {&f}, {devtensor::IntAttribute("to", DT_FLOAT)}));
    DT_EXPECT_OK(RunOp(env, "Cast", {&f}, {&a}, {devtensor::IntAttribute("to", DT_INT16)}));
    DT_EXPECT_OK(RunOp(env, "Where", {&cond, &a, &b}, {&c}));
    DT_EXPECT_OK(RunOp(env, "Where", {&cond, &a, &a}, {&a}));
    // Expand of [1, 5, 0] to [0, 5, 0] (shape held at byte 160) and of the view to itself.
    const int64_t target[3] = {0, 5, 0};
    arena.Write(160, target, sizeof target);
    Tensor shape = arena.View(160, DT_INT64, {3});
    Tensor one = arena.View(10, DT_INT16, {1, kHuge, 0}).slice(1, 0, 5);
    DT_EXPECT_OK(RunOp(env, "Expand", {&one, &shape}, {&c}));
    DT_EXPECT_OK(RunOp(env, "Expand", {&a, &shape}, {&a}));
    DT_EXPECT_OK(RunOp(env, "Fill", {}, {&a}, {devtensor::FloatAttribute("value", 3.0f)}));
    DT_EXPECT_OK(RunOp(env, "Fill", {}, {&f}, {devtensor::FloatAttribute("value", 3.0f)}));
    DT_EXPECT_OK(RunOp(env, "Fill", {}, {&whole}, {devtensor::FloatAttribute("value", 3.0f)}));
    arena.ExpectUntouched("elementwise ops", 160, 184);
  }
}

TEST_F(EmptyHugeViews, ScatterArgMaxAndDecodeOpsAreNoOps) {
  for (const auto& [name, device] : Devices()) {
    SCOPED_TRACE(name);
    Arena arena(env, device);
    // ScatterND in place into [1, INT64_MAX, 0] at index (0, INT64_MAX - 1): updates [1, 0].
    const int64_t index[2] = {0, kHuge - 1};
    arena.Write(160, index, sizeof index);
    const int32_t position = std::numeric_limits<int32_t>::max() - 1;
    arena.Write(200, &position, sizeof position);
    const size_t written_end = 204;
    Tensor data = arena.View(10, DT_INT16, {1, kHuge, 0});
    Tensor indices = arena.View(160, DT_INT64, {1, 2});
    Tensor updates = arena.View(40, DT_INT16, {1, 0});
    DT_EXPECT_OK(RunOp(env, "ScatterND", {&data, &indices, &updates}, {&data}));
    Tensor other = arena.View(42, DT_INT16, {1, kHuge, 0});
    DT_EXPECT_OK(RunOp(env, "ScatterND", {&data, &indices, &updates}, {&other}));

    // ArgMax over axis 0 of [2, 2^61, 0]: int64 output [1, 2^61, 0], whose byte strides pass 2^64.
    Tensor values = arena.View(12, DT_INT16, {2, int64_t(1) << 61, 0});
    Tensor argmax = arena.View(48, DT_INT64, {1, int64_t(1) << 61, 0});
    DT_EXPECT_OK(RunOp(env, "ArgMax", {&values}, {&argmax}, {devtensor::IntAttribute("axis", 0)}));
    // ArgMax along an axis of INT64_MAX elements, with an empty output [1, 1, 0].
    Tensor long_axis = arena.View(12, DT_INT16, {1, kHuge, 0});
    Tensor one_out = arena.View(48, DT_INT64, {1, 1, 0});
    DT_EXPECT_OK(RunOp(env, "ArgMax", {&long_axis}, {&one_out}, {devtensor::IntAttribute("axis", 1)}));

    // KvCacheAppend at position INT32_MAX - 1 into an empty int64 cache [0, 1, 2^31, 2^31], whose
    // byte offset of that position passes 2^63, and of new_kv [1, 1, new_len, 0] into a cache
    // [1, 1, INT64_MAX, 0] with position + new_len at INT64_MAX (valid) and past it (out of range).
    Tensor position_tensor = arena.View(200, DT_INT32, {1});
    Tensor cache = arena.View(24, DT_INT64, {0, 1, int64_t(1) << 31, int64_t(1) << 31});
    Tensor kv = arena.View(24, DT_INT64, {0, 1, 1, int64_t(1) << 31});
    DT_EXPECT_OK(RunOp(env, "KvCacheAppend", {&kv, &position_tensor}, {&cache}));
    Tensor long_cache = arena.View(24, DT_INT64, {1, 1, kHuge, 0});
    Tensor fits = arena.View(24, DT_INT64, {1, 1, kHuge - position, 0});
    DT_EXPECT_OK(RunOp(env, "KvCacheAppend", {&fits, &position_tensor}, {&long_cache}));
    Tensor too_long = arena.View(24, DT_INT64, {1, 1, kHuge - position + 1, 0});
    if (device.get() == gpu.get()) {
      EXPECT_EQ(ErrorFlags(), 0u);
      DT_EXPECT_OK(RunOp(env, "KvCacheAppend", {&too_long, &position_tensor}, {&long_cache}));
      EXPECT_EQ(ErrorFlags(), 1u) << "the position check of an empty append";
    } else {
      DT_EXPECT_ERROR(RunOp(env, "KvCacheAppend", {&too_long, &position_tensor}, {&long_cache}),
                      DT_OUT_OF_RANGE, "position 2147483646", "max_len 9223372036854775807");
    }

    // UpdateAttentionMask of [INT64_MAX, 0] and UpdatePositionIds of [0, 5, 0].
    Tensor mask = arena.View(64, DT_INT32, {kHuge, 0});
    DT_EXPECT_OK(RunOp(env, "UpdateAttentionMask", {&position_tensor}, {&mask}));
    Tensor ids = EmptySlice(arena, 72, DT_INT64);
    DT_EXPECT_OK(RunOp(env, "UpdatePositionIds", {}, {&ids}));
    arena.ExpectUntouched("scatter, argmax and decode ops", 160, written_end);
    if (device.get() == gpu.get()) {
      EXPECT_EQ(ErrorFlags(), 0u);
    }
  }
}

// Copies and zeros of empty huge-dim views, on every pair of devices, alone and in batches.
TEST_F(EmptyHugeViews, CopiesAndZerosAreNoOps) {
  for (const auto& [from_name, from] : Devices()) {
    for (const auto& [to_name, to] : Devices()) {
      SCOPED_TRACE(std::string(from_name) + " to " + to_name);
      Arena source(env, from), destination(env, to);
      for (DtElementType type : {DT_INT16, DT_UINT8, DT_FLOAT, DT_INT64}) {
        SCOPED_TRACE(DtGetElementTypeName(type));
        const size_t size = DtGetElementSize(type);
        Tensor a = EmptySlice(source, 3 * size, type), b = EmptySlice(destination, 5 * size, type);
        env.copy(a, b);
        Tensor wa = source.View(7 * size, type, {1, kHuge, 0});
        Tensor wb = destination.View(9 * size, type, {1, kHuge, 0});
        env.copy(wa, wb);
        // Slices at the far end of the huge axis keep the base offset: still no bytes.
        Tensor fa = source.View(11 * size, type, {1, kHuge, 0}).slice(1, kHuge - 3, 3);
        Tensor fb = destination.View(13 * size, type, {1, kHuge, 0}).slice(1, kHuge - 3, 3);
        env.copy({{&fa, &fb}, {&wa, &wb}, {&a, &b}});
        // Within one buffer: source and destination views of one arena.
        Tensor c = EmptySlice(destination, 15 * size, type);
        env.copy(b, c);
        env.copy(wb, wb);
        env.zero(b);
        env.zero(wb);
        env.zero(fb);
        env.zero(a);
      }
      source.ExpectUntouched("source");
      destination.ExpectUntouched("destination");
    }
  }
}

}  // namespace
