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

#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/command_list.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

class Schedule {
 public:
  // Orders and binds the commands of `lists`, recorded in this order. The lists must outlive the
  // schedule. Lists without op dispatches (a copy's), and all lists while the context's batching
  // is off, keep every command in its place, each op dispatched alone. The caller holds the
  // context's mutex.
  static DtStatus* Make(Context& context, std::vector<const CommandList*> lists,
                        std::unique_ptr<Schedule>* out);
  ~Schedule();
  Schedule(const Schedule&) = delete;
  Schedule& operator=(const Schedule&) = delete;

  // Issues the lists' queue writes, then encodes the commands and submits them in parts of 4, 8,
  // 16, ... dispatches up to `part` (0: one submit), so that the GPU starts on a long schedule
  // while the host encodes the rest. The caller holds the context's mutex.
  void Run(size_t part) const;

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
