// The functions of the ops devtensor defines: each op's check (of a call's counts, types, shapes
// and attributes, without data, filling call.params) and its host-memory kernel (reading
// call.params). ops.cpp holds the table (OpDefinition); one file per op family.
#ifndef DEVTENSOR_OPS_OP_DEFS_H_
#define DEVTENSOR_OPS_OP_DEFS_H_

#include "ops/op_common.h"

namespace devtensor::ops {

// elementwise.cpp
DtStatus* CheckBinary(const OpCall& call);
DtStatus* RunAdd(const OpCall& call);
DtStatus* RunSub(const OpCall& call);
DtStatus* RunMul(const OpCall& call);
DtStatus* RunDiv(const OpCall& call);
// cast.cpp
DtStatus* CheckCast(const OpCall& call);
DtStatus* RunCast(const OpCall& call);
// where.cpp
DtStatus* CheckWhere(const OpCall& call);
DtStatus* RunWhere(const OpCall& call);
// scatter_nd.cpp
DtStatus* CheckScatterND(const OpCall& call);
DtStatus* RunScatterND(const OpCall& call);
// argmax.cpp
DtStatus* CheckArgMax(const OpCall& call);
DtStatus* RunArgMax(const OpCall& call);
// expand.cpp
DtStatus* CheckExpand(const OpCall& call);
DtStatus* RunExpand(const OpCall& call);
// decode_ops.cpp
DtStatus* CheckFill(const OpCall& call);
DtStatus* RunFill(const OpCall& call);
DtStatus* CheckUpdateAttentionMask(const OpCall& call);
DtStatus* RunUpdateAttentionMask(const OpCall& call);
DtStatus* CheckUpdatePositionIds(const OpCall& call);
DtStatus* RunUpdatePositionIds(const OpCall& call);
DtStatus* CheckKvCacheAppend(const OpCall& call);
DtStatus* RunKvCacheAppend(const OpCall& call);

}  // namespace devtensor::ops

#endif  // DEVTENSOR_OPS_OP_DEFS_H_
