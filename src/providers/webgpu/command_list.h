// A recorded list of GPU work: queue writes, buffer copies, clears and compute dispatches, with
// the buffers and bind groups they use. A list runs through a Schedule (schedule.h), which orders
// and binds the commands of one or more lists; a list can run again (graph replay) because it
// keeps what it refers to. Buffers it owns go back to the context's pools when the list is
// destroyed, which happens only after its last execution was submitted.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_COMMAND_LIST_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_COMMAND_LIST_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/context.h"
#include "providers/webgpu/op_dispatch.h"

namespace devtensor::webgpu {

class CommandList {
 public:
  // An empty list of work on `context`'s device.
  explicit CommandList(Context& context) : context_(context) {}
  // Releases the bind groups of its dispatches and gives its buffers back to the pools.
  ~CommandList();
  CommandList(const CommandList&) = delete;
  CommandList& operator=(const CommandList&) = delete;

  // A queue write of host memory, issued when the list executes, before its commands run. The
  // host memory is read at each execution; `copy` keeps a private copy instead (read once now).
  void Write(wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size, bool copy);
  // A queue write of a host tensor's elements, packed densely (and zero-padded to `size` bytes)
  // at each execution: for strided or odd-sized host data a graph reads at replay.
  void WritePacked(wgpu::Buffer buffer, uint64_t offset, const DtTensorRef& host, size_t size);
  // A copy of `size` bytes between buffers (copyBufferToBuffer).
  void Copy(wgpu::Buffer src, uint64_t src_offset, wgpu::Buffer dst, uint64_t dst_offset,
            uint64_t size);
  // Zeroes `size` bytes of `buffer` at `offset` (clearBuffer).
  void Clear(wgpu::Buffer buffer, uint64_t offset, uint64_t size);
  // A dispatch bound by its maker; takes ownership of `group`. What it reads and writes is not
  // known to the list, so a schedule runs it after everything before it and before everything
  // after it.
  void Dispatch(wgpu::ComputePipeline pipeline, wgpu::BindGroup group, uint32_t x, uint32_t y);
  // An op kernel's dispatch, bound by the schedule (alone or batched): the record to fill in.
  OpDispatch& AddOp();
  // A buffer from the context's pools that the list owns.
  DtStatus* TakeBuffer(uint64_t bytes, wgpu::Flags usage, wgpu::Buffer* buffer);

  // How many dispatches the list holds, bound ones and op ones.
  size_t dispatches() const { return dispatches_; }
  // True when the list holds no command and no queue write: executing it does nothing.
  bool empty() const { return commands_.empty() && writes_.empty(); }
  // Room for `commands` commands and as many op dispatches.
  void Reserve(size_t commands) {
    commands_.reserve(commands);
    ops_.reserve(commands);
  }

  // What the list holds at one moment, to take back what was recorded after it (an op whose
  // recording failed half way).
  struct Mark {
    size_t writes, copies, commands, ops, owned, dispatches;
  };
  // What the list holds now.
  Mark mark() const;
  // Takes back everything recorded after `mark`, releasing what it holds.
  void RollBack(const Mark& mark);

  enum class Kind { kCopy, kClear, kDispatch, kOp };
  struct Command {
    Kind kind;
    wgpu::Buffer src, dst;  // copy (src, dst), clear (dst)
    uint64_t src_offset, dst_offset, size;
    wgpu::ComputePipeline pipeline;  // bound dispatch
    wgpu::BindGroup group;
    uint32_t x, y;
    size_t op;  // kOp: index into ops()
  };
  // The commands in the order recorded.
  const std::vector<Command>& commands() const { return commands_; }
  // The op dispatches the kOp commands name.
  const std::vector<OpDispatch>& ops() const { return ops_; }
  // Issues the list's queue writes (packing host tensors that need it).
  void IssueWrites() const;

 private:
  struct Write_ {
    wgpu::Buffer buffer = nullptr;
    uint64_t offset = 0;
    const void* data = nullptr;
    size_t size = 0;
    size_t copy_index = SIZE_MAX;  // into copies_ when the list holds its own copy
    // Set for WritePacked: the host tensor's layout (element 0 at `data`).
    size_t element_size = 0;
    std::vector<int64_t> shape, strides;
  };
  struct Owned {
    wgpu::Buffer buffer;
    uint64_t capacity;
    wgpu::Flags usage;
  };

  Context& context_;
  std::vector<Write_> writes_;
  std::vector<std::vector<uint8_t>> copies_;
  std::vector<Command> commands_;
  std::vector<OpDispatch> ops_;
  std::vector<Owned> owned_;
  size_t dispatches_ = 0;
};

// The lists of `owned` (a stream's queued lists, a graph's recorded ones), in order: what a
// schedule takes.
std::vector<const CommandList*> ListsOf(const std::vector<std::unique_ptr<CommandList>>& owned);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_COMMAND_LIST_H_
