// Large copies between host memory and the GPU go through imports of the host pages (the GPU
// reads and writes them in place). These tests check what a user relies on with that path: the
// copy is exact (bytes beside the view, in the same pages, keep their values), an import reused
// for the same host tensor sees the tensor's current contents, memory freed and mapped again at
// the same address is never reached through a stale import, and pages the driver will not import
// still copy correctly.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "test_util.h"
#include "webgpu_util.h"

namespace devtensor_test {
namespace {

using devtensor::Tensor;



class WebGpuHostImport : public WebGpuDawnTest {
 public:
  // Anonymous pages of `bytes` at `where` (any address when null); null when the address is taken.
  static uint8_t* MapPages(size_t bytes, void* where = nullptr) {
    const int fixed = where != nullptr ? MAP_FIXED_NOREPLACE : 0;
    void* p = mmap(where, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
    if (p == MAP_FAILED || (where != nullptr && p != where)) return nullptr;
    return static_cast<uint8_t*>(p);
  }

  // A device tensor's bytes, written and read through Dawn directly.
  void SetGpuBytes(const Tensor& device_tensor, const std::vector<uint8_t>& bytes) const {
    dawn.Write(static_cast<wgpu::Buffer>(device_tensor.buffer().handle), 0, bytes);
  }
  std::vector<uint8_t> GpuBytes(const Tensor& device_tensor) const {
    return dawn.Read(static_cast<wgpu::Buffer>(device_tensor.buffer().handle), 0,
                     device_tensor.element_count());
  }

  // `bytes` with kGuard sentinel bytes before and after.
  static std::vector<uint8_t> Guarded(const std::vector<uint8_t>& bytes) {
    std::vector<uint8_t> out = Sentinels(kGuard);
    out.insert(out.end(), bytes.begin(), bytes.end());
    out.resize(out.size() + kGuard, kSentinel);
    return out;
  }

  // Guard bytes around destinations: a multiple of 4 (the import path needs word alignment) that
  // is not a multiple of 16.
  static constexpr size_t kGuard = 1028;
};

// Where the runtime offers host imports, devtensor's device has them on (unless turned off), so
// the large copies below take that path.
TEST_F(WebGpuHostImport, DeviceHasTheFeatureUnlessTurnedOff) {
  const char* setting = std::getenv("DEVTENSOR_WEBGPU_HOST_IMPORT");
  const bool off = setting != nullptr && std::strcmp(setting, "0") == 0;
  EXPECT_EQ(dawn.api().DeviceHasFeature(dawn.device(), wgpu::feature::kHostMappedPointer) != 0, !off);
}

// Views at random word-aligned places inside one host buffer, up and down, the host buffer reused
// (so its import is too) with new contents every round; every byte outside the views keeps its
// sentinel value, in the host buffer and on the GPU.
TEST_F(WebGpuHostImport, ReusedHostTensorCopiesItsCurrentBytesExactly) {
  SCOPED_TRACE(random.trace());
  const size_t host_bytes = 12 * kMiB, gpu_bytes = 10 * kMiB;
  Tensor host = Tensor::create(env, cpu, DT_UINT8, {int64_t(host_bytes)});
  Tensor device = Tensor::create(env, gpu, DT_UINT8, {int64_t(gpu_bytes)});
  const std::vector<uint8_t> gpu_sentinels = Sentinels(gpu_bytes);
  for (int round = 0; round < 6; ++round) {
    const size_t bytes = size_t(random.Between(1, 8)) * kMiB + 4 * size_t(random.Between(0, 4096));
    const size_t host_at = 4 * size_t(random.Between(0, int64_t(host_bytes - bytes) / 4));
    const size_t gpu_at = 4 * size_t(random.Between(0, int64_t(gpu_bytes - bytes) / 4));
    SCOPED_TRACE("round " + std::to_string(round) + ": " + std::to_string(bytes) + " bytes, host at " +
                 std::to_string(host_at) + ", GPU at " + std::to_string(gpu_at));
    // Upload: the GPU buffer gets the view and nothing else.
    std::vector<uint8_t> expected_host = RandomBytes(random, host_bytes);
    std::memcpy(host.data<uint8_t>(), expected_host.data(), host_bytes);
    SetGpuBytes(device, gpu_sentinels);
    Tensor from = host.view(host_at, DT_UINT8, {int64_t(bytes)});
    Tensor into = device.view(gpu_at, DT_UINT8, {int64_t(bytes)});
    env.copy(from, into);
    std::vector<uint8_t> expected_gpu = gpu_sentinels;
    std::memcpy(expected_gpu.data() + gpu_at, expected_host.data() + host_at, bytes);
    ASSERT_TRUE(SameBytes(GpuBytes(device), expected_gpu)) << "upload";
    ASSERT_TRUE(SameBytes({host.data<uint8_t>(), host.data<uint8_t>() + host_bytes}, expected_host))
        << "the upload changed its host source";
    // Download into the middle of the same host buffer: its neighbours in the same pages stay.
    std::vector<uint8_t> fresh = RandomBytes(random, gpu_bytes);
    SetGpuBytes(device, fresh);
    const std::vector<uint8_t> sentinels = Sentinels(host_bytes);
    std::memcpy(host.data<uint8_t>(), sentinels.data(), host_bytes);
    env.copy(into, from);
    std::vector<uint8_t> expected_back = sentinels;
    std::memcpy(expected_back.data() + host_at, fresh.data() + gpu_at, bytes);
    ASSERT_TRUE(SameBytes({host.data<uint8_t>(), host.data<uint8_t>() + host_bytes}, expected_back))
        << "download";
  }
}

// Host memory is freed and other memory is mapped at the very same address: copies through a
// tensor wrapping the new memory reach the new pages, not the pages an earlier import pinned.
TEST_F(WebGpuHostImport, MemoryMappedAgainAtTheSameAddressIsNotReachedThroughAStaleImport) {
  SCOPED_TRACE(random.trace());
  const size_t bytes = 8 * kMiB, inner = bytes - 2 * kGuard;
  Tensor device = Tensor::create(env, gpu, DT_UINT8, {int64_t(bytes + 2 * kGuard)});
  Tensor slot = device.view(kGuard, DT_UINT8, {int64_t(bytes)});
  uint8_t* pages = MapPages(bytes);
  ASSERT_NE(pages, nullptr);
  const std::vector<uint8_t> first = RandomBytes(random, bytes);
  std::memcpy(pages, first.data(), bytes);
  {
    Tensor wrapped = Tensor::wrap(env, cpu, pages, bytes, 0, DT_UINT8, {int64_t(bytes)});
    env.copy(wrapped, slot);
    env.copy(slot, wrapped);  // both directions use (and keep) the import
  }
  ASSERT_EQ(munmap(pages, bytes), 0);
  uint8_t* again = MapPages(bytes, pages);
  if (again == nullptr) GTEST_SKIP() << "the address was taken before it could be mapped again";
  {
    Tensor wrapped = Tensor::wrap(env, cpu, again, bytes, 0, DT_UINT8, {int64_t(bytes)});
    // Upload from the new pages into a guarded slot.
    const std::vector<uint8_t> second = RandomBytes(random, bytes);
    std::memcpy(again, second.data(), bytes);
    SetGpuBytes(device, Sentinels(bytes + 2 * kGuard));
    env.copy(wrapped, slot);
    EXPECT_TRUE(SameBytes(GpuBytes(device), Guarded(second))) << "upload from the new pages";
    // Download into the middle of the new pages, whose first and last kGuard bytes stay.
    const std::vector<uint8_t> third = RandomBytes(random, bytes + 2 * kGuard);
    SetGpuBytes(device, third);
    std::memset(again, kSentinel, bytes);
    env.copy(device.view(kGuard, DT_UINT8, {int64_t(inner)}),
             wrapped.view(kGuard, DT_UINT8, {int64_t(inner)}));
    std::vector<uint8_t> expected = Sentinels(bytes);
    std::memcpy(expected.data() + kGuard, third.data() + kGuard, inner);
    EXPECT_TRUE(SameBytes({again, again + bytes}, expected)) << "download into the new pages";
  }
  munmap(again, bytes);
}

// Read-only pages may be refused by the driver; the upload still arrives, through staging.
TEST_F(WebGpuHostImport, ReadOnlyPagesUploadCorrectly) {
  SCOPED_TRACE(random.trace());
  const size_t bytes = 4 * kMiB;
  uint8_t* pages = MapPages(bytes);
  ASSERT_NE(pages, nullptr);
  const std::vector<uint8_t> data = RandomBytes(random, bytes);
  std::memcpy(pages, data.data(), bytes);
  ASSERT_EQ(mprotect(pages, bytes, PROT_READ), 0);
  Tensor device = Tensor::create(env, gpu, DT_UINT8, {int64_t(bytes + 2 * kGuard)});
  {
    Tensor wrapped = Tensor::wrap(env, cpu, pages, bytes, 0, DT_UINT8, {int64_t(bytes)});
    for (int i = 0; i < 2; ++i) {  // the second time, whatever the first learned is reused
      SetGpuBytes(device, Sentinels(bytes + 2 * kGuard));
      env.copy(wrapped, device.view(kGuard, DT_UINT8, {int64_t(bytes)}));
      EXPECT_TRUE(SameBytes(GpuBytes(device), Guarded(data))) << "attempt " << i;
    }
  }
  munmap(pages, bytes);
}

}  // namespace
}  // namespace devtensor_test
