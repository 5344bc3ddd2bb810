// A loaded provider: its library, its factories (copied to this library's struct layout), their
// devices, allocators and data transfers. Reference counted: the env and every storage and stream
// of the provider hold it, so the library stays loaded while anything of it lives.
#ifndef DEVTENSOR_CORE_PROVIDER_INSTANCE_H_
#define DEVTENSOR_CORE_PROVIDER_INSTANCE_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor_provider.h"

namespace devtensor {
class ProviderInstance;
struct FactoryInstance;
}  // namespace devtensor

struct DtDevice {
  DtDeviceInfo info;
  devtensor::FactoryInstance* factory;
};

namespace devtensor {

// One device type of a provider.
struct FactoryInstance {
  ProviderInstance* owner = nullptr;
  DtProviderFactory api{};       // the provider's factory; fields it lacks are NULL
  DtDataTransfer transfer{};     // its data transfer; optional fields it lacks are NULL
  bool has_streams = false;
  std::vector<std::unique_ptr<DtDevice>> devices;

  // The allocator of `device_id`, created on first use.
  DtStatus* GetAllocator(int32_t device_id, DtAllocator** allocator);
  bool CanCopy(const DtDevice* src, const DtDevice* dst) const;

  std::mutex allocator_mutex;
  std::vector<std::unique_ptr<DtAllocator>> allocators;  // by device id; null until created
};

class ProviderInstance : public std::enable_shared_from_this<ProviderInstance> {
 public:
  // Loads `library_path` with dlopen and initialises it through its DtProviderInit.
  static DtStatus* Load(const std::string& registration_name, const std::string& library_path,
                        std::shared_ptr<ProviderInstance>* out);
  // Initialises a provider linked into this library (the CPU provider).
  static DtStatus* FromInit(const std::string& registration_name, DtProviderInitFn init,
                            std::shared_ptr<ProviderInstance>* out);
  ~ProviderInstance();

  const std::string& registration_name() const { return registration_name_; }
  const std::string& library_path() const { return library_path_; }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }  // "" when the library does not say
  uint32_t abi_major() const { return abi_major_; }
  uint32_t abi_minor() const { return abi_minor_; }
  const std::vector<std::unique_ptr<FactoryInstance>>& factories() const { return factories_; }

  // Tensors' storages and streams of this provider that are alive.
  std::atomic<int64_t> live_objects{0};

 private:
  ProviderInstance() = default;
  DtStatus* Initialise(DtProviderInitFn init);
  DtStatus* AddFactory(const DtProviderFactory* factory, size_t index);

  std::string registration_name_;
  std::string library_path_;
  std::string name_;
  std::string version_;
  uint32_t abi_major_ = 0, abi_minor_ = 0;
  void* library_ = nullptr;              // dlopen handle, null for built-in providers
  const DtProvider* provider_ = nullptr; // set once DtProviderInit succeeded
  std::vector<std::unique_ptr<FactoryInstance>> factories_;
};

// Tells every loaded transfer that keeps state for host memory (DtDataTransfer.ForgetHostMemory)
// that the CPU storage at `handle` is about to be freed.
void ForgetHostMemory(void* handle, size_t bytes);

// The services this library offers providers.
const DtHostApi* HostApi();

// "CPU(1):0", "WebGPU(15):1", ...; `type` is the device type's number, any number.
std::string DeviceText(int32_t type, int32_t id);
inline std::string DeviceText(const DtDevice* device) {
  return DeviceText(device->info.type, device->info.id);
}
// "CPU", "WebGPU", ...; "unknown" for numbers DtDeviceType does not name.
const char* DeviceTypeName(int32_t type);

}  // namespace devtensor

#endif  // DEVTENSOR_CORE_PROVIDER_INSTANCE_H_
