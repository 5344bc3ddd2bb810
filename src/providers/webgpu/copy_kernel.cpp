#include "providers/webgpu/copy_kernel.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "layout/layout.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {
namespace {

constexpr uint32_t kWorkgroupSize = 256;
constexpr uint64_t kParamsSlot = 256;  // a multiple of every storage-offset alignment WebGPU allows

// Mirrors `Params` in the shader.
struct Params {
  uint32_t mode;          // 0 copy, 1 clear
  uint32_t rank;
  uint32_t element_size;
  uint32_t first_word;    // first destination word, in words from the start of the binding
  uint32_t word_count;
  uint32_t dst_base;      // byte of element [0, ..., 0] from the start of the destination binding
  uint32_t src_base;
  uint32_t row_words;     // invocations per row of the dispatch grid
  uint32_t shape[DT_MAX_RANK];
  uint32_t dst_stride[DT_MAX_RANK];  // bytes
  uint32_t src_stride[DT_MAX_RANK];
};
static_assert(sizeof(Params) == 128 && sizeof(Params) <= kParamsSlot);

// For every byte of its destination word the invocation finds the element the byte belongs to by
// peeling dimensions off the byte's offset (strides are nested: each exceeds the extent of the
// dimensions inside it); bytes in no element keep their value.
constexpr const char* kShader = R"(
struct Params {
  mode: u32, rank: u32, element_size: u32, first_word: u32,
  word_count: u32, dst_base: u32, src_base: u32, row_words: u32,
  shape: array<u32, 8>, dst_stride: array<u32, 8>, src_stride: array<u32, 8>,
}
@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
$SOURCE_BINDING
fn source_byte(address: u32) -> u32 {
  return ($SOURCE[address >> 2u] >> ((address & 3u) * 8u)) & 0xffu;
}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * p.row_words;
  if (i >= p.word_count) { return; }
  let w = p.first_word + i;
  var word = dst[w];
  var changed = false;
  for (var b = 0u; b < 4u; b++) {
    let address = w * 4u + b;
    if (address < p.dst_base) { continue; }
    var rest = address - p.dst_base;
    var source = p.src_base;
    var inside = true;
    for (var d = 0u; d < p.rank; d++) {
      let index = rest / p.dst_stride[d];
      if (index >= p.shape[d]) { inside = false; break; }
      rest -= index * p.dst_stride[d];
      source += index * p.src_stride[d];
    }
    if (!inside || rest >= p.element_size) { continue; }
    var value = 0u;
    if (p.mode == 0u) { value = source_byte(source + rest); }
    let shift = b * 8u;
    word = (word & ~(0xffu << shift)) | (value << shift);
    changed = true;
  }
  if (changed) { dst[w] = word; }
}
)";

std::string ShaderFor(bool same_buffer) {
  std::string code = kShader;
  auto replace = [&](const std::string& token, const std::string& with) {
    for (size_t at = code.find(token); at != std::string::npos; at = code.find(token, at)) {
      code.replace(at, token.size(), with);
      at += with.size();
    }
  };
  replace("$SOURCE_BINDING",
          same_buffer ? "" : "@group(0) @binding(2) var<storage, read> src: array<u32>;");
  replace("$SOURCE", same_buffer ? "dst" : "src");
  return code;
}

uint64_t RoundUp4(uint64_t v) { return (v + 3) & ~uint64_t(3); }

uint64_t ExtentOf(const KernelJob& job, const KernelSide& side) {
  uint64_t last = 0;
  for (uint32_t d = 0; d < job.rank; ++d) {
    last += static_cast<uint64_t>(job.shape[d] - 1) * static_cast<uint64_t>(side.strides[d]);
  }
  return last + job.element_size;
}

// The storage binding that covers bytes [begin, end) of a buffer.
struct Window {
  uint64_t offset;
  uint64_t size;
};
Window Cover(uint64_t begin, uint64_t end, uint64_t alignment) {
  const uint64_t offset = begin / alignment * alignment;
  return {offset, RoundUp4(end) - offset};
}

struct Binding {
  Window dst, src;
  bool same_buffer;
};

Binding BindingsOf(const KernelJob& job, uint64_t alignment) {
  const uint64_t dst_end = job.dst.offset + ExtentOf(job, job.dst);
  Binding b{Cover(job.dst.offset, dst_end, alignment), {0, 0}, false};
  if (job.zero) return b;
  const uint64_t src_end = job.src.offset + ExtentOf(job, job.src);
  if (job.src.buffer == job.dst.buffer) {
    b.same_buffer = true;
    b.dst = Cover(std::min(job.dst.offset, job.src.offset), std::max(dst_end, src_end), alignment);
    b.src = b.dst;
  } else {
    b.src = Cover(job.src.offset, src_end, alignment);
  }
  return b;
}

bool Fits(const KernelJob& job, uint64_t alignment, uint64_t limit) {
  const Binding b = BindingsOf(job, alignment);
  return b.dst.size <= limit && (job.zero || b.src.size <= limit);
}

// Splits `job` along its outer dimensions until every binding fits the device's limit.
void Split(const KernelJob& job, uint64_t alignment, uint64_t limit, std::vector<KernelJob>* out) {
  if (job.rank == 0 || Fits(job, alignment, limit)) {
    out->push_back(job);
    return;
  }
  if (job.shape[0] == 1) {  // drop the outer dimension
    KernelJob inner = job;
    inner.rank = job.rank - 1;
    std::copy(job.shape + 1, job.shape + job.rank, inner.shape);
    std::copy(job.dst.strides + 1, job.dst.strides + job.rank, inner.dst.strides);
    std::copy(job.src.strides + 1, job.src.strides + job.rank, inner.src.strides);
    Split(inner, alignment, limit, out);
    return;
  }
  const int64_t half = job.shape[0] / 2;
  KernelJob first = job, second = job;
  first.shape[0] = half;
  second.shape[0] = job.shape[0] - half;
  second.dst.offset += static_cast<uint64_t>(half * job.dst.strides[0]);
  second.src.offset += static_cast<uint64_t>(half * job.src.strides[0]);
  Split(first, alignment, limit, out);
  Split(second, alignment, limit, out);
}

}  // namespace

KernelJob MakeKernelJob(const DtTensorRef& dst, wgpu::Buffer dst_buffer, const DtTensorRef* src,
                        wgpu::Buffer src_buffer) {
  KernelJob job;
  job.zero = src == nullptr;
  job.element_size = static_cast<uint32_t>(dst.element_size);
  const int64_t* strides[2] = {dst.strides, src ? src->strides : dst.strides};
  int64_t* merged[2] = {job.dst.strides, job.src.strides};
  job.rank = static_cast<uint32_t>(MergeDimensions(dst.shape, dst.rank, strides, 2, job.shape, merged));
  for (uint32_t d = 0; d < job.rank; ++d) {
    job.dst.strides[d] *= job.element_size;
    job.src.strides[d] *= job.element_size;
  }
  job.dst.buffer = dst_buffer;
  job.dst.buffer_bytes = dst.buffer_bytes;
  job.dst.offset = dst.byte_offset;
  if (src != nullptr) {
    job.src.buffer = src_buffer;
    job.src.buffer_bytes = src->buffer_bytes;
    job.src.offset = src->byte_offset;
  }
  return job;
}

wgpu::ComputePipeline CreateCopyPipeline(Context& context, bool same_buffer) {
  const wgpu::Api& api = context.api();
  const std::string code = ShaderFor(same_buffer);
  wgpu::ShaderSourceWgsl source{{nullptr, wgpu::stype::kShaderSourceWgsl},
                                {code.data(), code.size()}};
  wgpu::ShaderModuleDescriptor module_descriptor{&source.chain, wgpu::View("devtensor copy")};
  wgpu::ShaderModule module = api.DeviceCreateShaderModule(context.device(), &module_descriptor);
  wgpu::ComputePipelineDescriptor descriptor{};
  descriptor.label = wgpu::View("devtensor copy");
  descriptor.compute.module = module;
  descriptor.compute.entry_point = wgpu::View("main");
  wgpu::ComputePipeline pipeline = api.DeviceCreateComputePipeline(context.device(), &descriptor);
  api.ShaderModuleRelease(module);
  return pipeline;
}

DtStatus* CheckKernelJob(Context& context, const KernelJob& job) {
  const uint64_t alignment =
      std::max<uint64_t>(context.limits().min_storage_buffer_offset_alignment, 4);
  const Binding b = BindingsOf(job, alignment);
  if (b.dst.offset + b.dst.size > job.dst.buffer_bytes ||
      (!job.zero && b.src.offset + b.src.size > job.src.buffer_bytes)) {
    return context.host()->CreateStatus(
        DT_NOT_SUPPORTED,
        "a view touches the last bytes of a WebGPU buffer whose size is not a multiple of 4; "
        "shaders cannot bind them");
  }
  return nullptr;
}

DtStatus* RecordKernelJobs(Context& context, CommandList& list, const std::vector<KernelJob>& jobs) {
  const wgpu::Api& api = context.api();
  const wgpu::Limits& limits = context.limits();
  const uint64_t alignment = std::max<uint64_t>(limits.min_storage_buffer_offset_alignment, 4);
  const uint64_t limit = std::min<uint64_t>(limits.max_storage_buffer_binding_size, 0xFFFFFFFCull);
  std::vector<KernelJob> split;
  for (const KernelJob& job : jobs) Split(job, alignment, limit, &split);

  std::vector<Binding> bindings;
  for (const KernelJob& job : split) bindings.push_back(BindingsOf(job, alignment));

  std::vector<uint8_t> slots(split.size() * kParamsSlot, 0);
  std::vector<std::pair<uint32_t, uint32_t>> grids;  // workgroups in x and y per job
  for (size_t i = 0; i < split.size(); ++i) {
    const KernelJob& job = split[i];
    const Binding& b = bindings[i];
    Params p{};
    p.mode = job.zero ? 1 : 0;
    p.rank = job.rank;
    p.element_size = job.element_size;
    const uint64_t first_byte = job.dst.offset & ~uint64_t(3);
    const uint64_t end = RoundUp4(job.dst.offset + ExtentOf(job, job.dst));
    p.first_word = static_cast<uint32_t>((first_byte - b.dst.offset) / 4);
    p.word_count = static_cast<uint32_t>((end - first_byte) / 4);
    p.dst_base = static_cast<uint32_t>(job.dst.offset - b.dst.offset);
    p.src_base = job.zero ? 0 : static_cast<uint32_t>(job.src.offset - b.src.offset);
    const uint32_t groups = (p.word_count + kWorkgroupSize - 1) / kWorkgroupSize;
    const uint32_t columns = std::min(groups, limits.max_compute_workgroups_per_dimension);
    p.row_words = columns * kWorkgroupSize;
    grids.emplace_back(columns, columns == 0 ? 0 : (groups + columns - 1) / columns);
    for (uint32_t d = 0; d < job.rank; ++d) {
      p.shape[d] = static_cast<uint32_t>(job.shape[d]);
      p.dst_stride[d] = static_cast<uint32_t>(job.dst.strides[d]);
      p.src_stride[d] = static_cast<uint32_t>(job.src.strides[d]);
    }
    std::memcpy(&slots[i * kParamsSlot], &p, sizeof p);
  }
  wgpu::Buffer params = nullptr;
  if (DtStatus* status =
          list.TakeBuffer(slots.size(), wgpu::usage::kStorage | wgpu::usage::kCopyDst, &params)) {
    return status;
  }
  api.QueueWriteBuffer(context.queue(), params, 0, slots.data(), slots.size());

  for (size_t i = 0; i < split.size(); ++i) {
    const KernelJob& job = split[i];
    const Binding& b = bindings[i];
    const bool single = job.zero || b.same_buffer;
    wgpu::ComputePipeline pipeline = context.CopyPipeline(single);
    wgpu::BindGroupLayout layout = api.ComputePipelineGetBindGroupLayout(pipeline, 0);
    wgpu::BindGroupEntry entries[3] = {};
    entries[0] = {nullptr, 0, params, i * kParamsSlot, sizeof(Params), nullptr, nullptr};
    entries[1] = {nullptr, 1, job.dst.buffer, b.dst.offset, b.dst.size, nullptr, nullptr};
    entries[2] = {nullptr, 2, job.src.buffer, b.src.offset, b.src.size, nullptr, nullptr};
    wgpu::BindGroupDescriptor descriptor{nullptr, wgpu::View("devtensor copy"), layout,
                                         single ? size_t(2) : size_t(3), entries};
    wgpu::BindGroup group = api.DeviceCreateBindGroup(context.device(), &descriptor);
    api.BindGroupLayoutRelease(layout);
    list.Dispatch(pipeline, group, grids[i].first, grids[i].second);
  }
  return nullptr;
}

}  // namespace devtensor::webgpu
