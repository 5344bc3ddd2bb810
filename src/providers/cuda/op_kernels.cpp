#include "providers/cuda/op_kernels.h"

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <string>

#include "common/return_if_error.h"
#include "providers/cuda/errors.h"
#include "layout/layout.h"
#include "providers/cuda/launch.h"

namespace devtensor::cuda {

namespace {
// The op's definition refuses the types it does not take (Add on bool, say); the kernels take
// every other.
constexpr uint64_t kAnyType = ~uint64_t(0);
}  // namespace

const DtOpSupport kCudaOpSupport[] = {
    {DT_OP_CAST, kAnyType},        {DT_OP_ADD, kAnyType},
    {DT_OP_SUB, kAnyType},         {DT_OP_MUL, kAnyType},
    {DT_OP_DIV, kAnyType},         {DT_OP_WHERE, kAnyType},
    {DT_OP_SCATTER_ND, kAnyType},  {DT_OP_ARGMAX, kAnyType},
    {DT_OP_EXPAND, kAnyType},      {DT_OP_FILL, kAnyType},
    {DT_OP_UPDATE_ATTENTION_MASK, kAnyType}, {DT_OP_UPDATE_POSITION_IDS, kAnyType},
    {DT_OP_KV_CACHE_APPEND, kAnyType},
};
const size_t kCudaOpSupportCount = std::size(kCudaOpSupport);
static_assert(std::size(kCudaOpSupport) == DT_OP_ID_END - 1, "every op has a CUDA kernel");

namespace {

// A long ArgMax axis: values a thread block walks, its threads (DTK_ARGMAX_THREADS of ops.cuh),
// and the most outputs it takes (a grid dimension; beyond, a thread per output keeps the GPU busy).
constexpr long long kArgMaxChunk = 4096;
constexpr unsigned kArgMaxThreads = 256;
constexpr unsigned long long kArgMaxMostOutputs = 65535;

bool SameView(const DtTensorRef& a, const DtTensorRef& b) {
  return a.handle == b.handle && a.byte_offset == b.byte_offset &&
         std::equal(a.strides, a.strides + a.rank, b.strides);
}

// A call of `op` with `block`, reading `inputs` and writing `outputs`.
template <typename Block>
KernelCall Call(const std::string& op, const Block& block, unsigned long long count,
                std::initializer_list<const DtTensorRef*> inputs,
                std::initializer_list<const DtTensorRef*> outputs) {
  KernelCall call(op, block, count);
  for (const DtTensorRef* t : inputs) call.reads.push_back(ExtentOf(*t));
  for (const DtTensorRef* t : outputs) call.writes.push_back(ExtentOf(*t));
  return call;
}

DtStatus* RunCast(WorkStream& work, const DtTensorRef& in, const DtTensorRef& out) {
  DtkElementwise<2> block{};
  SetShape(&block, out.shape, out.rank);
  SetTensor(&block, 0, in);
  SetTensor(&block, 1, out);
  const std::string op =
      OpName("dtk_cast_op", DeviceTypeName(out.element_type), DeviceTypeName(in.element_type));
  return Launch(work, Call(op, block, block.count, {&in}, {&out}));
}

DtStatus* RunArithmetic(WorkStream& work, const DtOpCall& call, const char* op) {
  const DtTensorRef &a = *call.inputs[0], &b = *call.inputs[1], &c = *call.outputs[0];
  DtkElementwise<3> block{};
  SetShape(&block, c.shape, c.rank);
  SetBroadcast(&block, 0, a);
  SetBroadcast(&block, 1, b);
  SetTensor(&block, 2, c);
  return Launch(work, Call(OpName("dtk_binary_op", op, DeviceTypeName(c.element_type)), block,
                           block.count, {&a, &b}, {&c}));
}

DtStatus* RunWhere(WorkStream& work, const DtOpCall& call) {
  const DtTensorRef& out = *call.outputs[0];
  DtkElementwise<4> block{};
  SetShape(&block, out.shape, out.rank);
  for (int i = 0; i < 3; ++i) SetBroadcast(&block, i, *call.inputs[i]);
  SetTensor(&block, 3, out);
  return Launch(work, Call(OpName("dtk_where_op", WordTypeName(out.element_size)), block,
                           block.count, {call.inputs[0], call.inputs[1], call.inputs[2]}, {&out}));
}

// output := input broadcast to output's shape (Expand; ScatterND's copy of data).
DtStatus* RunBroadcastCopy(WorkStream& work, const DtTensorRef& in, const DtTensorRef& out) {
  DtkElementwise<2> block{};
  SetShape(&block, out.shape, out.rank);
  SetBroadcast(&block, 0, in);
  SetTensor(&block, 1, out);
  return Launch(work, Call(OpName("dtk_copy_op", WordTypeName(out.element_size)), block,
                           block.count, {&in}, {&out}));
}

DtStatus* RunFill(WorkStream& work, const DtOpCall& call) {
  const DtTensorRef& y = *call.outputs[0];
  DtkFill block{};
  SetShape(&block.t, y.shape, y.rank);
  SetTensor(&block.t, 0, y);
  block.bits = call.params->fill.bits;
  return Launch(work, Call(OpName("dtk_fill_op", WordTypeName(y.element_size)), block,
                           block.t.count, {}, {&y}));
}

DtStatus* RunUpdateAttentionMask(WorkStream& work, const DtOpCall& call) {
  const DtTensorRef& mask = *call.outputs[0];
  DtkAttentionMask block{};
  SetShape(&block.t, mask.shape, mask.rank);
  SetTensor(&block.t, 0, mask);
  block.total_length = reinterpret_cast<const int*>(ElementZero(*call.inputs[0]));
  return Launch(work, Call(OpName("dtk_attention_mask_op", DeviceTypeName(mask.element_type)),
                           block, block.t.count, {call.inputs[0]}, {&mask}));
}

DtStatus* RunUpdatePositionIds(WorkStream& work, const DtOpCall& call) {
  const DtTensorRef& ids = *call.outputs[0];
  DtkIncrement block{};
  SetShape(&block.t, ids.shape, ids.rank);
  SetTensor(&block.t, 0, ids);
  block.increment = call.params->update_position_ids.increment;
  return Launch(work, Call(OpName("dtk_increment_op", DeviceTypeName(ids.element_type)), block,
                           block.t.count, {&ids}, {&ids}));
}

DtStatus* RunKvCacheAppend(WorkStream& work, const DtOpCall& call) {
  const DtTensorRef &new_kv = *call.inputs[0], &cache = *call.outputs[0];
  DtkKvAppend block{};
  SetShape(&block.t, new_kv.shape, new_kv.rank);
  SetTensor(&block.t, 0, new_kv);
  SetTensor(&block.t, 1, cache);
  block.max_len = cache.shape[2];
  block.position = reinterpret_cast<const int*>(ElementZero(*call.inputs[1]));
  block.flags = reinterpret_cast<unsigned int*>(work.device().error_flags());
  // At least element 0, which checks the position even when there is nothing to append.
  return Launch(work, Call(OpName("dtk_kv_append_op", WordTypeName(cache.element_size)), block,
                           std::max(1ull, block.t.count), {&new_kv, call.inputs[1]}, {&cache}));
}

// A contiguous copy of a tensor in device memory of the call's, for a tensor the call's output
// overlaps: it is read before the output is written.
struct Staged {
  DtTensorRef ref{};
  int64_t strides[DT_MAX_RANK] = {};
};

DtStatus* Stage(WorkStream& work, const DtTensorRef& t, Staged* staged) {
  staged->ref = t;
  ContiguousStrides(t.shape, t.rank, staged->strides);
  staged->ref.strides = staged->strides;
  staged->ref.byte_offset = 0;
  staged->ref.buffer_bytes = size_t(std::max(1ull, CountOf(t.shape, t.rank))) * t.element_size;
  CUdeviceptr memory = 0;
  DT_RETURN_IF_ERROR(work.Temporary(staged->ref.buffer_bytes, &memory));
  staged->ref.handle = reinterpret_cast<void*>(memory);
  return RunBroadcastCopy(work, t, staged->ref);
}

DtStatus* RunScatterND(WorkStream& work, const DtOpCall& call) {
  const DtTensorRef& output = *call.outputs[0];
  const Extent written = ExtentOf(output);
  // Updates and indices that share bytes with the output are read before data lands there, as
  // are data that overlap it other than as the same view.
  Staged staged[3];
  const DtTensorRef* in[3] = {call.inputs[0], call.inputs[1], call.inputs[2]};
  for (int i = 0; i < 3; ++i) {
    if (i == 0 && SameView(*in[0], output)) continue;
    if (!ExtentOf(*in[i]).Overlaps(written)) continue;
    DT_RETURN_IF_ERROR(Stage(work, *in[i], &staged[i]));
    in[i] = &staged[i].ref;
  }
  const DtTensorRef &data = *in[0], &indices = *in[1], &updates = *in[2];
  if (!SameView(data, output)) DT_RETURN_IF_ERROR(RunBroadcastCopy(work, data, output));
  DtkScatterND block{};
  block.tuple_rank = int(indices.rank) - 1;
  block.k = int(indices.shape[indices.rank - 1]);
  block.slice_rank = int(data.rank) - block.k;
  block.count = CountOf(updates.shape, updates.rank);
  std::copy(updates.shape, updates.shape + updates.rank, block.shape);
  block.indices = reinterpret_cast<const long long*>(ElementZero(indices));
  std::copy(indices.strides, indices.strides + indices.rank, block.indices_strides);
  block.updates = ElementZero(updates);
  std::copy(updates.strides, updates.strides + updates.rank, block.updates_strides);
  block.output = ElementZero(output);
  std::copy(output.strides, output.strides + output.rank, block.output_strides);
  std::copy(data.shape, data.shape + data.rank, block.data_shape);
  block.flags = reinterpret_cast<unsigned int*>(work.device().error_flags());
  return Launch(work, Call(OpName("dtk_scatter_nd_op", WordTypeName(output.element_size)), block,
                           block.count, {&indices, &updates, &output}, {&output}));
}

DtStatus* RunArgMax(WorkStream& work, const DtOpCall& call) {
  const DtTensorRef &data = *call.inputs[0], &reduced = *call.outputs[0];
  const auto& params = call.params->argmax;
  const size_t axis = size_t(params.axis);
  DtkArgMax block{};
  int64_t outer[DT_MAX_RANK];
  for (size_t d = 0, o = 0; d < data.rank; ++d) {
    outer[d] = d == axis ? 1 : data.shape[d];
    block.t.strides[1][d] = d == axis && !params.keepdims ? 0 : reduced.strides[o++];
  }
  SetShape(&block.t, outer, data.rank);
  SetTensor(&block.t, 0, data);
  block.t.data[1] = ElementZero(reduced);
  block.length = data.shape[axis];
  block.step = data.strides[axis];
  block.select_last_index = params.select_last_index;
  const unsigned long long outputs = block.length == 0 ? 0 : block.t.count;
  const std::string type = DeviceTypeName(data.element_type);
  if (block.length < kArgMaxChunk * 2 || outputs == 0 || outputs > kArgMaxMostOutputs) {
    return Launch(work, Call(OpName("dtk_argmax_op", type), block, outputs, {&data}, {&reduced}));
  }
  // A long axis in two passes: a thread block per run of kArgMaxChunk values of each output,
  // then one per output over the runs' winners.
  block.chunk = kArgMaxChunk;
  block.chunks = (block.length + kArgMaxChunk - 1) / kArgMaxChunk;
  const unsigned long long partials = outputs * static_cast<unsigned long long>(block.chunks);
  CUdeviceptr partial = 0;
  DT_RETURN_IF_ERROR(work.Temporary(size_t(partials) * sizeof(long long), &partial));
  block.partial = reinterpret_cast<long long*>(partial);
  const Extent winners{uintptr_t(partial), uintptr_t(partial + partials * sizeof(long long))};
  KernelCall runs = Call("", block, partials, {&data}, {});
  runs.kernel = "dtk_argmax_runs<" + type + ">";
  runs.grid_x = unsigned(block.chunks);
  runs.grid_y = unsigned(outputs);
  runs.threads = kArgMaxThreads;
  runs.writes.push_back(winners);
  DT_RETURN_IF_ERROR(Launch(work, std::move(runs)));
  KernelCall finish = Call("", block, outputs, {&data}, {&reduced});
  finish.kernel = "dtk_argmax_finish<" + type + ">";
  finish.grid_x = unsigned(outputs);
  finish.threads = kArgMaxThreads;
  finish.reads.push_back(winners);
  return Launch(work, std::move(finish));
}

}  // namespace

DtStatus* RunOpOn(WorkStream& work, const DtOpCall& call) {
  const bool raises_flags = call.op == DT_OP_KV_CACHE_APPEND || call.op == DT_OP_SCATTER_ND;
  DtStatus* status = nullptr;
  switch (call.op) {
    case DT_OP_CAST: status = RunCast(work, *call.inputs[0], *call.outputs[0]); break;
    case DT_OP_ADD: status = RunArithmetic(work, call, "dtk_add"); break;
    case DT_OP_SUB: status = RunArithmetic(work, call, "dtk_sub"); break;
    case DT_OP_MUL: status = RunArithmetic(work, call, "dtk_mul"); break;
    case DT_OP_DIV: status = RunArithmetic(work, call, "dtk_div"); break;
    case DT_OP_WHERE: status = RunWhere(work, call); break;
    case DT_OP_SCATTER_ND: status = RunScatterND(work, call); break;
    case DT_OP_ARGMAX: status = RunArgMax(work, call); break;
    case DT_OP_EXPAND: status = RunBroadcastCopy(work, *call.inputs[0], *call.outputs[0]); break;
    case DT_OP_FILL: status = RunFill(work, call); break;
    case DT_OP_UPDATE_ATTENTION_MASK: status = RunUpdateAttentionMask(work, call); break;
    case DT_OP_UPDATE_POSITION_IDS: status = RunUpdatePositionIds(work, call); break;
    case DT_OP_KV_CACHE_APPEND: status = RunKvCacheAppend(work, call); break;
    default:
      return Fail(DT_NOT_SUPPORTED, std::string(call.op_type) + " has no CUDA kernel");
  }
  if (status == nullptr) work.Did(raises_flags);
  return status;
}

}  // namespace devtensor::cuda
