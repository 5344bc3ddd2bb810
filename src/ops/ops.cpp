#include "ops/ops.h"

#include <cstring>

namespace devtensor::ops {

namespace {
constexpr const char* kOps[] = {"Cast",      "Add",    "Sub",  "Mul",
                                "Div",       "Where",  "ScatterND", "ArgMax",
                                "Expand",    "Fill",   "UpdateAttentionMask",
                                "UpdatePositionIds", "KvCacheAppend"};
}  // namespace

bool IsKnownOp(const char* op_type) {
  for (const char* name : kOps) {
    if (std::strcmp(name, op_type) == 0) return true;
  }
  return false;
}

OpError CheckOp(const char* op_type, const TensorView*, size_t, const TensorView*, size_t,
                const DtAttribute*, size_t) {
  return {DT_NOT_SUPPORTED, std::string(op_type) + " is not implemented yet"};
}

OpError RunHostOp(const char* op_type, const TensorView*, size_t, const TensorView*, size_t,
                  const DtAttribute*, size_t) {
  return {DT_NOT_SUPPORTED, std::string(op_type) + " is not implemented yet"};
}

}  // namespace devtensor::ops
