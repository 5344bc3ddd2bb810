/*
 * devtensor provider ABI — what a provider library implements so that devtensor can use a device.
 *
 * A provider is a shared library exporting one symbol, DtProviderInit, that fills a DtProvider: the
 * provider's name, its ABI version and its factories. A factory serves one device type: it reports
 * devices and creates allocators, a data transfer and, optionally, streams. The built-in CPU
 * provider goes through this same ABI.
 *
 * Versioning
 *   - DT_PROVIDER_ABI_MAJOR changes only when a struct or signature changes incompatibly; the host
 *     refuses a provider of another major version (DT_NOT_SUPPORTED) and unloads it.
 *   - Within a major version, structs grow only by appending fields. Every extensible struct starts
 *     with `struct_size`, the size of the struct as its writer knew it:
 *       * structs a provider fills and hands out (DtProvider, DtProviderFactory): the host reads only
 *         the first struct_size bytes and treats later fields as absent (NULL). A provider built
 *         against an older, smaller header therefore keeps loading. The fields before the first
 *         "optional" comment are required; a struct too small to hold them is refused.
 *       * structs the host passes for the provider to fill (DtAllocator, DtDataTransfer,
 *         DtDeviceInfo): the host zeroes them and sets struct_size to its own size; the provider
 *         writes a field only when DT_STRUCT_HAS_FIELD says the host's struct holds it.
 *   - The host passes its own version in DtHostApi; a provider that needs a newer host returns an
 *     error from DtProviderInit, and the library then fails to register cleanly.
 *
 * Rules for providers
 *   - Providers report errors as DtStatus objects made with DtHostApi::CreateStatus; NULL is success.
 *   - No exception may leave a provider function.
 *   - A tensor reaches a provider as a DtTensorRef: (handle, byte offset, buffer size, shape,
 *     strides). The offset is never folded into the handle; on opaque devices the handle is the
 *     buffer object exactly as the allocator returned it.
 *   - The host validates every pair before a provider sees it: the types and shapes match, every
 *     element lies inside its buffer, destinations do not overlap one another, and the source and
 *     destination of one pair do not overlap.
 */
#ifndef DEVTENSOR_DEVTENSOR_PROVIDER_H_
#define DEVTENSOR_DEVTENSOR_PROVIDER_H_

#include <stddef.h>
#include <stdint.h>

#include "devtensor/devtensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DT_PROVIDER_ABI_MAJOR 1
#define DT_PROVIDER_ABI_MINOR 1

/* The symbol every provider library exports, and its type. */
#define DT_PROVIDER_INIT_SYMBOL "DtProviderInit"

/* True when the struct at `ptr`, whose writer set ptr->struct_size, holds `field` of `type`. */
#define DT_STRUCT_HAS_FIELD(ptr, type, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* Services the host offers providers. */
typedef struct DtHostApi {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  /* Makes a status the host can hand to applications. `message` is copied. Never returns NULL for a
   * code other than DT_OK. */
  DtStatus* (*CreateStatus)(DtErrorCode code, const char* message);
  /* Releases a status the provider made and will not return; NULL is ignored. */
  void (*ReleaseStatus)(DtStatus* status);
} DtHostApi;

/* A tensor as a provider sees it. Strides are in elements; every element lies inside
 * [0, buffer_bytes) of the buffer (the host checked). */
typedef struct DtTensorRef {
  size_t struct_size;
  DtDeviceType device_type;
  int32_t device_id;
  void* handle;               /* the storage: a pointer on addressable devices, else opaque */
  size_t buffer_bytes;        /* size of the storage */
  size_t byte_offset;         /* of element [0, ..., 0] inside the storage */
  DtElementType element_type;
  size_t element_size;
  size_t rank;
  const int64_t* shape;
  const int64_t* strides;
} DtTensorRef;

/* One pair of a batched copy. This struct is frozen: it never grows. `stream` is a stream the
 * same factory created, or NULL: then the copy is complete when CopyTensors returns. */
typedef struct DtCopyPair {
  const DtTensorRef* src;
  const DtTensorRef* dst;
  void* stream;
} DtCopyPair;

/* Memory of one device. */
typedef struct DtAllocator {
  size_t struct_size;
  void* state;
  /* Allocates `bytes` (> 0) of device memory and returns its handle. */
  DtStatus* (*Allocate)(void* state, size_t bytes, void** handle);
  /* Frees a handle Allocate returned. Work queued on any stream that uses it has finished. */
  void (*Free)(void* state, void* handle);
  /* Releases the allocator; every handle it returned was freed. */
  void (*Release)(void* state);
} DtAllocator;

/* Copies between devices. */
typedef struct DtDataTransfer {
  size_t struct_size;
  void* state;
  /* Nonzero when this transfer copies from (src_type, src_id) to (dst_type, dst_id). */
  int32_t (*CanCopy)(void* state, DtDeviceType src_type, int32_t src_id, DtDeviceType dst_type,
                     int32_t dst_id);
  /* Copies pairs[i].src into pairs[i].dst in order: a later pair sees what an earlier one wrote.
   * Each pair is one the transfer said it can copy. */
  DtStatus* (*CopyTensors)(void* state, const DtCopyPair* pairs, size_t count);
  /* Releases the transfer. */
  void (*Release)(void* state);
  /* optional: sets the tensor's elements to zero on the device (NULL: the host copies zeros from
   * host memory). `stream` as in DtCopyPair. */
  DtStatus* (*ZeroTensor)(void* state, const DtTensorRef* tensor, void* stream);
  /* optional: checks pairs it will be asked to copy, with no side effect, so that a call whose
   * pairs span several transfers fails before any of them writes. What CopyTensors would refuse
   * for these pairs, CheckCopies refuses. When present, the host calls it on every batch before
   * CopyTensors, which may then rely on it. */
  DtStatus* (*CheckCopies)(void* state, const DtCopyPair* pairs, size_t count);
  /* optional: host memory `handle` (a CPU storage of `bytes` bytes, allocated or wrapped) is
   * about to be freed. A transfer that keeps something for host memory between calls (an import
   * of its pages, say) drops it here and never uses it again. Called from any thread, for every
   * CPU storage, with no copy of that storage in progress; must not call back into the host. */
  void (*ForgetHostMemory)(void* state, void* handle, size_t bytes);
} DtDataTransfer;

typedef struct DtOpCall DtOpCall;

/* One device type of a provider. */
typedef struct DtProviderFactory {
  size_t struct_size;
  void* state;
  DtDeviceType device_type;
  /* Number of devices of this type; ids are 0 .. count - 1. */
  DtStatus* (*GetDeviceCount)(void* state, int32_t* count);
  /* Describes device `device_id`; the host set info->type and info->id. */
  DtStatus* (*GetDeviceInfo)(void* state, int32_t device_id, DtDeviceInfo* info);
  /* Fills `allocator` for device `device_id`. */
  DtStatus* (*CreateAllocator)(void* state, int32_t device_id, DtAllocator* allocator);
  /* Fills `transfer`, the factory's one data transfer. */
  DtStatus* (*CreateDataTransfer)(void* state, DtDataTransfer* transfer);
  /* Releases the factory, after everything it created was released. */
  void (*Release)(void* state);
  /* optional, both or none: checks that `handle` is a buffer of device `device_id` holding at
   * least `bytes` bytes that copies can use, and takes a reference to it for as long as a tensor
   * wraps it; the host calls ReleaseExternalBuffer when the last view of it goes. Without them
   * any non-NULL handle is accepted and no reference is taken. */
  DtStatus* (*AcquireExternalBuffer)(void* state, int32_t device_id, void* handle, size_t bytes);
  void (*ReleaseExternalBuffer)(void* state, int32_t device_id, void* handle);
  /* optional, all three or none: asynchronous ordered streams. Without them the host runs stream
   * work synchronously, which keeps it ordered. */
  DtStatus* (*CreateStream)(void* state, int32_t device_id, void** stream);
  DtStatus* (*SynchronizeStream)(void* state, void* stream);
  void (*ReleaseStream)(void* state, void* stream); /* called after SynchronizeStream */
  /* optional: the device's native object called `name` (e.g. "WGPUDevice"), borrowed: valid
   * while the device's provider is loaded. DT_NOT_FOUND for names the provider does not know. */
  DtStatus* (*GetNativeHandle)(void* state, int32_t device_id, const char* name, void** handle);
  /* optional: runs an op on device `call->device_id` (see DtOpCall). The host has checked the
   * call against the op's definition (counts, types, shapes, attributes) before. DT_NOT_SUPPORTED
   * when the provider has no kernel for it. `stream` as in DtCopyPair. */
  DtStatus* (*RunOp)(void* state, const DtOpCall* call, void* stream);
  /* optional, all four or none: recording of a stream's work into a graph and its replay. */
  DtStatus* (*BeginCapture)(void* state, void* stream);
  DtStatus* (*EndCapture)(void* state, void* stream, void** graph);
  DtStatus* (*ReplayGraph)(void* state, void* graph, void* stream);
  void (*ReleaseGraph)(void* state, void* graph);
  /* optional: reads and clears the device's error flags (see DtGetDeviceErrorFlags). */
  DtStatus* (*ReadErrorFlags)(void* state, int32_t device_id, uint32_t* flags);
} DtProviderFactory;

/* One op call as a provider sees it. Tensors are on device `device_id` of the factory's type. */
struct DtOpCall {
  size_t struct_size;
  const char* op_type;
  int32_t device_id;
  const DtTensorRef* const* inputs;
  size_t num_inputs;
  const DtTensorRef* const* outputs;
  size_t num_outputs;
  const DtAttribute* attributes;
  size_t num_attributes;
};

/* Size of a factory without its optional fields: the smallest struct_size the host accepts. */
#define DT_PROVIDER_FACTORY_MIN_SIZE offsetof(DtProviderFactory, AcquireExternalBuffer)
/* Size of a data transfer without its optional fields. */
#define DT_DATA_TRANSFER_MIN_SIZE offsetof(DtDataTransfer, ZeroTensor)

/* What DtProviderInit hands the host. It stays valid until Release. The first five fields are
 * frozen across major versions, so that a host can release a provider whose version it refuses. */
typedef struct DtProvider {
  size_t struct_size;
  uint32_t abi_major;         /* DT_PROVIDER_ABI_MAJOR the provider was built with */
  uint32_t abi_minor;
  void* state;
  /* Releases the provider and whatever of it the host has not released (factories the host
   * refused, for one). The host calls it last, after releasing every factory it accepted. */
  void (*Release)(void* state);
  const char* name;
  size_t factory_count;
  const DtProviderFactory* const* factories;
  /* optional (ABI 1.1): the library's own version, e.g. "0.1.0"; shown by DtGetProviderInfo. */
  const char* version;
} DtProvider;

typedef DtStatus* (*DtProviderInitFn)(const DtHostApi* host, const DtProvider** provider);

/* Declared here so that provider libraries define it with the right signature and linkage. */
DT_EXPORT DtStatus* DtProviderInit(const DtHostApi* host, const DtProvider** provider);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DEVTENSOR_DEVTENSOR_PROVIDER_H_ */
