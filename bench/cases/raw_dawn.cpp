#include "raw_dawn.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace devtensor::bench {
namespace {

void OnDone(uint32_t, wgpu::StringView, void* flag, void*) { *static_cast<bool*>(flag) = true; }
void OnMap(uint32_t status, wgpu::StringView, void* out, void*) { *static_cast<uint32_t*>(out) = status; }

}  // namespace

RawDawn::RawDawn(devtensor::Device device) {
  const char* path = std::getenv("DEVTENSOR_WEBGPU_RUNTIME");
  void* library = dlopen(path ? path : DT_BENCH_WEBGPU_RUNTIME, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    throw std::runtime_error("cannot load the WebGPU runtime for the raw Dawn baseline: " +
                             std::string(dlerror()));
  }
  if (const char* missing = wgpu::ResolveApi(library, &api_)) {
    throw std::runtime_error("the WebGPU runtime lacks " + std::string(missing));
  }
  void* handle = nullptr;
  devtensor::Check(DtGetDeviceNativeHandle(device.get(), "WGPUInstance", &handle));
  instance_ = static_cast<wgpu::Instance>(handle);
  devtensor::Check(DtGetDeviceNativeHandle(device.get(), "WGPUDevice", &handle));
  device_ = static_cast<wgpu::Device>(handle);
  devtensor::Check(DtGetDeviceNativeHandle(device.get(), "WGPUQueue", &handle));
  queue_ = static_cast<wgpu::Queue>(handle);
}

wgpu::Buffer RawDawn::CreateBuffer(uint64_t size, wgpu::Flags usage) const {
  wgpu::BufferDescriptor descriptor{};
  descriptor.usage = usage;
  descriptor.size = size;
  wgpu::Buffer buffer = api_.DeviceCreateBuffer(device_, &descriptor);
  if (buffer == nullptr) throw std::runtime_error("raw Dawn: cannot create a buffer of " + std::to_string(size) + " bytes");
  return buffer;
}

void RawDawn::ReleaseBuffer(wgpu::Buffer buffer) const {
  api_.BufferDestroy(buffer);
  api_.BufferRelease(buffer);
}

void RawDawn::Write(wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size) const {
  api_.QueueWriteBuffer(queue_, buffer, offset, data, size);
}

void RawDawn::SubmitAndWait(wgpu::CommandEncoder encoder) const {
  if (encoder == nullptr) encoder = api_.DeviceCreateCommandEncoder(device_, nullptr);
  wgpu::CommandBuffer commands = api_.CommandEncoderFinish(encoder, nullptr);
  api_.QueueSubmit(queue_, 1, &commands);
  api_.CommandBufferRelease(commands);
  api_.CommandEncoderRelease(encoder);
  bool done = false;
  wgpu::FutureWaitInfo wait{api_.QueueOnSubmittedWorkDone(
                                queue_, {nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnDone, &done, nullptr}),
                            0};
  api_.InstanceWaitAny(instance_, 1, &wait, UINT64_MAX);
}

void RawDawn::Upload(wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size) const {
  Write(buffer, offset, data, size);
  SubmitAndWait();
}

void RawDawn::Download(wgpu::Buffer buffer, uint64_t offset, wgpu::Buffer readback, void* out,
                       size_t size) const {
  wgpu::CommandEncoder encoder = api_.DeviceCreateCommandEncoder(device_, nullptr);
  api_.CommandEncoderCopyBufferToBuffer(encoder, buffer, offset, readback, 0, size);
  wgpu::CommandBuffer commands = api_.CommandEncoderFinish(encoder, nullptr);
  api_.QueueSubmit(queue_, 1, &commands);
  api_.CommandBufferRelease(commands);
  api_.CommandEncoderRelease(encoder);
  uint32_t status = 0;
  wgpu::FutureWaitInfo wait{
      api_.BufferMapAsync(readback, wgpu::map_mode::kRead, 0, size,
                          {nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnMap, &status, nullptr}),
      0};
  api_.InstanceWaitAny(instance_, 1, &wait, UINT64_MAX);
  if (status != wgpu::kRequestSuccess) throw std::runtime_error("raw Dawn: mapping the read-back buffer failed");
  std::memcpy(out, api_.BufferGetConstMappedRange(readback, 0, size), size);
  api_.BufferUnmap(readback);
}

void RawDawn::Copy(wgpu::Buffer from, wgpu::Buffer to, size_t size) const {
  wgpu::CommandEncoder encoder = api_.DeviceCreateCommandEncoder(device_, nullptr);
  api_.CommandEncoderCopyBufferToBuffer(encoder, from, 0, to, 0, size);
  SubmitAndWait(encoder);
}

wgpu::ComputePipeline RawDawn::CreatePipeline(const char* wgsl) const {
  wgpu::ShaderSourceWgsl source{{nullptr, wgpu::stype::kShaderSourceWgsl}, {wgsl, std::strlen(wgsl)}};
  wgpu::ShaderModuleDescriptor module_descriptor{&source.chain, wgpu::View("raw Dawn")};
  wgpu::ShaderModule module = api_.DeviceCreateShaderModule(device_, &module_descriptor);
  wgpu::ComputePipelineDescriptor descriptor{};
  descriptor.compute.module = module;
  descriptor.compute.entry_point = wgpu::View("main");
  wgpu::ComputePipeline pipeline = api_.DeviceCreateComputePipeline(device_, &descriptor);
  api_.ShaderModuleRelease(module);
  if (pipeline == nullptr) throw std::runtime_error("raw Dawn: cannot create a compute pipeline");
  return pipeline;
}

void RawDawn::ReleasePipeline(wgpu::ComputePipeline pipeline) const {
  api_.ComputePipelineRelease(pipeline);
}

wgpu::BindGroup RawDawn::CreateBindGroup(wgpu::ComputePipeline pipeline,
                                         const std::vector<wgpu::Buffer>& buffers) const {
  std::vector<wgpu::BindGroupEntry> entries;
  for (size_t i = 0; i < buffers.size(); ++i) {
    entries.push_back({nullptr, uint32_t(i), buffers[i], 0, api_.BufferGetSize(buffers[i]), nullptr, nullptr});
  }
  wgpu::BindGroupLayout layout = api_.ComputePipelineGetBindGroupLayout(pipeline, 0);
  wgpu::BindGroupDescriptor descriptor{nullptr, wgpu::View("raw Dawn"), layout, entries.size(), entries.data()};
  wgpu::BindGroup group = api_.DeviceCreateBindGroup(device_, &descriptor);
  api_.BindGroupLayoutRelease(layout);
  if (group == nullptr) throw std::runtime_error("raw Dawn: cannot create a bind group");
  return group;
}

void RawDawn::ReleaseBindGroup(wgpu::BindGroup group) const { api_.BindGroupRelease(group); }

void RawDawn::DispatchEach(wgpu::ComputePipeline pipeline, const std::vector<wgpu::BindGroup>& groups,
                           uint32_t workgroups) const {
  wgpu::CommandEncoder encoder = api_.DeviceCreateCommandEncoder(device_, nullptr);
  wgpu::ComputePassEncoder pass = api_.CommandEncoderBeginComputePass(encoder, nullptr);
  api_.ComputePassEncoderSetPipeline(pass, pipeline);
  for (wgpu::BindGroup group : groups) {
    api_.ComputePassEncoderSetBindGroup(pass, 0, group, 0, nullptr);
    api_.ComputePassEncoderDispatchWorkgroups(pass, workgroups, 1, 1);
  }
  api_.ComputePassEncoderEnd(pass);
  api_.ComputePassEncoderRelease(pass);
  SubmitAndWait(encoder);
}

}  // namespace devtensor::bench
