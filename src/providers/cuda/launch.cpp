#include "providers/cuda/launch.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/return_if_error.h"
#include "providers/cuda/errors.h"
#include "providers/cuda/staging.h"
#include "providers/cuda/stream.h"

namespace devtensor::cuda {
namespace {

constexpr unsigned kThreads = 256;

// Enough blocks to fill the device a few times over; the kernels loop over the rest.
unsigned BlocksFor(const Device& device, unsigned long long count) {
  const unsigned long long wanted = (count + kThreads - 1) / kThreads;
  const unsigned long long most = static_cast<unsigned long long>(device.multiprocessors()) * 8;
  return static_cast<unsigned>(std::max(1ull, std::min(wanted, most)));
}

// `params` as cuLaunchKernel takes them: the address of each of the kernel's arguments.
DtStatus* LaunchShaped(WorkStream& work, const std::string& kernel, void** params, unsigned grid_x,
                       unsigned grid_y, unsigned threads) {
  Device& device = work.device();
  CUfunction function = nullptr;
  DT_RETURN_IF_ERROR(device.Kernel(kernel, &function));
  DT_CUDA_RETURN_IF_ERROR("launching " + kernel, device.api(), cuLaunchKernel, function, grid_x,
                          grid_y, 1, threads, 1, 1, 0, work.handle(), params, nullptr);
  return nullptr;
}

DtStatus* LaunchKernel(WorkStream& work, const std::string& kernel, void** params,
                       unsigned long long count) {
  return LaunchShaped(work, kernel, params, BlocksFor(work.device(), count), 1, kThreads);
}

DtStatus* LaunchOne(WorkStream& work, const KernelCall& call) {
  if (!call.kernel.empty()) {
    void* params[] = {const_cast<char*>(call.block.data())};
    return LaunchShaped(work, call.kernel, params, call.grid_x, call.grid_y, call.threads);
  }
  unsigned long long count = call.count;
  void* params[] = {const_cast<char*>(call.block.data()), &count};
  return LaunchKernel(work, "dtk_run<" + call.op + ">", params, count);
}

bool DependsOn(const KernelCall& later, const KernelCall& earlier) {
  auto any = [](const std::vector<Extent>& a, const std::vector<Extent>& b) {
    for (const Extent& x : a) {
      for (const Extent& y : b) {
        if (x.Overlaps(y)) return true;
      }
    }
    return false;
  };
  return any(later.reads, earlier.writes) || any(later.writes, earlier.reads) ||
         any(later.writes, earlier.writes);
}

// Calls of one op at one level: one launch over device memory holding their blocks (a recording
// keeps it for every replay; a stream's frees it after the launch).
DtStatus* LaunchMany(WorkStream& work, const std::vector<const KernelCall*>& calls) {
  Device& device = work.device();
  const size_t block_bytes = calls[0]->block.size();
  const size_t blocks_size = (block_bytes * calls.size() + 15) & ~size_t(15);
  std::vector<char> table(blocks_size + (calls.size() + 1) * sizeof(unsigned long long));
  auto* first = reinterpret_cast<unsigned long long*>(table.data() + blocks_size);
  first[0] = 0;
  for (size_t j = 0; j < calls.size(); ++j) {
    std::memcpy(table.data() + j * block_bytes, calls[j]->block.data(), block_bytes);
    first[j + 1] = first[j] + calls[j]->count;
  }
  CUdeviceptr memory = 0;
  DT_RETURN_IF_ERROR(work.Temporary(table.size(), &memory));
  if (work.recording() != nullptr) {
    // Uploaded once, outside the recording, by the device's own stream.
    std::lock_guard<std::mutex> lock(device.sync_mutex());
    DT_CUDA_RETURN_IF_ERROR("uploading recorded kernel arguments", device.api(), cuMemcpyAsync,
                            memory, reinterpret_cast<CUdeviceptr>(table.data()), table.size(),
                            device.sync_stream());
    DT_CUDA_RETURN_IF_ERROR("uploading recorded kernel arguments", device.api(),
                            cuStreamSynchronize, device.sync_stream());
  } else {
    // Ahead of the launch on the stream, from pinned staging memory: no wait on the host.
    Staging& staging = device.staging();
    std::lock_guard<std::recursive_mutex> lock(staging.mutex());
    char* pinned = nullptr;
    DT_RETURN_IF_ERROR(staging.Take(table.size(), &pinned));
    std::memcpy(pinned, table.data(), table.size());
    const CUresult r = device.api().cuMemcpyAsync(memory, reinterpret_cast<CUdeviceptr>(pinned),
                                                  table.size(), work.handle());
    DT_RETURN_IF_ERROR(staging.Give(pinned, work.handle()));
    if (r != kCudaSuccess) return CudaFail("uploading kernel arguments", "cuMemcpyAsync", r);
  }
  DtkMany many{reinterpret_cast<const void*>(memory),
               reinterpret_cast<const unsigned long long*>(memory + blocks_size),
               int(calls.size())};
  void* params[] = {&many};
  return LaunchKernel(work, "dtk_run_many<" + calls[0]->op + ">", params, first[calls.size()]);
}

}  // namespace

Extent ExtentOf(const DtTensorRef& t) {
  int64_t low = 0, high = 0;
  for (size_t d = 0; d < t.rank; ++d) {
    if (t.shape[d] == 0) return {};
    const int64_t reach = (t.shape[d] - 1) * t.strides[d];
    (reach < 0 ? low : high) += reach;
  }
  const auto zero = reinterpret_cast<uintptr_t>(ElementZero(t));
  const auto size = static_cast<int64_t>(t.element_size);
  return {zero + uintptr_t(low * size), zero + uintptr_t(high * size + size)};
}

unsigned long long CountOf(const int64_t* shape, size_t rank) {
  unsigned long long count = 1;
  for (size_t d = 0; d < rank; ++d) count *= static_cast<unsigned long long>(shape[d]);
  return count;
}

DtStatus* Launch(WorkStream& work, KernelCall call) {
  if (call.count == 0) return nullptr;
  std::vector<KernelCall>* held = work.held_calls();
  if (held == nullptr) return LaunchOne(work, call);
  // Compiled now, so that a kernel that cannot be made fails the call that needs it.
  CUfunction function = nullptr;
  DT_RETURN_IF_ERROR(work.device().Kernel(
      call.kernel.empty() ? "dtk_run<" + call.op + ">" : call.kernel, &function));
  held->push_back(std::move(call));
  return nullptr;
}

std::vector<std::vector<size_t>> ScheduleCalls(const std::vector<KernelCall>& calls) {
  // Level of a call: one more than the deepest call before it that it depends on. Calls of one
  // level are therefore independent of each other.
  std::vector<size_t> level(calls.size(), 0);
  size_t levels = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (level[j] + 1 > level[i] && DependsOn(calls[i], calls[j])) level[i] = level[j] + 1;
    }
    levels = std::max(levels, level[i] + 1);
  }
  std::vector<std::vector<size_t>> launches;
  for (size_t l = 0; l < levels; ++l) {
    std::map<std::string, size_t> group_of_op;  // op -> its group in `launches`, for this level
    for (size_t i = 0; i < calls.size(); ++i) {
      if (level[i] != l) continue;
      if (!calls[i].kernel.empty()) {  // a kernel of its own launch shape goes alone
        launches.push_back({i});
        continue;
      }
      auto [found, added] = group_of_op.emplace(calls[i].op, launches.size());
      if (added) launches.emplace_back();
      launches[found->second].push_back(i);
    }
  }
  return launches;
}

DtStatus* FlushHeldCalls(WorkStream& work) {
  std::vector<KernelCall>* held = work.held_calls();
  if (held == nullptr || held->empty()) return nullptr;
  std::vector<KernelCall> calls = std::move(*held);
  held->clear();
  DtStatus* status = nullptr;
  for (const std::vector<size_t>& launch : ScheduleCalls(calls)) {
    if (launch.size() == 1) {
      status = LaunchOne(work, calls[launch[0]]);
    } else {
      std::vector<const KernelCall*> group;
      for (size_t i : launch) group.push_back(&calls[i]);
      status = LaunchMany(work, group);
    }
    if (status != nullptr) break;
  }
  work.ReleaseHeldTemporaries();
  return status;
}

}  // namespace devtensor::cuda
