// Small updates from the host into device tensors, as a decode loop makes them, on WebGPU device 0.
//
// update_4_bytes_at_1024: 4 bytes at byte 1024 of a 1 MiB buffer; raw Dawn writes them directly.
// update_4_bytes_at_1026: the same at byte 1026, which WebGPU's own writes cannot address (offsets
//   must be multiples of 4): devtensor's exact-copy kernel against the raw code's best substitute,
//   a read-modify-write of the covering 8 bytes through the host.
// small_updates: 64 updates of 4 to 256 bytes at scattered offsets of a 64 MiB tensor, a quarter of
//   them at offsets that are not multiples of 4 (with odd sizes). Contenders:
//     devtensor        one DtCopyTensors call with 64 pairs
//     raw_dawn         64 queue writes, then one submit and wait. WebGPU writes only whole 4-byte
//                      words, so each write is widened to the words it touches, their other bytes
//                      taken from a host copy of the buffer that the raw code keeps up to date (the
//                      cheapest exact way without a shader; keeping a 64 MiB copy is its cost).
//     one_call_each    64 DtCopyTensors calls, each returning when its copy is done
//     calls_on_stream  64 DtCopyTensors calls on a stream, then one DtSynchronizeStream
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_devices.h"
#include "kept_state.h"
#include "registry.h"
#include "side_by_side.h"

namespace devtensor::bench {
namespace {

using devtensor::Tensor;

constexpr size_t kBufferBytes = 1 << 20;

struct FourBytesState {
  FourBytesState(const WebGpu& gpu, size_t offset)
      : offset(offset),
        device(Tensor::create(BenchEnv(), gpu.device, DT_UINT8, {int64_t(kBufferBytes)})),
        slot(device.view(offset, DT_UINT16, {2})),
        value(Tensor::create(BenchEnv(), BenchCpu(), DT_UINT16, {2})),
        raw_buffer(gpu.raw, kBufferBytes),
        raw_readback(gpu.raw, kBufferBytes, kReadbackUsage) {
    value.data<uint16_t>()[0] = 0x1234;
    value.data<uint16_t>()[1] = 0x5678;
  }
  size_t offset;
  Tensor device, slot, value;
  RawBuffer raw_buffer, raw_readback;
};

void UpdateFourBytes(benchmark::State& state, size_t offset) {
  Guarded(state, [&] {
    const WebGpu& gpu = TheWebGpu();
    const RawDawn& raw = gpu.raw;
    auto& s = Kept<FourBytesState>("update_4_bytes/" + std::to_string(offset), [&] {
      return std::make_unique<FourBytesState>(gpu, offset);
    });
    const uint64_t base = offset & ~uint64_t(3);
    Contender raw_update{"raw_dawn", [&] { raw.Upload(s.raw_buffer.get(), offset, s.value.data(), 4); }};
    if (base != offset) {
      raw_update.run = [&] {
        uint8_t words[8];
        raw.Download(s.raw_buffer.get(), base, s.raw_readback.get(), words, 8);
        std::memcpy(words + (offset - base), s.value.data(), 4);
        raw.Upload(s.raw_buffer.get(), base, words, 8);
      };
    }
    RunSideBySide(state, 4, {{"devtensor", [&] { BenchEnv().copy(s.value, s.slot); }}, raw_update});
    if (state.error_occurred()) return;
    Tensor mine = Tensor::create(BenchEnv(), BenchCpu(), DT_UINT16, {2});
    BenchEnv().copy(s.slot, mine);
    std::vector<uint8_t> back(8);
    raw.Download(s.raw_buffer.get(), base, s.raw_readback.get(), back.data(), 8);
    if (std::memcmp(mine.data(), s.value.data(), 4) != 0 ||
        std::memcmp(back.data() + (offset - base), s.value.data(), 4) != 0) {
      throw std::runtime_error("wrong data");
    }
  });
}

constexpr size_t kTargetBytes = size_t(64) << 20;
constexpr int kUpdates = 64;

struct Update {
  size_t offset, size, source;  // source: where its bytes start in the host values
};

// 64 updates, one per MiB of the target, at scattered places inside it; every fourth one starts
// 1 to 3 bytes past a multiple of 4.
std::vector<Update> ScatteredUpdates() {
  std::vector<Update> updates;
  size_t source = 0;
  for (int i = 0; i < kUpdates; ++i) {
    const size_t size = 4 + size_t(i * 61) % 253;
    const size_t misalign = i % 4 == 3 ? 1 + size_t(i / 4) % 3 : 0;
    const size_t offset = size_t(i) * (kTargetBytes / kUpdates) + size_t(i * 7919) % 65536 * 8 + misalign;
    updates.push_back({offset, size, source});
    source += size;
  }
  return updates;
}

size_t TotalBytes(const std::vector<Update>& updates) {
  return updates.back().source + updates.back().size;
}

struct SmallUpdatesState {
  explicit SmallUpdatesState(const WebGpu& gpu)
      : updates(ScatteredUpdates()),
        initial(Pattern(kTargetBytes, 9)),
        target(Tensor::create(BenchEnv(), gpu.device, DT_UINT8, {int64_t(kTargetBytes)})),
        values(Tensor::create(BenchEnv(), BenchCpu(), DT_UINT8, {int64_t(TotalBytes(updates))})),
        stream(BenchEnv().create_stream(gpu.device)),
        raw_target(gpu.raw, kTargetBytes),
        raw_mirror(initial) {
    const devtensor::Env& env = BenchEnv();
    const std::vector<uint8_t> bytes = Pattern(TotalBytes(updates), 77);
    std::memcpy(values.data(), bytes.data(), bytes.size());
    Tensor host = Tensor::wrap(env, BenchCpu(), initial.data(), kTargetBytes, 0, DT_UINT8,
                               {int64_t(kTargetBytes)});
    env.copy(host, target);
    gpu.raw.Upload(raw_target.get(), 0, initial.data(), kTargetBytes);
    for (const Update& u : updates) {
      sources.push_back(values.view(u.source, DT_UINT8, {int64_t(u.size)}));
      slots.push_back(target.view(u.offset, DT_UINT8, {int64_t(u.size)}));
    }
    for (size_t i = 0; i < updates.size(); ++i) {
      source_values.push_back(sources[i].get());
      slot_values.push_back(slots[i].get());
    }
  }

  std::vector<Update> updates;
  std::vector<uint8_t> initial;
  Tensor target, values;
  std::vector<Tensor> sources, slots;
  std::vector<const DtValue*> source_values;
  std::vector<DtValue*> slot_values;
  devtensor::Stream stream;
  RawBuffer raw_target;
  std::vector<uint8_t> raw_mirror;  // the raw code's host copy of its buffer
  bool checked = false;
};

void RawUpdates(const RawDawn& raw, SmallUpdatesState& s) {
  const auto* values = s.values.data<uint8_t>();
  for (const Update& u : s.updates) {
    std::memcpy(s.raw_mirror.data() + u.offset, values + u.source, u.size);
    const size_t begin = u.offset & ~size_t(3), end = (u.offset + u.size + 3) & ~size_t(3);
    raw.Write(s.raw_target.get(), begin, s.raw_mirror.data() + begin, end - begin);
  }
  raw.SubmitAndWait();
}

void CheckSmallUpdates(const WebGpu& gpu, SmallUpdatesState& s) {
  std::vector<uint8_t> expected = s.initial;
  for (const Update& u : s.updates) {
    std::memcpy(expected.data() + u.offset, s.values.data<uint8_t>() + u.source, u.size);
  }
  Tensor mine = Tensor::create(BenchEnv(), BenchCpu(), DT_UINT8, {int64_t(kTargetBytes)});
  BenchEnv().copy(s.target, mine);
  if (std::memcmp(mine.data(), expected.data(), kTargetBytes) != 0) {
    throw std::runtime_error("wrong data from devtensor");
  }
  std::vector<uint8_t> back(kTargetBytes);
  RawBuffer readback(gpu.raw, kTargetBytes, kReadbackUsage);
  gpu.raw.Download(s.raw_target.get(), 0, readback.get(), back.data(), kTargetBytes);
  if (back != expected) throw std::runtime_error("wrong data from raw Dawn");
}

void SmallUpdates(benchmark::State& state) {
  Guarded(state, [&] {
    const WebGpu& gpu = TheWebGpu();
    auto& s = Kept<SmallUpdatesState>("small_updates", [&] { return std::make_unique<SmallUpdatesState>(gpu); });
    const devtensor::Env& env = BenchEnv();
    const size_t n = s.updates.size();
    RunSideBySide(
        state, TotalBytes(s.updates),
        {{"devtensor", [&] {
            devtensor::Check(DtCopyTensors(env.get(), s.source_values.data(), s.slot_values.data(), n, nullptr));
          }},
         {"raw_dawn", [&] { RawUpdates(gpu.raw, s); }},
         {"one_call_each", [&] {
            for (size_t i = 0; i < n; ++i) {
              devtensor::Check(DtCopyTensors(env.get(), &s.source_values[i], &s.slot_values[i], 1, nullptr));
            }
          }},
         {"calls_on_stream", [&] {
            for (size_t i = 0; i < n; ++i) {
              devtensor::Check(DtCopyTensors(env.get(), &s.source_values[i], &s.slot_values[i], 1, s.stream.get()));
            }
            s.stream.synchronize();
          }}});
    if (!s.checked && !state.error_occurred()) {
      CheckSmallUpdates(gpu, s);
      s.checked = true;
    }
  });
}

}  // namespace

void RegisterUpdateCases(const SuiteOptions&) {
  benchmark::RegisterBenchmark("update_4_bytes_at_1024/4", [](benchmark::State& state) {
    UpdateFourBytes(state, 1024);
  })->UseManualTime();
  benchmark::RegisterBenchmark("update_4_bytes_at_1026/4", [](benchmark::State& state) {
    UpdateFourBytes(state, 1026);
  })->UseManualTime();
  const std::string name = "small_updates/" + std::to_string(TotalBytes(ScatteredUpdates()));
  benchmark::RegisterBenchmark(name.c_str(), &SmallUpdates)->UseManualTime();
}

}  // namespace devtensor::bench
