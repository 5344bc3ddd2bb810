// The C API of statuses: their codes, messages and release.
#include "common/status.h"
#include "core/c_enum.h"

extern "C" {

DtErrorCode DtGetErrorCode(const DtStatus* status) { return status ? status->code : DT_OK; }

const char* DtGetErrorMessage(const DtStatus* status) {
  return status ? status->message.c_str() : "";
}

void DtReleaseStatus(DtStatus* status) { devtensor::FreeStatus(status); }

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
