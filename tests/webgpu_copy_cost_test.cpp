// Strided copies and zeros on WebGPU whose views are small beside the span of their strides (a
// token's rows in a KV cache, a column of a matrix), where the copy kernel works over the view's
// rows rather than over every word the view spans. Views sit at odd element offsets, rows share
// words with their neighbours when their gaps are under four bytes, and sources are strided where
// destinations are dense and the other way round. Every destination buffer starts as kSentinel
// and every source as random bytes; after each call the whole destination buffer must equal the
// reference copy (or zero) of the view's elements over the sentinels, and the source buffer must
// be unchanged. GPU buffers are set and read through Dawn directly.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "test_util.h"
#include "webgpu_util.h"

namespace {

using namespace devtensor_test;
using devtensor::Device;
using devtensor::Tensor;

constexpr DtElementType kTypes[] = {DT_FLOAT16, DT_INT8, DT_FLOAT, DT_INT64};

// A byte buffer in host memory or on the WebGPU device, set and read whole by the test.
class Bytes {
 public:
  Bytes(const devtensor::Env& env, Device device, const Dawn& dawn, size_t size)
      : dawn_(dawn), size_(size), on_gpu_(device.type() == DT_DEVICE_WEBGPU) {
    if (on_gpu_) {
      whole_ = Tensor::create(env, device, DT_UINT8, {int64_t(size)});
    } else {
      host_.assign(size, 0);
      whole_ = Tensor::wrap(env, device, host_.data(), size, 0, DT_UINT8, {int64_t(size)});
    }
  }
  void Set(const std::vector<uint8_t>& bytes) {
    if (on_gpu_) {
      dawn_.Write(Buffer(), 0, bytes);
    } else {
      host_ = bytes;
    }
  }
  std::vector<uint8_t> Get() const { return on_gpu_ ? dawn_.Read(Buffer(), 0, size_) : host_; }
  // The view of placement `p`: a view of its parent, sliced where the view is shorter.
  Tensor View(const Placement& p, DtElementType type) const {
    Tensor view = whole_.view(p.parent_offset, type, p.parent);
    for (size_t axis = 0; axis < p.shape.size(); ++axis) {
      if (p.shape[axis] != p.parent[axis]) view = view.slice(axis, p.start[axis], p.shape[axis]);
    }
    return view;
  }

 private:
  wgpu::Buffer Buffer() const { return static_cast<wgpu::Buffer>(whole_.buffer().handle); }

  const Dawn& dawn_;
  size_t size_;
  bool on_gpu_;
  std::vector<uint8_t> host_;
  Tensor whole_;
};

// The elements of `p` zeroed over `bytes`: the reference zero.
void ReferenceZero(const Placement& p, std::vector<uint8_t>* bytes) {
  for (size_t at : p.ByteOffsets()) std::memset(bytes->data() + at, 0, p.element_size);
}

class WebGpuCopyCost : public WebGpuDawnTest {
 protected:
  // Copies view `from` of a random source buffer on `src` into view `to` of a sentinel buffer on
  // `dst` (one buffer for both when `same_buffer`; the views must then be disjoint), then zeros
  // the destination view, checking every byte of both buffers after each.
  void CopyAndZero(DtElementType type, Device src, const Placement& from, Device dst,
                   const Placement& to, bool same_buffer = false) {
    const std::string what = std::string(DtGetElementTypeName(type)) + " from " + from.Describe() +
                             (src.type() == DT_DEVICE_WEBGPU ? " on WebGPU" : " on the host") +
                             " to " + to.Describe() +
                             (dst.type() == DT_DEVICE_WEBGPU ? " on WebGPU" : " on the host") +
                             (same_buffer ? " (one buffer)" : "");
    SCOPED_TRACE(what);
    std::unique_ptr<Bytes> source, destination;
    std::vector<uint8_t> source_before, expected;
    if (same_buffer) {
      ASSERT_EQ(from.BufferBytes(), to.BufferBytes());
      ASSERT_FALSE(SharesBytes(from, to));
      destination = std::make_unique<Bytes>(env, dst, dawn, to.BufferBytes());
      // Random where the source reads, sentinels elsewhere.
      expected = Sentinels(to.BufferBytes());
      const std::vector<uint8_t> data = RandomData(random, type, to.BufferBytes());
      for (size_t at : from.ByteOffsets()) {
        std::memcpy(expected.data() + at, data.data() + at, from.element_size);
      }
      destination->Set(expected);
      ReferenceCopy(std::vector<uint8_t>(expected), from, &expected, to);
    } else {
      source = std::make_unique<Bytes>(env, src, dawn, from.BufferBytes());
      destination = std::make_unique<Bytes>(env, dst, dawn, to.BufferBytes());
      source_before = RandomData(random, type, from.BufferBytes());
      source->Set(source_before);
      destination->Set(Sentinels(to.BufferBytes()));
      expected = Sentinels(to.BufferBytes());
      ReferenceCopy(source_before, from, &expected, to);
    }
    const Tensor src_view = (same_buffer ? *destination : *source).View(from, type);
    const Tensor dst_view = destination->View(to, type);
    env.copy(src_view, dst_view);
    EXPECT_TRUE(SameBytes(destination->Get(), expected)) << "after the copy";
    if (source) {
      EXPECT_TRUE(SameBytes(source->Get(), source_before)) << "the source changed";
    }
    env.zero(dst_view);
    ReferenceZero(to, &expected);
    EXPECT_TRUE(SameBytes(destination->Get(), expected)) << "after the zero";
  }
};

// The header's first example: one token [heads, 1, head_dim] into the slice at `position` of a
// cache [heads, max_len, head_dim], at odd element offsets, at the first, a middle and the last
// position.
TEST_F(WebGpuCopyCost, TokenIntoACacheSliceAtOddOffsets) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kTypes) {
    const size_t size = SizeOf(type);
    for (int64_t position : {int64_t(0), random.Between(1, 62), int64_t(63)}) {
      const Shape token = {4, 1, 24};
      Placement cache{{4, 64, 24}, {0, position, 0}, token, size, size * 3, 13};
      const Placement fresh = DensePlacement(token, size, 5, 7);
      CopyAndZero(type, gpu, fresh, gpu, cache);
      CopyAndZero(type, cpu, fresh, gpu, cache);  // an upload into the slice
      CopyAndZero(type, gpu, cache, gpu, fresh);  // and the slice back out
      CopyAndZero(type, gpu, cache, cpu, fresh);
    }
  }
}

// Slices along random axes of random shapes, at odd element offsets, between strided and dense
// views in every direction.
TEST_F(WebGpuCopyCost, RandomSlicesInEveryDirection) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 48; ++trial) {
    const DtElementType type = kTypes[trial % std::size(kTypes)];
    const size_t size = SizeOf(type);
    Shape shape(random.Between(1, 4));
    for (int64_t& n : shape) n = random.Between(1, 9);
    auto place = [&](bool strided) {
      Placement p = strided ? StridedPlacement(random, shape, size)
                            : DensePlacement(shape, size, random.Between(0, 5), random.Between(1, 9));
      p.parent_offset = (2 * random.Between(0, 4) + 1) * size;  // an odd element offset
      return p;
    };
    const Placement to = place(true);
    const Placement from = place(trial % 2 == 0);
    // GPU to GPU, host to GPU, GPU to host, in turn.
    const Device src = trial % 3 == 1 ? cpu : gpu, dst = trial % 3 == 2 ? cpu : gpu;
    CopyAndZero(type, src, from, dst, to);
    CopyAndZero(type, gpu, to, gpu, from);
  }
}

// Rows closer than a word: single bytes two apart, pairs of bytes one apart, halves three bytes
// apart; and a dense destination filled from a strided source (the rows' bytes gathered).
TEST_F(WebGpuCopyCost, RowsThatShareWordsAndGatheredRows) {
  SCOPED_TRACE(random.trace());
  for (int64_t rows : {1, 5, 67}) {
    // int8 [rows, 1] of [rows, 2]: one byte of every two.
    CopyAndZero(DT_INT8, gpu, DensePlacement({rows, 1}, 1, 3, 5), gpu,
                Placement{{rows, 2}, {0, 1}, {rows, 1}, 1, 1, 6});
    // int8 [rows, 2] of [rows, 3] and fp16 [rows, 1] of [rows, 3].
    CopyAndZero(DT_INT8, gpu, DensePlacement({rows, 2}, 1, 1, 5), gpu,
                Placement{{rows, 3}, {0, 1}, {rows, 2}, 1, 3, 6});
    CopyAndZero(DT_FLOAT16, gpu, DensePlacement({rows, 1}, 2, 1, 5), gpu,
                Placement{{rows, 3}, {0, 2}, {rows, 1}, 2, 6, 6});
    // Strided source into a dense destination at an odd offset.
    CopyAndZero(DT_FLOAT16, gpu, Placement{{rows, 7}, {0, 2}, {rows, 3}, 2, 2, 6}, gpu,
                DensePlacement({rows, 3}, 2, 3, 5));
    CopyAndZero(DT_INT8, gpu, Placement{{rows, 3, 2}, {0, 0, 1}, {rows, 3, 1}, 1, 1, 6}, gpu,
                DensePlacement({rows, 3, 1}, 1, 1, 5));
  }
}

// Source and destination views of one buffer, disjoint and interleaved: the first and the last
// two positions of a cache's rows, and two short columns.
TEST_F(WebGpuCopyCost, WithinOneBuffer) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kTypes) {
    const size_t size = SizeOf(type);
    const Placement first{{6, 4, 5}, {0, 0, 0}, {6, 2, 5}, size, size, 9};
    const Placement last{{6, 4, 5}, {0, 2, 0}, {6, 2, 5}, size, size, 9};
    const Placement column{{6, 4, 5}, {0, 1, 3}, {6, 1, 2}, size, size, 9};
    const Placement other{{6, 4, 5}, {0, 3, 0}, {6, 1, 2}, size, size, 9};
    CopyAndZero(type, gpu, first, gpu, last, /*same_buffer=*/true);
    CopyAndZero(type, gpu, column, gpu, other, /*same_buffer=*/true);
  }
}

}  // namespace
