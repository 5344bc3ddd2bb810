// What the device error flags of devtensor.h (DT_DEVICE_ERROR_*) say, naming the ops that raise
// them: the text every device provider's stream synchronisation reports.
#ifndef DEVTENSOR_COMMON_DEVICE_ERROR_FLAGS_H_
#define DEVTENSOR_COMMON_DEVICE_ERROR_FLAGS_H_

#include <cstdint>
#include <string>

#include "devtensor/devtensor.h"

namespace devtensor {

inline std::string DeviceErrorFlagsText(uint32_t raised) {
  std::string text;
  if (raised & DT_DEVICE_ERROR_KV_POSITION) {
    text += "KvCacheAppend: a position was out of range, so its write was skipped "
            "(DT_DEVICE_ERROR_KV_POSITION)";
  }
  if (raised & DT_DEVICE_ERROR_SCATTER_INDEX) {
    if (!text.empty()) text += "; ";
    text += "ScatterND: an index was out of range, so its update was skipped "
            "(DT_DEVICE_ERROR_SCATTER_INDEX)";
  }
  return text;
}

}  // namespace devtensor

#endif  // DEVTENSOR_COMMON_DEVICE_ERROR_FLAGS_H_
