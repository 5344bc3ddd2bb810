// How an op kernel binds its tensors and records its dispatch. Outputs are bound as arrays of
// atomic words; an input that shares a buffer with the output is read through the output's
// binding when it is the very same view (in-place updates) or spans bytes apart from the output's,
// and through a scratch copy when it overlaps it (WebGPU forbids binding one buffer both read-only
// and read-write in one dispatch). The builder fills the op's parameter block: the fixed words
// through SetSpace, SetStrides and Dispatch, the op's own through params().
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_OP_BUILDER_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_OP_BUILDER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/kernels/kernel_params.h"
#include "providers/webgpu/op_dispatch.h"

namespace devtensor::webgpu {

// Whether `t` has no elements.
bool IsEmpty(const DtTensorRef& t);

class OpBuilder {
 public:
  // A builder for one dispatch of `call`.
  OpBuilder(Context& context, CommandList& list, const DtOpCall& call)
      : context_(context), api_(context.api()), list_(list), call_(call) {}

  // DT_NOT_SUPPORTED naming the op, the type that picks its kernel (the first input's, else the
  // output's) and the device, with `why`.
  DtStatus* NotSupported(const std::string& why);
  // An error of `code` naming the op, with `why`.
  DtStatus* Fail(DtErrorCode code, const std::string& why);

  // Binds the output (role 0). Must come first: inputs are compared with it.
  DtStatus* BindOutput(const DtTensorRef& out);
  // BindOutput, with one invocation per element of the output (its shape the index space, its
  // strides role 0's): what ops that compute each output element alone start with.
  DtStatus* BindOutputElements(const DtTensorRef& out);
  // Binds input `role` (1..4). An input in the output's buffer is read through the output's
  // binding (whose window grows to cover it) when it is the output's very view and `may_alias`,
  // or when the bytes it spans are apart from the output's; else through a scratch copy.
  // `used` receives the tensor as bound (the scratch copy's, when staged).
  DtStatus* BindInput(uint32_t role, const DtTensorRef& in, bool may_alias, DtTensorRef* used);
  // Binds the device's error flags, for kernels that raise them.
  DtStatus* BindFlags();

  // The index space of the dispatch: one invocation per element of `shape` (rank at most
  // kOpMaxRank). A count past 2^64 saturates; Dispatch refuses any past 2^32.
  void SetSpace(const int64_t* shape, size_t rank);
  // The byte strides of role `role` over the dispatch's dimensions, modulo 2^32. Shaders sum
  // addresses in u32 arithmetic, which is modulo 2^32 too, and every address a dispatch reaches
  // lies in its binding (below 2^32 bytes), so the sums are exact; unsigned arithmetic keeps the
  // huge strides of empty tensors (never dispatched) defined.
  void SetStrides(uint32_t role, const int64_t* element_strides, size_t rank, size_t element_size);
  // The writer of the op's own parameters (by the handles of its ParamTable).
  ParamWriter params() { return ParamWriter(params_); }

  // Finds (or compiles) the kernel family and records one dispatch over the index space. The
  // family is found by `call`'s op, `variant` (what else the body depends on), the call's element
  // types, which inputs are read through the output's binding and whether it raises flags; `body`
  // makes its WGSL (see op_dispatch.h) on first use. A `batchable` body starts its main with
  // MainHead (library.h), and its parameters hold no place in a buffer but the bases.
  DtStatus* Dispatch(const DtOpCall& call, const char* variant, const std::function<std::string()>& body,
                     uint32_t inputs, bool batchable = true);

 private:
  // A tensor bound to the shader: the buffer window that covers it and its element 0 inside it.
  struct Bound {
    wgpu::Buffer buffer = nullptr;
    uint64_t window_offset = 0;
    uint64_t window_size = 0;
    uint64_t begin = 0, end = 0;  // the bytes the tensor spans in the buffer (begin: element 0)
  };

  // Grows the output's window to cover bytes [begin, end) of its buffer too; false when it would
  // then be larger than one binding may be.
  bool CoverInOutput(uint64_t begin, uint64_t end);
  DtStatus* Bind(const DtTensorRef& t, Bound* bound);

  Context& context_;
  const wgpu::Api& api_;
  CommandList& list_;
  const DtOpCall& call_;
  DtTensorRef out_{};
  Bound bound_[kOpInputs + 1];
  bool aliased_[kOpInputs + 1] = {};
  std::vector<std::vector<int64_t>> staged_strides_;
  ParamWords params_{};
  uint64_t count_ = 0;
  wgpu::Buffer flags_ = nullptr;
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_OP_BUILDER_H_
