// The ops devtensor defines: each op's check (of a call's counts, types, shapes and attributes,
// without data) and its host-memory kernel. ops.cpp holds the table; one file per op family.
#ifndef DEVTENSOR_OPS_OP_DEFS_H_
#define DEVTENSOR_OPS_OP_DEFS_H_

#include "ops/op_common.h"

namespace devtensor::ops {

struct OpDefinition {
  const char* name;
  OpError (*check)(const OpCall& call);
  // Runs a checked call on host memory. No input overlaps an output except as the very same view
  // for the inputs in `in_place_inputs` (ops.cpp snapshots the others first).
  OpError (*run)(const OpCall& call);
  // Bit i set: input i may be the same view as outputs[0], and the kernel reads each element of
  // it before writing the output element at the same place.
  unsigned in_place_inputs;
};

// elementwise.cpp
OpError CheckBinary(const OpCall& call);
OpError RunAdd(const OpCall& call);
OpError RunSub(const OpCall& call);
OpError RunMul(const OpCall& call);
OpError RunDiv(const OpCall& call);
// cast.cpp
OpError CheckCast(const OpCall& call);
OpError RunCast(const OpCall& call);
// where.cpp
OpError CheckWhere(const OpCall& call);
OpError RunWhere(const OpCall& call);
// scatter_nd.cpp
OpError CheckScatterND(const OpCall& call);
OpError RunScatterND(const OpCall& call);
// argmax.cpp
OpError CheckArgMax(const OpCall& call);
OpError RunArgMax(const OpCall& call);
// expand.cpp
OpError CheckExpand(const OpCall& call);
OpError RunExpand(const OpCall& call);
// decode_ops.cpp
OpError CheckFill(const OpCall& call);
OpError RunFill(const OpCall& call);
OpError CheckUpdateAttentionMask(const OpCall& call);
OpError RunUpdateAttentionMask(const OpCall& call);
OpError CheckUpdatePositionIds(const OpCall& call);
OpError RunUpdatePositionIds(const OpCall& call);
OpError CheckKvCacheAppend(const OpCall& call);
OpError RunKvCacheAppend(const OpCall& call);

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_OP_DEFS_H_
