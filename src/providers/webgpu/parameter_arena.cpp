#include "providers/webgpu/parameter_arena.h"

#include <algorithm>
#include <cstring>

#include "common/return_if_error.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

ParameterArena::Block::~Block() { context_.Recycle(buffer_, capacity_, kUsage); }

DtStatus* ParameterArena::Add(const void* data, size_t bytes, std::shared_ptr<Block>* block,
                              uint64_t* offset) {
  const size_t alignment = std::max<size_t>(context_.limits().min_uniform_buffer_offset_alignment, 4);
  size_t at = (bytes_.size() + alignment - 1) / alignment * alignment;
  if (current_ == nullptr || at + bytes > kBlockBytes) {
    Flush();
    wgpu::Buffer buffer = nullptr;
    uint64_t capacity = 0;
    DT_RETURN_IF_ERROR(context_.TakeBuffer(kBlockBytes, kUsage, &buffer, &capacity));
    current_ = std::make_shared<Block>(context_, buffer, capacity);
    bytes_.clear();
    bytes_.reserve(kBlockBytes);
    flushed_ = 0;
    at = 0;
  }
  bytes_.resize(at);  // the gap up to an aligned offset (at most the alignment)
  const auto* first = static_cast<const uint8_t*>(data);
  bytes_.insert(bytes_.end(), first, first + bytes);
  *block = current_;
  *offset = at;
  return nullptr;
}

void ParameterArena::Flush() {
  if (current_ == nullptr || flushed_ == bytes_.size()) return;
  // From a word boundary: the gap before an aligned offset holds nothing anyone reads.
  const size_t from = flushed_ & ~size_t(3);
  context_.api().QueueWriteBuffer(context_.queue(), current_->buffer(), from, bytes_.data() + from,
                                  bytes_.size() - from);
  flushed_ = bytes_.size();
}

void ParameterArena::Release() {
  current_.reset();
  bytes_.clear();
  flushed_ = 0;
}

}  // namespace devtensor::webgpu
