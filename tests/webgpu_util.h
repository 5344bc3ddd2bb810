// Direct use of the Dawn runtime that the WebGPU provider loaded: tests create, fill, read back and
// destroy WGPUBuffers themselves, make a second device and force device loss, so that what they
// check does not depend on the devtensor copies under test.
#ifndef DEVTENSOR_TESTS_WEBGPU_UTIL_H_
#define DEVTENSOR_TESTS_WEBGPU_UTIL_H_

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/builtin_providers.h"
#include "devtensor/devtensor.h"
#include "platform/loaded_file.h"
#include "providers/webgpu/webgpu_api.h"
#include "test_util.h"

namespace devtensor_test {

namespace wgpu = devtensor::wgpu;

inline uint64_t RoundUp4(uint64_t v) { return (v + 3) & ~uint64_t(3); }

// Where DtCreateEnv loads the provider libraries that ship with devtensor from: devtensor/ beside
// the libdevtensor.so this process loaded, wherever the build tree is.
inline std::string BundledProviderDirectory() {
  return devtensor::DirectoryOfLoadedFile(reinterpret_cast<const void*>(&DtCreateEnv)) +
         devtensor::kProviderDirectory;
}

// Where the provider loads the runtime from: DEVTENSOR_WEBGPU_RUNTIME when set, else the copy the
// build put beside the provider.
inline std::string DawnRuntimePath() {
  const char* path = std::getenv("DEVTENSOR_WEBGPU_RUNTIME");
  return path != nullptr && *path ? path : BundledProviderDirectory() + "/libwebgpu_wrapper.so";
}

// The runtime's functions. dlopen of the path the provider used returns the library it loaded, so
// the handles DtGetDeviceNativeHandle gives are valid with them. Null, with `why`, on failure.
inline const wgpu::Api* DawnApi(std::string* why) {
  static std::mutex mutex;
  static wgpu::Api api;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded) return &api;
  const std::string path = DawnRuntimePath();
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept: Dawn is never unloaded
  if (library == nullptr) {
    const char* error = dlerror();
    *why = path + ": " + (error ? error : "not loadable");
    return nullptr;
  }
  if (const char* missing = wgpu::ResolveApi(library, &api)) {
    *why = path + " lacks " + missing;
    return nullptr;
  }
  loaded = true;
  return &api;
}

// The native objects of a devtensor WebGPU device, used directly. Never call it while another
// thread uses the same device through devtensor: Dawn devices are not used from two threads.
class Dawn {
 public:
  // Resolves the runtime and the device's handles; a gtest failure when any is missing.
  void Open(const DtDevice* device) {
    std::string why;
    api_ = DawnApi(&why);
    ASSERT_NE(api_, nullptr) << why;
    void* handle = nullptr;
    for (const char* name : {"WGPUInstance", "WGPUAdapter", "WGPUDevice", "WGPUQueue"}) {
      DtStatus* status = DtGetDeviceNativeHandle(device, name, &handle);
      ASSERT_EQ(status, nullptr) << name << ": " << DtGetErrorMessage(status);
      ASSERT_NE(handle, nullptr) << name;
      if (std::strcmp(name, "WGPUInstance") == 0) instance_ = static_cast<wgpu::Instance>(handle);
      if (std::strcmp(name, "WGPUAdapter") == 0) adapter_ = static_cast<wgpu::Adapter>(handle);
      if (std::strcmp(name, "WGPUDevice") == 0) device_ = static_cast<wgpu::Device>(handle);
      if (std::strcmp(name, "WGPUQueue") == 0) queue_ = static_cast<wgpu::Queue>(handle);
    }
  }

  const wgpu::Api& api() const { return *api_; }
  wgpu::Instance instance() const { return instance_; }
  wgpu::Adapter adapter() const { return adapter_; }
  wgpu::Device device() const { return device_; }
  wgpu::Queue queue() const { return queue_; }

  wgpu::Buffer CreateBuffer(wgpu::Flags usage, uint64_t size, wgpu::Device on = nullptr) const {
    wgpu::BufferDescriptor descriptor{};
    descriptor.label = wgpu::View("webgpu_test");
    descriptor.usage = usage;
    descriptor.size = size;
    return api_->DeviceCreateBuffer(on ? on : device_, &descriptor);
  }
  void Destroy(wgpu::Buffer buffer) const {
    api_->BufferDestroy(buffer);
    api_->BufferRelease(buffer);
  }

  // Queues a write of `bytes` (zero-padded to a multiple of 4) at `offset` (a multiple of 4). The
  // queue runs it before any work devtensor submits later.
  void Write(wgpu::Buffer buffer, uint64_t offset, std::vector<uint8_t> bytes) const {
    bytes.resize(RoundUp4(bytes.size()), 0);
    api_->QueueWriteBuffer(queue_, buffer, offset, bytes.data(), bytes.size());
  }

  // Bytes [offset, offset + size) of `buffer` (offset a multiple of 4; the buffer must hold the
  // size rounded up to 4), read through a mapped copy once the queue's earlier work is done.
  std::vector<uint8_t> Read(wgpu::Buffer buffer, uint64_t offset, uint64_t size) const {
    const uint64_t padded = RoundUp4(size);
    if (padded == 0) return {};
    wgpu::Buffer staging = CreateBuffer(wgpu::usage::kMapRead | wgpu::usage::kCopyDst, padded);
    wgpu::CommandEncoder encoder = api_->DeviceCreateCommandEncoder(device_, nullptr);
    api_->CommandEncoderCopyBufferToBuffer(encoder, buffer, offset, staging, 0, padded);
    wgpu::CommandBuffer commands = api_->CommandEncoderFinish(encoder, nullptr);
    api_->QueueSubmit(queue_, 1, &commands);
    api_->CommandBufferRelease(commands);
    api_->CommandEncoderRelease(encoder);
    uint32_t status = 0;
    wgpu::BufferMapCallbackInfo info{
        nullptr, wgpu::callback_mode::kWaitAnyOnly,
        [](uint32_t s, wgpu::StringView, void* out, void*) { *static_cast<uint32_t*>(out) = s; },
        &status, nullptr};
    wgpu::FutureWaitInfo wait{api_->BufferMapAsync(staging, wgpu::map_mode::kRead, 0, padded, info),
                              0};
    api_->InstanceWaitAny(instance_, 1, &wait, 60ull * 1000 * 1000 * 1000);
    std::vector<uint8_t> bytes;
    if (wait.completed && status == wgpu::kRequestSuccess) {
      const auto* mapped =
          static_cast<const uint8_t*>(api_->BufferGetConstMappedRange(staging, 0, padded));
      bytes.assign(mapped, mapped + size);
      api_->BufferUnmap(staging);
    } else {
      ADD_FAILURE() << "reading " << size << " bytes of a WGPUBuffer through Dawn failed";
    }
    Destroy(staging);
    return bytes;
  }

  // A second device on the same adapter (null, with a gtest failure, when none is given).
  wgpu::Device RequestDevice() const {
    struct Request {
      uint32_t status = 0;
      wgpu::Device device = nullptr;
    } request;
    wgpu::DeviceDescriptor descriptor{};
    descriptor.label = wgpu::View("webgpu_test second device");
    wgpu::RequestDeviceCallbackInfo info{
        nullptr, wgpu::callback_mode::kWaitAnyOnly,
        [](uint32_t status, wgpu::Device device, wgpu::StringView, void* out, void*) {
          static_cast<Request*>(out)->status = status;
          static_cast<Request*>(out)->device = device;
        },
        &request, nullptr};
    wgpu::FutureWaitInfo wait{api_->AdapterRequestDevice(adapter_, &descriptor, info), 0};
    api_->InstanceWaitAny(instance_, 1, &wait, 60ull * 1000 * 1000 * 1000);
    if (!wait.completed || request.status != wgpu::kRequestSuccess || request.device == nullptr) {
      ADD_FAILURE() << "a second WGPUDevice could not be created on the adapter";
      return nullptr;
    }
    return request.device;
  }

 private:
  const wgpu::Api* api_ = nullptr;
  wgpu::Instance instance_ = nullptr;
  wgpu::Adapter adapter_ = nullptr;
  wgpu::Device device_ = nullptr;
  wgpu::Queue queue_ = nullptr;
};

// A WebGPU test (see WebGpuEnvTest) that also reaches the device's Dawn objects directly.
class WebGpuDawnTest : public WebGpuEnvTest {
 public:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(WebGpuEnvTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(dawn.Open(gpu.get()));
  }

  Dawn dawn;
};

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_WEBGPU_UTIL_H_
