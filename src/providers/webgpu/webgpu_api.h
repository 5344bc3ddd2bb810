// The part of the WebGPU C API (webgpu.h, as exported by Dawn) that devtensor uses, declared here
// for the runtime we pin: Dawn of late June 2025, shipped as libwebgpu_wrapper.so in the npm package
// bun-webgpu-linux-x64@0.1.7. Where that Dawn differs from today's standard header it is followed
// (instance descriptor, feature numbers). Layouts are asserted below; structs the runtime fills get
// spare room after them (see LimitsOut).
//
// The runtime is loaded with dlopen; WebGpuApi holds the resolved functions.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_WEBGPU_API_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_WEBGPU_API_H_

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace devtensor::wgpu {

// ---- handles ------------------------------------------------------------------------------------
using Instance = struct InstanceImpl*;
using Adapter = struct AdapterImpl*;
using Device = struct DeviceImpl*;
using Queue = struct QueueImpl*;
using Buffer = struct BufferImpl*;
using CommandEncoder = struct CommandEncoderImpl*;
using CommandBuffer = struct CommandBufferImpl*;
using ComputePassEncoder = struct ComputePassEncoderImpl*;
using ComputePipeline = struct ComputePipelineImpl*;
using ShaderModule = struct ShaderModuleImpl*;
using BindGroup = struct BindGroupImpl*;
using BindGroupLayout = struct BindGroupLayoutImpl*;
using PipelineLayout = struct PipelineLayoutImpl*;

using Bool = uint32_t;
using Flags = uint64_t;

// ---- enums (values of the pinned runtime) ---------------------------------------------------------
namespace stype {
constexpr uint32_t kShaderSourceWgsl = 0x00000002;
constexpr uint32_t kDawnTogglesDescriptor = 0x0005000A;
constexpr uint32_t kBufferHostMappedPointer = 0x00050012;
}  // namespace stype

namespace usage {
constexpr Flags kMapRead = 0x1, kMapWrite = 0x2, kCopySrc = 0x4, kCopyDst = 0x8, kUniform = 0x40,
                kStorage = 0x80;
}  // namespace usage

namespace map_mode {
constexpr Flags kRead = 0x1, kWrite = 0x2;
}

namespace feature {  // Dawn's numbering in this runtime, not today's standard one
constexpr uint32_t kTimestampQuery = 0x03;
constexpr uint32_t kShaderF16 = 0x0A;
// Buffers over host pages; Dawn offers it only on a device made with the allow_unsafe_apis toggle.
constexpr uint32_t kHostMappedPointer = 0x00050010;
}  // namespace feature

namespace backend {
constexpr uint32_t kNull = 1, kWebGpu = 2, kD3D11 = 3, kD3D12 = 4, kMetal = 5, kVulkan = 6,
                   kOpenGl = 7, kOpenGlEs = 8;
}

namespace adapter_type {
constexpr uint32_t kDiscreteGpu = 1, kIntegratedGpu = 2, kCpu = 3, kUnknown = 4;
}

namespace power {
constexpr uint32_t kUndefined = 0, kLowPower = 1, kHighPerformance = 2;
}

namespace callback_mode {
constexpr uint32_t kWaitAnyOnly = 1, kAllowProcessEvents = 2, kAllowSpontaneous = 3;
}

constexpr uint32_t kFeatureLevelCore = 2;
constexpr uint32_t kRequestSuccess = 1;  // adapter, device, map, work-done statuses all use 1
constexpr uint32_t kWaitSuccess = 1, kWaitTimedOut = 2;
constexpr uint32_t kStatusSuccess = 1;
constexpr uint32_t kErrorNone = 1, kErrorValidation = 2, kErrorOutOfMemory = 3, kErrorInternal = 4;
constexpr uint32_t kLostDestroyed = 2, kLostCallbackCancelled = 3;
constexpr uint32_t kBindingStorage = 3, kBindingReadOnlyStorage = 4, kBindingUniform = 2;
constexpr Flags kShaderStageCompute = 0x4;
constexpr uint64_t kWholeSize = UINT64_MAX;
constexpr size_t kStrlen = SIZE_MAX;
constexpr uint32_t kLimitU32Undefined = UINT32_MAX;
constexpr uint64_t kLimitU64Undefined = UINT64_MAX;

// ---- structs ------------------------------------------------------------------------------------
struct StringView {
  const char* data;
  size_t length;
};
inline StringView View(const char* text) { return {text, kStrlen}; }
inline std::string Text(StringView v) {
  if (v.data == nullptr) return {};
  return v.length == kStrlen ? std::string(v.data) : std::string(v.data, v.length);
}

struct ChainedStruct {
  ChainedStruct* next;
  uint32_t stype;
};

struct Future {
  uint64_t id;
};

struct FutureWaitInfo {
  Future future;
  Bool completed;
};

struct InstanceCapabilities {
  ChainedStruct* next_in_chain;
  Bool timed_wait_any_enable;
  size_t timed_wait_any_max_count;
};

struct InstanceDescriptor {  // this runtime's shape: capabilities, not required features
  ChainedStruct* next_in_chain;
  InstanceCapabilities capabilities;
};

struct DawnTogglesDescriptor {
  ChainedStruct chain;
  size_t enabled_count;
  const char* const* enabled;
  size_t disabled_count;
  const char* const* disabled;
};

// Chained to a BufferDescriptor: the buffer is the host pages at `pointer` (page-aligned, the
// descriptor's size a multiple of the page size); `dispose` runs when Dawn lets go of them.
struct BufferHostMappedPointer {
  ChainedStruct chain;
  void* pointer;
  void (*dispose)(void* userdata);
  void* userdata;
};

struct RequestAdapterOptions {
  ChainedStruct* next_in_chain;
  uint32_t feature_level;
  uint32_t power_preference;
  Bool force_fallback_adapter;
  uint32_t backend_type;
  void* compatible_surface;
};

using RequestAdapterCallback = void (*)(uint32_t status, Adapter adapter, StringView message,
                                        void* userdata1, void* userdata2);
struct RequestAdapterCallbackInfo {
  ChainedStruct* next_in_chain;
  uint32_t mode;
  RequestAdapterCallback callback;
  void* userdata1;
  void* userdata2;
};

struct AdapterInfo {
  ChainedStruct* next_in_chain;
  StringView vendor;
  StringView architecture;
  StringView device;
  StringView description;
  uint32_t backend_type;
  uint32_t adapter_type;
  uint32_t vendor_id;
  uint32_t device_id;
  uint32_t subgroup_min_size;
  uint32_t subgroup_max_size;
};

struct Limits {
  ChainedStruct* next_in_chain;
  uint32_t max_texture_dimension_1d;
  uint32_t max_texture_dimension_2d;
  uint32_t max_texture_dimension_3d;
  uint32_t max_texture_array_layers;
  uint32_t max_bind_groups;
  uint32_t max_bind_groups_plus_vertex_buffers;
  uint32_t max_bindings_per_bind_group;
  uint32_t max_dynamic_uniform_buffers_per_pipeline_layout;
  uint32_t max_dynamic_storage_buffers_per_pipeline_layout;
  uint32_t max_sampled_textures_per_shader_stage;
  uint32_t max_samplers_per_shader_stage;
  uint32_t max_storage_buffers_per_shader_stage;
  uint32_t max_storage_textures_per_shader_stage;
  uint32_t max_uniform_buffers_per_shader_stage;
  uint64_t max_uniform_buffer_binding_size;
  uint64_t max_storage_buffer_binding_size;
  uint32_t min_uniform_buffer_offset_alignment;
  uint32_t min_storage_buffer_offset_alignment;
  uint32_t max_vertex_buffers;
  uint64_t max_buffer_size;
  uint32_t max_vertex_attributes;
  uint32_t max_vertex_buffer_array_stride;
  uint32_t max_inter_stage_shader_variables;
  uint32_t max_color_attachments;
  uint32_t max_color_attachment_bytes_per_sample;
  uint32_t max_compute_workgroup_storage_size;
  uint32_t max_compute_invocations_per_workgroup;
  uint32_t max_compute_workgroup_size_x;
  uint32_t max_compute_workgroup_size_y;
  uint32_t max_compute_workgroup_size_z;
  uint32_t max_compute_workgroups_per_dimension;
  uint32_t max_immediate_size;
};

// What the runtime fills when asked for limits: the runtime writes 152 bytes, but builds of Dawn
// have shipped longer layouts, so a filled struct always has room to spare after it.
struct LimitsOut {
  Limits limits;
  uint8_t spare[64];
};

struct SupportedFeatures {
  size_t count;
  const uint32_t* features;
};

struct QueueDescriptor {
  ChainedStruct* next_in_chain;
  StringView label;
};

using DeviceLostCallback = void (*)(const Device* device, uint32_t reason, StringView message,
                                    void* userdata1, void* userdata2);
struct DeviceLostCallbackInfo {
  ChainedStruct* next_in_chain;
  uint32_t mode;
  DeviceLostCallback callback;
  void* userdata1;
  void* userdata2;
};

using UncapturedErrorCallback = void (*)(const Device* device, uint32_t type, StringView message,
                                         void* userdata1, void* userdata2);
struct UncapturedErrorCallbackInfo {  // no mode field
  ChainedStruct* next_in_chain;
  UncapturedErrorCallback callback;
  void* userdata1;
  void* userdata2;
};

struct DeviceDescriptor {
  ChainedStruct* next_in_chain;
  StringView label;
  size_t required_feature_count;
  const uint32_t* required_features;
  const Limits* required_limits;
  QueueDescriptor default_queue;
  DeviceLostCallbackInfo device_lost_callback_info;
  UncapturedErrorCallbackInfo uncaptured_error_callback_info;
};

using RequestDeviceCallback = void (*)(uint32_t status, Device device, StringView message,
                                       void* userdata1, void* userdata2);
struct RequestDeviceCallbackInfo {
  ChainedStruct* next_in_chain;
  uint32_t mode;
  RequestDeviceCallback callback;
  void* userdata1;
  void* userdata2;
};

struct BufferDescriptor {
  ChainedStruct* next_in_chain;
  StringView label;
  Flags usage;
  uint64_t size;
  Bool mapped_at_creation;
};

using BufferMapCallback = void (*)(uint32_t status, StringView message, void* userdata1,
                                   void* userdata2);
struct BufferMapCallbackInfo {
  ChainedStruct* next_in_chain;
  uint32_t mode;
  BufferMapCallback callback;
  void* userdata1;
  void* userdata2;
};

using QueueWorkDoneCallback = void (*)(uint32_t status, StringView message, void* userdata1,
                                       void* userdata2);
struct QueueWorkDoneCallbackInfo {
  ChainedStruct* next_in_chain;
  uint32_t mode;
  QueueWorkDoneCallback callback;
  void* userdata1;
  void* userdata2;
};

struct ShaderSourceWgsl {
  ChainedStruct chain;
  StringView code;
};

struct ShaderModuleDescriptor {
  ChainedStruct* next_in_chain;
  StringView label;
};

struct ComputeState {
  ChainedStruct* next_in_chain;
  ShaderModule module;
  StringView entry_point;
  size_t constant_count;
  const void* constants;
};

struct ComputePipelineDescriptor {
  ChainedStruct* next_in_chain;
  StringView label;
  PipelineLayout layout;  // null: layout derived from the shader
  ComputeState compute;
};

struct BindGroupEntry {
  ChainedStruct* next_in_chain;
  uint32_t binding;
  Buffer buffer;
  uint64_t offset;
  uint64_t size;
  void* sampler;
  void* texture_view;
};

struct BindGroupDescriptor {
  ChainedStruct* next_in_chain;
  StringView label;
  BindGroupLayout layout;
  size_t entry_count;
  const BindGroupEntry* entries;
};

// Layouts of the pinned runtime (x86-64), from its generated header and probes of the library.
static_assert(sizeof(StringView) == 16);
static_assert(sizeof(ChainedStruct) == 16);
static_assert(sizeof(FutureWaitInfo) == 16);
static_assert(sizeof(InstanceCapabilities) == 24);
static_assert(sizeof(InstanceDescriptor) == 32);
static_assert(sizeof(DawnTogglesDescriptor) == 48);
static_assert(sizeof(BufferHostMappedPointer) == 40);
static_assert(sizeof(RequestAdapterOptions) == 32);
static_assert(sizeof(RequestAdapterCallbackInfo) == 40);
static_assert(sizeof(AdapterInfo) == 96);
static_assert(offsetof(AdapterInfo, backend_type) == 72);
static_assert(sizeof(Limits) == 152);
static_assert(offsetof(Limits, max_storage_buffer_binding_size) == 72);
static_assert(offsetof(Limits, min_storage_buffer_offset_alignment) == 84);
static_assert(offsetof(Limits, max_buffer_size) == 96);
static_assert(offsetof(Limits, max_compute_workgroups_per_dimension) == 144);
static_assert(sizeof(SupportedFeatures) == 16);
static_assert(sizeof(DeviceLostCallbackInfo) == 40);
static_assert(sizeof(UncapturedErrorCallbackInfo) == 32);
static_assert(sizeof(DeviceDescriptor) == 144);
static_assert(offsetof(DeviceDescriptor, required_limits) == 40);
static_assert(offsetof(DeviceDescriptor, device_lost_callback_info) == 72);
static_assert(offsetof(DeviceDescriptor, uncaptured_error_callback_info) == 112);
static_assert(sizeof(RequestDeviceCallbackInfo) == 40);
static_assert(sizeof(BufferDescriptor) == 48);
static_assert(offsetof(BufferDescriptor, usage) == 24);
static_assert(sizeof(BufferMapCallbackInfo) == 40);
static_assert(sizeof(QueueWorkDoneCallbackInfo) == 40);
static_assert(sizeof(ShaderSourceWgsl) == 32);
static_assert(sizeof(ShaderModuleDescriptor) == 24);
static_assert(sizeof(ComputeState) == 48);
static_assert(sizeof(ComputePipelineDescriptor) == 80);
static_assert(sizeof(BindGroupEntry) == 56);
static_assert(offsetof(BindGroupEntry, buffer) == 16);
static_assert(sizeof(BindGroupDescriptor) == 48);

// ---- functions ------------------------------------------------------------------------------------
// Each entry: member name, exported symbol, signature. X-macro so that the table and its loader
// cannot drift apart.
#define DT_WGPU_FUNCTIONS(X)                                                                      \
  X(CreateInstance, wgpuCreateInstance, Instance (*)(const InstanceDescriptor*))                  \
  X(InstanceRequestAdapter, wgpuInstanceRequestAdapter,                                           \
    Future (*)(Instance, const RequestAdapterOptions*, RequestAdapterCallbackInfo))                \
  X(InstanceWaitAny, wgpuInstanceWaitAny, uint32_t (*)(Instance, size_t, FutureWaitInfo*, uint64_t)) \
  X(InstanceProcessEvents, wgpuInstanceProcessEvents, void (*)(Instance))                        \
  X(InstanceRelease, wgpuInstanceRelease, void (*)(Instance))                                    \
  X(AdapterGetInfo, wgpuAdapterGetInfo, uint32_t (*)(Adapter, AdapterInfo*))                     \
  X(AdapterInfoFreeMembers, wgpuAdapterInfoFreeMembers, void (*)(AdapterInfo))                   \
  X(AdapterGetLimits, wgpuAdapterGetLimits, uint32_t (*)(Adapter, Limits*))                      \
  X(AdapterHasFeature, wgpuAdapterHasFeature, Bool (*)(Adapter, uint32_t))                       \
  X(AdapterRequestDevice, wgpuAdapterRequestDevice,                                               \
    Future (*)(Adapter, const DeviceDescriptor*, RequestDeviceCallbackInfo))                       \
  X(AdapterRelease, wgpuAdapterRelease, void (*)(Adapter))                                       \
  X(DeviceGetQueue, wgpuDeviceGetQueue, Queue (*)(Device))                                       \
  X(DeviceGetLimits, wgpuDeviceGetLimits, uint32_t (*)(Device, Limits*))                         \
  X(DeviceHasFeature, wgpuDeviceHasFeature, Bool (*)(Device, uint32_t))                          \
  X(DeviceCreateBuffer, wgpuDeviceCreateBuffer, Buffer (*)(Device, const BufferDescriptor*))     \
  X(DeviceCreateCommandEncoder, wgpuDeviceCreateCommandEncoder,                                   \
    CommandEncoder (*)(Device, const void*))                                                      \
  X(DeviceCreateShaderModule, wgpuDeviceCreateShaderModule,                                       \
    ShaderModule (*)(Device, const ShaderModuleDescriptor*))                                      \
  X(DeviceCreateComputePipeline, wgpuDeviceCreateComputePipeline,                                 \
    ComputePipeline (*)(Device, const ComputePipelineDescriptor*))                                \
  X(DeviceCreateBindGroup, wgpuDeviceCreateBindGroup,                                             \
    BindGroup (*)(Device, const BindGroupDescriptor*))                                            \
  X(DeviceDestroy, wgpuDeviceDestroy, void (*)(Device))                                          \
  X(DeviceRelease, wgpuDeviceRelease, void (*)(Device))                                          \
  X(DeviceAddRef, wgpuDeviceAddRef, void (*)(Device))                                            \
  X(DeviceForceLoss, wgpuDeviceForceLoss, void (*)(Device, uint32_t, StringView))                \
  X(InstanceAddRef, wgpuInstanceAddRef, void (*)(Instance))                                      \
  X(BufferGetSize, wgpuBufferGetSize, uint64_t (*)(Buffer))                                      \
  X(BufferGetUsage, wgpuBufferGetUsage, Flags (*)(Buffer))                                       \
  X(BufferMapAsync, wgpuBufferMapAsync,                                                           \
    Future (*)(Buffer, Flags, size_t, size_t, BufferMapCallbackInfo))                              \
  X(BufferGetMappedRange, wgpuBufferGetMappedRange, void* (*)(Buffer, size_t, size_t))           \
  X(BufferGetConstMappedRange, wgpuBufferGetConstMappedRange,                                     \
    const void* (*)(Buffer, size_t, size_t))                                                       \
  X(BufferUnmap, wgpuBufferUnmap, void (*)(Buffer))                                              \
  X(BufferDestroy, wgpuBufferDestroy, void (*)(Buffer))                                          \
  X(BufferAddRef, wgpuBufferAddRef, void (*)(Buffer))                                            \
  X(BufferRelease, wgpuBufferRelease, void (*)(Buffer))                                          \
  X(QueueWriteBuffer, wgpuQueueWriteBuffer, void (*)(Queue, Buffer, uint64_t, const void*, size_t)) \
  X(QueueSubmit, wgpuQueueSubmit, void (*)(Queue, size_t, const CommandBuffer*))                 \
  X(QueueOnSubmittedWorkDone, wgpuQueueOnSubmittedWorkDone,                                       \
    Future (*)(Queue, QueueWorkDoneCallbackInfo))                                                 \
  X(QueueRelease, wgpuQueueRelease, void (*)(Queue))                                             \
  X(CommandEncoderCopyBufferToBuffer, wgpuCommandEncoderCopyBufferToBuffer,                       \
    void (*)(CommandEncoder, Buffer, uint64_t, Buffer, uint64_t, uint64_t))                       \
  X(CommandEncoderClearBuffer, wgpuCommandEncoderClearBuffer,                                     \
    void (*)(CommandEncoder, Buffer, uint64_t, uint64_t))                                         \
  X(CommandEncoderBeginComputePass, wgpuCommandEncoderBeginComputePass,                           \
    ComputePassEncoder (*)(CommandEncoder, const void*))                                          \
  X(CommandEncoderFinish, wgpuCommandEncoderFinish, CommandBuffer (*)(CommandEncoder, const void*)) \
  X(CommandEncoderRelease, wgpuCommandEncoderRelease, void (*)(CommandEncoder))                  \
  X(CommandBufferRelease, wgpuCommandBufferRelease, void (*)(CommandBuffer))                     \
  X(ComputePassEncoderSetPipeline, wgpuComputePassEncoderSetPipeline,                             \
    void (*)(ComputePassEncoder, ComputePipeline))                                                \
  X(ComputePassEncoderSetBindGroup, wgpuComputePassEncoderSetBindGroup,                           \
    void (*)(ComputePassEncoder, uint32_t, BindGroup, size_t, const uint32_t*))                   \
  X(ComputePassEncoderDispatchWorkgroups, wgpuComputePassEncoderDispatchWorkgroups,               \
    void (*)(ComputePassEncoder, uint32_t, uint32_t, uint32_t))                                   \
  X(ComputePassEncoderEnd, wgpuComputePassEncoderEnd, void (*)(ComputePassEncoder))              \
  X(ComputePassEncoderRelease, wgpuComputePassEncoderRelease, void (*)(ComputePassEncoder))      \
  X(ComputePipelineGetBindGroupLayout, wgpuComputePipelineGetBindGroupLayout,                     \
    BindGroupLayout (*)(ComputePipeline, uint32_t))                                               \
  X(ComputePipelineRelease, wgpuComputePipelineRelease, void (*)(ComputePipeline))               \
  X(ShaderModuleRelease, wgpuShaderModuleRelease, void (*)(ShaderModule))                        \
  X(BindGroupRelease, wgpuBindGroupRelease, void (*)(BindGroup))                                 \
  X(BindGroupLayoutRelease, wgpuBindGroupLayoutRelease, void (*)(BindGroupLayout))

struct Api {
#define DT_WGPU_MEMBER(name, symbol, type) std::type_identity_t<type> name = nullptr;
  DT_WGPU_FUNCTIONS(DT_WGPU_MEMBER)
#undef DT_WGPU_MEMBER
};

// Fills `api` from `library` (a dlopen handle). Returns the first symbol the library lacks, or
// null when it has them all.
inline const char* ResolveApi(void* library, Api* api) {
#define DT_WGPU_RESOLVE(name, symbol, type)                                         \
  api->name = reinterpret_cast<decltype(api->name)>(dlsym(library, #symbol));    \
  if (api->name == nullptr) return #symbol;
  DT_WGPU_FUNCTIONS(DT_WGPU_RESOLVE)
#undef DT_WGPU_RESOLVE
  return nullptr;
}

}  // namespace devtensor::wgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_WEBGPU_API_H_
