#include "common/status.h"

#include <new>

namespace devtensor {
namespace {
// Returned when even the status cannot be allocated; FreeStatus never frees it.
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

void FreeStatus(DtStatus* status) {
  if (status != nullptr && !IsStaticStatus(status)) delete status;
}

}  // namespace devtensor
