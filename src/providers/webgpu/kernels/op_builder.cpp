#include "providers/webgpu/kernels/op_builder.h"

#include <algorithm>

#include "common/return_if_error.h"
#include "layout/layout.h"
#include "layout/element_type.h"
#include "providers/webgpu/copy_kernel.h"

namespace devtensor::webgpu {
namespace {

// Bytes from the first element to the end of the last; 0 when empty, UINT64_MAX when it does not
// fit (no buffer is that large, so binding it fails with the numbers).
uint64_t Extent(const DtTensorRef& t) {
  if (IsEmpty(t)) return 0;
  uint64_t last = 0;
  for (size_t i = 0; i < t.rank; ++i) {
    uint64_t step = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(t.shape[i] - 1),
                               static_cast<uint64_t>(t.strides[i]), &step) ||
        __builtin_add_overflow(last, step, &last)) {
      return UINT64_MAX;
    }
  }
  uint64_t bytes = 0;
  if (__builtin_add_overflow(last, 1, &last) || __builtin_mul_overflow(last, t.element_size, &bytes)) {
    return UINT64_MAX;
  }
  return bytes;
}

// One past the last byte `t` spans (at least one byte, for an empty tensor); UINT64_MAX when that
// does not fit.
uint64_t SpanEnd(const DtTensorRef& t) {
  uint64_t end = 0;
  if (__builtin_add_overflow(t.byte_offset, std::max<uint64_t>(Extent(t), 1), &end) ||
      end > UINT64_MAX - 3) {
    return UINT64_MAX;
  }
  return end;
}

}  // namespace

bool IsEmpty(const DtTensorRef& t) {
  return std::any_of(t.shape, t.shape + t.rank, [](int64_t n) { return n == 0; });
}

DtStatus* OpBuilder::NotSupported(const std::string& why) {
  const DtElementType type =
      call_.num_inputs > 0 ? call_.inputs[0]->element_type : call_.outputs[0]->element_type;
  std::string message = std::string(call_.op_type) + " on " + ElementTypeName(type) +
                        " on WebGPU:" + std::to_string(call_.device_id) + ": " + why;
  return context_.host()->CreateStatus(DT_NOT_SUPPORTED, message.c_str());
}

DtStatus* OpBuilder::Fail(DtErrorCode code, const std::string& why) {
  std::string message = std::string(call_.op_type) + ": " + why;
  return context_.host()->CreateStatus(code, message.c_str());
}

DtStatus* OpBuilder::BindOutput(const DtTensorRef& out) {
  out_ = out;
  return Bind(out, &bound_[0]);
}

DtStatus* OpBuilder::BindOutputElements(const DtTensorRef& out) {
  DT_RETURN_IF_ERROR(BindOutput(out));
  SetSpace(out.shape, out.rank);
  SetStrides(0, out.strides, out.rank, out.element_size);
  return nullptr;
}

DtStatus* OpBuilder::BindInput(uint32_t role, const DtTensorRef& in, bool may_alias, DtTensorRef* used) {
  *used = in;
  if (IsEmpty(in)) {
    // Never read (a dispatch over its elements has none): the output's window stands in, so
    // that an empty view at the very end of a buffer needs no binding of its own.
    aliased_[role] = true;
    bound_[role] = bound_[0];
    bound_[role].end = bound_[role].begin;
    return nullptr;
  }
  if (in.handle != out_.handle) return Bind(in, &bound_[role]);
  const bool same_view = may_alias && in.byte_offset == out_.byte_offset && in.rank == out_.rank &&
                         std::equal(in.shape, in.shape + in.rank, out_.shape) &&
                         std::equal(in.strides, in.strides + in.rank, out_.strides) &&
                         in.element_size == out_.element_size;
  const uint64_t begin = in.byte_offset, end = SpanEnd(in);
  if (end == UINT64_MAX) return Bind(in, &bound_[role]);  // which says why it cannot be bound
  const bool apart = end <= bound_[0].begin || bound_[0].end <= begin;
  if (same_view || (apart && CoverInOutput(begin, end))) {
    aliased_[role] = true;
    bound_[role] = bound_[0];
    bound_[role].begin = begin;
    bound_[role].end = end;
    return nullptr;
  }
  // Stage: copy the input's elements, densely, into a buffer of its own.
  // Not empty, and bound above as a window of one buffer: the count and bytes fit.
  uint64_t bytes = in.element_size;
  for (size_t i = 0; i < in.rank; ++i) bytes *= static_cast<uint64_t>(in.shape[i]);
  wgpu::Buffer scratch = nullptr;
  DT_RETURN_IF_ERROR(list_.TakeBuffer((bytes + 3) & ~uint64_t(3), Context::kTensorUsage, &scratch));
  staged_strides_.emplace_back(DT_MAX_RANK, 0);
  int64_t* strides = staged_strides_.back().data();
  ContiguousStrides(in.shape, in.rank, strides);
  DtTensorRef dense = in;
  dense.handle = scratch;
  dense.byte_offset = 0;
  dense.buffer_bytes = api_.BufferGetSize(scratch);
  dense.strides = strides;
  DtTensorRef from = in;
  from.buffer_bytes = api_.BufferGetSize(static_cast<wgpu::Buffer>(in.handle));
  KernelJob job = MakeKernelJob(dense, scratch, &from, static_cast<wgpu::Buffer>(in.handle));
  DT_RETURN_IF_ERROR(CheckKernelJob(context_, job));
  DT_RETURN_IF_ERROR(RecordKernelJobs(context_, list_, {job}));
  *used = dense;
  return Bind(dense, &bound_[role]);
}

DtStatus* OpBuilder::BindFlags() { return context_.ErrorFlags(&flags_); }

void OpBuilder::SetSpace(const int64_t* shape, size_t rank) {
  ParamWriter params(params_);
  count_ = 1;
  params.Set(kRankParam, static_cast<uint32_t>(rank));
  for (size_t d = 0; d < rank; ++d) {
    params.SetAt(kExtentParam, static_cast<uint32_t>(d), static_cast<uint32_t>(shape[d]));
    if (__builtin_mul_overflow(count_, static_cast<uint64_t>(shape[d]), &count_)) count_ = UINT64_MAX;
  }
}

void OpBuilder::SetStrides(uint32_t role, const int64_t* element_strides, size_t rank, size_t element_size) {
  ParamWriter params(params_);
  for (size_t d = 0; d < rank; ++d) {
    params.SetAt(kStrideParam, role, static_cast<uint32_t>(d),
                 static_cast<uint32_t>(static_cast<uint64_t>(element_strides[d]) * element_size));
  }
}

DtStatus* OpBuilder::Dispatch(const DtOpCall& call, const char* variant,
                              const std::function<std::string()>& body, uint32_t inputs, bool batchable) {
  if (count_ == 0) return nullptr;
  if (count_ > 0xFFFFFFFFull) return NotSupported("more than 2^32 elements in one op");
  ParamWriter params(params_);
  for (uint32_t t = 0; t <= inputs; ++t) {
    const Bound& window = bound_[t > 0 && aliased_[t] ? 0 : t];  // read through the output's
    params.SetAt(kBaseParam, t, static_cast<uint32_t>(bound_[t].begin - window.window_offset));
  }
  params.Set(kElementCountParam, static_cast<uint32_t>(count_));
  uint32_t columns = 0, rows = 0;
  OpGrid(context_.limits(), (count_ + kOpWorkgroup - 1) / kOpWorkgroup, &columns, &rows);
  params.Set(kRowWidthParam, columns * kOpWorkgroup);
  std::string key;
  key.reserve(96);
  key.append(call.op_type).append("/").append(variant).append("/");
  for (size_t k = 0; k < call.num_outputs; ++k) key.append(ElementTypeName(call.outputs[k]->element_type)).append(",");
  key.append("/");
  for (size_t k = 0; k < call.num_inputs; ++k) key.append(ElementTypeName(call.inputs[k]->element_type)).append(",");
  key.append("/");
  for (uint32_t k = 1; k <= inputs; ++k) key.push_back(aliased_[k] ? 'a' : 'b');
  if (flags_ != nullptr) key.append("/flags");
  const KernelFamily* family = FamilyFor(context_, key, [&](KernelFamily& f) {
    f.body = body();
    f.inputs = inputs;
    std::copy(aliased_, aliased_ + kOpInputs + 1, f.aliased);
    f.uses_flags = flags_ != nullptr;
    f.batchable = batchable;
  });
  if (family == nullptr) {
    return Fail(DT_INTERNAL, "the WebGPU shader did not compile: " + context_.TakeErrorText());
  }
  OpDispatch& op = list_.AddOp();
  op.family = family;
  op.params = params_;
  for (uint32_t t = 0; t <= inputs; ++t) {
    const Bound& window = bound_[t > 0 && aliased_[t] ? 0 : t];
    op.roles[t] = {bound_[t].buffer, window.window_offset, window.window_size, bound_[t].begin,
                   bound_[t].end};
  }
  op.flags = flags_;
  op.invocations = count_;
  return nullptr;
}

bool OpBuilder::CoverInOutput(uint64_t begin, uint64_t end) {
  Bound& out = bound_[0];
  const uint64_t alignment =
      std::max<uint64_t>(context_.limits().min_storage_buffer_offset_alignment, 4);
  const uint64_t offset = std::min(out.window_offset, begin / alignment * alignment);
  const uint64_t window_end = std::max(out.window_offset + out.window_size, (end + 3) & ~uint64_t(3));
  if (window_end > api_.BufferGetSize(out.buffer) ||
      window_end - offset > context_.limits().max_storage_buffer_binding_size) {
    return false;
  }
  out.window_offset = offset;
  out.window_size = window_end - offset;
  return true;
}

DtStatus* OpBuilder::Bind(const DtTensorRef& t, Bound* bound) {
  const uint64_t alignment =
      std::max<uint64_t>(context_.limits().min_storage_buffer_offset_alignment, 4);
  auto buffer = static_cast<wgpu::Buffer>(t.handle);
  const uint64_t size = api_.BufferGetSize(buffer);
  const uint64_t begin = t.byte_offset, end = SpanEnd(t);
  bound->buffer = buffer;
  bound->begin = begin;
  bound->end = end;
  bound->window_offset = begin / alignment * alignment;
  if (end == UINT64_MAX) {
    return NotSupported("a tensor at byte " + std::to_string(begin) + " spans more bytes than " +
                        "a 64-bit offset holds");
  }
  bound->window_size = ((end + 3) & ~uint64_t(3)) - bound->window_offset;
  if (bound->window_offset + bound->window_size > size) {
    return NotSupported("a tensor ends in the last, partial word of a buffer whose size is not "
                        "a multiple of 4");
  }
  if (bound->window_size > context_.limits().max_storage_buffer_binding_size) {
    return NotSupported("a tensor spans " + std::to_string(bound->window_size) +
                        " bytes, more than one shader binding of this device takes (" +
                        std::to_string(context_.limits().max_storage_buffer_binding_size) + ")");
  }
  return nullptr;
}

}  // namespace devtensor::webgpu
