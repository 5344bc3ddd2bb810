#include "ops/attributes.h"

#include <cstring>
#include <string>

namespace devtensor::ops {

const char* AttributeTypeName(DtAttributeType type) {
  switch (type) {
    case DT_ATTR_INT: return "int";
    case DT_ATTR_FLOAT: return "float";
    case DT_ATTR_INTS: return "ints";
    case DT_ATTR_FLOATS: return "floats";
  }
  return "unknown";
}

DtStatus* Attributes::Parse(const OpCall& call, std::initializer_list<AttributeSpec> specs,
                          Attributes* out) {
  std::string known;
  for (const AttributeSpec& spec : specs) {
    known += Concat(known.empty() ? "" : ", ", spec.name, " (", AttributeTypeName(spec.type), ")");
  }
  if (known.empty()) known = "none";
  for (size_t i = 0; i < call.num_attributes; ++i) {
    const DtAttribute& attribute = call.attributes[i];
    if (attribute.name == nullptr) {
      return Fail(DT_INVALID_ARGUMENT, call.op, "attributes[", i, "] has a NULL name");
    }
    const AttributeSpec* spec = nullptr;
    for (const AttributeSpec& candidate : specs) {
      if (std::strcmp(candidate.name, attribute.name) == 0) spec = &candidate;
    }
    if (spec == nullptr) {
      return Fail(DT_INVALID_ARGUMENT, call.op, "unknown attribute '", attribute.name,
                  "' (attributes[", i, "]); the op takes: ", known);
    }
    for (size_t j = 0; j < i; ++j) {
      if (call.attributes[j].name != nullptr &&
          std::strcmp(call.attributes[j].name, attribute.name) == 0) {
        return Fail(DT_INVALID_ARGUMENT, call.op, "attribute '", attribute.name,
                    "' is given twice (attributes[", j, "] and [", i, "])");
      }
    }
    // The type as the integer a C caller may have put there: any value, not only the enum's.
    int type = 0;
    static_assert(sizeof type == sizeof attribute.type);
    std::memcpy(&type, &attribute.type, sizeof type);
    if (type != static_cast<int>(spec->type)) {
      const bool known = type >= DT_ATTR_INT && type <= DT_ATTR_FLOATS;
      return Fail(DT_INVALID_ARGUMENT, call.op, "attribute '", attribute.name, "' has type ",
                  known ? AttributeTypeName(static_cast<DtAttributeType>(type)) : "unknown", " (",
                  type, ") but must be ", AttributeTypeName(spec->type));
    }
    if (attribute.type == DT_ATTR_INTS && attribute.count > 0 && attribute.ints == nullptr) {
      return Fail(DT_INVALID_ARGUMENT, call.op, "attribute '", attribute.name, "' has ",
                  attribute.count, " ints but ints is NULL");
    }
    if (attribute.type == DT_ATTR_FLOATS && attribute.count > 0 && attribute.floats == nullptr) {
      return Fail(DT_INVALID_ARGUMENT, call.op, "attribute '", attribute.name, "' has ",
                  attribute.count, " floats but floats is NULL");
    }
  }
  out->attributes_ = call.attributes;
  out->count_ = call.num_attributes;
  return nullptr;
}

const DtAttribute* Attributes::Find(const char* name) const {
  for (size_t i = 0; i < count_; ++i) {
    if (std::strcmp(attributes_[i].name, name) == 0) return &attributes_[i];
  }
  return nullptr;
}

int64_t Attributes::Int(const char* name, int64_t fallback) const {
  const DtAttribute* attribute = Find(name);
  return attribute != nullptr ? attribute->i : fallback;
}

}  // namespace devtensor::ops
