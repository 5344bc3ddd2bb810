#include "providers/webgpu/download.h"

#include <mutex>

#include "host_memory/strided_copy.h"
#include "layout/layout.h"

namespace devtensor::webgpu {
namespace {

void OnMapped(uint32_t status, wgpu::StringView, void* userdata, void*) {
  static_cast<Download*>(userdata)->map_status = status;
}

}  // namespace

Download::~Download() {
  if (graph_context != nullptr && readback != nullptr) {
    std::lock_guard<std::recursive_mutex> lock(graph_context->mutex());
    graph_context->api().BufferRelease(readback);
  }
}

void StartMap(const wgpu::Api& api, Download& download) {
  download.map_status = 0;
  download.pending = true;
  wgpu::BufferMapCallbackInfo info{nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnMapped,
                                   &download, nullptr};
  download.map = api.BufferMapAsync(download.readback, wgpu::map_mode::kRead, 0, download.bytes,
                                    info);
}

void DropUnmapped(Context& context, Download& download) {
  if (!download.owned) return;
  context.Recycle(download.readback, download.capacity, wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
  download.readback = nullptr;
}

DtStatus* FinishDownload(Context& context, Download& download) {
  if (!download.pending) return nullptr;  // finished already (a graph's, by another stream)
  download.pending = false;
  DtStatus* status = context.Wait(download.map, "a read-back mapping");
  const wgpu::Api& api = context.api();
  if (status == nullptr && download.map_status != wgpu::kRequestSuccess) {
    status = context.TakeErrors();
    if (status == nullptr) {
      status = context.host()->CreateStatus(DT_DEVICE_LOST, "mapping a WebGPU read-back buffer failed");
    }
  }
  if (status == nullptr) {
    const auto* mapped = static_cast<const uint8_t*>(
        api.BufferGetConstMappedRange(download.readback, 0, download.bytes));
    for (const HostTarget& target : download.targets) {
      int64_t packed[DT_MAX_RANK];
      ContiguousStrides(target.shape, target.rank, packed);
      CopyStrided(mapped + target.readback_offset, packed, target.data, target.strides,
                  target.shape, target.rank, target.element_size);
    }
    api.BufferUnmap(download.readback);
    if (download.owned) {
      context.Recycle(download.readback, download.capacity,
                      wgpu::usage::kMapRead | wgpu::usage::kCopyDst);
    }
  } else if (download.owned) {
    api.BufferRelease(download.readback);
  }
  if (download.owned) download.readback = nullptr;
  return status;
}

}  // namespace devtensor::webgpu
