#include "providers/webgpu/context.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/return_if_error.h"
#include "providers/webgpu/copy_kernel.h"
#include "providers/webgpu/op_dispatch.h"

namespace devtensor::webgpu {
namespace {

// Fault injection for tests (DtWebGpuDebugFailBufferAfter): buffers still handed out before one
// fails with DT_OUT_OF_MEMORY; -1: none fails.
std::atomic<int64_t> g_buffers_before_failure{-1};

// Counts one buffer handed out; false when the injected failure is due.
bool InjectedFailureDue() {
  int64_t left = g_buffers_before_failure.load();
  while (left >= 0) {
    const int64_t next = left == 0 ? -1 : left - 1;  // the failure happens once
    if (g_buffers_before_failure.compare_exchange_weak(left, next)) return left == 0;
  }
  return false;
}

struct Registry {
  std::mutex mutex;
  std::vector<std::weak_ptr<Context>> contexts;  // by adapter index
};

// Leaked on purpose: nothing here may be destroyed at process exit.
Registry& TheRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

struct DeviceRequest {
  uint32_t status = 0;
  wgpu::Device device = nullptr;
  std::string message;
};

void OnDevice(uint32_t status, wgpu::Device device, wgpu::StringView message, void* userdata,
              void*) {
  auto* request = static_cast<DeviceRequest*>(userdata);
  request->status = status;
  request->device = device;
  try {
    request->message = wgpu::Text(message);
  } catch (...) {
  }
}

struct Completion {
  uint32_t status = 0;
};

void OnWorkDone(uint32_t status, wgpu::StringView, void* userdata, void*) {
  static_cast<Completion*>(userdata)->status = status;
}

// Pool size classes: 256 bytes, then powers of two and the midpoints between them.
uint64_t BucketSize(uint64_t bytes) {
  uint64_t size = 256;
  while (size < bytes) {
    const uint64_t middle = size + size / 2;
    if (middle >= bytes) return middle;
    size *= 2;
  }
  return size;
}

constexpr uint64_t kMaxPooledBytes = 512ull << 20;

}  // namespace

DtStatus* Context::Get(const DtHostApi* host, int32_t index, std::shared_ptr<Context>* out) {
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  if (registry.contexts.size() <= static_cast<size_t>(index)) {
    registry.contexts.resize(static_cast<size_t>(index) + 1);
  }
  std::shared_ptr<Context> context = registry.contexts[static_cast<size_t>(index)].lock();
  if (context != nullptr && !context->lost_.load()) {
    *out = std::move(context);
    return nullptr;
  }
  std::shared_ptr<Context> created(new Context());
  created->host_ = host;
  DT_RETURN_IF_ERROR(created->Create(index));
  registry.contexts[static_cast<size_t>(index)] = created;
  *out = std::move(created);
  return nullptr;
}

void Context::ForgetHostMemory(const void* storage) {
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  for (const auto& weak : registry.contexts) {
    if (std::shared_ptr<Context> context = weak.lock()) context->host_imports_.Forget(storage);
  }
}

DtStatus* Context::Create(int32_t index) {
  std::string why;
  runtime_ = GetRuntime(&why);
  if (runtime_ == nullptr) return host_->CreateStatus(DT_NOT_FOUND, why.c_str());
  if (index < 0 || static_cast<size_t>(index) >= runtime_->adapters.size()) {
    return host_->CreateStatus(DT_NOT_FOUND, "no WebGPU adapter with that index");
  }
  index_ = index;
  adapter_ = &runtime_->adapters[static_cast<size_t>(index)];
  const wgpu::Api& api = runtime_->api;

  // Host imports need the host-mapped-pointer feature, which Dawn lists only behind its
  // allow_unsafe_apis toggle; a device without it is asked for when the runtime refuses.
  // DEVTENSOR_WEBGPU_HOST_IMPORT=0 turns imports off.
  const char* import_setting = std::getenv("DEVTENSOR_WEBGPU_HOST_IMPORT");
  const bool want_import = import_setting == nullptr || std::strcmp(import_setting, "0") != 0;
  DeviceRequest request;
  for (const bool with_import : {true, false}) {
    if (with_import && !want_import) continue;
    std::vector<uint32_t> features;
    if (adapter_->has_shader_f16) features.push_back(wgpu::feature::kShaderF16);
    if (adapter_->has_timestamp_query) features.push_back(wgpu::feature::kTimestampQuery);
    if (with_import) features.push_back(wgpu::feature::kHostMappedPointer);
    const char* const toggles[] = {"allow_unsafe_apis"};
    wgpu::DawnTogglesDescriptor toggle{{nullptr, wgpu::stype::kDawnTogglesDescriptor}, 1, toggles,
                                       0, nullptr};
    // The adapter's own limits: without them Dawn gives the WebGPU defaults (256-byte storage
    // offsets, 128 MiB bindings, 256 MiB buffers).
    wgpu::Limits required = adapter_->limits;
    required.next_in_chain = nullptr;
    wgpu::DeviceDescriptor descriptor{};
    descriptor.next_in_chain = with_import ? &toggle.chain : nullptr;
    descriptor.label = wgpu::View("devtensor");
    descriptor.required_feature_count = features.size();
    descriptor.required_features = features.data();
    descriptor.required_limits = &required;
    descriptor.device_lost_callback_info = {nullptr, wgpu::callback_mode::kAllowSpontaneous,
                                            &OnLost, this, nullptr};
    descriptor.uncaptured_error_callback_info = {nullptr, &OnError, this, nullptr};
    request = DeviceRequest();
    wgpu::RequestDeviceCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnDevice,
                                         &request, nullptr};
    wgpu::Future future = api.AdapterRequestDevice(adapter_->adapter, &descriptor, info);
    if (WaitFor(*runtime_, future) && request.status == wgpu::kRequestSuccess &&
        request.device != nullptr) {
      can_import_host_memory_ = with_import;
      break;
    }
  }
  if (request.device == nullptr) {
    std::string message = "creating a WebGPU device on " + adapter_->name +
                          " failed: " + request.message;
    return host_->CreateStatus(DT_DEVICE_LOST, message.c_str());
  }
  const char* batch_setting = std::getenv("DEVTENSOR_WEBGPU_BATCH");
  batching_ = batch_setting == nullptr || std::strcmp(batch_setting, "0") != 0;
  device_ = request.device;
  queue_ = api.DeviceGetQueue(device_);
  wgpu::LimitsOut limits{};
  api.DeviceGetLimits(device_, &limits.limits);
  limits_ = limits.limits;
  return nullptr;
}

Context::~Context() {
  if (device_ == nullptr) return;
  const wgpu::Api& a = runtime_->api;
  releasing_.store(true);
  parameters_.Release();
  host_imports_.Release(a);
  for (wgpu::ComputePipeline& pipeline : copy_pipeline_) {
    if (pipeline != nullptr) a.ComputePipelineRelease(pipeline);
  }
  for (auto& [key, kernel] : kernels_) a.BindGroupLayoutRelease(kernel.layout);
  for (auto& [code, pipeline] : pipelines_) {
    if (pipeline != nullptr) a.ComputePipelineRelease(pipeline);
  }
  if (error_flags_ != nullptr) {
    a.BufferDestroy(error_flags_);
    a.BufferRelease(error_flags_);
  }
  for (auto& [key, buffers] : pool_) {
    for (wgpu::Buffer buffer : buffers) {
      a.BufferDestroy(buffer);
      a.BufferRelease(buffer);
    }
  }
  a.QueueRelease(queue_);
  a.DeviceRelease(device_);  // the loss callback fires (reason Destroyed) and is ignored
}

void Context::OnLost(const wgpu::Device*, uint32_t reason, wgpu::StringView message, void* self,
                     void*) {
  auto* context = static_cast<Context*>(self);
  if (context->releasing_.load() || reason == wgpu::kLostCallbackCancelled) return;
  try {
    std::lock_guard<std::mutex> lock(context->errors_mutex_);
    context->lost_message_ = wgpu::Text(message);
  } catch (...) {
  }
  context->lost_.store(true);
}

void Context::OnError(const wgpu::Device*, uint32_t type, wgpu::StringView message, void* self,
                      void*) {
  auto* context = static_cast<Context*>(self);
  try {
    std::lock_guard<std::mutex> lock(context->errors_mutex_);
    ++context->error_count_;
    context->error_type_ = std::max(context->error_type_, type);
    if (context->errors_.size() < 4096) {
      if (!context->errors_.empty()) context->errors_ += "; ";
      context->errors_ += wgpu::Text(message);
    }
  } catch (...) {
  }
}

DtStatus* Context::CheckAlive() const {
  if (!lost_.load()) return nullptr;
  std::string message;
  {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(errors_mutex_));
    message = "the WebGPU device on " + adapter_->name + " was lost: " + lost_message_ +
              "; create a new env to get a new device";
  }
  return host_->CreateStatus(DT_DEVICE_LOST, message.c_str());
}

std::string Context::TakeErrorText() {
  std::lock_guard<std::mutex> lock(errors_mutex_);
  std::string errors;
  errors.swap(errors_);
  error_type_ = 0;
  return errors;
}

DtStatus* Context::TakeErrors() {
  if (DtStatus* lost = CheckAlive()) return lost;
  uint32_t type = 0;
  {
    std::lock_guard<std::mutex> lock(errors_mutex_);
    type = error_type_;
  }
  std::string errors = TakeErrorText();
  if (errors.empty()) return nullptr;
  DtErrorCode code = DT_INTERNAL;
  if (type == wgpu::kErrorValidation) code = DT_INVALID_ARGUMENT;
  if (type == wgpu::kErrorOutOfMemory) code = DT_OUT_OF_MEMORY;
  errors = "WebGPU reported: " + errors;
  return host_->CreateStatus(code, errors.c_str());
}

DtStatus* Context::Wait(wgpu::Future future, const char* what) {
  if (!WaitFor(*runtime_, future)) {
    if (DtStatus* lost = CheckAlive()) return lost;
    std::string message = std::string("waiting for ") + what + " on " + adapter_->name + " failed";
    return host_->CreateStatus(DT_DEVICE_LOST, message.c_str());
  }
  return CheckAlive();
}

void Context::Submit(wgpu::CommandEncoder encoder) {
  const wgpu::Api& a = api();
  parameters_.Flush();
  wgpu::CommandBuffer commands = a.CommandEncoderFinish(encoder, nullptr);
  a.QueueSubmit(queue_, 1, &commands);
  a.CommandBufferRelease(commands);
  a.CommandEncoderRelease(encoder);
}

DtStatus* Context::WaitIdle() {
  DT_RETURN_IF_ERROR(WaitQueue());
  return TakeErrors();
}

DtStatus* Context::WaitQueue() {
  Completion done;
  wgpu::QueueWorkDoneCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnWorkDone,
                                       &done, nullptr};
  DT_RETURN_IF_ERROR(Wait(api().QueueOnSubmittedWorkDone(queue_, info), "queued work"));
  if (done.status != wgpu::kRequestSuccess) {
    return host_->CreateStatus(DT_DEVICE_LOST, "the WebGPU queue did not finish its work");
  }
  return nullptr;
}

DtStatus* Context::TakeBuffer(uint64_t bytes, wgpu::Flags usage, wgpu::Buffer* buffer,
                              uint64_t* capacity) {
  const uint64_t size = BucketSize(bytes);
  if (InjectedFailureDue()) {
    const std::string message = "a buffer of " + std::to_string(bytes) +
                                " bytes could not be made (failure injected by a test)";
    return host_->CreateStatus(DT_OUT_OF_MEMORY, message.c_str());
  }
  auto it = pool_.find({usage, size});
  if (it != pool_.end() && !it->second.empty()) {
    *buffer = it->second.back();
    it->second.pop_back();
    pooled_bytes_ -= size;
    *capacity = size;
    return nullptr;
  }
  if (size > limits_.max_buffer_size) {
    std::string message = "a buffer of " + std::to_string(bytes) + " bytes exceeds the largest " +
                          "buffer of " + adapter_->name + ", " +
                          std::to_string(limits_.max_buffer_size) + " bytes";
    return host_->CreateStatus(DT_OUT_OF_MEMORY, message.c_str());
  }
  wgpu::BufferDescriptor descriptor{};
  descriptor.usage = usage;
  descriptor.size = size;
  *buffer = api().DeviceCreateBuffer(device_, &descriptor);
  if (DtStatus* status = TakeErrors()) {
    if (*buffer != nullptr) api().BufferRelease(*buffer);
    *buffer = nullptr;
    return status;
  }
  if (*buffer == nullptr) return host_->CreateStatus(DT_OUT_OF_MEMORY, "buffer creation failed");
  *capacity = size;
  return nullptr;
}

void Context::Recycle(wgpu::Buffer buffer, uint64_t capacity, wgpu::Flags usage) {
  if (pooled_bytes_ + capacity > kMaxPooledBytes || lost_.load()) {
    api().BufferDestroy(buffer);
    api().BufferRelease(buffer);
    return;
  }
  pool_[{usage, capacity}].push_back(buffer);
  pooled_bytes_ += capacity;
}

wgpu::ComputePipeline Context::Pipeline(const std::string& code) {
  auto it = pipelines_.find(code);
  if (it != pipelines_.end()) return it->second;
  const wgpu::Api& a = api();
  // Errors already reported belong to earlier work: only those raised here say the shader failed.
  size_t reported = 0;
  {
    std::lock_guard<std::mutex> lock(errors_mutex_);
    reported = error_count_;
  }
  wgpu::ShaderSourceWgsl source{{nullptr, wgpu::stype::kShaderSourceWgsl}, {code.data(), code.size()}};
  wgpu::ShaderModuleDescriptor module_descriptor{&source.chain, wgpu::View("devtensor op")};
  wgpu::ShaderModule module = a.DeviceCreateShaderModule(device_, &module_descriptor);
  wgpu::ComputePipelineDescriptor descriptor{};
  descriptor.label = wgpu::View("devtensor op");
  descriptor.compute.module = module;
  descriptor.compute.entry_point = wgpu::View("main");
  wgpu::ComputePipeline pipeline = a.DeviceCreateComputePipeline(device_, &descriptor);
  a.ShaderModuleRelease(module);
  {
    std::lock_guard<std::mutex> lock(errors_mutex_);
    if (error_count_ != reported) {  // a shader that does not compile yields an error object
      a.ComputePipelineRelease(pipeline);
      return nullptr;
    }
  }
  pipelines_.emplace(code, pipeline);
  return pipeline;
}

Context::Kernel Context::KernelFor(const std::string& key,
                                   const std::function<std::string()>& generate) {
  auto it = kernels_.find(key);
  if (it != kernels_.end()) {
#ifndef NDEBUG
    if (kernel_code_.at(key) != generate()) std::abort();  // the key misses something the text uses
#endif
    return it->second;
  }
  const std::string code = generate();
  Kernel kernel;
  kernel.pipeline = Pipeline(code);
  if (kernel.pipeline == nullptr) return kernel;
  kernel.layout = api().ComputePipelineGetBindGroupLayout(kernel.pipeline, 0);
  kernels_.emplace(key, kernel);
#ifndef NDEBUG
  kernel_code_.emplace(key, code);
#endif
  return kernel;
}

DtStatus* Context::ErrorFlags(wgpu::Buffer* buffer) {
  if (error_flags_ == nullptr) {
    wgpu::BufferDescriptor descriptor{};
    descriptor.usage = kTensorUsage;
    descriptor.size = 16;
    error_flags_ = api().DeviceCreateBuffer(device_, &descriptor);
    DT_RETURN_IF_ERROR(TakeErrors());
  }
  *buffer = error_flags_;
  return nullptr;
}

wgpu::ComputePipeline Context::CopyPipeline(bool same_buffer) {
  wgpu::ComputePipeline& pipeline = copy_pipeline_[same_buffer ? 1 : 0];
  if (pipeline == nullptr) pipeline = CreateCopyPipeline(*this, same_buffer);
  return pipeline;
}

}  // namespace devtensor::webgpu

// Test hook, fault injection: the next `successes` buffers any WebGPU context hands out (tensor
// storage, staging, read-back, parameters) are made as usual and the one after fails with
// DT_OUT_OF_MEMORY, once; -1 turns it off. Not part of the API: tests find it with dlsym.
extern "C" DT_EXPORT void DtWebGpuDebugFailBufferAfter(int64_t successes) {
  devtensor::webgpu::g_buffers_before_failure.store(successes);
}
