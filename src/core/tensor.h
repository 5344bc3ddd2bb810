// Storage and tensors. A storage is (device, handle, size), shared by a tensor and all its views;
// a DtValue is a storage plus a layout (byte offset, shape, strides) and an element type.
#ifndef DEVTENSOR_CORE_TENSOR_H_
#define DEVTENSOR_CORE_TENSOR_H_

#include <memory>

#include "core/provider_instance.h"
#include "layout/layout.h"

namespace devtensor {

class Storage {
 public:
  // Takes `handle`; frees it through `allocator` when the last reference goes. A null allocator
  // means caller memory, which is never freed; the provider's ReleaseExternalBuffer, if any, is
  // told when the storage goes.
  Storage(std::shared_ptr<ProviderInstance> provider, const DtDevice* device, void* handle,
          size_t bytes, DtAllocator* allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  const DtDevice* device() const { return device_; }
  void* handle() const { return handle_; }
  size_t bytes() const { return bytes_; }
  bool addressable() const { return device_->info.is_addressable != 0; }

  // Allocates `bytes` on `device` (at least one byte is asked of the allocator).
  static DtStatus* Allocate(const DtDevice* device, size_t bytes, std::shared_ptr<Storage>* out);

 private:
  std::shared_ptr<ProviderInstance> provider_;  // keeps the provider library loaded
  const DtDevice* device_;
  void* handle_;
  size_t bytes_;
  DtAllocator* allocator_;
};

// Element size of `type`, 0 when `type` is not a DtElementType.
size_t ElementSize(DtElementType type);

// A DtTensorRef over a storage and layout; the ref points into `layout`, which must outlive it.
DtTensorRef MakeTensorRef(const Storage& storage, const Layout& layout, DtElementType type);

// Checks `shape`/`rank` (named `shape_arg` in messages) and returns the element count.
DtStatus* CheckShape(const int64_t* shape, size_t rank, size_t* elements);

}  // namespace devtensor

struct DtValue {
  std::shared_ptr<devtensor::Storage> storage;
  devtensor::Layout layout;
  DtElementType type;
};

#endif  // DEVTENSOR_CORE_TENSOR_H_
