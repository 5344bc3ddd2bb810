// Where a shared library this process loaded lies on disk, found from an address inside it: the
// core finds its provider libraries beside itself, and a provider finds its runtime beside itself,
// so that build trees and installations can be moved.
#ifndef DEVTENSOR_PLATFORM_LOADED_FILE_H_
#define DEVTENSOR_PLATFORM_LOADED_FILE_H_

#include <dlfcn.h>

#include <string>

namespace devtensor {

// Directory of the loaded file that holds `address` (a function of that file), with a trailing
// '/'; empty if the loader cannot tell.
inline std::string DirectoryOfLoadedFile(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return {};
  const std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// Keeps the loaded file that holds `address` mapped until the process ends: a later dlclose no
// longer unloads it. For a provider that others keep pointers into (a runtime's callbacks, a
// driver's host functions, a fuzzing build's coverage counters).
inline void KeepLoadedFileMapped(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
}

}  // namespace devtensor

#endif  // DEVTENSOR_PLATFORM_LOADED_FILE_H_
