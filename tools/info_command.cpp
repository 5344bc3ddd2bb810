// `devtensor info`: lists providers, devices and their properties.
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>

#include "commands.h"
#include "devtensor/devtensor.hpp"

const char* const kInfoUsage =
    "usage: devtensor info [--ops]\n"
    "\n"
    "Lists the providers devtensor loads (each with its library, version and provider ABI), the\n"
    "devices each serves with their properties (a device the host's CPU emulates is marked so),\n"
    "and, for each provider library that ships with devtensor but did not load, why and how to\n"
    "fix it.\n"
    "  --ops       also list, for each device, the ops it has kernels for and their element\n"
    "              types (DtGetOpSupport)\n"
    "  -h, --help  this text\n";

namespace {

// The ops devtensor defines (devtensor.h, "Ops") and the element types, in ONNX order.
constexpr const char* kOps[] = {"Cast", "Add", "Sub", "Mul", "Div", "Where", "ScatterND",
                                "ArgMax", "Expand", "Fill", "UpdateAttentionMask",
                                "UpdatePositionIds", "KvCacheAppend"};
constexpr DtElementType kTypes[] = {DT_FLOAT, DT_UINT8, DT_INT8, DT_UINT16, DT_INT16,
                                    DT_INT32, DT_INT64, DT_BOOL, DT_FLOAT16, DT_DOUBLE,
                                    DT_UINT32, DT_UINT64, DT_BFLOAT16};

// One line per op: the element types the device has a kernel for, or "none".
void PrintOps(const devtensor::Env& env, const devtensor::Device& device) {
  std::printf("      ops (principal element types with a kernel):\n");
  for (const char* op : kOps) {
    std::string types;
    for (DtElementType type : kTypes) {
      if (!env.supports(device, op, type)) continue;
      if (!types.empty()) types += ' ';
      types += devtensor::element_type_name(type);
    }
    std::printf("        %-20s %s\n", op, types.empty() ? "none" : types.c_str());
  }
}

void PrintDevice(const devtensor::Env& env, const devtensor::Device& device, bool ops) {
  const DtDeviceInfo info = device.info();
  std::printf("    device %s:%d  %s\n", devtensor::device_type_name(info.type), info.id, info.name);
  if (info.runs_on_cpu) {
    std::printf("      runs on:          the host's CPU (emulated: expect it slower than host memory)\n");
  }
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
  if (ops) PrintOps(env, device);
}

void PrintProvider(const devtensor::Env& env, const DtProviderInfo& provider, bool ops) {
  std::printf("  %s (provider ABI %u.%u) %s, version %s\n", provider.registration_name,
              provider.abi_major, provider.abi_minor,
              provider.library_path[0] ? provider.library_path : "built in",
              provider.version[0] ? provider.version : "not given");
  const int32_t devices = env.device_count(provider.device_type);
  for (int32_t id = 0; id < devices; ++id) {
    PrintDevice(env, env.device(provider.device_type, id), ops);
  }
}

// Each line of DtGetProviderLoadErrors, indented; nothing when every library loaded.
void PrintLoadErrors(const std::string& errors) {
  if (errors.empty()) return;
  std::printf("provider libraries not loaded:\n");
  std::istringstream lines(errors);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) std::printf("  %s\n", line.c_str());
  }
}

}  // namespace

int InfoCommand(int argc, char** argv) {
  const bool ops = argc == 2 && std::strcmp(argv[1], "--ops") == 0;
  if (argc > 1 && !ops) return HelpOrUsageError(argc, argv, kInfoUsage);
  try {
    devtensor::Env env;
    const devtensor::Version library = devtensor::library_version();
    std::printf("devtensor %s", library.text().c_str());
    if (library != devtensor::header_version()) {
      std::printf(" (this tool was built with devtensor.h %s)", devtensor::header_version().text().c_str());
    }
    const std::vector<DtProviderInfo> providers = env.providers();
    std::printf("\nproviders: %zu\n", providers.size());
    for (const DtProviderInfo& provider : providers) PrintProvider(env, provider, ops);
    PrintLoadErrors(env.provider_load_errors());
  } catch (const devtensor::Error& e) {
    std::fprintf(stderr, "devtensor info: %s\n", e.what());
    return 1;
  }
  return 0;
}
