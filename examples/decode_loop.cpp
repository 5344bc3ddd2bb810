// A Llama-shaped decode loop's state updates, three ways, on the same data (host, device and
// captured: see decode/decode_step.h). The program checks that the three modes end with identical
// state and tokens, and prints the time per step of each. On a device that the host's CPU emulates
// (a WebGPU adapter such as lavapipe) it says so: there the device modes are no faster than the
// host. Where the device's streams cannot record (the CPU), the captured mode says so and is not run.
//
//   decode_loop [--device webgpu|cuda|cpu] [--mode all|host|device|captured] [--layers N]
//               [--kv-heads N] [--head-dim N] [--max-length N] [--vocab N] [--start T]
//               [--steps N]
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "decode/decode_step.h"
#include "devtensor/devtensor.hpp"
#include "options.h"

namespace {

struct Options {
  std::string device = "webgpu";
  std::string mode = "all";
  decode::ModelShape shape;
  int64_t start = 8, steps = 16;
};

Options Parse(int argc, char** argv) {
  Options o;
  example::Options options("decode_loop",
                           "A decode loop's state (KV cache, mask, position ids, logits) updated "
                           "on the host, on the device and as a replayed graph.");
  options.add("--device", &o.device, "where the state lives", {"webgpu", "cuda", "cpu"});
  options.add("--mode", &o.mode, "which ways to run", {"all", "host", "device", "captured"});
  options.add("--layers", &o.shape.layers, "layers, each with a K and a V cache", 1);
  options.add("--kv-heads", &o.shape.kv_heads, "KV heads", 1);
  options.add("--head-dim", &o.shape.head_dim, "head dimension", 1);
  options.add("--max-length", &o.shape.max_length, "tokens a cache holds", 1);
  options.add("--vocab", &o.shape.vocab, "vocabulary size (logits per step)", 1);
  options.add("--start", &o.start, "tokens in the cache before the first step", 0);
  options.add("--steps", &o.steps, "decode steps", 1);
  options.parse(argc, argv);
  if (o.start + o.steps > o.shape.max_length) {
    options.fail("--start + --steps must not exceed --max-length");
  }
  return o;
}

// The device type --device names.
DtDeviceType DeviceType(const Options& o) {
  if (o.device == "cpu") return DT_DEVICE_CPU;
  if (o.device == "cuda") return DT_DEVICE_CUDA;
  return DT_DEVICE_WEBGPU;
}

struct Result {
  double ms_per_step = 0;
  std::vector<int64_t> tokens;
  std::vector<uint8_t> state;
  bool ran = false;
  std::string note;
};

Result Run(decode::Mode mode, const Options& o) {
  devtensor::Env env;
  devtensor::Device device = env.device(DeviceType(o));
  Result r;
  std::optional<decode::Decoder> decoder;
  try {
    decoder.emplace(env, device, o.shape, mode, o.start);
  } catch (const decode::CaptureUnavailable& e) {
    r.note = e.what();
    return r;
  }
  {
    // A device compiles its kernels on first use: one untimed step of a small model first, on a
    // state of its own, so that the timed steps start from the same state in every mode.
    decode::ModelShape small;
    small.vocab = 10000;  // long enough for ArgMax's long-axis kernels
    decode::Decoder warm(env, device, small, mode, 8);
    warm.Step();
  }
  const auto begin = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < o.steps; ++step) r.tokens.push_back(decoder->Step());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
  r.ms_per_step = ms / double(o.steps);
  if (const uint32_t flags = decoder->DeviceErrorFlags()) {
    r.note = "device error flags " + std::to_string(flags);
  }
  r.state = decoder->Snapshot();
  r.ran = true;
  return r;
}

// One line on what the device is, and a note when the host's CPU emulates it.
void DescribeDevice(const Options& o) {
  devtensor::Env env;
  const devtensor::Device device = env.device(DeviceType(o));
  std::printf("  device: %s (%s)\n", device.name().c_str(), device.type_name());
  if (device.type() != DT_DEVICE_CPU && device.runs_on_cpu()) {
    std::printf("  note: this %s device is emulated by the host's CPU (a software adapter): its "
                "kernels run on the host's cores, so the device mode may well be slower than the "
                "host mode here\n", device.type_name());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  std::printf("decode_loop: a decode loop's state (KV cache, mask, position ids, logits) updated on "
              "the host, on the device and as a replayed graph, checked identical\n");
  std::printf("decode loop on %s: %lld layers, %lld KV heads, head dim %lld, fp16, max length %lld, "
              "vocab %lld, t = %lld .. %lld\n",
              o.device.c_str(), (long long)o.shape.layers, (long long)o.shape.kv_heads,
              (long long)o.shape.head_dim, (long long)o.shape.max_length, (long long)o.shape.vocab,
              (long long)o.start,
              (long long)(o.start + o.steps));
  std::vector<decode::Mode> modes;
  for (decode::Mode mode : {decode::Mode::kHost, decode::Mode::kDevice, decode::Mode::kCaptured}) {
    if (o.mode == "all" || o.mode == decode::ModeName(mode)) modes.push_back(mode);
  }
  std::map<decode::Mode, Result> results;
  try {
    DescribeDevice(o);
    for (decode::Mode mode : modes) {
      results[mode] = Run(mode, o);
      const Result& r = results[mode];
      if (r.ran) {
        std::printf("  %-8s %10.3f ms per step%s%s\n", decode::ModeName(mode), r.ms_per_step,
                    r.note.empty() ? "" : "  ", r.note.c_str());
      } else {
        std::printf("  %-8s not run: %s\n", decode::ModeName(mode), r.note.c_str());
      }
    }
  } catch (const devtensor::Error& e) {
    std::fprintf(stderr, "decode_loop: %s\n", e.what());
    return 1;
  }
  const Result* first = nullptr;
  bool same = true;
  for (decode::Mode mode : modes) {
    const Result& r = results[mode];
    if (!r.ran) continue;
    if (!r.note.empty()) same = false;
    if (first == nullptr) {
      first = &r;
      continue;
    }
    same = same && r.tokens == first->tokens && r.state == first->state;
  }
  if (first != nullptr && !first->tokens.empty()) {
    std::printf("  tokens: %lld ... %lld\n", (long long)first->tokens.front(), (long long)first->tokens.back());
  }
  std::printf("  state and tokens %s across modes\n", same ? "identical" : "DIFFER");
  return same ? 0 : 1;
}
