// `devtensor info`: lists providers, devices and their properties.
#include <cstdio>

#include "commands.h"
#include "devtensor/devtensor.h"

namespace {

int Fail(DtStatus* status) {
  std::fprintf(stderr, "devtensor: %s: %s\n", DtGetErrorCodeName(DtGetErrorCode(status)),
               DtGetErrorMessage(status));
  DtReleaseStatus(status);
  return 1;
}

void PrintDevice(const DtDevice* device) {
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
  DtStatus* status = DtGetDeviceInfo(device, &info);
  if (status != nullptr) {
    Fail(status);
    return;
  }
  std::printf("    device %d:%d  %s\n", static_cast<int>(info.type), info.id, info.name);
  std::printf("      handles:          %s\n", info.is_addressable ? "pointers" : "opaque");
  std::printf("      streams:          %s\n", info.has_streams ? "asynchronous" : "synchronous");
  if (info.memory_bytes) {
    std::printf("      memory:           %.1f GiB\n", info.memory_bytes / 1073741824.0);
  }
  if (info.max_allocation_bytes) {
    std::printf("      max allocation:   %llu bytes\n",
                static_cast<unsigned long long>(info.max_allocation_bytes));
  }
  std::printf("      offset alignment: %u bytes\n", info.offset_alignment);
}

}  // namespace

int InfoCommand() {
  DtEnv* env = nullptr;
  if (DtStatus* status = DtCreateEnv(&env)) return Fail(status);
  size_t count = 0;
  if (DtStatus* status = DtGetProviderCount(env, &count)) return Fail(status);
  std::printf("devtensor %d.%d.%d\n", DT_VERSION_MAJOR, DT_VERSION_MINOR, DT_VERSION_PATCH);
  std::printf("providers: %zu\n", count);
  for (size_t i = 0; i < count; ++i) {
    DtProviderInfo provider = DT_PROVIDER_INFO_INIT;
    if (DtStatus* status = DtGetProviderInfo(env, i, &provider)) return Fail(status);
    std::printf("  %s (provider ABI %u.%u) %s\n", provider.registration_name, provider.abi_major,
                provider.abi_minor, provider.library_path[0] ? provider.library_path : "built in");
    int32_t devices = 0;
    if (DtStatus* status = DtGetDeviceCount(env, provider.device_type, &devices)) return Fail(status);
    for (int32_t id = 0; id < devices; ++id) {
      const DtDevice* device = nullptr;
      if (DtStatus* status = DtGetDevice(env, provider.device_type, id, &device)) return Fail(status);
      PrintDevice(device);
    }
  }
  DtReleaseEnv(env);
  return 0;
}
