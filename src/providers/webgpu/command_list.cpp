#include "providers/webgpu/command_list.h"

#include <cstring>

#include "common/return_if_error.h"
#include "host_memory/strided_copy.h"
#include "layout/layout.h"

namespace devtensor::webgpu {

CommandList::~CommandList() {
  const wgpu::Api& api = context_.api();
  for (const Command& command : commands_) {
    if (command.group != nullptr) api.BindGroupRelease(command.group);
  }
  for (const Owned& owned : owned_) context_.Recycle(owned.buffer, owned.capacity, owned.usage);
}

void CommandList::Write(wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size,
                        bool copy) {
  size_t index = SIZE_MAX;
  if (copy) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    copies_.emplace_back(bytes, bytes + size);
    index = copies_.size() - 1;
  }
  Write_ write;
  write.buffer = buffer;
  write.offset = offset;
  write.data = data;
  write.size = size;
  write.copy_index = index;
  writes_.push_back(std::move(write));
}

void CommandList::WritePacked(wgpu::Buffer buffer, uint64_t offset, const DtTensorRef& host,
                              size_t size) {
  Write_ write;
  write.buffer = buffer;
  write.offset = offset;
  write.data = static_cast<const uint8_t*>(host.handle) + host.byte_offset;
  write.size = size;
  write.element_size = host.element_size;
  write.shape.assign(host.shape, host.shape + host.rank);
  write.strides.assign(host.strides, host.strides + host.rank);
  writes_.push_back(std::move(write));
}

void CommandList::Copy(wgpu::Buffer src, uint64_t src_offset, wgpu::Buffer dst,
                       uint64_t dst_offset, uint64_t size) {
  commands_.push_back({Kind::kCopy, src, dst, src_offset, dst_offset, size, nullptr, nullptr, 0, 0, 0});
}

void CommandList::Clear(wgpu::Buffer buffer, uint64_t offset, uint64_t size) {
  commands_.push_back({Kind::kClear, nullptr, buffer, 0, offset, size, nullptr, nullptr, 0, 0, 0});
}

void CommandList::Dispatch(wgpu::ComputePipeline pipeline, wgpu::BindGroup group, uint32_t x,
                           uint32_t y) {
  commands_.push_back({Kind::kDispatch, nullptr, nullptr, 0, 0, 0, pipeline, group, x, y, 0});
  ++dispatches_;
}

OpDispatch& CommandList::AddOp() {
  ops_.emplace_back();  // first: a command never names an op that is not there
  commands_.push_back({Kind::kOp, nullptr, nullptr, 0, 0, 0, nullptr, nullptr, 0, 0, ops_.size() - 1});
  ++dispatches_;
  return ops_.back();
}

CommandList::Mark CommandList::mark() const {
  return {writes_.size(), copies_.size(), commands_.size(), ops_.size(), owned_.size(), dispatches_};
}

void CommandList::RollBack(const Mark& mark) {
  const wgpu::Api& api = context_.api();
  for (size_t i = mark.commands; i < commands_.size(); ++i) {
    if (commands_[i].group != nullptr) api.BindGroupRelease(commands_[i].group);
  }
  for (size_t i = mark.owned; i < owned_.size(); ++i) {
    context_.Recycle(owned_[i].buffer, owned_[i].capacity, owned_[i].usage);
  }
  writes_.resize(mark.writes);
  copies_.resize(mark.copies);
  commands_.resize(mark.commands);
  ops_.resize(mark.ops);
  owned_.resize(mark.owned);
  dispatches_ = mark.dispatches;
}

DtStatus* CommandList::TakeBuffer(uint64_t bytes, wgpu::Flags usage, wgpu::Buffer* buffer) {
  uint64_t capacity = 0;
  DT_RETURN_IF_ERROR(context_.TakeBuffer(bytes, usage, buffer, &capacity));
  owned_.push_back({*buffer, capacity, usage});
  return nullptr;
}

void CommandList::IssueWrites() const {
  const wgpu::Api& api = context_.api();
  std::vector<uint8_t> packed;
  for (const Write_& write : writes_) {
    const void* data = write.copy_index == SIZE_MAX ? write.data : copies_[write.copy_index].data();
    if (write.element_size != 0) {
      packed.assign(write.size, 0);
      std::vector<int64_t> dense(write.shape.size());
      ContiguousStrides(write.shape.data(), write.shape.size(), dense.data());
      CopyStrided(write.data, write.strides.data(), packed.data(), dense.data(), write.shape.data(),
                  write.shape.size(), write.element_size);
      data = packed.data();
    }
    api.QueueWriteBuffer(context_.queue(), write.buffer, write.offset, data, write.size);
  }
}

std::vector<const CommandList*> ListsOf(const std::vector<std::unique_ptr<CommandList>>& owned) {
  std::vector<const CommandList*> lists;
  lists.reserve(owned.size());
  for (const auto& list : owned) lists.push_back(list.get());
  return lists;
}

}  // namespace devtensor::webgpu
