// Access to the test provider libraries (tests/providers/ext_provider.cpp) from the tests: their
// paths, whether one is loaded, and its test hooks.
#ifndef DEVTENSOR_TESTS_EXT_DEVICE_H_
#define DEVTENSOR_TESTS_EXT_DEVICE_H_

#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace devtensor_test {

// The test providers are built beside the test binary; a build tree may have been moved.
inline std::string ProviderDirectory() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return DT_TEST_PROVIDER_DIR;
  std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

inline std::string ProviderPath(const std::string& target) {
  return ProviderDirectory() + "/lib" + target + ".so";
}
inline const std::string kExtProvider = ProviderPath("test_provider_ext");
inline const std::string kSmallExtProvider = ProviderPath("test_provider_ext_small");
inline const std::string kV2ExtProvider = ProviderPath("test_provider_ext_v2");
inline const std::string kPickyExtProvider = ProviderPath("test_provider_ext_picky");
inline const std::string kAbi11ExtProvider = ProviderPath("test_provider_ext_abi11");
inline const std::string kNotAProvider = ProviderPath("test_not_a_provider");

// True while the library at `path` is loaded in this process.
inline bool IsLoaded(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

// The test provider's hooks, looked up in the loaded library (which must stay loaded while used).
struct ExtHooks {
  explicit ExtHooks(const std::string& path = kExtProvider) {
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) return;
    counters = reinterpret_cast<decltype(counters)>(dlsym(library, "DtTestExtCounters"));
    create_buffer = reinterpret_cast<decltype(create_buffer)>(dlsym(library, "DtTestExtCreateBuffer"));
    buffer_data = reinterpret_cast<decltype(buffer_data)>(dlsym(library, "DtTestExtBufferData"));
    destroy_buffer =
        reinterpret_cast<decltype(destroy_buffer)>(dlsym(library, "DtTestExtDestroyBuffer"));
    external_releases =
        reinterpret_cast<decltype(external_releases)>(dlsym(library, "DtTestExtExternalReleases"));
    fail_allocation_after = reinterpret_cast<decltype(fail_allocation_after)>(
        dlsym(library, "DtTestExtFailAllocationAfter"));
    lose_device_after_pairs = reinterpret_cast<decltype(lose_device_after_pairs)>(
        dlsym(library, "DtTestExtLoseDeviceAfterPairs"));
  }
  ~ExtHooks() {
    if (library != nullptr) dlclose(library);
  }
  int64_t Calls() const {
    int64_t calls, pairs, live;
    counters(&calls, &pairs, &live);
    return calls;
  }
  int64_t Pairs() const {
    int64_t calls, pairs, live;
    counters(&calls, &pairs, &live);
    return pairs;
  }
  int64_t LiveBuffers() const {
    int64_t calls, pairs, live;
    counters(&calls, &pairs, &live);
    return live;
  }

  void* library = nullptr;
  void (*counters)(int64_t*, int64_t*, int64_t*) = nullptr;
  void* (*create_buffer)(int32_t, size_t) = nullptr;
  uint8_t* (*buffer_data)(void*) = nullptr;
  void (*destroy_buffer)(void*) = nullptr;
  int64_t (*external_releases)() = nullptr;
  void (*fail_allocation_after)(int64_t successes) = nullptr;
  void (*lose_device_after_pairs)(int64_t pairs) = nullptr;
};

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_EXT_DEVICE_H_
