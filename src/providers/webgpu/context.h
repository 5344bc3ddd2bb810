// A WebGPU context: the device and queue of one adapter, with what every copy needs (limits,
// pipelines, buffer pools) and the errors Dawn reported. One per adapter index in the process,
// created on first use, shared by every tensor, stream and transfer that uses it (shared_ptr),
// gone when the last of them goes. After the device is lost every call fails with
// DT_DEVICE_LOST, and the next GetContext for the adapter makes a new device.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_CONTEXT_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_CONTEXT_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/host_import.h"
#include "providers/webgpu/parameter_arena.h"
#include "providers/webgpu/runtime.h"

namespace devtensor::webgpu {

struct KernelFamily;
struct Stream;

class Context {
 public:
  // The context of adapter `index`, made if there is none or the one there was lost.
  static DtStatus* Get(const DtHostApi* host, int32_t index, std::shared_ptr<Context>* out);
  ~Context();

  const wgpu::Api& api() const { return runtime_->api; }
  const Runtime& runtime() const { return *runtime_; }
  wgpu::Device device() const { return device_; }
  wgpu::Queue queue() const { return queue_; }
  const wgpu::Limits& limits() const { return limits_; }
  const AdapterRecord& adapter() const { return *adapter_; }
  const DtHostApi* host() const { return host_; }
  // Whether the device can wrap host pages as buffers (see HostImports), and the imports made.
  bool can_import_host_memory() const { return can_import_host_memory_; }
  HostImports& host_imports() { return host_imports_; }
  // Host storage `storage` is about to be freed: every live context drops its imports of it.
  static void ForgetHostMemory(const void* storage);

  // Serialises every use of the device: Dawn devices are not used from two threads at once.
  // Recursive: releasing a graph's last reference may happen while the lock is held.
  std::recursive_mutex& mutex() { return mutex_; }

  // A status for a lost device, or null while it lives.
  DtStatus* CheckAlive() const;
  // Waits for `future`; a status when the wait failed or the device was lost meanwhile.
  DtStatus* Wait(wgpu::Future future, const char* what);
  // Errors Dawn reported since the last call, as one status (null when none), or as text.
  DtStatus* TakeErrors();
  std::string TakeErrorText();
  // Where dispatches' parameters go (written before each submit).
  ParameterArena& parameters() { return parameters_; }
  // Submits `encoder`'s commands (after the parameters added since the last submit) and releases
  // the encoder.
  void Submit(wgpu::CommandEncoder encoder);
  // Waits until the queue has finished everything submitted so far (WaitIdle: and reports the
  // errors Dawn raised meanwhile).
  DtStatus* WaitQueue();
  DtStatus* WaitIdle();

  // Buffers from size-bucketed pools. A buffer goes back with Recycle once every command using it
  // was submitted; the queue's order makes reuse after that safe.
  DtStatus* TakeBuffer(uint64_t bytes, wgpu::Flags usage, wgpu::Buffer* buffer, uint64_t* capacity);
  void Recycle(wgpu::Buffer buffer, uint64_t capacity, wgpu::Flags usage);

  // The copy pipeline; `same_buffer` selects the variant that reads and writes one binding.
  wgpu::ComputePipeline CopyPipeline(bool same_buffer);
  // The pipeline of a generated WGSL shader (entry point main), compiled once; null when it
  // does not compile (the error is in TakeErrorText).
  wgpu::ComputePipeline Pipeline(const std::string& code);
  // A generated kernel found by `key`, which names everything its WGSL depends on, so that the
  // text is made (by `generate`) and hashed only the first time. Null when it does not compile.
  struct Kernel {
    wgpu::ComputePipeline pipeline = nullptr;
    wgpu::BindGroupLayout layout = nullptr;  // the pipeline's group 0
  };
  Kernel KernelFor(const std::string& key, const std::function<std::string()>& generate);
  // The op kernel families made so far, by key (see FamilyFor in op_dispatch.h).
  std::unordered_map<std::string, std::unique_ptr<KernelFamily>>& families() { return families_; }
  // Whether schedules batch independent op dispatches (DEVTENSOR_WEBGPU_BATCH=0 turns it off,
  // to compare).
  bool batching() const { return batching_; }
  // The device's error-flag words (16 bytes), made on first use.
  DtStatus* ErrorFlags(wgpu::Buffer* buffer);
  // The device's streams that are alive, so that reading the error flags can submit their queued
  // work first. Used under the mutex; a stream adds and removes itself.
  std::vector<Stream*>& streams() { return streams_; }
  // Error flags a stream's synchronisation read (and cleared) on the device that
  // DtGetDeviceErrorFlags has not reported yet. Used under the mutex.
  uint32_t& unreported_flags() { return unreported_flags_; }

  // Usage every devtensor-allocated tensor buffer has.
  static constexpr wgpu::Flags kTensorUsage =
      wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
  // The usage of an allocated tensor buffer of `bytes`: small ones may also be uniform buffers,
  // which a batch of op dispatches binds small inputs it only reads as when it runs out of
  // storage bindings (a uniform binding holds 64 KiB at most).
  static wgpu::Flags TensorUsage(uint64_t bytes) {
    return bytes <= kUniformTensorBytes ? kTensorUsage | wgpu::usage::kUniform : kTensorUsage;
  }
  static constexpr uint64_t kUniformTensorBytes = 64 * 1024;

 private:
  Context() = default;
  DtStatus* Create(int32_t index);
  static void OnLost(const wgpu::Device*, uint32_t reason, wgpu::StringView message, void* self,
                     void*);
  static void OnError(const wgpu::Device*, uint32_t type, wgpu::StringView message, void* self,
                      void*);

  const DtHostApi* host_ = nullptr;
  const Runtime* runtime_ = nullptr;
  const AdapterRecord* adapter_ = nullptr;
  int32_t index_ = 0;
  wgpu::Device device_ = nullptr;
  wgpu::Queue queue_ = nullptr;
  wgpu::Limits limits_{};
  std::recursive_mutex mutex_;

  std::atomic<bool> lost_{false};
  std::atomic<bool> releasing_{false};
  std::mutex errors_mutex_;  // guards what the callbacks record; they may run on Dawn's threads
  std::string lost_message_;
  std::string errors_;
  uint32_t error_type_ = 0;  // the most severe WGPUErrorType seen
  uint64_t error_count_ = 0;  // errors reported since the device was made

  std::map<std::pair<wgpu::Flags, uint64_t>, std::vector<wgpu::Buffer>> pool_;
  uint64_t pooled_bytes_ = 0;
  wgpu::ComputePipeline copy_pipeline_[2] = {nullptr, nullptr};
  std::unordered_map<std::string, wgpu::ComputePipeline> pipelines_;  // by WGSL text
  std::unordered_map<std::string, Kernel> kernels_;                   // by key
  std::unordered_map<std::string, std::unique_ptr<KernelFamily>> families_;
  bool batching_ = true;
#ifndef NDEBUG
  std::unordered_map<std::string, std::string> kernel_code_;  // checks that a key names one text
#endif
  wgpu::Buffer error_flags_ = nullptr;
  std::vector<Stream*> streams_;
  uint32_t unreported_flags_ = 0;
  bool can_import_host_memory_ = false;
  HostImports host_imports_;
  ParameterArena parameters_{*this};
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_CONTEXT_H_
