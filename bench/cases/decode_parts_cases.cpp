// Where a captured decode step's time goes on WebGPU device 0, at the Llama-8B shape with t = 128:
// the whole step, and each of its parts recorded and replayed as a graph of its own, beside raw
// Dawn running as many trivial dispatches (one workgroup each, each writing its own buffer) in one
// compute pass and one submit: the floor for any step made of that many dispatches.
//   step        the captured step (what decode/<t> calls captured)
//   device      the same step issued op by op on a stream (decode/<t>'s device mode)
//   model       ModelStep: an Add per layer for K and V, then Mul and Add on the logits
//   kv_append   a KvCacheAppend per layer for K and V
//   state       UpdatePositionIds twice and UpdateAttentionMask
//   argmax      ArgMax of the logits
//   token       the token's copy to the host
//   fill_f32    a Fill per layer for K and V on float tensors of a token's size (whole words)
//   fill_f16    the same on fp16 tensors (half words: each write a masked atomic AND and OR)
//   raw_dawn    raw Dawn, as many dispatches as the step has ops
//   raw_dawn_1  raw Dawn, one dispatch
// Every replay waits for its work. The parts change the state as the step does; the case times a
// fixed number of iterations from t, so that the cache never fills.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_devices.h"
#include "decode/decode_step.h"
#include "kept_state.h"
#include "registry.h"
#include "side_by_side.h"

namespace devtensor::bench {
namespace {

constexpr int64_t kStart = 128;
constexpr int kIterations = 50;

constexpr const char* kTrivialShader = R"(
@group(0) @binding(0) var<storage, read_write> words: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) { words[id.x] = words[id.x] + 1u; }
)";

struct PartsState {
  explicit PartsState(const WebGpu& gpu)
      : env(BenchEnv()),
        state(decode::MakeState(env, gpu.device, BenchCpu(), decode::LlamaEightB(), kStart)),
        stream(env.create_stream(gpu.device)),
        token(devtensor::Tensor::create(env, BenchCpu(), DT_INT64, {1})),
        raw(gpu.raw),
        pipeline(raw.CreatePipeline(kTrivialShader)) {
    auto capture = [&](const std::function<void()>& body) {
      devtensor::begin_capture(stream);
      body();
      return devtensor::end_capture(stream);
    };
    step = capture([&] {
      decode::ModelStep(env, state, &stream);
      decode::DeviceUpdate(env, state, &stream);
      env.copy(state.token, token, &stream);
    });
    model = capture([&] { decode::ModelStep(env, state, &stream); });
    kv_append = capture([&] {
      for (size_t l = 0; l < state.k_cache.size(); ++l) {
        env.run("KvCacheAppend", {&state.new_k[l], &state.length}, {&state.k_cache[l]}, {}, &stream);
        env.run("KvCacheAppend", {&state.new_v[l], &state.length}, {&state.v_cache[l]}, {}, &stream);
      }
    });
    update = capture([&] {
      env.run("UpdatePositionIds", {}, {&state.position_ids}, {}, &stream);
      env.run("UpdatePositionIds", {}, {&state.length}, {}, &stream);
      env.run("UpdateAttentionMask", {&state.length}, {&state.mask}, {}, &stream);
    });
    argmax = capture([&] {
      env.run("ArgMax", {&state.logits}, {&state.token},
              {devtensor::IntAttribute("axis", 1), devtensor::IntAttribute("keepdims", 0)}, &stream);
    });
    download = capture([&] { env.copy(state.token, token, &stream); });
    const decode::ModelShape shape = decode::LlamaEightB();
    for (size_t i = 0; i < state.k_cache.size() * 2; ++i) {
      for (DtElementType type : {DT_FLOAT, DT_FLOAT16}) {
        (type == DT_FLOAT ? words : halves)
            .push_back(devtensor::Tensor::create(env, gpu.device, type, {1, shape.kv_heads, 1, shape.head_dim}));
      }
    }
    for (auto* tensors : {&words, &halves}) {
      (tensors == &words ? fill_f32 : fill_f16) = capture([&] {
        for (devtensor::Tensor& t : *tensors) {
          env.run("Fill", {}, {&t}, {devtensor::FloatAttribute("value", 1.5f)}, &stream);
        }
      });
    }
    // The step's ops: 4 per layer and 6 more.
    const size_t ops = state.k_cache.size() * 4 + 6;
    for (size_t i = 0; i < ops; ++i) {
      buffers.push_back(std::make_unique<RawBuffer>(raw, 4096));
      groups.push_back(raw.CreateBindGroup(pipeline, {buffers.back()->get()}));
    }
  }
  ~PartsState() {
    for (wgpu::BindGroup group : groups) raw.ReleaseBindGroup(group);
    raw.ReleasePipeline(pipeline);
  }

  void Replay(devtensor::Graph& graph) {
    graph.replay(stream);
    stream.synchronize();
  }

  const devtensor::Env& env;
  decode::State state;
  devtensor::Stream stream;
  devtensor::Tensor token;
  std::vector<devtensor::Tensor> words, halves;
  devtensor::Graph step, model, kv_append, update, argmax, download, fill_f32, fill_f16;
  const RawDawn& raw;
  wgpu::ComputePipeline pipeline;
  std::vector<std::unique_ptr<RawBuffer>> buffers;
  std::vector<wgpu::BindGroup> groups;
};

void DecodeParts(benchmark::State& bench) {
  Guarded(bench, [&] {
    const WebGpu& gpu = TheWebGpu();
    auto& s = Kept<PartsState>("decode_parts", [&] { return std::make_unique<PartsState>(gpu); });
    decode::SetPosition(s.env, s.state, kStart);
    const std::vector<wgpu::BindGroup> one(s.groups.begin(), s.groups.begin() + 1);
    RunSideBySide(bench, 0,
                  {{"step", [&] { s.Replay(s.step); }},
                   {"device", [&] {
                      decode::ModelStep(s.env, s.state, &s.stream);
                      decode::DeviceUpdate(s.env, s.state, &s.stream);
                      s.env.copy(s.state.token, s.token, &s.stream);
                      s.stream.synchronize();
                    }},
                   {"model", [&] { s.Replay(s.model); }},
                   {"kv_append", [&] { s.Replay(s.kv_append); }},
                   {"state", [&] { s.Replay(s.update); }},
                   {"argmax", [&] { s.Replay(s.argmax); }},
                   {"token", [&] { s.Replay(s.download); }},
                   {"fill_f32", [&] { s.Replay(s.fill_f32); }},
                   {"fill_f16", [&] { s.Replay(s.fill_f16); }},
                   {"raw_dawn", [&] { s.raw.DispatchEach(s.pipeline, s.groups, 1); }},
                   {"raw_dawn_1", [&] { s.raw.DispatchEach(s.pipeline, one, 1); }}});
  });
}

}  // namespace

void RegisterDecodePartsCases(const SuiteOptions&) {
  benchmark::RegisterBenchmark(("decode_parts/" + std::to_string(kStart)).c_str(), DecodeParts)
      ->UseManualTime()
      ->Iterations(kIterations)
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace devtensor::bench
