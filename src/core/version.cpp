// DtGetVersion: the version of the library as it was built, for the compatibility check of
// DtIsLibraryCompatible in the header an application compiled against.
#include "devtensor/devtensor.h"

extern "C" void DtGetVersion(uint32_t* major, uint32_t* minor, uint32_t* patch) {
  if (major != nullptr) *major = DT_VERSION_MAJOR;
  if (minor != nullptr) *minor = DT_VERSION_MINOR;
  if (patch != nullptr) *patch = DT_VERSION_PATCH;
}
