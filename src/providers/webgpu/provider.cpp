// The WebGPU provider library (libdevtensor_webgpu.so): devices are the WebGPU adapters Dawn finds;
// tensors are WGPUBuffers. Copies and clears are in transfer.h (planned by copy_plan.h), streams
// in stream.h, graphs in graph.h, ops in op_kernels.h.
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/return_if_error.h"
#include "devtensor/devtensor_provider.h"
#include "platform/loaded_file.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/error_flags.h"
#include "providers/webgpu/graph.h"
#include "providers/webgpu/op_kernels.h"
#include "providers/webgpu/stream.h"
#include "providers/webgpu/transfer.h"

namespace devtensor::webgpu {
namespace {

// One per DtProviderInit (one per env). Contexts are shared process-wide through Context::Get;
// this only remembers the ones this env's objects use.
struct ProviderState {
  const DtHostApi* host = nullptr;
  const Runtime* runtime = nullptr;
  DtProvider provider{};
  DtProviderFactory factory{};
  const DtProviderFactory* factories[1] = {&factory};
  std::mutex mutex;
  std::vector<std::shared_ptr<Context>> contexts;  // by device id, made on first use
};

DtStatus* Fail(const DtHostApi* host, DtErrorCode code, const std::string& message) {
  return host->CreateStatus(code, message.c_str());
}

// The context of `device_id` for this env: the same one until it is lost, then a new one.
DtStatus* ContextFor(ProviderState* state, int32_t device_id, std::shared_ptr<Context>* out) {
  std::lock_guard<std::mutex> lock(state->mutex);
  auto& slot = state->contexts[static_cast<size_t>(device_id)];
  if (slot == nullptr) {
    DT_RETURN_IF_ERROR(Context::Get(state->host, device_id, &slot));
  }
  *out = slot;
  return nullptr;
}

// The context work runs on: the stream's, or device `device_id`'s for work without a stream.
DtStatus* ContextForWork(ProviderState* state, int32_t device_id, Stream* stream,
                         std::shared_ptr<Context>* out) {
  if (stream != nullptr) {
    *out = stream->context;
    return nullptr;
  }
  return ContextFor(state, device_id, out);
}

template <typename Body>
DtStatus* Guard(const DtHostApi* host, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return host->CreateStatus(DT_OUT_OF_MEMORY, "out of host memory in the WebGPU provider");
  } catch (...) {
    return host->CreateStatus(DT_INTERNAL, "unexpected exception in the WebGPU provider");
  }
}

// ---- allocator --------------------------------------------------------------------------------

struct Allocator {
  std::shared_ptr<Context> context;
};

DtStatus* Allocate(void* self, size_t bytes, void** handle) {
  auto* allocator = static_cast<Allocator*>(self);
  Context& context = *allocator->context;
  return Guard(context.host(), [&]() -> DtStatus* {
    std::lock_guard<std::recursive_mutex> lock(context.mutex());
    DT_RETURN_IF_ERROR(context.CheckAlive());
    wgpu::Buffer buffer = nullptr;
    uint64_t capacity = 0;
    const uint64_t size = (static_cast<uint64_t>(bytes) + 3) & ~uint64_t(3);
    DT_RETURN_IF_ERROR(context.TakeBuffer(size, Context::TensorUsage(size), &buffer, &capacity));
    *handle = buffer;
    return nullptr;
  });
}

void Free(void* self, void* handle) {
  Context& context = *static_cast<Allocator*>(self)->context;
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  auto buffer = static_cast<wgpu::Buffer>(handle);
  const uint64_t size = context.api().BufferGetSize(buffer);
  context.Recycle(buffer, size, context.api().BufferGetUsage(buffer));
}

void ReleaseAllocator(void* self) { delete static_cast<Allocator*>(self); }

// ---- data transfer -----------------------------------------------------------------------------

int32_t CanCopy(void*, DtDeviceType src_type, int32_t src_id, DtDeviceType dst_type,
                int32_t dst_id) {
  const bool src_gpu = src_type == DT_DEVICE_WEBGPU, dst_gpu = dst_type == DT_DEVICE_WEBGPU;
  if (src_gpu && dst_gpu) return src_id == dst_id;
  return (src_gpu && dst_type == DT_DEVICE_CPU) || (dst_gpu && src_type == DT_DEVICE_CPU);
}

int32_t GpuDeviceOf(const DtCopyPair& pair) {
  return pair.src->device_type == DT_DEVICE_WEBGPU ? pair.src->device_id : pair.dst->device_id;
}

// Calls `batch(pairs, count)` for each run of consecutive pairs on one GPU device (and, when
// `by_stream`, on one stream): each run is one batch. Stops at the first error.
template <typename Batch>
DtStatus* ForEachRun(const DtCopyPair* pairs, size_t count, bool by_stream, Batch&& batch) {
  size_t begin = 0;
  while (begin < count) {
    size_t end = begin + 1;
    const int32_t device = GpuDeviceOf(pairs[begin]);
    while (end < count && GpuDeviceOf(pairs[end]) == device &&
           (!by_stream || pairs[end].stream == pairs[begin].stream)) {
      ++end;
    }
    DT_RETURN_IF_ERROR(batch(pairs + begin, end - begin));
    begin = end;
  }
  return nullptr;
}

DtStatus* CopyTensors(void* self, const DtCopyPair* pairs, size_t count) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    return ForEachRun(pairs, count, true, [&](const DtCopyPair* run, size_t n) -> DtStatus* {
      auto* stream = static_cast<Stream*>(run->stream);
      std::shared_ptr<Context> context;
      DT_RETURN_IF_ERROR(ContextForWork(state, GpuDeviceOf(*run), stream, &context));
      return CopyBatch(*context, run, n, stream);
    });
  });
}

DtStatus* CheckCopies(void* self, const DtCopyPair* pairs, size_t count) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    return ForEachRun(pairs, count, false, [&](const DtCopyPair* run, size_t n) -> DtStatus* {
      std::shared_ptr<Context> context;
      DT_RETURN_IF_ERROR(ContextFor(state, GpuDeviceOf(*run), &context));
      return CheckBatch(*context, run, n);
    });
  });
}

DtStatus* ZeroTensor(void* self, const DtTensorRef* tensor, void* stream_handle) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    auto* stream = static_cast<Stream*>(stream_handle);
    std::shared_ptr<Context> context;
    DT_RETURN_IF_ERROR(ContextForWork(state, tensor->device_id, stream, &context));
    return ZeroView(*context, *tensor, stream);
  });
}

// Called for every CPU storage freed: storages too small to hold an import return at once.
void ForgetHostMemory(void*, void* handle, size_t bytes) {
  if (bytes >= HostImports::kMinBytes) Context::ForgetHostMemory(handle);
}

void ReleaseNothing(void*) {}

// ---- factory -----------------------------------------------------------------------------------

DtStatus* GetDeviceCount(void* self, int32_t* count) {
  *count = static_cast<int32_t>(static_cast<ProviderState*>(self)->runtime->adapters.size());
  return nullptr;
}

DtStatus* GetDeviceInfo(void* self, int32_t device_id, DtDeviceInfo* info) {
  const AdapterRecord& adapter =
      static_cast<ProviderState*>(self)->runtime->adapters[static_cast<size_t>(device_id)];
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, name)) {
    std::snprintf(info->name, sizeof info->name, "%s", adapter.name.c_str());
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, is_addressable)) info->is_addressable = 0;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, has_streams)) info->has_streams = 1;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, max_allocation_bytes)) {
    info->max_allocation_bytes = adapter.limits.max_buffer_size & ~uint64_t(3);
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, offset_alignment)) info->offset_alignment = 4;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, runs_on_cpu)) {
    info->runs_on_cpu = adapter.adapter_type == wgpu::adapter_type::kCpu ? 1 : 0;
  }
  return nullptr;
}

DtStatus* CreateAllocator(void* self, int32_t device_id, DtAllocator* allocator) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    auto created = std::make_unique<Allocator>();
    DT_RETURN_IF_ERROR(ContextFor(state, device_id, &created->context));
    allocator->state = created.release();
    allocator->Allocate = &Allocate;
    allocator->Free = &Free;
    allocator->Release = &ReleaseAllocator;
    return nullptr;
  });
}

DtStatus* CreateDataTransfer(void* self, DtDataTransfer* transfer) {
  transfer->state = self;
  transfer->CanCopy = &CanCopy;
  transfer->CopyTensors = &CopyTensors;
  transfer->Release = &ReleaseNothing;
  if (DT_STRUCT_HAS_FIELD(transfer, DtDataTransfer, ZeroTensor)) transfer->ZeroTensor = &ZeroTensor;
  if (DT_STRUCT_HAS_FIELD(transfer, DtDataTransfer, ForgetHostMemory)) {
    transfer->ForgetHostMemory = &ForgetHostMemory;
  }
  if (DT_STRUCT_HAS_FIELD(transfer, DtDataTransfer, CheckCopies)) {
    transfer->CheckCopies = &CheckCopies;
  }
  return nullptr;
}

DtStatus* AcquireExternalBuffer(void* self, int32_t device_id, void* handle, size_t bytes) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    std::shared_ptr<Context> context;
    DT_RETURN_IF_ERROR(ContextFor(state, device_id, &context));
    std::lock_guard<std::recursive_mutex> lock(context->mutex());
    const wgpu::Api& api = context->api();
    auto buffer = static_cast<wgpu::Buffer>(handle);
    const uint64_t size = api.BufferGetSize(buffer);
    if (bytes > size) {
      return Fail(state->host, DT_OUT_OF_RANGE,
                  "data_bytes " + std::to_string(bytes) + " exceeds the WGPUBuffer's " +
                      std::to_string(size) + " bytes");
    }
    const wgpu::Flags usage = api.BufferGetUsage(buffer);
    const wgpu::Flags needed = wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
    if ((usage & needed) != needed) {
      char text[160];
      std::snprintf(text, sizeof text,
                    "the WGPUBuffer's usage 0x%llx lacks CopySrc (0x4) and CopyDst (0x8), "
                    "which copies need",
                    static_cast<unsigned long long>(usage));
      return Fail(state->host, DT_INVALID_ARGUMENT, text);
    }
    // An empty clear of the buffer on this device's queue: Dawn rejects a buffer of another
    // device or a destroyed one, and nothing is written either way.
    wgpu::CommandEncoder encoder = api.DeviceCreateCommandEncoder(context->device(), nullptr);
    api.CommandEncoderClearBuffer(encoder, buffer, 0, 0);
    context->Submit(encoder);
    DT_RETURN_IF_ERROR(context->WaitQueue());
    const std::string errors = context->TakeErrorText();
    if (!errors.empty()) {
      return Fail(state->host, DT_INVALID_ARGUMENT,
                  "data is not a usable WGPUBuffer of this device (another device's, or "
                  "destroyed): " + errors);
    }
    api.BufferAddRef(buffer);  // the tensor holds its own reference
    return nullptr;
  });
}

void ReleaseExternalBuffer(void* self, int32_t device_id, void* handle) {
  auto* state = static_cast<ProviderState*>(self);
  std::shared_ptr<Context> context;
  if (DtStatus* s = ContextFor(state, device_id, &context)) {
    state->host->ReleaseStatus(s);
    return;
  }
  context->api().BufferRelease(static_cast<wgpu::Buffer>(handle));
}

DtStatus* CreateStream(void* self, int32_t device_id, void** stream) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    std::shared_ptr<Context> context;
    DT_RETURN_IF_ERROR(ContextFor(state, device_id, &context));
    DT_RETURN_IF_ERROR(context->CheckAlive());
    *stream = new Stream(std::move(context));
    return nullptr;
  });
}

DtStatus* SynchronizeStreamEntry(void* self, void* stream) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&] { return SynchronizeStream(*static_cast<Stream*>(stream)); });
}

void ReleaseStream(void*, void* stream) { delete static_cast<Stream*>(stream); }

// ---- ops --------------------------------------------------------------------------------------

DtStatus* RunOp(void* self, const DtOpCall* call, void* stream_handle) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    auto* stream = static_cast<Stream*>(stream_handle);
    std::shared_ptr<Context> context;
    DT_RETURN_IF_ERROR(ContextForWork(state, call->device_id, stream, &context));
    std::lock_guard<std::recursive_mutex> lock(context->mutex());
    DT_RETURN_IF_ERROR(context->CheckAlive());
    if (stream != nullptr && stream->recording == nullptr) {
      DtStatus* status = QueueOnStream(
          *context, *stream, [&](CommandList& list) { return RecordOp(*context, list, *call); });
      if (status == nullptr) NoteFlagRaisingOp(stream, call->op);
      return status;
    }
    auto list = std::make_unique<CommandList>(*context);
    DT_RETURN_IF_ERROR(RecordOp(*context, *list, *call));
    NoteFlagRaisingOp(stream, call->op);
    return Execute(*context, std::move(list), nullptr, stream);
  });
}

DtStatus* ReadErrorFlagsEntry(void* self, int32_t device_id, uint32_t* flags) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    std::shared_ptr<Context> context;
    DT_RETURN_IF_ERROR(ContextFor(state, device_id, &context));
    std::lock_guard<std::recursive_mutex> lock(context->mutex());
    DT_RETURN_IF_ERROR(context->CheckAlive());
    return TakeDeviceErrorFlags(*context, flags);
  });
}

// ---- graphs ------------------------------------------------------------------------------------

DtStatus* BeginCapture(void* self, void* handle) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    auto* stream = static_cast<Stream*>(handle);
    std::lock_guard<std::recursive_mutex> lock(stream->context->mutex());
    DT_RETURN_IF_ERROR(stream->context->CheckAlive());
    stream->recording = std::make_unique<Graph>();
    stream->recording->context = stream->context;
    return nullptr;
  });
}

DtStatus* EndCapture(void* self, void* handle, void** graph) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    auto* stream = static_cast<Stream*>(handle);
    std::lock_guard<std::recursive_mutex> lock(stream->context->mutex());
    std::unique_ptr<Graph> recorded;
    DT_RETURN_IF_ERROR(EndRecording(*stream, &recorded));
    *graph = recorded.release();
    return nullptr;
  });
}

DtStatus* ReplayGraphEntry(void* self, void* graph, void* handle) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    auto* stream = static_cast<Stream*>(handle);
    auto* recorded = static_cast<Graph*>(graph);
    if (recorded->context != stream->context) {
      return Fail(state->host, DT_INVALID_ARGUMENT,
                  "the graph was recorded on another WebGPU device than the stream's");
    }
    return Replay(*recorded, *stream);
  });
}

void ReleaseGraph(void*, void* graph) { delete static_cast<Graph*>(graph); }

DtStatus* GetNativeHandle(void* self, int32_t device_id, const char* name, void** handle) {
  auto* state = static_cast<ProviderState*>(self);
  return Guard(state->host, [&]() -> DtStatus* {
    const std::string wanted = name;
    if (wanted == "WGPUInstance") {
      *handle = state->runtime->instance;
      return nullptr;
    }
    if (wanted == "WGPUAdapter") {
      *handle = state->runtime->adapters[static_cast<size_t>(device_id)].adapter;
      return nullptr;
    }
    std::shared_ptr<Context> context;
    if (wanted == "WGPUDevice" || wanted == "WGPUQueue") {
      DT_RETURN_IF_ERROR(ContextFor(state, device_id, &context));
      *handle = wanted == "WGPUDevice" ? static_cast<void*>(context->device())
                                       : static_cast<void*>(context->queue());
      return nullptr;
    }
    return Fail(state->host, DT_NOT_FOUND,
                "WebGPU devices have no native handle '" + wanted +
                    "'; known: WGPUInstance, WGPUAdapter, WGPUDevice, WGPUQueue");
  });
}

void ReleaseProvider(void* self) { delete static_cast<ProviderState*>(self); }

// Keeps this library mapped for the life of the process once it has touched Dawn: Dawn holds
// pointers to its callbacks, and the runtime it loaded is never unloaded either.
void PinThisLibrary() { KeepLoadedFileMapped(reinterpret_cast<const void*>(&PinThisLibrary)); }

}  // namespace
}  // namespace devtensor::webgpu

using namespace devtensor::webgpu;

extern "C" DT_EXPORT DtStatus* DtProviderInit(const DtHostApi* host, const DtProvider** provider) {
  if (host == nullptr) return nullptr;  // the host then reports that no provider came back
  if (host->abi_major != DT_PROVIDER_ABI_MAJOR || !DT_STRUCT_HAS_FIELD(host, DtHostApi, ReleaseStatus)) {
    return host->CreateStatus(DT_NOT_SUPPORTED,
                              "the WebGPU provider needs a host of provider ABI 1 with ReleaseStatus");
  }
  return Guard(host, [&]() -> DtStatus* {
    std::string why;
    const Runtime* runtime = GetRuntime(&why);
    if (runtime == nullptr) return host->CreateStatus(DT_NOT_FOUND, why.c_str());
    PinThisLibrary();
    if (runtime->adapters.empty()) {
      return Fail(host, DT_NOT_FOUND,
                  "the WebGPU runtime " + runtime->library_path +
                      " found no usable adapter on Vulkan (Dawn's Null backend is never used): "
                      "install a Vulkan driver (Mesa's lavapipe 25 from bookworm-backports on a "
                      "machine without a GPU) or point VK_DRIVER_FILES at the GPU's ICD");
    }
    auto state = std::make_unique<ProviderState>();
    state->host = host;
    state->runtime = runtime;
    state->contexts.resize(runtime->adapters.size());
    DtProviderFactory& f = state->factory;
    f.struct_size = sizeof(DtProviderFactory);
    f.state = state.get();
    f.device_type = DT_DEVICE_WEBGPU;
    f.GetDeviceCount = &GetDeviceCount;
    f.GetDeviceInfo = &GetDeviceInfo;
    f.CreateAllocator = &CreateAllocator;
    f.CreateDataTransfer = &CreateDataTransfer;
    f.Release = &ReleaseNothing;
    f.AcquireExternalBuffer = &AcquireExternalBuffer;
    f.ReleaseExternalBuffer = &ReleaseExternalBuffer;
    f.CreateStream = &CreateStream;
    f.SynchronizeStream = &SynchronizeStreamEntry;
    f.ReleaseStream = &ReleaseStream;
    f.GetNativeHandle = &GetNativeHandle;
    f.BeginCapture = &BeginCapture;
    f.EndCapture = &EndCapture;
    f.ReplayGraph = &ReplayGraphEntry;
    f.ReleaseGraph = &ReleaseGraph;
    f.RunOp = &RunOp;
    f.ReadErrorFlags = &ReadErrorFlagsEntry;
    f.op_support = kWebGpuOpSupport;
    f.op_support_count = kWebGpuOpSupportCount;
    DtProvider& p = state->provider;
    p.struct_size = sizeof(DtProvider);
    p.abi_major = DT_PROVIDER_ABI_MAJOR;
    p.abi_minor = DT_PROVIDER_ABI_MINOR;
    p.state = state.get();
    p.Release = &ReleaseProvider;
    p.name = "webgpu";
    p.factory_count = 1;
    p.version = DT_VERSION_STRING;
    p.factories = state->factories;
    *provider = &state.release()->provider;
    return nullptr;
  });
}
