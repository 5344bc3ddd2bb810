#include "providers/webgpu/op_dispatch.h"

#include <algorithm>
#include <cstdlib>

#include "common/return_if_error.h"

namespace devtensor::webgpu {
namespace {

// A batch's parameters are its slots' parameters, one after another: 32 KiB at most, within
// every device's uniform binding (WebGPU guarantees 64 KiB) and the parameter arena's blocks.
constexpr size_t kMaxSlots = 64;
static_assert(kMaxSlots * kOpParamWords * 4 <= ParameterArena::kBlockBytes / 2);

uint64_t WorkgroupsFor(uint64_t invocations) { return (invocations + kOpWorkgroup - 1) / kOpWorkgroup; }

// The bind group of `entries` for `layout`; null when Dawn refuses it (reported by TakeErrors).
wgpu::BindGroup MakeGroup(Context& context, wgpu::BindGroupLayout layout,
                          const std::vector<wgpu::BindGroupEntry>& entries) {
  wgpu::BindGroupDescriptor descriptor{nullptr, wgpu::View("devtensor op"), layout, entries.size(),
                                       entries.data()};
  return context.api().DeviceCreateBindGroup(context.device(), &descriptor);
}

void Keep(std::vector<std::shared_ptr<ParameterArena::Block>>& blocks,
          std::shared_ptr<ParameterArena::Block> block) {
  if (blocks.empty() || blocks.back() != block) blocks.push_back(std::move(block));
}

}  // namespace

std::string AlonePrelude(const KernelFamily& family) {
  std::string code =
      "@group(0) @binding(0) var<uniform> params: array<vec4<u32>, " +
      std::to_string(kOpParamWords / 4) + ">;\n"
      "fn pw(i: u32) -> u32 { return params[i >> 2u][i & 3u]; }\n"
      "@group(0) @binding(1) var<storage, read_write> out_words: array<atomic<u32>>;\n"
      "fn out_load(w: u32) -> u32 { return atomicLoad(&out_words[w]); }\n"
      "fn out_store(w: u32, v: u32) { atomicStore(&out_words[w], v); }\n"
      "fn out_and(w: u32, v: u32) { atomicAnd(&out_words[w], v); }\n"
      "fn out_or(w: u32, v: u32) { atomicOr(&out_words[w], v); }\n";
  for (uint32_t k = 1; k <= family.inputs; ++k) {
    const std::string n = std::to_string(k);
    if (family.aliased[k]) {
      code += "fn word_in" + n + "(w: u32) -> u32 { return out_load(w); }\n";
    } else {
      code += "@group(0) @binding(" + std::to_string(1 + k) + ") var<storage, read> in" + n +
              "_words: array<u32>;\n";
      code += "fn word_in" + n + "(w: u32) -> u32 { return in" + n + "_words[w]; }\n";
    }
  }
  if (family.uses_flags) {
    code += "@group(0) @binding(7) var<storage, read_write> flags: array<atomic<u32>>;\n"
            "fn raise_flag(bit: u32) { atomicOr(&flags[0], bit); }\n";
  }
  return code +
         "fn element_index(group: vec3<u32>, groups: vec3<u32>, lane: u32) -> u32 {\n"
         "  return (group.x + group.y * groups.x) * " + std::to_string(kOpWorkgroup) + "u + lane;\n}\n";
}

const KernelFamily* FamilyFor(Context& context, const std::string& key,
                              const std::function<void(KernelFamily&)>& describe) {
  auto& families = context.families();
  auto it = families.find(key);
  if (it != families.end()) {
#ifndef NDEBUG
    KernelFamily check;
    describe(check);
    if (check.body != it->second->body) std::abort();  // the key misses something the text uses
#endif
    return it->second.get();
  }
  auto family = std::make_unique<KernelFamily>();
  family->key = key;
  describe(*family);
  family->alone = context.KernelFor(key, [&] { return AlonePrelude(*family) + family->body; });
  if (family->alone.pipeline == nullptr) return nullptr;
  return families.emplace(key, std::move(family)).first->second.get();
}

void OpGrid(const wgpu::Limits& limits, uint64_t workgroups, uint32_t* x, uint32_t* y) {
  const uint64_t columns = std::min<uint64_t>(workgroups, limits.max_compute_workgroups_per_dimension);
  *x = static_cast<uint32_t>(columns);
  *y = columns == 0 ? 0 : static_cast<uint32_t>((workgroups + columns - 1) / columns);
}

bool OpBatch::Add(const OpDispatch& op) {
  const uint64_t workgroups = WorkgroupsFor(op.invocations);
  if (slots_.empty()) {  // alone, it needs nothing but its own bindings
    slots_.push_back({&op, {}});
    workgroups_ = widest_ = workgroups;
    return true;
  }
  const uint64_t widest = std::max(widest_, workgroups);
  if (op.family != slots_[0].op->family || !op.family->batchable || slots_.size() >= kMaxSlots ||
      widest > limits_.max_compute_workgroups_per_dimension ||
      widest * kOpWorkgroup > 0xFFFFFFFFull ||
      // Every slot launches as many workgroups as the widest: keep the idle ones few.
      widest * (slots_.size() + 1) > 2 * (workgroups_ + workgroups) + 64) {
    return false;
  }
  const std::array<Binding, kMaxBindings> bindings = bindings_;
  const size_t binding_count = binding_count_;
  Slot slot{&op, {}};
  if ((slots_.size() == 1 && !BindSlot(slots_[0])) || !BindSlot(slot)) {
    bindings_ = bindings;
    binding_count_ = binding_count;
    return false;
  }
  slots_.push_back(slot);
  workgroups_ += workgroups;
  widest_ = widest;
  return true;
}

bool OpBatch::BindSlot(Slot& slot) {
  const KernelFamily& family = *slot.op->family;
  for (uint32_t role = 0; role <= family.inputs; ++role) {
    if (role > 0 && family.aliased[role]) {
      slot.binding[role] = slot.binding[0];
      continue;
    }
    const RoleWindow& window = slot.op->roles[role];
    size_t b = 0;
    while (b < binding_count_ && bindings_[b].buffer != window.buffer) ++b;
    if (b == binding_count_) {
      if (b >= kMaxBindings) return false;
      bindings_[b] = {window.buffer, window.offset, window.offset + window.size, role == 0,
                      api_.BufferGetSize(window.buffer),
                      (api_.BufferGetUsage(window.buffer) & wgpu::usage::kUniform) != 0};
      ++binding_count_;
    } else {
      Binding& binding = bindings_[b];
      binding.offset = std::min(binding.offset, window.offset);
      binding.end = std::max(binding.end, window.offset + window.size);
      binding.written = binding.written || role == 0;
      if (binding.end - binding.offset > limits_.max_storage_buffer_binding_size) return false;
    }
    slot.binding[role] = static_cast<uint32_t>(b);
  }
  size_t uniforms = 0;
  return Uniforms(&uniforms);
}

bool OpBatch::UniformWindow(const Binding& b, uint64_t* offset, uint64_t* size) const {
  if (b.written || !b.uniform_usage) return false;
  const uint64_t alignment = std::max<uint64_t>(limits_.min_uniform_buffer_offset_alignment, 16);
  const uint64_t limit = std::min<uint64_t>(limits_.max_uniform_buffer_binding_size, 65536);
  *offset = b.offset / alignment * alignment;
  const uint64_t needed = ((b.end + 15) & ~uint64_t(15)) - *offset;  // whole vec4<u32>s
  if (*offset + needed > b.buffer_size || needed > limit) return false;
  // A power of two of bytes where the buffer has room, so that windows of nearby sizes (a slice
  // that grows with the position, say) share one kernel.
  *size = 16;
  while (*size < needed) *size *= 2;
  if (*offset + *size > b.buffer_size || *size > limit) *size = needed;
  return true;
}

bool OpBatch::Uniforms(size_t* count) const {
  const bool flags = !slots_.empty() && slots_[0].op->family->uses_flags;
  size_t storage = flags ? 1 : 0, could_be_uniform = 0;
  for (size_t i = 0; i < binding_count_; ++i) {
    uint64_t offset = 0, size = 0;
    if (UniformWindow(bindings_[i], &offset, &size)) {
      ++could_be_uniform;
    } else {
      ++storage;
    }
  }
  const size_t storage_limit = limits_.max_storage_buffers_per_shader_stage;
  if (storage > storage_limit) return false;
  *count = could_be_uniform > storage_limit - storage ? could_be_uniform - (storage_limit - storage) : 0;
  return 1 + *count <= limits_.max_uniform_buffers_per_shader_stage;  // 1: the parameters
}

std::vector<OpBatch::Declared> OpBatch::Declare() const {
  size_t uniforms = 0;
  Uniforms(&uniforms);
  std::vector<Declared> declared;
  for (size_t i = 0; i < binding_count_; ++i) {
    const Binding& b = bindings_[i];
    uint64_t offset = 0, size = 0;
    if (uniforms > 0 && UniformWindow(b, &offset, &size)) {
      declared.push_back({Declared::kUniform, offset, size});
      --uniforms;
    } else {
      declared.push_back({b.written ? Declared::kWritten : Declared::kRead, b.offset, b.end - b.offset});
    }
  }
  return declared;
}

size_t OpBatch::SlotRoom() const {
  size_t room = 1;
  while (room < slots_.size()) room *= 2;
  return room;
}

DtStatus* OpBatch::Bind(Context& context, std::vector<std::shared_ptr<ParameterArena::Block>>& blocks,
                        std::vector<BoundDispatch>* out) const {
  if (slots_.size() == 1) return BindAlone(context, *slots_[0].op, blocks, &out->emplace_back());
  const KernelFamily& family = *slots_[0].op->family;
  const std::vector<Declared> declared = Declare();
  std::vector<uint32_t> pattern = Pattern(declared);
  auto known = std::find_if(family.batched.begin(), family.batched.end(),
                            [&](const auto& entry) { return entry.first == pattern; });
  if (known == family.batched.end()) {
    std::string key = family.key + "|batch";
    for (uint32_t word : pattern) key += "," + std::to_string(word);
    Context::Kernel kernel =
        context.KernelFor(key, [&] { return BatchedPrelude(declared) + family.body; });
    // Should it not compile (it always has), the ops still run, one dispatch each.
    family.batched.emplace_back(std::move(pattern), kernel);
    known = family.batched.end() - 1;
  }
  const Context::Kernel& kernel = known->second;
  if (kernel.pipeline == nullptr) {
    for (const Slot& slot : slots_) {
      DT_RETURN_IF_ERROR(BindAlone(context, *slot.op, blocks, &out->emplace_back()));
    }
    return nullptr;
  }
  // Each slot's parameters, with its bases moved into the windows bound and its bindings named.
  std::vector<uint32_t> words(kOpParamWords * SlotRoom(), 0);
  for (size_t j = 0; j < slots_.size(); ++j) {
    const Slot& slot = slots_[j];
    uint32_t* params = &words[kOpParamWords * j];
    std::copy(slot.op->params.begin(), slot.op->params.end(), params);
    for (uint32_t role = 0; role <= family.inputs; ++role) {
      const uint32_t binding = slot.binding[role];
      params[OpBaseWord(role)] += static_cast<uint32_t>(slot.op->roles[role].offset - declared[binding].offset);
      params[OpBindingWord(role)] = binding;
    }
  }
  std::shared_ptr<ParameterArena::Block> block;
  uint64_t offset = 0;
  const size_t bytes = words.size() * sizeof(uint32_t);
  DT_RETURN_IF_ERROR(context.parameters().Add(words.data(), bytes, &block, &offset));
  std::vector<wgpu::BindGroupEntry> entries;
  entries.reserve(binding_count_ + 2);
  entries.push_back({nullptr, 0, block->buffer(), offset, bytes, nullptr, nullptr});
  Keep(blocks, std::move(block));
  for (size_t i = 0; i < binding_count_; ++i) {
    entries.push_back({nullptr, static_cast<uint32_t>(1 + i), bindings_[i].buffer, declared[i].offset,
                       declared[i].size, nullptr, nullptr});
  }
  if (family.uses_flags) {
    entries.push_back({nullptr, static_cast<uint32_t>(1 + binding_count_), slots_[0].op->flags, 0,
                       16, nullptr, nullptr});
  }
  BoundDispatch& bound = out->emplace_back();
  bound.pipeline = kernel.pipeline;
  bound.group = MakeGroup(context, kernel.layout, entries);
  bound.x = static_cast<uint32_t>(widest_);
  bound.y = static_cast<uint32_t>(slots_.size());
  return nullptr;
}

DtStatus* OpBatch::BindAlone(Context& context, const OpDispatch& op,
                             std::vector<std::shared_ptr<ParameterArena::Block>>& blocks,
                             BoundDispatch* out) const {
  const KernelFamily& family = *op.family;
  std::shared_ptr<ParameterArena::Block> block;
  uint64_t offset = 0;
  const size_t bytes = op.params.size() * sizeof(uint32_t);
  DT_RETURN_IF_ERROR(context.parameters().Add(op.params.data(), bytes, &block, &offset));
  std::vector<wgpu::BindGroupEntry> entries;
  entries.reserve(2 + kOpInputs);
  entries.push_back({nullptr, 0, block->buffer(), offset, bytes, nullptr, nullptr});
  Keep(blocks, std::move(block));
  for (uint32_t role = 0; role <= family.inputs; ++role) {
    if (role > 0 && family.aliased[role]) continue;
    const RoleWindow& w = op.roles[role];
    entries.push_back({nullptr, 1 + role, w.buffer, w.offset, w.size, nullptr, nullptr});
  }
  if (family.uses_flags) entries.push_back({nullptr, 7, op.flags, 0, 16, nullptr, nullptr});
  out->pipeline = family.alone.pipeline;
  out->group = MakeGroup(context, family.alone.layout, entries);
  OpGrid(limits_, WorkgroupsFor(op.invocations), &out->x, &out->y);
  return nullptr;
}

// What the batched prelude depends on: the slots the parameters have room for, and how each
// binding is declared (with the size of a uniform one).
std::vector<uint32_t> OpBatch::Pattern(const std::vector<Declared>& declared) const {
  std::vector<uint32_t> pattern;
  pattern.reserve(2 + 2 * declared.size());
  pattern.push_back(static_cast<uint32_t>(SlotRoom()));
  pattern.push_back(static_cast<uint32_t>(declared.size()));
  for (const Declared& d : declared) {
    pattern.push_back(d.kind);
    pattern.push_back(d.kind == Declared::kUniform ? static_cast<uint32_t>(d.size / 16) : 0);
  }
  return pattern;
}

std::string OpBatch::BatchedPrelude(const std::vector<Declared>& declared) const {
  const KernelFamily& family = *slots_[0].op->family;
  auto name = [](size_t binding) { return "buffer" + std::to_string(binding); };
  std::string code = "@group(0) @binding(0) var<uniform> params: array<vec4<u32>, " +
                     std::to_string(kOpParamWords * SlotRoom() / 4) + ">;\n"
                     "var<private> slot_base: u32;\n"
                     "fn pw(i: u32) -> u32 { let k = slot_base + i; return params[k >> 2u][k & 3u]; }\n";
  std::vector<size_t> written;  // the bindings an output may be
  for (size_t i = 0; i < declared.size(); ++i) {
    code += "@group(0) @binding(" + std::to_string(1 + i) + ") ";
    switch (declared[i].kind) {
      case Declared::kWritten:
        code += "var<storage, read_write> " + name(i) + ": array<atomic<u32>>;\n";
        written.push_back(i);
        break;
      case Declared::kRead: code += "var<storage, read> " + name(i) + ": array<u32>;\n"; break;
      case Declared::kUniform:
        code += "var<uniform> " + name(i) + ": array<vec4<u32>, " + std::to_string(declared[i].size / 16) + ">;\n";
        break;
    }
  }
  // `statement(b)` for the binding the slot's `role` names: a switch over `candidates`, unless
  // there is one.
  auto by_binding = [&](uint32_t role, const std::vector<size_t>& candidates,
                        const std::function<std::string(size_t)>& statement, const std::string& otherwise) {
    if (candidates.size() == 1) return "  " + statement(candidates[0]) + "\n";
    std::string text = "  switch pw(" + std::to_string(OpBindingWord(role)) + "u) {\n";
    for (size_t b : candidates) text += "    case " + std::to_string(b) + "u: { " + statement(b) + " }\n";
    return text + "    default: { " + otherwise + " }\n  }\n";
  };
  code += "fn out_load(w: u32) -> u32 {\n" +
          by_binding(0, written, [&](size_t b) { return "return atomicLoad(&" + name(b) + "[w]);"; }, "return 0u;") +
          "}\n";
  for (const auto& [function, atomic] : {std::pair{"out_store", "atomicStore"}, std::pair{"out_and", "atomicAnd"},
                                         std::pair{"out_or", "atomicOr"}}) {
    code += std::string("fn ") + function + "(w: u32, v: u32) {\n" +
            by_binding(0, written, [&, atomic = atomic](size_t b) { return atomic + std::string("(&") + name(b) + "[w], v);"; }, "") +
            "}\n";
  }
  std::vector<size_t> all(declared.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  for (uint32_t k = 1; k <= family.inputs; ++k) {
    const std::string n = std::to_string(k);
    if (family.aliased[k]) {
      code += "fn word_in" + n + "(w: u32) -> u32 { return out_load(w); }\n";
      continue;
    }
    code += "fn word_in" + n + "(w: u32) -> u32 {\n" +
            by_binding(k, all, [&](size_t b) {
              switch (declared[b].kind) {
                case Declared::kWritten: return "return atomicLoad(&" + name(b) + "[w]);";
                case Declared::kRead: return "return " + name(b) + "[w];";
                case Declared::kUniform: break;
              }
              return "return " + name(b) + "[w >> 2u][w & 3u];";
            }, "return 0u;") + "}\n";
  }
  std::string touch;  // every binding is used, so that the pipeline's layout has them all
  for (size_t i = 0; i < declared.size(); ++i) touch += "  _ = &" + name(i) + ";\n";
  if (family.uses_flags) {
    code += "@group(0) @binding(" + std::to_string(1 + declared.size()) +
            ") var<storage, read_write> flags: array<atomic<u32>>;\n"
            "fn raise_flag(bit: u32) { atomicOr(&flags[0], bit); }\n";
    touch += "  _ = &flags;\n";
  }
  // A row of workgroups per slot.
  return code +
         "fn element_index(group: vec3<u32>, groups: vec3<u32>, lane: u32) -> u32 {\n" + touch +
         "  slot_base = group.y * " + std::to_string(kOpParamWords) + "u;\n"
         "  return group.x * " + std::to_string(kOpWorkgroup) + "u + lane;\n"
         "}\n";
}

}  // namespace devtensor::webgpu
