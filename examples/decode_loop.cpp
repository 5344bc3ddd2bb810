// A Llama-shaped decode loop's state updates, three ways, on the same data:
//   host      what users do today: download the state, patch it on the CPU, upload it
//   device    ops on views of the state, on a stream; only the token id comes to the host
//   captured  one step recorded once and replayed (one submit per step)
// Per step, for every layer, a fresh K and V token (made on the device, standing in for the
// model's projections) is appended to the caches at the current position; the attention mask and
// the position ids advance; the logits change and ArgMax picks the next token, whose id is all that
// reaches the host. The program checks that the three modes end with identical state and tokens,
// and prints the time per step of each.
//
//   decode_loop [--device webgpu|cpu] [--mode all|host|device|captured] [--layers N]
//               [--kv-heads N] [--head-dim N] [--max-length N] [--vocab N] [--start T]
//               [--steps N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "devtensor/devtensor.hpp"

namespace {

using devtensor::Tensor;

struct Options {
  std::string device = "webgpu";
  std::string mode = "all";
  int64_t layers = 4, kv_heads = 2, head_dim = 64, max_length = 256, vocab = 1000;
  int64_t start = 8, steps = 16;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--device") o.device = value;
    else if (key == "--mode") o.mode = value;
    else if (key == "--layers") o.layers = std::atoll(value.c_str());
    else if (key == "--kv-heads") o.kv_heads = std::atoll(value.c_str());
    else if (key == "--head-dim") o.head_dim = std::atoll(value.c_str());
    else if (key == "--max-length") o.max_length = std::atoll(value.c_str());
    else if (key == "--vocab") o.vocab = std::atoll(value.c_str());
    else if (key == "--start") o.start = std::atoll(value.c_str());
    else if (key == "--steps") o.steps = std::atoll(value.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      std::exit(2);
    }
  }
  if (o.start + o.steps > o.max_length) {
    std::fprintf(stderr, "--start + --steps must not exceed --max-length\n");
    std::exit(2);
  }
  return o;
}

// The decode state and what makes each step's fresh values, all on the device.
struct State {
  std::vector<Tensor> k_cache, v_cache;     // per layer [1, kv_heads, max_length, head_dim] fp16
  std::vector<Tensor> new_k, new_v;         // per layer [1, kv_heads, 1, head_dim] fp16
  Tensor kv_delta;                          // added to new_k / new_v each step
  Tensor mask;                              // [1, max_length] int64
  Tensor position_ids;                      // [1, 1] int64
  Tensor length;                            // int32 scalar: tokens in the cache so far
  Tensor logits, logits_delta;              // [1, vocab] float
  Tensor flip;                              // [1] float, -1: logits alternate direction
  Tensor token;                             // [1] int64: ArgMax of the logits
};

// Deterministic pseudo-random bytes, so that every mode starts from the same state.
void Pattern(const devtensor::Env& env, devtensor::Device cpu, const Tensor& t, uint32_t seed) {
  const size_t bytes = t.element_count() * DtGetElementSize(t.type());
  Tensor host = Tensor::create(env, cpu, t.type(), t.shape());
  auto* p = host.data<uint8_t>();
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < bytes; ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<uint8_t>(x >> 24);
  }
  if (t.type() == DT_FLOAT16) {  // keep fp16 values finite and modest: exponent below 15
    for (size_t i = 1; i < bytes; i += 2) p[i] &= 0xBB;
  }
  if (t.type() == DT_FLOAT) {
    for (size_t i = 0; i < t.element_count(); ++i) host.data<float>()[i] = float(int(p[i * 4] % 200) - 100) / 8.0f;
  }
  env.copy(host, t);
}

State MakeState(const devtensor::Env& env, devtensor::Device device, devtensor::Device cpu,
                const Options& o) {
  State s;
  for (int64_t l = 0; l < o.layers; ++l) {
    for (auto* caches : {&s.k_cache, &s.v_cache}) {
      caches->push_back(Tensor::create(env, device, DT_FLOAT16, {1, o.kv_heads, o.max_length, o.head_dim}));
      Pattern(env, cpu, caches->back(), uint32_t(l * 2 + (caches == &s.v_cache)));
    }
    for (auto* fresh : {&s.new_k, &s.new_v}) {
      fresh->push_back(Tensor::create(env, device, DT_FLOAT16, {1, o.kv_heads, 1, o.head_dim}));
      Pattern(env, cpu, fresh->back(), uint32_t(1000 + l * 2 + (fresh == &s.new_v)));
    }
  }
  s.kv_delta = Tensor::create(env, device, DT_FLOAT16, {1, o.kv_heads, 1, o.head_dim});
  env.run("Fill", {}, {&s.kv_delta}, {devtensor::FloatAttribute("value", 0.125f)});
  s.mask = Tensor::create(env, device, DT_INT64, {1, o.max_length});
  s.position_ids = Tensor::create(env, device, DT_INT64, {1, 1});
  s.length = Tensor::create(env, device, DT_INT32, {});
  env.run("Fill", {}, {&s.position_ids}, {devtensor::FloatAttribute("value", float(o.start - 1))});
  env.run("Fill", {}, {&s.length}, {devtensor::FloatAttribute("value", float(o.start))});
  env.run("UpdateAttentionMask", {&s.length}, {&s.mask});
  s.logits = Tensor::create(env, device, DT_FLOAT, {1, o.vocab});
  s.logits_delta = Tensor::create(env, device, DT_FLOAT, {1, o.vocab});
  Pattern(env, cpu, s.logits, 7);
  Pattern(env, cpu, s.logits_delta, 8);
  s.flip = Tensor::create(env, device, DT_FLOAT, {1});
  env.run("Fill", {}, {&s.flip}, {devtensor::FloatAttribute("value", -1.0f)});
  s.token = Tensor::create(env, device, DT_INT64, {1});
  return s;
}

// The model's part of a step, on the device in every mode: fresh K/V values and new logits.
void ModelStep(const devtensor::Env& env, State& s, const devtensor::Stream* stream) {
  for (size_t l = 0; l < s.new_k.size(); ++l) {
    env.run("Add", {&s.new_k[l], &s.kv_delta}, {&s.new_k[l]}, {}, stream);
    env.run("Add", {&s.new_v[l], &s.kv_delta}, {&s.new_v[l]}, {}, stream);
  }
  env.run("Mul", {&s.logits, &s.flip}, {&s.logits}, {}, stream);
  env.run("Add", {&s.logits, &s.logits_delta}, {&s.logits}, {}, stream);
}

// The state update on the device: append at `length`, then advance mask, position and length.
void DeviceUpdate(const devtensor::Env& env, State& s, const devtensor::Stream* stream) {
  for (size_t l = 0; l < s.k_cache.size(); ++l) {
    env.run("KvCacheAppend", {&s.new_k[l], &s.length}, {&s.k_cache[l]}, {}, stream);
    env.run("KvCacheAppend", {&s.new_v[l], &s.length}, {&s.v_cache[l]}, {}, stream);
  }
  env.run("UpdatePositionIds", {}, {&s.position_ids}, {}, stream);
  env.run("UpdatePositionIds", {}, {&s.length}, {}, stream);
  env.run("UpdateAttentionMask", {&s.length}, {&s.mask}, {}, stream);
  env.run("ArgMax", {&s.logits}, {&s.token},
          {devtensor::IntAttribute("axis", 1), devtensor::IntAttribute("keepdims", 0)}, stream);
}

// The state update as users do it today: everything down, patched on the CPU, everything up.
void HostUpdate(const devtensor::Env& env, devtensor::Device cpu, State& s, const Options& o,
                int64_t length) {
  for (size_t l = 0; l < s.k_cache.size(); ++l) {
    for (auto [cache, fresh] : {std::pair{&s.k_cache[l], &s.new_k[l]}, std::pair{&s.v_cache[l], &s.new_v[l]}}) {
      Tensor host_cache = Tensor::create(env, cpu, DT_FLOAT16, cache->shape());
      Tensor host_new = Tensor::create(env, cpu, DT_FLOAT16, fresh->shape());
      env.copy({{cache, &host_cache}, {fresh, &host_new}});
      for (int64_t h = 0; h < o.kv_heads; ++h) {
        std::memcpy(host_cache.data<uint16_t>() + (h * o.max_length + length) * o.head_dim,
                    host_new.data<uint16_t>() + h * o.head_dim, size_t(o.head_dim) * 2);
      }
      env.copy(host_cache, *cache);
    }
  }
  Tensor mask = Tensor::create(env, cpu, DT_INT64, s.mask.shape());
  Tensor position = Tensor::create(env, cpu, DT_INT64, {1, 1});
  Tensor count = Tensor::create(env, cpu, DT_INT32, {});
  Tensor logits = Tensor::create(env, cpu, DT_FLOAT, s.logits.shape());
  env.copy({{&s.mask, &mask}, {&s.position_ids, &position}, {&s.length, &count}, {&s.logits, &logits}});
  position.data<int64_t>()[0] += 1;
  count.data<int32_t>()[0] += 1;
  for (int64_t m = 0; m < o.max_length; ++m) mask.data<int64_t>()[m] = m < count.data<int32_t>()[0] ? 1 : 0;
  int64_t best = 0;
  for (int64_t v = 1; v < o.vocab; ++v) {
    if (logits.data<float>()[v] > logits.data<float>()[best]) best = v;
  }
  Tensor token = Tensor::create(env, cpu, DT_INT64, {1});
  token.data<int64_t>()[0] = best;
  env.copy({{&mask, &s.mask}, {&position, &s.position_ids}, {&count, &s.length}, {&token, &s.token}});
}

// Everything a mode leaves behind, as bytes, to compare modes.
std::vector<uint8_t> Snapshot(const devtensor::Env& env, devtensor::Device cpu, const State& s) {
  std::vector<uint8_t> bytes;
  auto add = [&](const Tensor& t) {
    Tensor host = Tensor::create(env, cpu, t.type(), t.shape());
    env.copy(t, host);
    const auto* p = host.data<uint8_t>();
    bytes.insert(bytes.end(), p, p + t.element_count() * DtGetElementSize(t.type()));
  };
  for (const auto& t : s.k_cache) add(t);
  for (const auto& t : s.v_cache) add(t);
  for (const Tensor* t : {&s.mask, &s.position_ids, &s.length, &s.token}) add(*t);
  return bytes;
}

struct Result {
  double ms_per_step = 0;
  std::vector<int64_t> tokens;
  std::vector<uint8_t> state;
  bool ran = false;
  std::string note;
};

Result Run(const std::string& mode, const Options& o) {
  devtensor::Env env;
  devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  devtensor::Device device = o.device == "cpu" ? cpu : env.device(DT_DEVICE_WEBGPU);
  State s = MakeState(env, device, cpu, o);
  devtensor::Stream stream = env.create_stream(device);
  Tensor token = Tensor::create(env, cpu, DT_INT64, {1});
  Result r;
  devtensor::Graph graph;
  if (mode == "captured") {
    try {
      devtensor::begin_capture(stream);
    } catch (const devtensor::Error& e) {
      r.note = e.what();
      return r;
    }
    ModelStep(env, s, &stream);
    DeviceUpdate(env, s, &stream);
    env.copy(s.token, token, &stream);
    graph = devtensor::end_capture(stream);
  }
  const auto begin = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < o.steps; ++step) {
    if (mode == "host") {
      ModelStep(env, s, nullptr);
      HostUpdate(env, cpu, s, o, o.start + step);
      env.copy(s.token, token);
    } else if (mode == "device") {
      ModelStep(env, s, &stream);
      DeviceUpdate(env, s, &stream);
      env.copy(s.token, token, &stream);
      stream.synchronize();
    } else {
      graph.replay(stream);
      stream.synchronize();
    }
    r.tokens.push_back(token.data<int64_t>()[0]);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
  r.ms_per_step = ms / double(o.steps);
  uint32_t flags = 0;
  devtensor::Check(DtGetDeviceErrorFlags(device.get(), &flags));
  if (flags != 0) r.note = "device error flags " + std::to_string(flags);
  r.state = Snapshot(env, cpu, s);
  r.ran = true;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  std::printf("decode loop on %s: %lld layers, %lld KV heads, head dim %lld, fp16, max length %lld, "
              "vocab %lld, t = %lld .. %lld\n",
              o.device.c_str(), (long long)o.layers, (long long)o.kv_heads, (long long)o.head_dim,
              (long long)o.max_length, (long long)o.vocab, (long long)o.start,
              (long long)(o.start + o.steps));
  std::vector<std::string> modes = {"host", "device", "captured"};
  if (o.mode != "all") modes = {o.mode};
  std::map<std::string, Result> results;
  try {
    for (const auto& mode : modes) {
      results[mode] = Run(mode, o);
      const Result& r = results[mode];
      if (r.ran) {
        std::printf("  %-8s %10.3f ms per step%s%s\n", mode.c_str(), r.ms_per_step,
                    r.note.empty() ? "" : "  ", r.note.c_str());
      } else {
        std::printf("  %-8s not run: %s\n", mode.c_str(), r.note.c_str());
      }
    }
  } catch (const devtensor::Error& e) {
    std::fprintf(stderr, "decode_loop: %s\n", e.what());
    return 1;
  }
  const Result* first = nullptr;
  bool same = true;
  for (const auto& mode : modes) {
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
