// devtensor's decode ops: Fill, UpdateAttentionMask, UpdatePositionIds, KvCacheAppend (see the Ops
// section of devtensor.h). Scalars (total_length, position) are int32 tensors of one element, of
// any rank.
#include <algorithm>
#include <array>
#include <limits>

#include "ops/attributes.h"
#include "ops/convert.h"
#include "ops/op_defs.h"
#include "host_memory/strided_copy.h"

namespace devtensor::ops {

// ---- Fill: y := value (a float attribute, required), converted as Cast converts ---------------

DtStatus* CheckFill(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 0, "", 1, "y"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {{"value", DT_ATTR_FLOAT}}, &attributes));
  const DtAttribute* value = attributes.Find("value");
  if (value == nullptr) {
    return Fail(DT_INVALID_ARGUMENT, call.op, "attribute 'value' (float) is required");
  }
  // The value converted once, here, for every device: the element's bytes.
  auto& fill = call.params->fill;
  fill.value = value->f;
  VisitType(call.outputs[0].type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Store<T>(&fill.bits, 0, Convert<T>(fill.value));
  });
  return nullptr;
}

DtStatus* RunFill(const OpCall& call) {
  const TensorView& y = call.outputs[0];
  std::array<const int64_t*, 1> strides = {y.strides};
  VisitWord(ElementBytes(y.type), [&](auto tag) {
    using W = typename decltype(tag)::type;
    const W bits = Load<W>(&call.params->fill.bits, 0);
    ForEachIndex<1>(y.shape, y.rank, strides, [&](const std::array<int64_t, 1>& at) {
      Store<W>(y.data, at[0], bits);
    });
  });
  return nullptr;
}

// ---- UpdateAttentionMask: mask[:, :n] = 1, mask[:, n:] = 0, n = clamp(total_length) -----------

DtStatus* CheckUpdateAttentionMask(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 1, "total_length", 1, "mask"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {}, &attributes));
  DT_RETURN_IF_ERROR(CheckInt32Scalar(call, call.inputs[0], Arg{"inputs", 0, "total_length"}));
  const TensorView& mask = call.outputs[0];
  if (mask.type != DT_INT32 && mask.type != DT_INT64) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "mask"), " has element type ",
                TypeName(mask.type), " but must be int32 or int64");
  }
  if (mask.rank != 2) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "mask"), " has shape ",
                ShapeText(mask), " but must be [batch, max_length] (rank 2)");
  }
  return nullptr;
}

DtStatus* RunUpdateAttentionMask(const OpCall& call) {
  const TensorView& mask = call.outputs[0];
  const int64_t max_length = mask.shape[1];
  if (ElementCount(mask) == 0) return nullptr;  // [huge, 0] must not loop over its rows
  const int64_t total = std::clamp<int64_t>(LoadScalarInt32(call.inputs[0]), 0, max_length);
  auto fill = [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t b = 0; b < mask.shape[0]; ++b) {
      for (int64_t j = 0; j < max_length; ++j) {
        Store<T>(mask.data, b * mask.strides[0] + j * mask.strides[1], T(j < total ? 1 : 0));
      }
    }
  };
  if (mask.type == DT_INT32) {
    fill(TypeTag<int32_t>{});
  } else {
    fill(TypeTag<int64_t>{});
  }
  return nullptr;
}

// ---- UpdatePositionIds: position_ids += increment (int attribute, default 1), wrapping --------

DtStatus* CheckUpdatePositionIds(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 0, "", 1, "position_ids"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {{"increment", DT_ATTR_INT}}, &attributes));
  const int64_t increment = attributes.Int("increment", 1);
  call.params->update_position_ids.increment = increment;
  const TensorView& ids = call.outputs[0];
  if (ids.type != DT_INT32 && ids.type != DT_INT64) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "position_ids"),
                " has element type ", TypeName(ids.type), " but must be int32 or int64");
  }
  if (ids.type == DT_INT32 && (increment < std::numeric_limits<int32_t>::min() ||
                               increment > std::numeric_limits<int32_t>::max())) {
    return Fail(DT_INVALID_ARGUMENT, call.op, "attribute 'increment' is ", increment,
                ", which int32 position_ids cannot hold");
  }
  return nullptr;
}

DtStatus* RunUpdatePositionIds(const OpCall& call) {
  const int64_t increment = call.params->update_position_ids.increment;
  const TensorView& ids = call.outputs[0];
  std::array<const int64_t*, 1> strides = {ids.strides};
  auto add = [&](auto tag) {
    using T = typename decltype(tag)::type;
    ForEachIndex<1>(ids.shape, ids.rank, strides, [&](const std::array<int64_t, 1>& at) {
      const uint64_t sum = uint64_t(Load<T>(ids.data, at[0])) + uint64_t(increment);
      Store<T>(ids.data, at[0], static_cast<T>(sum));
    });
  };
  if (ids.type == DT_INT32) {
    add(TypeTag<int32_t>{});
  } else {
    add(TypeTag<int64_t>{});
  }
  return nullptr;
}

// ---- KvCacheAppend: cache[:, :, position:position + new_len, :] = new_kv ---------------------

DtStatus* CheckKvCacheAppend(const OpCall& call) {
  DT_RETURN_IF_ERROR(CheckCounts(call, 2, "new_kv, position", 1, "cache"));
  Attributes attributes;
  DT_RETURN_IF_ERROR(Attributes::Parse(call, {}, &attributes));
  const TensorView &new_kv = call.inputs[0], &cache = call.outputs[0];
  if (new_kv.rank != 4) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "new_kv"), " has shape ",
                ShapeText(new_kv), " but must be [batch, heads, new_len, head_dim] (rank 4)");
  }
  DT_RETURN_IF_ERROR(CheckInt32Scalar(call, call.inputs[1], Arg{"inputs", 1, "position"}));
  if (cache.rank != 4) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "cache"), " has shape ",
                ShapeText(cache), " but must be [batch, heads, max_len, head_dim] (rank 4)");
  }
  if (cache.type != new_kv.type) {
    return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("outputs", 0, "cache"), " has element type ",
                TypeName(cache.type), " but ", ArgText("inputs", 0, "new_kv"), " has ",
                TypeName(new_kv.type));
  }
  static const char* const kNames[] = {"batch", "heads", "", "head_dim"};
  for (size_t i : {0, 1, 3}) {
    if (cache.shape[i] != new_kv.shape[i]) {
      return Fail(DT_INVALID_ARGUMENT, call.op, ArgText("inputs", 0, "new_kv"), " has shape ",
                  ShapeText(new_kv), " but ", ArgText("outputs", 0, "cache"), " has shape ",
                  ShapeText(cache), ": ", kNames[i], " (dimension ", i, ") differs, ",
                  new_kv.shape[i], " and ", cache.shape[i]);
    }
  }
  return nullptr;
}

DtStatus* RunKvCacheAppend(const OpCall& call) {
  const TensorView &new_kv = call.inputs[0], &cache = call.outputs[0];
  const int64_t position = LoadScalarInt32(call.inputs[1]);
  const int64_t new_len = new_kv.shape[2], max_len = cache.shape[2];
  // new_len > max_len - position: position + new_len could overflow.
  if (position < 0 || new_len > max_len - position) {
    return Fail(DT_OUT_OF_RANGE, call.op, "position ", position, " with new_len ", new_len,
                " is out of range for max_len ", max_len,
                " (needs 0 <= position and position + new_len <= max_len); the cache is unchanged");
  }
  // Nothing to write; the offset below could overflow with an empty cache's huge strides.
  if (ElementCount(new_kv) == 0) return nullptr;
  const size_t element_size = ElementBytes(cache.type);
  char* first = static_cast<char*>(cache.data) + position * cache.strides[2] * int64_t(element_size);
  CopyStrided(new_kv.data, new_kv.strides, first, cache.strides, new_kv.shape, 4, element_size);
  return nullptr;
}

}  // namespace devtensor::ops
