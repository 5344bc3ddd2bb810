#include "providers/webgpu/stream.h"

#include <mutex>
#include <utility>

#include "common/return_if_error.h"
#include "providers/webgpu/error_flags.h"
#include "providers/webgpu/schedule.h"

namespace devtensor::webgpu {
namespace {

// Runs `lists` now, as one schedule and one submit.
DtStatus* RunNow(Context& context, std::vector<const CommandList*> lists) {
  std::unique_ptr<Schedule> schedule;
  DT_RETURN_IF_ERROR(Schedule::Make(context, std::move(lists), &schedule));
  schedule->Run(0);
  return nullptr;
}

}  // namespace

DtStatus* Flush(Context& context, Stream& stream) {
  if (stream.queued.empty() && stream.unmapped.empty()) return nullptr;
  const wgpu::Api& api = context.api();
  DtStatus* status = RunNow(context, ListsOf(stream.queued));
  stream.queued.clear();  // submitted: their buffers may go back to the pools
  stream.open = nullptr;
  stream.queued_dispatches = 0;
  for (auto& download : stream.unmapped) {
    if (status != nullptr) {
      DropUnmapped(context, *download);
      continue;
    }
    StartMap(api, *download);
    stream.downloads.push_back(std::move(download));
  }
  stream.unmapped.clear();
  if (status != nullptr) return status;
  return context.TakeErrors();
}

DtStatus* FinishDownloads(Context& context, Stream& stream) {
  DtStatus* first = Flush(context, stream);
  for (auto& download : stream.downloads) {
    DtStatus* status = FinishDownload(context, *download);
    if (first == nullptr) {
      first = status;
    } else if (status != nullptr) {
      context.host()->ReleaseStatus(status);
    }
  }
  stream.downloads.clear();
  return first;
}

Stream::Stream(std::shared_ptr<Context> on) : context(std::move(on)) {
  std::lock_guard<std::recursive_mutex> lock(context->mutex());
  context->streams().push_back(this);
}

Stream::~Stream() {
  // Queued lists give their buffers back to the pools: under the context's lock.
  std::lock_guard<std::recursive_mutex> lock(context->mutex());
  std::erase(context->streams(), this);
  queued.clear();
  for (const auto& download : unmapped) DropUnmapped(*context, *download);
  unmapped.clear();
  downloads.clear();
  recording.reset();
}

DtStatus* Execute(Context& context, std::unique_ptr<CommandList> list,
                  std::shared_ptr<Download> download, Stream* stream) {
  if (stream != nullptr && stream->recording != nullptr) {
    if (download) {
      download->owned = false;  // the graph keeps the read-back buffer for every replay
      download->graph_context = stream->context;
      stream->recording->downloads.push_back(std::move(download));
    }
    stream->recording->lists.push_back(std::move(list));
    return nullptr;
  }
  if (stream != nullptr) {  // queued, submitted at the stream's next flush
    stream->queued_dispatches += list->dispatches();
    stream->queued.push_back(std::move(list));
    stream->open = nullptr;
    if (download) stream->unmapped.push_back(std::move(download));
    stream->has_work = true;
    // A long run of ops is submitted in parts, so that the GPU works while the host records.
    if (stream->queued_dispatches >= kDispatchesPerSubmit) return Flush(context, *stream);
    return nullptr;
  }
  const wgpu::Api& api = context.api();
  DtStatus* status = RunNow(context, {list.get()});
  list.reset();  // submitted: its buffers may go back to the pools
  if (status != nullptr) {
    if (download) DropUnmapped(context, *download);
    return status;
  }
  if (download) StartMap(api, *download);
  if (download) {
    DT_RETURN_IF_ERROR(FinishDownload(context, *download));
    return context.TakeErrors();
  }
  return context.WaitIdle();
}

DtStatus* QueueOnStream(Context& context, Stream& stream,
                        const std::function<DtStatus*(CommandList&)>& record) {
  if (stream.queued.empty() || stream.queued.back().get() != stream.open) {
    stream.queued.push_back(std::make_unique<CommandList>(context));
    stream.queued.back()->Reserve(kDispatchesPerSubmit);
    stream.open = stream.queued.back().get();
  }
  CommandList& list = *stream.queued.back();
  const CommandList::Mark mark = list.mark();
  DtStatus* status = nullptr;
  try {
    status = record(list);
  } catch (...) {  // out of host memory half way: nothing of this call stays queued
    list.RollBack(mark);
    throw;
  }
  if (status != nullptr) {
    list.RollBack(mark);
    return status;
  }
  stream.queued_dispatches += list.dispatches() - mark.dispatches;
  stream.has_work = true;
  if (stream.queued_dispatches >= kDispatchesPerSubmit) return Flush(context, stream);
  return nullptr;
}

DtStatus* SynchronizeStream(Stream& stream) {
  Context& context = *stream.context;
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  DtStatus* first = FinishDownloads(context, stream);
  if (stream.has_work) {
    stream.has_work = false;
    DtStatus* status = context.WaitIdle();
    if (first == nullptr) {
      first = status;
    } else if (status != nullptr) {
      context.host()->ReleaseStatus(status);
    }
  }
  if (stream.raises_flags) {
    stream.raises_flags = false;
    if (first == nullptr) first = CheckRaisedFlags(context);
  }
  return first;
}

}  // namespace devtensor::webgpu
