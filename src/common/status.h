// The one error type inside devtensor: a DtStatus* (NULL on success), as the C API returns it.
// The core, the ops and the built-in CPU provider make statuses here; provider libraries make
// theirs through DtHostApi::CreateStatus, which lands here too.
#ifndef DEVTENSOR_COMMON_STATUS_H_
#define DEVTENSOR_COMMON_STATUS_H_

#include <string>

#include "common/return_if_error.h"
#include "common/text.h"
#include "devtensor/devtensor.h"

struct DtStatus {
  DtErrorCode code;
  std::string message;
};

namespace devtensor {

// Makes a status; never returns NULL for a code other than DT_OK (falls back to a static
// out-of-memory status when allocation fails).
DtStatus* MakeStatus(DtErrorCode code, std::string message);

// True for the static status MakeStatus falls back to, which is never freed.
bool IsStaticStatus(const DtStatus* status);

// Frees a status MakeStatus made; NULL and the static status are ignored.
void FreeStatus(DtStatus* status);

// Builds a message from pieces: Error(DT_OUT_OF_RANGE, "byte_offset ", off, " exceeds ", n).
template <typename... Parts>
DtStatus* Error(DtErrorCode code, const Parts&... parts) {
  return MakeStatus(code, Concat(parts...));
}

// Runs `body` (returning DtStatus*) and turns any exception into a status, so none crosses the ABI.
template <typename Body>
DtStatus* Guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return MakeStatus(DT_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return MakeStatus(DT_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return MakeStatus(DT_INTERNAL, "internal error: unknown exception");
  }
}

}  // namespace devtensor

#endif  // DEVTENSOR_COMMON_STATUS_H_
