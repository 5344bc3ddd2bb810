/*
 * devtensor — one C API for tensors on CPU, WebGPU and CUDA memory.
 *
 * The model
 *   DtEnv      process-level object: the registry of providers and of their data transfers.
 *   DtDevice   (type, id) with DLPack numbering, owned by the provider that serves it.
 *   storage    (device, handle, size in bytes), reference counted, never exposed as an object.
 *              The handle is a pointer on addressable devices (CPU, CUDA) and an opaque object
 *              (a WGPUBuffer) on the others.
 *   DtValue    a tensor: storage + byte offset + shape + strides (in elements) + element type.
 *              The byte offset is never folded into the handle.
 *   view       a DtValue sharing another's storage; it keeps the storage alive.
 *   DtStream   an ordered queue of work on one device.
 *
 * What a storage handle is, per device (DtGetTensorBuffer, DtCreateTensorWithData)
 *   CPU      a host pointer; DtGetTensorData gives handle + byte offset.
 *   CUDA     a device pointer; likewise.
 *   WebGPU   a WGPUBuffer of the env's WGPUDevice (DtGetDeviceNativeHandle). The byte offset is
 *            separate and must be honoured by whoever binds the buffer; DtGetTensorData refuses.
 *            A wrapped WGPUBuffer needs CopySrc | CopyDst usage, and Storage usage for views at
 *            offsets or sizes that are not multiples of 4 or that are strided; the tensor holds a
 *            reference to it while it lives.
 *
 * Conventions
 *   - Every function that can fail returns DtStatus*: NULL means success; otherwise the caller owns
 *     the status and releases it with DtReleaseStatus.
 *   - Out-parameters come last and are written only on success.
 *   - Every argument is validated before any side effect. Errors name the argument and quote the
 *     numbers.
 *   - All functions are thread-safe. Objects may be released in any order: tensors, views,
 *     streams and graphs keep what they use alive, also after DtReleaseEnv.
 *   - An enum argument or field may hold any int (C allows it): numbers the enum does not name
 *     are refused like any other bad argument, never used.
 */
#ifndef DEVTENSOR_DEVTENSOR_H_
#define DEVTENSOR_DEVTENSOR_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define DT_EXPORT __declspec(dllexport)
#else
#define DT_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this header and of the library built from it. See DtGetVersion for the version of
 * the library actually loaded, and DtIsLibraryCompatible for the check an application makes. */
#define DT_VERSION_MAJOR 0
#define DT_VERSION_MINOR 1
#define DT_VERSION_PATCH 0
#define DT_VERSION_STRING "0.1.0" /* the three numbers above, as text */

typedef struct DtEnv DtEnv;
typedef struct DtDevice DtDevice;
typedef struct DtValue DtValue;
typedef struct DtStream DtStream;
typedef struct DtStatus DtStatus; /* NULL DtStatus* means success */

typedef enum DtErrorCode {
  DT_OK = 0,
  DT_INVALID_ARGUMENT = 1,   /* an argument is malformed: null, negative, wrong type or shape */
  DT_OUT_OF_RANGE = 2,       /* an offset, extent or index falls outside what it refers to */
  DT_NOT_SUPPORTED = 3,      /* valid, but this device or provider cannot do it */
  DT_NOT_FOUND = 4,          /* no such device, provider or symbol */
  DT_FAILED_PRECONDITION = 5,/* the system is not in a state that allows it (e.g. objects alive) */
  DT_OUT_OF_MEMORY = 6,
  DT_DEVICE_LOST = 7,
  DT_INTERNAL = 8
} DtErrorCode;

/* Element types use ONNX TensorProto numbering. */
typedef enum DtElementType {
  DT_FLOAT = 1,
  DT_UINT8 = 2,
  DT_INT8 = 3,
  DT_UINT16 = 4,
  DT_INT16 = 5,
  DT_INT32 = 6,
  DT_INT64 = 7,
  DT_BOOL = 9,
  DT_FLOAT16 = 10,
  DT_DOUBLE = 11,
  DT_UINT32 = 12,
  DT_UINT64 = 13,
  DT_BFLOAT16 = 16
} DtElementType;

/* Device types use DLPack numbering; numbers are never renumbered. */
typedef enum DtDeviceType {
  DT_DEVICE_CPU = 1,
  DT_DEVICE_CUDA = 2,
  DT_DEVICE_CUDA_HOST = 3,
  DT_DEVICE_VULKAN = 7,
  DT_DEVICE_METAL = 8,
  DT_DEVICE_ROCM = 10,
  DT_DEVICE_EXT_DEV = 12, /* DLPack's extension device, for experimental and test providers */
  DT_DEVICE_WEBGPU = 15
} DtDeviceType;

#define DT_MAX_RANK 8

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */

/* Writes the version of the loaded library; each pointer may be NULL. */
DT_EXPORT void DtGetVersion(uint32_t* major, uint32_t* minor, uint32_t* patch);

/* 1 when the loaded library serves the header this code was compiled with: the same major version
 * and a minor version at least the header's. A library older than its header may lack functions
 * and struct fields the header declares, so an application checks this once at start-up and
 * refuses to run on 0. */
static inline int DtIsLibraryCompatible(void) {
  uint32_t major = 0, minor = 0;
  DtGetVersion(&major, &minor, NULL);
  return major == DT_VERSION_MAJOR && minor >= DT_VERSION_MINOR;
}

/* ---------------------------------------------------------------------------------------------
 * Status
 * ------------------------------------------------------------------------------------------- */

/* The code of `status`; DT_OK for NULL. */
DT_EXPORT DtErrorCode DtGetErrorCode(const DtStatus* status);
/* The message of `status`, valid until the status is released; "" for NULL. */
DT_EXPORT const char* DtGetErrorMessage(const DtStatus* status);
/* Releases `status`; NULL is ignored. */
DT_EXPORT void DtReleaseStatus(DtStatus* status);
/* The name of `code`, e.g. "DT_OUT_OF_RANGE"; "DT_UNKNOWN" for numbers outside the enum. */
DT_EXPORT const char* DtGetErrorCodeName(DtErrorCode code);

/* ---------------------------------------------------------------------------------------------
 * Element types
 * ------------------------------------------------------------------------------------------- */

/* Bytes per element of `type`; 0 for a number that is not a DtElementType. */
DT_EXPORT size_t DtGetElementSize(DtElementType type);
/* The ONNX name of `type` ("float", "int64", "bfloat16", ...); "unknown" for other numbers. */
DT_EXPORT const char* DtGetElementTypeName(DtElementType type);
/* The name of a device type in words ("CPU", "CUDA", "CUDAHost", "Vulkan", "Metal", "ROCm",
 * "ExtDev", "WebGPU"); "unknown" for any other value. */
DT_EXPORT const char* DtGetDeviceTypeName(DtDeviceType type);

/* ---------------------------------------------------------------------------------------------
 * Environment and providers
 * ------------------------------------------------------------------------------------------- */

/* Creates an environment with the built-in CPU provider and every internal provider library
 * (WebGPU, CUDA) found beside the devtensor library. A missing internal provider is not an error;
 * DtGetDevice then reports DT_NOT_FOUND for its device type. */
DT_EXPORT DtStatus* DtCreateEnv(DtEnv** env);

/* Releases `env` and its references to its providers. Tensors, views and streams created through
 * it stay valid: each keeps its provider loaded until it is released. NULL is ignored. */
DT_EXPORT void DtReleaseEnv(DtEnv* env);

/* Loads the provider library at `library_path` (a shared library exporting DtProviderInit, see
 * devtensor_provider.h) under `registration_name` and registers its devices and data transfers in
 * `env`. Fails with DT_INVALID_ARGUMENT when the name is taken, DT_NOT_FOUND when the library or its
 * entry point cannot be loaded, DT_NOT_SUPPORTED when its ABI version is not one this library
 * speaks, DT_FAILED_PRECONDITION when one of its device types is already served in `env`. On
 * failure nothing stays loaded. */
DT_EXPORT DtStatus* DtRegisterProviderLibrary(DtEnv* env, const char* registration_name,
                                              const char* library_path);

/* Removes the provider registered as `registration_name` and unloads its library. Fails with
 * DT_FAILED_PRECONDITION, and unloads nothing, while any tensor or stream of it is alive;
 * DT_NOT_FOUND for an unknown name; DT_INVALID_ARGUMENT for the built-in "cpu". */
DT_EXPORT DtStatus* DtUnregisterProviderLibrary(DtEnv* env, const char* registration_name);

/* Number of providers registered in `env` (the built-in CPU provider included). */
DT_EXPORT DtStatus* DtGetProviderCount(const DtEnv* env, size_t* count);

/* Describes one provider. Initialise with DT_PROVIDER_INFO_INIT so that `struct_size` is set;
 * fields appended in later versions are left untouched for callers built against older headers. */
typedef struct DtProviderInfo {
  size_t struct_size;
  char registration_name[64];
  char provider_name[64];     /* the name the library gives itself */
  char library_path[512];     /* "" for the built-in CPU provider */
  uint32_t abi_major;         /* provider ABI the library was built against */
  uint32_t abi_minor;
  DtDeviceType device_type;   /* of its first device type */
  int32_t device_count;       /* devices of all its device types */
  char version[32];           /* the library's own version ("0.1.0"); "" when it does not say */
} DtProviderInfo;
#define DT_PROVIDER_INFO_INIT {sizeof(DtProviderInfo), {0}, {0}, {0}, 0, 0, (DtDeviceType)0, 0, {0}}

/* Fills `info` for the provider at `index` (0 <= index < DtGetProviderCount). */
DT_EXPORT DtStatus* DtGetProviderInfo(const DtEnv* env, size_t index, DtProviderInfo* info);

/* Why provider libraries that ship with devtensor (libdevtensor_webgpu.so) are missing from
 * `env`: one line per library DtCreateEnv tried and could not load, with its path, the reason and
 * how to fix it; "" when every one was loaded. `*text` is valid while `env` is. */
DT_EXPORT DtStatus* DtGetProviderLoadErrors(const DtEnv* env, const char** text);

/* Number of devices of `type` in `env` (0 when no provider serves it). */
DT_EXPORT DtStatus* DtGetDeviceCount(const DtEnv* env, DtDeviceType type, int32_t* count);

/* Finds device (`type`, `device_id`). The device stays valid while `env` or any tensor or stream on
 * it lives. DT_NOT_FOUND names what was looked for and what exists. */
DT_EXPORT DtStatus* DtGetDevice(DtEnv* env, DtDeviceType type, int32_t device_id,
                                const DtDevice** device);

/* Describes a device. Initialise with DT_DEVICE_INFO_INIT. */
typedef struct DtDeviceInfo {
  size_t struct_size;
  DtDeviceType type;
  int32_t id;
  char name[128];
  char provider_name[64];
  int32_t is_addressable;     /* 1: handles are pointers (DtGetTensorData works); 0: opaque */
  int32_t has_streams;        /* 1: streams run asynchronously; 0: stream work runs in order, synchronously */
  uint64_t memory_bytes;      /* 0 when unknown */
  uint64_t max_allocation_bytes; /* 0 when unknown */
  uint32_t offset_alignment;  /* bytes; what the device needs for copy offsets (1 = any) */
  int32_t runs_on_cpu;        /* 1: the device is emulated by the host's CPU (a software adapter such
                                 as lavapipe), so expect it slower than host memory; 0 otherwise */
} DtDeviceInfo;
#define DT_DEVICE_INFO_INIT {sizeof(DtDeviceInfo), (DtDeviceType)0, 0, {0}, {0}, 0, 0, 0, 0, 0, 0}

/* Fills `info` for `device`. */
DT_EXPORT DtStatus* DtGetDeviceInfo(const DtDevice* device, DtDeviceInfo* info);
/* The device's native object named `name`, borrowed (do not release it): on WebGPU devices
 * "WGPUInstance", "WGPUAdapter", "WGPUDevice" and "WGPUQueue", so that an application can create
 * its own buffers and wrap them with DtCreateTensorWithData. Valid while the device is.
 * DT_NOT_FOUND for a name the device's provider does not know. */
DT_EXPORT DtStatus* DtGetDeviceNativeHandle(const DtDevice* device, const char* name, void** handle);

/* Type and id of `device`; 0 and -1 for NULL. */
DT_EXPORT DtDeviceType DtGetDeviceType(const DtDevice* device);
DT_EXPORT int32_t DtGetDeviceId(const DtDevice* device);

/* ---------------------------------------------------------------------------------------------
 * Tensors and views
 *
 * Shapes have 0 <= rank <= DT_MAX_RANK and dimensions >= 0 (a zero dimension makes an empty
 * tensor). Strides are in elements. Sizes and offsets are checked with overflow-safe arithmetic.
 * ------------------------------------------------------------------------------------------- */

/* Allocates a contiguous tensor on `device`. Its contents are unspecified until written. */
DT_EXPORT DtStatus* DtCreateTensor(DtEnv* env, const DtDevice* device, DtElementType type,
                                   const int64_t* shape, size_t rank, DtValue** tensor);

/* Wraps caller memory without copying. `data` is the whole buffer: a pointer on addressable
 * devices, the device's buffer object (a WGPUBuffer) on opaque ones; `data_bytes` is its size and
 * `byte_offset` where the contiguous tensor starts inside it. The caller keeps ownership and must
 * keep the buffer alive while the tensor and its views live. `byte_offset` must be a multiple of
 * the element size, and byte_offset + the tensor's bytes must not exceed data_bytes. */
DT_EXPORT DtStatus* DtCreateTensorWithData(DtEnv* env, const DtDevice* device, void* data,
                                           size_t data_bytes, size_t byte_offset,
                                           DtElementType type, const int64_t* shape, size_t rank,
                                           DtValue** tensor);

/* A contiguous view of `base`'s storage. `byte_offset` is relative to the first byte of `base`
 * and the view must lie inside base's extent (the bytes from its first to its last element). The
 * type may differ from base's (a reinterpretation); the view's offset in the storage must be a
 * multiple of the view's element size. The view keeps the storage alive; views of views refer to
 * the root storage directly. */
DT_EXPORT DtStatus* DtCreateTensorView(const DtValue* base, size_t byte_offset, DtElementType type,
                                       const int64_t* shape, size_t rank, DtValue** view);

/* The view base[..., start:start+length, ...] along `axis`. Strides are kept, so a slice of any
 * axis but the first is in general not contiguous. Needs axis < rank, 0 <= start, 0 <= length
 * and start + length <= shape[axis]; otherwise DT_OUT_OF_RANGE. */
DT_EXPORT DtStatus* DtSliceTensor(const DtValue* base, size_t axis, int64_t start, int64_t length,
                                  DtValue** view);

/* Element type, rank and shape of `tensor`. `shape` may be NULL when `capacity` is 0 (to ask for
 * the rank); otherwise `capacity` must be >= the rank. `type` and `rank` may be NULL. */
DT_EXPORT DtStatus* DtGetTensorShape(const DtValue* tensor, DtElementType* type, int64_t* shape,
                                     size_t capacity, size_t* rank);

/* Strides of `tensor`, in elements; `capacity` must be >= its rank. */
DT_EXPORT DtStatus* DtGetTensorStrides(const DtValue* tensor, int64_t* strides, size_t capacity);

/* 1 when `tensor`'s elements are laid out densely in row-major order, else 0 (0 for NULL). */
DT_EXPORT int32_t DtIsTensorContiguous(const DtValue* tensor);

/* Number of elements of `tensor`, and the bytes its elements span in the storage (first to last
 * element inclusive; equal to elements * element size when contiguous). */
DT_EXPORT DtStatus* DtGetTensorSize(const DtValue* tensor, size_t* element_count,
                                    size_t* extent_bytes);

/* Address of element [0, ..., 0] (storage pointer + byte offset) on addressable devices (CPU,
 * CUDA); DT_NOT_SUPPORTED on devices with opaque handles (use DtGetTensorBuffer). */
DT_EXPORT DtStatus* DtGetTensorData(const DtValue* tensor, void** data);

/* The storage of `tensor`: its handle (a pointer, or a WGPUBuffer on WebGPU) exactly as allocated
 * or wrapped, the byte offset of element [0, ..., 0] inside it, and the storage size. The offset is
 * never folded into the handle. Any out-parameter may be NULL. */
DT_EXPORT DtStatus* DtGetTensorBuffer(const DtValue* tensor, void** handle, size_t* byte_offset,
                                      size_t* buffer_bytes);

/* The device `tensor` lives on; valid while the tensor lives. NULL for NULL. */
DT_EXPORT const DtDevice* DtGetTensorDevice(const DtValue* tensor);

/* Releases a tensor or view; its storage goes when the last view of it goes. NULL is ignored. */
DT_EXPORT void DtReleaseValue(DtValue* value);

/* ---------------------------------------------------------------------------------------------
 * Copies
 * ------------------------------------------------------------------------------------------- */

/* Copies src[i] into dst[i] for i in [0, count). Each pair has one element type and one shape;
 * either side may be contiguous or strided, on any devices. Every pair is validated before anything
 * is copied: on bad input nothing is written. Destinations that overlap each other are an error.
 * Pairs take effect in order, so a pair may read what an earlier pair wrote. The source and
 * destination of one pair may share a buffer, overlapping too (memmove semantics).
 *
 * With `stream` NULL the call returns when the data is in place. With a stream the work is ordered
 * after earlier work on it and may still be running on return; DtSynchronizeStream waits for it.
 * Tensors used by queued work stay alive until the stream is synchronised or released.
 *
 * The env picks each pair's data transfer through its registry (each provider's CanCopy); a pair no
 * provider copies directly goes through host memory. */
DT_EXPORT DtStatus* DtCopyTensors(DtEnv* env, const DtValue* const* src, DtValue* const* dst,
                                  size_t count, DtStream* stream);

/* Sets every byte of `tensor`'s elements to zero (only the view's elements; strided views leave the
 * gaps between their elements untouched). Stream semantics as in DtCopyTensors. */
DT_EXPORT DtStatus* DtZeroTensor(DtEnv* env, DtValue* tensor, DtStream* stream);

/* ---------------------------------------------------------------------------------------------
 * Streams
 * ------------------------------------------------------------------------------------------- */

/* Creates an ordered queue of work on `device`. On devices whose provider has no streams the
 * stream still orders work: each call runs synchronously. */
DT_EXPORT DtStatus* DtCreateStream(DtEnv* env, const DtDevice* device, DtStream** stream);

/* Waits until all work issued on `stream` has finished; reports the first error that work hit.
 * When that work raised a device error flag (see DtGetDeviceErrorFlags), fails with
 * DT_OUT_OF_RANGE naming the op; the flag stays for DtGetDeviceErrorFlags to read too. */
DT_EXPORT DtStatus* DtSynchronizeStream(DtStream* stream);

/* The device of `stream`; NULL for NULL. */
DT_EXPORT const DtDevice* DtGetStreamDevice(const DtStream* stream);

/* Waits for the stream's work, then releases it. NULL is ignored. */
DT_EXPORT void DtReleaseStream(DtStream* stream);

/* ---------------------------------------------------------------------------------------------
 * Ops
 *
 * An op runs on the device of its tensors: every input and output must live on one device, else
 * DT_INVALID_ARGUMENT. Inputs and outputs may be views at any element offset and strided;
 * outputs are written in place and only their elements are written; an output may share storage
 * with an input (in-place updates). DT_NOT_SUPPORTED names the op, the element type and the
 * device when no kernel exists. Stream semantics as in DtCopyTensors.
 *
 * ONNX ops (ONNX semantics, names and attributes; the caller allocates outputs of the right
 * shape): Cast (to), Add, Sub, Mul, Div (multidirectional broadcasting), Where, ScatterND
 * (reduction "none" only: a `reduction` attribute is refused), ArgMax (axis, keepdims,
 * select_last_index), Expand.
 *   - Cast: float to integer truncates toward zero and saturates, NaN gives 0; integer to integer
 *     wraps; to float16 / bfloat16 rounds to nearest even.
 *   - Integers wrap on overflow. Integer division by zero fails with DT_INVALID_ARGUMENT on the
 *     host before anything is written; a device cannot report it and yields the dividend.
 *   - ScatterND: an index out of range fails with DT_OUT_OF_RANGE on the host, writing nothing;
 *     on a device that update is skipped and DT_DEVICE_ERROR_SCATTER_INDEX is raised.
 *   - Expand: on the host the `shape` input is read and must match the output; on a device the
 *     output's shape decides and `shape` is not read (it would cost a read-back).
 *   - Scalars (total_length, position) are int32 tensors of exactly one element, of any rank.
 *
 * devtensor's decode ops:
 *   Fill                 outputs: y. Attribute `value` (float). Every element of y := value,
 *                        converted to y's type as Cast would.
 *   UpdateAttentionMask  inputs: total_length (int32 scalar, any device of the op's).
 *                        outputs: mask [batch, max_length], int32 or int64, updated in place:
 *                        mask[:, :total_length] = 1 and mask[:, total_length:] = 0, with
 *                        total_length clamped to [0, max_length].
 *   UpdatePositionIds    outputs: position_ids (int32 or int64), in place: += increment.
 *                        Attribute `increment` (int, default 1).
 *   KvCacheAppend        inputs: new_kv [batch, heads, new_len, head_dim], position (int32
 *                        scalar). outputs: cache [batch, heads, max_len, head_dim], in place:
 *                        cache[:, :, position:position+new_len, :] = new_kv. When position < 0
 *                        or position + new_len > max_len the cache is left as it was: on a host
 *                        path the op fails with DT_OUT_OF_RANGE; on a device path, where the
 *                        position is known only to the device, the write is skipped and
 *                        DtGetDeviceErrorFlags reports it.
 * ------------------------------------------------------------------------------------------- */

typedef struct DtGraph DtGraph;

typedef enum DtAttributeType {
  DT_ATTR_INT = 1,
  DT_ATTR_FLOAT = 2,
  DT_ATTR_INTS = 3,
  DT_ATTR_FLOATS = 4
} DtAttributeType;

typedef struct DtAttribute {
  const char* name;
  DtAttributeType type;
  int64_t i;
  float f;
  const int64_t* ints;
  const float* floats;
  size_t count; /* of ints or floats */
} DtAttribute;

/* Runs `op_type` on the device of its tensors. See the list above. */
DT_EXPORT DtStatus* DtRunOp(DtEnv* env, const char* op_type, const DtValue* const* inputs,
                            size_t num_inputs, DtValue* const* outputs, size_t num_outputs,
                            const DtAttribute* attributes, size_t num_attributes,
                            DtStream* stream);

/* Error flags a device's kernels raised since the last call, which clears them: bit 0 a
 * KvCacheAppend position out of range (the write was skipped), bit 1 a ScatterND index out of
 * range (that update was skipped). Sees all the device's work issued so far: work queued on
 * streams that were not synchronised is started and waited for too. 0 on devices whose ops check
 * on the host (CPU: those ops fail instead). */
#define DT_DEVICE_ERROR_KV_POSITION 1u
#define DT_DEVICE_ERROR_SCATTER_INDEX 2u
DT_EXPORT DtStatus* DtGetDeviceErrorFlags(const DtDevice* device, uint32_t* flags);

/* Starts recording the copies, clears and ops issued on `stream`; nothing runs while recording.
 * DT_NOT_SUPPORTED on devices that cannot record. */
DT_EXPORT DtStatus* DtBeginCapture(DtStream* stream);
/* Stops recording and returns what was recorded, made ready to replay (on WebGPU: ordered by what
 * each call reads and writes, independent ops of one kernel batched into one dispatch, kernels
 * compiled). A recording that holds nothing (its calls were issued with no stream or on another
 * stream, which run at once) fails with DT_FAILED_PRECONDITION. An error here (also the device
 * was lost, out of memory) leaves no graph, and the stream records no more. */
DT_EXPORT DtStatus* DtEndCapture(DtStream* stream, DtGraph** graph);
/* Runs a recorded graph again on `stream`, with nothing recorded anew. The graph holds the
 * storages of every tensor its recording used until it is released, so those tensors, the stream
 * they were recorded on and the env may be released before it. It reads its data-dependent
 * positions from device tensors, so replaying equals issuing the calls again. Host memory the
 * caller wrapped must still be there. Synchronise `stream` to wait for it (see
 * DtSynchronizeStream for the error flags its ops raise). */
DT_EXPORT DtStatus* DtReplayGraph(DtGraph* graph, DtStream* stream);
/* Releases a graph; NULL is ignored. */
DT_EXPORT void DtReleaseGraph(DtGraph* graph);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DEVTENSOR_DEVTENSOR_H_ */
