// DtStatus: the one error object of the C API, and helpers to make and pass it.
#ifndef DEVTENSOR_CORE_STATUS_H_
#define DEVTENSOR_CORE_STATUS_H_

#include <string>

#include "common/return_if_error.h"
#include "devtensor/devtensor.h"

struct DtStatus {
  DtErrorCode code;
  std::string message;
};

namespace devtensor {

// Makes a status; never returns NULL for a code other than DT_OK (falls back to a static
// out-of-memory status when allocation fails).
DtStatus* MakeStatus(DtErrorCode code, std::string message);

inline std::string ToText(const std::string& s) { return s; }
inline std::string ToText(const char* s) { return s ? s : "(null)"; }
template <typename T>
std::string ToText(const T& v) { return std::to_string(v); }

// Builds a message from pieces: Error(DT_OUT_OF_RANGE, "byte_offset ", off, " exceeds ", n).
template <typename... Parts>
DtStatus* Error(DtErrorCode code, const Parts&... parts) {
  std::string message;
  (message.append(ToText(parts)), ...);
  return MakeStatus(code, std::move(message));
}

// Formats a shape as "[2, 3, 4]".
std::string ShapeText(const int64_t* shape, size_t rank);

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

#endif  // DEVTENSOR_CORE_STATUS_H_
