// Transfers and small updates on CUDA device 0, each beside what the CUDA runtime does with the
// same bytes. devtensor's host memory is a CPU tensor wrapping memory it is given
// (DtCreateTensorWithData): pinned memory from the CUDA runtime (cudaMallocHost) or pageable
// memory from the allocator.
//   upload, download                    host ↔ device from pinned host memory, beside cudaMemcpy
//                                       from pinned memory (cuda)
//   upload_pageable, download_pageable  the same from pageable host memory, beside cudaMemcpy from
//                                       pinned memory (cuda: the ceiling) and from pageable memory
//                                       (cuda_pageable: the same memory as devtensor's)
//   device_copy                         two CUDA tensors, beside a device-to-device cudaMemcpy
//   update_4_bytes_at_1026              4 bytes into a view at byte 1026 of a 1 MiB device tensor
//                                       from pinned host memory, beside a 4-byte cudaMemcpy
//   update_4_bytes_at_1026_pageable     the same from pageable host memory, beside a 4-byte
//                                       cudaMemcpy from pinned and from pageable memory
// Transfers go 4 KiB to the size cap, ×4 a step. Every contender waits for its work: devtensor's
// copies return when done, cudaMemcpy is followed by cudaDeviceSynchronize. devtensor and the CUDA
// runtime share the device and alternate in one loop. Each case checks every side's bytes once.
#include <cstring>
#include <memory>
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
enum class HostMemory { kPinned, kPageable };

const CudaRuntime& Cuda() {
  const CudaRuntime* cuda = CudaRuntime::Get();
  if (cuda == nullptr) throw std::runtime_error(CudaRuntime::Description());
  return *cuda;
}

// Host memory of one kind: pinned from the CUDA runtime, or a plain vector.
class HostBuffer {
 public:
  HostBuffer(const CudaRuntime& cuda, HostMemory kind, size_t size) {
    if (kind == HostMemory::kPinned) pinned_ = std::make_unique<CudaBuffer>(cuda, CudaBuffer::Where::kHost, size);
    else pageable_.resize(size);
  }
  uint8_t* get() const {
    return pinned_ ? pinned_->as<uint8_t>() : const_cast<uint8_t*>(pageable_.data());
  }

 private:
  std::unique_ptr<CudaBuffer> pinned_;
  std::vector<uint8_t> pageable_;
};

// A CPU tensor of `size` bytes over `data`, which the caller keeps alive.
Tensor HostTensor(uint8_t* data, size_t size) {
  return Tensor::wrap(BenchEnv(), BenchCpu(), data, size, 0, DT_UINT8, {int64_t(size)});
}

// One size of one direction. Data flows host → a for uploads, a → host for downloads and a → b
// for device copies, on every side; the two CUDA baselines share their device buffers.
struct TransferState {
  TransferState(devtensor::Device gpu, const CudaRuntime& cuda, Direction direction, HostMemory memory,
                size_t size)
      : cuda(cuda),
        direction(direction),
        memory(memory),
        size(size),
        expected(Pattern(size, uint8_t(direction) * 2 + 1)),
        my_host_memory(cuda, memory, size),
        host(HostTensor(my_host_memory.get(), size)),
        a(Tensor::create(BenchEnv(), gpu, DT_UINT8, {int64_t(size)})),
        cuda_host(cuda, CudaBuffer::Where::kHost, size),
        cuda_a(cuda, CudaBuffer::Where::kDevice, size) {
    const devtensor::Env& env = BenchEnv();
    if (direction == Direction::kDeviceCopy) {
      b = Tensor::create(env, gpu, DT_UINT8, {int64_t(size)});
      cuda_b = std::make_unique<CudaBuffer>(cuda, CudaBuffer::Where::kDevice, size);
      env.zero(b);
    }
    if (memory == HostMemory::kPageable) pageable.resize(size);
    // Sources hold the pattern; destinations start as zeros.
    std::memcpy(host.data(), expected.data(), size);
    std::memcpy(cuda_host.get(), expected.data(), size);
    if (!pageable.empty()) std::memcpy(pageable.data(), expected.data(), size);
    if (direction == Direction::kUpload) {
      env.zero(a);
    } else {
      env.copy(host, a);
      cuda.Copy(cuda_a.get(), cuda_host.get(), size, CudaCopy::kHostToDevice);
      if (direction == Direction::kDownload) {
        std::memset(host.data(), 0, size);
        std::memset(cuda_host.get(), 0, size);
        if (!pageable.empty()) std::memset(pageable.data(), 0, size);
      }
    }
  }

  const CudaRuntime& cuda;
  Direction direction;
  HostMemory memory;
  size_t size;
  std::vector<uint8_t> expected;
  HostBuffer my_host_memory;  // devtensor's host memory, of the case's kind
  Tensor host, a, b;
  CudaBuffer cuda_host, cuda_a;      // the baseline's pinned host memory and device buffer
  std::unique_ptr<CudaBuffer> cuda_b;
  std::vector<uint8_t> pageable;     // the pageable baseline's host memory
  bool checked = false;
};

// The lambdas outlive this function: they hold references to lasting objects.
std::vector<Contender> TransferContenders(TransferState& s) {
  const devtensor::Env& env = BenchEnv();
  const CudaRuntime& cuda = s.cuda;
  const size_t size = s.size;
  switch (s.direction) {
    case Direction::kUpload: {
      std::vector<Contender> c = {
          {"devtensor", [&env, &s] { env.copy(s.host, s.a); }},
          {"cuda", [&cuda, &s, size] { cuda.Copy(s.cuda_a.get(), s.cuda_host.get(), size, CudaCopy::kHostToDevice); }}};
      if (s.memory == HostMemory::kPageable) {
        c.push_back({"cuda_pageable", [&cuda, &s, size] {
                       cuda.Copy(s.cuda_a.get(), s.pageable.data(), size, CudaCopy::kHostToDevice);
                     }});
      }
      return c;
    }
    case Direction::kDownload: {
      std::vector<Contender> c = {
          {"devtensor", [&env, &s] { env.copy(s.a, s.host); }},
          {"cuda", [&cuda, &s, size] { cuda.Copy(s.cuda_host.get(), s.cuda_a.get(), size, CudaCopy::kDeviceToHost); }}};
      if (s.memory == HostMemory::kPageable) {
        c.push_back({"cuda_pageable", [&cuda, &s, size] {
                       cuda.Copy(s.pageable.data(), s.cuda_a.get(), size, CudaCopy::kDeviceToHost);
                     }});
      }
      return c;
    }
    case Direction::kDeviceCopy:
      return {{"devtensor", [&env, &s] { env.copy(s.a, s.b); }},
              {"cuda", [&cuda, &s, size] { cuda.Copy(s.cuda_b->get(), s.cuda_a.get(), size, CudaCopy::kDeviceToDevice); }}};
  }
  return {};
}

// Every side's destination holds the pattern.
void CheckTransfer(TransferState& s) {
  const devtensor::Env& env = BenchEnv();
  const size_t size = s.size;
  auto require = [&](const void* data, const char* side) {
    if (std::memcmp(data, s.expected.data(), size) != 0) {
      throw std::runtime_error(std::string("wrong data from ") + side);
    }
  };
  if (s.direction == Direction::kDownload) {
    require(s.host.data(), "devtensor");
    require(s.cuda_host.get(), "CUDA");
    if (!s.pageable.empty()) require(s.pageable.data(), "CUDA from pageable memory");
    return;
  }
  const bool copy = s.direction == Direction::kDeviceCopy;
  std::vector<uint8_t> back(size);
  env.copy(copy ? s.b : s.a, HostTensor(back.data(), size));
  require(back.data(), "devtensor");
  std::memset(back.data(), 0, size);
  s.cuda.Copy(back.data(), copy ? s.cuda_b->get() : s.cuda_a.get(), size, CudaCopy::kDeviceToHost);
  require(back.data(), "CUDA");
}

void Transfer(benchmark::State& state, Direction direction, HostMemory memory, const std::string& name,
              size_t size) {
  Guarded(state, [&] {
    const devtensor::Device gpu = TheCudaDevice();
    const CudaRuntime& cuda = Cuda();
    TransferState& s = Kept<TransferState>("cuda/" + name, [&] {
      return std::make_unique<TransferState>(gpu, cuda, direction, memory, size);
    });
    RunSideBySide(state, size, TransferContenders(s));
    if (!s.checked && !state.error_occurred()) {
      CheckTransfer(s);
      s.checked = true;
    }
  });
}

constexpr size_t kUpdateTargetBytes = size_t(1) << 20;
constexpr size_t kUpdateOffset = 1026;
constexpr size_t kUpdateBytes = 4;

struct UpdateState {
  UpdateState(devtensor::Device gpu, const CudaRuntime& cuda, HostMemory memory)
      : cuda(cuda),
        memory(memory),
        my_value_memory(cuda, memory, kUpdateBytes),
        value(Tensor::wrap(BenchEnv(), BenchCpu(), my_value_memory.get(), kUpdateBytes, 0, DT_UINT16, {2})),
        device(Tensor::create(BenchEnv(), gpu, DT_UINT8, {int64_t(kUpdateTargetBytes)})),
        slot(device.view(kUpdateOffset, DT_UINT16, {2})),
        cuda_value(cuda, CudaBuffer::Where::kHost, kUpdateBytes),
        cuda_device(cuda, CudaBuffer::Where::kDevice, kUpdateTargetBytes),
        pageable_value(kUpdateBytes) {
    const uint16_t words[2] = {0x1234, 0x5678};
    for (void* to : {static_cast<void*>(my_value_memory.get()), cuda_value.get(),
                     static_cast<void*>(pageable_value.data())}) {
      std::memcpy(to, words, kUpdateBytes);
    }
    BenchEnv().zero(device);
    const std::vector<uint8_t> zeros(kUpdateTargetBytes, 0);
    cuda.Copy(cuda_device.get(), zeros.data(), kUpdateTargetBytes, CudaCopy::kHostToDevice);
  }

  const CudaRuntime& cuda;
  HostMemory memory;
  HostBuffer my_value_memory;
  Tensor value, device, slot;
  CudaBuffer cuda_value, cuda_device;
  std::vector<uint8_t> pageable_value;
  bool checked = false;
};

// Both targets hold the 4 bytes at the offset and zeros around them.
void CheckUpdate(UpdateState& s) {
  std::vector<uint8_t> expected(kUpdateTargetBytes, 0), back(kUpdateTargetBytes, 1);
  std::memcpy(expected.data() + kUpdateOffset, s.pageable_value.data(), kUpdateBytes);
  BenchEnv().copy(s.device, HostTensor(back.data(), kUpdateTargetBytes));
  if (back != expected) throw std::runtime_error("wrong data from devtensor");
  s.cuda.Copy(back.data(), s.cuda_device.get(), kUpdateTargetBytes, CudaCopy::kDeviceToHost);
  if (back != expected) throw std::runtime_error("wrong data from CUDA");
}

void UpdateFourBytes(benchmark::State& state, HostMemory memory, const std::string& name) {
  Guarded(state, [&] {
    const devtensor::Device gpu = TheCudaDevice();
    const CudaRuntime& cuda = Cuda();
    auto& s = Kept<UpdateState>("cuda/" + name, [&] { return std::make_unique<UpdateState>(gpu, cuda, memory); });
    void* at = s.cuda_device.as<uint8_t>() + kUpdateOffset;
    std::vector<Contender> contenders = {
        {"devtensor", [&s] { BenchEnv().copy(s.value, s.slot); }},
        {"cuda", [&s, at] { s.cuda.Copy(at, s.cuda_value.get(), kUpdateBytes, CudaCopy::kHostToDevice); }}};
    if (memory == HostMemory::kPageable) {
      contenders.push_back({"cuda_pageable", [&s, at] {
                              s.cuda.Copy(at, s.pageable_value.data(), kUpdateBytes, CudaCopy::kHostToDevice);
                            }});
    }
    RunSideBySide(state, kUpdateBytes, contenders);
    if (!s.checked && !state.error_occurred()) {
      CheckUpdate(s);
      s.checked = true;
    }
  });
}

void RegisterTransfers(const SuiteOptions& options) {
  const struct {
    const char* name;
    Direction direction;
    HostMemory memory;
  } cases[] = {{"upload", Direction::kUpload, HostMemory::kPinned},
               {"download", Direction::kDownload, HostMemory::kPinned},
               {"upload_pageable", Direction::kUpload, HostMemory::kPageable},
               {"download_pageable", Direction::kDownload, HostMemory::kPageable},
               {"device_copy", Direction::kDeviceCopy, HostMemory::kPinned}};
  for (const auto& c : cases) {
    for (size_t size = 4 << 10; size <= options.max_bytes; size *= 4) {
      const std::string name = std::string(c.name) + "/" + std::to_string(size);
      auto* b = benchmark::RegisterBenchmark(
          name.c_str(), [direction = c.direction, memory = c.memory, name, size](benchmark::State& state) {
            Transfer(state, direction, memory, name, size);
          });
      b->UseManualTime();
      // A handful of samples is plenty where one iteration takes a large part of a second.
      if (size >= (size_t(256) << 20)) b->Iterations(5);
    }
  }
  for (HostMemory memory : {HostMemory::kPinned, HostMemory::kPageable}) {
    const std::string name = std::string("update_4_bytes_at_1026") +
                             (memory == HostMemory::kPageable ? "_pageable" : "") + "/4";
    benchmark::RegisterBenchmark(name.c_str(), [memory, name](benchmark::State& state) {
      UpdateFourBytes(state, memory, name);
    })->UseManualTime();
  }
}

}  // namespace

std::vector<std::string> RegisterCudaCases(const SuiteOptions& options) {
  try {
    TheCudaDevice();
  } catch (const std::exception& e) {
    return {std::string("no CUDA device, so no CUDA case runs: ") + e.what()};
  }
  std::vector<std::string> left_out;
  if (CudaRuntime::Get() != nullptr) {
    RegisterTransfers(options);
  } else {
    left_out.push_back("CUDA transfers and updates left out: their baselines and pinned memory need "
                       "the CUDA runtime (" + CudaRuntime::Description() + ")");
  }
  RegisterDecodeCases(options, DT_DEVICE_CUDA);
  return left_out;
}

}  // namespace devtensor::bench
