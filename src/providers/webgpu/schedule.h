// How recorded command lists run: in an order that keeps every dependency between their
// commands, with the independent dispatches of one op kernel family bound as one dispatch.
//
// Every command goes one level after the latest earlier command it depends on: one of the two
// writes bytes the other reads or writes (ops that only raise error flags do not depend on each
// other through them), and a dispatch bound by its maker (whose bindings are not known here)
// depends on everything before and after it. Commands of one level are independent, so each level
// runs its copies and clears, then its dispatches, with the op dispatches of each batchable family
// batched as far as the device's limits allow (OpBatch). A decode step's per-layer ops thus run
// as a few dispatches instead of one per op: each dispatch costs the host a few microseconds in
// Dawn and the GPU a barrier.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_SCHEDULE_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_SCHEDULE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

// Bytes a command reads or writes.
struct Access {
  enum Mode { kRead, kWrite, kFlag };  // kFlag: only ORs bits in (the device's error flags)
  wgpu::Buffer buffer;
  uint64_t begin, end;
  Mode mode;
};

// Whether two accesses must keep their order: they overlap, and are not both reads nor both
// flag raises.
bool Conflict(const Access& a, const Access& b);

// What `command` reads and writes (an op dispatch's from its record in `ops`, its list's ops());
// false for a dispatch bound by its maker, whose accesses are not known.
bool AccessesOf(const CommandList::Command& command, const std::vector<OpDispatch>& ops,
                std::vector<Access>* out);

// Places commands, in the order they were recorded, into levels: each one level after the latest
// earlier command it conflicts with, and a command whose accesses are not known after everything
// before it and before everything after it. Commands of one level are independent.
class LevelPlacer {
 public:
  // The level of the next command, whose reads and writes are `accesses`.
  size_t Place(const std::vector<Access>& accesses);
  // The level of the next command when its accesses are not known: a level of its own after all.
  size_t PlaceAlone();
  // How many levels the commands placed so far take.
  size_t levels() const { return levels_; }

 private:
  static constexpr size_t kNone = SIZE_MAX;
  struct Entry {
    Access access;
    size_t level;
    size_t previous;  // the buffer's access before this one
  };
  // The first level at which `access` may run: after every earlier access it conflicts with.
  size_t LevelAfter(const Access& access) const;
  // Remembers `access`, made at `level`.
  void Add(const Access& access, size_t level);
  // The index of the latest access to `buffer`, or kNone.
  size_t Last(wgpu::Buffer buffer) const;

  // The accesses of the commands placed so far, with their levels, chained by buffer.
  std::vector<std::pair<wgpu::Buffer, size_t>> buffers_;  // and the index of its last access
  std::vector<Entry> entries_;
  size_t levels_ = 0;
  size_t floor_ = 0;  // the level after the last command placed alone
};

class Schedule {
 public:
  // Orders and binds the commands of `lists`, recorded in this order. The lists must outlive the
  // schedule. Lists without op dispatches (a copy's), and all lists while the context's batching
  // is off, keep every command in its place, each op dispatched alone. The caller holds the
  // context's mutex.
  static DtStatus* Make(Context& context, std::vector<const CommandList*> lists,
                        std::unique_ptr<Schedule>* out);
  // Releases the bind groups the schedule made.
  ~Schedule();
  Schedule(const Schedule&) = delete;
  Schedule& operator=(const Schedule&) = delete;

  // Issues the lists' queue writes, then encodes the commands and submits them in parts of 4, 8,
  // 16, ... dispatches up to `part` (0: one submit), so that the GPU starts on a long schedule
  // while the host encodes the rest. The caller holds the context's mutex.
  void Run(size_t part) const;

  // Dispatches the schedule encodes (op dispatches batched count once per batch).
  size_t dispatches() const { return dispatches_; }

 private:
  struct Step {
    CommandList::Kind kind;  // kCopy, kClear or kDispatch
    wgpu::Buffer src, dst;
    uint64_t src_offset, dst_offset, size;
    BoundDispatch dispatch;
  };

  explicit Schedule(Context& context) : context_(context) {}

  Context& context_;
  std::vector<const CommandList*> lists_;
  std::vector<Step> steps_;
  std::vector<wgpu::BindGroup> groups_;  // made here, released with the schedule
  std::vector<std::shared_ptr<ParameterArena::Block>> blocks_;
  size_t dispatches_ = 0;
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_SCHEDULE_H_
