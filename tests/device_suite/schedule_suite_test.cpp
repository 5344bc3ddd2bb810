// Schedules on every device (kDeviceCases). The work a stream queues, or a graph records, may run
// as a schedule: on WebGPU and CUDA, independent calls of one kernel are batched into one launch,
// and calls move past others they do not depend on. What users rely on is that nothing changes
// but the speed: long runs of ops, some independent and some overlapping byte for byte, on views
// of one buffer and on more buffers than one dispatch can bind, leave exactly the bytes the CPU
// reference leaves (sentinels between the views included), issued eagerly on a stream (also more
// calls than a stream holds back at once) or replayed from a graph (on devices that record). The
// ctest entry WebGpuUnbatched runs these tests again with WebGPU's batching turned off.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "device_suite/device_cases.h"

namespace {

using namespace devtensor_test;
using devtensor::Tensor;

// float16 bits of a value of magnitude in [1/4, 4).
uint16_t ModestHalf(Random& random) {
  return uint16_t((random.Between(0, 1) << 15) | (random.Between(13, 16) << 10) |
                  random.Between(0, 1023));
}

// ---- Views of one buffer --------------------------------------------------------------------------

// An fp16 view [n] at a byte offset of the buffer.
struct Span {
  size_t offset;
  int64_t n;
  size_t end() const { return offset + size_t(n) * 2; }
  bool Overlaps(const Span& o) const { return offset < o.end() && o.offset < end(); }
};

// One op of a program: out = op(a, b), where b is a one-element delta (broadcast) or a view.
struct Op {
  const char* type;  // Add, Sub, Mul
  size_t a, b, out;  // indices into the spans
};

struct Program {
  std::vector<Span> spans;
  std::vector<Op> ops;
  std::vector<uint8_t> init;  // the buffer's bytes before the program
};

// Views at even offsets, mostly not word-aligned, a quarter of them overlapping an earlier one by
// some elements; three one-element deltas; and a program of in-place updates by a delta (many
// independent ones: batched) and of ops whose output is another view (reading what earlier ops
// wrote, writing what later ops read).
Program MakeProgram(Random& random) {
  Program p;
  size_t cursor = size_t(random.Between(0, 40)) * 2;
  const int64_t views = random.Between(24, 60);
  for (int64_t v = 0; v < views; ++v) {
    const int64_t n = random.Between(2, 9);
    size_t offset = cursor + size_t(random.Between(1, 5)) * 2;
    if (v > 0 && random.Between(0, 3) == 0) {  // overlap an earlier view's tail
      const Span& earlier = p.spans[size_t(random.Between(0, v - 1))];
      offset = earlier.offset + size_t(random.Between(1, earlier.n - 1)) * 2;
    }
    p.spans.push_back({offset, n});
    cursor = std::max(cursor, offset + size_t(n) * 2);
  }
  const size_t first_delta = p.spans.size();
  for (int d = 0; d < 3; ++d) {
    cursor += size_t(random.Between(1, 3)) * 2;
    p.spans.push_back({cursor, 1});
    cursor += 2;
  }
  p.init.assign((cursor + 16 + 3) & ~size_t(3), kSentinel);
  for (const Span& s : p.spans) {
    for (int64_t i = 0; i < s.n; ++i) {
      const uint16_t h = ModestHalf(random);
      std::memcpy(p.init.data() + s.offset + size_t(i) * 2, &h, 2);
    }
  }
  // Deltas that keep values bounded over the program: 1/2, -1, 3/2 (for Mul) or small (for Add).
  const uint16_t deltas[3] = {0x3800, 0xBC00, 0x3E00};
  for (int d = 0; d < 3; ++d) std::memcpy(p.init.data() + p.spans[first_delta + size_t(d)].offset, &deltas[d], 2);

  const int64_t count = random.Between(40, 90);
  for (int64_t k = 0; k < count; ++k) {
    const size_t a = size_t(random.Between(0, int64_t(first_delta) - 1));
    const size_t delta = first_delta + size_t(random.Between(0, 2));
    const int64_t kind = random.Between(0, 5);
    if (kind < 4) {  // in place, by a delta
      p.ops.push_back({kind < 2 ? "Add" : kind == 2 ? "Sub" : "Mul", a, delta, a});
      continue;
    }
    // Into another view of the same length that does not overlap the input.
    std::vector<size_t> targets;
    for (size_t t = 0; t < first_delta; ++t) {
      if (p.spans[t].n == p.spans[a].n && !p.spans[t].Overlaps(p.spans[a])) targets.push_back(t);
    }
    if (targets.empty()) continue;
    p.ops.push_back({kind == 4 ? "Add" : "Mul", a, delta, targets[size_t(random.Between(0, int64_t(targets.size()) - 1))]});
  }
  return p;
}

// The program's ops on views of `whole` (an fp16-viewable buffer tensor), on `stream` if given.
void Issue(const devtensor::Env& env, const Program& p, const Tensor& whole,
           const devtensor::Stream* stream) {
  std::vector<Tensor> views;
  for (const Span& s : p.spans) views.push_back(whole.view(s.offset, DT_FLOAT16, {s.n}));
  for (const Op& op : p.ops) env.run(op.type, {&views[op.a], &views[op.b]}, {&views[op.out]}, {}, stream);
}

Tensor Whole(const devtensor::Env& env, devtensor::Device device, std::vector<uint8_t>& host) {
  return Tensor::wrap(env, device, host.data(), host.size(), 0, DT_UINT8, {int64_t(host.size())});
}

std::vector<uint8_t> Download(const devtensor::Env& env, devtensor::Device cpu, const Tensor& gpu) {
  std::vector<uint8_t> bytes(gpu.element_count());
  env.copy(gpu, Whole(env, cpu, bytes));
  return bytes;
}

Tensor Upload(const devtensor::Env& env, devtensor::Device cpu, devtensor::Device gpu,
              std::vector<uint8_t> bytes) {
  Tensor whole = Tensor::create(env, gpu, DT_UINT8, {int64_t(bytes.size())});
  env.copy(Whole(env, cpu, bytes), whole);
  return whole;
}

class ScheduleSuite : public DeviceTest {
 public:
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // The device's own answer: devices without asynchronous streams may refuse to record.
    devtensor::Stream probe = env.create_stream(device);
    DtStatus* begin = DtBeginCapture(probe.get());
    records = begin == nullptr;
    if (records) {
      DtGraph* none = nullptr;
      DtReleaseStatus(DtEndCapture(probe.get(), &none));
    } else {
      EXPECT_NE(info.has_streams, 1) << DtGetErrorMessage(begin);
      DtReleaseStatus(begin);
    }
  }

  bool records = false;
  const devtensor::Device& gpu = device;  // the device under test
};
DT_INSTANTIATE_DEVICE_SUITE(ScheduleSuite);

TEST_P(ScheduleSuite, OpsOnOverlappingViewsOfOneBufferEqualTheCpuInOrder) {
  SCOPED_TRACE(random.trace());
  for (int round = 0; round < 3; ++round) {
    const Program p = MakeProgram(random);
    SCOPED_TRACE("round " + std::to_string(round) + ": " + std::to_string(p.ops.size()) + " ops on " +
                 std::to_string(p.spans.size()) + " views");
    // The reference: the CPU runs the ops one after another, once and twice.
    std::vector<uint8_t> once = p.init, twice;
    Issue(env, p, Whole(env, cpu, once), nullptr);
    twice = once;
    Issue(env, p, Whole(env, cpu, twice), nullptr);
    ASSERT_NE(once, p.init);

    Tensor eager = Upload(env, cpu, gpu, p.init);
    devtensor::Stream stream = env.create_stream(gpu);
    Issue(env, p, eager, &stream);
    stream.synchronize();
    EXPECT_TRUE(SameBytes(Download(env, cpu, eager), once)) << "issued on a stream";

    if (!records) continue;
    Tensor captured = Upload(env, cpu, gpu, p.init);
    devtensor::begin_capture(stream);
    Issue(env, p, captured, &stream);
    devtensor::Graph graph = devtensor::end_capture(stream);
    graph.replay(stream);
    stream.synchronize();
    EXPECT_TRUE(SameBytes(Download(env, cpu, captured), once)) << "one replay";
    graph.replay(stream);
    stream.synchronize();
    EXPECT_TRUE(SameBytes(Download(env, cpu, captured), twice)) << "two replays";
  }
  EXPECT_EQ(ErrorFlags(), 0u);
}

// ---- One buffer per tensor --------------------------------------------------------------------------

// A decode-like step over `layers` layers, each tensor in a buffer of its own (so that a batch
// runs out of bindings long before it runs out of ops): fresh K += delta, appended to the layer's
// cache at `length`; then length advances. Each tensor is a view at byte kGuard (fp16) or
// kIntGuard (int32) of its buffer, with sentinel bytes on both sides.
constexpr int64_t kHeads = 2, kLength = 8, kDim = 5;
constexpr size_t kGuard = 6, kIntGuard = 8;

TEST_P(ScheduleSuite, OpsOnMoreBuffersThanADispatchBindsEqualTheCpu) {
  SCOPED_TRACE(random.trace());
  const int64_t layers = random.Between(12, 24);
  const int64_t start = random.Between(0, 3);
  const int64_t steps = random.Between(2, kLength - start);
  // Every tensor's buffer: the initial bytes, then a tensor at kGuard.
  std::vector<std::vector<uint8_t>> init;
  auto add = [&](size_t bytes, size_t guard) {
    std::vector<uint8_t> b((guard + bytes + guard + 3) & ~size_t(3), kSentinel);
    for (size_t i = 0; guard == kGuard && i < bytes; i += 2) {
      const uint16_t h = ModestHalf(random);
      std::memcpy(b.data() + guard + i, &h, 2);
    }
    init.push_back(b);
  };
  const Shape token = {1, kHeads, 1, kDim};
  const Shape cache = {1, kHeads, kLength, kDim};
  for (int64_t l = 0; l < layers; ++l) {
    add(size_t(Product(token)) * 2, kGuard);
    add(size_t(Product(cache)) * 2, kGuard);
  }
  add(size_t(Product(token)) * 2, kGuard);  // delta
  add(4, kIntGuard);                        // length
  const int32_t position = int32_t(start);
  std::memcpy(init.back().data() + kIntGuard, &position, 4);

  // The step on views of buffers `whole` (on `device`), issued on `stream` if given.
  auto issue = [&](std::vector<Tensor>& whole, const devtensor::Stream* stream) {
    std::vector<Tensor> fresh, caches;
    for (int64_t l = 0; l < layers; ++l) {
      fresh.push_back(whole[size_t(2 * l)].view(kGuard, DT_FLOAT16, token));
      caches.push_back(whole[size_t(2 * l + 1)].view(kGuard, DT_FLOAT16, cache));
    }
    const Tensor delta = whole[size_t(2 * layers)].view(kGuard, DT_FLOAT16, token);
    const Tensor length = whole[size_t(2 * layers + 1)].view(kIntGuard, DT_INT32, {});
    for (int64_t l = 0; l < layers; ++l) env.run("Add", {&fresh[size_t(l)], &delta}, {&fresh[size_t(l)]}, {}, stream);
    for (int64_t l = 0; l < layers; ++l) {
      env.run("KvCacheAppend", {&fresh[size_t(l)], &length}, {&caches[size_t(l)]}, {}, stream);
    }
    env.run("UpdatePositionIds", {}, {&length}, {}, stream);
  };

  std::vector<std::vector<uint8_t>> reference = init;
  std::vector<Tensor> host;
  for (auto& bytes : reference) host.push_back(Whole(env, cpu, bytes));
  for (int64_t s = 0; s < steps; ++s) issue(host, nullptr);

  for (const bool captured : {false, true}) {
    if (captured && !records) continue;
    SCOPED_TRACE(captured ? "replayed from a graph" : "issued on a stream");
    std::vector<Tensor> device;
    for (const auto& bytes : init) device.push_back(Upload(env, cpu, gpu, bytes));
    devtensor::Stream stream = env.create_stream(gpu);
    if (captured) {
      devtensor::begin_capture(stream);
      issue(device, &stream);
      devtensor::Graph graph = devtensor::end_capture(stream);
      for (int64_t s = 0; s < steps; ++s) graph.replay(stream);
    } else {
      for (int64_t s = 0; s < steps; ++s) issue(device, &stream);
    }
    stream.synchronize();
    for (size_t b = 0; b < device.size(); ++b) {
      EXPECT_TRUE(SameBytes(Download(env, cpu, device[b]), reference[b])) << "buffer " << b;
    }
  }
  EXPECT_EQ(ErrorFlags(), 0u);
}

// ---- Long runs ----------------------------------------------------------------------------------

// More calls than a stream holds back at once (CUDA launches its held calls in parts of 256), with
// ops that use device temporaries among them (ArgMax over a long axis, in two passes on CUDA), a
// download in the middle and a read of the error flags: the bytes, the snapshot and the winners
// equal the CPU's.
TEST_P(ScheduleSuite, LongRunsOnAStreamEqualTheCpu) {
  SCOPED_TRACE(random.trace());
  const Program p = MakeProgram(random);
  const int repeats = int(700 / std::max<size_t>(p.ops.size(), 1)) + 2;
  // Distinct floats in random order, negated at every repeat: the winner alternates between the
  // largest and the smallest.
  const int64_t n = random.Between(70000, 90000);
  std::vector<uint8_t> values(size_t(n) * 4);
  for (int64_t i = 0; i < n; ++i) {
    const float v = float(i - n / 2) * 0.5f;
    std::memcpy(values.data() + size_t(i) * 4, &v, 4);
  }
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = random.Between(0, i);
    std::swap_ranges(values.begin() + i * 4, values.begin() + i * 4 + 4, values.begin() + j * 4);
  }
  std::vector<uint8_t> minus_one(4);
  const float m = -1.0f;
  std::memcpy(minus_one.data(), &m, 4);
  const size_t winners_bytes = 8 + size_t(repeats) * 8 + 8;  // int64 winners between sentinels

  // The run on `buffers` (the program's buffer, the values, -1, the winners) of one device;
  // `snapshot`, on the host, receives the program's buffer half-way.
  auto run = [&](std::vector<Tensor>& buffers, const devtensor::Stream* stream,
                 std::vector<uint8_t>& snapshot) {
    const Tensor vals = buffers[1].view(0, DT_FLOAT, {n});
    const Tensor negate = buffers[2].view(0, DT_FLOAT, {1});
    for (int r = 0; r < repeats; ++r) {
      Issue(env, p, buffers[0], stream);
      env.run("Mul", {&vals, &negate}, {&vals}, {}, stream);
      Tensor winner = buffers[3].view(8 + size_t(r) * 8, DT_INT64, {});
      env.run("ArgMax", {&vals}, {&winner}, {devtensor::IntAttribute("keepdims", 0)}, stream);
      if (r == repeats / 2) {
        env.copy(buffers[0], Whole(env, cpu, snapshot), stream);
        EXPECT_EQ(ErrorFlags(), 0u);
      }
    }
  };
  std::vector<std::vector<uint8_t>> reference = {p.init, values, minus_one,
                                                 Sentinels(winners_bytes)};
  std::vector<uint8_t> reference_snapshot(p.init.size(), kSentinel);
  {
    std::vector<Tensor> host;
    for (auto& bytes : reference) host.push_back(Whole(env, cpu, bytes));
    run(host, nullptr, reference_snapshot);
  }
  std::vector<Tensor> on_device;
  for (const auto& bytes : {p.init, values, minus_one, Sentinels(winners_bytes)}) {
    on_device.push_back(Upload(env, cpu, gpu, bytes));
  }
  std::vector<uint8_t> snapshot(p.init.size(), kSentinel);
  devtensor::Stream stream = env.create_stream(gpu);
  run(on_device, &stream, snapshot);
  stream.synchronize();
  EXPECT_TRUE(SameBytes(snapshot, reference_snapshot)) << "downloaded half-way";
  const char* names[] = {"the program's buffer", "the values", "-1", "the winners"};
  for (size_t b = 0; b < on_device.size(); ++b) {
    EXPECT_TRUE(SameBytes(Download(env, cpu, on_device[b]), reference[b])) << names[b];
  }
  EXPECT_EQ(ErrorFlags(), 0u);
}

}  // namespace
