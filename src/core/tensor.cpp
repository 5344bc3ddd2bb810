// Tensors and views: creation, wrapping of caller memory, views, slices and queries.
#include "core/tensor.h"

#include <cstring>
#include <shared_mutex>

#include "core/c_enum.h"
#include "core/env.h"
#include "core/provider_instance.h"
#include "common/status.h"
#include "layout/element_type.h"

using devtensor::Error;
using devtensor::Guarded;
using devtensor::Layout;
using devtensor::Storage;

namespace devtensor {

Storage::Storage(std::shared_ptr<ProviderInstance> provider, const DtDevice* device, void* handle,
                 size_t bytes, DtAllocator* allocator)
    : provider_(std::move(provider)),
      device_(device),
      handle_(handle),
      bytes_(bytes),
      allocator_(allocator) {
  provider_->live_objects.fetch_add(1);
}

Storage::~Storage() {
  if (device_->info.type == DT_DEVICE_CPU) ForgetHostMemory(handle_, bytes_);
  if (allocator_ != nullptr) {
    allocator_->Free(allocator_->state, handle_);
  } else if (device_->factory->api.ReleaseExternalBuffer != nullptr) {
    const DtProviderFactory& api = device_->factory->api;
    api.ReleaseExternalBuffer(api.state, device_->info.id, handle_);
  }
  provider_->live_objects.fetch_sub(1);
}

DtStatus* Storage::Allocate(const DtDevice* device, size_t bytes, std::shared_ptr<Storage>* out) {
  DtAllocator* allocator = nullptr;
  DT_RETURN_IF_ERROR(device->factory->GetAllocator(device->info.id, &allocator));
  void* handle = nullptr;
  DtStatus* status = allocator->Allocate(allocator->state, bytes == 0 ? 1 : bytes, &handle);
  if (status != nullptr) {
    std::string message = "allocating " + std::to_string(bytes) + " bytes on " +
                          DeviceText(device) + " failed: " + DtGetErrorMessage(status);
    DtErrorCode code = DtGetErrorCode(status);
    DtReleaseStatus(status);
    return MakeStatus(code, std::move(message));
  }
  if (handle == nullptr) {
    return Error(DT_INTERNAL, "the allocator of ", DeviceText(device), " returned no handle for ",
                 bytes, " bytes");
  }
  try {
    *out = std::make_shared<Storage>(device->factory->owner->shared_from_this(), device, handle,
                                     bytes, allocator);
  } catch (...) {
    allocator->Free(allocator->state, handle);
    throw;
  }
  return nullptr;
}

size_t ElementSize(DtElementType type) { return ElementTypeSize(type); }

DtTensorRef MakeTensorRef(const Storage& storage, const Layout& layout, DtElementType type) {
  DtTensorRef ref{};
  ref.struct_size = sizeof(DtTensorRef);
  ref.device_type = storage.device()->info.type;
  ref.device_id = storage.device()->info.id;
  ref.handle = storage.handle();
  ref.buffer_bytes = storage.bytes();
  ref.byte_offset = layout.byte_offset;
  ref.element_type = type;
  ref.element_size = layout.element_size;
  ref.rank = layout.rank;
  ref.shape = layout.shape;
  ref.strides = layout.strides;
  return ref;
}

DtStatus* CheckShape(const int64_t* shape, size_t rank, size_t* elements) {
  if (rank > DT_MAX_RANK) {
    return Error(DT_INVALID_ARGUMENT, "rank ", rank, " exceeds DT_MAX_RANK ", DT_MAX_RANK);
  }
  if (rank > 0 && shape == nullptr) {
    return Error(DT_INVALID_ARGUMENT, "shape is NULL for rank ", rank);
  }
  for (size_t i = 0; i < rank; ++i) {
    if (shape[i] < 0) {
      return Error(DT_INVALID_ARGUMENT, "shape[", i, "] is ", shape[i], "; dimensions must be >= 0");
    }
  }
  if (!ElementCount(shape, rank, elements)) {
    return Error(DT_INVALID_ARGUMENT, "shape ", ShapeText(shape, rank),
                 " has more elements than fit in size_t");
  }
  return nullptr;
}

namespace {

// `raw_type` is the number a caller passed; `type` becomes the element type it names.
DtStatus* CheckType(int32_t raw_type, DtElementType* type, size_t* element_size) {
  if (!IsElementType(raw_type)) {
    return Error(DT_INVALID_ARGUMENT, "type ", raw_type, " is not a supported element type");
  }
  *type = static_cast<DtElementType>(raw_type);
  *element_size = ElementSize(*type);
  return nullptr;
}

// Checks type and shape and computes a contiguous layout at `byte_offset` with its size in bytes;
// `raw_type` is the number a caller passed, `type` the element type it names.
DtStatus* ContiguousLayout(int32_t raw_type, const int64_t* shape, size_t rank, size_t byte_offset,
                           DtElementType* type, Layout* layout, size_t* bytes) {
  size_t element_size = 0, elements = 0;
  DT_RETURN_IF_ERROR(CheckType(raw_type, type, &element_size));
  DT_RETURN_IF_ERROR(CheckShape(shape, rank, &elements));
  if (MulOverflows(elements, element_size, bytes)) {
    return Error(DT_INVALID_ARGUMENT, "shape ", ShapeText(shape, rank), " of ",
                 DtGetElementTypeName(*type), " has more bytes than fit in size_t");
  }
  layout->rank = rank;
  std::copy(shape, shape + rank, layout->shape);
  ContiguousStrides(shape, rank, layout->strides);
  layout->byte_offset = byte_offset;
  layout->element_size = element_size;
  return nullptr;
}

DtStatus* CheckDevice(DtEnv* env, const DtDevice* device) {
  if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
  if (device == nullptr) return Error(DT_INVALID_ARGUMENT, "device is NULL");
  if (!IsRegistered(*env, device->factory->owner)) {
    return Error(DT_FAILED_PRECONDITION, "device ", DeviceText(device), " belongs to provider '",
                 device->factory->owner->registration_name(), "', which is not registered in env");
  }
  return nullptr;
}

DtStatus* MakeValue(std::shared_ptr<Storage> storage, const Layout& layout, DtElementType type,
                    DtValue** out) {
  *out = new DtValue{std::move(storage), layout, type};
  return nullptr;
}

}  // namespace
}  // namespace devtensor

using namespace devtensor;

extern "C" {

size_t DtGetElementSize(DtElementType type) {
  return IsElementType(EnumInteger(type)) ? ElementSize(type) : 0;
}

const char* DtGetElementTypeName(DtElementType type) {
  return IsElementType(EnumInteger(type)) ? ElementTypeName(type) : "unknown";
}

DtStatus* DtCreateTensor(DtEnv* env, const DtDevice* device, DtElementType type,
                         const int64_t* shape, size_t rank, DtValue** tensor) {
  return Guarded([&]() -> DtStatus* {
    DT_RETURN_IF_ERROR(CheckDevice(env, device));
    if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
    Layout layout;
    DtElementType checked{};  // `type`, once known to name an element type
    size_t bytes = 0;
    DT_RETURN_IF_ERROR(
        ContiguousLayout(EnumInteger(type), shape, rank, 0, &checked, &layout, &bytes));
    const uint64_t limit = device->info.max_allocation_bytes;
    if (limit != 0 && bytes > limit) {
      return Error(DT_OUT_OF_MEMORY, "tensor of ", bytes, " bytes exceeds the largest allocation of ",
                   DeviceText(device), ", ", limit, " bytes");
    }
    std::shared_ptr<Storage> storage;
    DT_RETURN_IF_ERROR(Storage::Allocate(device, bytes, &storage));
    return MakeValue(std::move(storage), layout, checked, tensor);
  });
}

DtStatus* DtCreateTensorWithData(DtEnv* env, const DtDevice* device, void* data, size_t data_bytes,
                                 size_t byte_offset, DtElementType type, const int64_t* shape,
                                 size_t rank, DtValue** tensor) {
  return Guarded([&]() -> DtStatus* {
    DT_RETURN_IF_ERROR(CheckDevice(env, device));
    if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
    if (data == nullptr) return Error(DT_INVALID_ARGUMENT, "data is NULL");
    Layout layout;
    DtElementType checked{};  // `type`, once known to name an element type
    size_t bytes = 0, end = 0;
    DT_RETURN_IF_ERROR(ContiguousLayout(EnumInteger(type), shape, rank, byte_offset, &checked,
                                        &layout, &bytes));
    if (AddOverflows(byte_offset, bytes, &end) || end > data_bytes) {
      return Error(DT_OUT_OF_RANGE, "byte_offset ", byte_offset, " + ", bytes,
                   " bytes exceeds buffer of ", data_bytes, " bytes");
    }
    if (byte_offset % layout.element_size != 0) {
      return Error(DT_INVALID_ARGUMENT, "byte_offset ", byte_offset,
                   " is not a multiple of the element size ", layout.element_size, " of ",
                   DtGetElementTypeName(checked));
    }
    const DtProviderFactory& factory = device->factory->api;
    const bool acquires = factory.AcquireExternalBuffer && factory.ReleaseExternalBuffer;
    if (acquires) {
      DT_RETURN_IF_ERROR(
          factory.AcquireExternalBuffer(factory.state, device->info.id, data, data_bytes));
    }
    std::shared_ptr<Storage> storage;
    try {
      storage = std::make_shared<Storage>(device->factory->owner->shared_from_this(), device, data,
                                          data_bytes, nullptr);
    } catch (...) {
      if (acquires) factory.ReleaseExternalBuffer(factory.state, device->info.id, data);
      throw;
    }
    return MakeValue(std::move(storage), layout, checked, tensor);
  });
}

DtStatus* DtCreateTensorView(const DtValue* base, size_t byte_offset, DtElementType type,
                             const int64_t* shape, size_t rank, DtValue** view) {
  return Guarded([&]() -> DtStatus* {
    if (base == nullptr) return Error(DT_INVALID_ARGUMENT, "base is NULL");
    if (view == nullptr) return Error(DT_INVALID_ARGUMENT, "view is NULL");
    const size_t extent = ExtentBytes(base->layout);
    Layout layout;
    DtElementType checked{};  // `type`, once known to name an element type
    size_t bytes = 0, end = 0;
    DT_RETURN_IF_ERROR(
        ContiguousLayout(EnumInteger(type), shape, rank, 0, &checked, &layout, &bytes));
    if (AddOverflows(byte_offset, bytes, &end) || end > extent || (bytes == 0 && byte_offset > extent)) {
      return Error(DT_OUT_OF_RANGE, "byte_offset ", byte_offset, " + ", bytes,
                   " bytes exceeds base extent of ", extent, " bytes");
    }
    layout.byte_offset = base->layout.byte_offset + byte_offset;  // cannot wrap: inside storage
    if (layout.byte_offset % layout.element_size != 0) {
      return Error(DT_INVALID_ARGUMENT, "byte_offset ", byte_offset, " puts the view at byte ",
                   layout.byte_offset, " of its buffer, not a multiple of the element size ",
                   layout.element_size, " of ", DtGetElementTypeName(checked));
    }
    return MakeValue(base->storage, layout, checked, view);
  });
}

DtStatus* DtSliceTensor(const DtValue* base, size_t axis, int64_t start, int64_t length,
                        DtValue** view) {
  return Guarded([&]() -> DtStatus* {
    if (base == nullptr) return Error(DT_INVALID_ARGUMENT, "base is NULL");
    if (view == nullptr) return Error(DT_INVALID_ARGUMENT, "view is NULL");
    const Layout& from = base->layout;
    if (axis >= from.rank) {
      return Error(DT_OUT_OF_RANGE, "axis ", axis, " is not below the rank ", from.rank);
    }
    const int64_t size = from.shape[axis];
    if (start < 0 || length < 0 || start > size || length > size - start) {
      return Error(DT_OUT_OF_RANGE, "start ", start, " + length ", length,
                   " exceeds dimension ", axis, " of size ", size);
    }
    Layout layout = from;
    layout.shape[axis] = length;
    size_t elements = 0;
    ElementCount(layout.shape, layout.rank, &elements);
    // An empty slice keeps the base offset; otherwise the offset moves to the first element,
    // which lies inside the storage.
    if (elements > 0) {
      layout.byte_offset += static_cast<size_t>(start) * static_cast<size_t>(from.strides[axis]) *
                            from.element_size;
    }
    return MakeValue(base->storage, layout, base->type, view);
  });
}

DtStatus* DtGetTensorShape(const DtValue* tensor, DtElementType* type, int64_t* shape,
                           size_t capacity, size_t* rank) {
  if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
  const Layout& layout = tensor->layout;
  if (capacity > 0 && shape == nullptr) {
    return Error(DT_INVALID_ARGUMENT, "shape is NULL with capacity ", capacity);
  }
  if (shape != nullptr && capacity < layout.rank) {
    return Error(DT_OUT_OF_RANGE, "capacity ", capacity, " is smaller than the rank ", layout.rank);
  }
  if (shape != nullptr) std::copy(layout.shape, layout.shape + layout.rank, shape);
  if (type != nullptr) *type = tensor->type;
  if (rank != nullptr) *rank = layout.rank;
  return nullptr;
}

DtStatus* DtGetTensorStrides(const DtValue* tensor, int64_t* strides, size_t capacity) {
  if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
  const Layout& layout = tensor->layout;
  if (layout.rank > 0 && strides == nullptr) return Error(DT_INVALID_ARGUMENT, "strides is NULL");
  if (capacity < layout.rank) {
    return Error(DT_OUT_OF_RANGE, "capacity ", capacity, " is smaller than the rank ", layout.rank);
  }
  std::copy(layout.strides, layout.strides + layout.rank, strides);
  return nullptr;
}

int32_t DtIsTensorContiguous(const DtValue* tensor) {
  return tensor != nullptr && IsContiguous(tensor->layout) ? 1 : 0;
}

DtStatus* DtGetTensorSize(const DtValue* tensor, size_t* element_count, size_t* extent_bytes) {
  if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
  size_t elements = 0;
  ElementCount(tensor->layout.shape, tensor->layout.rank, &elements);
  if (element_count != nullptr) *element_count = elements;
  if (extent_bytes != nullptr) *extent_bytes = ExtentBytes(tensor->layout);
  return nullptr;
}

DtStatus* DtGetTensorData(const DtValue* tensor, void** data) {
  if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
  if (data == nullptr) return Error(DT_INVALID_ARGUMENT, "data is NULL");
  if (!tensor->storage->addressable()) {
    return Error(DT_NOT_SUPPORTED, "tensor lives on ", DeviceText(tensor->storage->device()),
                 ", whose buffers are opaque handles; use DtGetTensorBuffer for (handle, byte offset)");
  }
  *data = static_cast<char*>(tensor->storage->handle()) + tensor->layout.byte_offset;
  return nullptr;
}

DtStatus* DtGetTensorBuffer(const DtValue* tensor, void** handle, size_t* byte_offset,
                            size_t* buffer_bytes) {
  if (tensor == nullptr) return Error(DT_INVALID_ARGUMENT, "tensor is NULL");
  if (handle != nullptr) *handle = tensor->storage->handle();
  if (byte_offset != nullptr) *byte_offset = tensor->layout.byte_offset;
  if (buffer_bytes != nullptr) *buffer_bytes = tensor->storage->bytes();
  return nullptr;
}

const DtDevice* DtGetTensorDevice(const DtValue* tensor) {
  return tensor ? tensor->storage->device() : nullptr;
}

void DtReleaseValue(DtValue* value) { delete value; }

}  // extern "C"
