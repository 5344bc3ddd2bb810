// An op's attributes, checked against the names and types the op declares.
#ifndef DEVTENSOR_OPS_ATTRIBUTES_H_
#define DEVTENSOR_OPS_ATTRIBUTES_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "ops/op_common.h"

namespace devtensor::ops {

// One attribute an op takes.
struct AttributeSpec {
  const char* name;
  DtAttributeType type;
};

class Attributes {
 public:
  // Checks `call`'s attributes against `specs`: every name non-NULL and one of the specs (else
  // DT_INVALID_ARGUMENT naming it and the names the op takes), no name twice, the declared type,
  // and non-NULL values for lists with a count. Keeps the call's attributes for the getters.
  static DtStatus* Parse(const OpCall& call, std::initializer_list<AttributeSpec> specs,
                       Attributes* out);

  // The attribute named `name`, or null when the call has none.
  const DtAttribute* Find(const char* name) const;
  // The int attribute `name`, or `fallback` when absent.
  int64_t Int(const char* name, int64_t fallback) const;

 private:
  const DtAttribute* attributes_ = nullptr;
  size_t count_ = 0;
};

// "int", "float", "ints", "floats".
const char* AttributeTypeName(DtAttributeType type);

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_ATTRIBUTES_H_
