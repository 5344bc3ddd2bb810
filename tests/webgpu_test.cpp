// The WebGPU device's own behaviour, beside what every device does (tests/device_suite): its info
// and native handles, tensors that are WGPUBuffers (no pointer; the offset never folded into the
// handle), application buffers wrapped at offsets (checked for their usage, range, element size
// and device, and usable without the Storage usage for word-aligned copies), and device loss,
// after which every call fails cleanly and a new env gets a new device. A missing WebGPU device
// fails every test here: CI must prove that WebGPU works.
//
// Buffers are filled and read back through Dawn directly (webgpu_util.h), not through the copies
// under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "device_suite/copy_trials.h"
#include "device_suite/device_cases.h"

namespace {

using namespace devtensor_test;
using devtensor::Device;
using devtensor::Shape;
using devtensor::Tensor;

DtValue* const kUntouchedValue = reinterpret_cast<DtValue*>(uintptr_t{0x5a5a5a50});

using WebGpuDevice = WebGpuDeviceTest;
using WebGpuWrap = WebGpuDeviceTest;
using WebGpuDeviceLoss = WebGpuDeviceTest;

// ---- The device ---------------------------------------------------------------------------------

TEST_F(WebGpuDevice, InfoNativeHandlesAndOpaqueBuffers) {
  SCOPED_TRACE(random.trace());
  int32_t count = 0;
  DT_ASSERT_OK(DtGetDeviceCount(env.get(), DT_DEVICE_WEBGPU, &count));
  EXPECT_GE(count, 1);
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
  DT_ASSERT_OK(DtGetDeviceInfo(device.get(), &info));
  EXPECT_EQ(info.type, DT_DEVICE_WEBGPU);
  EXPECT_EQ(info.id, 0);
  EXPECT_EQ(info.is_addressable, 0);
  EXPECT_EQ(info.has_streams, 1);
  EXPECT_NE(std::string(info.name).find("Vulkan"), std::string::npos) << info.name;
  EXPECT_STREQ(info.provider_name, "webgpu");
  EXPECT_GE(info.max_allocation_bytes, 16 * kMiB);
  // A software adapter (lavapipe) says so, so that applications do not expect GPU speed of it.
  const bool cpu_adapter = std::string(info.name).find(", CPU)") != std::string::npos;
  EXPECT_EQ(info.runs_on_cpu, cpu_adapter ? 1 : 0) << info.name;

  // The queue handle is the device's queue; an unknown name is refused and names the known ones.
  wgpu::Queue queue = dawn.api().DeviceGetQueue(dawn.device());
  EXPECT_EQ(queue, dawn.queue());
  dawn.api().QueueRelease(queue);
  void* handle = reinterpret_cast<void*>(uintptr_t{0x77});
  DT_EXPECT_ERROR(DtGetDeviceNativeHandle(device.get(), "VkDevice", &handle), DT_NOT_FOUND, "VkDevice",
                  "WGPUDevice");
  EXPECT_EQ(handle, reinterpret_cast<void*>(uintptr_t{0x77}));

  // Tensors are WGPUBuffers: no pointer, and the handle is the buffer exactly as allocated.
  Tensor tensor = Tensor::create(env, device, DT_FLOAT, {64});
  void* data = reinterpret_cast<void*>(uintptr_t{0x77});
  DT_EXPECT_ERROR(DtGetTensorData(tensor.get(), &data), DT_NOT_SUPPORTED, "WebGPU(15):0",
                  "DtGetTensorBuffer");
  EXPECT_EQ(data, reinterpret_cast<void*>(uintptr_t{0x77}));
  const Tensor::Buffer root = tensor.buffer();
  EXPECT_EQ(root.byte_offset, 0u);
  EXPECT_EQ(root.buffer_bytes, 256u);
  const auto buffer = static_cast<wgpu::Buffer>(root.handle);
  EXPECT_GE(dawn.api().BufferGetSize(buffer), 256u);
  const wgpu::Flags usage = wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
  EXPECT_EQ(dawn.api().BufferGetUsage(buffer) & usage, usage);

  // Views carry their offset beside the same handle, never folded into it.
  Tensor view = tensor.view(40, DT_FLOAT, {4, 4});
  Tensor cell = view.slice(0, 2, 1).slice(1, 1, 2);
  EXPECT_EQ(view.buffer().handle, root.handle);
  EXPECT_EQ(view.buffer().byte_offset, 40u);
  EXPECT_EQ(view.buffer().buffer_bytes, 256u);
  EXPECT_EQ(cell.buffer().handle, root.handle);
  EXPECT_EQ(cell.buffer().byte_offset, 40u + (2 * 4 + 1) * 4);

  // And the handle is where the data is: bytes Dawn writes there are what devtensor reads.
  const std::vector<uint8_t> bytes = RandomBytes(random, 256);
  dawn.Write(buffer, 0, bytes);
  Tensor host_view = Tensor::create(env, cpu, DT_FLOAT, {4, 4});
  Tensor host_cell = Tensor::create(env, cpu, DT_FLOAT, {1, 2});
  env.copy({{&view, &host_view}, {&cell, &host_cell}});
  EXPECT_EQ(std::memcmp(host_view.data(), bytes.data() + 40, 64), 0);
  EXPECT_EQ(std::memcmp(host_cell.data(), bytes.data() + 76, 8), 0);
}

// ---- Wrapped application buffers ----------------------------------------------------------------

TEST_F(WebGpuWrap, AppBufferRoundTripsAtOffsets) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 12; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t count = random.Between(1, 300);
    const size_t offset = size * random.Between(1, 20);
    const size_t tensor_bytes = count * size;
    const size_t app_bytes = RoundUp4(offset + tensor_bytes + random.Between(0, 24));
    const size_t data_bytes = random.Between(offset + tensor_bytes, app_bytes);
    SCOPED_TRACE(Name(type) + " [" + std::to_string(count) + "] at byte " + std::to_string(offset) +
                 " of a " + std::to_string(app_bytes) + "-byte WGPUBuffer, data_bytes " +
                 std::to_string(data_bytes));
    wgpu::Buffer buffer = dawn.CreateBuffer(
        wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst, app_bytes);
    dawn.Write(buffer, 0, Sentinels(app_bytes));
    {
      Tensor wrapped = Tensor::wrap(env, device, buffer, data_bytes, offset, type, {count});
      EXPECT_EQ(wrapped.buffer().handle, buffer);
      EXPECT_EQ(wrapped.buffer().byte_offset, offset);
      EXPECT_EQ(wrapped.buffer().buffer_bytes, data_bytes);

      // Written through devtensor, read by the app.
      Tensor host = Tensor::create(env, cpu, type, {count});
      const std::vector<uint8_t> values = RandomData(random, type, tensor_bytes);
      std::memcpy(host.data(), values.data(), tensor_bytes);
      env.copy(host, wrapped);
      std::vector<uint8_t> expected = Sentinels(app_bytes);
      std::copy(values.begin(), values.end(), expected.begin() + offset);
      ASSERT_TRUE(SameBytes(dawn.Read(buffer, 0, app_bytes), expected));

      // Written by the app, read through devtensor into a guarded host view.
      const std::vector<uint8_t> app_values = RandomData(random, type, app_bytes);
      dawn.Write(buffer, 0, app_values);
      const Placement back =
          DensePlacement({count}, size, random.Between(1, 5), random.Between(1, 8));
      auto out = NewBytes(Where::kHost, back.BufferBytes());
      out->Set(Sentinels(out->size()));
      Tensor out_view = out->View(back, type);
      env.copy(wrapped, out_view);
      std::vector<uint8_t> out_expected = Sentinels(out->size());
      std::copy_n(app_values.begin() + offset, tensor_bytes,
                  out_expected.begin() + back.parent_offset);
      ASSERT_TRUE(SameBytes(out->Get(), out_expected));

      // And a GPU copy from it into a strided slice of a devtensor buffer.
      const Placement sliced = SliceAlong(random, {count, 1}, size, 1);
      auto g = NewBytes(Where::kDevice, sliced.BufferBytes());
      g->Set(Sentinels(g->size()));
      Tensor g_view = g->View(sliced, type);
      env.copy(wrapped.view(0, type, {count, 1}), g_view);
      std::vector<uint8_t> g_expected = Sentinels(g->size());
      ReferenceCopy(app_values, DensePlacement({count, 1}, size, offset / size, 0), &g_expected,
                    sliced);
      ASSERT_TRUE(SameBytes(g->Get(), g_expected));
    }
    // The tensor released only its own reference: the app's buffer is intact and usable.
    EXPECT_GE(dawn.api().BufferGetSize(buffer), app_bytes);
    EXPECT_EQ(dawn.Read(buffer, 0, 4).size(), 4u);
    dawn.Destroy(buffer);
  }
}

TEST_F(WebGpuWrap, UnusableBuffersAndRangesAreRefused) {
  SCOPED_TRACE(random.trace());
  const int64_t shape[] = {16};  // float: 64 bytes
  const wgpu::Flags all = wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
  wgpu::Buffer good = dawn.CreateBuffer(all, 128);
  dawn.Write(good, 0, Sentinels(128));
  DtValue* out = kUntouchedValue;
  auto wrap = [&](wgpu::Buffer buffer, size_t data_bytes, size_t offset, DtElementType type) {
    return DtCreateTensorWithData(env.get(), device.get(), buffer, data_bytes, offset, type, shape, 1,
                                  &out);
  };
  DT_EXPECT_ERROR(wrap(good, 256, 0, DT_FLOAT), DT_OUT_OF_RANGE, "data_bytes 256", "128");
  DT_EXPECT_ERROR(wrap(good, 128, 80, DT_FLOAT), DT_OUT_OF_RANGE, "byte_offset 80", "64 bytes",
                  "128 bytes");
  DT_EXPECT_ERROR(wrap(good, 128, 2, DT_FLOAT), DT_INVALID_ARGUMENT, "byte_offset 2",
                  "element size 4");
  DT_EXPECT_ERROR(wrap(nullptr, 128, 0, DT_FLOAT), DT_INVALID_ARGUMENT, "data");

  // Buffers that copies cannot use.
  wgpu::Buffer map_read = dawn.CreateBuffer(wgpu::usage::kMapRead | wgpu::usage::kCopyDst, 128);
  wgpu::Buffer no_copy_dst = dawn.CreateBuffer(wgpu::usage::kStorage | wgpu::usage::kCopySrc, 128);
  wgpu::Buffer no_copy_src = dawn.CreateBuffer(wgpu::usage::kStorage | wgpu::usage::kCopyDst, 128);
  DT_EXPECT_ERROR(wrap(map_read, 128, 0, DT_FLOAT), DT_INVALID_ARGUMENT, "usage", "CopySrc");
  DT_EXPECT_ERROR(wrap(no_copy_dst, 128, 0, DT_FLOAT), DT_INVALID_ARGUMENT, "usage", "CopyDst");
  DT_EXPECT_ERROR(wrap(no_copy_src, 128, 0, DT_FLOAT), DT_INVALID_ARGUMENT, "usage", "CopySrc");
  wgpu::Buffer destroyed = dawn.CreateBuffer(all, 128);
  dawn.api().BufferDestroy(destroyed);
  DT_EXPECT_ERROR(wrap(destroyed, 128, 0, DT_FLOAT), DT_INVALID_ARGUMENT, "destroyed");
  EXPECT_EQ(out, kUntouchedValue);
  EXPECT_TRUE(SameBytes(dawn.Read(good, 0, 128), Sentinels(128))) << "nothing may be written";

  // The refusals leave no error behind: the device works, and the good buffer wraps.
  Tensor wrapped = Tensor::wrap(env, device, good, 128, 4, DT_FLOAT, {16});
  Tensor host = Tensor::create(env, cpu, DT_FLOAT, {16});
  const std::vector<uint8_t> values = RandomBytes(random, 64);
  std::memcpy(host.data(), values.data(), 64);
  env.copy(host, wrapped);
  std::vector<uint8_t> expected = Sentinels(128);
  std::copy(values.begin(), values.end(), expected.begin() + 4);
  EXPECT_TRUE(SameBytes(dawn.Read(good, 0, 128), expected));
  for (wgpu::Buffer buffer : {map_read, no_copy_dst, no_copy_src, destroyed}) {
    dawn.api().BufferRelease(buffer);
  }
  wrapped = Tensor();
  dawn.Destroy(good);
}

// Without the Storage usage the copy shader cannot bind a buffer: word-aligned copies work, others
// are refused with DT_NOT_SUPPORTED, and then no pair of the call writes anything.
TEST_F(WebGpuWrap, BufferWithoutStorageTakesWordAlignedCopiesOnly) {
  SCOPED_TRACE(random.trace());
  wgpu::Buffer buffer = dawn.CreateBuffer(wgpu::usage::kCopySrc | wgpu::usage::kCopyDst, 64);
  dawn.Write(buffer, 0, Sentinels(64));
  Tensor wrapped = Tensor::wrap(env, device, buffer, 64, 0, DT_UINT8, {64});
  Tensor host = Tensor::create(env, cpu, DT_UINT8, {16});
  const std::vector<uint8_t> values = RandomBytes(random, 16);
  std::memcpy(host.data(), values.data(), 16);
  env.copy(host, wrapped.view(8, DT_UINT8, {16}));
  std::vector<uint8_t> expected = Sentinels(64);
  std::copy(values.begin(), values.end(), expected.begin() + 8);
  ASSERT_TRUE(SameBytes(dawn.Read(buffer, 0, 64), expected));
  // Reading a view off word boundaries needs no shader.
  Tensor five = Tensor::create(env, cpu, DT_UINT8, {5});
  env.copy(wrapped.view(9, DT_UINT8, {5}), five);
  EXPECT_EQ(std::memcmp(five.data(), values.data() + 1, 5), 0);

  // Writing one does: refused, with the pairs before it in the call (a GPU upload, a host copy).
  Tensor unaligned = wrapped.view(1, DT_UINT8, {5});
  auto g = NewBytes(Where::kDevice, 32);
  auto h = NewBytes(Where::kHost, 32);
  g->Set(Sentinels(32));
  h->Set(Sentinels(32));
  Tensor g_view = g->whole().view(0, DT_UINT8, {16}), h_view = h->whole().view(4, DT_UINT8, {16});
  {
    const DtValue* src[] = {host.get(), five.get()};
    DtValue* dst[] = {g_view.get(), unaligned.get()};
    DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_NOT_SUPPORTED, "Storage");
    EXPECT_TRUE(SameBytes(g->Get(), Sentinels(32))) << "the upload before the refused pair";
  }
  {
    const DtValue* src[] = {host.get(), five.get()};
    DtValue* dst[] = {h_view.get(), unaligned.get()};
    DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_NOT_SUPPORTED, "Storage");
    EXPECT_TRUE(SameBytes(h->Get(), Sentinels(32))) << "the host copy before the refused pair";
  }
  DT_EXPECT_ERROR(DtZeroTensor(env.get(), unaligned.get(), nullptr), DT_NOT_SUPPORTED, "Storage");
  EXPECT_TRUE(SameBytes(dawn.Read(buffer, 0, 64), expected)) << "the Storage-less buffer";
  wrapped = Tensor();
  unaligned = Tensor();
  dawn.Destroy(buffer);
}

TEST_F(WebGpuWrap, BufferOfAnotherDeviceIsRefused) {
  SCOPED_TRACE(random.trace());
  wgpu::Device other = dawn.RequestDevice();
  ASSERT_NE(other, nullptr);
  ASSERT_NE(other, dawn.device());
  const wgpu::Flags all = wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
  wgpu::Buffer foreign = dawn.CreateBuffer(all, 64, other);
  const int64_t shape[] = {16};
  DtValue* out = kUntouchedValue;
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env.get(), device.get(), foreign, 64, 0, DT_FLOAT, shape, 1, &out),
      DT_INVALID_ARGUMENT, "WGPUBuffer", "device");
  EXPECT_EQ(out, kUntouchedValue);
  dawn.Destroy(foreign);
  dawn.api().DeviceDestroy(other);
  dawn.api().DeviceRelease(other);
  // The env's device is unaffected.
  ASSERT_TRUE(RunTrial(*this, *RandomTrial(*this, random, Where::kHost, Where::kDevice)));
}

// Wrapping a WGPUBuffer at an offset off the element size is refused like a view there
// (ViewSuite.OffsetsOffTheElementSizeAreRefused).
TEST_F(WebGpuWrap, BuffersAtOffsetsOffTheElementSizeAreRefused) {
  const int64_t shape[] = {4};
  wgpu::Buffer buffer =
      dawn.CreateBuffer(wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst, 64);
  DtValue* out = kUntouchedValue;
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env.get(), device.get(), buffer, 64, 6, DT_DOUBLE, shape, 1, &out),
      DT_INVALID_ARGUMENT, "byte_offset 6", "element size 8", "double");
  EXPECT_EQ(out, kUntouchedValue);
  dawn.Destroy(buffer);
}

// ---- Device loss --------------------------------------------------------------------------------

TEST_F(WebGpuDeviceLoss, EveryCallFailsCleanlyThenANewEnvGetsANewDevice) {
  SCOPED_TRACE(random.trace());
  const Shape shape = {64};
  Tensor a = Tensor::create(env, device, DT_FLOAT, shape);
  Tensor b = Tensor::create(env, device, DT_FLOAT, shape);
  Tensor host = Tensor::create(env, cpu, DT_FLOAT, shape);
  const std::vector<uint8_t> values = RandomBytes(random, 256);
  std::memcpy(host.data(), values.data(), 256);
  env.copy(host, a);
  devtensor::Stream stream = env.create_stream(device);
  auto queued_out = NewBytes(Where::kHost, 256);
  Tensor queued_view = queued_out->whole().view(0, DT_FLOAT, shape);
  env.copy(a, b, &stream);
  env.copy(b, queued_view, &stream);  // queued, not synchronised

  const wgpu::Device lost = dawn.device();
  dawn.api().DeviceForceLoss(lost, 1 /* Unknown */, wgpu::View("forced by webgpu_test"));

  DT_EXPECT_ERROR(DtSynchronizeStream(stream.get()), DT_DEVICE_LOST, "lost");
  // Copies in every direction, clears, on the stream or not: DT_DEVICE_LOST, and nothing written.
  auto guarded = NewBytes(Where::kHost, 256 + 8);
  guarded->Set(Sentinels(guarded->size()));
  Tensor guarded_view = guarded->whole().view(4, DT_FLOAT, shape);
  auto e = env.get();
  DT_EXPECT_ERROR(CopyOne(e, host.get(), a.get()), DT_DEVICE_LOST, "lost", "new env");
  DT_EXPECT_ERROR(CopyOne(e, a.get(), guarded_view.get()), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(CopyOne(e, a.get(), b.get()), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(CopyOne(e, a.view(1, DT_UINT8, {3}).get(), b.view(6, DT_UINT8, {3}).get()),
                  DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(DtZeroTensor(e, a.get(), nullptr), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(DtZeroTensor(e, a.view(1, DT_UINT8, {3}).get(), nullptr), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(CopyOne(e, a.get(), guarded_view.get(), stream.get()), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(CopyOne(e, host.get(), a.get(), stream.get()), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(DtZeroTensor(e, b.get(), stream.get()), DT_DEVICE_LOST, "lost");
  EXPECT_TRUE(SameBytes(guarded->Get(), Sentinels(guarded->size())));
  // New tensors, wrapped buffers and streams on the lost device: DT_DEVICE_LOST.
  const int64_t dims[] = {64};
  DtValue* out = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensor(e, device.get(), DT_FLOAT, dims, 1, &out), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(e, device.get(), a.buffer().handle, 256, 0, DT_FLOAT, dims, 1, &out),
      DT_DEVICE_LOST, "lost");
  EXPECT_EQ(out, kUntouchedValue);
  DtStream* new_stream = reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50});
  DT_EXPECT_ERROR(DtCreateStream(e, device.get(), &new_stream), DT_DEVICE_LOST, "lost");
  EXPECT_EQ(new_stream, reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50}));
  if (new_stream != reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50})) DtReleaseStream(new_stream);

  // A new env gets a new device, on which copies work (the old env and its objects still live, so
  // the lost device's address cannot have been reused).
  devtensor::Env fresh;
  const DtDevice* fresh_gpu = nullptr;
  DT_ASSERT_OK(DtGetDevice(fresh.get(), DT_DEVICE_WEBGPU, 0, &fresh_gpu));
  void* device = nullptr;
  DT_ASSERT_OK(DtGetDeviceNativeHandle(fresh_gpu, "WGPUDevice", &device));
  EXPECT_NE(device, static_cast<void*>(lost));
  {
    devtensor::Device g(fresh_gpu), c = fresh.device(DT_DEVICE_CPU);
    Tensor t = Tensor::create(fresh, g, DT_UINT8, {300});
    Tensor up = Tensor::create(fresh, c, DT_UINT8, {300});
    Tensor down = Tensor::create(fresh, c, DT_UINT8, {7});
    const std::vector<uint8_t> bytes = RandomBytes(random, 300);
    std::memcpy(up.data(), bytes.data(), 300);
    fresh.copy(up, t);
    fresh.copy(t.view(5, DT_UINT8, {7}), down);  // an unaligned view: the copy kernel runs
    EXPECT_EQ(std::memcmp(down.data(), bytes.data() + 5, 7), 0);
    fresh.zero(t.view(1, DT_UINT8, {2}));
    Tensor all = Tensor::create(fresh, c, DT_UINT8, {300});
    fresh.copy(t, all);
    std::vector<uint8_t> expected = bytes;
    expected[1] = expected[2] = 0;
    EXPECT_EQ(std::memcmp(all.data(), expected.data(), 300), 0);
  }
}

}  // namespace
