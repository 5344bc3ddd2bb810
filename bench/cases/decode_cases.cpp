// The decode step of examples/decode_loop on CPU, WebGPU device 0 or CUDA device 0, at the Llama-8B
// shape (32 layers, 8 KV heads, head dim 128, fp16, max length 4096, vocab 128256) with t tokens in
// the cache, t = 128, 1024 and 4000, in its three modes side by side: device (the subject), host
// and captured (left out where the device cannot record). Each mode has its own state; all start
// equal and take the same steps, so they must end equal, which is checked once per t. One
// iteration is one step of each mode; every call of the case starts again at t.
#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_devices.h"
#include "decode/decode_step.h"
#include "kept_state.h"
#include "registry.h"
#include "side_by_side.h"

namespace devtensor::bench {
namespace {

constexpr int64_t kPositions[] = {128, 1024, 4000};

struct DecodeState {
  explicit DecodeState(devtensor::Device device) {
    const decode::ModelShape shape = decode::LlamaEightB();
    for (decode::Mode mode : {decode::Mode::kDevice, decode::Mode::kHost, decode::Mode::kCaptured}) {
      try {
        decoders.push_back(std::make_unique<decode::Decoder>(BenchEnv(), device, shape, mode, kPositions[0]));
      } catch (const decode::CaptureUnavailable&) {
        // This device runs the other two modes only.
      }
    }
  }
  std::vector<std::unique_ptr<decode::Decoder>> decoders;  // device first: the subject
  std::set<int64_t> checked;                               // positions checked
};

// Every mode took the same steps from the same state: same position, same bytes.
void Check(const DecodeState& s) {
  const decode::Decoder& first = *s.decoders.front();
  if (const uint32_t flags = first.DeviceErrorFlags()) {
    throw std::runtime_error("device error flags " + std::to_string(flags));
  }
  const std::vector<uint8_t> expected = first.Snapshot();
  for (size_t i = 1; i < s.decoders.size(); ++i) {
    const decode::Decoder& d = *s.decoders[i];
    if (d.position() != first.position() || d.Snapshot() != expected) {
      throw std::runtime_error(std::string("the ") + decode::ModeName(d.mode()) + " mode's state differs from the " +
                               decode::ModeName(first.mode()) + " mode's");
    }
  }
}

void DecodeStep(benchmark::State& state, DtDeviceType type, int64_t t) {
  Guarded(state, [&] {
    const devtensor::Device device = BenchDevice(type);
    auto& s = Kept<DecodeState>(std::string("decode/") + DtGetDeviceTypeName(type),
                                [&] { return std::make_unique<DecodeState>(device); });
    std::vector<Contender> contenders;
    for (auto& decoder : s.decoders) {
      decode::Decoder* d = decoder.get();
      contenders.push_back({decode::ModeName(d->mode()), [d] { d->Step(); }});
    }
    auto restart = [&] {
      for (auto& decoder : s.decoders) decoder->Restart(t);
    };
    restart();
    RunSideBySide(state, 0, contenders, restart);
    if (!s.checked.count(t) && !state.error_occurred()) {
      Check(s);
      s.checked.insert(t);
    }
  });
}

}  // namespace

void RegisterDecodeCases(const SuiteOptions& options, DtDeviceType type) {
  const int64_t max_length = decode::LlamaEightB().max_length;
  for (int64_t t : kPositions) {
    const std::string name = "decode/" + std::to_string(t);
    // Each timed step moves one position on; stay inside the cache.
    const int64_t steps = std::min<int64_t>(options.decode_steps, max_length - t);
    benchmark::RegisterBenchmark(name.c_str(), [type, t](benchmark::State& state) {
      DecodeStep(state, type, t);
    })->UseManualTime()->Iterations(steps)->Unit(benchmark::kMillisecond);
  }
}

}  // namespace devtensor::bench
