// A recorded list of GPU work: queue writes, buffer copies, clears and compute dispatches, with
// the buffers and bind groups they use. Executing a list encodes it into one command encoder;
// a list can be executed again (graph replay) because it keeps what it refers to. Buffers it owns
// go back to the context's pools when the list is destroyed, which happens only after its last
// execution was submitted.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_COMMAND_LIST_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_COMMAND_LIST_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

class CommandList {
 public:
  explicit CommandList(Context& context) : context_(context) {}
  ~CommandList();
  CommandList(const CommandList&) = delete;
  CommandList& operator=(const CommandList&) = delete;

  // A queue write of host memory, issued when the list executes, before its commands run. The
  // host memory is read at each execution; `copy` keeps a private copy instead (read once now).
  void Write(wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size, bool copy);
  // A queue write of a host tensor's elements, packed densely (and zero-padded to `size` bytes)
  // at each execution: for strided or odd-sized host data a graph reads at replay.
  void WritePacked(wgpu::Buffer buffer, uint64_t offset, const DtTensorRef& host, size_t size);
  void Copy(wgpu::Buffer src, uint64_t src_offset, wgpu::Buffer dst, uint64_t dst_offset,
            uint64_t size);
  void Clear(wgpu::Buffer buffer, uint64_t offset, uint64_t size);
  // Takes ownership of `group`.
  void Dispatch(wgpu::ComputePipeline pipeline, wgpu::BindGroup group, uint32_t x, uint32_t y);
  // A buffer from the context's pools that the list owns.
  DtStatus* TakeBuffer(uint64_t bytes, wgpu::Flags usage, wgpu::Buffer* buffer);
  // A copy of `bytes` (a multiple of 4) of a dispatch's parameters in the context's parameter
  // arena, kept for as long as the list: the buffer and the offset to bind them at.
  DtStatus* AddParameters(const void* data, size_t bytes, wgpu::Buffer* buffer, uint64_t* offset);

  bool empty() const { return commands_.empty() && writes_.empty(); }
  size_t dispatches() const { return dispatches_; }
  // The compute pass lists executed into one encoder leave open for the next one.
  struct Pass {
    wgpu::ComputePassEncoder encoder = nullptr;
    wgpu::ComputePipeline pipeline = nullptr;  // its current pipeline
  };
  // Issues the writes and records the commands into `encoder`: consecutive dispatches share one
  // compute pass, also across lists executed with the same `pass`, which EndPass closes.
  void Execute(wgpu::CommandEncoder encoder, Pass& pass) const;
  void Execute(wgpu::CommandEncoder encoder) const {
    Pass pass;
    Execute(encoder, pass);
    EndPass(context_.api(), pass);
  }
  static void EndPass(const wgpu::Api& api, Pass& pass);

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
  enum class Kind { kCopy, kClear, kDispatch };
  struct Command {
    Kind kind;
    wgpu::Buffer src, dst;
    uint64_t src_offset, dst_offset, size;
    wgpu::ComputePipeline pipeline;
    wgpu::BindGroup group;
    uint32_t x, y;
  };
  struct Owned {
    wgpu::Buffer buffer;
    uint64_t capacity;
    wgpu::Flags usage;
  };

  Context& context_;
  std::vector<std::shared_ptr<ParameterArena::Block>> parameter_blocks_;
  std::vector<Write_> writes_;
  std::vector<std::vector<uint8_t>> copies_;
  std::vector<Command> commands_;
  std::vector<Owned> owned_;
  size_t dispatches_ = 0;
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_COMMAND_LIST_H_
