// Downloads: a list's commands copy device bytes, packed, into a read-back buffer; once that work
// is submitted the buffer is mapped, and its bytes are copied out to their host targets (strided
// as the targets are). The downloads of one batch share one read-back buffer, mapped once; a
// graph keeps its read-back buffers for every replay.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_DOWNLOAD_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_DOWNLOAD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/webgpu/context.h"

namespace devtensor::webgpu {

// A host destination of a download that completes later, with its own copy of shape and strides.
struct HostTarget {
  uint8_t* data;  // element [0, ..., 0]
  size_t element_size;
  size_t rank;
  int64_t shape[DT_MAX_RANK];
  int64_t strides[DT_MAX_RANK];
  uint64_t readback_offset;  // where its packed bytes start in the read-back buffer
};

// Downloads into one read-back buffer: its host targets and where their bytes are.
struct Download {
  wgpu::Buffer readback = nullptr;
  uint64_t capacity = 0;
  uint64_t bytes = 0;
  std::vector<HostTarget> targets;
  bool owned = true;  // recycled when done; a graph's read-back buffer stays with the graph
  wgpu::Future map{};
  uint32_t map_status = 0;
  bool pending = false;  // mapped (or being mapped) and not yet copied out
  std::shared_ptr<Context> graph_context;  // set for a graph's: releases its buffer at the end
  // Releases a graph's read-back buffer, under its context's lock.
  ~Download();
};

// Starts mapping a download's read-back buffer, once the work that fills it was submitted.
void StartMap(const wgpu::Api& api, Download& download);

// A download whose work was never submitted: its read-back buffer goes back unused.
void DropUnmapped(Context& context, Download& download);

// Copies a mapped read-back buffer out to its host targets, unmaps it and pools it (unless a graph
// owns it); does nothing for a download finished already.
DtStatus* FinishDownload(Context& context, Download& download);

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_DOWNLOAD_H_
