#include "providers/webgpu/transfer.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "common/return_if_error.h"
#include "providers/webgpu/copy_plan.h"

namespace devtensor::webgpu {
namespace {

// Host bytes [begin, end) a CPU tensor's elements span.
std::pair<const uint8_t*, const uint8_t*> HostSpan(const DtTensorRef& t) {
  size_t last = 0;
  for (size_t i = 0; i < t.rank; ++i) {
    last += static_cast<size_t>(t.shape[i] - 1) * static_cast<size_t>(t.strides[i]);
  }
  const auto* begin = static_cast<const uint8_t*>(t.handle) + t.byte_offset;
  return {begin, begin + (last + 1) * t.element_size};
}

}  // namespace

DtStatus* CheckBatch(Context& context, const DtCopyPair* pairs, size_t count) {
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  DT_RETURN_IF_ERROR(context.CheckAlive());
  CopyPlan check(context, CopyPlan::When::kCheck);
  for (size_t i = 0; i < count; ++i) {
    DT_RETURN_IF_ERROR(check.Plan(pairs[i]));
  }
  return nullptr;
}

DtStatus* CopyBatch(Context& context, const DtCopyPair* pairs, size_t count, Stream* stream) {
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  DT_RETURN_IF_ERROR(context.CheckAlive());
  const bool recording = stream != nullptr && stream->recording != nullptr;
  // The host checked these pairs with CheckCopies (CheckBatch) before any of its groups ran, so
  // a pair refused below can only follow an earlier part of this very call.
  // Uploads read host memory (some while being planned); a download queued earlier on the stream
  // may be meant to fill it, so those land first.
  const bool reads_host = std::any_of(pairs, pairs + count, [](const DtCopyPair& pair) {
    return pair.src->device_type == DT_DEVICE_CPU;
  });
  if (!recording && reads_host && stream != nullptr &&
      (!stream->downloads.empty() || !stream->unmapped.empty())) {
    DT_RETURN_IF_ERROR(FinishDownloads(context, *stream));
  }
  // An upload reads host memory when it is planned; if an earlier download of this call writes
  // that memory, the work before it runs (and its downloads land) first.
  const CopyPlan::When when = recording           ? CopyPlan::When::kRecorded
                              : stream != nullptr ? CopyPlan::When::kQueued
                                                  : CopyPlan::When::kNow;
  auto batch = std::make_unique<CopyPlan>(context, when);
  std::vector<std::pair<const uint8_t*, const uint8_t*>> downloaded;
  for (size_t i = 0; i < count; ++i) {
    const DtTensorRef& src = *pairs[i].src;
    if (src.device_type == DT_DEVICE_CPU) {
      const auto span = HostSpan(src);
      const bool overlaps = std::any_of(downloaded.begin(), downloaded.end(), [&](const auto& d) {
        return span.first < d.second && d.first < span.second;
      });
      if (overlaps && recording) {
        return context.host()->CreateStatus(
            DT_NOT_SUPPORTED,
            "a graph cannot upload host memory that an earlier download of the same graph writes: "
            "downloads land when the stream is synchronised");
      }
      if (overlaps) {
        DT_RETURN_IF_ERROR(batch->Run(stream));
        if (stream != nullptr) {
          DT_RETURN_IF_ERROR(FinishDownloads(context, *stream));
        }
        batch = std::make_unique<CopyPlan>(context, when);
        downloaded.clear();
      }
    }
    DT_RETURN_IF_ERROR(batch->Plan(pairs[i]));
    if (pairs[i].dst->device_type == DT_DEVICE_CPU) downloaded.push_back(HostSpan(*pairs[i].dst));
  }
  return batch->Run(stream);
}

DtStatus* ZeroView(Context& context, const DtTensorRef& tensor, Stream* stream) {
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  DT_RETURN_IF_ERROR(context.CheckAlive());
  CopyPlan batch(context, stream == nullptr              ? CopyPlan::When::kNow
                          : stream->recording != nullptr ? CopyPlan::When::kRecorded
                                                         : CopyPlan::When::kQueued);
  DT_RETURN_IF_ERROR(batch.PlanZero(tensor));
  return batch.Run(stream);
}

}  // namespace devtensor::webgpu
