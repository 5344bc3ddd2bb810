// DtEnv and the provider registry: creation, registration of provider libraries, device lookup.
#include "core/env.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "core/builtin_providers.h"
#include "core/c_enum.h"
#include "common/status.h"
#include "core/struct_size.h"
#include "platform/loaded_file.h"

using devtensor::Error;
using devtensor::Guarded;
using devtensor::ProviderInstance;

namespace devtensor {
namespace {

// Tries the factories of `provider`. The chosen provider is kept alive for the copy unless it is
// the provider of one of the two devices, whose tensors keep it alive already.
bool TryProvider(ProviderInstance* provider, const DtDevice* src, const DtDevice* dst,
                 TransferChoice* choice) {
  for (const auto& factory : provider->factories()) {
    if (factory->CanCopy(src, dst)) {
      choice->factory = factory.get();
      if (provider != src->factory->owner && provider != dst->factory->owner) {
        choice->keep_alive = provider->shared_from_this();
      }
      return true;
    }
  }
  return false;
}

// Where the provider libraries that ship with devtensor are: beside this library, in
// kProviderDirectory; with a trailing '/'.
std::string BundledProviderDirectory() {
  return DirectoryOfLoadedFile(reinterpret_cast<const void*>(&DtCreateEnv)) + kProviderDirectory +
         "/";
}

bool FileExists(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0;
}

// Adds `provider` to `env` unless its name or one of its device types is taken. Caller holds the
// env's lock exclusively.
DtStatus* AddProvider(DtEnv* env, std::shared_ptr<ProviderInstance> provider) {
  for (const auto& existing : env->providers) {
    if (existing->registration_name() == provider->registration_name()) {
      return Error(DT_INVALID_ARGUMENT, "registration_name '", provider->registration_name(),
                   "' is already registered");
    }
    for (const auto& mine : provider->factories()) {
      for (const auto& theirs : existing->factories()) {
        if (mine->api.device_type == theirs->api.device_type) {
          return Error(DT_FAILED_PRECONDITION, "provider '", provider->registration_name(),
                       "' serves device type ", DeviceTypeName(mine->api.device_type),
                       ", which provider '", existing->registration_name(), "' already serves");
        }
      }
    }
  }
  env->providers.push_back(std::move(provider));
  return nullptr;
}

// `type` is the number a caller passed, any number.
const DtDevice* FindDevice(const DtEnv& env, int32_t type, int32_t id, int32_t* count) {
  *count = 0;
  for (const auto& provider : env.providers) {
    for (const auto& factory : provider->factories()) {
      if (EnumInteger(factory->api.device_type) != type) continue;
      *count = static_cast<int32_t>(factory->devices.size());
      if (id >= 0 && id < *count) return factory->devices[static_cast<size_t>(id)].get();
    }
  }
  return nullptr;
}

}  // namespace

bool FindTransfer(const DtEnv& env, const DtDevice* src, const DtDevice* dst,
                  TransferChoice* choice) {
  {
    // providers[0] is the built-in CPU provider: device providers are asked first.
    std::shared_lock<std::shared_mutex> lock(env.mutex);
    for (size_t i = 1; i < env.providers.size(); ++i) {
      if (TryProvider(env.providers[i].get(), src, dst, choice)) return true;
    }
    if (TryProvider(env.providers.front().get(), src, dst, choice)) return true;
  }
  return TryProvider(dst->factory->owner, src, dst, choice) ||
         TryProvider(src->factory->owner, src, dst, choice);
}

const DtDevice* CpuDevice(const DtEnv& env) {
  std::shared_lock<std::shared_mutex> lock(env.mutex);
  return env.providers.front()->factories().front()->devices.front().get();
}

bool IsRegistered(const DtEnv& env, const ProviderInstance* provider) {
  std::shared_lock<std::shared_mutex> lock(env.mutex);
  return std::any_of(env.providers.begin(), env.providers.end(),
                     [&](const auto& p) { return p.get() == provider; });
}

}  // namespace devtensor

extern "C" {

DtStatus* DtCreateEnv(DtEnv** env) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    auto created = std::make_unique<DtEnv>();
    std::shared_ptr<ProviderInstance> cpu;
    DT_RETURN_IF_ERROR(
        ProviderInstance::FromInit(devtensor::kCpuProviderName, &DtCpuProviderInit, &cpu));
    created->providers.push_back(std::move(cpu));
    const std::string directory = devtensor::BundledProviderDirectory();
    for (const char* name : devtensor::kInternalProviderLibraries) {
      const std::string path = directory + "libdevtensor_" + name + ".so";
      if (!devtensor::FileExists(path)) {
        created->provider_load_errors +=
            "provider '" + std::string(name) + "': " + path +
            " does not exist; install devtensor with its provider libraries (cmake --install puts "
            "them in " + devtensor::kProviderDirectory + "/ beside libdevtensor.so) or register "
            "one with DtRegisterProviderLibrary\n";
        continue;
      }
      std::shared_ptr<ProviderInstance> provider;
      DtStatus* status = ProviderInstance::Load(name, path, &provider);
      if (status == nullptr) status = devtensor::AddProvider(created.get(), std::move(provider));
      if (status != nullptr) {
        created->provider_load_errors += std::string(DtGetErrorMessage(status)) + "\n";
        DtReleaseStatus(status);
      }
    }
    *env = created.release();
    return nullptr;
  });
}

void DtReleaseEnv(DtEnv* env) { delete env; }

DtStatus* DtRegisterProviderLibrary(DtEnv* env, const char* registration_name,
                                    const char* library_path) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (registration_name == nullptr || registration_name[0] == '\0') {
      return Error(DT_INVALID_ARGUMENT, "registration_name is NULL or empty");
    }
    if (library_path == nullptr || library_path[0] == '\0') {
      return Error(DT_INVALID_ARGUMENT, "library_path is NULL or empty");
    }
    {
      std::shared_lock<std::shared_mutex> lock(env->mutex);
      for (const auto& existing : env->providers) {
        if (existing->registration_name() == registration_name) {
          return Error(DT_INVALID_ARGUMENT, "registration_name '", registration_name,
                       "' is already registered");
        }
      }
    }
    // Loading runs unlocked; AddProvider checks the name again under the lock.
    std::shared_ptr<ProviderInstance> provider;
    DT_RETURN_IF_ERROR(ProviderInstance::Load(registration_name, library_path, &provider));
    std::unique_lock<std::shared_mutex> lock(env->mutex);
    return devtensor::AddProvider(env, std::move(provider));
  });
}

DtStatus* DtUnregisterProviderLibrary(DtEnv* env, const char* registration_name) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (registration_name == nullptr) return Error(DT_INVALID_ARGUMENT, "registration_name is NULL");
    std::shared_ptr<ProviderInstance> removed;
    {
      std::unique_lock<std::shared_mutex> lock(env->mutex);
      auto it = std::find_if(env->providers.begin(), env->providers.end(), [&](const auto& p) {
        return p->registration_name() == registration_name;
      });
      if (it == env->providers.end()) {
        return Error(DT_NOT_FOUND, "registration_name '", registration_name,
                     "' is not registered in this env");
      }
      if (it == env->providers.begin()) {
        return Error(DT_INVALID_ARGUMENT, "registration_name '", registration_name,
                     "' is the built-in CPU provider, which cannot be unregistered");
      }
      const int64_t live = (*it)->live_objects.load();
      if (live > 0) {
        return Error(DT_FAILED_PRECONDITION, "provider '", registration_name, "' still has ", live,
                     " live tensor storages or streams; release them first");
      }
      removed = std::move(*it);
      env->providers.erase(it);
    }
    // `removed` goes here, outside the lock: the library unloads unless another env holds it.
    return nullptr;
  });
}

DtStatus* DtGetProviderCount(const DtEnv* env, size_t* count) {
  if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
  if (count == nullptr) return Error(DT_INVALID_ARGUMENT, "count is NULL");
  std::shared_lock<std::shared_mutex> lock(env->mutex);
  *count = env->providers.size();
  return nullptr;
}

DtStatus* DtGetProviderInfo(const DtEnv* env, size_t index, DtProviderInfo* info) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (info == nullptr) return Error(DT_INVALID_ARGUMENT, "info is NULL");
    if (info->struct_size < sizeof(size_t)) {
      return Error(DT_INVALID_ARGUMENT, "info->struct_size ", info->struct_size,
                   " is too small; initialise info with DT_PROVIDER_INFO_INIT");
    }
    std::shared_lock<std::shared_mutex> lock(env->mutex);
    if (index >= env->providers.size()) {
      return Error(DT_OUT_OF_RANGE, "index ", index, " is past the ", env->providers.size(),
                   " registered providers");
    }
    const ProviderInstance& provider = *env->providers[index];
    DtProviderInfo out = DT_PROVIDER_INFO_INIT;
    std::snprintf(out.registration_name, sizeof out.registration_name, "%s",
                  provider.registration_name().c_str());
    std::snprintf(out.provider_name, sizeof out.provider_name, "%s", provider.name().c_str());
    std::snprintf(out.library_path, sizeof out.library_path, "%s", provider.library_path().c_str());
    out.abi_major = provider.abi_major();
    out.abi_minor = provider.abi_minor();
    std::snprintf(out.version, sizeof out.version, "%s", provider.version().c_str());
    for (const auto& factory : provider.factories()) {
      if (out.device_type == 0) out.device_type = factory->api.device_type;
      out.device_count += static_cast<int32_t>(factory->devices.size());
    }
    devtensor::WritePrefix(out, info);
    return nullptr;
  });
}

DtStatus* DtGetProviderLoadErrors(const DtEnv* env, const char** text) {
  if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
  if (text == nullptr) return Error(DT_INVALID_ARGUMENT, "text is NULL");
  *text = env->provider_load_errors.c_str();
  return nullptr;
}

DtStatus* DtGetDeviceCount(const DtEnv* env, DtDeviceType type, int32_t* count) {
  if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
  if (count == nullptr) return Error(DT_INVALID_ARGUMENT, "count is NULL");
  std::shared_lock<std::shared_mutex> lock(env->mutex);
  devtensor::FindDevice(*env, devtensor::EnumInteger(type), -1, count);
  return nullptr;
}

DtStatus* DtGetDevice(DtEnv* env, DtDeviceType type, int32_t device_id, const DtDevice** device) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (device == nullptr) return Error(DT_INVALID_ARGUMENT, "device is NULL");
    std::shared_lock<std::shared_mutex> lock(env->mutex);
    int32_t count = 0;
    const int32_t raw_type = devtensor::EnumInteger(type);
    const DtDevice* found = devtensor::FindDevice(*env, raw_type, device_id, &count);
    if (found != nullptr) {
      *device = found;
      return nullptr;
    }
    const std::string wanted = devtensor::DeviceText(raw_type, device_id);
    if (count > 0) {
      return Error(DT_NOT_FOUND, "device ", wanted, " does not exist: device_id must be in [0, ",
                   count, ")");
    }
    std::string message = "device " + wanted + " not found: no registered provider serves device type " +
                          std::to_string(raw_type) + " (" + devtensor::DeviceTypeName(raw_type) +
                          ")";
    const std::string& errors = env->provider_load_errors;
    if (!errors.empty()) message += "; internal provider libraries tried:";
    for (size_t start = 0, end; (end = errors.find('\n', start)) != std::string::npos;
         start = end + 1) {
      message += " [" + errors.substr(start, end - start) + "]";
    }
    message += "; register a provider library for it with DtRegisterProviderLibrary";
    return devtensor::MakeStatus(DT_NOT_FOUND, std::move(message));
  });
}

const char* DtGetDeviceTypeName(DtDeviceType type) {
  return devtensor::DeviceTypeName(devtensor::EnumInteger(type));
}

DtStatus* DtGetDeviceInfo(const DtDevice* device, DtDeviceInfo* info) {
  if (device == nullptr) return Error(DT_INVALID_ARGUMENT, "device is NULL");
  if (info == nullptr) return Error(DT_INVALID_ARGUMENT, "info is NULL");
  if (info->struct_size < sizeof(size_t)) {
    return Error(DT_INVALID_ARGUMENT, "info->struct_size ", info->struct_size,
                 " is too small; initialise info with DT_DEVICE_INFO_INIT");
  }
  devtensor::WritePrefix(device->info, info);
  return nullptr;
}

DtStatus* DtGetDeviceNativeHandle(const DtDevice* device, const char* name, void** handle) {
  if (device == nullptr) return Error(DT_INVALID_ARGUMENT, "device is NULL");
  if (name == nullptr) return Error(DT_INVALID_ARGUMENT, "name is NULL");
  if (handle == nullptr) return Error(DT_INVALID_ARGUMENT, "handle is NULL");
  const DtProviderFactory& api = device->factory->api;
  if (api.GetNativeHandle == nullptr) {
    return Error(DT_NOT_FOUND, "device ", devtensor::DeviceText(device),
                 " has no native handles (its provider offers none)");
  }
  return Guarded([&] { return api.GetNativeHandle(api.state, device->info.id, name, handle); });
}

DtDeviceType DtGetDeviceType(const DtDevice* device) {
  return device ? device->info.type : static_cast<DtDeviceType>(0);
}

int32_t DtGetDeviceId(const DtDevice* device) { return device ? device->info.id : -1; }

}  // extern "C"
