// The CUDA provider library (libdevtensor_cuda.so): devices are the CUDA devices the NVIDIA
// driver finds (ordinal = device id); tensors are device pointers of their primary contexts. The
// driver and NVRTC are found at run time (driver.h, kernel_compiler.h), so the library builds without CUDA
// and loads anywhere. Copies are in transfer.h, ops in op_kernels.h, streams in stream.h, graphs
// in graph.h.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "common/return_if_error.h"
#include "devtensor/devtensor_provider.h"
#include "platform/loaded_file.h"
#include "providers/cuda/device.h"
#include "providers/cuda/driver.h"
#include "providers/cuda/errors.h"
#include "providers/cuda/graph.h"
#include "providers/cuda/host_registry.h"
#include "providers/cuda/kernel_compiler.h"
#include "providers/cuda/op_kernels.h"
#include "providers/cuda/stream.h"
#include "providers/cuda/transfer.h"

namespace devtensor::cuda {
namespace {

// One per DtProviderInit (one per env); the devices are shared by the process.
struct ProviderState {
  const Driver* driver = nullptr;
  const Nvrtc* nvrtc = nullptr;
  DtProvider provider{};
  DtProviderFactory factory{};
  const DtProviderFactory* factories[1] = {&factory};
};

const Driver* g_driver = nullptr;  // set by the first DtProviderInit that found a device
const Nvrtc* g_nvrtc = nullptr;

template <typename Body>
DtStatus* Guard(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(DT_OUT_OF_MEMORY, "out of host memory in the CUDA provider");
  } catch (...) {
    return Fail(DT_INTERNAL, "unexpected exception in the CUDA provider");
  }
}

DtStatus* GetDevice(int32_t id, Device** device) {
  return Device::Get(*g_driver, *g_nvrtc, id, device);
}

// For pairs between devices: the devices exist (their tensors do).
Device* DeviceOrNull(int32_t id) {
  Device* device = nullptr;
  if (DtStatus* status = GetDevice(id, &device)) {
    Host()->ReleaseStatus(status);
    return nullptr;
  }
  return device;
}

std::string PointerText(const void* pointer) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", pointer);
  return text;
}

// ---- allocator --------------------------------------------------------------------------------

DtStatus* Allocate(void* self, size_t bytes, void** handle) {
  return Guard([&]() -> DtStatus* {
    CUdeviceptr pointer = 0;
    DT_RETURN_IF_ERROR(static_cast<Device*>(self)->Allocate(bytes, &pointer));
    *handle = reinterpret_cast<void*>(pointer);
    return nullptr;
  });
}

void Free(void* self, void* handle) {
  static_cast<Device*>(self)->Free(reinterpret_cast<CUdeviceptr>(handle));
}

void ReleaseNothing(void*) {}

// ---- data transfer -----------------------------------------------------------------------------

int32_t CanCopy(void*, DtDeviceType src_type, int32_t, DtDeviceType dst_type, int32_t) {
  const bool src_cuda = src_type == DT_DEVICE_CUDA, dst_cuda = dst_type == DT_DEVICE_CUDA;
  return (src_cuda && dst_cuda) || (src_cuda && dst_type == DT_DEVICE_CPU) ||
         (dst_cuda && src_type == DT_DEVICE_CPU);
}

DtStatus* CopyTensors(void*, const DtCopyPair* pairs, size_t count) {
  return Guard([&]() -> DtStatus* {
    // Each run of pairs on one device and one stream is one batch.
    size_t begin = 0;
    while (begin < count) {
      auto* stream = static_cast<Stream*>(pairs[begin].stream);
      const int32_t id = CudaDeviceOf(pairs[begin]);
      size_t end = begin + 1;
      while (end < count && pairs[end].stream == stream && CudaDeviceOf(pairs[end]) == id) ++end;
      Device* device = stream != nullptr ? stream->device : nullptr;
      if (device == nullptr) DT_RETURN_IF_ERROR(GetDevice(id, &device));
      WorkStream work(*device, stream);
      DT_RETURN_IF_ERROR(CopyBatch(work, &DeviceOrNull, pairs + begin, end - begin));
      DT_RETURN_IF_ERROR(work.Finish());
      begin = end;
    }
    return nullptr;
  });
}

DtStatus* ZeroTensor(void*, const DtTensorRef* tensor, void* stream_handle) {
  return Guard([&]() -> DtStatus* {
    auto* stream = static_cast<Stream*>(stream_handle);
    Device* device = stream != nullptr ? stream->device : nullptr;
    if (device == nullptr) DT_RETURN_IF_ERROR(GetDevice(tensor->device_id, &device));
    WorkStream work(*device, stream);
    DT_RETURN_IF_ERROR(ZeroView(work, *tensor));
    return work.Finish();
  });
}

// ---- factory -----------------------------------------------------------------------------------

DtStatus* GetDeviceCount(void* self, int32_t* count) {
  *count = static_cast<ProviderState*>(self)->driver->device_count;
  return nullptr;
}

DtStatus* GetDeviceInfo(void* self, int32_t device_id, DtDeviceInfo* info) {
  const DriverApi& api = static_cast<ProviderState*>(self)->driver->api;
  CUdevice device = 0;
  char name[256] = {};
  size_t bytes = 0;
  DT_CUDA_RETURN_IF_ERROR("describing a CUDA device", api, cuDeviceGet, &device, device_id);
  DT_CUDA_RETURN_IF_ERROR("describing a CUDA device", api, cuDeviceGetName, name,
                          int(sizeof name - 1), device);
  DT_CUDA_RETURN_IF_ERROR("describing a CUDA device", api, cuDeviceTotalMem, &bytes, device);
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, name)) {
    std::snprintf(info->name, sizeof info->name, "%.127s", name);
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, is_addressable)) info->is_addressable = 1;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, has_streams)) info->has_streams = 1;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, memory_bytes)) info->memory_bytes = bytes;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, max_allocation_bytes)) {
    info->max_allocation_bytes = bytes;
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, offset_alignment)) info->offset_alignment = 1;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, runs_on_cpu)) info->runs_on_cpu = 0;
  return nullptr;
}

DtStatus* CreateAllocator(void*, int32_t device_id, DtAllocator* allocator) {
  return Guard([&]() -> DtStatus* {
    Device* device = nullptr;
    DT_RETURN_IF_ERROR(GetDevice(device_id, &device));
    allocator->state = device;
    allocator->Allocate = &Allocate;
    allocator->Free = &Free;
    allocator->Release = &ReleaseNothing;
    return nullptr;
  });
}

void ForgetHostMemory(void*, void* handle, size_t bytes) {
  if (bytes < HostRegistry::kMinBytes) return;  // never registered
  try {
    HostRegistry::Get().Forget(handle);
  } catch (...) {  // nothing crosses the ABI; the pages then stay registered until exit
  }
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
  return nullptr;
}

// A pointer the application owns must be device memory of this device, and the bytes the caller
// names must lie inside its one allocation.
DtStatus* AcquireExternalBuffer(void*, int32_t device_id, void* handle, size_t bytes) {
  return Guard([&]() -> DtStatus* {
    Device* device = nullptr;
    DT_RETURN_IF_ERROR(GetDevice(device_id, &device));
    const DriverApi& api = device->api();
    ScopedContext current(*device);
    const auto pointer = reinterpret_cast<CUdeviceptr>(handle);
    const std::string data = "data " + PointerText(handle);
    unsigned type = 0;
    if (api.cuPointerGetAttribute(&type, kPointerMemoryType, pointer) != kCudaSuccess) {
      return Fail(DT_INVALID_ARGUMENT,
                  data + " is not CUDA memory: the CUDA driver does not know it (pageable host "
                         "memory, or memory already freed); wrap host memory on the CPU device");
    }
    if (type == kMemoryTypeHost) {
      return Fail(DT_INVALID_ARGUMENT,
                  data + " is pinned host memory, not device memory; wrap it on the CPU device");
    }
    int ordinal = -1;
    if (api.cuPointerGetAttribute(&ordinal, kPointerDeviceOrdinal, pointer) == kCudaSuccess &&
        ordinal != device_id) {
      return Fail(DT_INVALID_ARGUMENT, data + " is memory of CUDA device " +
                                           std::to_string(ordinal) + ", not of CUDA device " +
                                           std::to_string(device_id));
    }
    CUdeviceptr base = 0;
    size_t size = 0;
    if (CUresult r = api.cuMemGetAddressRange(&base, &size, pointer); r != kCudaSuccess) {
      return Fail(DT_INVALID_ARGUMENT,
                  data + " is not inside a CUDA allocation (" +
                      device->driver().ErrorText("cuMemGetAddressRange", r) + ")");
    }
    const size_t available = size_t(base + size - pointer);
    if (bytes > available) {
      return Fail(DT_INVALID_ARGUMENT,
                  data + " with data_bytes " + std::to_string(bytes) +
                      " goes past the end of its CUDA allocation of " + std::to_string(size) +
                      " bytes at " + PointerText(reinterpret_cast<void*>(base)) + ": only " +
                      std::to_string(available) + " bytes follow the pointer");
    }
    return nullptr;
  });
}

void ReleaseExternalBuffer(void*, int32_t, void*) {}

DtStatus* CreateStream(void*, int32_t device_id, void** stream) {
  return Guard([&]() -> DtStatus* {
    auto created = std::make_unique<Stream>();
    DT_RETURN_IF_ERROR(GetDevice(device_id, &created->device));
    ScopedContext current(*created->device);
    DT_CUDA_RETURN_IF_ERROR("creating a CUDA stream", created->device->api(), cuStreamCreate,
                            &created->handle, kStreamNonBlocking);
    RegisterStream(created.get());
    *stream = created.release();
    return nullptr;
  });
}

DtStatus* SynchronizeStreamEntry(void*, void* stream) {
  return Guard([&] { return SynchronizeStream(*static_cast<Stream*>(stream)); });
}

void ReleaseStream(void*, void* handle) {
  auto* stream = static_cast<Stream*>(handle);
  ForgetStream(stream);
  {
    WorkStream work(*stream->device, stream);
    // The held calls still run (the tensors they use are held until now); an error there has
    // no caller to go to.
    if (work.recording() == nullptr) {
      if (DtStatus* status = FlushHeldCalls(work)) Host()->ReleaseStatus(status);
    }
    stream->held.clear();
    work.ReleaseHeldTemporaries();
    stream->device->api().cuStreamSynchronize(stream->handle);
    stream->device->api().cuStreamDestroy(stream->handle);
  }
  delete stream;
}

DtStatus* GetNativeHandle(void*, int32_t device_id, const char* name, void** handle) {
  return Guard([&]() -> DtStatus* {
    const std::string wanted = name;
    if (wanted == "CUdevice") {  // the ordinal, as CUDA's CUdevice is an int
      *handle = reinterpret_cast<void*>(static_cast<intptr_t>(device_id));
      return nullptr;
    }
    if (wanted == "CUcontext") {
      Device* device = nullptr;
      DT_RETURN_IF_ERROR(GetDevice(device_id, &device));
      *handle = device->context();
      return nullptr;
    }
    return Fail(DT_NOT_FOUND, "CUDA devices have no native handle '" + wanted +
                                  "'; known: CUdevice, CUcontext (the device's primary context)");
  });
}

DtStatus* RunOp(void*, const DtOpCall* call, void* stream_handle) {
  return Guard([&]() -> DtStatus* {
    auto* stream = static_cast<Stream*>(stream_handle);
    Device* device = stream != nullptr ? stream->device : nullptr;
    if (device == nullptr) DT_RETURN_IF_ERROR(GetDevice(call->device_id, &device));
    WorkStream work(*device, stream);
    DT_RETURN_IF_ERROR(RunOpOn(work, *call));
    return work.Finish();
  });
}

DtStatus* ReadErrorFlags(void*, int32_t device_id, uint32_t* flags) {
  return Guard([&]() -> DtStatus* {
    Device* device = nullptr;
    DT_RETURN_IF_ERROR(GetDevice(device_id, &device));
    DT_RETURN_IF_ERROR(LaunchHeldCalls(*device));  // the flags of every call issued so far
    return device->TakeErrorFlags(flags);
  });
}

// ---- graphs ------------------------------------------------------------------------------------

DtStatus* BeginCapture(void*, void* stream) {
  return Guard([&] { return BeginRecording(*static_cast<Stream*>(stream)); });
}

DtStatus* EndCapture(void*, void* stream, void** graph) {
  return Guard([&]() -> DtStatus* {
    std::unique_ptr<Graph> recorded;
    DT_RETURN_IF_ERROR(EndRecording(*static_cast<Stream*>(stream), &recorded));
    *graph = recorded.release();
    return nullptr;
  });
}

DtStatus* ReplayGraph(void*, void* graph, void* stream) {
  return Guard([&] { return Replay(*static_cast<Graph*>(graph), *static_cast<Stream*>(stream)); });
}

void ReleaseGraph(void*, void* graph) { delete static_cast<Graph*>(graph); }

void ReleaseProvider(void* self) { delete static_cast<ProviderState*>(self); }

// Keeps this library mapped for the life of the process, whether or not it found a device: the
// driver holds pointers to its host functions in recorded graphs and the devices live as long as
// the process; and code that instruments loaded libraries (coverage counters of a fuzzing build)
// keeps pointers into it too, which an unload would leave dangling.
void PinThisLibrary() { KeepLoadedFileMapped(reinterpret_cast<const void*>(&PinThisLibrary)); }

}  // namespace
}  // namespace devtensor::cuda

using namespace devtensor::cuda;

extern "C" DT_EXPORT DtStatus* DtProviderInit(const DtHostApi* host, const DtProvider** provider) {
  if (host == nullptr) return nullptr;  // the host then reports that no provider came back
  if (host->abi_major != DT_PROVIDER_ABI_MAJOR || !DT_STRUCT_HAS_FIELD(host, DtHostApi, ReleaseStatus)) {
    return host->CreateStatus(DT_NOT_SUPPORTED,
                              "the CUDA provider needs a host of provider ABI 1 with ReleaseStatus");
  }
  SetHost(host);
  PinThisLibrary();
  return Guard([&]() -> DtStatus* {
    std::string why;
    const Driver* driver = LoadDriver(&why);
    if (driver == nullptr) return Fail(DT_NOT_FOUND, why);
    const Nvrtc* nvrtc = LoadNvrtc(&why);
    if (nvrtc == nullptr) {
      return Fail(DT_NOT_FOUND, "the CUDA driver " + driver->library + " found " +
                                    std::to_string(driver->device_count) +
                                    " device(s), but there is " + why);
    }
    g_driver = driver;
    g_nvrtc = nvrtc;
    auto state = std::make_unique<ProviderState>();
    state->driver = driver;
    state->nvrtc = nvrtc;
    DtProviderFactory& f = state->factory;
    f.struct_size = sizeof(DtProviderFactory);
    f.state = state.get();
    f.device_type = DT_DEVICE_CUDA;
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
    f.RunOp = &RunOp;
    f.BeginCapture = &BeginCapture;
    f.EndCapture = &EndCapture;
    f.ReplayGraph = &ReplayGraph;
    f.ReleaseGraph = &ReleaseGraph;
    f.ReadErrorFlags = &ReadErrorFlags;
    f.op_support = kCudaOpSupport;
    f.op_support_count = kCudaOpSupportCount;
    DtProvider& p = state->provider;
    p.struct_size = sizeof(DtProvider);
    p.abi_major = DT_PROVIDER_ABI_MAJOR;
    p.abi_minor = DT_PROVIDER_ABI_MINOR;
    p.state = state.get();
    p.Release = &ReleaseProvider;
    p.name = "cuda";
    p.factory_count = 1;
    p.version = DT_VERSION_STRING;
    p.factories = state->factories;
    *provider = &state.release()->provider;
    return nullptr;
  });
}
