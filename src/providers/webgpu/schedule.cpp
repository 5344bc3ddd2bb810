#include "providers/webgpu/schedule.h"

#include <algorithm>
#include <utility>

#include "common/return_if_error.h"

namespace devtensor::webgpu {
namespace {

using Command = CommandList::Command;

constexpr size_t kFirstPart = 4;  // dispatches
using Kind = CommandList::Kind;

}  // namespace

bool Conflict(const Access& a, const Access& b) {
  if (a.buffer != b.buffer || a.begin >= b.end || b.begin >= a.end) return false;
  return a.mode == Access::kWrite || a.mode != b.mode;
}

bool AccessesOf(const Command& command, const std::vector<OpDispatch>& ops,
                std::vector<Access>* out) {
  out->clear();
  switch (command.kind) {
    case Kind::kCopy:
      out->push_back({command.src, command.src_offset, command.src_offset + command.size, Access::kRead});
      out->push_back({command.dst, command.dst_offset, command.dst_offset + command.size, Access::kWrite});
      return true;
    case Kind::kClear:
      out->push_back({command.dst, command.dst_offset, command.dst_offset + command.size, Access::kWrite});
      return true;
    case Kind::kDispatch:
      return false;
    case Kind::kOp: {
      const OpDispatch& op = ops[command.op];
      const KernelFamily& family = *op.family;
      out->push_back({op.roles[0].buffer, op.roles[0].begin, op.roles[0].end, Access::kWrite});
      for (uint32_t role = 1; role <= family.inputs; ++role) {
        const RoleWindow& input = op.roles[role];
        out->push_back({input.buffer, input.begin, input.end, Access::kRead});
      }
      if (family.uses_flags) out->push_back({op.flags, 0, 16, Access::kFlag});
      return true;
    }
  }
  return false;
}

size_t LevelPlacer::Place(const std::vector<Access>& accesses) {
  size_t level = floor_;
  for (const Access& access : accesses) level = std::max(level, LevelAfter(access));
  for (const Access& access : accesses) Add(access, level);
  levels_ = std::max(levels_, level + 1);
  return level;
}

size_t LevelPlacer::PlaceAlone() {
  const size_t level = levels_;
  floor_ = level + 1;
  levels_ = level + 1;
  return level;
}

size_t LevelPlacer::LevelAfter(const Access& access) const {
  size_t level = 0;
  for (size_t i = Last(access.buffer); i != kNone; i = entries_[i].previous) {
    if (entries_[i].level >= level && Conflict(access, entries_[i].access)) level = entries_[i].level + 1;
  }
  return level;
}

void LevelPlacer::Add(const Access& access, size_t level) {
  size_t b = 0;
  while (b < buffers_.size() && buffers_[b].first != access.buffer) ++b;
  if (b == buffers_.size()) buffers_.emplace_back(access.buffer, kNone);
  entries_.push_back({access, level, buffers_[b].second});
  buffers_[b].second = entries_.size() - 1;
}

size_t LevelPlacer::Last(wgpu::Buffer buffer) const {
  for (const auto& [b, last] : buffers_) {
    if (b == buffer) return last;
  }
  return kNone;
}

DtStatus* Schedule::Make(Context& context, std::vector<const CommandList*> lists,
                         std::unique_ptr<Schedule>* out) {
  std::unique_ptr<Schedule> schedule(new Schedule(context));
  // Each command's level.
  struct Placed {
    const CommandList* list;
    const Command* command;
    size_t level;
  };
  std::vector<Placed> placed;
  LevelPlacer placer;
  std::vector<Access> accesses;
  // With no op to batch (a copy's lists, say) or batching off, commands keep their order: each
  // is placed alone, one command a level, with nothing to compare.
  const bool reorder = context.batching() &&
                       std::any_of(lists.begin(), lists.end(), [](const CommandList* list) {
                         return !list->ops().empty();
                       });
  for (const CommandList* list : lists) {
    for (const Command& command : list->commands()) {
      const size_t level = reorder && AccessesOf(command, list->ops(), &accesses)
                               ? placer.Place(accesses)
                               : placer.PlaceAlone();
      placed.push_back({list, &command, level});
    }
  }
  std::vector<std::vector<const Placed*>> by_level(placer.levels());
  for (const Placed& p : placed) by_level[p.level].push_back(&p);

  for (const auto& level : by_level) {
    // Copies and clears first: they end the compute pass the dispatches share.
    for (const Placed* p : level) {
      const Command& c = *p->command;
      if (c.kind == Kind::kCopy || c.kind == Kind::kClear) {
        schedule->steps_.push_back({c.kind, c.src, c.dst, c.src_offset, c.dst_offset, c.size, {}});
      }
    }
    // Then the dispatches, in the order their first op was recorded: bound ones as they are, op
    // dispatches into a batch of their family.
    struct Entry {
      const Command* bound;  // or null: batches[batch]
      size_t batch;
    };
    std::vector<Entry> entries;
    std::vector<OpBatch> batches;
    std::vector<std::pair<const KernelFamily*, size_t>> open;  // family -> its latest batch
    for (const Placed* p : level) {
      const Command& c = *p->command;
      if (c.kind == Kind::kDispatch) entries.push_back({&c, 0});
      if (c.kind != Kind::kOp) continue;
      const OpDispatch& op = p->list->ops()[c.op];
      auto latest = std::find_if(open.begin(), open.end(), [&](const auto& f) { return f.first == op.family; });
      if (latest != open.end() && batches[latest->second].Add(op)) continue;
      batches.emplace_back(context);
      batches.back().Add(op);
      entries.push_back({nullptr, batches.size() - 1});
      if (latest != open.end()) {
        latest->second = batches.size() - 1;
      } else {
        open.emplace_back(op.family, batches.size() - 1);
      }
    }
    std::vector<BoundDispatch> bound;
    for (const Entry& entry : entries) {
      bound.clear();
      if (entry.bound != nullptr) {
        bound.push_back({entry.bound->pipeline, entry.bound->group, entry.bound->x, entry.bound->y});
      } else {
        DT_RETURN_IF_ERROR(batches[entry.batch].Bind(context, schedule->blocks_, &bound));
        for (const BoundDispatch& d : bound) {
          if (d.group != nullptr) schedule->groups_.push_back(d.group);
        }
      }
      for (const BoundDispatch& d : bound) {
        schedule->steps_.push_back({Kind::kDispatch, nullptr, nullptr, 0, 0, 0, d});
        ++schedule->dispatches_;
      }
    }
  }
  // Errors Dawn raised (a bind group it refused) are reported when the schedule runs, with the
  // rest of its work.
  schedule->lists_ = std::move(lists);
  *out = std::move(schedule);
  return nullptr;
}

Schedule::~Schedule() {
  for (wgpu::BindGroup group : groups_) context_.api().BindGroupRelease(group);
}

void Schedule::Run(size_t part) const {
  const wgpu::Api& api = context_.api();
  for (const CommandList* list : lists_) list->IssueWrites();
  wgpu::CommandEncoder encoder = api.DeviceCreateCommandEncoder(context_.device(), nullptr);
  wgpu::ComputePassEncoder pass = nullptr;
  wgpu::ComputePipeline pipeline = nullptr;
  auto end_pass = [&] {
    if (pass == nullptr) return;
    api.ComputePassEncoderEnd(pass);
    api.ComputePassEncoderRelease(pass);
    pass = nullptr;
    pipeline = nullptr;
  };
  // The first part is small, so that the GPU starts early; each next one twice the last, up to
  // `part`, while the GPU works on those before.
  size_t in_part = 0, limit = std::min(part, kFirstPart);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    if (step.kind == Kind::kCopy) {
      end_pass();
      api.CommandEncoderCopyBufferToBuffer(encoder, step.src, step.src_offset, step.dst,
                                           step.dst_offset, step.size);
      continue;
    }
    if (step.kind == Kind::kClear) {
      end_pass();
      api.CommandEncoderClearBuffer(encoder, step.dst, step.dst_offset, step.size);
      continue;
    }
    if (pass == nullptr) pass = api.CommandEncoderBeginComputePass(encoder, nullptr);
    if (step.dispatch.pipeline != pipeline) {
      pipeline = step.dispatch.pipeline;
      api.ComputePassEncoderSetPipeline(pass, pipeline);
    }
    api.ComputePassEncoderSetBindGroup(pass, 0, step.dispatch.group, 0, nullptr);
    api.ComputePassEncoderDispatchWorkgroups(pass, step.dispatch.x, step.dispatch.y, 1);
    if (part != 0 && ++in_part >= limit && i + 1 < steps_.size()) {
      end_pass();
      context_.Submit(encoder);
      encoder = api.DeviceCreateCommandEncoder(context_.device(), nullptr);
      in_part = 0;
      limit = std::min(limit * 2, part);
    }
  }
  end_pass();
  context_.Submit(encoder);  // also with no commands: it flushes the queue's writes
}

}  // namespace devtensor::webgpu
