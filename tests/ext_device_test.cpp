// Copies, clears, wrapping and streams on a device with opaque handles (the test provider), the
// way the WebGPU provider's users meet them: the byte offset is never folded into the handle.
#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

#include "devtensor/devtensor.hpp"
#include "ext_device.h"
#include "test_util.h"

using namespace devtensor_test;
using devtensor::Shape;
using devtensor::Tensor;

namespace {

class ExtDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    env.register_provider("ext", kExtProvider);
    cpu = env.device(DT_DEVICE_CPU);
    ext0 = env.device(DT_DEVICE_EXT_DEV, 0);
    ext1 = env.device(DT_DEVICE_EXT_DEV, 1);
  }

  // A CPU tensor of `shape` holding random bytes, and a copy of those bytes.
  Tensor RandomHost(const Shape& shape, DtElementType type, std::vector<uint8_t>* bytes) {
    Tensor t = Tensor::create(env, cpu, type, shape);
    *bytes = RandomBytes(random, t.element_count() * DtGetElementSize(type));
    std::memcpy(t.data(), bytes->data(), bytes->size());
    return t;
  }
  std::vector<uint8_t> HostBytes(const Tensor& t) {
    const uint8_t* p = t.data<uint8_t>();
    return std::vector<uint8_t>(p, p + t.element_count() * DtGetElementSize(t.type()));
  }
  // Reads an ext tensor back into a fresh CPU tensor.
  std::vector<uint8_t> Download(const Tensor& t) {
    Tensor host = Tensor::create(env, cpu, t.type(), t.shape());
    env.copy(t, host);
    return HostBytes(host);
  }

  Random random;
  devtensor::Env env;
  devtensor::Device cpu, ext0, ext1;
};

TEST_F(ExtDevice, OpaqueHandlesExposeHandleAndOffsetNeverAPointer) {
  Tensor buffer = Tensor::create(env, ext0, DT_FLOAT, {64});
  Tensor view = buffer.view(40, DT_FLOAT, {4, 4});
  void* data = nullptr;
  DT_EXPECT_ERROR(DtGetTensorData(view.get(), &data), DT_NOT_SUPPORTED, "ExtDev(12):0", "opaque",
                  "DtGetTensorBuffer");
  EXPECT_EQ(data, nullptr);
  auto root = buffer.buffer();
  auto sub = view.buffer();
  EXPECT_EQ(sub.handle, root.handle) << "the offset must never be folded into the handle";
  EXPECT_EQ(root.byte_offset, 0u);
  EXPECT_EQ(sub.byte_offset, 40u);
  EXPECT_EQ(sub.buffer_bytes, 256u);
  Tensor row = view.slice(0, 2, 1).slice(1, 1, 2);  // views of views flatten to the root
  EXPECT_EQ(row.buffer().handle, root.handle);
  EXPECT_EQ(row.buffer().byte_offset, 40u + (2 * 4 + 1) * 4);
}

TEST_F(ExtDevice, RoundTripsThroughViewsAtOffsetsLeaveNeighboursAlone) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 50; ++trial) {
    const DtElementType types[] = {DT_UINT8, DT_FLOAT16, DT_INT32, DT_DOUBLE};
    const DtElementType type = types[random.Between(0, 3)];
    const size_t size = DtGetElementSize(type);
    const int64_t count = random.Between(1, 300);
    const int64_t before = random.Between(0, 20), after = random.Between(0, 20);
    // Device buffer: sentinel, the view, sentinel.
    Tensor whole = Tensor::create(env, ext0, DT_UINT8, {(before + count + after) * int64_t(size)});
    Tensor fill = Tensor::create(env, cpu, DT_UINT8, whole.shape());
    std::memset(fill.data(), kSentinel, whole.element_count());
    env.copy(fill, whole);
    Tensor view = whole.view(before * size, type, {count});

    std::vector<uint8_t> expected;
    Tensor src = RandomHost({count}, type, &expected);
    env.copy(src, view);
    EXPECT_EQ(Download(view), expected);
    std::vector<uint8_t> all = Download(whole);
    for (size_t i = 0; i < all.size(); ++i) {
      const bool inside = i >= before * size && i < (before + count) * size;
      if (!inside) {
        ASSERT_EQ(all[i], kSentinel) << "byte " << i << " outside the view was written";
      }
    }
  }
}

TEST_F(ExtDevice, StridedSlicesOnEveryAxisMatchAReference) {
  SCOPED_TRACE(random.trace());
  const Shape shape = {3, 4, 5, 6};
  std::vector<uint8_t> source;
  Tensor host = RandomHost(shape, DT_INT16, &source);
  Tensor device = Tensor::create(env, ext0, DT_INT16, shape);
  env.copy(host, device);
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    const int64_t start = random.Between(0, shape[axis] - 1);
    const int64_t length = random.Between(1, shape[axis] - start);
    Tensor slice = device.slice(axis, start, length);
    Shape sliced = shape;
    sliced[axis] = length;
    Tensor out = Tensor::create(env, cpu, DT_INT16, sliced);
    env.copy(slice, out);
    const auto* src = reinterpret_cast<const int16_t*>(source.data());
    const int16_t* got = out.data<int16_t>();
    size_t k = 0;
    for (int64_t a = 0; a < sliced[0]; ++a)
      for (int64_t b = 0; b < sliced[1]; ++b)
        for (int64_t c = 0; c < sliced[2]; ++c)
          for (int64_t d = 0; d < sliced[3]; ++d, ++k) {
            int64_t index[4] = {a, b, c, d};
            index[axis] += start;
            const int64_t flat = ((index[0] * 4 + index[1]) * 5 + index[2]) * 6 + index[3];
            ASSERT_EQ(got[k], src[flat]) << "axis " << axis << " element " << k;
          }
  }
}

TEST_F(ExtDevice, DevicesThatCannotCopyDirectlyGoThroughHostMemory) {
  SCOPED_TRACE(random.trace());
  ExtHooks hooks;
  std::vector<uint8_t> expected;
  Tensor host = RandomHost({7, 9}, DT_FLOAT, &expected);
  Tensor a = Tensor::create(env, ext0, DT_FLOAT, {7, 9});
  Tensor b = Tensor::create(env, ext1, DT_FLOAT, {7, 9});
  env.copy(host, a);
  const int64_t calls = hooks.Calls(), pairs = hooks.Pairs();
  env.copy(a, b);  // ext 0 -> ext 1 has no direct transfer
  EXPECT_EQ(hooks.Calls() - calls, 1) << "both halves run through one transfer call";
  EXPECT_EQ(hooks.Pairs() - pairs, 2) << "ext0 -> host, then host -> ext1";
  EXPECT_EQ(Download(b), expected);
}

TEST_F(ExtDevice, ABatchIsOneTransferCall) {
  SCOPED_TRACE(random.trace());
  ExtHooks hooks;
  Tensor device = Tensor::create(env, ext0, DT_INT32, {32, 16});
  std::vector<Tensor> rows;
  std::vector<std::vector<uint8_t>> expected(32);
  std::vector<Tensor> views;
  std::vector<const DtValue*> src;
  std::vector<DtValue*> dst;
  for (int64_t r = 0; r < 32; ++r) {
    rows.push_back(RandomHost({1, 16}, DT_INT32, &expected[r]));
    views.push_back(device.slice(0, r, 1));
  }
  for (int64_t r = 0; r < 32; ++r) {
    src.push_back(rows[r].get());
    dst.push_back(views[r].get());
  }
  const int64_t calls = hooks.Calls(), pairs = hooks.Pairs();
  DT_ASSERT_OK(DtCopyTensors(env.get(), src.data(), dst.data(), src.size(), nullptr));
  EXPECT_EQ(hooks.Calls() - calls, 1);
  EXPECT_EQ(hooks.Pairs() - pairs, 32);
  std::vector<uint8_t> all = Download(device);
  for (int64_t r = 0; r < 32; ++r) {
    EXPECT_EQ(std::memcmp(all.data() + r * 64, expected[r].data(), 64), 0) << "row " << r;
  }
}

TEST_F(ExtDevice, OverlappingViewsOfOneBufferCopyLikeMemmove) {
  SCOPED_TRACE(random.trace());
  std::vector<uint8_t> bytes;
  Tensor host = RandomHost({100}, DT_UINT16, &bytes);
  Tensor device = Tensor::create(env, ext0, DT_UINT16, {100});
  env.copy(host, device);
  const int64_t shift = random.Between(1, 30);
  Tensor from = device.slice(0, 0, 60);
  Tensor to = device.slice(0, shift, 60);
  env.copy(from, to);
  std::vector<uint8_t> expected = bytes;
  std::memmove(expected.data() + shift * 2, bytes.data(), 120);
  EXPECT_EQ(Download(device), expected);
}

TEST_F(ExtDevice, ZeroClearsExactlyTheView) {
  SCOPED_TRACE(random.trace());
  std::vector<uint8_t> bytes;
  Tensor host = RandomHost({6, 10}, DT_FLOAT, &bytes);
  Tensor device = Tensor::create(env, ext0, DT_FLOAT, {6, 10});
  env.copy(host, device);
  Tensor columns = device.slice(1, 3, 4).slice(0, 1, 4);  // rows 1..4, columns 3..6
  env.zero(columns);
  std::vector<uint8_t> got = Download(device);
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t c = 0; c < 10; ++c) {
      const bool cleared = r >= 1 && r < 5 && c >= 3 && c < 7;
      float value, original;
      std::memcpy(&value, &got[(r * 10 + c) * 4], 4);
      std::memcpy(&original, &bytes[(r * 10 + c) * 4], 4);
      if (cleared) {
        EXPECT_EQ(value, 0.0f) << r << "," << c;
      } else {
        EXPECT_EQ(std::memcmp(&value, &original, 4), 0) << r << "," << c;
      }
    }
}

TEST_F(ExtDevice, WrapsApplicationBuffersAfterCheckingThem) {
  SCOPED_TRACE(random.trace());
  ExtHooks hooks;
  void* buffer = hooks.create_buffer(0, 256);
  ASSERT_NE(buffer, nullptr);
  std::memset(hooks.buffer_data(buffer), kSentinel, 256);
  const int64_t releases = hooks.external_releases();
  {
    Tensor wrapped = Tensor::wrap(env, ext0, buffer, 256, 64, DT_UINT32, {8});
    EXPECT_EQ(wrapped.buffer().handle, buffer);
    EXPECT_EQ(wrapped.buffer().byte_offset, 64u);
    std::vector<uint8_t> expected;
    Tensor src = RandomHost({8}, DT_UINT32, &expected);
    env.copy(src, wrapped);
    const uint8_t* raw = hooks.buffer_data(buffer);
    EXPECT_EQ(std::memcmp(raw + 64, expected.data(), 32), 0);
    for (int i = 0; i < 256; ++i) {
      if (i < 64 || i >= 96) {
        ASSERT_EQ(raw[i], kSentinel) << i;
      }
    }
  }
  EXPECT_EQ(hooks.buffer_data(buffer)[0], kSentinel) << "the caller keeps ownership";
  EXPECT_EQ(hooks.external_releases(), releases + 1) << "the provider's reference goes with the tensor";

  DtValue* out = nullptr;
  const int64_t shape[] = {8};
  DT_EXPECT_ERROR(DtCreateTensorWithData(env.get(), ext0.get(), buffer, 512, 0, DT_UINT32, shape, 1,
                                         &out),
                  DT_OUT_OF_RANGE, "data_bytes 512", "256 bytes");
  DT_EXPECT_ERROR(DtCreateTensorWithData(env.get(), ext1.get(), buffer, 256, 0, DT_UINT32, shape, 1,
                                         &out),
                  DT_INVALID_ARGUMENT, "test device 0, not 1");
  std::vector<uint8_t> not_a_buffer(256, 0);
  DT_EXPECT_ERROR(DtCreateTensorWithData(env.get(), ext0.get(), not_a_buffer.data(), 256, 0,
                                         DT_UINT32, shape, 1, &out),
                  DT_INVALID_ARGUMENT, "not a live test-device buffer");
  EXPECT_EQ(out, nullptr);
  hooks.destroy_buffer(buffer);
}

TEST_F(ExtDevice, NativeHandlesComeFromTheProvider) {
  void* handle = nullptr;
  DT_ASSERT_OK(DtGetDeviceNativeHandle(ext1.get(), "TestDeviceTag", &handle));
  EXPECT_EQ(handle, reinterpret_cast<void*>(0x101));
  DT_EXPECT_ERROR(DtGetDeviceNativeHandle(ext1.get(), "WGPUDevice", &handle), DT_NOT_FOUND,
                  "no native handle");
  DT_EXPECT_ERROR(DtGetDeviceNativeHandle(cpu.get(), "WGPUDevice", &handle), DT_NOT_FOUND,
                  "CPU(1):0", "no native handles");
  DT_EXPECT_ERROR(DtGetDeviceNativeHandle(ext1.get(), nullptr, &handle), DT_INVALID_ARGUMENT, "name");
}

TEST_F(ExtDevice, StreamWorkRunsInOrderAndKeepsItsTensorsAlive) {
  SCOPED_TRACE(random.trace());
  setenv("DT_TEST_EXT_STREAM_DELAY_US", "2000", 1);  // queued work really is in flight below
  devtensor::Stream stream = env.create_stream(ext0);
  unsetenv("DT_TEST_EXT_STREAM_DELAY_US");
  Tensor a = Tensor::create(env, ext0, DT_FLOAT, {64});
  Tensor b = Tensor::create(env, ext0, DT_FLOAT, {64});
  Tensor result = Tensor::create(env, cpu, DT_FLOAT, {64});
  std::vector<uint8_t> expected;
  {
    Tensor host = RandomHost({64}, DT_FLOAT, &expected);
    env.copy(host, a, &stream);
  }  // the source goes before the queued upload ran: the stream holds it
  env.copy(a, b, &stream);        // reads what the previous call wrote
  env.zero(a, &stream);           // after the copy that reads it
  env.copy(b, result, &stream);
  // A CPU-only pair on the ext stream runs after the stream's queued work.
  Tensor last = Tensor::create(env, cpu, DT_FLOAT, {64});
  env.copy(result, last, &stream);
  EXPECT_EQ(HostBytes(last), expected);
  stream.synchronize();
  EXPECT_EQ(HostBytes(result), expected);
  EXPECT_EQ(Download(a), std::vector<uint8_t>(256, 0));
}

TEST_F(ExtDevice, ReleasingEverythingWithWorkQueuedIsSafe) {
  SCOPED_TRACE(random.trace());
  ExtHooks hooks;
  const int64_t live = hooks.LiveBuffers();
  setenv("DT_TEST_EXT_STREAM_DELAY_US", "1000", 1);
  {
    devtensor::Stream stream = env.create_stream(ext0);
    Tensor a = Tensor::create(env, ext0, DT_UINT8, {4096});
    std::vector<uint8_t> bytes;
    Tensor host = RandomHost({4096}, DT_UINT8, &bytes);
    for (int i = 0; i < 5; ++i) env.copy(host, a, &stream);
  }  // tensors, then the stream (which waits), go with work still queued
  unsetenv("DT_TEST_EXT_STREAM_DELAY_US");
  EXPECT_EQ(hooks.LiveBuffers(), live);
}

TEST_F(ExtDevice, EightThreadsCopyAtOnce) {
  SCOPED_TRACE(random.trace());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      try {
        Random local;
        std::optional<devtensor::Stream> stream;
        if (t % 2) stream.emplace(env.create_stream(t % 4 == 1 ? ext0 : ext1));
        for (int i = 0; i < 50; ++i) {
          const int64_t n = local.Between(1, 2000);
          std::vector<uint8_t> bytes = RandomBytes(local, n);
          Tensor host = Tensor::create(env, cpu, DT_UINT8, {n});
          std::memcpy(host.data(), bytes.data(), n);
          Tensor dev = Tensor::create(env, t % 4 < 2 ? ext0 : ext1, DT_UINT8, {n});
          Tensor back = Tensor::create(env, cpu, DT_UINT8, {n});
          env.copy(host, dev, stream ? &*stream : nullptr);
          env.copy(dev, back, stream ? &*stream : nullptr);
          if (stream) stream->synchronize();
          if (std::memcmp(back.data(), bytes.data(), n) != 0) failures++;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        failures++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(ExtDevice, BadPairsWriteNothingAcrossDevices) {
  SCOPED_TRACE(random.trace());
  ExtHooks hooks;
  Tensor device = Tensor::create(env, ext0, DT_INT32, {8});
  Tensor fill = Tensor::create(env, cpu, DT_UINT8, {32});
  std::memset(fill.data(), kSentinel, 32);
  env.copy(fill, device.view(0, DT_UINT8, {32}));
  std::vector<uint8_t> bytes;
  Tensor good = RandomHost({8}, DT_INT32, &bytes);
  // Pair 0 alone is valid; pair 1 copies int32 into float, so the whole call must fail.
  Tensor ints = Tensor::create(env, cpu, DT_INT32, {9});
  Tensor floats = Tensor::create(env, ext1, DT_FLOAT, {9});
  const DtValue* src[] = {good.get(), ints.get()};
  DtValue* dst[] = {device.get(), floats.get()};
  const int64_t calls = hooks.Calls();
  DT_EXPECT_ERROR(DtCopyTensors(env.get(), src, dst, 2, nullptr), DT_INVALID_ARGUMENT, "pair 1",
                  "int32", "float");
  EXPECT_EQ(hooks.Calls(), calls) << "nothing may reach the provider";
  EXPECT_EQ(Download(device), std::vector<uint8_t>(32, kSentinel));
}

}  // namespace
