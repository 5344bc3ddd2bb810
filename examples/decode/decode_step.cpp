#include "decode_step.h"

#include <cstring>
#include <utility>

namespace decode {

using devtensor::Tensor;

ModelShape LlamaEightB() {
  ModelShape shape;
  shape.layers = 32;
  shape.kv_heads = 8;
  shape.head_dim = 128;
  shape.max_length = 4096;
  shape.vocab = 128256;
  return shape;
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kHost: return "host";
    case Mode::kDevice: return "device";
    case Mode::kCaptured: return "captured";
  }
  return "?";
}

namespace {

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
    for (size_t i = 0; i < t.element_count(); ++i) {
      host.data<float>()[i] = float(int(p[i * 4] % 200) - 100) / 8.0f;
    }
  }
  env.copy(host, t);
}

}  // namespace

State MakeState(const devtensor::Env& env, devtensor::Device device, devtensor::Device cpu,
                const ModelShape& shape, int64_t start) {
  State s;
  for (int64_t l = 0; l < shape.layers; ++l) {
    for (auto* caches : {&s.k_cache, &s.v_cache}) {
      caches->push_back(Tensor::create(env, device, DT_FLOAT16,
                                       {1, shape.kv_heads, shape.max_length, shape.head_dim}));
      Pattern(env, cpu, caches->back(), uint32_t(l * 2 + (caches == &s.v_cache)));
    }
    for (auto* fresh : {&s.new_k, &s.new_v}) {
      fresh->push_back(Tensor::create(env, device, DT_FLOAT16, {1, shape.kv_heads, 1, shape.head_dim}));
      Pattern(env, cpu, fresh->back(), uint32_t(1000 + l * 2 + (fresh == &s.new_v)));
    }
  }
  s.kv_delta = Tensor::create(env, device, DT_FLOAT16, {1, shape.kv_heads, 1, shape.head_dim});
  env.fill(s.kv_delta, 0.125f);
  s.mask = Tensor::create(env, device, DT_INT64, {1, shape.max_length});
  s.position_ids = Tensor::create(env, device, DT_INT64, {1, 1});
  s.length = Tensor::create(env, device, DT_INT32, {});
  SetPosition(env, s, start);
  s.logits = Tensor::create(env, device, DT_FLOAT, {1, shape.vocab});
  s.logits_delta = Tensor::create(env, device, DT_FLOAT, {1, shape.vocab});
  Pattern(env, cpu, s.logits, 7);
  Pattern(env, cpu, s.logits_delta, 8);
  s.flip = Tensor::create(env, device, DT_FLOAT, {1});
  env.fill(s.flip, -1.0f);
  s.token = Tensor::create(env, device, DT_INT64, {1});
  return s;
}

void SetPosition(const devtensor::Env& env, State& s, int64_t start) {
  env.fill(s.position_ids, start - 1);
  env.fill(s.length, start);
  env.update_attention_mask(s.mask, s.length);
}

void ModelStep(const devtensor::Env& env, State& s, const devtensor::Stream* stream) {
  for (size_t l = 0; l < s.new_k.size(); ++l) {
    env.run("Add", {&s.new_k[l], &s.kv_delta}, {&s.new_k[l]}, {}, stream);
    env.run("Add", {&s.new_v[l], &s.kv_delta}, {&s.new_v[l]}, {}, stream);
  }
  env.run("Mul", {&s.logits, &s.flip}, {&s.logits}, {}, stream);
  env.run("Add", {&s.logits, &s.logits_delta}, {&s.logits}, {}, stream);
}

void DeviceUpdate(const devtensor::Env& env, State& s, const devtensor::Stream* stream) {
  for (size_t l = 0; l < s.k_cache.size(); ++l) {
    env.kv_cache_append(s.k_cache[l], s.new_k[l], s.length, stream);
    env.kv_cache_append(s.v_cache[l], s.new_v[l], s.length, stream);
  }
  env.update_position_ids(s.position_ids, 1, stream);
  env.update_position_ids(s.length, 1, stream);
  env.update_attention_mask(s.mask, s.length, stream);
  env.run("ArgMax", {&s.logits}, {&s.token},
          {devtensor::IntAttribute("axis", 1), devtensor::IntAttribute("keepdims", 0)}, stream);
}

void HostUpdate(const devtensor::Env& env, devtensor::Device cpu, State& s, const ModelShape& shape,
                int64_t length) {
  for (size_t l = 0; l < s.k_cache.size(); ++l) {
    for (auto [cache, fresh] : {std::pair{&s.k_cache[l], &s.new_k[l]}, std::pair{&s.v_cache[l], &s.new_v[l]}}) {
      Tensor host_cache = Tensor::create(env, cpu, DT_FLOAT16, cache->shape());
      Tensor host_new = Tensor::create(env, cpu, DT_FLOAT16, fresh->shape());
      env.copy({{cache, &host_cache}, {fresh, &host_new}});
      for (int64_t h = 0; h < shape.kv_heads; ++h) {
        std::memcpy(host_cache.data<uint16_t>() + (h * shape.max_length + length) * shape.head_dim,
                    host_new.data<uint16_t>() + h * shape.head_dim, size_t(shape.head_dim) * 2);
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
  for (int64_t m = 0; m < shape.max_length; ++m) {
    mask.data<int64_t>()[m] = m < count.data<int32_t>()[0] ? 1 : 0;
  }
  int64_t best = 0;
  for (int64_t v = 1; v < shape.vocab; ++v) {
    if (logits.data<float>()[v] > logits.data<float>()[best]) best = v;
  }
  Tensor token = Tensor::create(env, cpu, DT_INT64, {1});
  token.data<int64_t>()[0] = best;
  env.copy({{&mask, &s.mask}, {&position, &s.position_ids}, {&count, &s.length}, {&token, &s.token}});
}

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

Decoder::Decoder(const devtensor::Env& env, devtensor::Device device, const ModelShape& shape,
                 Mode mode, int64_t start)
    : env_(env),
      device_(device),
      cpu_(env.device(DT_DEVICE_CPU)),
      shape_(shape),
      mode_(mode),
      position_(start),
      state_(MakeState(env, device, cpu_, shape, start)),
      stream_(env.create_stream(device)),
      token_(Tensor::create(env, cpu_, DT_INT64, {1})) {
  if (mode != Mode::kCaptured) return;
  try {
    devtensor::begin_capture(stream_);
  } catch (const devtensor::Error& e) {
    throw CaptureUnavailable(e.what());
  }
  ModelStep(env_, state_, &stream_);
  DeviceUpdate(env_, state_, &stream_);
  env_.copy(state_.token, token_, &stream_);
  graph_ = devtensor::end_capture(stream_);
}

int64_t Decoder::Step() {
  switch (mode_) {
    case Mode::kHost:
      ModelStep(env_, state_, nullptr);
      HostUpdate(env_, cpu_, state_, shape_, position_);
      env_.copy(state_.token, token_);
      break;
    case Mode::kDevice:
      ModelStep(env_, state_, &stream_);
      DeviceUpdate(env_, state_, &stream_);
      env_.copy(state_.token, token_, &stream_);
      stream_.synchronize();
      break;
    case Mode::kCaptured:
      graph_.replay(stream_);
      stream_.synchronize();
      break;
  }
  ++position_;
  return token_.data<int64_t>()[0];
}

void Decoder::Restart(int64_t start) {
  stream_.synchronize();
  SetPosition(env_, state_, start);
  position_ = start;
}

uint32_t Decoder::DeviceErrorFlags() const { return device_.error_flags(); }

}  // namespace decode
