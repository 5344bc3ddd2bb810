// The WebGPU provider on this machine's WebGPU device (lavapipe in CI): copies in every direction
// at any byte offset and stride, clears, batches, streams, wrapped application buffers, threads,
// lifetimes and device loss. A missing WebGPU device fails every test here: CI must prove that
// WebGPU works.
//
// Every destination view sits inside a larger buffer filled with kSentinel (or random bytes), and
// after the operation the whole buffer is compared with a reference computed here element by
// element from a placement described independently of the library, so a byte written outside the
// view (before it, after it, in the gaps of a strided view) shows as well as a wrong element. GPU
// buffers are filled and read back through Dawn directly (webgpu_util.h), not through the copies
// under test, except on threads, where Dawn must not be called beside devtensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "test_util.h"
#include "webgpu_util.h"

namespace {

using namespace devtensor_test;
using devtensor::Device;
using devtensor::Shape;
using devtensor::Tensor;


DtValue* const kUntouchedValue = reinterpret_cast<DtValue*>(uintptr_t{0x5a5a5a50});

std::string Name(DtElementType type) { return DtGetElementTypeName(type); }

// Uniform in log space over [lo, hi]: as many tiny sizes as large ones.
int64_t LogUniform(Random& random, int64_t lo, int64_t hi) {
  std::uniform_real_distribution<double> exponent(std::log(double(lo)), std::log(double(hi) + 1));
  return std::clamp<int64_t>(static_cast<int64_t>(std::exp(exponent(random.engine))), lo, hi);
}

Shape RandomShape(Random& random, size_t min_rank, size_t max_rank) {
  Shape shape(random.Between(min_rank, max_rank));
  for (int64_t& d : shape) d = random.Between(1, shape.size() <= 2 ? 12 : 5);
  return shape;
}

// ---- Where a view's elements are, computed independently of the library ------------------------


// A slice of `shape` along `axis` of a parent longer there, at a random start.
Placement SliceAlong(Random& random, const Shape& shape, size_t element_size, size_t axis) {
  Placement p = DensePlacement(shape, element_size, random.Between(1, 5), random.Between(1, 16));
  const int64_t extra = random.Between(1, 3);
  p.parent[axis] += extra;
  p.start[axis] = random.Between(0, extra);
  return p;
}


DtStatus* CopyOne(DtEnv* env, const DtValue* src, DtValue* dst, DtStream* stream = nullptr) {
  return DtCopyTensors(env, &src, &dst, 1, stream);
}

// ---- Buffers the test sets and reads itself -----------------------------------------------------

// A byte buffer on the host or on the WebGPU device that devtensor sees as a uint8 tensor [size].
// The test sets and reads all of it directly: host memory by pointer, GPU memory through Dawn, or,
// without Dawn (on threads), through whole-buffer devtensor copies.
class Bytes {
 public:
  Bytes(const devtensor::Env& env, Device device, Device cpu, const Dawn* dawn, size_t size)
      : env_(&env), device_(device), cpu_(cpu), dawn_(dawn), size_(size) {
    if (OnGpu()) {
      whole_ = Tensor::create(env, device, DT_UINT8, {int64_t(size)});
    } else {
      host_.assign(std::max<size_t>(size, 1), 0);  // never a null pointer, even when empty
      whole_ = Tensor::wrap(env, cpu, host_.data(), size, 0, DT_UINT8, {int64_t(size)});
    }
  }

  bool OnGpu() const { return device_.type() == DT_DEVICE_WEBGPU; }
  size_t size() const { return size_; }
  const Tensor& whole() const { return whole_; }
  wgpu::Buffer buffer() const { return static_cast<wgpu::Buffer>(whole_.buffer().handle); }

  void Set(const std::vector<uint8_t>& bytes) {
    if (!OnGpu()) {
      std::copy(bytes.begin(), bytes.end(), host_.begin());
    } else if (dawn_ != nullptr) {
      dawn_->Write(buffer(), 0, bytes);  // the allocation holds the size rounded up to 4
    } else {
      Tensor staging = Tensor::create(*env_, cpu_, DT_UINT8, {int64_t(size_)});
      std::memcpy(staging.data(), bytes.data(), size_);
      env_->copy(staging, whole_);
    }
  }

  std::vector<uint8_t> Get() const {
    if (!OnGpu()) return std::vector<uint8_t>(host_.begin(), host_.begin() + size_);
    if (dawn_ != nullptr) return dawn_->Read(buffer(), 0, size_);
    Tensor staging = Tensor::create(*env_, cpu_, DT_UINT8, {int64_t(size_)});
    env_->copy(whole_, staging);
    return std::vector<uint8_t>(staging.data<uint8_t>(), staging.data<uint8_t>() + size_);
  }

  // The library's view of `p` with elements of `type`: the parent (on the host wrapped with
  // DtCreateTensorWithData at its offset, on the GPU a view of the buffer), sliced along every
  // axis where the view is shorter.
  Tensor View(const Placement& p, DtElementType type) {
    Tensor view =
        OnGpu() ? whole_.view(p.parent_offset, type, p.parent)
                : Tensor::wrap(*env_, cpu_, host_.data(), size_, p.parent_offset, type, p.parent);
    for (size_t axis = 0; axis < p.shape.size(); ++axis) {
      if (p.shape[axis] != p.parent[axis]) {
        view = view.slice(axis, p.start[axis], p.shape[axis]);
      }
    }
    return view;
  }

 private:
  const devtensor::Env* env_;
  Device device_, cpu_;
  const Dawn* dawn_;
  size_t size_;
  std::vector<uint8_t> host_;
  Tensor whole_;
};

enum class Where { kHost, kGpu };

const char* WhereName(Where where) { return where == Where::kGpu ? "GPU" : "host"; }

// One copy between two buffers: the source buffer all random (gaps and guards included, so reading
// a wrong byte shows), the destination buffer all kSentinel.
struct Trial {
  DtElementType type;
  Where src_where, dst_where;
  Placement from, to;
  std::unique_ptr<Bytes> src, dst;
  Tensor src_view, dst_view;
  std::vector<uint8_t> src_before, expected;

  std::string Describe() const {
    return Name(type) + " from " + WhereName(src_where) + " " + from.Describe() + " to " +
           WhereName(dst_where) + " " + to.Describe();
  }
};

// WebGpuDawnTest with trials: guarded buffers, their views, the reference result and the checks.
// Public: the free helpers below take the fixture.
class WebGpuTest : public WebGpuDawnTest {
 public:
  // `use_dawn` false: GPU bytes go through devtensor (threads).
  std::unique_ptr<Bytes> NewBytes(Where where, size_t size, bool use_dawn = true) const {
    return std::make_unique<Bytes>(env, where == Where::kGpu ? gpu : cpu, cpu,
                                   use_dawn ? &dawn : nullptr, size);
  }

  std::unique_ptr<Trial> MakeTrial(Random& random, DtElementType type, Where src_where,
                                   const Placement& from, Where dst_where, const Placement& to,
                                   bool use_dawn = true) const {
    auto t = std::make_unique<Trial>();
    t->type = type;
    t->src_where = src_where;
    t->dst_where = dst_where;
    t->from = from;
    t->to = to;
    t->src = NewBytes(src_where, from.BufferBytes(), use_dawn);
    t->dst = NewBytes(dst_where, to.BufferBytes(), use_dawn);
    t->src_before = RandomData(random, type, from.BufferBytes());
    t->src->Set(t->src_before);
    t->dst->Set(Sentinels(to.BufferBytes()));
    t->src_view = t->src->View(from, type);
    t->dst_view = t->dst->View(to, type);
    t->expected = Sentinels(to.BufferBytes());
    ReferenceCopy(t->src_before, from, &t->expected, to);
    return t;
  }

  // A trial between random placements of one random shape: each side dense or strided.
  std::unique_ptr<Trial> RandomTrial(Random& random, Where src_where, Where dst_where,
                                     bool use_dawn = true) const {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape shape = RandomShape(random, 1, 5);
    auto place = [&] {
      return random.Between(0, 1)
                 ? StridedPlacement(random, shape, size)
                 : DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 16));
    };
    const Placement from = place(), to = place();
    return MakeTrial(random, type, src_where, from, dst_where, to, use_dawn);
  }

  // Checks the destination buffer against the reference and the source buffer against itself.
  ::testing::AssertionResult Check(const Trial& t) const {
    const ::testing::AssertionResult dst = SameBytes(t.dst->Get(), t.expected);
    if (!dst) {
      return ::testing::AssertionFailure() << t.Describe() << ": destination: " << dst.message();
    }
    const ::testing::AssertionResult src = SameBytes(t.src->Get(), t.src_before);
    if (!src) {
      return ::testing::AssertionFailure() << t.Describe() << ": source changed: " << src.message();
    }
    return ::testing::AssertionSuccess();
  }

  // Copies the trial's views (on `stream` when given, then synchronised) and checks.
  ::testing::AssertionResult Run(const Trial& t, devtensor::Stream* stream = nullptr) const {
    DtStatus* status =
        CopyOne(env.get(), t.src_view.get(), t.dst_view.get(), stream ? stream->get() : nullptr);
    if (status == nullptr && stream != nullptr) status = DtSynchronizeStream(stream->get());
    if (status != nullptr) {
      const Outcome o = Take(status);
      return ::testing::AssertionFailure()
             << t.Describe() << ": " << DtGetErrorCodeName(o.code) << ": " << o.message;
    }
    return Check(t);
  }
};

using WebGpuDevice = WebGpuTest;
using WebGpuRoundTrip = WebGpuTest;
using WebGpuDeviceCopy = WebGpuTest;
using WebGpuStrided = WebGpuTest;
using WebGpuKvCache = WebGpuTest;
using WebGpuBatch = WebGpuTest;
using WebGpuZero = WebGpuTest;
using WebGpuStream = WebGpuTest;
using WebGpuWrap = WebGpuTest;
using WebGpuErrors = WebGpuTest;
using WebGpuThreads = WebGpuTest;
using WebGpuLifetime = WebGpuTest;
using WebGpuDeviceLoss = WebGpuTest;

// ---- The device ---------------------------------------------------------------------------------

TEST_F(WebGpuDevice, InfoNativeHandlesAndOpaqueBuffers) {
  SCOPED_TRACE(random.trace());
  int32_t count = 0;
  DT_ASSERT_OK(DtGetDeviceCount(env.get(), DT_DEVICE_WEBGPU, &count));
  EXPECT_GE(count, 1);
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
  DT_ASSERT_OK(DtGetDeviceInfo(gpu.get(), &info));
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
  DT_EXPECT_ERROR(DtGetDeviceNativeHandle(gpu.get(), "VkDevice", &handle), DT_NOT_FOUND, "VkDevice",
                  "WGPUDevice");
  EXPECT_EQ(handle, reinterpret_cast<void*>(uintptr_t{0x77}));

  // Tensors are WGPUBuffers: no pointer, and the handle is the buffer exactly as allocated.
  Tensor tensor = Tensor::create(env, gpu, DT_FLOAT, {64});
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

// ---- Round trips --------------------------------------------------------------------------------

// Host (random, at an offset) -> GPU view inside a sentinel buffer -> host view inside a sentinel
// buffer wrapped at an offset; each destination buffer is checked whole.
void RoundTrip(const WebGpuTest& test, Random& random, DtElementType type, const Shape& shape,
               size_t gpu_pad, size_t host_pad) {
  const size_t size = SizeOf(type);
  const Placement source = DensePlacement(shape, size, random.Between(0, 3), random.Between(1, 8));
  const Placement on_gpu = DensePlacement(shape, size, gpu_pad, random.Between(1, 16));
  const Placement back = DensePlacement(shape, size, host_pad, random.Between(1, 16));
  SCOPED_TRACE(Name(type) + " " + Text(shape) + ": GPU " + on_gpu.Describe() + ", host " +
               back.Describe());
  auto up = test.MakeTrial(random, type, Where::kHost, source, Where::kGpu, on_gpu);
  ASSERT_TRUE(test.Run(*up)) << "upload";

  auto host = test.NewBytes(Where::kHost, back.BufferBytes());
  host->Set(Sentinels(back.BufferBytes()));
  Tensor host_view = host->View(back, type);
  DT_ASSERT_OK(CopyOne(test.env.get(), up->dst_view.get(), host_view.get()));
  std::vector<uint8_t> expected = Sentinels(back.BufferBytes());
  ReferenceCopy(up->src_before, source, &expected, back);
  ASSERT_TRUE(SameBytes(host->Get(), expected)) << "download";
  ASSERT_TRUE(SameBytes(up->dst->Get(), up->expected)) << "the download changed its source";
}

TEST_F(WebGpuRoundTrip, EveryTypeAtRandomOffsetsAndSizes) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    const size_t size = SizeOf(type);
    const int64_t per_word = size < 4 ? int64_t(4 / size) : 1;  // elements in 4 bytes
    for (int trial = 0; trial < 16; ++trial) {
      // From one element to 256 KiB, as many small as large.
      int64_t count = LogUniform(random, 1, (256 * 1024) / size);
      // Destinations always have guard bytes before and after them.
      size_t gpu_pad = random.Between(1, 9), host_pad = random.Between(1, 9);
      Shape shape = {count};
      if (trial == 0) {  // word-aligned offset and size
        count = (count + per_word - 1) / per_word * per_word;
        shape = {count};
        gpu_pad = (gpu_pad + per_word - 1) / per_word * per_word;
      } else if (trial == 1 && per_word > 1) {  // neither offset nor size a multiple of 4
        count = count / per_word * per_word + 1;
        shape = {count};
        gpu_pad = gpu_pad / per_word * per_word + 1;
      } else if (trial == 2) {  // a scalar
        shape = {};
      } else if (trial == 3) {  // rank 3
        shape = {random.Between(1, 7), random.Between(1, 7), random.Between(1, 9)};
      } else if (trial == 4) {  // empty: nothing may be written
        shape = {random.Between(0, 3), 0};
      }
      ASSERT_NO_FATAL_FAILURE(RoundTrip(*this, random, type, shape, gpu_pad, host_pad));
    }
  }
}

TEST_F(WebGpuRoundTrip, TinyToEightMiBAlignedAndNot) {
  SCOPED_TRACE(random.trace());
  struct Case {
    DtElementType type;
    size_t bytes, gpu_offset;
  };
  const Case cases[] = {
      {DT_UINT8, 1, 4},
      {DT_UINT8, 1, 3},
      {DT_UINT8, 2, 1},
      {DT_INT8, 3, 2},
      {DT_BOOL, 5, 7},
      {DT_UINT8, 4, 8},
      {DT_FLOAT16, 6, 2},
      {DT_INT16, 4098, 6},
      {DT_UINT8, 65537, 1},
      {DT_BFLOAT16, kMiB + 2, 2},
      {DT_FLOAT, 8 * kMiB, 4},
      {DT_UINT8, 8 * kMiB - 1, 1},
      {DT_DOUBLE, 8 * kMiB - 8, 8},
  };
  for (const Case& c : cases) {
    const size_t size = SizeOf(c.type);
    ASSERT_NO_FATAL_FAILURE(RoundTrip(*this, random, c.type, {int64_t(c.bytes / size)},
                                      c.gpu_offset / size, random.Between(1, 5)));
  }
}

TEST_F(WebGpuRoundTrip, ViewsOffTheirElementSizeAreRefused) {
  Tensor whole = Tensor::create(env, gpu, DT_UINT8, {256});
  const int64_t shape[] = {4};
  for (DtElementType type : kAllTypes) {
    const size_t size = SizeOf(type);
    for (size_t offset = 1; offset < 3 * size; ++offset) {
      if (offset % size == 0) continue;
      SCOPED_TRACE(Name(type) + " at byte " + std::to_string(offset));
      // Named: DT_EXPECT_ERROR's list of parts outlives temporaries.
      const std::string at = "byte_offset " + std::to_string(offset);
      const std::string element = "element size " + std::to_string(size);
      const std::string name = Name(type);
      DtValue* out = kUntouchedValue;
      DT_EXPECT_ERROR(DtCreateTensorView(whole.get(), offset, type, shape, 1, &out),
                      DT_INVALID_ARGUMENT, at.c_str(), element.c_str(), name.c_str());
      EXPECT_EQ(out, kUntouchedValue);
    }
  }
  // What counts is the view's place in the buffer: 3 bytes into a view at byte 1 is byte 4.
  Tensor at_one = whole.view(1, DT_UINT8, {64});
  EXPECT_EQ(at_one.view(3, DT_FLOAT, {4}).buffer().byte_offset, 4u);
  DtValue* out = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensorView(at_one.get(), 4, DT_FLOAT, shape, 1, &out),
                  DT_INVALID_ARGUMENT, "byte_offset 4", "byte 5", "element size 4");
  EXPECT_EQ(out, kUntouchedValue);
  // Wrapping a WGPUBuffer at such an offset is refused the same way.
  wgpu::Buffer buffer =
      dawn.CreateBuffer(wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst, 64);
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(env.get(), gpu.get(), buffer, 64, 6, DT_DOUBLE, shape, 1, &out),
      DT_INVALID_ARGUMENT, "byte_offset 6", "element size 8", "double");
  EXPECT_EQ(out, kUntouchedValue);
  dawn.Destroy(buffer);
}

// ---- GPU to GPU ---------------------------------------------------------------------------------

TEST_F(WebGpuDeviceCopy, BetweenTwoBuffersAtIndependentOffsets) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 150; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape shape = trial % 2 ? RandomShape(random, 1, 3) : Shape{LogUniform(random, 1, 5000)};
    const Placement from = DensePlacement(shape, size, random.Between(0, 9), random.Between(0, 9));
    const Placement to = DensePlacement(shape, size, random.Between(1, 9), random.Between(1, 16));
    auto t = MakeTrial(random, type, Where::kGpu, from, Where::kGpu, to);
    ASSERT_TRUE(Run(*t));
  }
}

// Large copies between buffers (the bulk-copy shader takes those of 8 MiB or more at 16-byte-
// aligned offsets and sizes): aligned to 16, to 4 only, and not at all, each destination among
// sentinels.
TEST_F(WebGpuDeviceCopy, LargeCopiesAtSixteenByteAndOtherOffsets) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 6; ++trial) {
    const size_t unit = trial < 3 ? 16 : trial < 5 ? 4 : 1;
    const int64_t count = (8 * int64_t(kMiB) + 16 * random.Between(0, 100000)) / int64_t(unit);
    const Shape shape = {count * int64_t(unit)};
    const Placement from = DensePlacement(shape, 1, unit * size_t(random.Between(0, 64)), 16);
    const Placement to = DensePlacement(shape, 1, unit * size_t(random.Between(1, 64)), 16);
    SCOPED_TRACE(std::to_string(shape[0]) + " bytes, offsets in units of " + std::to_string(unit));
    auto t = MakeTrial(random, DT_UINT8, Where::kGpu, from, Where::kGpu, to);
    ASSERT_TRUE(Run(*t));
  }
}

// One GPU buffer of random bytes with views `from` and `to` of one parent in it: the copy must act
// as if the whole source were read before anything is written (memmove).
::testing::AssertionResult CopyWithinOneBuffer(const WebGpuTest& test, Random& random,
                                               DtElementType type, const Placement& from,
                                               const Placement& to) {
  auto bytes = test.NewBytes(Where::kGpu, from.BufferBytes());
  const std::vector<uint8_t> before = RandomData(random, type, from.BufferBytes());
  bytes->Set(before);
  Tensor src = bytes->View(from, type), dst = bytes->View(to, type);
  std::vector<uint8_t> expected = before;
  ReferenceCopy(before, from, &expected, to);
  DtStatus* status = CopyOne(test.env.get(), src.get(), dst.get());
  if (status != nullptr) {
    const Outcome o = Take(status);
    return ::testing::AssertionFailure() << DtGetErrorCodeName(o.code) << ": " << o.message;
  }
  return SameBytes(bytes->Get(), expected);
}

// A 1-D view of `length` elements at `start` of a parent of `n` elements.
Placement Run1D(int64_t n, int64_t start, int64_t length, size_t size, size_t pad, size_t tail) {
  Placement p = DensePlacement({n}, size, pad, tail);
  p.start = {start};
  p.shape = {length};
  return p;
}

TEST_F(WebGpuDeviceCopy, WithinOneBufferDisjointRanges) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 120; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(2, 800);
    const int64_t length = random.Between(1, n / 2);
    int64_t a = 0, b = 0;
    do {
      a = random.Between(0, n - length);
      b = random.Between(0, n - length);
    } while (std::abs(a - b) < length);
    const size_t pad = random.Between(0, 7), tail = random.Between(0, 9);
    const Placement from = Run1D(n, a, length, size, pad, tail);
    const Placement to = Run1D(n, b, length, size, pad, tail);
    SCOPED_TRACE(Name(type) + " from " + from.Describe() + " to " + to.Describe());
    ASSERT_TRUE(CopyWithinOneBuffer(*this, random, type, from, to));
  }
}

TEST_F(WebGpuDeviceCopy, WithinOneBufferOverlappingRangesIsMemmove) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 100; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(16, 600);
    // Shifts of 1 to 8 elements (inside one word and across words) and larger ones.
    const int64_t shift = trial < 24 ? trial % 8 + 1 : random.Between(1, n - 1);
    const bool right = trial % 2 == 0;
    const size_t pad = random.Between(0, 7), tail = random.Between(0, 9);
    const Placement from = Run1D(n, right ? 0 : shift, n - shift, size, pad, tail);
    const Placement to = Run1D(n, right ? shift : 0, n - shift, size, pad, tail);
    SCOPED_TRACE(Name(type) + " from " + from.Describe() + " to " + to.Describe());
    ASSERT_TRUE(CopyWithinOneBuffer(*this, random, type, from, to));
  }
}

TEST_F(WebGpuDeviceCopy, OverlappingStridedViewsOfOneParent) {
  SCOPED_TRACE(random.trace());
  int overlapping = 0;
  constexpr int kTrials = 150;
  for (int trial = 0; trial < kTrials; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape parent = RandomShape(random, 1, 4);
    const auto [from, to] =
        OverlappingViews(random, parent, size, random.Between(0, 5), random.Between(1, 16));
    if (SharesBytes(from, to)) ++overlapping;
    SCOPED_TRACE(Name(type) + " from " + from.Describe() + " to " + to.Describe());
    ASSERT_TRUE(CopyWithinOneBuffer(*this, random, type, from, to));
  }
  EXPECT_GT(overlapping, kTrials / 4) << "the test must mostly exercise overlapping pairs";
}

// ---- Strided views ------------------------------------------------------------------------------

TEST_F(WebGpuStrided, SlicesOnEveryAxisOfARank4TensorInAllDirections) {
  SCOPED_TRACE(random.trace());
  for (size_t axis = 0; axis < 4; ++axis) {
    for (int direction = 0; direction < 3; ++direction) {  // host->GPU, GPU->host, GPU->GPU
      for (int trial = 0; trial < 8; ++trial) {
        const DtElementType type = RandomType(random);
        const size_t size = SizeOf(type);
        // Two or more rows on axis 0, so that a slice along any later axis has gaps.
        Shape shape(4);
        for (int64_t& d : shape) d = random.Between(1, 5);
        shape[0] = random.Between(2, 4);
        // The GPU side is a slice along `axis`; the other side is dense or, every other time, a
        // slice along a random axis of its own.
        const Placement sliced = SliceAlong(random, shape, size, axis);
        const Placement other =
            trial % 2 ? SliceAlong(random, shape, size, random.Between(0, 3))
                      : DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 16));
        std::unique_ptr<Trial> t;
        if (direction == 0) {
          t = MakeTrial(random, type, Where::kHost, other, Where::kGpu, sliced);
        } else if (direction == 1) {
          t = MakeTrial(random, type, Where::kGpu, sliced, Where::kHost, other);
        } else {
          t = MakeTrial(random, type, Where::kGpu, sliced, Where::kGpu, other);
        }
        const Tensor& gpu_side = direction == 0 ? t->dst_view : t->src_view;
        EXPECT_EQ(gpu_side.contiguous(), axis == 0) << "a slice along axis " << axis;
        ASSERT_TRUE(Run(*t)) << "axis " << axis;
      }
    }
  }
}

TEST_F(WebGpuStrided, RandomStridedViewsInAllDirections) {
  SCOPED_TRACE(random.trace());
  const std::pair<Where, Where> directions[] = {
      {Where::kHost, Where::kGpu}, {Where::kGpu, Where::kHost}, {Where::kGpu, Where::kGpu}};
  for (const auto& [from, to] : directions) {
    for (int trial = 0; trial < 60; ++trial) {
      ASSERT_TRUE(Run(*RandomTrial(random, from, to)));
    }
  }
}

// ---- KV cache -----------------------------------------------------------------------------------

TEST_F(WebGpuKvCache, AppendOneTokenAtRandomPositions) {
  SCOPED_TRACE(random.trace());
  struct Config {
    int64_t layers, heads, max_len, head_dim;
  };
  // Rows of 128 bytes (word-aligned) and of 10 bytes (not).
  for (const Config& c : {Config{4, 3, 40, 64}, Config{3, 2, 33, 5}}) {
    const Shape shape = {c.layers, c.heads, c.max_len, c.head_dim};
    const Shape token_shape = {c.layers, c.heads, 1, c.head_dim};
    const Placement cache = DensePlacement(shape, 2, random.Between(1, 5), random.Between(1, 16));
    SCOPED_TRACE("cache " + cache.Describe());
    // fp16 bit patterns, NaNs and all, must move bit-exactly; sentinel guards around the cache.
    auto bytes = NewBytes(Where::kGpu, cache.BufferBytes());
    std::vector<uint8_t> state = Sentinels(cache.BufferBytes());
    const std::vector<uint8_t> filling = RandomBytes(random, Product(shape) * 2);
    std::copy(filling.begin(), filling.end(), state.begin() + cache.parent_offset);
    bytes->Set(state);
    Tensor cache_tensor = bytes->View(cache, DT_FLOAT16);

    const int64_t positions[] = {0, c.max_len - 1, random.Between(0, c.max_len - 1),
                                 random.Between(0, c.max_len - 1),
                                 random.Between(0, c.max_len - 1)};
    int step = 0;
    for (int64_t position : positions) {
      SCOPED_TRACE("position " + std::to_string(position));
      Tensor slot = cache_tensor.slice(2, position, 1);
      EXPECT_EQ(slot.shape(), token_shape);
      EXPECT_EQ(slot.strides(), RowMajorStrides(shape));
      EXPECT_FALSE(slot.contiguous());
      // The token comes from the host, or every other time from a GPU tensor.
      Tensor host = Tensor::create(env, cpu, DT_FLOAT16, token_shape);
      const std::vector<uint8_t> token = RandomBytes(random, Product(token_shape) * 2);
      std::memcpy(host.data(), token.data(), token.size());
      if (step++ % 2 == 0) {
        env.copy(host, slot);
      } else {
        Tensor on_gpu = Tensor::create(env, gpu, DT_FLOAT16, token_shape);
        env.copy(host, on_gpu);
        env.copy(on_gpu, slot);
      }
      Placement at = cache;
      at.start[2] = position;
      at.shape[2] = 1;
      ReferenceCopy(token, DensePlacement(token_shape, 2, 0, 0), &state, at);
      ASSERT_TRUE(SameBytes(bytes->Get(), state));
    }
  }
}

// ---- Batches ------------------------------------------------------------------------------------

// One DtCopyTensors call: upload A, copy A -> B on the GPU, download B, download A into a strided
// host view, upload C into A's buffer, copy C -> D into B's buffer. Later pairs read what earlier
// ones wrote.
void MixedBatch(const WebGpuTest& test, Random& random, devtensor::Stream* stream) {
  const DtElementType type = RandomType(random);
  const size_t size = SizeOf(type);
  const Shape shape = RandomShape(random, 1, 3);
  const size_t bytes = Product(shape) * size;
  // A and C in one GPU buffer, B (strided) and D in another, each with sentinel guards.
  const Placement a = DensePlacement(shape, size, random.Between(1, 5), 0);
  Placement c = DensePlacement(shape, size, 0, random.Between(1, 16));
  c.parent_offset = a.parent_offset + bytes + random.Between(1, 5) * size;
  const Placement b = StridedPlacement(random, shape, size);
  Placement d = DensePlacement(shape, size, 0, random.Between(1, 16));
  d.parent_offset = (b.BufferBytes() + random.Between(0, 5) * size + size - 1) / size * size;
  const Placement out1 = DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 16));
  const Placement out2 = StridedPlacement(random, shape, size);
  const Placement in = DensePlacement(shape, size, random.Between(0, 3), random.Between(0, 3));
  SCOPED_TRACE(Name(type) + ": A " + a.Describe() + ", B " + b.Describe() + ", C " + c.Describe() +
               ", D " + d.Describe() + ", out " + out1.Describe() + ", strided out " +
               out2.Describe());

  auto g1 = test.NewBytes(Where::kGpu, c.BufferBytes());
  auto g2 = test.NewBytes(Where::kGpu, d.BufferBytes());
  auto h1 = test.NewBytes(Where::kHost, out1.BufferBytes());
  auto h2 = test.NewBytes(Where::kHost, out2.BufferBytes());
  auto in_a = test.NewBytes(Where::kHost, in.BufferBytes());
  auto in_c = test.NewBytes(Where::kHost, in.BufferBytes());
  for (Bytes* guarded : {g1.get(), g2.get(), h1.get(), h2.get()}) {
    guarded->Set(Sentinels(guarded->size()));
  }
  const std::vector<uint8_t> a_values = RandomData(random, type, in.BufferBytes());
  const std::vector<uint8_t> c_values = RandomData(random, type, in.BufferBytes());
  in_a->Set(a_values);
  in_c->Set(c_values);
  Tensor va = g1->View(a, type), vc = g1->View(c, type), vb = g2->View(b, type),
         vd = g2->View(d, type), vo1 = h1->View(out1, type), vo2 = h2->View(out2, type),
         via = in_a->View(in, type), vic = in_c->View(in, type);

  const std::vector<std::pair<const Tensor*, const Tensor*>> pairs = {
      {&via, &va}, {&va, &vb}, {&vb, &vo1}, {&va, &vo2}, {&vic, &vc}, {&vc, &vd}};
  std::vector<const DtValue*> src;
  std::vector<DtValue*> dst;
  for (const auto& [from, to] : pairs) {
    src.push_back(from->get());
    dst.push_back(to->get());
  }
  DT_ASSERT_OK(DtCopyTensors(test.env.get(), src.data(), dst.data(), src.size(),
                             stream ? stream->get() : nullptr));
  if (stream != nullptr) DT_ASSERT_OK(DtSynchronizeStream(stream->get()));

  std::vector<uint8_t> g1_expected = Sentinels(g1->size()), g2_expected = Sentinels(g2->size()),
                       h1_expected = Sentinels(h1->size()), h2_expected = Sentinels(h2->size());
  ReferenceCopy(a_values, in, &g1_expected, a);
  ReferenceCopy(c_values, in, &g1_expected, c);
  ReferenceCopy(g1_expected, a, &g2_expected, b);
  ReferenceCopy(g1_expected, c, &g2_expected, d);
  ReferenceCopy(g2_expected, b, &h1_expected, out1);
  ReferenceCopy(g1_expected, a, &h2_expected, out2);
  EXPECT_TRUE(SameBytes(g1->Get(), g1_expected)) << "A and C";
  EXPECT_TRUE(SameBytes(g2->Get(), g2_expected)) << "B and D";
  EXPECT_TRUE(SameBytes(h1->Get(), h1_expected)) << "B downloaded";
  EXPECT_TRUE(SameBytes(h2->Get(), h2_expected)) << "A downloaded into a strided view";
  EXPECT_TRUE(SameBytes(in_a->Get(), a_values) && SameBytes(in_c->Get(), c_values))
      << "sources must not change";
}

TEST_F(WebGpuBatch, MixedDirectionsReadWhatEarlierPairsWrote) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 30; ++trial) {
    ASSERT_NO_FATAL_FAILURE(MixedBatch(*this, random, nullptr));
  }
  devtensor::Stream stream = env.create_stream(gpu);
  for (int trial = 0; trial < 30; ++trial) {
    ASSERT_NO_FATAL_FAILURE(MixedBatch(*this, random, &stream));
  }
}

// Later pairs write what earlier ones read: an upload into S after S was copied on the GPU and
// downloaded must not reach those copies. (Word-aligned uploads are queue writes, which run before
// the call's recorded commands unless the provider orders them.)
TEST_F(WebGpuBatch, UploadIntoWhatEarlierPairsReadComesAfterThem) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(gpu);
  for (int trial = 0; trial < 16; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    // Even trials word-aligned (offset and size multiples of 4 elements), odd ones anywhere.
    const bool aligned = trial % 2 == 0;
    const Shape shape = {aligned ? 4 * random.Between(1, 40) : random.Between(1, 160)};
    const size_t pad = aligned ? 4 * random.Between(1, 3) : random.Between(1, 9);
    const Placement s = DensePlacement(shape, size, pad, random.Between(1, 16));
    const Placement e = DensePlacement(shape, size, random.Between(1, 9), random.Between(1, 16));
    const Placement out = DensePlacement(shape, size, random.Between(1, 9), random.Between(1, 16));
    const Placement in = DensePlacement(shape, size, random.Between(0, 3), random.Between(1, 3));
    const bool on_stream = trial % 4 >= 2;
    SCOPED_TRACE(Name(type) + " S " + s.Describe() + (on_stream ? " on a stream" : ""));
    auto gs = NewBytes(Where::kGpu, s.BufferBytes());
    auto ge = NewBytes(Where::kGpu, e.BufferBytes());
    auto ho = NewBytes(Where::kHost, out.BufferBytes());
    auto hi = NewBytes(Where::kHost, in.BufferBytes());
    const std::vector<uint8_t> old_values = RandomData(random, type, gs->size());
    const std::vector<uint8_t> new_values = RandomData(random, type, hi->size());
    gs->Set(old_values);
    ge->Set(Sentinels(ge->size()));
    ho->Set(Sentinels(ho->size()));
    hi->Set(new_values);
    Tensor vs = gs->View(s, type), ve = ge->View(e, type), vo = ho->View(out, type),
           vi = hi->View(in, type);
    env.copy({{&vs, &ve}, {&vs, &vo}, {&vi, &vs}}, on_stream ? &stream : nullptr);
    if (on_stream) stream.synchronize();
    std::vector<uint8_t> e_expected = Sentinels(ge->size()), out_expected = Sentinels(ho->size()),
                         s_expected = old_values;
    ReferenceCopy(old_values, s, &e_expected, e);
    ReferenceCopy(old_values, s, &out_expected, out);
    ReferenceCopy(new_values, in, &s_expected, s);
    EXPECT_TRUE(SameBytes(ge->Get(), e_expected)) << "pair 0 copied S on the GPU";
    EXPECT_TRUE(SameBytes(ho->Get(), out_expected)) << "pair 1 downloaded S";
    EXPECT_TRUE(SameBytes(gs->Get(), s_expected)) << "pair 2 uploaded into S";
  }
}

TEST_F(WebGpuBatch, OneBadPairWritesNothing) {
  SCOPED_TRACE(random.trace());
  const DtElementType type = RandomType(random);
  const size_t size = SizeOf(type);
  const Shape shape = {3, 5};
  // Three valid pairs into sentinel buffers: an upload, a GPU copy, a download.
  const Placement a = DensePlacement(shape, size, 1, 8 * size);
  const Placement b = StridedPlacement(random, shape, size);
  const Placement o = DensePlacement(shape, size, 3, 4);
  const Placement s = DensePlacement(shape, size, 2, 2);
  auto g1 = NewBytes(Where::kGpu, a.BufferBytes());
  auto g2 = NewBytes(Where::kGpu, b.BufferBytes());
  auto host_out = NewBytes(Where::kHost, o.BufferBytes());
  auto host_in = NewBytes(Where::kHost, s.BufferBytes());
  auto gpu_in = NewBytes(Where::kGpu, s.BufferBytes());
  for (Bytes* guarded : {g1.get(), g2.get(), host_out.get()}) {
    guarded->Set(Sentinels(guarded->size()));
  }
  const std::vector<uint8_t> host_values = RandomData(random, type, s.BufferBytes());
  const std::vector<uint8_t> gpu_values = RandomData(random, type, s.BufferBytes());
  host_in->Set(host_values);
  gpu_in->Set(gpu_values);
  Tensor va = g1->View(a, type), vb = g2->View(b, type), vo = host_out->View(o, type),
         vhi = host_in->View(s, type), vgi = gpu_in->View(s, type);

  // Bad fourth pairs, each with what the error must say.
  Tensor wrong_type_dst = Tensor::create(env, gpu, type == DT_INT32 ? DT_FLOAT : DT_INT32, {3, 5});
  Tensor transposed = Tensor::create(env, cpu, type, {5, 3});
  Tensor overlapping = g1->whole().view(a.parent_offset + size, type, {2});
  Tensor small = Tensor::create(env, cpu, type, {2});
  const std::string src_type = Name(type);
  const std::string dst_type = type == DT_INT32 ? "float" : "int32";
  struct Bad {
    const DtValue* src;
    DtValue* dst;
    DtErrorCode code;
    std::vector<std::string> parts;
  };
  const Bad bads[] = {
      {vgi.get(), wrong_type_dst.get(), DT_INVALID_ARGUMENT, {"pair 3", src_type, dst_type}},
      {vgi.get(), transposed.get(), DT_INVALID_ARGUMENT, {"pair 3", "[3, 5]", "[5, 3]"}},
      {small.get(), overlapping.get(), DT_INVALID_ARGUMENT, {"dst[0]", "dst[3]", "overlap"}},
      {nullptr, transposed.get(), DT_INVALID_ARGUMENT, {"src[3]", "NULL"}},
      {vgi.get(), nullptr, DT_INVALID_ARGUMENT, {"dst[3]", "NULL"}},
  };
  for (const Bad& bad : bads) {
    const DtValue* src[] = {vhi.get(), vgi.get(), vgi.get(), bad.src};
    DtValue* dst[] = {va.get(), vb.get(), vo.get(), bad.dst};
    for (bool on_stream : {false, true}) {
      SCOPED_TRACE(std::string(on_stream ? "on a stream: " : "") + bad.parts[0] + " " +
                   bad.parts.back());
      std::optional<devtensor::Stream> stream;
      if (on_stream) stream.emplace(env.create_stream(gpu));
      const Outcome o =
          Take(DtCopyTensors(env.get(), src, dst, 4, on_stream ? stream->get() : nullptr));
      EXPECT_EQ(o.code, bad.code) << o.message;
      for (const std::string& part : bad.parts) {
        EXPECT_NE(o.message.find(part), std::string::npos) << o.message << " lacks " << part;
      }
      if (stream) DT_EXPECT_OK(DtSynchronizeStream(stream->get()));
      EXPECT_TRUE(SameBytes(g1->Get(), Sentinels(g1->size()))) << "upload destination";
      EXPECT_TRUE(SameBytes(g2->Get(), Sentinels(g2->size()))) << "GPU copy destination";
      EXPECT_TRUE(SameBytes(host_out->Get(), Sentinels(host_out->size())))
          << "download destination";
    }
  }
  // The same pairs without the bad one all land.
  const DtValue* src[] = {vhi.get(), vgi.get(), vgi.get()};
  DtValue* dst[] = {va.get(), vb.get(), vo.get()};
  DT_ASSERT_OK(DtCopyTensors(env.get(), src, dst, 3, nullptr));
  std::vector<uint8_t> g1_expected = Sentinels(g1->size()), g2_expected = Sentinels(g2->size()),
                       out_expected = Sentinels(host_out->size());
  ReferenceCopy(host_values, s, &g1_expected, a);
  ReferenceCopy(gpu_values, s, &g2_expected, b);
  ReferenceCopy(gpu_values, s, &out_expected, o);
  EXPECT_TRUE(SameBytes(g1->Get(), g1_expected));
  EXPECT_TRUE(SameBytes(g2->Get(), g2_expected));
  EXPECT_TRUE(SameBytes(host_out->Get(), out_expected));
}

// Host memory a download fills, and an upload of that memory after it: a strided or dense host
// view, of a size that is a multiple of 4 bytes or not.
struct DownloadThenUpload {
  DtElementType type;
  Placement a, h, c;
  std::unique_ptr<Bytes> ga, hh, gc;
  Tensor va, vh, vc;
  std::vector<uint8_t> values, h_expected, c_expected;
};

std::unique_ptr<DownloadThenUpload> MakeDownloadThenUpload(const WebGpuTest& test, Random& random,
                                                           int trial) {
  auto d = std::make_unique<DownloadThenUpload>();
  // Trial 0: 5 bytes; trial 1: 48 bytes; trial 2: a strided host view; then random.
  d->type = trial == 0 ? DT_UINT8 : trial == 1 ? DT_FLOAT : RandomType(random);
  const size_t size = SizeOf(d->type);
  const Shape shape = trial == 0 ? Shape{5} : trial == 1 ? Shape{3, 4} : RandomShape(random, 1, 3);
  d->a = DensePlacement(shape, size, random.Between(0, 5), random.Between(1, 8));
  d->h = trial == 2 || (trial > 2 && random.Between(0, 1))
             ? StridedPlacement(random, shape, size)
             : DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 8));
  d->c = DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 8));
  d->ga = test.NewBytes(Where::kGpu, d->a.BufferBytes());
  d->hh = test.NewBytes(Where::kHost, d->h.BufferBytes());
  d->gc = test.NewBytes(Where::kGpu, d->c.BufferBytes());
  d->values = RandomData(random, d->type, d->a.BufferBytes());
  d->ga->Set(d->values);
  d->hh->Set(Sentinels(d->hh->size()));
  d->gc->Set(Sentinels(d->gc->size()));
  d->va = d->ga->View(d->a, d->type);
  d->vh = d->hh->View(d->h, d->type);
  d->vc = d->gc->View(d->c, d->type);
  d->h_expected = Sentinels(d->hh->size());
  d->c_expected = Sentinels(d->gc->size());
  ReferenceCopy(d->values, d->a, &d->h_expected, d->h);
  ReferenceCopy(d->values, d->a, &d->c_expected, d->c);
  return d;
}

// Pair 0 downloads A into host memory H, pair 1 uploads H to C: C must hold A.
TEST_F(WebGpuBatch, UploadReadsWhatAnEarlierDownloadWrote) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    auto d = MakeDownloadThenUpload(*this, random, trial);
    SCOPED_TRACE(Name(d->type) + ": A " + d->a.Describe() + ", host " + d->h.Describe());
    env.copy({{&d->va, &d->vh}, {&d->vh, &d->vc}});
    EXPECT_TRUE(SameBytes(d->hh->Get(), d->h_expected)) << "pair 0: A downloaded into H";
    EXPECT_TRUE(SameBytes(d->gc->Get(), d->c_expected))
        << "pair 1 must upload what pair 0 put in H";
  }
}

// ---- DtZeroTensor -------------------------------------------------------------------------------

TEST_F(WebGpuZero, ContiguousSubViewsAtAnyOffset) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 100; ++trial) {
    // The first trials: a word-aligned clear, then a uint8 and a float16 view off word boundaries.
    const DtElementType type = trial == 0   ? DT_FLOAT
                               : trial == 1 ? DT_UINT8
                               : trial == 2 ? DT_FLOAT16
                                            : RandomType(random);
    const size_t size = SizeOf(type);
    const int64_t n = random.Between(8, 400);
    int64_t first = random.Between(0, n - 1), length = random.Between(1, n - first);
    if (trial == 1) first = 1, length = 5;
    if (trial == 2) first = 1, length = 3;
    SCOPED_TRACE(Name(type) + " elements " + std::to_string(first) + ":+" + std::to_string(length) +
                 " of " + std::to_string(n));
    // Random bytes everywhere, guards included, so clearing one byte too many shows.
    const size_t pad = random.Between(1, 3);
    auto bytes = NewBytes(Where::kGpu, (pad + n + 2) * size);
    const std::vector<uint8_t> before = RandomData(random, type, bytes->size());
    bytes->Set(before);
    const Shape shape = length % 3 == 0 ? Shape{3, length / 3} : Shape{length};
    Tensor view = bytes->whole().view((pad + first) * size, type, shape);
    std::vector<uint8_t> expected = before;
    std::fill_n(expected.begin() + (pad + first) * size, length * size, 0);
    DT_ASSERT_OK(DtZeroTensor(env.get(), view.get(), nullptr));
    ASSERT_TRUE(SameBytes(bytes->Get(), expected));
  }
}

TEST_F(WebGpuZero, StridedSliceLeavesTheGaps) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 100; ++trial) {
    const DtElementType type = RandomType(random);
    const Placement p = StridedPlacement(random, RandomShape(random, 1, 5), SizeOf(type));
    SCOPED_TRACE(Name(type) + " " + p.Describe());
    auto bytes = NewBytes(Where::kGpu, p.BufferBytes());
    const std::vector<uint8_t> before = RandomData(random, type, p.BufferBytes());
    bytes->Set(before);
    Tensor view = bytes->View(p, type);
    std::vector<uint8_t> expected = before;
    for (size_t at : p.ByteOffsets()) std::fill_n(expected.begin() + at, p.element_size, 0);
    DT_ASSERT_OK(DtZeroTensor(env.get(), view.get(), nullptr));
    ASSERT_TRUE(SameBytes(bytes->Get(), expected));
  }
}

TEST_F(WebGpuZero, EmptySliceZeroesNothing) {
  SCOPED_TRACE(random.trace());
  auto bytes = NewBytes(Where::kGpu, 4 * 6 * 4);
  const std::vector<uint8_t> before = RandomBytes(random, bytes->size());
  bytes->Set(before);
  Tensor empty = bytes->whole().view(0, DT_FLOAT, {4, 6}).slice(1, 3, 0);
  DT_EXPECT_OK(DtZeroTensor(env.get(), empty.get(), nullptr));
  EXPECT_TRUE(SameBytes(bytes->Get(), before));
}

// ---- Streams ------------------------------------------------------------------------------------

TEST_F(WebGpuStream, CopiesAndZeroesAreInPlaceAfterSynchronize) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(gpu);
  EXPECT_EQ(stream.device().get(), gpu.get());
  const std::pair<Where, Where> directions[] = {
      {Where::kHost, Where::kGpu}, {Where::kGpu, Where::kHost}, {Where::kGpu, Where::kGpu}};
  for (int round = 0; round < 8; ++round) {
    // Copies in every direction (downloads into host views), a strided clear, and a chain whose
    // steps depend on each other, all issued before one synchronisation.
    std::vector<std::unique_ptr<Trial>> trials;
    for (int i = 0; i < 9; ++i) {
      const auto& [from, to] = directions[i % 3];
      trials.push_back(RandomTrial(random, from, to));
      DT_ASSERT_OK(CopyOne(env.get(), trials.back()->src_view.get(), trials.back()->dst_view.get(),
                           stream.get()));
    }
    const DtElementType type = RandomType(random);
    const Placement p = StridedPlacement(random, RandomShape(random, 1, 4), SizeOf(type));
    auto cleared = NewBytes(Where::kGpu, p.BufferBytes());
    const std::vector<uint8_t> before = RandomData(random, type, p.BufferBytes());
    cleared->Set(before);
    Tensor view = cleared->View(p, type);
    DT_ASSERT_OK(DtZeroTensor(env.get(), view.get(), stream.get()));

    // A -> B, clear B[:, 2:7], B -> host C: C is A with those columns zero.
    const Shape shape = {6, 10};
    Tensor a = Tensor::create(env, gpu, DT_UINT16, shape);
    Tensor b = Tensor::create(env, gpu, DT_UINT16, shape);
    Tensor a_host = Tensor::create(env, cpu, DT_UINT16, shape);
    const std::vector<uint8_t> a_values = RandomBytes(random, 120);
    std::memcpy(a_host.data(), a_values.data(), 120);
    const Placement c_place = DensePlacement(shape, 2, random.Between(1, 4), random.Between(1, 8));
    auto c = NewBytes(Where::kHost, c_place.BufferBytes());
    c->Set(Sentinels(c->size()));
    Tensor c_view = c->View(c_place, DT_UINT16);
    env.copy(a_host, a, &stream);
    env.copy(a, b, &stream);
    env.zero(b.slice(1, 2, 5), &stream);
    env.copy(b, c_view, &stream);

    DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
    for (const auto& trial : trials) ASSERT_TRUE(Check(*trial));
    std::vector<uint8_t> expected = before;
    for (size_t at : p.ByteOffsets()) std::fill_n(expected.begin() + at, p.element_size, 0);
    ASSERT_TRUE(SameBytes(cleared->Get(), expected)) << "clearing " << p.Describe();
    std::vector<uint8_t> chain = a_values;
    for (size_t at : Placement{shape, {0, 2}, {6, 5}, 2, 0, 0}.ByteOffsets()) {
      chain[at] = chain[at + 1] = 0;
    }
    std::vector<uint8_t> c_expected = Sentinels(c->size());
    ReferenceCopy(chain, DensePlacement(shape, 2, 0, 0), &c_expected, c_place);
    ASSERT_TRUE(SameBytes(c->Get(), c_expected)) << "A -> B, clear, B -> C";
  }
}

// The stream keeps what queued work uses alive: every DtValue may go before synchronising.
TEST_F(WebGpuStream, ReleasingValuesBeforeSynchronizeIsSafe) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(gpu);
  for (int trial = 0; trial < 10; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape shape = RandomShape(random, 2, 4);
    const Placement out = StridedPlacement(random, shape, size);
    SCOPED_TRACE(Name(type) + " " + Text(shape) + " into " + out.Describe());
    std::vector<uint8_t> host_memory = Sentinels(out.BufferBytes());  // the app's, outlives all
    const std::vector<uint8_t> values = RandomData(random, type, Product(shape) * size);
    {
      // Host source -> unaligned GPU view -> strided slice of another GPU tensor -> host memory.
      Tensor source = Tensor::create(env, cpu, type, shape);
      std::memcpy(source.data(), values.data(), values.size());
      Tensor a = Tensor::create(env, gpu, DT_UINT8, {int64_t(values.size() + 3 * size)});
      Tensor a_view = a.view(size, type, shape);
      Shape wider = shape;
      wider.back() += 2;
      Tensor b = Tensor::create(env, gpu, type, wider);
      Tensor b_slice = b.slice(shape.size() - 1, 1, shape.back());
      Tensor dst = Tensor::wrap(env, cpu, host_memory.data(), host_memory.size(), out.parent_offset,
                                type, out.parent);
      for (size_t axis = 0; axis < shape.size(); ++axis) {
        if (out.shape[axis] != out.parent[axis]) {
          dst = dst.slice(axis, out.start[axis], out.shape[axis]);
        }
      }
      env.copy(source, a_view, &stream);
      env.copy(a_view, b_slice, &stream);
      env.copy(b_slice, dst, &stream);
    }  // every DtValue goes here, with the work maybe still queued
    DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
    std::vector<uint8_t> expected = Sentinels(out.BufferBytes());
    ReferenceCopy(values, DensePlacement(shape, size, 0, 0), &expected, out);
    ASSERT_TRUE(SameBytes(host_memory, expected));
  }
}

// A later call on the stream is ordered after an earlier download: an upload of the host memory
// the download filled sends the downloaded data.
TEST_F(WebGpuStream, UploadAfterADownloadOnTheStreamSendsTheDownloadedData) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(gpu);
  for (int trial = 0; trial < 8; ++trial) {
    auto d = MakeDownloadThenUpload(*this, random, trial);
    SCOPED_TRACE(Name(d->type) + ": A " + d->a.Describe() + ", host " + d->h.Describe());
    env.copy(d->va, d->vh, &stream);
    env.copy(d->vh, d->vc, &stream);
    stream.synchronize();
    EXPECT_TRUE(SameBytes(d->hh->Get(), d->h_expected)) << "the download";
    EXPECT_TRUE(SameBytes(d->gc->Get(), d->c_expected)) << "the upload issued after it";
  }
}

// The same with a host-to-host copy after the download: the CPU work waits for the stream.
TEST_F(WebGpuStream, HostCopyAfterADownloadOnTheStreamCopiesTheDownloadedData) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(gpu);
  const Shape shape = {7, 9};
  const std::vector<uint8_t> values = RandomBytes(random, 7 * 9 * 4);
  auto ga = NewBytes(Where::kGpu, values.size());
  ga->Set(values);
  Tensor a = ga->whole().view(0, DT_FLOAT, shape);
  Tensor h = Tensor::create(env, cpu, DT_FLOAT, shape);
  Tensor h2 = Tensor::create(env, cpu, DT_FLOAT, shape);
  std::memset(h.data(), kSentinel, values.size());
  std::memset(h2.data(), kSentinel, values.size());
  env.copy(a, h, &stream);
  env.copy(h, h2, &stream);
  stream.synchronize();
  EXPECT_EQ(std::memcmp(h.data(), values.data(), values.size()), 0);
  EXPECT_EQ(std::memcmp(h2.data(), values.data(), values.size()), 0);
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
      Tensor wrapped = Tensor::wrap(env, gpu, buffer, data_bytes, offset, type, {count});
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
      auto g = NewBytes(Where::kGpu, sliced.BufferBytes());
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
    return DtCreateTensorWithData(env.get(), gpu.get(), buffer, data_bytes, offset, type, shape, 1,
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
  Tensor wrapped = Tensor::wrap(env, gpu, good, 128, 4, DT_FLOAT, {16});
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
  Tensor wrapped = Tensor::wrap(env, gpu, buffer, 64, 0, DT_UINT8, {64});
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
  auto g = NewBytes(Where::kGpu, 32);
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
      DtCreateTensorWithData(env.get(), gpu.get(), foreign, 64, 0, DT_FLOAT, shape, 1, &out),
      DT_INVALID_ARGUMENT, "WGPUBuffer", "device");
  EXPECT_EQ(out, kUntouchedValue);
  dawn.Destroy(foreign);
  dawn.api().DeviceDestroy(other);
  dawn.api().DeviceRelease(other);
  // The env's device is unaffected.
  ASSERT_TRUE(Run(*RandomTrial(random, Where::kHost, Where::kGpu)));
}

// ---- Argument errors ----------------------------------------------------------------------------

TEST_F(WebGpuErrors, OutOfBoundsViewsAndSlices) {
  Tensor t = Tensor::create(env, gpu, DT_FLOAT, {4, 6});  // 96 bytes
  const int64_t three[] = {3}, thirteen[] = {13}, two[] = {2};
  DtValue* out = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensorView(t.get(), 88, DT_FLOAT, three, 1, &out), DT_OUT_OF_RANGE,
                  "byte_offset 88", "12 bytes", "96 bytes");
  DT_EXPECT_ERROR(DtCreateTensorView(t.get(), 0, DT_DOUBLE, thirteen, 1, &out), DT_OUT_OF_RANGE,
                  "104 bytes", "96 bytes");
  DT_EXPECT_ERROR(DtSliceTensor(t.get(), 1, 4, 3, &out), DT_OUT_OF_RANGE, "start 4", "length 3",
                  "dimension 1", "size 6");
  DT_EXPECT_ERROR(DtSliceTensor(t.get(), 0, -1, 1, &out), DT_OUT_OF_RANGE, "start -1");
  DT_EXPECT_ERROR(DtSliceTensor(t.get(), 2, 0, 1, &out), DT_OUT_OF_RANGE, "axis 2", "rank 2");
  // A slice's extent runs from its first to its last element: [0, 2] .. [3, 4] is 84 bytes.
  Tensor columns = t.slice(1, 2, 3);
  DT_EXPECT_ERROR(DtCreateTensorView(columns.get(), 80, DT_FLOAT, two, 1, &out), DT_OUT_OF_RANGE,
                  "byte_offset 80", "8 bytes", "84 bytes");
  EXPECT_EQ(out, kUntouchedValue);
}

TEST_F(WebGpuErrors, AllocationsBeyondTheLargestBufferAreRefused) {
  const uint64_t limit = gpu.info().max_allocation_bytes;
  ASSERT_GT(limit, 0u);
  const int64_t shape[] = {int64_t(limit) + 1};
  const std::string asked = std::to_string(limit + 1), largest = std::to_string(limit);
  DtValue* out = kUntouchedValue;
  DT_EXPECT_ERROR(DtCreateTensor(env.get(), gpu.get(), DT_UINT8, shape, 1, &out), DT_OUT_OF_MEMORY,
                  asked.c_str(), largest.c_str(), "WebGPU(15):0");
  EXPECT_EQ(out, kUntouchedValue);
}

TEST_F(WebGpuErrors, PairsOfAnotherShapeOrTypeAreRefusedAndWriteNothing) {
  SCOPED_TRACE(random.trace());
  auto g = NewBytes(Where::kGpu, 4 + 24 + 4);
  g->Set(Sentinels(g->size()));
  Tensor view = g->whole().view(4, DT_FLOAT, {2, 3});
  auto h = NewBytes(Where::kHost, 4 + 24 + 4);
  h->Set(Sentinels(h->size()));
  Tensor host_view = h->View(DensePlacement({2, 3}, 4, 1, 4), DT_FLOAT);
  Tensor host_float = Tensor::create(env, cpu, DT_FLOAT, {3, 2});
  Tensor host_int = Tensor::create(env, cpu, DT_INT32, {2, 3});
  Tensor host_flat = Tensor::create(env, cpu, DT_FLOAT, {6});
  Tensor gpu_int = Tensor::create(env, gpu, DT_INT32, {2, 3});
  Tensor gpu_wide = Tensor::create(env, gpu, DT_FLOAT, {2, 4});
  for (Tensor* t : {&host_float, &host_int, &host_flat}) {
    std::memset(t->data(), 0x11, 24);
  }
  auto e = env.get();
  DT_EXPECT_ERROR(CopyOne(e, host_float.get(), view.get()), DT_INVALID_ARGUMENT, "pair 0", "[3, 2]",
                  "[2, 3]");
  DT_EXPECT_ERROR(CopyOne(e, host_int.get(), view.get()), DT_INVALID_ARGUMENT, "pair 0", "int32",
                  "float");
  DT_EXPECT_ERROR(CopyOne(e, host_flat.get(), view.get()), DT_INVALID_ARGUMENT, "[6]", "[2, 3]");
  DT_EXPECT_ERROR(CopyOne(e, gpu_int.get(), view.get()), DT_INVALID_ARGUMENT, "int32", "float");
  DT_EXPECT_ERROR(CopyOne(e, gpu_wide.get(), view.get()), DT_INVALID_ARGUMENT, "[2, 4]", "[2, 3]");
  EXPECT_TRUE(SameBytes(g->Get(), Sentinels(g->size()))) << "GPU destination";
  DT_EXPECT_ERROR(CopyOne(e, view.get(), host_flat.get()), DT_INVALID_ARGUMENT, "[2, 3]", "[6]");
  DT_EXPECT_ERROR(CopyOne(e, gpu_int.get(), host_view.get()), DT_INVALID_ARGUMENT, "int32",
                  "float");
  EXPECT_TRUE(SameBytes(h->Get(), Sentinels(h->size()))) << "host destination";
  EXPECT_EQ(std::vector<uint8_t>(host_flat.data<uint8_t>(), host_flat.data<uint8_t>() + 24),
            std::vector<uint8_t>(24, 0x11));
}

// ---- Threads ------------------------------------------------------------------------------------

TEST_F(WebGpuThreads, EightThreadsWithTheirOwnTensorsSomeOnStreams) {
  SCOPED_TRACE(random.trace());
  constexpr int kThreads = 8;
  std::vector<Random> randoms;
  for (int t = 0; t < kThreads; ++t) randoms.push_back(Fork(random));
  const std::pair<Where, Where> directions[] = {
      {Where::kHost, Where::kGpu}, {Where::kGpu, Where::kHost}, {Where::kGpu, Where::kGpu}};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      try {
        Random& mine = randoms[t];
        std::optional<devtensor::Stream> stream;
        if (t % 2) stream.emplace(env.create_stream(gpu));
        for (int i = 0; i < 80; ++i) {
          const auto& [from, to] = directions[mine.Between(0, 2)];
          // No Dawn here: GPU buffers are set and read through devtensor.
          auto trial = RandomTrial(mine, from, to, /*use_dawn=*/false);
          const ::testing::AssertionResult ok = Run(*trial, stream ? &*stream : nullptr);
          EXPECT_TRUE(ok) << "thread " << t << " (seed " << mine.seed << ")";
          if (!ok) break;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

// ---- Lifetimes ----------------------------------------------------------------------------------

// Env, tensor, view and stream released in each of the 24 orders with an upload and a download
// still queued: nothing crashes, and the download lands in the app's memory (releasing the stream
// waits for it).
TEST_F(WebGpuLifetime, ReleaseInEveryOrderWithWorkQueued) {
  SCOPED_TRACE(random.trace());
  std::array<int, 4> order = {0, 1, 2, 3};
  do {
    SCOPED_TRACE("release order " + std::to_string(order[0]) + std::to_string(order[1]) +
                 std::to_string(order[2]) + std::to_string(order[3]) +
                 " (0 env, 1 tensor, 2 view, 3 stream)");
    const int64_t n = random.Between(1, 4000);
    const std::vector<uint8_t> values = RandomBytes(random, n);
    std::vector<uint8_t> out = Sentinels(n + 10);
    DtEnv* e = nullptr;
    DT_ASSERT_OK(DtCreateEnv(&e));
    const DtDevice *g = nullptr, *c = nullptr;
    DT_ASSERT_OK(DtGetDevice(e, DT_DEVICE_WEBGPU, 0, &g));
    DT_ASSERT_OK(DtGetDevice(e, DT_DEVICE_CPU, 0, &c));
    const int64_t whole_shape[] = {n + 8}, shape[] = {n};
    DtValue *tensor = nullptr, *view = nullptr, *src = nullptr, *dst = nullptr;
    DtStream* stream = nullptr;
    DT_ASSERT_OK(DtCreateTensor(e, g, DT_UINT8, whole_shape, 1, &tensor));
    DT_ASSERT_OK(DtCreateTensorView(tensor, 3, DT_UINT8, shape, 1, &view));
    DT_ASSERT_OK(DtCreateStream(e, g, &stream));
    DT_ASSERT_OK(DtCreateTensorWithData(e, c, const_cast<uint8_t*>(values.data()), n, 0, DT_UINT8,
                                        shape, 1, &src));
    DT_ASSERT_OK(DtCreateTensorWithData(e, c, out.data(), out.size(), 5, DT_UINT8, shape, 1, &dst));
    DT_ASSERT_OK(CopyOne(e, src, view, stream));
    DT_ASSERT_OK(CopyOne(e, view, dst, stream));
    DtReleaseValue(src);
    DtReleaseValue(dst);
    for (int which : order) {
      if (which == 0) DtReleaseEnv(e);
      if (which == 1) DtReleaseValue(tensor);
      if (which == 2) DtReleaseValue(view);
      if (which == 3) DtReleaseStream(stream);
    }
    std::vector<uint8_t> expected = Sentinels(n + 10);
    std::copy(values.begin(), values.end(), expected.begin() + 5);
    ASSERT_TRUE(SameBytes(out, expected));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_F(WebGpuLifetime, ThousandEnvCycles) {
  SCOPED_TRACE(random.trace());
  // A cycle: create an env, a small WebGPU tensor, copy into it and back, release. While the
  // fixture's env lives the WebGPU device is shared; the last cycles run after it is released,
  // so each makes and drops a device of its own.
  for (int cycle = 0; cycle < 1000; ++cycle) {
    if (cycle == 900) env = devtensor::Env(nullptr);
    devtensor::Env e;
    Device g = e.device(DT_DEVICE_WEBGPU), c = e.device(DT_DEVICE_CPU);
    const int64_t n = 1 + cycle % 13;
    Tensor t = Tensor::create(e, g, DT_UINT8, {n});
    Tensor host = Tensor::create(e, c, DT_UINT8, {n});
    Tensor back = Tensor::create(e, c, DT_UINT8, {n});
    for (int64_t i = 0; i < n; ++i) host.data<uint8_t>()[i] = uint8_t(cycle * 7 + i);
    e.copy(host, t);
    e.copy(t, back);
    ASSERT_EQ(std::memcmp(host.data(), back.data(), n), 0) << "cycle " << cycle;
  }
}

// ---- Device loss --------------------------------------------------------------------------------

TEST_F(WebGpuDeviceLoss, EveryCallFailsCleanlyThenANewEnvGetsANewDevice) {
  SCOPED_TRACE(random.trace());
  const Shape shape = {64};
  Tensor a = Tensor::create(env, gpu, DT_FLOAT, shape);
  Tensor b = Tensor::create(env, gpu, DT_FLOAT, shape);
  Tensor host = Tensor::create(env, cpu, DT_FLOAT, shape);
  const std::vector<uint8_t> values = RandomBytes(random, 256);
  std::memcpy(host.data(), values.data(), 256);
  env.copy(host, a);
  devtensor::Stream stream = env.create_stream(gpu);
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
  DT_EXPECT_ERROR(DtCreateTensor(e, gpu.get(), DT_FLOAT, dims, 1, &out), DT_DEVICE_LOST, "lost");
  DT_EXPECT_ERROR(
      DtCreateTensorWithData(e, gpu.get(), a.buffer().handle, 256, 0, DT_FLOAT, dims, 1, &out),
      DT_DEVICE_LOST, "lost");
  EXPECT_EQ(out, kUntouchedValue);
  DtStream* new_stream = reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50});
  DT_EXPECT_ERROR(DtCreateStream(e, gpu.get(), &new_stream), DT_DEVICE_LOST, "lost");
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
