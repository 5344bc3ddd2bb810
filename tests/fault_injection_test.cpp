// Faults injected through the test provider (tests/providers/ext_provider.cpp) and, on WebGPU,
// forced through Dawn: an allocation that fails gives DT_OUT_OF_MEMORY, leaks nothing and leaves
// every earlier tensor as it was; a device lost part way through a batch, a stream's work or a
// replay gives DT_DEVICE_LOST, and nothing hangs.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "devtensor/devtensor.hpp"
#include "ext_device.h"
#include "test_util.h"
#include "webgpu_util.h"

using namespace devtensor_test;
using devtensor::Tensor;

namespace {

DtValue* const kUntouchedValue = reinterpret_cast<DtValue*>(uintptr_t{0x5a5a5a50});

class FaultInjection : public ::testing::Test {
 protected:
  void SetUp() override {
    env.register_provider("ext", kExtProvider);
    cpu = env.device(DT_DEVICE_CPU);
    ext = env.device(DT_DEVICE_EXT_DEV, 0);
    hooks.emplace();
    ASSERT_NE(hooks->fail_allocation_after, nullptr);
    ASSERT_NE(hooks->lose_device_after_pairs, nullptr);
  }
  void TearDown() override {
    hooks->fail_allocation_after(-1);
    hooks->lose_device_after_pairs(-1);
  }

  // An ext tensor of `count` int32 holding random values, and those values.
  Tensor Filled(size_t count, std::vector<int32_t>* values) {
    values->resize(count);
    for (auto& v : *values) v = int32_t(random());
    Tensor host = Tensor::wrap(env, cpu, values->data(), count * 4, 0, DT_INT32, {int64_t(count)});
    Tensor t = Tensor::create(env, ext, DT_INT32, {int64_t(count)});
    env.copy(host, t);
    return t;
  }
  std::vector<int32_t> Read(const Tensor& t) {
    std::vector<int32_t> values(t.element_count());
    Tensor host = Tensor::wrap(env, cpu, values.data(), values.size() * 4, 0, DT_INT32,
                               {int64_t(values.size())});
    env.copy(t, host);
    return values;
  }

  Random random;
  devtensor::Env env;
  devtensor::Device cpu, ext;
  std::optional<ExtHooks> hooks;
};

TEST_F(FaultInjection, AFailedAllocationIsOutOfMemoryLeaksNothingAndKeepsEarlierTensors) {
  SCOPED_TRACE(random.trace());
  std::vector<int32_t> a_values, b_values;
  Tensor a = Filled(64, &a_values), b = Filled(64, &b_values);
  const int64_t live = hooks->LiveBuffers();
  hooks->fail_allocation_after(0);
  const int64_t shape[] = {16};
  DtValue* made = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensor(env.get(), ext.get(), DT_INT32, shape, 1, &made),
                  DT_OUT_OF_MEMORY, "injected", "64 bytes");
  EXPECT_EQ(made, kUntouchedValue);
  EXPECT_EQ(hooks->LiveBuffers(), live) << "the failed allocation left a buffer";
  // A copy whose source and destination overlap stages through a temporary of the device: its
  // allocation fails, and the whole batch writes nothing.
  hooks->fail_allocation_after(0);
  const Tensor b_head = b.view(0, DT_INT32, {4}), b_tail = b.view(240, DT_INT32, {4});
  const Tensor a_head = a.view(0, DT_INT32, {40}), a_moved = a.view(8, DT_INT32, {40});
  const DtValue* src[] = {b_head.get(), a_head.get()};
  DtValue* dst[] = {b_tail.get(), a_moved.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_OUT_OF_MEMORY, "injected");
  EXPECT_EQ(hooks->LiveBuffers(), live);
  hooks->fail_allocation_after(-1);
  EXPECT_EQ(Read(a), a_values) << "an earlier tensor changed";
  EXPECT_EQ(Read(b), b_values) << "an earlier tensor changed";
  // The next allocation works again, and so does the copy.
  DT_EXPECT_OK(DtCopyTensors(env.get(), src, dst, 2, nullptr));
  std::vector<int32_t> expected_a = a_values, expected_b = b_values;
  std::memmove(expected_a.data() + 2, a_values.data(), 40 * 4);
  std::memcpy(expected_b.data() + 60, b_values.data(), 4 * 4);
  EXPECT_EQ(Read(a), expected_a);
  EXPECT_EQ(Read(b), expected_b);
}

TEST_F(FaultInjection, ADeviceLostPartWayThroughABatchIsDeviceLostAndStaysLost) {
  SCOPED_TRACE(random.trace());
  std::vector<int32_t> values;
  Tensor source = Filled(32, &values);
  Tensor one = Tensor::create(env, ext, DT_INT32, {32}), two = Tensor::create(env, ext, DT_INT32, {32});
  hooks->lose_device_after_pairs(1);
  const DtValue* src[] = {source.get(), source.get()};
  DtValue* dst[] = {one.get(), two.get()};
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_DEVICE_LOST, "lost");
  // Everything after: lost, at once.
  DT_EXPECT_ERROR(DtZeroTensor(env.get(), one.get(), nullptr), DT_DEVICE_LOST, "lost");
  const int64_t shape[] = {4};
  DtValue* made = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensor(env.get(), ext.get(), DT_INT32, shape, 1, &made), DT_DEVICE_LOST,
                  "lost");
  EXPECT_EQ(made, kUntouchedValue);
}

TEST_F(FaultInjection, ADeviceLostWhileAStreamWorksIsReportedBySynchronizeWithoutHanging) {
  SCOPED_TRACE(random.trace());
  std::vector<int32_t> values;
  Tensor source = Filled(32, &values);
  Tensor one = Tensor::create(env, ext, DT_INT32, {32});
  std::optional<devtensor::Stream> stream(env.create_stream(ext));
  hooks->lose_device_after_pairs(3);
  for (int i = 0; i < 8; ++i) env.copy(source, one, &*stream);
  env.zero(one, &*stream);
  DT_EXPECT_ERROR(DtSynchronizeStream(stream->get()), DT_DEVICE_LOST, "lost");
  for (int i = 0; i < 4; ++i) env.copy(source, one, &*stream);
  stream.reset();  // releasing a stream whose work failed returns
}

// WebGPU: the device is lost while a replay of a captured step is queued; the stream's
// synchronisation, later replays and the error flags report DT_DEVICE_LOST and return.
class WebGpuFaultInjection : public WebGpuDawnTest {};

TEST_F(WebGpuFaultInjection, ADeviceLostDuringAReplayIsDeviceLostAndNothingHangs) {
  SCOPED_TRACE(random.trace());
  Tensor a = Tensor::create(env, gpu, DT_FLOAT, {256});
  Tensor b = Tensor::create(env, gpu, DT_FLOAT, {256});
  std::vector<float> host(256, -1.0f);
  Tensor host_view = Tensor::wrap(env, cpu, host.data(), host.size() * 4, 0, DT_FLOAT, {256});
  env.run("Fill", {}, {&b}, {devtensor::FloatAttribute("value", 0.25f)});
  devtensor::Stream stream = env.create_stream(gpu);
  devtensor::begin_capture(stream);
  for (int i = 0; i < 40; ++i) env.run("Add", {&a, &b}, {&a}, {}, &stream);
  env.copy(a, host_view, &stream);
  devtensor::Graph graph = devtensor::end_capture(stream);
  DT_ASSERT_OK(DtReplayGraph(graph.get(), stream.get()));
  dawn.api().DeviceForceLoss(dawn.device(), 1 /* Unknown */, wgpu::View("forced by a test"));
  DT_EXPECT_ERROR(DtSynchronizeStream(stream.get()), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(DtReplayGraph(graph.get(), stream.get()), DT_DEVICE_LOST, "lost");
  uint32_t flags = 0;
  DT_EXPECT_ERROR(DtGetDeviceErrorFlags(gpu.get(), &flags), DT_DEVICE_LOST, "lost");
}

}  // namespace
