/**
 * @file
 * @brief devtensor provider ABI — what a provider library implements so that devtensor can use a
 * device.
 *
 * A provider is a shared library exporting one symbol, DtProviderInit(), that fills a DtProvider:
 * the provider's name, its ABI version and its factories. A factory serves one device type: it
 * reports devices and creates allocators, a data transfer and, optionally, streams. The built-in
 * CPU provider goes through this same ABI.
 *
 * @par Versioning
 * - DT_PROVIDER_ABI_MAJOR changes only when a struct or signature changes incompatibly; the host
 *   refuses a provider of another major version (DT_NOT_SUPPORTED) and unloads it.
 * - Within a major version, structs grow only by appending fields. Every extensible struct starts
 *   with `struct_size`, the size of the struct as its writer knew it:
 *   - structs a provider fills and hands out (DtProvider, DtProviderFactory): the host reads only
 *     the first struct_size bytes and treats later fields as absent (NULL). A provider built
 *     against an older, smaller header therefore keeps loading. The fields before the first
 *     "optional" comment are required; a struct too small to hold them is refused.
 *   - structs the host passes for the provider to fill (DtAllocator, DtDataTransfer,
 *     DtDeviceInfo): the host zeroes them and sets struct_size to its own size; the provider
 *     writes a field only when DT_STRUCT_HAS_FIELD says the host's struct holds it.
 * - The host passes its own version in DtHostApi; a provider that needs a newer host returns an
 *   error from DtProviderInit(), and the library then fails to register cleanly.
 *
 * @par Rules for providers
 * - Providers report errors as DtStatus objects made with DtHostApi::CreateStatus; NULL is success.
 * - No exception may leave a provider function.
 * - A tensor reaches a provider as a DtTensorRef: (handle, byte offset, buffer size, shape,
 *   strides). The offset is never folded into the handle; on opaque devices the handle is the
 *   buffer object exactly as the allocator returned it.
 * - The host validates every pair before a provider sees it: the types and shapes match, every
 *   element lies inside its buffer, destinations do not overlap one another, and the source and
 *   destination of one pair do not overlap.
 */
#ifndef DEVTENSOR_DEVTENSOR_PROVIDER_H_
#define DEVTENSOR_DEVTENSOR_PROVIDER_H_

#include <stddef.h>
#include <stdint.h>

#include "devtensor/devtensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup dt_provider Provider ABI
 * @brief What a provider library implements so that devtensor can use a device (versioned; see
 * devtensor_provider.h for the versioning rules and the rules for providers).
 *
 * Every callback a provider fills in reports failure as a DtStatus made with
 * DtHostApi::CreateStatus and returns NULL on success.
 * @{
 */

/** Major version of the provider ABI: changes only when a struct or signature changes
 * incompatibly. */
#define DT_PROVIDER_ABI_MAJOR 1
/** Minor version of the provider ABI: grows when fields are appended to its structs. */
#define DT_PROVIDER_ABI_MINOR 2

/** The symbol every provider library exports; its type is DtProviderInitFn. */
#define DT_PROVIDER_INIT_SYMBOL "DtProviderInit"

/**
 * True when the struct at `ptr`, whose writer set ptr->struct_size, holds `field` of `type`.
 *
 * @param ptr pointer to the struct
 * @param type the struct's type
 * @param field the field's name
 */
#define DT_STRUCT_HAS_FIELD(ptr, type, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/** Services the host offers providers. */
typedef struct DtHostApi {
  size_t struct_size; /**< the size of the struct as the host knows it */
  uint32_t abi_major; /**< the host's DT_PROVIDER_ABI_MAJOR */
  uint32_t abi_minor; /**< the host's DT_PROVIDER_ABI_MINOR */
  /**
   * Makes a status the host can hand to applications. `message` is copied. Never returns NULL for a
   * code other than DT_OK.
   *
   * @param code the error code
   * @param message the message
   * @return the status
   */
  DtStatus* (*CreateStatus)(DtErrorCode code, const char* message);
  /**
   * Releases a status the provider made and will not return; NULL is ignored.
   *
   * @param status the status, or NULL
   */
  void (*ReleaseStatus)(DtStatus* status);
} DtHostApi;

/** A tensor as a provider sees it. Strides are in elements; every element lies inside
 * [0, buffer_bytes) of the buffer (the host checked). */
typedef struct DtTensorRef {
  size_t struct_size;         /**< the size of the struct as the host knows it */
  DtDeviceType device_type;   /**< type of the device the storage is on */
  int32_t device_id;          /**< id of that device */
  void* handle;               /**< the storage: a pointer on addressable devices, else opaque */
  size_t buffer_bytes;        /**< size of the storage */
  size_t byte_offset;         /**< of element [0, ..., 0] inside the storage */
  DtElementType element_type; /**< the element type */
  size_t element_size;        /**< bytes per element */
  size_t rank;                /**< number of dimensions */
  const int64_t* shape;       /**< `rank` dimensions */
  const int64_t* strides;     /**< `rank` strides, in elements */
} DtTensorRef;

/** One pair of a batched copy. This struct is frozen: it never grows. `stream` is a stream the
 * same factory created, or NULL: then the copy is complete when CopyTensors returns. */
typedef struct DtCopyPair {
  const DtTensorRef* src; /**< the source */
  const DtTensorRef* dst; /**< the destination, of the source's element type and shape */
  void* stream;           /**< a stream the same factory created, or NULL */
} DtCopyPair;

/** Memory of one device. */
typedef struct DtAllocator {
  size_t struct_size; /**< the size of the struct as the host knows it (set by the host) */
  void* state;        /**< the provider's state, passed to every function below */
  /**
   * Allocates `bytes` (> 0) of device memory and returns its handle.
   *
   * @param state the allocator's state
   * @param bytes number of bytes, > 0
   * @param[out] handle receives the handle
   * @return NULL on success, else the error
   */
  DtStatus* (*Allocate)(void* state, size_t bytes, void** handle);
  /**
   * Frees a handle Allocate returned. Work queued on any stream that uses it has finished.
   *
   * @param state the allocator's state
   * @param handle the handle to free
   */
  void (*Free)(void* state, void* handle);
  /**
   * Releases the allocator; every handle it returned was freed.
   *
   * @param state the allocator's state
   */
  void (*Release)(void* state);
} DtAllocator;

/** Copies between devices. */
typedef struct DtDataTransfer {
  size_t struct_size; /**< the size of the struct as the host knows it (set by the host) */
  void* state;        /**< the provider's state, passed to every function below */
  /**
   * Nonzero when this transfer copies from (src_type, src_id) to (dst_type, dst_id).
   *
   * @param state the transfer's state
   * @param src_type type of the source device
   * @param src_id id of the source device
   * @param dst_type type of the destination device
   * @param dst_id id of the destination device
   * @return nonzero when the transfer copies between them, else 0
   */
  int32_t (*CanCopy)(void* state, DtDeviceType src_type, int32_t src_id, DtDeviceType dst_type,
                     int32_t dst_id);
  /**
   * Copies pairs[i].src into pairs[i].dst in order: a later pair sees what an earlier one wrote.
   * Each pair is one the transfer said it can copy.
   *
   * @param state the transfer's state
   * @param pairs `count` pairs
   * @param count number of pairs
   * @return NULL on success, else the error
   */
  DtStatus* (*CopyTensors)(void* state, const DtCopyPair* pairs, size_t count);
  /**
   * Releases the transfer.
   *
   * @param state the transfer's state
   */
  void (*Release)(void* state);
  /**
   * optional: sets the tensor's elements to zero on the device (NULL: the host copies zeros from
   * host memory). `stream` as in DtCopyPair.
   *
   * @param state the transfer's state
   * @param tensor the tensor to zero
   * @param stream a stream the same factory created, or NULL
   * @return NULL on success, else the error
   */
  DtStatus* (*ZeroTensor)(void* state, const DtTensorRef* tensor, void* stream);
  /**
   * optional: checks pairs it will be asked to copy, with no side effect, so that a call whose
   * pairs span several transfers fails before any of them writes. What CopyTensors would refuse
   * for these pairs, CheckCopies refuses. When present, the host calls it on every batch before
   * CopyTensors, which may then rely on it.
   *
   * @param state the transfer's state
   * @param pairs `count` pairs
   * @param count number of pairs
   * @return NULL when CopyTensors would copy them, else the error it would report
   */
  DtStatus* (*CheckCopies)(void* state, const DtCopyPair* pairs, size_t count);
  /**
   * optional: host memory `handle` (a CPU storage of `bytes` bytes, allocated or wrapped) is
   * about to be freed. A transfer that keeps something for host memory between calls (an import
   * of its pages, say) drops it here and never uses it again. Called from any thread, for every
   * CPU storage, with no copy of that storage in progress; must not call back into the host.
   *
   * @param state the transfer's state
   * @param handle the host memory
   * @param bytes its size in bytes
   */
  void (*ForgetHostMemory)(void* state, void* handle, size_t bytes);
} DtDataTransfer;

/** One op call as a provider sees it (see struct DtOpCall). */
typedef struct DtOpCall DtOpCall;

/** The ops devtensor defines (see @ref dt_ops), as a provider receives them in DtOpCall::op
 * (ABI 1.2). The values never change; new ops get new values. */
typedef enum DtOpId {
  DT_OP_CAST = 1,                  /**< Cast */
  DT_OP_ADD = 2,                   /**< Add */
  DT_OP_SUB = 3,                   /**< Sub */
  DT_OP_MUL = 4,                   /**< Mul */
  DT_OP_DIV = 5,                   /**< Div */
  DT_OP_WHERE = 6,                 /**< Where */
  DT_OP_SCATTER_ND = 7,            /**< ScatterND */
  DT_OP_ARGMAX = 8,                /**< ArgMax */
  DT_OP_EXPAND = 9,                /**< Expand */
  DT_OP_FILL = 10,                 /**< Fill */
  DT_OP_UPDATE_ATTENTION_MASK = 11, /**< UpdateAttentionMask */
  DT_OP_UPDATE_POSITION_IDS = 12,  /**< UpdatePositionIds */
  DT_OP_KV_CACHE_APPEND = 13       /**< KvCacheAppend */
} DtOpId;

/** One more than the largest DtOpId of this header. */
#define DT_OP_ID_END 14

/** An op's attributes as the host parsed, checked and defaulted them (ABI 1.2): a provider reads
 * the member of its call's op and never the DtAttribute list. Members of other ops are zero.
 * Grows by appending members. */
typedef struct DtOpParams {
  size_t struct_size; /**< the size of the struct as the host knows it */
  /** Cast */
  struct {
    DtElementType to; /**< the target type: the output's element type */
  } cast;
  /** ArgMax */
  struct {
    int64_t axis;              /**< in [0, rank of data): a negative attribute is made positive */
    int32_t keepdims;          /**< 0 or 1 (default 1) */
    int32_t select_last_index; /**< 0 or 1 (default 0) */
  } argmax;
  /** Fill */
  struct {
    float value;   /**< the `value` attribute */
    uint64_t bits; /**< `value` converted to the output's element type as Cast converts it: the
                        element's bytes, in the low bytes of this little-endian word */
  } fill;
  /** UpdatePositionIds */
  struct {
    int64_t increment; /**< the `increment` attribute (default 1), in int32 range for int32 ids */
  } update_position_ids;
} DtOpParams;

/** Which element types a factory's RunOp takes for one op (ABI 1.2; see DtGetOpSupport() for the
 * type each op is keyed by). */
typedef struct DtOpSupport {
  DtOpId op;              /**< the op */
  uint64_t element_types; /**< bit `t` set: a kernel for DtElementType `t` */
} DtOpSupport;

/** The bit of DtOpSupport::element_types for one element type. */
#define DT_ELEMENT_TYPE_BIT(type) (UINT64_C(1) << (unsigned)(type))

/** One device type of a provider. */
typedef struct DtProviderFactory {
  size_t struct_size;       /**< the size of the struct as the provider knows it */
  void* state;              /**< the factory's state, passed to every function below */
  DtDeviceType device_type; /**< the device type the factory serves */
  /**
   * Number of devices of this type; ids are 0 to count - 1.
   *
   * @param state the factory's state
   * @param[out] count receives the number of devices
   * @return NULL on success, else the error
   */
  DtStatus* (*GetDeviceCount)(void* state, int32_t* count);
  /**
   * Describes device `device_id`; the host set info->type and info->id.
   *
   * @param state the factory's state
   * @param device_id the device
   * @param[in,out] info zeroed by the host, with struct_size, type and id set; the provider fills
   *        the fields DT_STRUCT_HAS_FIELD says it holds
   * @return NULL on success, else the error
   */
  DtStatus* (*GetDeviceInfo)(void* state, int32_t device_id, DtDeviceInfo* info);
  /**
   * Fills `allocator` for device `device_id`.
   *
   * @param state the factory's state
   * @param device_id the device
   * @param[in,out] allocator zeroed by the host, with struct_size set; the provider fills it
   * @return NULL on success, else the error
   */
  DtStatus* (*CreateAllocator)(void* state, int32_t device_id, DtAllocator* allocator);
  /**
   * Fills `transfer`, the factory's one data transfer.
   *
   * @param state the factory's state
   * @param[in,out] transfer zeroed by the host, with struct_size set; the provider fills it
   * @return NULL on success, else the error
   */
  DtStatus* (*CreateDataTransfer)(void* state, DtDataTransfer* transfer);
  /**
   * Releases the factory, after everything it created was released.
   *
   * @param state the factory's state
   */
  void (*Release)(void* state);
  /**
   * optional, both or none (with ReleaseExternalBuffer): checks that `handle` is a buffer of
   * device `device_id` holding at least `bytes` bytes that copies can use, and takes a reference
   * to it for as long as a tensor wraps it; the host calls ReleaseExternalBuffer when the last
   * view of it goes. Without them any non-NULL handle is accepted and no reference is taken.
   *
   * @param state the factory's state
   * @param device_id the device the buffer should belong to
   * @param handle the buffer the caller passed to DtCreateTensorWithData()
   * @param bytes the size the caller says it has
   * @return NULL on success, else the error
   */
  DtStatus* (*AcquireExternalBuffer)(void* state, int32_t device_id, void* handle, size_t bytes);
  /**
   * optional, both or none (with AcquireExternalBuffer): drops the reference
   * AcquireExternalBuffer took, when the last view of the wrapped buffer goes.
   *
   * @param state the factory's state
   * @param device_id the device the buffer belongs to
   * @param handle the buffer
   */
  void (*ReleaseExternalBuffer)(void* state, int32_t device_id, void* handle);
  /**
   * optional, all three or none (with SynchronizeStream and ReleaseStream): asynchronous ordered
   * streams. Without them the host runs stream work synchronously, which keeps it ordered.
   * Creates a stream on device `device_id`.
   *
   * @param state the factory's state
   * @param device_id the device
   * @param[out] stream receives the stream
   * @return NULL on success, else the error
   */
  DtStatus* (*CreateStream)(void* state, int32_t device_id, void** stream);
  /**
   * optional, all three or none (with CreateStream and ReleaseStream): waits until the work
   * queued on `stream` has finished.
   *
   * @param state the factory's state
   * @param stream a stream CreateStream made
   * @return NULL on success, else the first error of that work
   */
  DtStatus* (*SynchronizeStream)(void* state, void* stream);
  /**
   * optional, all three or none (with CreateStream and SynchronizeStream): releases a stream;
   * called after SynchronizeStream.
   *
   * @param state the factory's state
   * @param stream a stream CreateStream made
   */
  void (*ReleaseStream)(void* state, void* stream);
  /**
   * optional: the device's native object called `name` (e.g.\ "WGPUDevice"), borrowed: valid
   * while the device's provider is loaded. DT_NOT_FOUND for names the provider does not know.
   *
   * @param state the factory's state
   * @param device_id the device
   * @param name the name of the native object
   * @param[out] handle receives the object
   * @return NULL on success, else the error
   */
  DtStatus* (*GetNativeHandle)(void* state, int32_t device_id, const char* name, void** handle);
  /**
   * optional: runs an op on device `call->device_id` (see DtOpCall). The host has checked the
   * call against the op's definition (counts, types, shapes, attributes) and against the
   * factory's op_support table before. DT_NOT_SUPPORTED when the provider still cannot run it
   * (a tensor larger than the device's kernels address, say). `stream` as in DtCopyPair.
   *
   * @param state the factory's state
   * @param call the op call
   * @param stream a stream the same factory created, or NULL
   * @return NULL on success, else the error
   */
  DtStatus* (*RunOp)(void* state, const DtOpCall* call, void* stream);
  /**
   * optional, all four or none (with EndCapture, ReplayGraph and ReleaseGraph): recording of a
   * stream's work into a graph and its replay. Starts recording the work issued on `stream`.
   *
   * @param state the factory's state
   * @param stream a stream CreateStream made, with no work pending
   * @return NULL on success, else the error
   */
  DtStatus* (*BeginCapture)(void* state, void* stream);
  /**
   * optional, all four or none: stops recording `stream` and returns what was recorded.
   *
   * @param state the factory's state
   * @param stream the stream being recorded
   * @param[out] graph receives the graph
   * @return NULL on success, else the error (then there is no graph)
   */
  DtStatus* (*EndCapture)(void* state, void* stream, void** graph);
  /**
   * optional, all four or none: runs a recorded graph again on `stream`.
   *
   * @param state the factory's state
   * @param graph a graph EndCapture returned
   * @param stream a stream CreateStream made
   * @return NULL on success, else the error
   */
  DtStatus* (*ReplayGraph)(void* state, void* graph, void* stream);
  /**
   * optional, all four or none: releases a graph EndCapture returned.
   *
   * @param state the factory's state
   * @param graph the graph
   */
  void (*ReleaseGraph)(void* state, void* graph);
  /**
   * optional: reads and clears the device's error flags (see DtGetDeviceErrorFlags()).
   *
   * @param state the factory's state
   * @param device_id the device
   * @param[out] flags receives DT_DEVICE_ERROR_KV_POSITION and DT_DEVICE_ERROR_SCATTER_INDEX bits
   * @return NULL on success, else the error
   */
  DtStatus* (*ReadErrorFlags)(void* state, int32_t device_id, uint32_t* flags);
  /**
   * optional (ABI 1.2), with op_support_count: the ops RunOp has kernels for and their element
   * types, one entry per op; an op with no entry has no kernel. The host refuses other calls with
   * DT_NOT_SUPPORTED before RunOp sees them, and DtGetOpSupport() reads it. Without it (a factory
   * built against ABI 1.1) every op the host defines is handed to RunOp. Static: valid while the
   * provider is loaded.
   */
  const DtOpSupport* op_support;
  size_t op_support_count; /**< number of entries of op_support */
} DtProviderFactory;

/** One op call as a provider sees it. Tensors are on device `device_id` of the factory's type. */
struct DtOpCall {
  size_t struct_size;                /**< the size of the struct as the host knows it */
  const char* op_type;               /**< the op's name, as passed to DtRunOp() */
  int32_t device_id;                 /**< the device every tensor of the call is on */
  const DtTensorRef* const* inputs;  /**< `num_inputs` inputs */
  size_t num_inputs;                 /**< number of inputs */
  const DtTensorRef* const* outputs; /**< `num_outputs` outputs, written in place */
  size_t num_outputs;                /**< number of outputs */
  const DtAttribute* attributes;     /**< `num_attributes` attributes, as the caller passed them */
  size_t num_attributes;             /**< number of attributes */
  DtOpId op;                         /**< (ABI 1.2) the op, as an identifier */
  const DtOpParams* params;          /**< (ABI 1.2) its attributes, parsed, checked, defaulted */
};

/** Size of a factory without its optional fields: the smallest struct_size the host accepts. */
#define DT_PROVIDER_FACTORY_MIN_SIZE offsetof(DtProviderFactory, AcquireExternalBuffer)
/** Size of a data transfer without its optional fields. */
#define DT_DATA_TRANSFER_MIN_SIZE offsetof(DtDataTransfer, ZeroTensor)

/** What DtProviderInit() hands the host. It stays valid until Release. The first five fields are
 * frozen across major versions, so that a host can release a provider whose version it refuses. */
typedef struct DtProvider {
  size_t struct_size;         /**< the size of the struct as the provider knows it */
  uint32_t abi_major;         /**< DT_PROVIDER_ABI_MAJOR the provider was built with */
  uint32_t abi_minor;         /**< DT_PROVIDER_ABI_MINOR the provider was built with */
  void* state;                /**< the provider's state, passed to Release */
  /**
   * Releases the provider and whatever of it the host has not released (factories the host
   * refused, for one). The host calls it last, after releasing every factory it accepted.
   *
   * @param state the provider's state
   */
  void (*Release)(void* state);
  const char* name;           /**< the name the library gives itself */
  size_t factory_count;       /**< number of factories */
  const DtProviderFactory* const* factories; /**< `factory_count` factories, one per device type */
  /** optional (ABI 1.1): the library's own version, e.g.\ "0.1.0"; shown by DtGetProviderInfo(). */
  const char* version;
} DtProvider;

/**
 * The type of DtProviderInit().
 *
 * @param host the services of the host
 * @param[out] provider receives the provider
 * @return NULL on success, else the error
 */
typedef DtStatus* (*DtProviderInitFn)(const DtHostApi* host, const DtProvider** provider);

/**
 * The entry point of a provider library: hands the host the library's DtProvider. Declared here so
 * that provider libraries define it with the right signature and linkage.
 *
 * @param host the services of the host, with its own ABI version
 * @param[out] provider receives the provider, valid until its Release
 * @return NULL on success, else the error (for one, a provider that needs a newer host)
 */
DT_EXPORT DtStatus* DtProviderInit(const DtHostApi* host, const DtProvider** provider);

/** @} */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DEVTENSOR_DEVTENSOR_PROVIDER_H_ */
