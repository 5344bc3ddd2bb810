/**
 * @file
 * @brief devtensor — one C API for tensors on CPU, WebGPU and CUDA memory.
 *
 * @par The model
 * - @ref DtEnv — process-level object: the registry of providers and of their data transfers.
 * - @ref DtDevice — (type, id) with DLPack numbering, owned by the provider that serves it.
 * - storage — (device, handle, size in bytes), reference counted, never exposed as an object.
 *   The handle is a pointer on addressable devices (CPU, CUDA) and an opaque object
 *   (a WGPUBuffer) on the others.
 * - @ref DtValue — a tensor: storage + byte offset + shape + strides (in elements) + element
 *   type. The byte offset is never folded into the handle.
 * - view — a DtValue sharing another's storage; it keeps the storage alive.
 * - @ref DtStream — an ordered queue of work on one device.
 *
 * @par What a storage handle is, per device (DtGetTensorBuffer(), DtCreateTensorWithData())
 * - CPU: a host pointer; DtGetTensorData() gives handle + byte offset.
 * - CUDA: a device pointer of the device's primary context (the one the CUDA runtime and
 *   PyTorch use); likewise. A wrapped pointer must be device memory of that device, with
 *   [data, data + data_bytes) inside one allocation; the application keeps it alive.
 * - WebGPU: a WGPUBuffer of the env's WGPUDevice (DtGetDeviceNativeHandle()). The byte offset is
 *   separate and must be honoured by whoever binds the buffer; DtGetTensorData() refuses.
 *   A wrapped WGPUBuffer needs CopySrc | CopyDst usage, and Storage usage for views at
 *   offsets or sizes that are not multiples of 4 or that are strided; the tensor holds a
 *   reference to it while it lives.
 *
 * @par Conventions
 * - Every function that can fail returns DtStatus*: NULL means success; otherwise the caller owns
 *   the status and releases it with DtReleaseStatus().
 * - Out-parameters come last and are written only on success.
 * - Every argument is validated before any side effect. Errors name the argument and quote the
 *   numbers.
 * - All functions are thread-safe. Objects may be released in any order: tensors, views,
 *   streams and graphs keep what they use alive, also after DtReleaseEnv().
 * - An enum argument or field may hold any int (C allows it): numbers the enum does not name
 *   are refused like any other bad argument, never used.
 */
#ifndef DEVTENSOR_DEVTENSOR_H_
#define DEVTENSOR_DEVTENSOR_H_

#include <stddef.h>
#include <stdint.h>

/**
 * @defgroup dt_api C API
 * @brief The functions, types and macros of devtensor.h, by topic.
 */

/**
 * @addtogroup dt_version
 * @{
 */

#if defined(_WIN32)
#define DT_EXPORT __declspec(dllexport)
#else
/** Marks a function the devtensor library exports (default symbol visibility). */
#define DT_EXPORT __attribute__((visibility("default")))
#endif

/** @} */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @addtogroup dt_version
 * @{
 */

/**
 * @name Version of this header
 * Version of this header and of the library built from it. See DtGetVersion() for the version of
 * the library actually loaded, and DtIsLibraryCompatible() for the check an application makes.
 * @{
 */
/** Major version: changes only when the C API or the provider ABI changes incompatibly. */
#define DT_VERSION_MAJOR 0
/** Minor version: grows with additions (functions, appended struct fields, enum values, ops). */
#define DT_VERSION_MINOR 1
/** Patch version: grows with fixes that add nothing to the API. */
#define DT_VERSION_PATCH 0
#define DT_VERSION_STRING "0.1.0" /**< the three numbers above, as text */
/** @} */

/** @} */

/** Environment: the registry of providers and of their data transfers (see DtCreateEnv()).
 * @ingroup dt_env */
typedef struct DtEnv DtEnv;
/** A device: (type, id) with DLPack numbering, owned by the provider that serves it
 * (see DtGetDevice()). @ingroup dt_devices */
typedef struct DtDevice DtDevice;
/** A tensor or a view: storage + byte offset + shape + strides (in elements) + element type
 * (see DtCreateTensor()). @ingroup dt_tensors */
typedef struct DtValue DtValue;
/** An ordered queue of work on one device (see DtCreateStream()). @ingroup dt_streams */
typedef struct DtStream DtStream;
/** An error: a DtErrorCode and a message. NULL DtStatus* means success.
 * @ingroup dt_status */
typedef struct DtStatus DtStatus;

/** What went wrong: the code of a DtStatus (DtGetErrorCode()). @ingroup dt_status */
typedef enum DtErrorCode {
  DT_OK = 0,                 /**< success (the code of a NULL status) */
  DT_INVALID_ARGUMENT = 1,   /**< an argument is malformed: null, negative, wrong type or shape */
  DT_OUT_OF_RANGE = 2,       /**< an offset, extent or index falls outside what it refers to */
  DT_NOT_SUPPORTED = 3,      /**< valid, but this device or provider cannot do it */
  DT_NOT_FOUND = 4,          /**< no such device, provider or symbol */
  /** the system is not in a state that allows it (e.g.\ objects alive) */
  DT_FAILED_PRECONDITION = 5,
  DT_OUT_OF_MEMORY = 6,      /**< memory could not be allocated */
  DT_DEVICE_LOST = 7,        /**< the device was lost or stopped responding */
  DT_INTERNAL = 8            /**< an unexpected failure inside devtensor or a provider */
} DtErrorCode;

/** Element types use ONNX TensorProto numbering. @ingroup dt_types */
typedef enum DtElementType {
  DT_FLOAT = 1,     /**< 32-bit IEEE float ("float") */
  DT_UINT8 = 2,     /**< 8-bit unsigned integer ("uint8") */
  DT_INT8 = 3,      /**< 8-bit signed integer ("int8") */
  DT_UINT16 = 4,    /**< 16-bit unsigned integer ("uint16") */
  DT_INT16 = 5,     /**< 16-bit signed integer ("int16") */
  DT_INT32 = 6,     /**< 32-bit signed integer ("int32") */
  DT_INT64 = 7,     /**< 64-bit signed integer ("int64") */
  DT_BOOL = 9,      /**< boolean, one byte ("bool") */
  DT_FLOAT16 = 10,  /**< 16-bit IEEE half float ("float16") */
  DT_DOUBLE = 11,   /**< 64-bit IEEE float ("double") */
  DT_UINT32 = 12,   /**< 32-bit unsigned integer ("uint32") */
  DT_UINT64 = 13,   /**< 64-bit unsigned integer ("uint64") */
  DT_BFLOAT16 = 16  /**< 16-bit brain float ("bfloat16") */
} DtElementType;

/** Device types use DLPack numbering; numbers are never renumbered. @ingroup dt_devices */
typedef enum DtDeviceType {
  DT_DEVICE_CPU = 1,       /**< host memory ("CPU") */
  DT_DEVICE_CUDA = 2,      /**< CUDA device memory ("CUDA") */
  DT_DEVICE_CUDA_HOST = 3, /**< CUDA pinned host memory ("CUDAHost") */
  DT_DEVICE_VULKAN = 7,    /**< Vulkan ("Vulkan") */
  DT_DEVICE_METAL = 8,     /**< Metal ("Metal") */
  DT_DEVICE_ROCM = 10,     /**< ROCm ("ROCm") */
  DT_DEVICE_EXT_DEV = 12, /**< DLPack's extension device, for experimental and test providers */
  DT_DEVICE_WEBGPU = 15    /**< WebGPU ("WebGPU") */
} DtDeviceType;

/** The largest rank of a tensor: shapes have 0 <= rank <= DT_MAX_RANK. @ingroup dt_tensors */
#define DT_MAX_RANK 8

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_version Version
 * @ingroup dt_api
 * @brief The version of the header and of the loaded library, the check between them, and
 * DT_EXPORT.
 * @{
 */

/**
 * Writes the version of the loaded library; each pointer may be NULL.
 *
 * @param[out] major receives the major version, or NULL
 * @param[out] minor receives the minor version, or NULL
 * @param[out] patch receives the patch version, or NULL
 */
DT_EXPORT void DtGetVersion(uint32_t* major, uint32_t* minor, uint32_t* patch);

/**
 * 1 when the loaded library serves the header this code was compiled with: the same major version
 * and a minor version at least the header's. A library older than its header may lack functions
 * and struct fields the header declares, so an application checks this once at start-up and
 * refuses to run on 0.
 *
 * @return 1 when the loaded library is compatible with this header, else 0
 */
static inline int DtIsLibraryCompatible(void) {
  uint32_t major = 0, minor = 0;
  DtGetVersion(&major, &minor, NULL);
  return major == DT_VERSION_MAJOR && minor >= DT_VERSION_MINOR;
}

/** @} */

/* ---------------------------------------------------------------------------------------------
 * Status
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_status Status
 * @ingroup dt_api
 * @brief Errors: every function that can fail returns a DtStatus*, NULL on success.
 *
 * A non-NULL status belongs to the caller, who releases it with DtReleaseStatus().
 * @{
 */

/**
 * The code of `status`; DT_OK for NULL.
 *
 * @param status a status, or NULL
 * @return its code
 */
DT_EXPORT DtErrorCode DtGetErrorCode(const DtStatus* status);
/**
 * The message of `status`, valid until the status is released; "" for NULL.
 *
 * @param status a status, or NULL
 * @return its message
 */
DT_EXPORT const char* DtGetErrorMessage(const DtStatus* status);
/**
 * Releases `status`; NULL is ignored.
 *
 * @param status the status to release, or NULL
 */
DT_EXPORT void DtReleaseStatus(DtStatus* status);
/**
 * The name of `code`, e.g.\ "DT_OUT_OF_RANGE"; "DT_UNKNOWN" for numbers outside the enum.
 *
 * @param code any number
 * @return a static string
 */
DT_EXPORT const char* DtGetErrorCodeName(DtErrorCode code);

/** @} */

/* ---------------------------------------------------------------------------------------------
 * Element types
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_types Element types
 * @ingroup dt_api
 * @brief The element types of tensors (ONNX TensorProto numbering), their sizes and names.
 * @{
 */

/**
 * Bytes per element of `type`; 0 for a number that is not a DtElementType.
 *
 * @param type any number
 * @return the element size in bytes, or 0
 */
DT_EXPORT size_t DtGetElementSize(DtElementType type);
/**
 * The ONNX name of `type` ("float", "int64", "bfloat16", ...); "unknown" for other numbers.
 *
 * @param type any number
 * @return a static string
 */
DT_EXPORT const char* DtGetElementTypeName(DtElementType type);

/** @} */

/**
 * The name of a device type in words ("CPU", "CUDA", "CUDAHost", "Vulkan", "Metal", "ROCm",
 * "ExtDev", "WebGPU"); "unknown" for any other value.
 *
 * @param type any number
 * @return a static string
 * @ingroup dt_devices
 */
DT_EXPORT const char* DtGetDeviceTypeName(DtDeviceType type);

/* ---------------------------------------------------------------------------------------------
 * Environment and providers
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_env Environment and providers
 * @ingroup dt_api
 * @brief The environment and its registry of provider libraries (see also @ref dt_provider).
 * @{
 */

/**
 * Creates an environment with the built-in CPU provider and every internal provider library
 * (WebGPU, CUDA) found beside the devtensor library. A missing internal provider is not an error;
 * DtGetDevice() then reports DT_NOT_FOUND for its device type.
 *
 * @param[out] env receives the new environment; release it with DtReleaseEnv()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtCreateEnv(DtEnv** env);

/**
 * Releases `env` and its references to its providers. Tensors, views and streams created through
 * it stay valid: each keeps its provider loaded until it is released. NULL is ignored.
 *
 * @param env the environment to release, or NULL
 */
DT_EXPORT void DtReleaseEnv(DtEnv* env);

/**
 * Loads the provider library at `library_path` (a shared library exporting DtProviderInit(), see
 * devtensor_provider.h) under `registration_name` and registers its devices and data transfers in
 * `env`. Fails with DT_INVALID_ARGUMENT when the name is taken, DT_NOT_FOUND when the library or
 * its entry point cannot be loaded, DT_NOT_SUPPORTED when its ABI version is not one this library
 * speaks, DT_FAILED_PRECONDITION when one of its device types is already served in `env`. On
 * failure nothing stays loaded.
 *
 * @param env the environment
 * @param registration_name the name the provider is registered under
 * @param library_path path of the provider's shared library
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtRegisterProviderLibrary(DtEnv* env, const char* registration_name,
                                              const char* library_path);

/**
 * Removes the provider registered as `registration_name` and unloads its library. Fails with
 * DT_FAILED_PRECONDITION, and unloads nothing, while any tensor or stream of it is alive;
 * DT_NOT_FOUND for an unknown name; DT_INVALID_ARGUMENT for the built-in "cpu".
 *
 * @param env the environment
 * @param registration_name the name given to DtRegisterProviderLibrary()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtUnregisterProviderLibrary(DtEnv* env, const char* registration_name);

/**
 * Number of providers registered in `env` (the built-in CPU provider included).
 *
 * @param env the environment
 * @param[out] count receives the number of providers
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetProviderCount(const DtEnv* env, size_t* count);

/** Describes one provider. Initialise with DT_PROVIDER_INFO_INIT so that `struct_size` is set;
 * fields appended in later versions are left untouched for callers built against older headers. */
typedef struct DtProviderInfo {
  size_t struct_size;         /**< sizeof(DtProviderInfo) as the caller knows it */
  char registration_name[64]; /**< the name it is registered under ("cpu" for the built-in one) */
  char provider_name[64];     /**< the name the library gives itself */
  char library_path[512];     /**< the library's path; "" for the built-in CPU provider */
  uint32_t abi_major;         /**< provider ABI the library was built against */
  uint32_t abi_minor;         /**< minor version of that provider ABI */
  DtDeviceType device_type;   /**< of its first device type */
  int32_t device_count;       /**< devices of all its device types */
  char version[32];           /**< the library's own version ("0.1.0"); "" when it does not say */
} DtProviderInfo;
/** Initialiser of a DtProviderInfo: sets `struct_size`, zeroes the rest. */
#define DT_PROVIDER_INFO_INIT {sizeof(DtProviderInfo), {0}, {0}, {0}, 0, 0, (DtDeviceType)0, 0, {0}}

/**
 * Fills `info` for the provider at `index` (0 <= index < DtGetProviderCount()).
 *
 * @param env the environment
 * @param index which provider
 * @param[in,out] info initialised with DT_PROVIDER_INFO_INIT; filled on success
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetProviderInfo(const DtEnv* env, size_t index, DtProviderInfo* info);

/**
 * Why provider libraries that ship with devtensor (libdevtensor_webgpu.so) are missing from
 * `env`: one line per library DtCreateEnv() tried and could not load, with its path, the reason and
 * how to fix it; "" when every one was loaded. `*text` is valid while `env` is.
 *
 * @param env the environment
 * @param[out] text receives the text
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetProviderLoadErrors(const DtEnv* env, const char** text);

/** @} */

/**
 * @defgroup dt_devices Devices
 * @ingroup dt_api
 * @brief Device types (DLPack numbering), the devices of an environment and what they can do.
 * @{
 */

/**
 * Number of devices of `type` in `env` (0 when no provider serves it).
 *
 * @param env the environment
 * @param type the device type
 * @param[out] count receives the number of devices
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetDeviceCount(const DtEnv* env, DtDeviceType type, int32_t* count);

/**
 * Finds device (`type`, `device_id`). The device stays valid while `env` or any tensor or stream on
 * it lives. DT_NOT_FOUND names what was looked for and what exists.
 *
 * @param env the environment
 * @param type the device type
 * @param device_id the device's id, from 0
 * @param[out] device receives the device (borrowed: it is not released)
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetDevice(DtEnv* env, DtDeviceType type, int32_t device_id,
                                const DtDevice** device);

/** Describes a device. Initialise with DT_DEVICE_INFO_INIT. */
typedef struct DtDeviceInfo {
  size_t struct_size;         /**< sizeof(DtDeviceInfo) as the caller knows it */
  DtDeviceType type;          /**< the device's type */
  int32_t id;                 /**< the device's id within its type */
  char name[128];             /**< the device's name, as its provider gives it */
  char provider_name[64];     /**< the name of the provider that serves it */
  int32_t is_addressable;     /**< 1: handles are pointers (DtGetTensorData() works); 0: opaque */
  int32_t has_streams;        /**< 1: streams run asynchronously; 0: stream work runs in order,
                                   synchronously */
  uint64_t memory_bytes;      /**< the device's memory in bytes; 0 when unknown */
  uint64_t max_allocation_bytes; /**< the largest allocation in bytes; 0 when unknown */
  uint32_t offset_alignment;  /**< bytes; what the device needs for copy offsets (1 = any) */
  int32_t runs_on_cpu;        /**< 1: the device is emulated by the host's CPU (a software adapter
                                   such as lavapipe), so expect it slower than host memory;
                                   0 otherwise */
} DtDeviceInfo;
/** Initialiser of a DtDeviceInfo: sets `struct_size`, zeroes the rest. */
#define DT_DEVICE_INFO_INIT {sizeof(DtDeviceInfo), (DtDeviceType)0, 0, {0}, {0}, 0, 0, 0, 0, 0, 0}

/**
 * Fills `info` for `device`.
 *
 * @param device the device
 * @param[in,out] info initialised with DT_DEVICE_INFO_INIT; filled on success
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetDeviceInfo(const DtDevice* device, DtDeviceInfo* info);
/**
 * The device's native object named `name`, borrowed (do not release it): on WebGPU devices
 * "WGPUInstance", "WGPUAdapter", "WGPUDevice" and "WGPUQueue", so that an application can create
 * its own buffers and wrap them with DtCreateTensorWithData(); on CUDA devices "CUcontext" (the
 * device's primary context) and "CUdevice" (the device ordinal, as an integer in the pointer).
 * Valid while the device is.
 * DT_NOT_FOUND for a name the device's provider does not know.
 *
 * @param device the device
 * @param name the name of the native object
 * @param[out] handle receives the object
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetDeviceNativeHandle(const DtDevice* device, const char* name, void** handle);

/**
 * Type of `device`; 0 for NULL.
 *
 * @param device a device, or NULL
 * @return its type
 */
DT_EXPORT DtDeviceType DtGetDeviceType(const DtDevice* device);
/**
 * Id of `device`; -1 for NULL.
 *
 * @param device a device, or NULL
 * @return its id
 */
DT_EXPORT int32_t DtGetDeviceId(const DtDevice* device);

/** @} */

/* ---------------------------------------------------------------------------------------------
 * Tensors and views
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_tensors Tensors and views
 * @ingroup dt_api
 * @brief Tensors (storage + byte offset + shape + strides) and zero-copy views of them.
 *
 * Shapes have 0 <= rank <= DT_MAX_RANK and dimensions >= 0 (a zero dimension makes an empty
 * tensor). Strides are in elements. Sizes and offsets are checked with overflow-safe arithmetic.
 * @{
 */

/**
 * Allocates a contiguous tensor on `device`. Its contents are unspecified until written.
 *
 * @param env the environment
 * @param device the device to allocate on
 * @param type the element type
 * @param shape `rank` dimensions
 * @param rank number of dimensions
 * @param[out] tensor receives the tensor; release it with DtReleaseValue()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtCreateTensor(DtEnv* env, const DtDevice* device, DtElementType type,
                                   const int64_t* shape, size_t rank, DtValue** tensor);

/**
 * Wraps caller memory without copying. `data` is the whole buffer: a pointer on addressable
 * devices, the device's buffer object (a WGPUBuffer) on opaque ones; `data_bytes` is its size and
 * `byte_offset` where the contiguous tensor starts inside it. The caller keeps ownership and must
 * keep the buffer alive while the tensor and its views live. `byte_offset` must be a multiple of
 * the element size, and byte_offset + the tensor's bytes must not exceed data_bytes.
 *
 * @param env the environment
 * @param device the device the buffer belongs to
 * @param data the whole buffer
 * @param data_bytes size of the buffer in bytes
 * @param byte_offset where the tensor starts inside the buffer
 * @param type the element type
 * @param shape `rank` dimensions
 * @param rank number of dimensions
 * @param[out] tensor receives the tensor; release it with DtReleaseValue()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtCreateTensorWithData(DtEnv* env, const DtDevice* device, void* data,
                                           size_t data_bytes, size_t byte_offset,
                                           DtElementType type, const int64_t* shape, size_t rank,
                                           DtValue** tensor);

/**
 * A contiguous view of `base`'s storage. `byte_offset` is relative to the first byte of `base`
 * and the view must lie inside base's extent (the bytes from its first to its last element). The
 * type may differ from base's (a reinterpretation); the view's offset in the storage must be a
 * multiple of the view's element size. The view keeps the storage alive; views of views refer to
 * the root storage directly.
 *
 * @param base the tensor or view whose storage the view shares
 * @param byte_offset where the view starts, from the first byte of `base`
 * @param type the view's element type
 * @param shape `rank` dimensions
 * @param rank number of dimensions
 * @param[out] view receives the view; release it with DtReleaseValue()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtCreateTensorView(const DtValue* base, size_t byte_offset, DtElementType type,
                                       const int64_t* shape, size_t rank, DtValue** view);

/**
 * The view base[..., start:start+length, ...] along `axis`. Strides are kept, so a slice of any
 * axis but the first is in general not contiguous. Needs axis < rank, 0 <= start, 0 <= length
 * and start + length <= shape[axis]; otherwise DT_OUT_OF_RANGE.
 *
 * @param base the tensor or view to slice
 * @param axis the axis to slice
 * @param start first index along `axis`
 * @param length number of indices along `axis`
 * @param[out] view receives the view; release it with DtReleaseValue()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtSliceTensor(const DtValue* base, size_t axis, int64_t start, int64_t length,
                                  DtValue** view);

/**
 * Element type, rank and shape of `tensor`. `shape` may be NULL when `capacity` is 0 (to ask for
 * the rank); otherwise `capacity` must be >= the rank. `type` and `rank` may be NULL.
 *
 * @param tensor the tensor
 * @param[out] type receives the element type, or NULL
 * @param[out] shape receives the dimensions, or NULL when `capacity` is 0
 * @param capacity number of elements `shape` holds
 * @param[out] rank receives the rank, or NULL
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetTensorShape(const DtValue* tensor, DtElementType* type, int64_t* shape,
                                     size_t capacity, size_t* rank);

/**
 * Strides of `tensor`, in elements; `capacity` must be >= its rank.
 *
 * @param tensor the tensor
 * @param[out] strides receives one stride per dimension
 * @param capacity number of elements `strides` holds
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetTensorStrides(const DtValue* tensor, int64_t* strides, size_t capacity);

/**
 * 1 when `tensor`'s elements are laid out densely in row-major order, else 0 (0 for NULL).
 *
 * @param tensor a tensor, or NULL
 * @return 1 or 0
 */
DT_EXPORT int32_t DtIsTensorContiguous(const DtValue* tensor);

/**
 * Number of elements of `tensor`, and the bytes its elements span in the storage (first to last
 * element inclusive; equal to elements * element size when contiguous).
 *
 * @param tensor the tensor
 * @param[out] element_count receives the number of elements
 * @param[out] extent_bytes receives the bytes the elements span
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetTensorSize(const DtValue* tensor, size_t* element_count,
                                    size_t* extent_bytes);

/**
 * Address of element [0, ..., 0] (storage pointer + byte offset) on addressable devices (CPU,
 * CUDA); DT_NOT_SUPPORTED on devices with opaque handles (use DtGetTensorBuffer()).
 *
 * @param tensor the tensor
 * @param[out] data receives the address
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetTensorData(const DtValue* tensor, void** data);

/**
 * The storage of `tensor`: its handle (a pointer, or a WGPUBuffer on WebGPU) exactly as allocated
 * or wrapped, the byte offset of element [0, ..., 0] inside it, and the storage size. The offset is
 * never folded into the handle. Any out-parameter may be NULL.
 *
 * @param tensor the tensor
 * @param[out] handle receives the storage's handle, or NULL
 * @param[out] byte_offset receives the byte offset of element [0, ..., 0], or NULL
 * @param[out] buffer_bytes receives the storage size in bytes, or NULL
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetTensorBuffer(const DtValue* tensor, void** handle, size_t* byte_offset,
                                      size_t* buffer_bytes);

/**
 * The device `tensor` lives on; valid while the tensor lives. NULL for NULL.
 *
 * @param tensor a tensor, or NULL
 * @return its device
 */
DT_EXPORT const DtDevice* DtGetTensorDevice(const DtValue* tensor);

/**
 * Releases a tensor or view; its storage goes when the last view of it goes. NULL is ignored.
 *
 * @param value the tensor or view to release, or NULL
 */
DT_EXPORT void DtReleaseValue(DtValue* value);

/** @} */

/* ---------------------------------------------------------------------------------------------
 * Copies
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_copies Copies
 * @ingroup dt_api
 * @brief Batched, bounds-checked copies between any devices, and zeroing.
 * @{
 */

/**
 * Copies src[i] into dst[i] for i in [0, count). Each pair has one element type and one shape;
 * either side may be contiguous or strided, on any devices. Every pair is validated before anything
 * is copied: on bad input nothing is written. Destinations that overlap each other are an error.
 * Pairs take effect in order, so a pair may read what an earlier pair wrote. The source and
 * destination of one pair may share a buffer, overlapping too (memmove semantics).
 *
 * With `stream` NULL the call returns when the data is in place. With a stream the work is ordered
 * after earlier work on it and may still be running on return; DtSynchronizeStream() waits for it.
 * Tensors used by queued work stay alive until the stream is synchronised or released.
 *
 * The env picks each pair's data transfer through its registry (each provider's CanCopy); a pair no
 * provider copies directly goes through host memory.
 *
 * @param env the environment
 * @param src `count` sources
 * @param dst `count` destinations
 * @param count number of pairs
 * @param stream the stream to order the copies on, or NULL
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtCopyTensors(DtEnv* env, const DtValue* const* src, DtValue* const* dst,
                                  size_t count, DtStream* stream);

/**
 * Sets every byte of `tensor`'s elements to zero (only the view's elements; strided views leave the
 * gaps between their elements untouched). Stream semantics as in DtCopyTensors().
 *
 * @param env the environment
 * @param tensor the tensor or view to zero
 * @param stream the stream to order the work on, or NULL
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtZeroTensor(DtEnv* env, DtValue* tensor, DtStream* stream);

/** @} */

/* ---------------------------------------------------------------------------------------------
 * Streams
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_streams Streams
 * @ingroup dt_api
 * @brief Ordered queues of work on one device.
 * @{
 */

/**
 * Creates an ordered queue of work on `device`. On devices whose provider has no streams the
 * stream still orders work: each call runs synchronously.
 *
 * @param env the environment
 * @param device the device the stream's work runs on
 * @param[out] stream receives the stream; release it with DtReleaseStream()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtCreateStream(DtEnv* env, const DtDevice* device, DtStream** stream);

/**
 * Waits until all work issued on `stream` has finished; reports the first error that work hit.
 * When that work raised a device error flag (see DtGetDeviceErrorFlags()), fails with
 * DT_OUT_OF_RANGE naming the op; the flag stays for DtGetDeviceErrorFlags() to read too.
 *
 * @param stream the stream
 * @return NULL on success, else the first error of the stream's work
 */
DT_EXPORT DtStatus* DtSynchronizeStream(DtStream* stream);

/**
 * The device of `stream`; NULL for NULL.
 *
 * @param stream a stream, or NULL
 * @return its device
 */
DT_EXPORT const DtDevice* DtGetStreamDevice(const DtStream* stream);

/**
 * Waits for the stream's work, then releases it. NULL is ignored.
 *
 * @param stream the stream to release, or NULL
 */
DT_EXPORT void DtReleaseStream(DtStream* stream);

/** @} */

/* ---------------------------------------------------------------------------------------------
 * Ops
 * ------------------------------------------------------------------------------------------- */

/**
 * @defgroup dt_ops Ops
 * @ingroup dt_api
 * @brief ONNX ops and devtensor's decode ops, run on the device of their tensors (DtRunOp()).
 *
 * An op runs on the device of its tensors: every input and output must live on one device, else
 * DT_INVALID_ARGUMENT. Inputs and outputs may be views at any element offset and strided;
 * outputs are written in place and only their elements are written; an output may share storage
 * with an input (in-place updates). DT_NOT_SUPPORTED names the op, the element type and the
 * device when no kernel exists; DtGetOpSupport() says so beforehand. Stream semantics as in DtCopyTensors().
 *
 * ONNX ops (ONNX semantics, names and attributes; the caller allocates outputs of the right
 * shape): Cast (to), Add, Sub, Mul, Div (multidirectional broadcasting), Where, ScatterND
 * (reduction "none" only: a `reduction` attribute is refused), ArgMax (axis, keepdims,
 * select_last_index), Expand.
 * - Cast: float to integer truncates toward zero and saturates, NaN gives 0; integer to integer
 *   wraps; to float16 / bfloat16 rounds to nearest even.
 * - Integers wrap on overflow. Integer division by zero fails with DT_INVALID_ARGUMENT on the
 *   host before anything is written; a device cannot report it and yields the dividend.
 * - ScatterND: an index out of range fails with DT_OUT_OF_RANGE on the host, writing nothing;
 *   on a device that update is skipped and DT_DEVICE_ERROR_SCATTER_INDEX is raised.
 * - Expand: on the host the `shape` input is read and must match the output; on a device the
 *   output's shape decides and `shape` is not read (it would cost a read-back).
 * - Scalars (total_length, position) are int32 tensors of exactly one element, of any rank.
 *
 * devtensor's decode ops:
 * - **Fill** — outputs: y. Attribute `value` (float). Every element of y := value,
 *   converted to y's type as Cast would.
 * - **UpdateAttentionMask** — inputs: total_length (int32 scalar, any device of the op's).
 *   outputs: mask [batch, max_length], int32 or int64, updated in place:
 *   mask[:, :total_length] = 1 and mask[:, total_length:] = 0, with
 *   total_length clamped to [0, max_length].
 * - **UpdatePositionIds** — outputs: position_ids (int32 or int64), in place: += increment.
 *   Attribute `increment` (int, default 1).
 * - **KvCacheAppend** — inputs: new_kv [batch, heads, new_len, head_dim], position (int32
 *   scalar). outputs: cache [batch, heads, max_len, head_dim], in place:
 *   cache[:, :, position:position+new_len, :] = new_kv. When position < 0
 *   or position + new_len > max_len the cache is left as it was: on a host
 *   path the op fails with DT_OUT_OF_RANGE; on a device path, where the
 *   position is known only to the device, the write is skipped and
 *   DtGetDeviceErrorFlags() reports it.
 * @{
 */

/** A graph: the copies, clears and ops recorded on a stream, to replay (see DtEndCapture()).
 * @ingroup dt_graphs */
typedef struct DtGraph DtGraph;

/** The type of a DtAttribute's value. */
typedef enum DtAttributeType {
  DT_ATTR_INT = 1,   /**< one integer, in DtAttribute::i */
  DT_ATTR_FLOAT = 2, /**< one float, in DtAttribute::f */
  DT_ATTR_INTS = 3,  /**< DtAttribute::count integers, at DtAttribute::ints */
  DT_ATTR_FLOATS = 4 /**< DtAttribute::count floats, at DtAttribute::floats */
} DtAttributeType;

/** One named attribute of an op call (ONNX attribute names); its `type` says which field holds
 * the value. */
typedef struct DtAttribute {
  const char* name;     /**< the attribute's name, e.g.\ "axis" */
  DtAttributeType type; /**< which of the fields below holds the value */
  int64_t i;            /**< the value of a DT_ATTR_INT attribute */
  float f;              /**< the value of a DT_ATTR_FLOAT attribute */
  const int64_t* ints;  /**< the values of a DT_ATTR_INTS attribute */
  const float* floats;  /**< the values of a DT_ATTR_FLOATS attribute */
  size_t count; /**< of ints or floats */
} DtAttribute;

/**
 * Runs `op_type` on the device of its tensors. See the list above (@ref dt_ops).
 *
 * @param env the environment
 * @param op_type the op's name ("Add", "KvCacheAppend", ...)
 * @param inputs `num_inputs` input tensors
 * @param num_inputs number of inputs
 * @param outputs `num_outputs` output tensors, written in place
 * @param num_outputs number of outputs
 * @param attributes `num_attributes` attributes, or NULL when there are none
 * @param num_attributes number of attributes
 * @param stream the stream to order the op on, or NULL
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtRunOp(DtEnv* env, const char* op_type, const DtValue* const* inputs,
                            size_t num_inputs, DtValue* const* outputs, size_t num_outputs,
                            const DtAttribute* attributes, size_t num_attributes,
                            DtStream* stream);

/**
 * Says, without running anything, whether `device` has a kernel for `op_type` with
 * `element_type` as its principal type: the type of the op's data, which its other tensors share
 * or depend on. That is inputs[0]'s type for Cast (whatever its `to`), Add, Sub, Mul, Div,
 * ScatterND, ArgMax, Expand and KvCacheAppend; X's (inputs[1]) for Where; the output's for Fill,
 * UpdateAttentionMask and UpdatePositionIds. 0 also for an element type the op's definition
 * refuses (Add on bool, say). A call the device supports may still fail for its shapes or
 * values.
 *
 * @param env the environment
 * @param device the device
 * @param op_type the op's name ("Add", "KvCacheAppend", ...)
 * @param element_type the principal element type
 * @param[out] supported receives 1 when there is a kernel, else 0
 * @return NULL on success; DT_NOT_FOUND naming `op_type` when devtensor defines no such op;
 *         DT_INVALID_ARGUMENT for a NULL argument or an element type that is no DtElementType
 */
DT_EXPORT DtStatus* DtGetOpSupport(DtEnv* env, const DtDevice* device, const char* op_type,
                                   DtElementType element_type, int32_t* supported);

/** Bit 0 of DtGetDeviceErrorFlags(): a KvCacheAppend position out of range (the write was
 * skipped). */
#define DT_DEVICE_ERROR_KV_POSITION 1u
/** Bit 1 of DtGetDeviceErrorFlags(): a ScatterND index out of range (that update was skipped). */
#define DT_DEVICE_ERROR_SCATTER_INDEX 2u
/**
 * Error flags a device's kernels raised since the last call, which clears them: bit 0 a
 * KvCacheAppend position out of range (the write was skipped), bit 1 a ScatterND index out of
 * range (that update was skipped). Sees all the device's work issued so far: work queued on
 * streams that were not synchronised is started and waited for too. 0 on devices whose ops check
 * on the host (CPU: those ops fail instead).
 *
 * @param device the device
 * @param[out] flags receives DT_DEVICE_ERROR_KV_POSITION and DT_DEVICE_ERROR_SCATTER_INDEX bits
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtGetDeviceErrorFlags(const DtDevice* device, uint32_t* flags);

/** @} */

/**
 * @defgroup dt_graphs Graphs
 * @ingroup dt_api
 * @brief Recording the work of a stream once and replaying it (a decode step, say).
 * @{
 */

/**
 * Starts recording the copies, clears and ops issued on `stream`; nothing runs while recording.
 * The stream's earlier work finishes first; when that work raised device error flags, this
 * returns DT_OUT_OF_RANGE naming the op, as DtSynchronizeStream() would, and does not start
 * recording (call it again). DT_NOT_SUPPORTED on devices that cannot record.
 *
 * @param stream the stream to record
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtBeginCapture(DtStream* stream);
/**
 * Stops recording and returns what was recorded, made ready to replay (on WebGPU: ordered by what
 * each call reads and writes, independent ops of one kernel batched into one dispatch, kernels
 * compiled). A recording that holds nothing (its calls were issued with no stream or on another
 * stream, which run at once, or wrote no byte) fails with DT_FAILED_PRECONDITION. An error here (also the device
 * was lost, out of memory) leaves no graph, and the stream records no more.
 *
 * @param stream the stream being recorded
 * @param[out] graph receives the graph; release it with DtReleaseGraph()
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtEndCapture(DtStream* stream, DtGraph** graph);
/**
 * Runs a recorded graph again on `stream`, with nothing recorded anew. The graph holds the
 * storages of every tensor its recording used until it is released, so those tensors, the stream
 * they were recorded on and the env may be released before it. It reads its data-dependent
 * positions from device tensors, so replaying equals issuing the calls again. Host memory the
 * caller wrapped must still be there. Synchronise `stream` to wait for it (see
 * DtSynchronizeStream() for the error flags its ops raise).
 *
 * @param graph the graph
 * @param stream the stream to run it on
 * @return NULL on success, else the error
 */
DT_EXPORT DtStatus* DtReplayGraph(DtGraph* graph, DtStream* stream);
/**
 * Releases a graph; NULL is ignored.
 *
 * @param graph the graph to release, or NULL
 */
DT_EXPORT void DtReleaseGraph(DtGraph* graph);

/** @} */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DEVTENSOR_DEVTENSOR_H_ */
