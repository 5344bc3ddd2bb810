// The WebGPU op kernels, one file per op or family, and the element types each takes as its op's
// principal type (the type DtGetOpSupport() keys the op by). op_kernels.cpp makes them one table.
// Each records its op into a command list; the host has checked the call against the op's
// definition and against the support table before.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_KERNELS_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_KERNELS_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/kernels/op_builder.h"

namespace devtensor::webgpu {

// Records `call` into `list`.
using RecordFunction = DtStatus* (*)(Context& context, CommandList& list, const DtOpCall& call);

// The bits of DtOpSupport::element_types for `types`.
constexpr uint64_t TypeBits(std::initializer_list<DtElementType> types) {
  uint64_t bits = 0;
  for (DtElementType type : types) bits |= DT_ELEMENT_TYPE_BIT(type);
  return bits;
}

// Every element type: kernels that only move or convert elements take them all.
inline constexpr uint64_t kAllTypes =
    TypeBits({DT_FLOAT, DT_UINT8, DT_INT8, DT_UINT16, DT_INT16, DT_INT32, DT_INT64, DT_BOOL,
              DT_FLOAT16, DT_DOUBLE, DT_UINT32, DT_UINT64, DT_BFLOAT16});
// Add, Sub, Mul: no f64 arithmetic in WGSL, and none on bool.
inline constexpr uint64_t kArithmeticTypes = kAllTypes & ~TypeBits({DT_BOOL, DT_DOUBLE});
// Div: nor 64-bit integer division.
inline constexpr uint64_t kDivTypes = kArithmeticTypes & ~TypeBits({DT_INT64, DT_UINT64});
// ArgMax compares as f32, i32, u32 or signed 64-bit words: no f64 and no uint64.
inline constexpr uint64_t kArgMaxTypes = kAllTypes & ~TypeBits({DT_DOUBLE, DT_UINT64});
// Position ids and attention masks.
inline constexpr uint64_t kIndexTypes = TypeBits({DT_INT32, DT_INT64});

// Add, Sub, Mul or Div, by call.op (elementwise.cpp).
DtStatus* RecordArithmetic(Context& context, CommandList& list, const DtOpCall& call);
// Where (elementwise.cpp).
DtStatus* RecordWhere(Context& context, CommandList& list, const DtOpCall& call);
// Expand (elementwise.cpp).
DtStatus* RecordExpand(Context& context, CommandList& list, const DtOpCall& call);
// Expand through `b`, whose call may be another op's (ScatterND copies its data with it).
DtStatus* RecordExpandWith(OpBuilder& b, const DtOpCall& call);
// One invocation per element of the output with `inputs` inputs read at their broadcast
// positions; `store` gives the statement that stores the element, from the inputs as bound (raw1
// ... rawN load their raw bits at a byte address, address(k, index) is input k's element).
DtStatus* RecordPerElement(OpBuilder& b, const DtOpCall& call, uint32_t inputs,
                           const std::function<std::string(const std::vector<DtTensorRef>& used)>& store);
// Cast (cast.cpp).
DtStatus* RecordCast(Context& context, CommandList& list, const DtOpCall& call);
// Fill (fill.cpp).
DtStatus* RecordFill(Context& context, CommandList& list, const DtOpCall& call);
// UpdatePositionIds (update_position_ids.cpp).
DtStatus* RecordUpdatePositionIds(Context& context, CommandList& list, const DtOpCall& call);
// UpdateAttentionMask (update_attention_mask.cpp).
DtStatus* RecordUpdateAttentionMask(Context& context, CommandList& list, const DtOpCall& call);
// KvCacheAppend (kv_cache_append.cpp).
DtStatus* RecordKvCacheAppend(Context& context, CommandList& list, const DtOpCall& call);
// ArgMax (argmax.cpp).
DtStatus* RecordArgMax(Context& context, CommandList& list, const DtOpCall& call);
// ScatterND (scatter_nd.cpp).
DtStatus* RecordScatterND(Context& context, CommandList& list, const DtOpCall& call);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_KERNELS_H_
