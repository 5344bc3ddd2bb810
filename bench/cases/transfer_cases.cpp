// Contiguous transfers on WebGPU device 0: host → device (upload), device → host (download) and
// device → device, 4 KiB to the size cap, ×4 a step. devtensor's DtCopyTensors beside raw Dawn
// (a queue write, a copy into a mapped read-back buffer, a buffer-to-buffer copy) and, when a CUDA
// runtime is found, cudaMemcpy from and to pinned host memory: what the bus and the memory can do.
// devtensor and raw Dawn read and write ordinary (pageable) host memory. CUDA is timed in a loop of
// its own (see Contender::own_loop): alternated with Vulkan work, a 4 KiB upload measured 160 µs
// for CUDA and 200 µs for devtensor on an H200, against 8 µs and 45 µs apart.
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_devices.h"
#include "cuda_runtime.h"
#include "kept_state.h"
#include "registry.h"
#include "side_by_side.h"

namespace devtensor::bench {
namespace {

using devtensor::Tensor;

enum class Direction { kUpload, kDownload, kDeviceCopy };

// The CUDA baseline's buffers: pinned host memory and two device buffers.
struct CudaSide {
  CudaSide(const CudaRuntime& cuda, size_t size)
      : cuda(cuda),
        host(cuda, CudaBuffer::Where::kHost, size),
        a(cuda, CudaBuffer::Where::kDevice, size),
        b(cuda, CudaBuffer::Where::kDevice, size) {}
  const CudaRuntime& cuda;
  CudaBuffer host, a, b;
};

// One size of one direction. Data flows host → a for uploads, a → host for downloads and a → b
// for device copies, on every side.
struct TransferState {
  TransferState(const WebGpu& gpu, Direction direction, size_t size)
      : direction(direction),
        size(size),
        expected(Pattern(size, uint8_t(direction) * 2 + 1)),
        host(Tensor::create(BenchEnv(), BenchCpu(), DT_UINT8, {int64_t(size)})),
        a(Tensor::create(BenchEnv(), gpu.device, DT_UINT8, {int64_t(size)})),
        raw_host(size),
        raw_a(gpu.raw, size),
        raw_readback(gpu.raw, size, kReadbackUsage) {
    const devtensor::Env& env = BenchEnv();
    if (direction == Direction::kDeviceCopy) {
      b = Tensor::create(env, gpu.device, DT_UINT8, {int64_t(size)});
      raw_b.emplace(gpu.raw, size);
    }
    if (const CudaRuntime* cuda = CudaRuntime::Get()) cuda_side = std::make_unique<CudaSide>(*cuda, size);
    // Sources hold the pattern; destinations start as zeros.
    std::memcpy(host.data(), expected.data(), size);
    std::memcpy(raw_host.data(), expected.data(), size);
    if (cuda_side) std::memcpy(cuda_side->host.get(), expected.data(), size);
    if (direction != Direction::kUpload) {
      env.copy(host, a);
      gpu.raw.Upload(raw_a.get(), 0, expected.data(), size);
      if (cuda_side) cuda_side->cuda.Copy(cuda_side->a.get(), cuda_side->host.get(), size, CudaCopy::kHostToDevice);
      if (direction == Direction::kDownload) {
        std::memset(host.data(), 0, size);
        std::memset(raw_host.data(), 0, size);
        if (cuda_side) std::memset(cuda_side->host.get(), 0, size);
      }
    }
  }

  Direction direction;
  size_t size;
  std::vector<uint8_t> expected;
  Tensor host, a, b;
  std::vector<uint8_t> raw_host;
  RawBuffer raw_a;
  std::optional<RawBuffer> raw_b;
  RawBuffer raw_readback;
  std::unique_ptr<CudaSide> cuda_side;
  bool checked = false;
};

// The lambdas outlive this function: they hold references to lasting objects and copies of the rest.
std::vector<Contender> Contenders(const WebGpu& gpu, TransferState& s) {
  const devtensor::Env& env = BenchEnv();
  const RawDawn& raw = gpu.raw;
  const size_t size = s.size;
  std::vector<Contender> contenders;
  switch (s.direction) {
    case Direction::kUpload:
      contenders = {{"devtensor", [&env, &s] { env.copy(s.host, s.a); }},
                    {"raw_dawn", [&raw, &s, size] { raw.Upload(s.raw_a.get(), 0, s.raw_host.data(), size); }}};
      break;
    case Direction::kDownload:
      contenders = {{"devtensor", [&env, &s] { env.copy(s.a, s.host); }},
                    {"raw_dawn", [&raw, &s, size] {
                       raw.Download(s.raw_a.get(), 0, s.raw_readback.get(), s.raw_host.data(), size);
                     }}};
      break;
    case Direction::kDeviceCopy:
      contenders = {{"devtensor", [&env, &s] { env.copy(s.a, s.b); }},
                    {"raw_dawn", [&raw, &s, size] { raw.Copy(s.raw_a.get(), s.raw_b->get(), size); }}};
      break;
  }
  if (CudaSide* c = s.cuda_side.get()) {
    const CudaRuntime& cuda = c->cuda;
    switch (s.direction) {
      case Direction::kUpload:
        contenders.push_back({"cuda", [&cuda, c, size] {
                                cuda.Copy(c->a.get(), c->host.get(), size, CudaCopy::kHostToDevice);
                              },
                              /*own_loop=*/ true});
        break;
      case Direction::kDownload:
        contenders.push_back({"cuda", [&cuda, c, size] {
                                cuda.Copy(c->host.get(), c->a.get(), size, CudaCopy::kDeviceToHost);
                              },
                              /*own_loop=*/ true});
        break;
      case Direction::kDeviceCopy:
        contenders.push_back({"cuda", [&cuda, c, size] {
                                cuda.Copy(c->b.get(), c->a.get(), size, CudaCopy::kDeviceToDevice);
                              },
                              /*own_loop=*/ true});
        break;
    }
  }
  return contenders;
}

// Every side's destination holds the pattern.
void Check(const WebGpu& gpu, TransferState& s) {
  const devtensor::Env& env = BenchEnv();
  const size_t size = s.size;
  std::vector<uint8_t> back(size);
  auto require = [&](const void* data, const char* side) {
    if (std::memcmp(data, s.expected.data(), size) != 0) {
      throw std::runtime_error(std::string("wrong data from ") + side);
    }
  };
  if (s.direction == Direction::kDownload) {
    require(s.host.data(), "devtensor");
    require(s.raw_host.data(), "raw Dawn");
    if (s.cuda_side) require(s.cuda_side->host.get(), "CUDA");
    return;
  }
  const bool copy = s.direction == Direction::kDeviceCopy;
  Tensor mine = Tensor::create(env, BenchCpu(), DT_UINT8, {int64_t(size)});
  env.copy(copy ? s.b : s.a, mine);
  require(mine.data(), "devtensor");
  gpu.raw.Download(copy ? s.raw_b->get() : s.raw_a.get(), 0, s.raw_readback.get(), back.data(), size);
  require(back.data(), "raw Dawn");
  if (CudaSide* c = s.cuda_side.get()) {
    c->cuda.Copy(back.data(), copy ? c->b.get() : c->a.get(), size, CudaCopy::kDeviceToHost);
    require(back.data(), "CUDA");
  }
}

void Transfer(benchmark::State& state, Direction direction, const std::string& name, size_t size) {
  Guarded(state, [&] {
    const WebGpu& gpu = TheWebGpu();
    TransferState& s = Kept<TransferState>(name, [&] {
      return std::make_unique<TransferState>(gpu, direction, size);
    });
    RunSideBySide(state, size, Contenders(gpu, s));
    if (!s.checked && !state.error_occurred()) {
      Check(gpu, s);
      s.checked = true;
    }
  });
}

}  // namespace

void RegisterTransferCases(const SuiteOptions& options) {
  const struct {
    const char* name;
    Direction direction;
  } cases[] = {{"upload", Direction::kUpload},
               {"download", Direction::kDownload},
               {"device_copy", Direction::kDeviceCopy}};
  for (const auto& c : cases) {
    for (size_t size = 4 << 10; size <= options.max_bytes; size *= 4) {
      const std::string name = std::string(c.name) + "/" + std::to_string(size);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), [direction = c.direction, name, size](benchmark::State& state) {
        Transfer(state, direction, name, size);
      });
      b->UseManualTime();
      // A handful of samples is plenty where one iteration takes a large part of a second.
      if (size >= (size_t(256) << 20)) b->Iterations(5);
    }
  }
}

}  // namespace devtensor::bench
