// ScatterND: the data copied to the output (unless updated in place), then one invocation per
// element of updates, whose index tuple picks where in the output it goes; an index out of range
// raises error flag bit 1 and writes nothing.
#include <algorithm>

#include "common/return_if_error.h"
#include "providers/webgpu/kernels/element_code.h"
#include "providers/webgpu/kernels/kernels.h"
#include "providers/webgpu/kernels/library.h"

namespace devtensor::webgpu {
namespace {

constexpr Param kParamList[] = {
    {"index_depth", ParamType::kU32},  // entries of an index tuple: the output dimensions it picks
    {"tuple_dims", ParamType::kU32},   // dimensions of indices before its last: the tuples' shape
    {"output_extent", ParamType::kU32, kOpMaxRank},  // the output's shape
};
constexpr ParamTable kParams(kParamList);
constexpr Param kIndexDepth = kParams["index_depth"];
constexpr Param kTupleDims = kParams["tuple_dims"];
constexpr Param kOutputExtent = kParams["output_extent"];

// The scatter step's bindings, made before the data is copied to the output: staging an updates
// or indices tensor that overlaps the output must read it before that copy writes there.
DtStatus* BindScatter(OpBuilder& b, const DtOpCall& call, DtTensorRef* indices, DtTensorRef* updates) {
  DT_RETURN_IF_ERROR(b.BindOutput(*call.outputs[0]));
  DT_RETURN_IF_ERROR(b.BindInput(1, *call.inputs[1], false, indices));
  DT_RETURN_IF_ERROR(b.BindInput(2, *call.inputs[2], false, updates));
  return b.BindFlags();
}

// The copy of data into the output, unless the op updates data in place.
DtStatus* RecordCopy(OpBuilder& b, const DtOpCall& call) {
  const DtTensorRef& data = *call.inputs[0];
  const DtTensorRef& out = *call.outputs[0];
  const bool in_place = data.handle == out.handle && data.byte_offset == out.byte_offset &&
                        std::equal(data.strides, data.strides + data.rank, out.strides);
  if (in_place) return nullptr;
  DtOpCall expand = call;
  expand.op_type = "Expand";
  expand.num_inputs = 1;
  return RecordExpandWith(b, expand);
}

DtStatus* RecordUpdates(OpBuilder& b, const DtOpCall& call, const DtTensorRef& ind, const DtTensorRef& upd) {
  const DtTensorRef& out = *call.outputs[0];
  const auto size = static_cast<uint32_t>(out.element_size);
  b.SetSpace(upd.shape, upd.rank);
  b.SetStrides(2, upd.strides, upd.rank, upd.element_size);
  b.SetStrides(1, ind.strides, ind.rank, 8);  // tuple dimensions, then between a tuple's entries
  b.SetStrides(0, out.strides, out.rank, out.element_size);
  b.params().Set(kIndexDepth, static_cast<uint32_t>(ind.shape[ind.rank - 1]));
  b.params().Set(kTupleDims, static_cast<uint32_t>(ind.rank - 1));
  for (size_t d = 0; d < out.rank; ++d) {
    b.params().SetAt(kOutputExtent, static_cast<uint32_t>(d), static_cast<uint32_t>(out.shape[d]));
  }
  return b.Dispatch(call, "", [&] {
    std::string code = KernelLibrary() + kParams.Accessors() + RawLoad("raw2", "word_in2", size) + MainHead();
    code += "  var tuple = param_base(1u);\n"
            "  for (var d = 0u; d < param_tuple_dims(); d++) { tuple += index[d] * param_stride(1u, d); }\n";
    code += "  var dest = param_base(0u);\n";
    code += "  for (var t = 0u; t < param_index_depth(); t++) {\n";
    code += "    let a = tuple + t * param_stride(1u, param_tuple_dims());\n";
    code += "    let lo = word_in1(a >> 2u);\n    let hi = word_in1((a >> 2u) + 1u);\n";
    code += "    var v = bitcast<i32>(lo);\n    let n = param_output_extent(t);\n";
    code += "    if (bitcast<i32>(hi) < 0) { v = v + i32(n); }\n";
    code += "    if (v < 0 || u32(v) >= n || (hi != 0u && hi != 0xffffffffu)) { raise_flag(2u); return; }\n";
    code += "    dest += u32(v) * param_stride(0u, t);\n  }\n";
    // The output's dimensions past those the tuple picks follow the updates' last dimensions.
    code += "  for (var d = param_tuple_dims(); d < param_rank(); d++) {\n"
            "    dest += index[d] * param_stride(0u, param_index_depth() + d - param_tuple_dims());\n  }\n";
    code += "  " + StoreRaw(size, "dest", "raw2(address(2u, index))") + "\n}\n";
    return code;
  }, 2);
}

}  // namespace

DtStatus* RecordScatterND(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder scatter(context, list, call);
  DtTensorRef indices, updates;
  DT_RETURN_IF_ERROR(BindScatter(scatter, call, &indices, &updates));
  OpBuilder copy(context, list, call);
  DT_RETURN_IF_ERROR(RecordCopy(copy, call));
  return RecordUpdates(scatter, call, indices, updates);
}

}  // namespace devtensor::webgpu
