// The raw Dawn baseline: the same transfers written plainly against the WebGPU C API, on
// devtensor's own WebGPU device and queue (DtGetDeviceNativeHandle), through the same runtime
// library. Every call that transfers waits for completion: writes and copies wait for the queue's
// work-done signal after a submit, downloads map a read-back buffer.
#ifndef DEVTENSOR_BENCH_CASES_RAW_DAWN_H_
#define DEVTENSOR_BENCH_CASES_RAW_DAWN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "devtensor/devtensor.hpp"
#include "providers/webgpu/webgpu_api.h"

namespace devtensor::bench {

namespace wgpu = devtensor::wgpu;

inline constexpr wgpu::Flags kStorageUsage =
    wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
inline constexpr wgpu::Flags kReadbackUsage = wgpu::usage::kMapRead | wgpu::usage::kCopyDst;

class RawDawn {
 public:
  // Loads the runtime devtensor uses and takes the handles of `device` (a WebGPU device); throws
  // std::runtime_error when that is not possible.
  explicit RawDawn(devtensor::Device device);

  wgpu::Buffer CreateBuffer(uint64_t size, wgpu::Flags usage) const;
  void ReleaseBuffer(wgpu::Buffer buffer) const;

  // Queues a write (offset and size multiples of 4), without waiting.
  void Write(wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size) const;
  // Submits what is queued (and `encoder`'s commands, when given), then waits for the queue.
  void SubmitAndWait(wgpu::CommandEncoder encoder = nullptr) const;
  // Write, then SubmitAndWait.
  void Upload(wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size) const;
  // Copies `size` bytes at `offset` into `readback` (a mappable buffer), maps it, copies out.
  void Download(wgpu::Buffer buffer, uint64_t offset, wgpu::Buffer readback, void* out,
                size_t size) const;
  // Copies `size` bytes from the start of `from` to the start of `to`, then waits.
  void Copy(wgpu::Buffer from, wgpu::Buffer to, size_t size) const;

  // A compute pipeline from WGSL with entry point `main` and the layout the shader implies.
  wgpu::ComputePipeline CreatePipeline(const char* wgsl) const;
  void ReleasePipeline(wgpu::ComputePipeline pipeline) const;
  // A bind group of `pipeline`'s group 0 with `buffers` whole at bindings 0, 1, ...
  wgpu::BindGroup CreateBindGroup(wgpu::ComputePipeline pipeline,
                                  const std::vector<wgpu::Buffer>& buffers) const;
  void ReleaseBindGroup(wgpu::BindGroup group) const;
  // One compute pass that dispatches `pipeline` once per group (`workgroups` each), then
  // SubmitAndWait.
  void DispatchEach(wgpu::ComputePipeline pipeline, const std::vector<wgpu::BindGroup>& groups,
                    uint32_t workgroups) const;

 private:
  wgpu::Api api_;
  wgpu::Instance instance_ = nullptr;
  wgpu::Device device_ = nullptr;
  wgpu::Queue queue_ = nullptr;
};

// A buffer the raw baseline owns, destroyed with its owner.
class RawBuffer {
 public:
  RawBuffer(const RawDawn& raw, uint64_t size, wgpu::Flags usage = kStorageUsage)
      : raw_(raw), buffer_(raw.CreateBuffer(size, usage)) {}
  RawBuffer(const RawBuffer&) = delete;
  RawBuffer& operator=(const RawBuffer&) = delete;
  ~RawBuffer() { raw_.ReleaseBuffer(buffer_); }
  wgpu::Buffer get() const { return buffer_; }

 private:
  const RawDawn& raw_;
  wgpu::Buffer buffer_;
};

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_RAW_DAWN_H_
