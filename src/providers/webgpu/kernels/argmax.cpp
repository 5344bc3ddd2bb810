// ArgMax: every workgroup of 256 lanes scans a stretch of the axis (each lane every 256th
// element) and reduces to one candidate with a tree. A short axis, or one with many outputs
// beside it, is one pass (a workgroup per output). A long axis with few outputs (the logits of a
// decode step: one output, 128256 elements) would leave the GPU idle, so it is split into chunks
// of kChunk elements: a first pass writes one candidate (value bits, index) per chunk into
// scratch and a second pass reduces each output's candidates.
#include <string>
#include <vector>

#include "common/return_if_error.h"
#include "providers/webgpu/kernels/element_code.h"
#include "providers/webgpu/kernels/kernels.h"
#include "providers/webgpu/kernels/library.h"

namespace devtensor::webgpu {
namespace {

constexpr int64_t kChunk = 2048;
constexpr int64_t kSplitOutputs = 128;  // split only when there are fewer outputs

constexpr Param kParamList[] = {
    {"axis_length", ParamType::kU32},   // elements along the axis
    {"axis_stride", ParamType::kU32},   // bytes from one element of the axis to the next
    {"chunk_length", ParamType::kU32},  // elements of a chunk (the chunks' pass)
    {"candidates", ParamType::kU32},    // candidates per output (the candidates' pass)
};
constexpr ParamTable kParams(kParamList);
constexpr Param kAxisLength = kParams["axis_length"];
constexpr Param kAxisStride = kParams["axis_stride"];
constexpr Param kChunkLength = kParams["chunk_length"];
constexpr Param kCandidates = kParams["candidates"];

enum class Pass { kWhole, kChunks, kCandidates };

// The WGSL of one pass. Element raw bits are u32 (zero-extended) or vec2<u32> (8 bytes).
std::string ArgMaxCode(DtElementType type, uint32_t size, bool last, Pass pass) {
  // NaN is the maximum, as on the host: found from the raw bits (a shader may assume no NaN).
  std::string nan = "false";
  if (type == DT_FLOAT) nan = "(r & 0x7fffffffu) > 0x7f800000u";
  if (type == DT_FLOAT16) nan = "(r & 0x7fffu) > 0x7c00u";
  if (type == DT_BFLOAT16) nan = "(r & 0x7fffu) > 0x7f80u";
  const bool wide = size == 8;
  const std::string raw_type = wide ? "vec2<u32>" : "u32";
  const std::string greater = wide ? "less_i64(va, vb)" : "vb > va";
  const std::string equal = wide ? "all(va == vb)" : "vb == va";
  // Whether candidate b (raw rb, index ib) beats a: NaN beats numbers, a larger value beats a
  // smaller one, and between equals (or two NaNs) the first index wins, or the last one with
  // select_last_index.
  const std::string tie = last ? "ib > ia" : "ib < ia";
  std::string code = KernelLibrary() + kParams.Accessors() +
                     RawLoad("raw1", "word_in1", pass == Pass::kCandidates ? 4 : size);
  if (pass == Pass::kCandidates && wide) code += RawLoad("raw1_wide", "word_in1", 8);
  code += "fn beats(rb: " + raw_type + ", ib: u32, ra: " + raw_type + ", ia: u32) -> bool {\n";
  code += "  var r = rb;\n  let nb = " + nan + ";\n  r = ra;\n  let na = " + nan + ";\n";
  code += "  if (nb != na) { return nb; }\n  if (nb) { return " + tie + "; }\n";
  code += "  let vb = " + FromBits(type, "rb") + ";\n  let va = " + FromBits(type, "ra") + ";\n";
  code += "  if (" + equal + ") { return " + tie + "; }\n  return " + greater + ";\n}\n";
  code += "var<workgroup> best_raw: array<" + raw_type + ", 256>;\n";
  code += "var<workgroup> best_at: array<u32, 256>;\n";  // index along the axis; none: 0xffffffff
  code += "@compute @workgroup_size(256)\n"
          "fn main(@builtin(global_invocation_id) id: vec3<u32>,\n"
          "        @builtin(local_invocation_index) lane: u32) {\n"
          "  let i = id.x + id.y * param_row_width();\n"
          "  let live = i < param_element_count();\n"
          "  let index = unravel(min(i, param_element_count() - 1u));\n"
          "  let start = address(1u, index);\n"
          "  var raw: " + raw_type + ";\n"
          "  var at = 0xffffffffu;\n";
  switch (pass) {
    case Pass::kWhole:
      code += "  let first = 0u;\n  let count = param_axis_length();\n";
      break;
    case Pass::kChunks:  // the chunk is the index's next-to-last dimension
      code += "  let first = index[param_rank() - 2u] * param_chunk_length();\n"
              "  let count = min(param_chunk_length(), param_axis_length() - first);\n";
      break;
    case Pass::kCandidates:  // 16 bytes each: value bits (1 or 2 words), then the index
      code += "  let count = param_candidates();\n";
      break;
  }
  if (pass == Pass::kCandidates) {
    code += "  if (live) {\n"
            "    for (var c = lane; c < count; c += 256u) {\n"
            "      let a = start + c * 16u;\n"
            "      let k = word_in1((a >> 2u) + 2u);\n"
            "      let r = " + std::string(wide ? "raw1_wide(a)" : "raw1(a)") + ";\n"
            "      if (k != 0xffffffffu && (at == 0xffffffffu || beats(r, k, raw, at))) { raw = r; at = k; }\n"
            "    }\n"
            "  }\n";
  } else {
    code += "  if (live) {\n"
            "    for (var k = lane; k < count; k += 256u) {\n"
            "      let r = raw1(start + k * param_axis_stride());\n"
            "      if (at == 0xffffffffu || beats(r, first + k, raw, at)) { raw = r; at = first + k; }\n"
            "    }\n"
            "  }\n";
  }
  code += "  best_raw[lane] = raw;\n  best_at[lane] = at;\n"
          "  workgroupBarrier();\n"
          "  for (var half = 128u; half > 0u; half >>= 1u) {\n"
          "    if (lane < half) {\n"
          "      let ib = best_at[lane + half];\n"
          "      let ia = best_at[lane];\n"
          "      if (ib != 0xffffffffu && (ia == 0xffffffffu ||\n"
          "          beats(best_raw[lane + half], ib, best_raw[lane], ia))) {\n"
          "        best_raw[lane] = best_raw[lane + half];\n        best_at[lane] = ib;\n"
          "      }\n"
          "    }\n"
          "    workgroupBarrier();\n"
          "  }\n"
          "  if (live && lane == 0u) {\n"
          "    let a = address(0u, index);\n";
  if (pass == Pass::kChunks) {
    code += wide ? "    store_wide(a, best_raw[0]);\n" : "    out_store(a >> 2u, best_raw[0]);\n";
    code += "    out_store((a >> 2u) + 2u, best_at[0]);\n";
  } else {
    code += "    store_wide(a, vec2<u32>(select(best_at[0], 0u, best_at[0] == 0xffffffffu), 0u));\n";
  }
  return code + "  }\n}\n";
}

}  // namespace

DtStatus* RecordArgMax(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  const DtTensorRef& data = *call.inputs[0];
  const DtTensorRef& out = *call.outputs[0];
  const auto size = static_cast<uint32_t>(data.element_size);
  const auto axis = static_cast<size_t>(call.params->argmax.axis);
  const bool keepdims = call.params->argmax.keepdims != 0;
  const bool last = call.params->argmax.select_last_index != 0;
  // The outputs' index space is the input's shape without the axis; strides over it.
  std::vector<int64_t> shape, out_strides;
  size_t o = 0;
  for (size_t d = 0; d < data.rank; ++d) {
    if (d == axis) {
      if (keepdims) ++o;
      continue;
    }
    shape.push_back(data.shape[d]);
    out_strides.push_back(out.strides[o++]);
  }
  if (shape.empty()) {  // a 1-D input: one output element
    shape.push_back(1);
    out_strides.push_back(0);
  }
  // The input's strides over that space, as bound (a staged input is dense).
  auto strides_without_axis = [&](const DtTensorRef& in) {
    std::vector<int64_t> strides;
    for (size_t d = 0; d < in.rank; ++d) {
      if (d != axis) strides.push_back(in.strides[d]);
    }
    if (strides.empty()) strides.push_back(0);
    return strides;
  };
  int64_t outputs = 1;
  for (int64_t n : shape) outputs *= n;
  const int64_t length = data.shape[axis];
  const int64_t chunks = (length + kChunk - 1) / kChunk;
  const char* order = last ? "last" : "first";

  // The chunks' pass adds two dimensions to the outputs' index space, which must still fit.
  if (chunks <= 2 || outputs >= kSplitOutputs || shape.size() + 2 > kOpMaxRank) {
    // One pass: a workgroup per output (a last dimension of 256 lanes, stride 0 in both).
    DT_RETURN_IF_ERROR(b.BindOutput(out));
    DtTensorRef in;
    DT_RETURN_IF_ERROR(b.BindInput(1, data, false, &in));
    std::vector<int64_t> in_strides = strides_without_axis(in);
    shape.push_back(kOpWorkgroup);
    in_strides.push_back(0);
    out_strides.push_back(0);
    b.SetSpace(shape.data(), shape.size());
    b.SetStrides(0, out_strides.data(), shape.size(), 8);
    b.SetStrides(1, in_strides.data(), shape.size(), in.element_size);
    b.params().Set(kAxisLength, static_cast<uint32_t>(length));
    b.params().Set(kAxisStride, static_cast<uint32_t>(in.strides[axis] * static_cast<int64_t>(in.element_size)));
    return b.Dispatch(call, (std::string(order) + "/whole").c_str(), [&] {
      return ArgMaxCode(data.element_type, size, last, Pass::kWhole);
    }, 1, /*batchable=*/false);
  }

  // Two passes through a scratch of [outputs, chunks] candidates of 16 bytes.
  const int64_t scratch_bytes = outputs * chunks * 16;
  wgpu::Buffer scratch = nullptr;
  DT_RETURN_IF_ERROR(list.TakeBuffer(static_cast<uint64_t>(scratch_bytes), Context::kTensorUsage, &scratch));
  const int64_t scratch_shape[1] = {scratch_bytes / 4};
  const int64_t scratch_unit[1] = {1};
  DtTensorRef candidates{};
  candidates.struct_size = sizeof(DtTensorRef);
  candidates.device_type = out.device_type;
  candidates.device_id = out.device_id;
  candidates.handle = scratch;
  candidates.buffer_bytes = context.api().BufferGetSize(scratch);
  candidates.element_type = DT_UINT32;
  candidates.element_size = 4;
  candidates.rank = 1;
  candidates.shape = scratch_shape;
  candidates.strides = scratch_unit;
  // Candidate strides (bytes) over the outputs' dimensions: dense, chunks * 16 per output.
  std::vector<int64_t> candidate_strides(shape.size());
  int64_t stride = chunks * 16;
  for (size_t d = shape.size(); d-- > 0;) {
    candidate_strides[d] = stride;
    stride *= shape[d];
  }

  // First pass: a workgroup per (output, chunk).
  DT_RETURN_IF_ERROR(b.BindOutput(candidates));
  DtTensorRef in;
  DT_RETURN_IF_ERROR(b.BindInput(1, data, false, &in));
  std::vector<int64_t> space = shape, read = strides_without_axis(in), write = candidate_strides;
  for (int64_t& r : read) r *= static_cast<int64_t>(in.element_size);
  space.push_back(chunks);
  read.push_back(kChunk * in.strides[axis] * static_cast<int64_t>(in.element_size));
  write.push_back(16);
  space.push_back(kOpWorkgroup);
  read.push_back(0);
  write.push_back(0);
  b.SetSpace(space.data(), space.size());
  b.SetStrides(0, write.data(), space.size(), 1);
  b.SetStrides(1, read.data(), space.size(), 1);
  b.params().Set(kAxisLength, static_cast<uint32_t>(length));
  b.params().Set(kAxisStride, static_cast<uint32_t>(in.strides[axis] * static_cast<int64_t>(in.element_size)));
  b.params().Set(kChunkLength, static_cast<uint32_t>(kChunk));
  DT_RETURN_IF_ERROR(b.Dispatch(call, (std::string(order) + "/chunks").c_str(), [&] {
    return ArgMaxCode(data.element_type, size, last, Pass::kChunks);
  }, 1, /*batchable=*/false));

  // Second pass: a workgroup per output over its candidates.
  OpBuilder reduce(context, list, call);
  DT_RETURN_IF_ERROR(reduce.BindOutput(out));
  DtTensorRef bound;
  DT_RETURN_IF_ERROR(reduce.BindInput(1, candidates, false, &bound));
  space = shape;
  read = candidate_strides;
  write = out_strides;
  for (int64_t& w : write) w *= 8;
  space.push_back(kOpWorkgroup);
  read.push_back(0);
  write.push_back(0);
  reduce.SetSpace(space.data(), space.size());
  reduce.SetStrides(0, write.data(), space.size(), 1);
  reduce.SetStrides(1, read.data(), space.size(), 1);
  reduce.params().Set(kCandidates, static_cast<uint32_t>(chunks));
  return reduce.Dispatch(call, (std::string(order) + "/candidates").c_str(), [&] {
    return ArgMaxCode(data.element_type, size, last, Pass::kCandidates);
  }, 1, /*batchable=*/false);
}

}  // namespace devtensor::webgpu
