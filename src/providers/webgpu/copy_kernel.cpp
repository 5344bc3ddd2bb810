#include "providers/webgpu/copy_kernel.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/return_if_error.h"
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
  uint32_t rank;          // of the outer dimensions, over which rows repeat
  uint32_t element_size;
  uint32_t row_bytes;     // destination bytes of a row, contiguous
  uint32_t row_words;     // invocations per row: the most words a row can touch
  uint32_t count;         // invocations: rows * row_words
  uint32_t dst_base;      // byte of element [0, ..., 0] from the start of the destination binding
  uint32_t src_base;
  uint32_t grid_row;      // invocations per row of the dispatch grid
  uint32_t src_step;      // source bytes from one element of a row to the next
  uint32_t unused[2];
  uint32_t shape[DT_MAX_RANK];       // outer dimensions
  uint32_t dst_stride[DT_MAX_RANK];  // bytes
  uint32_t src_stride[DT_MAX_RANK];
};
static_assert(sizeof(Params) == 144 && sizeof(Params) <= kParamsSlot);

// A job is a set of rows: runs of destination bytes that are contiguous (the innermost dimension
// when the destination is dense along it, else single elements), repeated over the outer
// dimensions. Each invocation owns one word of one row and writes only that row's bytes of it:
// whole words with a store, a row's unaligned head and tail with atomic AND and OR, so that two
// rows sharing a word (views with gaps of under four bytes) never undo each other's bytes and
// bytes outside the view keep their value. The work is in proportion to the view's bytes, not to
// the span of its strides.
constexpr const char* kShader = R"(
struct Params {
  mode: u32, rank: u32, element_size: u32, row_bytes: u32,
  row_words: u32, count: u32, dst_base: u32, src_base: u32,
  grid_row: u32, src_step: u32, unused0: u32, unused1: u32,
  shape: array<u32, 8>, dst_stride: array<u32, 8>, src_stride: array<u32, 8>,
}
@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<atomic<u32>>;
$SOURCE_BINDING
fn source_word(w: u32) -> u32 { return $SOURCE_WORD; }
// `n` (1 to 4) source bytes from byte `a` on, in the low bytes.
fn source_bytes(a: u32, n: u32) -> u32 {
  let shift = (a & 3u) * 8u;
  var v = source_word(a >> 2u) >> shift;
  if ((a & 3u) + n > 4u) { v = v | (source_word((a >> 2u) + 1u) << (32u - shift)); }
  if (n < 4u) { v = v & ((1u << (n * 8u)) - 1u); }
  return v;
}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * p.grid_row;
  if (i >= p.count) { return; }
  let row = i / p.row_words;
  var rest = row;
  var dst_at = p.dst_base;
  var src_at = p.src_base;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let index = rest % p.shape[d];
    rest = rest / p.shape[d];
    dst_at += index * p.dst_stride[d];
    src_at += index * p.src_stride[d];
  }
  let w = (dst_at >> 2u) + (i - row * p.row_words);
  let first = max(w * 4u, dst_at);
  let end = min(w * 4u + 4u, dst_at + p.row_bytes);
  if (first >= end) { return; }
  let n = end - first;
  var value = 0u;
  if (p.mode == 0u) {
    if (p.src_step == p.element_size) {
      value = source_bytes(src_at + (first - dst_at), n);
    } else {
      for (var b = 0u; b < n; b++) {
        let k = first - dst_at + b;
        let e = k / p.element_size;
        value = value | (source_bytes(src_at + e * p.src_step + (k - e * p.element_size), 1u) << (b * 8u));
      }
    }
  }
  if (n == 4u) {
    atomicStore(&dst[w], value);
    return;
  }
  let shift = (first & 3u) * 8u;
  let mask = ((1u << (n * 8u)) - 1u) << shift;
  atomicAnd(&dst[w], ~mask);
  if (value != 0u) { atomicOr(&dst[w], value << shift); }
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
  // A source in the destination's buffer is read through its binding: its bytes are never the
  // ones being written (sources and destinations are disjoint), and the atomics leave the other
  // bytes of a word as they are.
  replace("$SOURCE_BINDING",
          same_buffer ? "" : "@group(0) @binding(2) var<storage, read> src: array<u32>;");
  replace("$SOURCE_WORD", same_buffer ? "atomicLoad(&dst[w])" : "src[w]");
  return code;
}

uint64_t RoundUp4(uint64_t v) { return (v + 3) & ~uint64_t(3); }

// Past any buffer: extents saturate here, so that sums of offsets and extents cannot wrap and a
// job that does not fit its buffer fails CheckKernelJob.
constexpr uint64_t kTooFar = uint64_t(1) << 62;
// Invocations of one dispatch, at most (jobs with more are split).
constexpr uint64_t kMaxInvocations = uint64_t(1) << 31;

uint64_t ExtentOf(const KernelJob& job, const KernelSide& side) {
  uint64_t last = 0;
  for (uint32_t d = 0; d < job.rank; ++d) {
    uint64_t step = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(job.shape[d] - 1),
                               static_cast<uint64_t>(side.strides[d]), &step) ||
        __builtin_add_overflow(last, step, &last) || last > kTooFar) {
      return kTooFar;
    }
  }
  return last + job.element_size;
}

uint64_t EndOf(const KernelJob& job, const KernelSide& side) {
  return std::min(side.offset, kTooFar) + ExtentOf(job, side);
}

// The rows of a job (see kShader).
struct Rows {
  uint32_t rank = 0;        // outer dimensions: the job's first `rank`
  uint64_t count = 1;       // rows
  uint64_t bytes = 0;       // of a row
  uint64_t words = 0;       // invocations per row
  int64_t src_step = 0;     // source bytes between a row's elements
  uint64_t Invocations() const { return count * words; }
};

Rows RowsOf(const KernelJob& job) {
  Rows rows;
  rows.rank = job.rank;
  rows.bytes = job.element_size;
  rows.src_step = job.element_size;
  if (job.rank > 0 && job.dst.strides[job.rank - 1] == int64_t(job.element_size)) {
    rows.rank = job.rank - 1;
    rows.bytes = static_cast<uint64_t>(job.shape[rows.rank]) * job.element_size;
    if (!job.zero) rows.src_step = job.src.strides[rows.rank];
  }
  bool same_alignment = true;  // every row starts at the same byte of a word
  for (uint32_t d = 0; d < rows.rank; ++d) {
    rows.count *= static_cast<uint64_t>(job.shape[d]);
    same_alignment = same_alignment && job.dst.strides[d] % 4 == 0;
  }
  // A row of n bytes touches at most (n + 6) / 4 words, or exactly this many at a known alignment.
  rows.words = same_alignment ? (job.dst.offset % 4 + rows.bytes + 3) / 4 : (rows.bytes + 6) / 4;
  return rows;
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
  const uint64_t dst_end = EndOf(job, job.dst);
  Binding b{Cover(job.dst.offset, dst_end, alignment), {0, 0}, false};
  if (job.zero) return b;
  const uint64_t src_end = EndOf(job, job.src);
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
  return b.dst.size <= limit && (job.zero || b.src.size <= limit) &&
         RowsOf(job).Invocations() <= kMaxInvocations;
}

// Splits `job` along its outer dimensions until every binding fits the device's limit and every
// dispatch the invocation limit.
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
  job.dst.buffer = dst_buffer;
  job.dst.buffer_bytes = dst.buffer_bytes;
  job.dst.offset = dst.byte_offset;
  if (src != nullptr) {
    job.src.buffer = src_buffer;
    job.src.buffer_bytes = src->buffer_bytes;
    job.src.offset = src->byte_offset;
  }
  // An empty view's strides may be huge; it has nothing to copy.
  job.empty = std::any_of(dst.shape, dst.shape + dst.rank, [](int64_t n) { return n == 0; });
  if (job.empty) return job;
  const int64_t* strides[2] = {dst.strides, src ? src->strides : dst.strides};
  int64_t* merged[2] = {job.dst.strides, job.src.strides};
  job.rank = static_cast<uint32_t>(MergeDimensions(dst.shape, dst.rank, strides, 2, job.shape, merged));
  for (uint32_t d = 0; d < job.rank; ++d) {
    // Unsigned: a stride past the buffer wraps here and fails CheckKernelJob's bounds instead.
    job.dst.strides[d] = static_cast<int64_t>(static_cast<uint64_t>(job.dst.strides[d]) * job.element_size);
    job.src.strides[d] = static_cast<int64_t>(static_cast<uint64_t>(job.src.strides[d]) * job.element_size);
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
  if (job.empty) return nullptr;
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
  for (const KernelJob& job : jobs) {
    if (!job.empty) Split(job, alignment, limit, &split);
  }
  if (split.empty()) return nullptr;

  std::vector<Binding> bindings;
  for (const KernelJob& job : split) bindings.push_back(BindingsOf(job, alignment));

  std::vector<uint8_t> slots(split.size() * kParamsSlot, 0);
  std::vector<std::pair<uint32_t, uint32_t>> grids;  // workgroups in x and y per job
  for (size_t i = 0; i < split.size(); ++i) {
    const KernelJob& job = split[i];
    const Binding& b = bindings[i];
    const Rows rows = RowsOf(job);
    Params p{};
    p.mode = job.zero ? 1 : 0;
    p.rank = rows.rank;
    p.element_size = job.element_size;
    p.row_bytes = static_cast<uint32_t>(rows.bytes);
    p.row_words = static_cast<uint32_t>(rows.words);
    p.count = static_cast<uint32_t>(rows.Invocations());
    p.dst_base = static_cast<uint32_t>(job.dst.offset - b.dst.offset);
    p.src_base = job.zero ? 0 : static_cast<uint32_t>(job.src.offset - b.src.offset);
    p.src_step = static_cast<uint32_t>(rows.src_step);
    const uint32_t groups = (p.count + kWorkgroupSize - 1) / kWorkgroupSize;
    const uint32_t columns = std::min(groups, limits.max_compute_workgroups_per_dimension);
    p.grid_row = columns * kWorkgroupSize;
    grids.emplace_back(columns, columns == 0 ? 0 : (groups + columns - 1) / columns);
    for (uint32_t d = 0; d < rows.rank; ++d) {
      p.shape[d] = static_cast<uint32_t>(job.shape[d]);
      p.dst_stride[d] = static_cast<uint32_t>(job.dst.strides[d]);
      p.src_stride[d] = static_cast<uint32_t>(job.src.strides[d]);
    }
    std::memcpy(&slots[i * kParamsSlot], &p, sizeof p);
  }
  wgpu::Buffer params = nullptr;
  DT_RETURN_IF_ERROR(
      list.TakeBuffer(slots.size(), wgpu::usage::kStorage | wgpu::usage::kCopyDst, &params));
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
