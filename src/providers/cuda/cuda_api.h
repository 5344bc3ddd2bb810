// The part of the CUDA driver API and of NVRTC the CUDA provider uses, declared here rather than
// taken from a toolkit: the provider builds without CUDA and finds both libraries at run time
// (driver.h, kernel_compiler.h). Types are opaque handles; values are the driver's documented numbers.
// Every entry's signature is the one of CUDA 12.0, which DriverApi asks cuGetProcAddress for.
#ifndef DEVTENSOR_PROVIDERS_CUDA_CUDA_API_H_
#define DEVTENSOR_PROVIDERS_CUDA_CUDA_API_H_

#include <cstddef>
#include <cstdint>

namespace devtensor::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUgraph = struct CUgraph_st*;
using CUgraphExec = struct CUgraphExec_st*;
using CUmemoryPool = struct CUmemPoolHandle_st*;
using CUhostFn = void (*)(void* user_data);

inline constexpr CUresult kCudaSuccess = 0;
inline constexpr CUresult kCudaErrorOutOfMemory = 2;
inline constexpr CUresult kCudaErrorNoDevice = 100;
inline constexpr CUresult kCudaErrorNotReady = 600;
inline constexpr CUresult kCudaErrorPeerAccessAlreadyEnabled = 704;

// cuDeviceGetAttribute
inline constexpr int kAttributeMultiprocessorCount = 16;
inline constexpr int kAttributeUnifiedAddressing = 41;
inline constexpr int kAttributeComputeCapabilityMajor = 75;
inline constexpr int kAttributeComputeCapabilityMinor = 76;
inline constexpr int kAttributeMemoryPoolsSupported = 115;

// cuPointerGetAttribute
inline constexpr int kPointerContext = 1;
inline constexpr int kPointerMemoryType = 2;  // an unsigned int: kMemoryType*
inline constexpr int kPointerIsManaged = 8;
inline constexpr int kPointerDeviceOrdinal = 9;
inline constexpr int kPointerRangeStart = 11;
inline constexpr int kPointerRangeSize = 12;
inline constexpr unsigned kMemoryTypeHost = 1;
inline constexpr unsigned kMemoryTypeDevice = 2;

inline constexpr unsigned kStreamNonBlocking = 1;
inline constexpr unsigned kEventDisableTiming = 2;
inline constexpr int kCaptureModeRelaxed = 2;
inline constexpr int kCaptureStatusNone = 0;
inline constexpr unsigned kMemHostAllocPortable = 1;
inline constexpr unsigned kMemHostRegisterPortable = 1;
inline constexpr int kMemPoolAttrReleaseThreshold = 4;

// CUmemPoolProps (88 bytes, zero-filled where not set).
struct MemPoolProps {
  int alloc_type;     // 1: pinned device memory
  int handle_types;   // 0: none
  int location_type;  // 1: a device
  int location_id;    // its ordinal
  void* win32_security_attributes;
  size_t max_size;
  unsigned short usage;
  unsigned char reserved[54];
};
static_assert(sizeof(MemPoolProps) == 88, "CUmemPoolProps is 88 bytes");

// The driver entry points, resolved once by LoadDriver (driver.h).
struct DriverApi {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int* version);
  CUresult (*cuGetErrorName)(CUresult error, const char** name);
  CUresult (*cuGetErrorString)(CUresult error, const char** text);
  CUresult (*cuDeviceGetCount)(int* count);
  CUresult (*cuDeviceGet)(CUdevice* device, int ordinal);
  CUresult (*cuDeviceGetName)(char* name, int length, CUdevice device);
  CUresult (*cuDeviceTotalMem)(size_t* bytes, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int* value, int attribute, CUdevice device);
  CUresult (*cuDeviceCanAccessPeer)(int* can, CUdevice device, CUdevice peer);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext* context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxPushCurrent)(CUcontext context);
  CUresult (*cuCtxPopCurrent)(CUcontext* context);
  CUresult (*cuCtxEnablePeerAccess)(CUcontext peer, unsigned flags);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuMemGetInfo)(size_t* free_bytes, size_t* total_bytes);
  CUresult (*cuMemAlloc)(CUdeviceptr* pointer, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr pointer);
  CUresult (*cuMemPoolCreate)(CUmemoryPool* pool, const MemPoolProps* props);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool pool, int attribute, void* value);
  CUresult (*cuMemAllocFromPoolAsync)(CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool,
                                      CUstream stream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr pointer, CUstream stream);
  CUresult (*cuMemHostAlloc)(void** pointer, size_t bytes, unsigned flags);
  CUresult (*cuMemFreeHost)(void* pointer);
  CUresult (*cuMemHostRegister)(void* pointer, size_t bytes, unsigned flags);
  CUresult (*cuMemHostUnregister)(void* pointer);
  CUresult (*cuMemGetAddressRange)(CUdeviceptr* base, size_t* size, CUdeviceptr pointer);
  CUresult (*cuPointerGetAttribute)(void* value, int attribute, CUdeviceptr pointer);
  CUresult (*cuMemcpyAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);
  CUresult (*cuMemcpyPeerAsync)(CUdeviceptr dst, CUcontext dst_context, CUdeviceptr src,
                                CUcontext src_context, size_t bytes, CUstream stream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr dst, unsigned char value, size_t count, CUstream stream);
  CUresult (*cuStreamCreate)(CUstream* stream, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream stream);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuStreamWaitEvent)(CUstream stream, CUevent event, unsigned flags);
  CUresult (*cuStreamIsCapturing)(CUstream stream, int* status);
  CUresult (*cuStreamBeginCapture)(CUstream stream, int mode);
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph* graph);
  CUresult (*cuEventCreate)(CUevent* event, unsigned flags);
  CUresult (*cuEventRecord)(CUevent event, CUstream stream);
  CUresult (*cuEventSynchronize)(CUevent event);
  CUresult (*cuEventQuery)(CUevent event);
  CUresult (*cuEventDestroy)(CUevent event);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec* exec, CUgraph graph,
                                          unsigned long long flags);
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec);
  CUresult (*cuGraphDestroy)(CUgraph graph);
  CUresult (*cuGraphGetNodes)(CUgraph graph, void** nodes, size_t* count);
  CUresult (*cuModuleLoadData)(CUmodule* module, const void* image);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction* function, CUmodule module, const char* name);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned grid_x, unsigned grid_y,
                             unsigned grid_z, unsigned block_x, unsigned block_y, unsigned block_z,
                             unsigned shared_bytes, CUstream stream, void** params, void** extra);
  CUresult (*cuLaunchHostFunc)(CUstream stream, CUhostFn function, void* user_data);
};

// NVRTC.
using NvrtcResult = int;
using NvrtcProgram = struct _nvrtcProgram*;

struct NvrtcApi {
  NvrtcResult (*nvrtcVersion)(int* major, int* minor);
  const char* (*nvrtcGetErrorString)(NvrtcResult result);
  NvrtcResult (*nvrtcGetNumSupportedArchs)(int* count);
  NvrtcResult (*nvrtcGetSupportedArchs)(int* archs);
  NvrtcResult (*nvrtcCreateProgram)(NvrtcProgram* program, const char* source, const char* name,
                                    int header_count, const char* const* headers,
                                    const char* const* include_names);
  NvrtcResult (*nvrtcDestroyProgram)(NvrtcProgram* program);
  NvrtcResult (*nvrtcAddNameExpression)(NvrtcProgram program, const char* expression);
  NvrtcResult (*nvrtcCompileProgram)(NvrtcProgram program, int option_count,
                                     const char* const* options);
  NvrtcResult (*nvrtcGetLoweredName)(NvrtcProgram program, const char* expression,
                                     const char** lowered);
  NvrtcResult (*nvrtcGetProgramLogSize)(NvrtcProgram program, size_t* size);
  NvrtcResult (*nvrtcGetProgramLog)(NvrtcProgram program, char* log);
  NvrtcResult (*nvrtcGetCUBINSize)(NvrtcProgram program, size_t* size);
  NvrtcResult (*nvrtcGetCUBIN)(NvrtcProgram program, char* cubin);
  NvrtcResult (*nvrtcGetPTXSize)(NvrtcProgram program, size_t* size);
  NvrtcResult (*nvrtcGetPTX)(NvrtcProgram program, char* ptx);
};

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_CUDA_API_H_
