#include "providers/cuda/device.h"

#include <vector>

#include "common/return_if_error.h"
#include "providers/cuda/errors.h"
#include "providers/cuda/kernel_names.h"
#include "providers/cuda/kernels/embedded_cuda.h"

namespace devtensor::cuda {
namespace {

std::mutex g_devices_mutex;
std::vector<Device*>* g_devices = nullptr;  // by ordinal; never freed: lives as long as the process

// The kernels' source: the argument blocks, the element rules, the kernels.
const std::string& KernelSource() {
  static const std::string source =
      std::string(source::kKernelAbiH) + "\n" + source::kElementsCuh + "\n" + source::kOpsCuh;
  return source;
}

}  // namespace

DtStatus* Device::Get(const Driver& driver, const Nvrtc& nvrtc, int ordinal, Device** out) {
  std::lock_guard<std::mutex> lock(g_devices_mutex);
  if (g_devices == nullptr) g_devices = new std::vector<Device*>(size_t(driver.device_count));
  Device*& slot = (*g_devices)[size_t(ordinal)];
  if (slot == nullptr) {
    std::unique_ptr<Device> device(new Device(driver, nvrtc));
    DT_RETURN_IF_ERROR(device->Initialize(ordinal));
    slot = device.release();
  }
  *out = slot;
  return nullptr;
}

DtStatus* Device::Initialize(int ordinal) {
  const DriverApi& a = api();
  ordinal_ = ordinal;
  const std::string what = "CUDA device " + std::to_string(ordinal);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceGet, &device_, ordinal);
  char name[256] = {};
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceGetName, name, int(sizeof name - 1), device_);
  name_ = name;
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceTotalMem, &total_bytes_, device_);
  int major = 0, minor = 0, pools = 0, unified = 0;
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceGetAttribute, &major, kAttributeComputeCapabilityMajor,
                          device_);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceGetAttribute, &minor, kAttributeComputeCapabilityMinor,
                          device_);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceGetAttribute, &multiprocessors_,
                          kAttributeMultiprocessorCount, device_);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceGetAttribute, &pools, kAttributeMemoryPoolsSupported,
                          device_);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDeviceGetAttribute, &unified, kAttributeUnifiedAddressing,
                          device_);
  if (unified == 0) {
    return Fail(DT_NOT_SUPPORTED, what + " (" + name_ +
                                      ") has no unified addressing, which devtensor needs");
  }
  arch_ = major * 10 + minor;
  DT_CUDA_RETURN_IF_ERROR(what, a, cuDevicePrimaryCtxRetain, &context_, device_);
  ScopedContext current(*this);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuStreamCreate, &allocation_stream_, kStreamNonBlocking);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuStreamCreate, &sync_stream_, kStreamNonBlocking);
  if (pools != 0) {
    MemPoolProps props{};
    props.alloc_type = 1;
    props.location_type = 1;
    props.location_id = ordinal;
    DT_CUDA_RETURN_IF_ERROR(what, a, cuMemPoolCreate, &pool_, &props);
    // Freed memory stays in the pool for the next allocation instead of going back to the driver.
    unsigned long long keep = ~0ull;
    DT_CUDA_RETURN_IF_ERROR(what, a, cuMemPoolSetAttribute, pool_, kMemPoolAttrReleaseThreshold,
                            &keep);
  }
  staging_ = std::make_unique<Staging>(a);
  DT_RETURN_IF_ERROR(Allocate(sizeof(uint32_t), &error_flags_));
  DT_CUDA_RETURN_IF_ERROR(what, a, cuMemsetD8Async, error_flags_, 0, sizeof(uint32_t),
                          sync_stream_);
  DT_CUDA_RETURN_IF_ERROR(what, a, cuStreamSynchronize, sync_stream_);
  return nullptr;
}

DtStatus* Device::Allocate(size_t bytes, CUdeviceptr* pointer) {
  const DriverApi& a = api();
  ScopedContext current(*this);
  std::lock_guard<std::mutex> lock(memory_mutex_);
  CUresult r = kCudaSuccess;
  if (pool_ != nullptr) {
    r = a.cuMemAllocFromPoolAsync(pointer, bytes, pool_, allocation_stream_);
    // Other streams use it at once: the allocation's place in its stream must be passed.
    if (r == kCudaSuccess) r = a.cuStreamSynchronize(allocation_stream_);
  } else {
    r = a.cuMemAlloc(pointer, bytes);
  }
  if (r == kCudaErrorOutOfMemory) {
    size_t free_bytes = 0, total = 0;
    a.cuMemGetInfo(&free_bytes, &total);
    return Fail(DT_OUT_OF_MEMORY, "CUDA device " + std::to_string(ordinal_) + " (" + name_ +
                                      ") is out of memory: " + std::to_string(bytes) +
                                      " bytes asked for, " + std::to_string(free_bytes) +
                                      " bytes free of " + std::to_string(total));
  }
  if (r != kCudaSuccess) {
    return CudaFail("allocating " + std::to_string(bytes) + " bytes on CUDA device " +
                        std::to_string(ordinal_),
                    pool_ != nullptr ? "cuMemAllocFromPoolAsync" : "cuMemAlloc", r);
  }
  return nullptr;
}

void Device::Free(CUdeviceptr pointer, CUstream stream) {
  ScopedContext current(*this);
  if (pool_ != nullptr) {
    api().cuMemFreeAsync(pointer, stream != nullptr ? stream : allocation_stream_);
  } else {
    if (stream != nullptr) api().cuStreamSynchronize(stream);
    api().cuMemFree(pointer);
  }
}

DtStatus* Device::Kernel(const std::string& expression, CUfunction* function) {
  std::lock_guard<std::mutex> lock(kernels_mutex_);
  if (auto found = kernels_.find(expression); found != kernels_.end()) {
    *function = found->second;
    return nullptr;
  }
  const std::vector<std::string> family = KernelFamily(expression);
  ScopedContext current(*this);
  CUmodule module = nullptr;
  std::vector<std::string> lowered;
  std::string image, error, load_error;
  // PTX first (the driver keeps what it compiles from it across processes); machine code when the
  // driver cannot read NVRTC's PTX.
  for (bool sass : {false, true}) {
    if (!nvrtc_.Compile(KernelSource(), "devtensor_kernels.cu", arch_, sass, family, &image,
                        &lowered, &error)) {
      continue;
    }
    if (CUresult r = api().cuModuleLoadData(&module, image.data()); r != kCudaSuccess) {
      load_error = driver_.ErrorText("cuModuleLoadData", r);
      module = nullptr;
      continue;
    }
    break;
  }
  if (module == nullptr) {
    return Fail(DT_INTERNAL, "the CUDA kernel " + expression + " could not be made for " +
                                 name_ + " (compute capability " + std::to_string(arch_ / 10) +
                                 "." + std::to_string(arch_ % 10) + ") with " + nvrtc_.library +
                                 ": " + (load_error.empty() ? error : load_error + "; " + error));
  }
  for (size_t i = 0; i < family.size(); ++i) {
    CUfunction found = nullptr;
    DT_CUDA_RETURN_IF_ERROR("loading the CUDA kernel " + family[i], api(), cuModuleGetFunction,
                            &found, module, lowered[i].c_str());
    kernels_.emplace(family[i], found);  // the module stays loaded as long as the process
  }
  *function = kernels_.at(expression);
  return nullptr;
}

DtStatus* Device::ReadErrorFlags(CUstream stream, bool keep, uint32_t* flags) {
  const DriverApi& a = api();
  ScopedContext current(*this);
  std::lock_guard<std::mutex> lock(flags_mutex_);
  if (stream == nullptr) {
    DT_CUDA_RETURN_IF_ERROR("reading the CUDA error flags", a, cuCtxSynchronize);
  } else {
    DT_CUDA_RETURN_IF_ERROR("reading the CUDA error flags", a, cuStreamSynchronize, stream);
  }
  std::lock_guard<std::mutex> sync(sync_mutex_);
  uint32_t raised = 0;
  DT_CUDA_RETURN_IF_ERROR("reading the CUDA error flags", a, cuMemcpyAsync,
                          reinterpret_cast<CUdeviceptr>(&raised), error_flags_, sizeof raised,
                          sync_stream_);
  DT_CUDA_RETURN_IF_ERROR("reading the CUDA error flags", a, cuMemsetD8Async, error_flags_, 0,
                          sizeof raised, sync_stream_);
  DT_CUDA_RETURN_IF_ERROR("reading the CUDA error flags", a, cuStreamSynchronize, sync_stream_);
  if (keep) unreported_flags_ |= raised;
  *flags = raised;
  return nullptr;
}

DtStatus* Device::TakeErrorFlags(uint32_t* flags) {
  uint32_t raised = 0;
  DT_RETURN_IF_ERROR(ReadErrorFlags(nullptr, false, &raised));
  std::lock_guard<std::mutex> lock(flags_mutex_);
  *flags = raised | unreported_flags_;
  unreported_flags_ = 0;
  return nullptr;
}

bool Device::CanReach(Device& peer) {
  if (&peer == this) return true;
  std::lock_guard<std::mutex> lock(peers_mutex_);
  auto found = peers_.find(peer.ordinal_);
  if (found != peers_.end()) return found->second;
  int can = 0;
  bool reach = api().cuDeviceCanAccessPeer(&can, device_, peer.device_) == kCudaSuccess && can;
  if (reach) {
    ScopedContext current(*this);
    const CUresult r = api().cuCtxEnablePeerAccess(peer.context_, 0);
    reach = r == kCudaSuccess || r == kCudaErrorPeerAccessAlreadyEnabled;
  }
  peers_.emplace(peer.ordinal_, reach);
  return reach;
}

}  // namespace devtensor::cuda
