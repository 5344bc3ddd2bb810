// A Llama-shaped decode loop's state and one step of it, done three ways on the same data:
//   host      what users do today: download the state, patch it on the CPU, upload it
//   device    ops on views of the state, on a stream; only the token id comes to the host
//   captured  one step recorded once and replayed (one submit per step)
// Per step, for every layer, a fresh K and V token (made on the device, standing in for the
// model's projections) is appended to the caches at the current position; the attention mask and
// the position ids advance; the logits change and ArgMax picks the next token, whose id is all that
// reaches the host.
//
// Used by examples/decode_loop and by the decode benchmark.
#ifndef DEVTENSOR_EXAMPLES_DECODE_DECODE_STEP_H_
#define DEVTENSOR_EXAMPLES_DECODE_DECODE_STEP_H_

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "devtensor/devtensor.hpp"

namespace decode {

// The model's dimensions. The defaults are small; Llama-8B is LlamaEightB().
struct ModelShape {
  int64_t layers = 4, kv_heads = 2, head_dim = 64, max_length = 256, vocab = 1000;
};
ModelShape LlamaEightB();

enum class Mode { kHost, kDevice, kCaptured };
const char* ModeName(Mode mode);

// The decode state and what makes each step's fresh values, all on the device.
struct State {
  std::vector<devtensor::Tensor> k_cache, v_cache;  // per layer [1, kv_heads, max_length, head_dim] fp16
  std::vector<devtensor::Tensor> new_k, new_v;      // per layer [1, kv_heads, 1, head_dim] fp16
  devtensor::Tensor kv_delta;                       // added to new_k / new_v each step
  devtensor::Tensor mask;                           // [1, max_length] int64
  devtensor::Tensor position_ids;                   // [1, 1] int64
  devtensor::Tensor length;                         // int32 scalar: tokens in the cache so far
  devtensor::Tensor logits, logits_delta;           // [1, vocab] float
  devtensor::Tensor flip;                           // [1] float, -1: logits alternate direction
  devtensor::Tensor token;                          // [1] int64: ArgMax of the logits
};

// The same deterministic state on every call with the same shape, `start` tokens in the cache.
State MakeState(const devtensor::Env& env, devtensor::Device device, devtensor::Device cpu,
                const ModelShape& shape, int64_t start);

// Sets the position to `start` tokens (the mask and the position ids follow); the cache keeps its
// contents, which later steps overwrite from `start` on.
void SetPosition(const devtensor::Env& env, State& s, int64_t start);

// The model's part of a step, on the device in every mode: fresh K/V values and new logits.
void ModelStep(const devtensor::Env& env, State& s, const devtensor::Stream* stream);

// The state update on the device: append at `length`, then advance mask, position and length.
void DeviceUpdate(const devtensor::Env& env, State& s, const devtensor::Stream* stream);

// The state update as users do it today: everything down, patched on the CPU, everything up.
// `length` is the position the host knows the step writes at.
void HostUpdate(const devtensor::Env& env, devtensor::Device cpu, State& s, const ModelShape& shape,
                int64_t length);

// Everything a mode leaves behind (caches, mask, position, length, token), as bytes.
std::vector<uint8_t> Snapshot(const devtensor::Env& env, devtensor::Device cpu, const State& s);

// Thrown by Decoder in captured mode when the device's streams cannot record work into graphs.
class CaptureUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One decode loop in one mode: its state, its stream and, when captured, its recorded step.
class Decoder {
 public:
  // Makes the state with `start` tokens in the cache. In captured mode also records one step, or
  // throws CaptureUnavailable.
  Decoder(const devtensor::Env& env, devtensor::Device device, const ModelShape& shape, Mode mode,
          int64_t start);

  // Runs one step and waits for it; returns the token it picked.
  int64_t Step();
  // Moves back (or on) to `start` tokens in the cache.
  void Restart(int64_t start);

  Mode mode() const { return mode_; }
  int64_t position() const { return position_; }
  std::vector<uint8_t> Snapshot() const { return decode::Snapshot(env_, cpu_, state_); }
  // The device's error flags (DtGetDeviceErrorFlags); 0 when every step was in range.
  uint32_t DeviceErrorFlags() const;

 private:
  const devtensor::Env& env_;
  devtensor::Device device_, cpu_;
  ModelShape shape_;
  Mode mode_;
  int64_t position_;
  State state_;
  devtensor::Stream stream_;
  devtensor::Tensor token_;  // the token on the host
  devtensor::Graph graph_;
};

}  // namespace decode

#endif  // DEVTENSOR_EXAMPLES_DECODE_DECODE_STEP_H_
