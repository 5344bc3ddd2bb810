#include "core/provider_instance.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstring>

#include "core/c_enum.h"
#include "common/status.h"
#include "core/struct_size.h"

namespace devtensor {
namespace {

DtStatus* CreateStatusForProvider(DtErrorCode code, const char* message) {
  const int32_t raw = EnumInteger(code);
  // A provider must not make an "error" that is success, nor one with a code no caller knows.
  if (raw == DT_OK || !IsErrorCode(raw)) {
    return MakeStatus(DT_INTERNAL, std::string(message ? message : "") + " (the provider gave error code " +
                                       std::to_string(raw) + ")");
  }
  return MakeStatus(static_cast<DtErrorCode>(raw), message ? message : "");
}

const DtHostApi kHostApi = {sizeof(DtHostApi), DT_PROVIDER_ABI_MAJOR, DT_PROVIDER_ABI_MINOR,
                            &CreateStatusForProvider, &DtReleaseStatus};

std::string CopyName(const char* name) { return name ? std::string(name) : std::string(); }

}  // namespace

const DtHostApi* HostApi() { return &kHostApi; }

const char* DeviceTypeName(int32_t type) {
  if (!IsDeviceType(type)) return "unknown";
  switch (static_cast<DtDeviceType>(type)) {
    case DT_DEVICE_CPU: return "CPU";
    case DT_DEVICE_CUDA: return "CUDA";
    case DT_DEVICE_CUDA_HOST: return "CUDAHost";
    case DT_DEVICE_VULKAN: return "Vulkan";
    case DT_DEVICE_METAL: return "Metal";
    case DT_DEVICE_ROCM: return "ROCm";
    case DT_DEVICE_EXT_DEV: return "ExtDev";
    case DT_DEVICE_WEBGPU: return "WebGPU";
  }
  return "unknown";
}

std::string DeviceText(int32_t type, int32_t id) {
  return std::string(DeviceTypeName(type)) + "(" + std::to_string(type) + "):" +
         std::to_string(id);
}

DtStatus* FactoryInstance::GetAllocator(int32_t device_id, DtAllocator** allocator) {
  std::lock_guard<std::mutex> lock(allocator_mutex);
  auto& slot = allocators[static_cast<size_t>(device_id)];
  if (!slot) {
    auto created = std::make_unique<DtAllocator>();
    std::memset(created.get(), 0, sizeof(DtAllocator));
    created->struct_size = sizeof(DtAllocator);
    DT_RETURN_IF_ERROR(api.CreateAllocator(api.state, device_id, created.get()));
    if (!created->Allocate || !created->Free || !created->Release) {
      if (created->Release) created->Release(created->state);
      return Error(DT_INTERNAL, "provider '", owner->name(), "' made an allocator for ",
                   DeviceText(api.device_type, device_id), " without Allocate, Free or Release");
    }
    slot = std::move(created);
  }
  *allocator = slot.get();
  return nullptr;
}

bool FactoryInstance::CanCopy(const DtDevice* src, const DtDevice* dst) const {
  return transfer.CanCopy(transfer.state, src->info.type, src->info.id, dst->info.type,
                          dst->info.id) != 0;
}

DtStatus* ProviderInstance::Load(const std::string& registration_name,
                                 const std::string& library_path,
                                 std::shared_ptr<ProviderInstance>* out) {
  std::shared_ptr<ProviderInstance> instance(new ProviderInstance());
  instance->registration_name_ = registration_name;
  instance->library_path_ = library_path;
  dlerror();
  instance->library_ = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (instance->library_ == nullptr) {
    const char* why = dlerror();
    return Error(DT_NOT_FOUND, "library_path '", library_path, "' could not be loaded: ",
                 why ? why : "unknown reason");
  }
  auto init = reinterpret_cast<DtProviderInitFn>(dlsym(instance->library_, DT_PROVIDER_INIT_SYMBOL));
  if (init == nullptr) {
    return Error(DT_NOT_FOUND, "library_path '", library_path, "' does not export ",
                 DT_PROVIDER_INIT_SYMBOL, ": it is not a devtensor provider");
  }
  DT_RETURN_IF_ERROR(instance->Initialise(init));
  *out = std::move(instance);
  return nullptr;
}

DtStatus* ProviderInstance::FromInit(const std::string& registration_name, DtProviderInitFn init,
                                     std::shared_ptr<ProviderInstance>* out) {
  std::shared_ptr<ProviderInstance> instance(new ProviderInstance());
  instance->registration_name_ = registration_name;
  DT_RETURN_IF_ERROR(instance->Initialise(init));
  *out = std::move(instance);
  return nullptr;
}

DtStatus* ProviderInstance::Initialise(DtProviderInitFn init) {
  const DtProvider* provider = nullptr;
  DtStatus* status = init(&kHostApi, &provider);
  if (status != nullptr) {
    std::string message = "provider '" + registration_name_ + "' failed to initialise: " +
                          DtGetErrorMessage(status);
    DtErrorCode code = DtGetErrorCode(status);
    DtReleaseStatus(status);
    return MakeStatus(code, std::move(message));
  }
  if (provider == nullptr) {
    return Error(DT_INTERNAL, "provider '", registration_name_, "': ", DT_PROVIDER_INIT_SYMBOL,
                 " succeeded but returned no provider");
  }
  // Release what the provider made if anything below fails.
  provider_ = provider;
  if (provider->struct_size < offsetof(DtProvider, Release) + sizeof(provider->Release)) {
    provider_ = nullptr;  // its Release cannot be trusted to exist
    return Error(DT_NOT_SUPPORTED, "provider '", registration_name_, "': DtProvider struct_size ",
                 provider->struct_size, " is smaller than the ",
                 offsetof(DtProvider, Release) + sizeof(provider->Release), " bytes required");
  }
  const DtProvider copy = ReadPrefix(provider);
  abi_major_ = copy.abi_major;
  abi_minor_ = copy.abi_minor;
  name_ = CopyName(copy.name);
  version_ = CopyName(copy.version);
  if (copy.abi_major != DT_PROVIDER_ABI_MAJOR) {
    return Error(DT_NOT_SUPPORTED, "provider '", registration_name_, "' was built for provider ABI ",
                 copy.abi_major, ".", copy.abi_minor, "; this library speaks ABI ",
                 DT_PROVIDER_ABI_MAJOR, ".", DT_PROVIDER_ABI_MINOR);
  }
  if (copy.factory_count > 0 && copy.factories == nullptr) {
    return Error(DT_INTERNAL, "provider '", registration_name_, "' reports ", copy.factory_count,
                 " factories but no factory array");
  }
  for (size_t i = 0; i < copy.factory_count; ++i) {
    DT_RETURN_IF_ERROR(AddFactory(copy.factories[i], i));
  }
  return nullptr;
}

namespace {

// Transfers that want to hear when host memory goes, across every loaded provider.
struct HostMemoryListeners {
  std::mutex mutex;
  std::vector<const DtDataTransfer*> transfers;
};

HostMemoryListeners& Listeners() {
  static HostMemoryListeners* listeners = new HostMemoryListeners();  // outlives every storage
  return *listeners;
}

}  // namespace

void ForgetHostMemory(void* handle, size_t bytes) {
  HostMemoryListeners& listeners = Listeners();
  std::lock_guard<std::mutex> lock(listeners.mutex);
  for (const DtDataTransfer* transfer : listeners.transfers) {
    transfer->ForgetHostMemory(transfer->state, handle, bytes);
  }
}

DtStatus* ProviderInstance::AddFactory(const DtProviderFactory* factory, size_t index) {
  if (factory == nullptr || factory->struct_size < DT_PROVIDER_FACTORY_MIN_SIZE) {
    return Error(DT_NOT_SUPPORTED, "provider '", registration_name_, "': factory ", index,
                 " has struct_size ", factory ? factory->struct_size : 0,
                 ", smaller than the ", DT_PROVIDER_FACTORY_MIN_SIZE, " bytes required");
  }
  auto instance = std::make_unique<FactoryInstance>();
  instance->owner = this;
  instance->api = ReadPrefix(factory);
  DtProviderFactory& api = instance->api;
  const int32_t device_type = EnumInteger(api.device_type);
  if (!IsDeviceType(device_type)) {
    return Error(DT_NOT_SUPPORTED, "provider '", registration_name_, "': factory ", index,
                 " serves device type ", device_type, ", which is not a DtDeviceType (1 to ",
                 static_cast<int>(DT_DEVICE_WEBGPU), ")");
  }
  if (!api.GetDeviceCount || !api.GetDeviceInfo || !api.CreateAllocator ||
      !api.CreateDataTransfer || !api.Release) {
    return Error(DT_NOT_SUPPORTED, "provider '", registration_name_, "': factory ", index,
                 " lacks a required function");
  }
  if (api.op_support_count > 0 && api.op_support == nullptr) {
    return Error(DT_NOT_SUPPORTED, "provider '", registration_name_, "': factory ", index,
                 " has op_support_count ", api.op_support_count, " but op_support is NULL");
  }
  instance->has_streams = api.CreateStream && api.SynchronizeStream && api.ReleaseStream;
  // From here on the factory is owned: the destructor releases it.
  FactoryInstance* raw = instance.get();
  factories_.push_back(std::move(instance));

  int32_t count = 0;
  DT_RETURN_IF_ERROR(api.GetDeviceCount(api.state, &count));
  if (count < 0) {
    return Error(DT_INTERNAL, "provider '", registration_name_, "' reports ", count, " devices");
  }
  raw->allocators.resize(static_cast<size_t>(count));
  for (int32_t id = 0; id < count; ++id) {
    auto device = std::make_unique<DtDevice>();
    DtDeviceInfo info = DT_DEVICE_INFO_INIT;
    info.type = api.device_type;
    info.id = id;
    DT_RETURN_IF_ERROR(api.GetDeviceInfo(api.state, id, &info));
    info.struct_size = sizeof(DtDeviceInfo);
    info.type = api.device_type;  // the provider may not renumber its devices
    info.id = id;
    std::snprintf(info.provider_name, sizeof info.provider_name, "%s", name_.c_str());
    device->info = info;
    device->factory = raw;
    raw->devices.push_back(std::move(device));
  }

  std::memset(&raw->transfer, 0, sizeof raw->transfer);
  raw->transfer.struct_size = sizeof(DtDataTransfer);
  DT_RETURN_IF_ERROR(api.CreateDataTransfer(api.state, &raw->transfer));
  if (!raw->transfer.CanCopy || !raw->transfer.CopyTensors || !raw->transfer.Release) {
    return Error(DT_NOT_SUPPORTED, "provider '", registration_name_, "': factory ", index,
                 " made a data transfer without CanCopy, CopyTensors or Release");
  }
  if (raw->transfer.ForgetHostMemory != nullptr) {
    std::lock_guard<std::mutex> lock(Listeners().mutex);
    Listeners().transfers.push_back(&raw->transfer);
  }
  return nullptr;
}

ProviderInstance::~ProviderInstance() {
  // Reverse order of creation: allocators and transfers, then factories, provider, library.
  for (auto it = factories_.rbegin(); it != factories_.rend(); ++it) {
    FactoryInstance& factory = **it;
    for (auto& allocator : factory.allocators) {
      if (allocator) allocator->Release(allocator->state);
    }
    if (factory.transfer.ForgetHostMemory != nullptr) {
      std::lock_guard<std::mutex> lock(Listeners().mutex);
      std::erase(Listeners().transfers, &factory.transfer);
    }
    if (factory.transfer.Release) factory.transfer.Release(factory.transfer.state);
    factory.api.Release(factory.api.state);
  }
  factories_.clear();
  if (provider_ != nullptr) provider_->Release(provider_->state);
  if (library_ != nullptr) dlclose(library_);
}

}  // namespace devtensor
