#include "core/status.h"

#include "core/c_enum.h"

#include <new>

namespace devtensor {
namespace {
// Returned when even the status cannot be allocated; DtReleaseStatus never frees it.
DtStatus g_out_of_memory{DT_OUT_OF_MEMORY, "out of host memory (while reporting an error)"};
}  // namespace

DtStatus* MakeStatus(DtErrorCode code, std::string message) {
  if (code == DT_OK) return nullptr;
  DtStatus* status = new (std::nothrow) DtStatus{code, {}};
  if (status == nullptr) return &g_out_of_memory;
  try {
    status->message = std::move(message);
  } catch (...) {
    delete status;
    return &g_out_of_memory;
  }
  return status;
}

bool IsStaticStatus(const DtStatus* status) { return status == &g_out_of_memory; }

std::string ShapeText(const int64_t* shape, size_t rank) {
  std::string text = "[";
  for (size_t i = 0; i < rank; ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

}  // namespace devtensor

using devtensor::IsStaticStatus;

extern "C" {

DtErrorCode DtGetErrorCode(const DtStatus* status) { return status ? status->code : DT_OK; }

const char* DtGetErrorMessage(const DtStatus* status) {
  return status ? status->message.c_str() : "";
}

void DtReleaseStatus(DtStatus* status) {
  if (status != nullptr && !IsStaticStatus(status)) delete status;
}

const char* DtGetErrorCodeName(DtErrorCode code) {
  const int32_t raw = devtensor::EnumInteger(code);
  if (!devtensor::IsErrorCode(raw)) return "DT_UNKNOWN";
  switch (static_cast<DtErrorCode>(raw)) {
    case DT_OK: return "DT_OK";
    case DT_INVALID_ARGUMENT: return "DT_INVALID_ARGUMENT";
    case DT_OUT_OF_RANGE: return "DT_OUT_OF_RANGE";
    case DT_NOT_SUPPORTED: return "DT_NOT_SUPPORTED";
    case DT_NOT_FOUND: return "DT_NOT_FOUND";
    case DT_FAILED_PRECONDITION: return "DT_FAILED_PRECONDITION";
    case DT_OUT_OF_MEMORY: return "DT_OUT_OF_MEMORY";
    case DT_DEVICE_LOST: return "DT_DEVICE_LOST";
    case DT_INTERNAL: return "DT_INTERNAL";
  }
  return "DT_UNKNOWN";
}

}  // extern "C"
