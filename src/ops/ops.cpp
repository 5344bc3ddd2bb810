// The op registry, and what every op's check and host run share: the lookup, and snapshots of
// inputs that overlap an output.
#include "ops/ops.h"

#include <cstring>
#include <vector>

#include "host_memory/strided_copy.h"
#include "layout/layout.h"
#include "ops/op_defs.h"

namespace devtensor::ops {

namespace {

constexpr unsigned kInput0 = 1u << 0, kInput1 = 1u << 1, kInput2 = 1u << 2;
constexpr int kOutput = -1;

bool AnyType(DtElementType type) { return IsKnownType(type); }
bool Numeric(DtElementType type) { return IsNumeric(type); }
bool PositionType(DtElementType type) { return type == DT_INT32 || type == DT_INT64; }

// Indexed by DtOpId - 1.
constexpr OpDefinition kOps[] = {
    {DT_OP_CAST, "Cast", 0, &AnyType, &CheckCast, &RunCast, kInput0},
    {DT_OP_ADD, "Add", 0, &Numeric, &CheckBinary, &RunAdd, kInput0 | kInput1},
    {DT_OP_SUB, "Sub", 0, &Numeric, &CheckBinary, &RunSub, kInput0 | kInput1},
    {DT_OP_MUL, "Mul", 0, &Numeric, &CheckBinary, &RunMul, kInput0 | kInput1},
    {DT_OP_DIV, "Div", 0, &Numeric, &CheckBinary, &RunDiv, kInput0 | kInput1},
    {DT_OP_WHERE, "Where", 1, &AnyType, &CheckWhere, &RunWhere, kInput0 | kInput1 | kInput2},
    {DT_OP_SCATTER_ND, "ScatterND", 0, &AnyType, &CheckScatterND, &RunScatterND, kInput0},
    {DT_OP_ARGMAX, "ArgMax", 0, &Numeric, &CheckArgMax, &RunArgMax, 0},
    {DT_OP_EXPAND, "Expand", 0, &AnyType, &CheckExpand, &RunExpand, kInput0},
    {DT_OP_FILL, "Fill", kOutput, &AnyType, &CheckFill, &RunFill, 0},
    {DT_OP_UPDATE_ATTENTION_MASK, "UpdateAttentionMask", kOutput, &PositionType,
     &CheckUpdateAttentionMask, &RunUpdateAttentionMask, 0},
    {DT_OP_UPDATE_POSITION_IDS, "UpdatePositionIds", kOutput, &PositionType,
     &CheckUpdatePositionIds, &RunUpdatePositionIds, 0},
    {DT_OP_KV_CACHE_APPEND, "KvCacheAppend", 0, &AnyType, &CheckKvCacheAppend,
     &RunKvCacheAppend, 0},
};
static_assert(sizeof kOps / sizeof kOps[0] == DT_OP_ID_END - 1);

constexpr bool IdsInOrder() {
  for (size_t i = 0; i < sizeof kOps / sizeof kOps[0]; ++i) {
    if (kOps[i].id != static_cast<DtOpId>(i + 1)) return false;
  }
  return true;
}
static_assert(IdsInOrder());

OpCall MakeCall(const OpDefinition& op, const TensorView* inputs, size_t num_inputs,
                const TensorView* outputs, size_t num_outputs, DtOpParams* params) {
  OpCall call;
  call.op = op.name;
  call.params = params;
  call.inputs = inputs;
  call.num_inputs = num_inputs;
  call.outputs = outputs;
  call.num_outputs = num_outputs;
  return call;
}

// Checks what CheckOp can take for granted from the core: known element types and ranks.
DtStatus* CheckViews(const char* op, const TensorView* views, size_t count, const char* what) {
  for (size_t i = 0; i < count; ++i) {
    if (!IsKnownType(views[i].type)) {
      return Fail(DT_INVALID_ARGUMENT, op, what, "[", i, "] has element type ",
                  int(views[i].type), ", which is no DtElementType");
    }
    if (views[i].rank > DT_MAX_RANK) {
      return Fail(DT_INVALID_ARGUMENT, op, what, "[", i, "] has rank ", views[i].rank,
                  "; at most ", DT_MAX_RANK);
    }
  }
  return nullptr;
}

}  // namespace

const OpDefinition* FindOp(const char* op_type) {
  if (op_type == nullptr) return nullptr;
  for (const OpDefinition& op : kOps) {
    if (std::strcmp(op.name, op_type) == 0) return &op;
  }
  return nullptr;
}

const OpDefinition* FindOp(DtOpId id) {
  const int32_t value = static_cast<int32_t>(id);
  if (value < 1 || value >= DT_OP_ID_END) return nullptr;
  return &kOps[value - 1];
}

DtElementType PrincipalType(const OpDefinition& op, const TensorView* inputs,
                            const TensorView* outputs) {
  return op.principal_input < 0 ? outputs[0].type : inputs[op.principal_input].type;
}

DtStatus* CheckOp(const OpDefinition& op, const TensorView* inputs, size_t num_inputs,
                  const TensorView* outputs, size_t num_outputs, const DtAttribute* attributes,
                  size_t num_attributes, DtOpParams* params) {
  DT_RETURN_IF_ERROR(CheckViews(op.name, inputs, num_inputs, "inputs"));
  DT_RETURN_IF_ERROR(CheckViews(op.name, outputs, num_outputs, "outputs"));
  if (num_attributes > 0 && attributes == nullptr) {
    return Fail(DT_INVALID_ARGUMENT, op.name, "attributes is NULL");
  }
  *params = DtOpParams{};
  params->struct_size = sizeof(DtOpParams);
  OpCall call = MakeCall(op, inputs, num_inputs, outputs, num_outputs, params);
  call.attributes = attributes;
  call.num_attributes = num_attributes;
  return op.check(call);
}

DtStatus* RunHostOp(const OpDefinition& op, const TensorView* inputs, size_t num_inputs,
                    const TensorView* outputs, size_t num_outputs, const DtOpParams& params) {
  // An input that shares bytes with an output (other than as the very same view where the
  // kernel allows it) is read from a snapshot, so that writing the output cannot change what the
  // kernel still has to read. Outputs are then written directly: only their elements change.
  std::vector<TensorView> in(inputs, inputs + num_inputs);
  std::vector<std::vector<unsigned char>> snapshots;
  for (size_t i = 0; i < num_inputs; ++i) {
    bool snapshot = false;
    for (size_t o = 0; o < num_outputs && !snapshot; ++o) {
      if (!ViewsOverlap(in[i], outputs[o])) continue;
      const bool in_place = i < 32 && (op.in_place_inputs >> i & 1u) && o == 0 &&
                            SameView(in[i], outputs[o]);
      snapshot = !in_place;
    }
    if (!snapshot) continue;
    TensorView& view = in[i];
    const size_t bytes = static_cast<size_t>(ElementCount(view)) * ElementBytes(view.type);
    snapshots.emplace_back(bytes);
    int64_t strides[DT_MAX_RANK];
    ContiguousStrides(view.shape, view.rank, strides);
    CopyStrided(view.data, view.strides, snapshots.back().data(), strides, view.shape, view.rank,
                ElementBytes(view.type));
    view.data = snapshots.back().data();
    std::copy(strides, strides + view.rank, view.strides);
  }
  DtOpParams kernel_params = params;
  return op.run(MakeCall(op, in.data(), num_inputs, outputs, num_outputs, &kernel_params));
}

}  // namespace devtensor::ops
