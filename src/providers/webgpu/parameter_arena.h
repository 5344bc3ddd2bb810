// Where dispatches keep their parameters: 64 KiB blocks from the context's pools, filled one
// dispatch after another and written to the GPU with one queue write per block and submit,
// instead of a buffer and a queue write per dispatch. A block goes back to the pools when the
// arena has moved past it and no command list that binds it is left (a graph keeps the blocks
// its dispatches read for as long as it lives).
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_PARAMETER_ARENA_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_PARAMETER_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/webgpu_api.h"

namespace devtensor::webgpu {

class Context;

class ParameterArena {
 public:
  // A block's buffer, recycled into its context's pools when the last holder lets go.
  class Block {
   public:
    Block(Context& context, wgpu::Buffer buffer, uint64_t capacity)
        : context_(context), buffer_(buffer), capacity_(capacity) {}
    ~Block();
    Block(const Block&) = delete;
    Block& operator=(const Block&) = delete;
    wgpu::Buffer buffer() const { return buffer_; }

   private:
    Context& context_;
    wgpu::Buffer buffer_;
    uint64_t capacity_;
  };

  static constexpr size_t kBlockBytes = 64 * 1024;
  static constexpr wgpu::Flags kUsage = wgpu::usage::kUniform | wgpu::usage::kCopyDst;

  explicit ParameterArena(Context& context) : context_(context) {}

  // Copies `bytes` (a multiple of 4, at most kBlockBytes) of parameters into the current block,
  // at an offset a uniform binding may start at. `block` keeps the block for the caller.
  DtStatus* Add(const void* data, size_t bytes, std::shared_ptr<Block>* block, uint64_t* offset);
  // Queues the write of everything added since the last call. Every submit calls it first.
  void Flush();
  // Lets go of the current block (the context is going).
  void Release();

 private:
  Context& context_;
  std::shared_ptr<Block> current_;
  std::vector<uint8_t> bytes_;  // the current block's contents
  size_t flushed_ = 0;          // bytes of it already written
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_PARAMETER_ARENA_H_
