// Providers linked into the devtensor library. Each is defined under src/providers/ and reaches the
// core only through the provider ABI: the env initialises it exactly like a loaded library.
#ifndef DEVTENSOR_CORE_BUILTIN_PROVIDERS_H_
#define DEVTENSOR_CORE_BUILTIN_PROVIDERS_H_

#include "devtensor/devtensor_provider.h"

extern "C" DtStatus* DtCpuProviderInit(const DtHostApi* host, const DtProvider** provider);

namespace devtensor {
// Registration name of the built-in CPU provider.
inline constexpr const char* kCpuProviderName = "cpu";
// Provider libraries the env loads when they are there: <directory of libdevtensor.so>/
// kProviderDirectory/libdevtensor_<name>.so, registered as <name>. The same layout in a build tree
// and an installation (<libdir>/devtensor/), so either can be moved as a whole.
inline constexpr const char* kInternalProviderLibraries[] = {"webgpu", "cuda"};
inline constexpr const char* kProviderDirectory = "devtensor";
}  // namespace devtensor

#endif  // DEVTENSOR_CORE_BUILTIN_PROVIDERS_H_
