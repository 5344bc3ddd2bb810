// The op registry, and what every op's check and host run share: the lookup, and snapshots of
// inputs that overlap an output.
#include "ops/ops.h"

#include <cstring>
#include <vector>

#include "layout/layout.h"
#include "ops/op_defs.h"
#include "host_memory/strided_copy.h"

namespace devtensor::ops {

namespace {

constexpr unsigned kInput0 = 1u << 0, kInput1 = 1u << 1, kInput2 = 1u << 2;

constexpr OpDefinition kOps[] = {
    {"Cast", &CheckCast, &RunCast, kInput0},
    {"Add", &CheckBinary, &RunAdd, kInput0 | kInput1},
    {"Sub", &CheckBinary, &RunSub, kInput0 | kInput1},
    {"Mul", &CheckBinary, &RunMul, kInput0 | kInput1},
    {"Div", &CheckBinary, &RunDiv, kInput0 | kInput1},
    {"Where", &CheckWhere, &RunWhere, kInput0 | kInput1 | kInput2},
    {"ScatterND", &CheckScatterND, &RunScatterND, kInput0},
    {"ArgMax", &CheckArgMax, &RunArgMax, 0},
    {"Expand", &CheckExpand, &RunExpand, kInput0},
    {"Fill", &CheckFill, &RunFill, 0},
    {"UpdateAttentionMask", &CheckUpdateAttentionMask, &RunUpdateAttentionMask, 0},
    {"UpdatePositionIds", &CheckUpdatePositionIds, &RunUpdatePositionIds, 0},
    {"KvCacheAppend", &CheckKvCacheAppend, &RunKvCacheAppend, 0},
};

const OpDefinition* Find(const char* op_type) {
  if (op_type == nullptr) return nullptr;
  for (const OpDefinition& op : kOps) {
    if (std::strcmp(op.name, op_type) == 0) return &op;
  }
  return nullptr;
}

OpCall MakeCall(const OpDefinition& op, const TensorView* inputs, size_t num_inputs,
                const TensorView* outputs, size_t num_outputs, const DtAttribute* attributes,
                size_t num_attributes) {
  OpCall call;
  call.op = op.name;
  call.inputs = inputs;
  call.num_inputs = num_inputs;
  call.outputs = outputs;
  call.num_outputs = num_outputs;
  call.attributes = attributes;
  call.num_attributes = num_attributes;
  return call;
}

// Checks what CheckOp can take for granted from the core: known element types and ranks.
OpError CheckViews(const char* op, const TensorView* views, size_t count, const char* what) {
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
  return {};
}

}  // namespace

bool IsKnownOp(const char* op_type) { return Find(op_type) != nullptr; }

OpError CheckOp(const char* op_type, const TensorView* inputs, size_t num_inputs,
                const TensorView* outputs, size_t num_outputs, const DtAttribute* attributes,
                size_t num_attributes) {
  const OpDefinition* op = Find(op_type);
  if (op == nullptr) {
    return {DT_NOT_SUPPORTED, Concat("op_type '", op_type ? op_type : "(null)",
                                     "' is not an op devtensor defines")};
  }
  if (OpError e = CheckViews(op->name, inputs, num_inputs, "inputs")) return e;
  if (OpError e = CheckViews(op->name, outputs, num_outputs, "outputs")) return e;
  if (num_attributes > 0 && attributes == nullptr) {
    return Fail(DT_INVALID_ARGUMENT, op->name, "attributes is NULL");
  }
  return op->check(MakeCall(*op, inputs, num_inputs, outputs, num_outputs, attributes,
                            num_attributes));
}

OpError RunHostOp(const char* op_type, const TensorView* inputs, size_t num_inputs,
                  const TensorView* outputs, size_t num_outputs, const DtAttribute* attributes,
                  size_t num_attributes) {
  // Checking again is cheap and keeps the kernels inside their tensors whoever calls them.
  if (OpError e = CheckOp(op_type, inputs, num_inputs, outputs, num_outputs, attributes,
                          num_attributes)) {
    return e;
  }
  const OpDefinition& op = *Find(op_type);
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
  return op.run(MakeCall(op, in.data(), num_inputs, outputs, num_outputs, attributes,
                         num_attributes));
}

}  // namespace devtensor::ops
