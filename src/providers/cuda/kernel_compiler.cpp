#include "providers/cuda/kernel_compiler.h"

#include <dlfcn.h>
#include <glob.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>

namespace devtensor::cuda {
namespace {

constexpr const char* kSonames[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12",
                                    "libnvrtc.so.11.2"};

void AddGlob(const std::string& pattern, std::vector<std::string>* out) {
  glob_t found{};
  if (glob(pattern.c_str(), 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) out->push_back(found.gl_pathv[i]);
  }
  globfree(&found);
}

}  // namespace

std::vector<std::string> NvrtcCandidates() {
  if (const char* named = std::getenv("DEVTENSOR_NVRTC"); named != nullptr && *named) {
    return {named};  // the only place looked at: a wrong path must not be papered over
  }
  std::vector<std::string> candidates(std::begin(kSonames), std::end(kSonames));
  std::vector<std::string> toolkits;
  for (const char* variable : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* value = std::getenv(variable); value != nullptr && *value) {
      toolkits.push_back(value);
    }
  }
  toolkits.push_back("/usr/local/cuda");
  for (const std::string& toolkit : toolkits) {
    for (const char* lib : {"/lib64/", "/lib/"}) AddGlob(toolkit + lib + "libnvrtc.so*", &candidates);
  }
  // The nvidia-cuda-nvrtc wheel (and PyTorch's copy of it) in the usual package directories.
  std::vector<std::string> roots = {"/usr/local/lib/python3*/*-packages",
                                    "/usr/lib/python3*/*-packages", "/opt/conda/lib/python3*/*-packages"};
  for (const char* variable : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    if (const char* value = std::getenv(variable); value != nullptr && *value) {
      roots.push_back(std::string(value) + "/lib/python3*/*-packages");
    }
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    roots.push_back(std::string(home) + "/.local/lib/python3*/site-packages");
  }
  for (const std::string& root : roots) {
    AddGlob(root + "/nvidia/cuda_nvrtc/lib/libnvrtc.so*", &candidates);
    AddGlob(root + "/nvidia/cu1[0-9]/lib/libnvrtc.so*", &candidates);
  }
  // libnvrtc-builtins and the .alt variants are not the compiler itself.
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [](const std::string& c) {
                                    return c.find("builtins") != std::string::npos ||
                                           c.find(".alt.") != std::string::npos;
                                  }),
                   candidates.end());
  return candidates;
}

namespace {

template <typename Fn>
bool Get(void* library, const char* name, Fn* out) {
  *out = reinterpret_cast<Fn>(dlsym(library, name));
  return *out != nullptr;
}

const char* Resolve(void* l, NvrtcApi* a) {
#define DT_RESOLVE(name) \
  if (!Get(l, #name, &a->name)) return #name;
  DT_RESOLVE(nvrtcVersion) DT_RESOLVE(nvrtcGetErrorString) DT_RESOLVE(nvrtcGetNumSupportedArchs)
  DT_RESOLVE(nvrtcGetSupportedArchs) DT_RESOLVE(nvrtcCreateProgram) DT_RESOLVE(nvrtcDestroyProgram)
  DT_RESOLVE(nvrtcAddNameExpression) DT_RESOLVE(nvrtcCompileProgram) DT_RESOLVE(nvrtcGetLoweredName)
  DT_RESOLVE(nvrtcGetProgramLogSize) DT_RESOLVE(nvrtcGetProgramLog) DT_RESOLVE(nvrtcGetCUBINSize)
  DT_RESOLVE(nvrtcGetCUBIN) DT_RESOLVE(nvrtcGetPTXSize) DT_RESOLVE(nvrtcGetPTX)
#undef DT_RESOLVE
  return nullptr;
}

Nvrtc* Load(std::string* why) {
  std::string tried;
  for (const std::string& candidate : NvrtcCandidates()) {
    dlerror();
    void* library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (library == nullptr) {
      const char* error = dlerror();
      tried += " [" + candidate + ": " + (error != nullptr ? error : "not loadable") + "]";
      continue;
    }
    auto nvrtc = std::make_unique<Nvrtc>();
    if (const char* missing = Resolve(library, &nvrtc->api)) {
      tried += " [" + candidate + ": lacks " + missing + "]";
      continue;
    }
    nvrtc->library = candidate;
    nvrtc->api.nvrtcVersion(&nvrtc->major, &nvrtc->minor);
    int count = 0;
    if (nvrtc->api.nvrtcGetNumSupportedArchs(&count) == 0 && count > 0) {
      nvrtc->archs.resize(static_cast<size_t>(count));
      nvrtc->api.nvrtcGetSupportedArchs(nvrtc->archs.data());
    }
    return nvrtc.release();
  }
  *why = "no NVRTC (the CUDA runtime compiler, which compiles devtensor's CUDA kernels): tried" +
         tried +
         ". Install the CUDA toolkit or the nvidia-cuda-nvrtc Python wheel, set CUDA_HOME to the "
         "toolkit, or set DEVTENSOR_NVRTC to libnvrtc's path";
  return nullptr;
}

}  // namespace

bool Nvrtc::Compile(const std::string& source, const char* name, int arch, bool sass,
                    const std::vector<std::string>& expressions, std::string* image,
                    std::vector<std::string>* lowered, std::string* error) const {
  NvrtcProgram program = nullptr;
  if (NvrtcResult r = api.nvrtcCreateProgram(&program, source.c_str(), name, 0, nullptr, nullptr);
      r != 0) {
    *error = std::string("nvrtcCreateProgram: ") + api.nvrtcGetErrorString(r);
    return false;
  }
  for (const std::string& expression : expressions) {
    api.nvrtcAddNameExpression(program, expression.c_str());
  }
  int target = 0;
  for (int a : archs) {
    if (a <= arch) target = std::max(target, a);
  }
  if (target == 0 || (sass && target != arch)) {
    *error = "NVRTC " + std::to_string(major) + "." + std::to_string(minor) + " has no " +
             (sass ? "machine code" : "PTX") + " for compute capability " +
             std::to_string(arch / 10) + "." + std::to_string(arch % 10);
    api.nvrtcDestroyProgram(&program);
    return false;
  }
  const std::string arch_option = (sass ? "--gpu-architecture=sm_" : "--gpu-architecture=compute_") +
                                  std::to_string(target);
  const char* options[] = {arch_option.c_str(), "--std=c++17", "--fmad=false"};
  const NvrtcResult compiled = api.nvrtcCompileProgram(program, 3, options);
  if (compiled != 0) {
    size_t size = 0;
    api.nvrtcGetProgramLogSize(program, &size);
    std::string log(size, '\0');
    if (size > 0) api.nvrtcGetProgramLog(program, log.data());
    while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
    *error = std::string("NVRTC could not compile ") + name + " (" + arch_option +
             "): " + api.nvrtcGetErrorString(compiled) + "\n" + log;
    api.nvrtcDestroyProgram(&program);
    return false;
  }
  size_t size = 0;
  if (sass) {
    api.nvrtcGetCUBINSize(program, &size);
    image->assign(size, '\0');
    api.nvrtcGetCUBIN(program, image->data());
  } else {
    api.nvrtcGetPTXSize(program, &size);
    image->assign(size, '\0');
    api.nvrtcGetPTX(program, image->data());
  }
  lowered->clear();
  for (const std::string& expression : expressions) {
    const char* mangled = nullptr;
    if (api.nvrtcGetLoweredName(program, expression.c_str(), &mangled) != 0 || mangled == nullptr) {
      *error = std::string("NVRTC has no kernel ") + expression + " in " + name;
      api.nvrtcDestroyProgram(&program);
      return false;
    }
    lowered->push_back(mangled);
  }
  api.nvrtcDestroyProgram(&program);
  return true;
}

const Nvrtc* LoadNvrtc(std::string* why) {
  static std::mutex mutex;
  static const Nvrtc* nvrtc = nullptr;  // never freed: stays loaded
  static std::string failure;
  std::lock_guard<std::mutex> lock(mutex);
  if (nvrtc == nullptr && failure.empty()) nvrtc = Load(&failure);
  if (nvrtc == nullptr) *why = failure;
  return nvrtc;
}

}  // namespace devtensor::cuda
