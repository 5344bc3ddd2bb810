// An op kernel's dispatch as recorded: the kernel family it runs, its parameters and the buffer
// windows it binds, not yet bound. A schedule binds it alone, with the family's own kernel, or
// together with independent dispatches of the same family as one dispatch of a batched kernel:
// each op of the batch is a slot with its own parameters and its own row of workgroups
// (workgroup_id.y is the slot). A buffer several slots use is bound once, over a window that
// covers all their tensors, so a batch of ops on views of one buffer needs one binding. Each
// slot's parameters name the binding of each of its roles, so that the batched kernel's WGSL
// depends only on how many bindings of which kind it has, not on which op uses which: a decode
// loop meets the same few kernels at every step.
//
// A family's WGSL body reaches its bindings only through functions its prelude defines:
//   pw(i)                       parameter word i of the op
//   out_load/out_store/out_and/out_or(w, ...)   word w of the output binding (atomic)
//   word_in1(w) ... word_in4(w) word w of an input (the output's, for an aliased input)
//   raise_flag(bit)             ORs a bit into the device's error flags
//   element_index(group, groups, lane)   the op's element of this invocation (and, in a batch,
//                               selects the slot; call it before anything else)
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_OP_DISPATCH_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_OP_DISPATCH_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/parameter_arena.h"

namespace devtensor::webgpu {

// An op's parameter block. Its fixed words are the same for every op, so that a batch can move
// any slot's bases and name its bindings (kernels/kernel_params.h names them for kernels):
//   0                invocations that do work
//   1                dimensions of the index space
//   2                invocations per row of workgroups
//   8...15           the index space's extents
//   16 + 12 * role   the byte of the role's element 0 in its bound window, then the role's byte
//                    stride along each dimension of the index space
//   76...119         the op's own parameters
//   120 + role       in a batch: the binding the role reads or writes
inline constexpr size_t kOpParamWords = 128;  // an op's parameters: 512 bytes
inline constexpr uint32_t kOpInputs = 4;      // input roles 1..4; role 0 is the output
inline constexpr uint32_t kOpWorkgroup = 256;
inline constexpr size_t kOpCountWord = 0;
inline constexpr size_t kOpRankWord = 1;
inline constexpr size_t kOpRowWidthWord = 2;
inline constexpr size_t kOpExtentWord = 8;
inline constexpr size_t kOpMaxRank = 8;       // dimensions of an index space, at most
inline constexpr size_t kOpRoleWords = 12;    // a role's base and its strides
// The byte of the role's element 0 in its bound window.
inline constexpr size_t OpBaseWord(uint32_t role) { return 16 + kOpRoleWords * size_t(role); }
// The role's byte stride along dimension `d` of the index space (d < kOpRoleWords - 1).
inline constexpr size_t OpStrideWord(uint32_t role, size_t d) { return OpBaseWord(role) + 1 + d; }
// The op's own parameters: words [kOpOwnFirstWord, kOpOwnEndWord).
inline constexpr size_t kOpOwnFirstWord = OpBaseWord(kOpInputs + 1);
inline constexpr size_t kOpOwnEndWord = 120;
// In a batch: the binding the role reads or writes.
inline constexpr size_t OpBindingWord(uint32_t role) { return kOpOwnEndWord + size_t(role); }
static_assert(kOpExtentWord + kOpMaxRank <= OpBaseWord(0) && OpBindingWord(kOpInputs) < kOpParamWords);

// One op kernel and everything its WGSL depends on besides its parameters.
struct KernelFamily {
  std::string key;
  std::string body;                  // WGSL without bindings (see above)
  uint32_t inputs = 0;               // input roles 1..inputs are bound
  bool aliased[1 + kOpInputs] = {};  // inputs read through the output's binding (in its buffer)
  bool uses_flags = false;
  bool batchable = false;            // its main starts with element_index
  Context::Kernel alone;             // the kernel for one op
  // Batched kernels made so far, by the pattern of their bindings (see OpBatch).
  mutable std::vector<std::pair<std::vector<uint32_t>, Context::Kernel>> batched;
};

// The family named `key`, made by `describe` (which sets everything but key and alone) and
// compiled the first time. Null when its WGSL does not compile (the error is in the context's
// TakeErrorText).
const KernelFamily* FamilyFor(Context& context, const std::string& key,
                              const std::function<void(KernelFamily&)>& describe);

// The window a dispatch binds for one role, and the bytes its tensor spans there.
struct RoleWindow {
  wgpu::Buffer buffer = nullptr;
  uint64_t offset = 0, size = 0;  // the bound window
  uint64_t begin = 0, end = 0;    // the tensor's bytes
};

struct OpDispatch {
  const KernelFamily* family = nullptr;
  std::array<uint32_t, kOpParamWords> params{};
  // The output, then the inputs; an aliased input (read through the output's binding) has the
  // output's window and its own bytes.
  RoleWindow roles[1 + kOpInputs];
  wgpu::Buffer flags = nullptr;     // the error flags, for families that raise them
  uint64_t invocations = 0;
};

// A dispatch ready to encode.
struct BoundDispatch {
  wgpu::ComputePipeline pipeline = nullptr;
  wgpu::BindGroup group = nullptr;  // owned by whoever asked for the binding
  uint32_t x = 0, y = 0;
};

// Independent dispatches of one family bound as one.
class OpBatch {
 public:
  explicit OpBatch(const Context& context) : api_(context.api()), limits_(context.limits()) {}
  // A batch that only decides what it takes (Add), for a device of these limits; buffer sizes
  // and usages come from `api`.
  OpBatch(const wgpu::Api& api, const wgpu::Limits& limits) : api_(api), limits_(limits) {}

  // Takes `op` into the batch when it is the first, or of the batch's batchable family and the
  // batch stays within the device's limits (storage bindings per stage, binding size, uniform
  // size, workgroups); false, changing nothing, otherwise.
  bool Add(const OpDispatch& op);
  size_t size() const { return slots_.size(); }

  // Binds the batch: a single op with its family's kernel, several with the batched kernel of
  // this pattern of bindings, or each alone should that kernel not compile. Parameters go into
  // the context's arena; `blocks` keeps their blocks.
  DtStatus* Bind(Context& context, std::vector<std::shared_ptr<ParameterArena::Block>>& blocks,
                 std::vector<BoundDispatch>* out) const;

 private:
  static constexpr size_t kMaxBindings = 24;  // storage and uniform, at most
  struct Binding {
    wgpu::Buffer buffer;
    uint64_t offset, end;  // the union of the windows bound
    bool written;
    uint64_t buffer_size;
    bool uniform_usage;    // the buffer may be bound as a uniform buffer
  };
  // How a binding is declared: an atomic storage array (written), a storage array, or a uniform
  // array of `size` / 16 vectors at `offset` (read only, small).
  struct Declared {
    enum Kind : uint32_t { kWritten, kRead, kUniform } kind;
    uint64_t offset, size;
  };
  struct Slot {
    const OpDispatch* op;
    uint32_t binding[1 + kOpInputs];  // index into bindings_ by role
  };

  bool BindSlot(Slot& slot);
  // Whether binding `b` could be a uniform buffer, and where its window would be.
  bool UniformWindow(const Binding& b, uint64_t* offset, uint64_t* size) const;
  // How many of the bindings that could be uniform must be, for the rest to fit the storage
  // bindings of a stage; false when the bindings fit no way.
  bool Uniforms(size_t* count) const;
  // How each binding is declared.
  std::vector<Declared> Declare() const;
  DtStatus* BindAlone(Context& context, const OpDispatch& op,
                      std::vector<std::shared_ptr<ParameterArena::Block>>& blocks,
                      BoundDispatch* out) const;
  // Slots the batch's parameters have room for: a power of two.
  size_t SlotRoom() const;
  std::vector<uint32_t> Pattern(const std::vector<Declared>& declared) const;
  std::string BatchedPrelude(const std::vector<Declared>& declared) const;

  const wgpu::Api& api_;
  const wgpu::Limits& limits_;
  std::vector<Slot> slots_;
  std::array<Binding, kMaxBindings> bindings_{};
  size_t binding_count_ = 0;
  uint64_t workgroups_ = 0;  // of all slots
  uint64_t widest_ = 0;      // of the widest slot
};

// WGSL of the bindings of `family`'s kernel for one op.
std::string AlonePrelude(const KernelFamily& family);

// Workgroups for `count` invocations of kOpWorkgroup, laid out over x (at most the device's
// limit per dimension) and y.
void OpGrid(const wgpu::Limits& limits, uint64_t workgroups, uint32_t* x, uint32_t* y);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_OP_DISPATCH_H_
