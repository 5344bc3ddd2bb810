// WebGPU transfers through devtensor beside the same transfer written plainly against the Dawn C
// API, in one binary, on one device, with one runtime. Every timed iteration waits for completion:
// uploads and device copies wait for the queue's work-done signal after a submit, downloads map the
// read-back buffer. The copied data is checked once per case after timing.
//
//   build/bench/devtensor_webgpu_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_out=webgpu.json
//   python3 bench/ratios.py webgpu.json
//
// Names: <case>/<bytes>; counters devtensor_us, raw_dawn_us (medians) and their ratio.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devtensor/devtensor.hpp"
#include "providers/webgpu/webgpu_api.h"

namespace {

using devtensor::Tensor;
namespace wgpu = devtensor::wgpu;

// The Dawn functions for the raw baseline, from the same runtime library devtensor loaded.
struct Raw {
  wgpu::Api api;
  wgpu::Instance instance = nullptr;
  wgpu::Device device = nullptr;
  wgpu::Queue queue = nullptr;
};

struct Fixture {
  devtensor::Env env;
  devtensor::Device cpu, gpu;
  Raw raw;
  std::string error;
};

Fixture* TheFixture() {
  static Fixture* fixture = [] {
    auto* f = new Fixture();
    f->cpu = f->env.device(DT_DEVICE_CPU);
    f->gpu = f->env.device(DT_DEVICE_WEBGPU);
    const char* path = std::getenv("DEVTENSOR_WEBGPU_RUNTIME");
    void* library = dlopen(path ? path : DT_BENCH_WEBGPU_RUNTIME, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      f->error = "cannot load the WebGPU runtime for the raw baseline";
      return f;
    }
#define DT_BENCH_RESOLVE(name, symbol, type) \
  f->raw.api.name = reinterpret_cast<decltype(f->raw.api.name)>(dlsym(library, #symbol));
    DT_WGPU_FUNCTIONS(DT_BENCH_RESOLVE)
#undef DT_BENCH_RESOLVE
    void* handle = nullptr;
    devtensor::Check(DtGetDeviceNativeHandle(f->gpu.get(), "WGPUInstance", &handle));
    f->raw.instance = static_cast<wgpu::Instance>(handle);
    devtensor::Check(DtGetDeviceNativeHandle(f->gpu.get(), "WGPUDevice", &handle));
    f->raw.device = static_cast<wgpu::Device>(handle);
    devtensor::Check(DtGetDeviceNativeHandle(f->gpu.get(), "WGPUQueue", &handle));
    f->raw.queue = static_cast<wgpu::Queue>(handle);
    return f;
  }();
  return fixture;
}

// ---- the raw baseline, written the plain way -------------------------------------------------

void OnDone(uint32_t, wgpu::StringView, void* flag, void*) { *static_cast<bool*>(flag) = true; }
void OnMap(uint32_t status, wgpu::StringView, void* out, void*) { *static_cast<uint32_t*>(out) = status; }

void Wait(const Raw& raw, wgpu::Future future) {
  wgpu::FutureWaitInfo info{future, 0};
  raw.api.InstanceWaitAny(raw.instance, 1, &info, UINT64_MAX);
}

void SubmitAndWait(const Raw& raw, wgpu::CommandEncoder encoder) {
  wgpu::CommandBuffer commands = raw.api.CommandEncoderFinish(encoder, nullptr);
  raw.api.QueueSubmit(raw.queue, 1, &commands);
  raw.api.CommandBufferRelease(commands);
  raw.api.CommandEncoderRelease(encoder);
  bool done = false;
  Wait(raw, raw.api.QueueOnSubmittedWorkDone(
                raw.queue, {nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnDone, &done, nullptr}));
}

wgpu::Buffer RawBuffer(const Raw& raw, uint64_t size, wgpu::Flags usage) {
  wgpu::BufferDescriptor descriptor{};
  descriptor.usage = usage;
  descriptor.size = size;
  return raw.api.DeviceCreateBuffer(raw.device, &descriptor);
}

void RawUpload(const Raw& raw, wgpu::Buffer buffer, uint64_t offset, const void* data, size_t size) {
  raw.api.QueueWriteBuffer(raw.queue, buffer, offset, data, size);
  SubmitAndWait(raw, raw.api.DeviceCreateCommandEncoder(raw.device, nullptr));
}

void RawDownload(const Raw& raw, wgpu::Buffer buffer, wgpu::Buffer readback, void* out, size_t size) {
  wgpu::CommandEncoder encoder = raw.api.DeviceCreateCommandEncoder(raw.device, nullptr);
  raw.api.CommandEncoderCopyBufferToBuffer(encoder, buffer, 0, readback, 0, size);
  wgpu::CommandBuffer commands = raw.api.CommandEncoderFinish(encoder, nullptr);
  raw.api.QueueSubmit(raw.queue, 1, &commands);
  raw.api.CommandBufferRelease(commands);
  raw.api.CommandEncoderRelease(encoder);
  uint32_t status = 0;
  Wait(raw, raw.api.BufferMapAsync(readback, wgpu::map_mode::kRead, 0, size,
                                   {nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnMap, &status,
                                    nullptr}));
  std::memcpy(out, raw.api.BufferGetConstMappedRange(readback, 0, size), size);
  raw.api.BufferUnmap(readback);
}

void RawDeviceCopy(const Raw& raw, wgpu::Buffer from, wgpu::Buffer to, size_t size) {
  wgpu::CommandEncoder encoder = raw.api.DeviceCreateCommandEncoder(raw.device, nullptr);
  raw.api.CommandEncoderCopyBufferToBuffer(encoder, from, 0, to, 0, size);
  SubmitAndWait(raw, encoder);
}

void ReleaseRaw(const Raw& raw, wgpu::Buffer buffer) {
  raw.api.BufferDestroy(buffer);
  raw.api.BufferRelease(buffer);
}

std::vector<uint8_t> Pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + seed);
  return bytes;
}

bool Ready(benchmark::State& state, Fixture* f) {
  if (!f->error.empty()) state.SkipWithError(f->error.c_str());
  return f->error.empty();
}

// ---- cases -------------------------------------------------------------------------------------
//
// Each case times devtensor and the raw baseline alternately inside one loop (the order flips every
// iteration), so both see the same clocks, caches and Dawn state; the reported figures are the
// medians of the per-iteration times. The benchmark's own time is devtensor's.

class SideBySide {
 public:
  SideBySide(benchmark::State& state, size_t bytes) : state_(state), bytes_(bytes) {}

  template <typename Ours, typename Theirs>
  void Run(Ours&& ours, Theirs&& theirs) {
    bool ours_first = true;
    for (auto _ : state_) {
      double t_ours = 0, t_theirs = 0;
      if (ours_first) {
        t_ours = Time(ours);
        t_theirs = Time(theirs);
      } else {
        t_theirs = Time(theirs);
        t_ours = Time(ours);
      }
      ours_first = !ours_first;
      ours_.push_back(t_ours);
      theirs_.push_back(t_theirs);
      state_.SetIterationTime(t_ours);
    }
    const double a = Median(ours_), b = Median(theirs_);
    state_.counters["devtensor_us"] = a * 1e6;
    state_.counters["raw_dawn_us"] = b * 1e6;
    state_.counters["devtensor_GBps"] = bytes_ / a / 1e9;
    state_.counters["raw_dawn_GBps"] = bytes_ / b / 1e9;
    state_.counters["ratio"] = b / a;  // above 1: devtensor is faster
    state_.SetBytesProcessed(int64_t(state_.iterations()) * int64_t(bytes_));
  }

 private:
  template <typename Op>
  static double Time(Op&& op) {
    const auto start = std::chrono::steady_clock::now();
    op();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  static double Median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  }
  benchmark::State& state_;
  size_t bytes_;
  std::vector<double> ours_, theirs_;
};

const wgpu::Flags kBufferUsage = wgpu::usage::kStorage | wgpu::usage::kCopySrc | wgpu::usage::kCopyDst;
const wgpu::Flags kReadbackUsage = wgpu::usage::kMapRead | wgpu::usage::kCopyDst;

void Upload(benchmark::State& state, size_t size) {
  Fixture* f = TheFixture();
  if (!Ready(state, f)) return;
  const Raw& raw = f->raw;
  const int64_t n = static_cast<int64_t>(size);
  Tensor host = Tensor::create(f->env, f->cpu, DT_UINT8, {n});
  Tensor device = Tensor::create(f->env, f->gpu, DT_UINT8, {n});
  wgpu::Buffer buffer = RawBuffer(raw, size, kBufferUsage);
  wgpu::Buffer readback = RawBuffer(raw, size, kReadbackUsage);
  std::vector<uint8_t> expected = Pattern(size, 1), back(size);
  std::memcpy(host.data(), expected.data(), size);
  SideBySide(state, size).Run([&] { f->env.copy(host, device); },
                              [&] { RawUpload(raw, buffer, 0, expected.data(), size); });
  Tensor mine = Tensor::create(f->env, f->cpu, DT_UINT8, {n});
  f->env.copy(device, mine);
  RawDownload(raw, buffer, readback, back.data(), size);
  if (std::memcmp(mine.data(), expected.data(), size) != 0 || back != expected) {
    state.SkipWithError("wrong data");
  }
  ReleaseRaw(raw, buffer);
  ReleaseRaw(raw, readback);
}

void Download(benchmark::State& state, size_t size) {
  Fixture* f = TheFixture();
  if (!Ready(state, f)) return;
  const Raw& raw = f->raw;
  const int64_t n = static_cast<int64_t>(size);
  Tensor host = Tensor::create(f->env, f->cpu, DT_UINT8, {n});
  Tensor device = Tensor::create(f->env, f->gpu, DT_UINT8, {n});
  wgpu::Buffer buffer = RawBuffer(raw, size, kBufferUsage);
  wgpu::Buffer readback = RawBuffer(raw, size, kReadbackUsage);
  std::vector<uint8_t> expected = Pattern(size, 3), back(size);
  std::memcpy(host.data(), expected.data(), size);
  f->env.copy(host, device);
  RawUpload(raw, buffer, 0, expected.data(), size);
  Tensor mine = Tensor::create(f->env, f->cpu, DT_UINT8, {n});
  SideBySide(state, size).Run([&] { f->env.copy(device, mine); },
                              [&] { RawDownload(raw, buffer, readback, back.data(), size); });
  if (std::memcmp(mine.data(), expected.data(), size) != 0 || back != expected) {
    state.SkipWithError("wrong data");
  }
  ReleaseRaw(raw, buffer);
  ReleaseRaw(raw, readback);
}

void DeviceCopy(benchmark::State& state, size_t size) {
  Fixture* f = TheFixture();
  if (!Ready(state, f)) return;
  const Raw& raw = f->raw;
  const int64_t n = static_cast<int64_t>(size);
  Tensor host = Tensor::create(f->env, f->cpu, DT_UINT8, {n});
  Tensor a = Tensor::create(f->env, f->gpu, DT_UINT8, {n});
  Tensor b = Tensor::create(f->env, f->gpu, DT_UINT8, {n});
  wgpu::Buffer ra = RawBuffer(raw, size, kBufferUsage), rb = RawBuffer(raw, size, kBufferUsage);
  wgpu::Buffer readback = RawBuffer(raw, size, kReadbackUsage);
  std::vector<uint8_t> expected = Pattern(size, 5), back(size);
  std::memcpy(host.data(), expected.data(), size);
  f->env.copy(host, a);
  RawUpload(raw, ra, 0, expected.data(), size);
  SideBySide(state, size).Run([&] { f->env.copy(a, b); }, [&] { RawDeviceCopy(raw, ra, rb, size); });
  std::memset(host.data(), 0, size);
  f->env.copy(b, host);
  RawDownload(raw, rb, readback, back.data(), size);
  if (std::memcmp(host.data(), expected.data(), size) != 0 || back != expected) {
    state.SkipWithError("wrong data");
  }
  for (wgpu::Buffer buffer : {ra, rb, readback}) ReleaseRaw(raw, buffer);
}

// A decode loop's typical tiny update: 4 bytes at byte 1024 of a 1 MiB buffer.
void Update4Bytes(benchmark::State& state, size_t offset) {
  Fixture* f = TheFixture();
  if (!Ready(state, f)) return;
  const Raw& raw = f->raw;
  Tensor device = Tensor::create(f->env, f->gpu, DT_UINT8, {1 << 20});
  Tensor slot = device.view(offset, DT_UINT16, {2});
  Tensor value = Tensor::create(f->env, f->cpu, DT_UINT16, {2});
  value.data<uint16_t>()[0] = 0x1234;
  value.data<uint16_t>()[1] = 0x5678;
  wgpu::Buffer buffer = RawBuffer(raw, 1 << 20, kBufferUsage);
  wgpu::Buffer readback = RawBuffer(raw, 1 << 20, kReadbackUsage);
  SideBySide(state, 4).Run([&] { f->env.copy(value, slot); },
                           [&] { RawUpload(raw, buffer, offset, value.data(), 4); });
  Tensor mine = Tensor::create(f->env, f->cpu, DT_UINT16, {2});
  f->env.copy(slot, mine);
  std::vector<uint8_t> back(1 << 20);
  RawDownload(raw, buffer, readback, back.data(), back.size());
  if (std::memcmp(mine.data(), value.data(), 4) != 0 ||
      std::memcmp(back.data() + offset, value.data(), 4) != 0) {
    state.SkipWithError("wrong data");
  }
  ReleaseRaw(raw, buffer);
  ReleaseRaw(raw, readback);
}

// The same update at byte 1026, which WebGPU's own copies cannot address (offsets must be
// multiples of 4): devtensor's exact-copy kernel against the raw code's best substitute, a
// read-modify-write of the covering 8 bytes through the host.
void Update4BytesUnaligned(benchmark::State& state, size_t offset) {
  Fixture* f = TheFixture();
  if (!Ready(state, f)) return;
  const Raw& raw = f->raw;
  Tensor device = Tensor::create(f->env, f->gpu, DT_UINT8, {1 << 20});
  Tensor slot = device.view(offset, DT_UINT16, {2});
  Tensor value = Tensor::create(f->env, f->cpu, DT_UINT16, {2});
  value.data<uint16_t>()[0] = 0x1234;
  value.data<uint16_t>()[1] = 0x5678;
  wgpu::Buffer buffer = RawBuffer(raw, 1 << 20, kBufferUsage);
  wgpu::Buffer readback = RawBuffer(raw, 8, kReadbackUsage);
  const uint64_t base = offset & ~uint64_t(3);
  SideBySide(state, 4).Run([&] { f->env.copy(value, slot); }, [&] {
    uint8_t words[8];
    wgpu::CommandEncoder encoder = raw.api.DeviceCreateCommandEncoder(raw.device, nullptr);
    raw.api.CommandEncoderCopyBufferToBuffer(encoder, buffer, base, readback, 0, 8);
    wgpu::CommandBuffer commands = raw.api.CommandEncoderFinish(encoder, nullptr);
    raw.api.QueueSubmit(raw.queue, 1, &commands);
    raw.api.CommandBufferRelease(commands);
    raw.api.CommandEncoderRelease(encoder);
    uint32_t status = 0;
    Wait(raw, raw.api.BufferMapAsync(readback, wgpu::map_mode::kRead, 0, 8,
                                     {nullptr, wgpu::callback_mode::kWaitAnyOnly, &OnMap, &status,
                                      nullptr}));
    std::memcpy(words, raw.api.BufferGetConstMappedRange(readback, 0, 8), 8);
    raw.api.BufferUnmap(readback);
    std::memcpy(words + (offset - base), value.data(), 4);
    RawUpload(raw, buffer, base, words, 8);
  });
  Tensor mine = Tensor::create(f->env, f->cpu, DT_UINT16, {2});
  f->env.copy(slot, mine);
  if (std::memcmp(mine.data(), value.data(), 4) != 0) state.SkipWithError("wrong data");
  ReleaseRaw(raw, buffer);
  ReleaseRaw(raw, readback);
}

size_t MaxBytes() {
  const char* max = std::getenv("DEVTENSOR_BENCH_MAX_BYTES");
  return max ? std::strtoull(max, nullptr, 10) : (size_t(256) << 20);
}

void Register() {
  const struct {
    const char* name;
    void (*run)(benchmark::State&, size_t);
  } cases[] = {{"upload", &Upload}, {"download", &Download}, {"device_copy", &DeviceCopy}};
  for (size_t size = 4 << 10; size <= MaxBytes(); size *= 4) {
    for (const auto& c : cases) {
      benchmark::RegisterBenchmark((std::string(c.name) + "/" + std::to_string(size)).c_str(),
                                   c.run, size)->UseManualTime();
    }
  }
  benchmark::RegisterBenchmark("update_4_bytes_at_1024/4", &Update4Bytes, size_t(1024))->UseManualTime();
  benchmark::RegisterBenchmark("update_4_bytes_at_1026/4", &Update4BytesUnaligned, size_t(1026))
      ->UseManualTime();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
