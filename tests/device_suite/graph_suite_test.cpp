// Graphs on every device (kDeviceCases). On a device that records (DtBeginCapture succeeds on its
// streams): a recorded decode step replayed N times leaves exactly the state (every byte of the
// buffer that holds it, sentinels between the tensors included) and the downloaded tokens that N
// eager steps leave on a second, identical state; recording runs nothing; uploads in a graph read
// host memory at each replay; replays are refused on streams of another device and while
// recording; graphs, streams, tensors and the env may be released in any order, a graph keeping
// what it recorded alive. On a device that cannot record (the CPU), capture is refused with
// DT_NOT_SUPPORTED and the stream works on; the replay tests are skipped there, saying so.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device_suite/device_cases.h"

namespace {

using namespace devtensor_test;
using devtensor::Device;
using devtensor::Tensor;

DtAttribute Int(const char* name, int64_t value) { return devtensor::IntAttribute(name, value); }

// ---- Views in one device buffer -------------------------------------------------------------------

// A view at `offset` bytes into a buffer: parent[start : start + shape] of a row-major parent.
struct ViewSpec {
  DtElementType type;
  Shape parent, start, shape;
  size_t offset;
};

// Lays views out one after another with random gaps, at offsets that are multiples of the element
// size but not of 16 (odd-ish: 2 mod 4 for 2-byte elements, 4 mod 8 for 4-byte, 8 mod 16 for 8).
class Layout {
 public:
  explicit Layout(Random& random) : random_(random), cursor_(size_t(random.Between(0, 300))) {}

  size_t Add(DtElementType type, const Shape& shape, bool strided_axis2 = false) {
    ViewSpec spec{type, shape, Shape(shape.size(), 0), shape, 0};
    if (strided_axis2 && shape.size() > 2) {  // a slice along axis 2 of a longer parent
      const int64_t extra = random_.Between(1, 2);
      spec.parent[2] += extra;
      spec.start[2] = random_.Between(0, extra);
    }
    const size_t size = SizeOf(type);
    size_t offset = (cursor_ + size_t(random_.Between(1, 24)) + size - 1) / size * size;
    while (offset % 16 == 0 || (size > 1 && offset % (2 * size) != size)) offset += size;
    spec.offset = offset;
    cursor_ = offset + size_t(Product(spec.parent)) * size;
    specs_.push_back(spec);
    return specs_.size() - 1;
  }

  size_t Size() const { return (cursor_ + 16 + 3) & ~size_t(3); }
  const std::vector<ViewSpec>& specs() const { return specs_; }

 private:
  Random& random_;
  size_t cursor_;
  std::vector<ViewSpec> specs_;
};

Tensor MakeView(const Tensor& whole, const ViewSpec& spec) {
  Tensor view = whole.view(spec.offset, spec.type, spec.parent);
  for (size_t axis = 0; axis < spec.shape.size(); ++axis) {
    if (spec.shape[axis] != spec.parent[axis]) {
      view = view.slice(axis, spec.start[axis], spec.shape[axis]);
    }
  }
  return view;
}

// Writes `values` (row-major element bytes) at the view's elements in `bytes`.
void Put(std::vector<uint8_t>& bytes, const ViewSpec& spec, const std::vector<uint8_t>& values) {
  const Shape strides = RowMajorStrides(spec.parent);
  const size_t size = SizeOf(spec.type);
  for (int64_t flat = 0; flat < Product(spec.shape); ++flat) {
    int64_t rest = flat, element = 0;
    for (size_t i = spec.shape.size(); i-- > 0;) {
      element += (spec.start[i] + rest % spec.shape[i]) * strides[i];
      rest /= spec.shape[i];
    }
    std::memcpy(bytes.data() + spec.offset + size_t(element) * size,
                values.data() + size_t(flat) * size, size);
  }
}

template <typename T>
std::vector<uint8_t> AsBytes(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A whole device buffer, set and read as one word-aligned uint8 tensor.
std::vector<uint8_t> Download(const devtensor::Env& env, Device cpu, const Tensor& whole) {
  std::vector<uint8_t> bytes(whole.element_count());
  Tensor host = Tensor::wrap(env, cpu, bytes.data(), bytes.size(), 0, DT_UINT8,
                             {int64_t(bytes.size())});
  env.copy(whole, host);
  return bytes;
}
void Upload(const devtensor::Env& env, Device cpu, std::vector<uint8_t> bytes, const Tensor& whole) {
  Tensor host = Tensor::wrap(env, cpu, bytes.data(), bytes.size(), 0, DT_UINT8,
                             {int64_t(bytes.size())});
  env.copy(host, whole);
}

// ---- A decode state -------------------------------------------------------------------------------

struct DecodeOptions {
  int64_t layers = 2, heads = 2, head_dim = 6, max_length = 24, vocab = 300, start = 5;
};

// Where every tensor of the state lies in its buffer, and the buffer's first bytes.
struct DecodePlan {
  DecodeOptions o;
  std::vector<ViewSpec> specs;
  std::vector<size_t> k_cache, v_cache, new_k, new_v;
  size_t kv_delta, mask, position_ids, length, logits, logits_delta, flip, token;
  std::vector<uint8_t> init;
};

// float16 bits of a value of magnitude in [1/4, 4): finite and far from overflow over the steps.
uint16_t ModestHalf(Random& random) {
  return uint16_t((random.Between(0, 1) << 15) | (random.Between(13, 16) << 10) |
                  random.Between(0, 1023));
}

DecodePlan MakeDecodePlan(Random& random, const DecodeOptions& o) {
  DecodePlan p;
  p.o = o;
  Layout layout(random);
  for (int64_t l = 0; l < o.layers; ++l) {
    p.k_cache.push_back(layout.Add(DT_FLOAT16, {1, o.heads, o.max_length, o.head_dim}));
    p.v_cache.push_back(layout.Add(DT_FLOAT16, {1, o.heads, o.max_length, o.head_dim}));
    p.new_k.push_back(layout.Add(DT_FLOAT16, {1, o.heads, 1, o.head_dim}, /*strided=*/true));
    p.new_v.push_back(layout.Add(DT_FLOAT16, {1, o.heads, 1, o.head_dim}, true));
  }
  p.kv_delta = layout.Add(DT_FLOAT16, {1, o.heads, 1, o.head_dim});
  p.mask = layout.Add(DT_INT64, {1, o.max_length});
  p.position_ids = layout.Add(DT_INT64, {1, 1});
  p.length = layout.Add(DT_INT32, {});
  p.logits = layout.Add(DT_FLOAT, {1, o.vocab});
  p.logits_delta = layout.Add(DT_FLOAT, {1, o.vocab});
  p.flip = layout.Add(DT_FLOAT, {1});
  p.token = layout.Add(DT_INT64, {1});
  p.specs = layout.specs();
  p.init.assign(layout.Size(), kSentinel);
  auto halves = [&](size_t spec) {
    std::vector<uint16_t> v(size_t(Product(p.specs[spec].shape)));
    for (uint16_t& h : v) h = ModestHalf(random);
    Put(p.init, p.specs[spec], AsBytes(v));
  };
  for (int64_t l = 0; l < o.layers; ++l) {
    for (size_t spec : {p.k_cache[l], p.v_cache[l], p.new_k[l], p.new_v[l]}) halves(spec);
  }
  halves(p.kv_delta);
  std::vector<int64_t> mask(size_t(o.max_length));
  for (int64_t& m : mask) m = random.Between(0, 1);
  Put(p.init, p.specs[p.mask], AsBytes(mask));
  Put(p.init, p.specs[p.position_ids], AsBytes(std::vector<int64_t>{o.start - 1}));
  Put(p.init, p.specs[p.length], AsBytes(std::vector<int32_t>{int32_t(o.start)}));
  for (size_t spec : {p.logits, p.logits_delta}) {
    std::vector<float> v(size_t(o.vocab));
    for (float& f : v) f = float(random.Between(-4000, 4000)) / 64.0f;
    Put(p.init, p.specs[spec], AsBytes(v));
  }
  Put(p.init, p.specs[p.flip], AsBytes(std::vector<float>{-1.0f}));
  Put(p.init, p.specs[p.token], AsBytes(std::vector<int64_t>{int64_t(random())}));
  return p;
}

// The state on the device (one buffer), and the host tensor the token is downloaded into (inside a
// host buffer with guard bytes around it).
struct DecodeState {
  Tensor buffer;
  std::vector<Tensor> views;
  std::vector<uint8_t> host;  // 8 guard bytes, the token, 8 guard bytes
  Tensor host_token;

  const Tensor& at(size_t spec) const { return views[spec]; }
};

std::unique_ptr<DecodeState> MakeDecodeState(const devtensor::Env& env, Device device, Device cpu,
                                             const DecodePlan& plan) {
  auto s = std::make_unique<DecodeState>();
  s->buffer = Tensor::create(env, device, DT_UINT8, {int64_t(plan.init.size())});
  Upload(env, cpu, plan.init, s->buffer);
  for (const ViewSpec& spec : plan.specs) s->views.push_back(MakeView(s->buffer, spec));
  s->host.assign(24, kSentinel);
  s->host_token = Tensor::wrap(env, cpu, s->host.data(), s->host.size(), 8, DT_INT64, {1});
  return s;
}

// One decode step, issued on `stream`: fresh K/V (+= delta), appended at `length`; position ids
// and length advance, the mask follows the length; logits flip and shift; ArgMax picks the token,
// which is downloaded into the host tensor.
void IssueDecodeStep(const devtensor::Env& env, const DecodePlan& p, DecodeState& s,
                     const devtensor::Stream& stream) {
  for (int64_t l = 0; l < p.o.layers; ++l) {
    for (size_t fresh : {p.new_k[l], p.new_v[l]}) {
      env.run("Add", {&s.at(fresh), &s.at(p.kv_delta)}, {&s.at(fresh)}, {}, &stream);
    }
  }
  for (int64_t l = 0; l < p.o.layers; ++l) {
    env.run("KvCacheAppend", {&s.at(p.new_k[l]), &s.at(p.length)}, {&s.at(p.k_cache[l])}, {},
            &stream);
    env.run("KvCacheAppend", {&s.at(p.new_v[l]), &s.at(p.length)}, {&s.at(p.v_cache[l])}, {},
            &stream);
  }
  env.run("UpdatePositionIds", {}, {&s.at(p.position_ids)}, {}, &stream);
  env.run("UpdatePositionIds", {}, {&s.at(p.length)}, {}, &stream);
  env.run("UpdateAttentionMask", {&s.at(p.length)}, {&s.at(p.mask)}, {}, &stream);
  env.run("Mul", {&s.at(p.logits), &s.at(p.flip)}, {&s.at(p.logits)}, {}, &stream);
  env.run("Add", {&s.at(p.logits), &s.at(p.logits_delta)}, {&s.at(p.logits)}, {}, &stream);
  env.run("ArgMax", {&s.at(p.logits)}, {&s.at(p.token)}, {Int("axis", 1), Int("keepdims", 0)},
          &stream);
  env.copy(s.at(p.token), s.host_token, &stream);
}

int64_t HostToken(const DecodeState& s) {
  int64_t token;
  std::memcpy(&token, s.host.data() + 8, 8);
  return token;
}

// The value of one element view `spec` in the bytes of a state buffer.
template <typename T>
T Read(const std::vector<uint8_t>& bytes, const ViewSpec& spec) {
  T value;
  std::memcpy(&value, bytes.data() + spec.offset, sizeof(T));
  return value;
}

class GraphSuite : public DeviceTest {
 public:
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // The device's own answer: a fresh stream's DtBeginCapture.
    devtensor::Stream probe = env.create_stream(device);
    const Outcome begin = Take(DtBeginCapture(probe.get()));
    records = begin.code == DT_OK;
    if (!records) {
      ASSERT_EQ(begin.code, DT_NOT_SUPPORTED) << begin.message;
      // Only devices without asynchronous streams may refuse: a refusal elsewhere fails every
      // replay test instead of skipping it.
      ASSERT_NE(device.info().has_streams, 1) << "a device with asynchronous streams refused to "
                                                 "record: " << begin.message;
      refusal = begin.message;
      return;
    }
    DtGraph* none = nullptr;
    DT_EXPECT_ERROR(DtEndCapture(probe.get(), &none), DT_FAILED_PRECONDITION,
                    "nothing was recorded");
    EXPECT_EQ(none, nullptr);
  }

  bool records = false;  // the device records graphs
  std::string refusal;   // why not
};
DT_INSTANTIATE_DEVICE_SUITE(GraphSuite);

// The replay tests begin with this: a skip, saying why, on a device that cannot record.
#define SKIP_UNLESS_THE_DEVICE_RECORDS()                                                   \
  if (!records) GTEST_SKIP() << device_case.name << " does not record graphs: " << refusal

// ---- The decode step ------------------------------------------------------------------------------

// A plan's step captured on one stream and replayed `steps` times, each replay beside the same step
// issued on another stream: the tokens match step by step, then the states and the host token
// buffers (guards included) match byte for byte. Returns the eager state's bytes.
std::vector<uint8_t> ReplayBesideEagerSteps(GraphSuite& test, const DecodePlan& plan, int64_t steps) {
  const devtensor::Env& env = test.env;
  auto captured = MakeDecodeState(env, test.device, test.cpu, plan);
  auto eager = MakeDecodeState(env, test.device, test.cpu, plan);
  devtensor::Stream stream_a = env.create_stream(test.device), stream_b = env.create_stream(test.device);

  devtensor::begin_capture(stream_a);
  IssueDecodeStep(env, plan, *captured, stream_a);
  devtensor::Graph graph = devtensor::end_capture(stream_a);
  // Nothing ran while recording.
  EXPECT_TRUE(SameBytes(Download(env, test.cpu, captured->buffer), plan.init))
      << "the state changed while the step was recorded";
  EXPECT_TRUE(SameBytes(captured->host, std::vector<uint8_t>(24, kSentinel)))
      << "the token was downloaded while recorded";

  for (int64_t step = 0; step < steps; ++step) {
    graph.replay(stream_a);
    stream_a.synchronize();
    IssueDecodeStep(env, plan, *eager, stream_b);
    stream_b.synchronize();
    EXPECT_EQ(HostToken(*captured), HostToken(*eager)) << "token of step " << step;
  }
  EXPECT_EQ(test.ErrorFlags(), 0u);
  const std::vector<uint8_t> b = Download(env, test.cpu, eager->buffer);
  EXPECT_TRUE(SameBytes(Download(env, test.cpu, captured->buffer), b))
      << "state after " << steps << " replays vs eager steps";
  EXPECT_TRUE(SameBytes(captured->host, eager->host)) << "host token buffers (guards included)";
  EXPECT_NE(b, plan.init);
  const int64_t token = HostToken(*eager);
  EXPECT_TRUE(token >= 0 && token < plan.o.vocab) << token;
  return b;
}

TEST_P(GraphSuite, ReplaysEqualEagerStepsByteForByte) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  DecodeOptions o;
  o.start = random.Between(1, 8);
  const int64_t steps = random.Between(5, 8);
  const DecodePlan plan = MakeDecodePlan(random, o);
  const std::vector<uint8_t> b = ReplayBesideEagerSteps(*this, plan, steps);
  // The eager run itself did what a decode step does.
  EXPECT_EQ(Read<int32_t>(b, plan.specs[plan.length]), o.start + steps);
  EXPECT_EQ(Read<int64_t>(b, plan.specs[plan.position_ids]), o.start - 1 + steps);
  int64_t ones = 0;
  for (int64_t j = 0; j < o.max_length; ++j) {
    int64_t m;
    std::memcpy(&m, b.data() + plan.specs[plan.mask].offset + size_t(j) * 8, 8);
    ones += m;
  }
  EXPECT_EQ(ones, o.start + steps);
}

// Several replays submitted before one synchronisation: the same as as many eager steps.
TEST_P(GraphSuite, BackToBackReplaysEqualEagerSteps) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  DecodeOptions o;
  const DecodePlan plan = MakeDecodePlan(random, o);
  auto captured = MakeDecodeState(env, device, cpu, plan);
  auto eager = MakeDecodeState(env, device, cpu, plan);
  devtensor::Stream stream = env.create_stream(device);
  devtensor::begin_capture(stream);
  IssueDecodeStep(env, plan, *captured, stream);
  devtensor::Graph graph = devtensor::end_capture(stream);
  for (int i = 0; i < 3; ++i) graph.replay(stream);
  stream.synchronize();
  for (int i = 0; i < 3; ++i) IssueDecodeStep(env, plan, *eager, stream);
  stream.synchronize();
  EXPECT_TRUE(SameBytes(Download(env, cpu, captured->buffer), Download(env, cpu, eager->buffer)));
  EXPECT_TRUE(SameBytes(captured->host, eager->host));
  EXPECT_EQ(ErrorFlags(), 0u);
}

// A step of 40-70 ops: a stream submits it in several parts while it is issued, and so does each
// replay. Between replays, eager steps on another stream fill the parameter arena well past the
// blocks the graph's ops read, which must stay as they were recorded.
TEST_P(GraphSuite, LongStepsSubmittedInPartsEqualEagerSteps) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  DecodeOptions o;
  o.layers = random.Between(9, 16);
  o.max_length = 40;
  o.start = random.Between(1, 8);
  const DecodePlan plan = MakeDecodePlan(random, o);
  const std::vector<uint8_t> b = ReplayBesideEagerSteps(*this, plan, 8);
  EXPECT_EQ(Read<int32_t>(b, plan.specs[plan.length]), o.start + 8);
}

// Replays that run past the cache's end: the append is skipped and the flag raised, exactly as
// for the same calls issued eagerly.
TEST_P(GraphSuite, ReplayPastTheCacheEndRaisesTheFlagLikeEager) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  DecodeOptions o;
  o.max_length = 8;
  o.start = 6;  // appends at 6 and 7 fit; the third step's at 8 does not
  const DecodePlan plan = MakeDecodePlan(random, o);
  auto captured = MakeDecodeState(env, device, cpu, plan);
  auto eager = MakeDecodeState(env, device, cpu, plan);
  devtensor::Stream stream = env.create_stream(device);
  devtensor::begin_capture(stream);
  IssueDecodeStep(env, plan, *captured, stream);
  devtensor::Graph graph = devtensor::end_capture(stream);
  // The synchronisation after the step that ran past the end says so, naming the op.
  auto synchronize = [&](int step) {
    if (step < 2) {
      DT_EXPECT_OK(DtSynchronizeStream(stream.get()));
    } else {
      DT_EXPECT_ERROR(DtSynchronizeStream(stream.get()), DT_OUT_OF_RANGE, "KvCacheAppend");
    }
  };
  for (int step = 0; step < 3; ++step) {
    graph.replay(stream);
    synchronize(step);
    EXPECT_EQ(ErrorFlags(), step < 2 ? 0u : DT_DEVICE_ERROR_KV_POSITION) << "replay " << step;
    IssueDecodeStep(env, plan, *eager, stream);
    synchronize(step);
    EXPECT_EQ(ErrorFlags(), step < 2 ? 0u : DT_DEVICE_ERROR_KV_POSITION) << "eager step " << step;
  }
  EXPECT_TRUE(SameBytes(Download(env, cpu, captured->buffer), Download(env, cpu, eager->buffer)));
  EXPECT_TRUE(SameBytes(captured->host, eager->host));
}

// ---- Uploads read host memory at replay time ----------------------------------------------------

// Values of the source elements of the upload tests: element i of a dense [n] or of the [n, 2]
// parent's column 1.
template <typename T>
void SetSource(std::vector<uint8_t>& bytes, size_t first, size_t step, const std::vector<T>& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    std::memcpy(bytes.data() + first + i * step * sizeof(T), &v[i], sizeof(T));
  }
}

template <typename T>
void CheckUploadAtReplay(GraphSuite& t, DtElementType type, bool strided_source) {
  Random& random = t.random;
  const devtensor::Env& env = t.env;
  const int64_t n = random.Between(1, 4) * 2 + 1;  // odd: the bytes are no multiple of 4 for 2-byte T
  const size_t size = sizeof(T);
  Layout layout(random);
  const size_t acc_spec = layout.Add(type, {n});
  const size_t staging_spec = layout.Add(type, {n});
  std::vector<uint8_t> init(layout.Size(), kSentinel);
  Put(init, layout.specs()[acc_spec], std::vector<uint8_t>(size_t(n) * size, 0));
  Tensor buffer = Tensor::create(env, t.device, DT_UINT8, {int64_t(init.size())});
  Upload(env, t.cpu, init, buffer);
  Tensor acc = MakeView(buffer, layout.specs()[acc_spec]);
  Tensor staging = MakeView(buffer, layout.specs()[staging_spec]);

  // Host source: dense [n] at element 1 of a guarded array, or column 1 of an [n, 2] parent.
  std::vector<uint8_t> source_bytes(size_t(2 * n + 2) * size, kSentinel);
  const size_t first = strided_source ? 2 * size : size;
  const size_t step = strided_source ? 2 : 1;
  Tensor source;
  if (strided_source) {
    Tensor parent = Tensor::wrap(env, t.cpu, source_bytes.data(), source_bytes.size(), size, type,
                                 {n, 2});
    source = parent.slice(1, 1, 1);  // [n, 1] with strides [2, 1]; staging gets that shape too
  } else {
    source = Tensor::wrap(env, t.cpu, source_bytes.data(), source_bytes.size(), size, type, {n});
  }
  std::vector<uint8_t> result_bytes(size_t(n) * size + 16, kSentinel);
  Tensor result = Tensor::wrap(env, t.cpu, result_bytes.data(), result_bytes.size(), 8, type, {n});
  const Tensor staging_shaped = strided_source ? staging.view(0, type, {n, 1}) : staging.view(0, type, {n});

  devtensor::Stream stream = env.create_stream(t.device);
  const size_t count = size_t(n);
  std::vector<T> values(count);
  for (T& v : values) v = T(random.Between(1, 50));
  SetSource(source_bytes, first, step, values);
  devtensor::begin_capture(stream);
  env.copy(source, staging_shaped, &stream);
  env.run("Add", {&acc, &staging}, {&acc}, {}, &stream);
  env.copy(acc, result, &stream);
  devtensor::Graph graph = devtensor::end_capture(stream);
  ASSERT_TRUE(SameBytes(Download(env, t.cpu, buffer), init)) << "nothing runs while recording";
  ASSERT_TRUE(SameBytes(result_bytes, std::vector<uint8_t>(result_bytes.size(), kSentinel)));

  std::vector<T> sum(count, T(0));
  for (int replay = 0; replay < 4; ++replay) {
    // New host values before every replay but the first (which uploads what was there when
    // recording... and must read it now, not then: it is the same).
    if (replay > 0) {
      for (T& v : values) v = T(random.Between(1, 50));
      SetSource(source_bytes, first, step, values);
    }
    for (size_t i = 0; i < sum.size(); ++i) sum[i] = T(sum[i] + values[i]);
    graph.replay(stream);
    stream.synchronize();
    std::vector<T> got(count);
    std::memcpy(got.data(), result_bytes.data() + 8, size_t(n) * size);
    EXPECT_EQ(got, sum) << "after replay " << replay << " of a graph uploading a "
                        << (strided_source ? "strided" : "dense") << " host tensor of "
                        << n * int64_t(size) << " bytes";
    if (got != sum) break;
  }
  // The guards around the result are intact.
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(result_bytes[i], kSentinel);
    EXPECT_EQ(result_bytes[result_bytes.size() - 1 - i], kSentinel);
  }
}

TEST_P(GraphSuite, DenseWordSizedHostDataIsReadAtReplay) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  CheckUploadAtReplay<int32_t>(*this, DT_INT32, false);
}

// Host data that is not a multiple of 4 bytes, or strided, has to be packed; a graph must pack it
// at each replay, not once while recording.
TEST_P(GraphSuite, OddSizedHostDataIsReadAtReplay) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  CheckUploadAtReplay<int16_t>(*this, DT_INT16, false);
}

TEST_P(GraphSuite, StridedHostDataIsReadAtReplay) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  CheckUploadAtReplay<int32_t>(*this, DT_INT32, true);
}

// ---- Refusals -------------------------------------------------------------------------------------

// A small graph on the device: a += b, then a downloaded into `host` (8 floats).
struct Small {
  Tensor a, b;
  std::vector<float> host = std::vector<float>(8, -1.0f);
  Tensor host_view;
};

std::unique_ptr<Small> MakeSmall(const devtensor::Env& env, Device device, Device cpu) {
  auto s = std::make_unique<Small>();
  s->a = Tensor::create(env, device, DT_FLOAT, {8});
  s->b = Tensor::create(env, device, DT_FLOAT, {8});
  env.run("Fill", {}, {&s->a}, {devtensor::FloatAttribute("value", 0.0f)});
  env.run("Fill", {}, {&s->b}, {devtensor::FloatAttribute("value", 1.5f)});
  s->host_view = Tensor::wrap(env, cpu, s->host.data(), s->host.size() * 4, 0, DT_FLOAT, {8});
  return s;
}

void IssueSmall(const devtensor::Env& env, Small& s, const devtensor::Stream& stream) {
  env.run("Add", {&s.a, &s.b}, {&s.a}, {}, &stream);
  env.copy(s.a, s.host_view, &stream);
}

TEST_P(GraphSuite, ReplayOnAStreamOfAnotherDeviceIsRefused) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  auto s = MakeSmall(env, device, cpu);
  devtensor::Stream stream = env.create_stream(device);
  devtensor::begin_capture(stream);
  IssueSmall(env, *s, stream);
  devtensor::Graph graph = devtensor::end_capture(stream);

  ASSERT_NE(device.get(), cpu.get()) << "a device that records is not the CPU";
  devtensor::Stream cpu_stream = env.create_stream(cpu);
  DT_EXPECT_ERROR(DtReplayGraph(graph.get(), cpu_stream.get()), DT_INVALID_ARGUMENT, "graph");
  int32_t count = 0;
  DT_ASSERT_OK(DtGetDeviceCount(env.get(), device_case.type, &count));
  if (count > 1) {
    devtensor::Stream other = env.create_stream(env.device(device_case.type, 1));
    DT_EXPECT_ERROR(DtReplayGraph(graph.get(), other.get()), DT_INVALID_ARGUMENT, "graph");
  } else {
    std::printf("[   NOTE   ] one %s device here: refusal tested against a CPU stream only\n",
                device_case.name);
  }
  stream.synchronize();
  EXPECT_EQ(s->host, std::vector<float>(8, -1.0f)) << "a refused replay ran";
  // The graph still replays on its own device.
  graph.replay(stream);
  stream.synchronize();
  EXPECT_EQ(s->host, std::vector<float>(8, 1.5f));
}

TEST_P(GraphSuite, SynchronizeWhileRecordingIsAFailedPrecondition) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  auto s = MakeSmall(env, device, cpu);
  devtensor::Stream stream = env.create_stream(device);
  DT_ASSERT_OK(DtBeginCapture(stream.get()));
  IssueSmall(env, *s, stream);
  DT_EXPECT_ERROR(DtSynchronizeStream(stream.get()), DT_FAILED_PRECONDITION, "record");
  // Work of another device cannot join the recording.
  Tensor x = Tensor::create(env, cpu, DT_FLOAT, {8});
  std::fill(x.data<float>(), x.data<float>() + 8, 2.0f);
  const DtValue* in[] = {x.get(), x.get()};
  DtValue* out[] = {x.get()};
  DT_EXPECT_ERROR(DtRunOp(env.get(), "Add", in, 2, out, 1, nullptr, 0, stream.get()),
                  DT_FAILED_PRECONDITION, "record");
  EXPECT_EQ(x.data<float>()[0], 2.0f);
  // Replaying some graph on a stream that records is refused too.
  devtensor::Graph graph = devtensor::end_capture(stream);
  DT_ASSERT_OK(DtBeginCapture(stream.get()));
  DT_EXPECT_ERROR(DtReplayGraph(graph.get(), stream.get()), DT_FAILED_PRECONDITION, "record");
  DtGraph* empty = nullptr;
  DT_EXPECT_ERROR(DtEndCapture(stream.get(), &empty), DT_FAILED_PRECONDITION,
                  "nothing was recorded");
  EXPECT_EQ(s->host, std::vector<float>(8, -1.0f)) << "nothing ran";
  graph.replay(stream);
  stream.synchronize();
  EXPECT_EQ(s->host, std::vector<float>(8, 1.5f));
  EXPECT_EQ(empty, nullptr) << "a refused capture left a graph";
}

// Calls refused while recording (no kernel, a bad shape) record nothing; the recording goes on.
// Div on int64 is refused while recording exactly where the device refuses it eagerly (WebGPU
// has no such kernel); where it runs, the recording holds it.
TEST_P(GraphSuite, RefusedCallsWhileRecordingLeaveTheRecordingIntact) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  auto s = MakeSmall(env, device, cpu);
  devtensor::Stream stream = env.create_stream(device);
  Tensor wide = Tensor::create(env, device, DT_INT64, {8});
  Tensor odd = Tensor::create(env, device, DT_FLOAT, {3});
  env.run("Fill", {}, {&wide}, {devtensor::FloatAttribute("value", 6.0f)});
  // Whether the device divides int64 (WebGPU does not): its own answer, without running anything.
  const bool divides = env.supports(device, "Div", DT_INT64);
  DT_ASSERT_OK(DtBeginCapture(stream.get()));
  IssueSmall(env, *s, stream);
  {
    const DtValue* in[] = {wide.get(), wide.get()};
    DtValue* out[] = {wide.get()};
    if (divides) {
      DT_EXPECT_OK(DtRunOp(env.get(), "Div", in, 2, out, 1, nullptr, 0, stream.get()));
    } else {
      DT_EXPECT_ERROR(DtRunOp(env.get(), "Div", in, 2, out, 1, nullptr, 0, stream.get()),
                      DT_NOT_SUPPORTED, "Div", "int64");
    }
  }
  {
    const DtValue* in[] = {s->a.get(), odd.get()};
    DtValue* out[] = {s->a.get()};
    DT_EXPECT_ERROR(DtRunOp(env.get(), "Add", in, 2, out, 1, nullptr, 0, stream.get()),
                    DT_INVALID_ARGUMENT, "Add");
  }
  IssueSmall(env, *s, stream);
  devtensor::Graph graph = devtensor::end_capture(stream);
  graph.replay(stream);
  stream.synchronize();
  EXPECT_EQ(s->host, std::vector<float>(8, 3.0f));
  std::vector<int64_t> w(8);
  Tensor host = Tensor::wrap(env, cpu, w.data(), 64, 0, DT_INT64, {8});
  env.copy(wide, host);
  EXPECT_EQ(w, std::vector<int64_t>(8, divides ? 1 : 6));
}

TEST_P(GraphSuite, BeginCaptureTwiceIsAFailedPrecondition) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  auto s = MakeSmall(env, device, cpu);
  devtensor::Stream stream = env.create_stream(device);
  DT_ASSERT_OK(DtBeginCapture(stream.get()));
  IssueSmall(env, *s, stream);
  DT_EXPECT_ERROR(DtBeginCapture(stream.get()), DT_FAILED_PRECONDITION, "record");
  // The recording goes on and holds what was issued before the refused call.
  devtensor::Graph graph = devtensor::end_capture(stream);
  DtGraph* none = nullptr;
  DT_EXPECT_ERROR(DtEndCapture(stream.get(), &none), DT_FAILED_PRECONDITION, "not recording");
  EXPECT_EQ(none, nullptr);
  graph.replay(stream);
  graph.replay(stream);
  stream.synchronize();
  EXPECT_EQ(s->host, std::vector<float>(8, 3.0f));
}

// Devices record exactly when their streams run asynchronously: a device whose stream work runs
// synchronously (the CPU) has nothing to record.
TEST_P(GraphSuite, CaptureIsOfferedExactlyWhereStreamsRunAsynchronously) {
  EXPECT_EQ(records, info.has_streams == 1) << refusal;
}

TEST_P(GraphSuite, CaptureIsRefusedWhereTheDeviceCannotRecordAndTheStreamStillWorks) {
  if (records) GTEST_SKIP() << device_case.name << " records graphs: the replay tests check it";
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(device);
  DT_EXPECT_ERROR(DtBeginCapture(stream.get()), DT_NOT_SUPPORTED, "record");
  DtGraph* none = nullptr;
  DT_EXPECT_ERROR(DtEndCapture(stream.get(), &none), DT_FAILED_PRECONDITION, "not recording");
  EXPECT_EQ(none, nullptr);
  // Work issued afterwards runs (it is not recorded).
  const std::vector<int32_t> a_values = {0, 1, 2, 3, 4}, b_values = {0, 10, 20, 30, 40};
  Tensor a = Tensor::from_host(env, device, {5}, a_values);
  Tensor b = Tensor::from_host(env, device, {5}, b_values);
  env.run("Add", {&a, &b}, {&a}, {}, &stream);
  Tensor c = Tensor::create(env, cpu, DT_INT32, {5});
  env.copy(a, c, &stream);
  stream.synchronize();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.data<int32_t>()[i], 11 * i);
  // And it can be asked again, with the same answer.
  DT_EXPECT_ERROR(DtBeginCapture(stream.get()), DT_NOT_SUPPORTED, "record");
  env.run("Add", {&a, &b}, {&a}, {}, &stream);
  env.copy(a, c, &stream);
  stream.synchronize();
  EXPECT_EQ(c.data<int32_t>()[4], 84);  // 4 + 40 + 40
}

// ---- Lifetimes ------------------------------------------------------------------------------------

// Every order of releasing the graph, its stream and its tensors: whatever is left still works,
// and a graph whose tensors (and stream) are gone still replays onto them.
TEST_P(GraphSuite, GraphStreamAndTensorsReleasedInAnyOrder) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  std::array<int, 3> order = {0, 1, 2};  // 0 graph, 1 stream, 2 tensors
  do {
    SCOPED_TRACE("release order " + std::to_string(order[0]) + std::to_string(order[1]) +
                 std::to_string(order[2]) + " (0 graph, 1 stream, 2 tensors)");
    auto s = MakeSmall(env, device, cpu);
    std::optional<devtensor::Stream> stream(env.create_stream(device));
    devtensor::begin_capture(*stream);
    IssueSmall(env, *s, *stream);
    std::optional<devtensor::Graph> graph(devtensor::end_capture(*stream));
    float expected = 0.0f;
    auto replay = [&] {
      if (!graph) return;
      // Onto its own stream, or (once that is gone) a new one of the same device.
      devtensor::Stream fresh = env.create_stream(device);
      devtensor::Stream& on = stream ? *stream : fresh;
      graph->replay(on);
      on.synchronize();
      expected += 1.5f;
      EXPECT_EQ(s->host, std::vector<float>(8, expected));
    };
    replay();
    for (int what : order) {
      if (what == 0) graph.reset();
      if (what == 1) stream.reset();
      if (what == 2) {
        s->a = Tensor();
        s->b = Tensor();
        s->host_view = Tensor();  // the host memory itself stays: the test owns it
      }
      replay();
      if (s->a) {  // the tensors still work on their own
        devtensor::Stream check = env.create_stream(device);
        env.run("Add", {&s->a, &s->b}, {&s->a}, {}, &check);
        check.synchronize();
        expected += 1.5f;
        std::vector<float> a(8);
        Tensor host = Tensor::wrap(env, cpu, a.data(), 32, 0, DT_FLOAT, {8});
        env.copy(s->a, host);
        EXPECT_EQ(a, std::vector<float>(8, expected));
      }
    }
  } while (std::next_permutation(order.begin(), order.end()));
}

// The graph (with the tensors it alone keeps) released while its replay is still in flight: the
// stream finishes the replay, downloads included, when it is synchronised or released. One host
// target is memory the test owns (its result is checked), one a tensor the library allocated
// (whose memory must stay until the download has landed).
TEST_P(GraphSuite, GraphReleasedWhileItsReplayIsInFlight) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  for (bool release_stream : {false, true}) {
    SCOPED_TRACE(release_stream ? "then the stream is released" : "then the stream is synchronised");
    auto s = MakeSmall(env, device, cpu);
    std::optional<devtensor::Stream> stream(env.create_stream(device));
    Tensor library_host = Tensor::create(env, cpu, DT_FLOAT, {8});
    devtensor::begin_capture(*stream);
    IssueSmall(env, *s, *stream);
    env.copy(s->a, library_host, &*stream);
    std::optional<devtensor::Graph> graph(devtensor::end_capture(*stream));
    s->a = Tensor();
    s->b = Tensor();
    s->host_view = Tensor();
    library_host = Tensor();  // only the graph holds these now
    graph->replay(*stream);
    graph.reset();
    if (release_stream) {
      stream.reset();
    } else {
      stream->synchronize();
    }
    EXPECT_EQ(s->host, std::vector<float>(8, 1.5f));
  }
}

// One graph replayed on two streams of its device, neither synchronised in between: both replays
// run, in the order of the queue, and both downloads land.
TEST_P(GraphSuite, ReplaysOnTwoStreamsWithoutSynchronizingBetween) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  auto s = MakeSmall(env, device, cpu);
  devtensor::Stream one = env.create_stream(device), two = env.create_stream(device);
  devtensor::begin_capture(one);
  IssueSmall(env, *s, one);
  devtensor::Graph graph = devtensor::end_capture(one);
  graph.replay(one);
  graph.replay(two);
  one.synchronize();
  two.synchronize();
  EXPECT_EQ(s->host, std::vector<float>(8, 3.0f));
  graph.replay(two);
  graph.replay(one);
  two.synchronize();
  one.synchronize();
  EXPECT_EQ(s->host, std::vector<float>(8, 6.0f));
}

// A graph outlives the env its tensors and stream were made with, and the tensors themselves:
// the recorded step ends with a download of the whole state buffer into host memory.
TEST_P(GraphSuite, ReplayAfterTheEnvAndTheTensorsAreReleased) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  SCOPED_TRACE(random.trace());
  std::optional<devtensor::Env> own(std::in_place);
  const Device own_device = own->device(device_case.type);
  const Device own_cpu = own->device(DT_DEVICE_CPU);
  const DecodePlan plan = MakeDecodePlan(random, DecodeOptions{});
  auto captured = MakeDecodeState(*own, own_device, own_cpu, plan);
  auto eager = MakeDecodeState(env, device, cpu, plan);
  std::vector<uint8_t> state(plan.init.size(), 0);
  std::optional<devtensor::Stream> stream(own->create_stream(own_device));
  {
    Tensor state_view = Tensor::wrap(*own, own_cpu, state.data(), state.size(), 0, DT_UINT8,
                                     {int64_t(state.size())});
    devtensor::begin_capture(*stream);
    IssueDecodeStep(*own, plan, *captured, *stream);
    own->copy(captured->buffer, state_view, &*stream);
  }
  std::optional<devtensor::Graph> graph(devtensor::end_capture(*stream));
  captured->views.clear();
  captured->buffer = Tensor();
  captured->host_token = Tensor();
  own.reset();  // the env goes; only the graph and the stream are left

  devtensor::Stream eager_stream = env.create_stream(device);
  for (int step = 0; step < 5; ++step) {
    DT_ASSERT_OK(DtReplayGraph(graph->get(), stream->get()));
    DT_ASSERT_OK(DtSynchronizeStream(stream->get()));
    IssueDecodeStep(env, plan, *eager, eager_stream);
    eager_stream.synchronize();
    EXPECT_EQ(HostToken(*captured), HostToken(*eager)) << "step " << step;
    EXPECT_TRUE(SameBytes(state, Download(env, cpu, eager->buffer))) << "state after step " << step;
  }
  // Released in the other order than above: stream first, then the graph.
  stream.reset();
  graph.reset();
}

// A capture that recorded nothing (its work was issued with no stream, so it ran at once) is
// refused at its end, leaving no graph; the stream records no more and works on.
TEST_P(GraphSuite, EndingACaptureThatRecordedNothingIsAFailedPrecondition) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  auto s = MakeSmall(env, device, cpu);
  devtensor::Stream stream = env.create_stream(device);
  DT_ASSERT_OK(DtBeginCapture(stream.get()));
  env.run("Add", {&s->a, &s->b}, {&s->a});  // no stream: runs now
  env.copy(s->a, s->host_view);
  EXPECT_EQ(s->host, std::vector<float>(8, 1.5f));
  DtGraph* graph = nullptr;
  DT_EXPECT_ERROR(DtEndCapture(stream.get(), &graph), DT_FAILED_PRECONDITION,
                  "nothing was recorded");
  EXPECT_EQ(graph, nullptr);
  IssueSmall(env, *s, stream);
  DT_EXPECT_OK(DtSynchronizeStream(stream.get()));
  EXPECT_EQ(s->host, std::vector<float>(8, 3.0f));
  DT_EXPECT_ERROR(DtEndCapture(stream.get(), &graph), DT_FAILED_PRECONDITION, "not recording");
}

// A graph holds every tensor its recording used, of every kind of work (uploads from library
// host tensors, clears, device copies, ops, downloads into library host tensors), until it is
// released: all of them and the env released, it still replays onto them.
TEST_P(GraphSuite, AGraphHoldsEveryTensorItsRecordingUsed) {
  SKIP_UNLESS_THE_DEVICE_RECORDS();
  std::vector<float> result(4, -1.0f);
  std::optional<devtensor::Env> own(std::in_place);
  const Device own_device = own->device(device_case.type);
  const Device own_cpu = own->device(DT_DEVICE_CPU);
  std::optional<devtensor::Stream> stream(own->create_stream(own_device));
  DtGraph* graph = nullptr;
  {
    Tensor source = Tensor::create(*own, own_cpu, DT_FLOAT, {4});
    for (int i = 0; i < 4; ++i) source.data<float>()[i] = float(i + 1);
    Tensor sum = Tensor::create(*own, own_device, DT_FLOAT, {6});
    Tensor step = Tensor::create(*own, own_device, DT_FLOAT, {4});
    Tensor scratch = Tensor::create(*own, own_device, DT_FLOAT, {4});
    Tensor staging = Tensor::create(*own, own_cpu, DT_FLOAT, {4});
    Tensor out = Tensor::wrap(*own, own_cpu, result.data(), 16, 0, DT_FLOAT, {4});
    Tensor window = sum.slice(0, 1, 4);
    own->run("Fill", {}, {&sum}, {devtensor::FloatAttribute("value", 0.0f)});
    devtensor::begin_capture(*stream);
    own->copy(source, step, &*stream);                        // upload
    own->zero(scratch, &*stream);                             // clear
    own->run("Add", {&window, &step}, {&window}, {}, &*stream);  // op in place on a view
    own->copy(window, scratch, &*stream);                     // device copy
    own->copy(scratch, staging, &*stream);                    // download, library host memory
    own->copy(scratch, out, &*stream);                        // download, the test's memory
    DT_ASSERT_OK(DtEndCapture(stream->get(), &graph));
  }  // every tensor released
  own.reset();
  for (int replay = 1; replay <= 3; ++replay) {
    DT_ASSERT_OK(DtReplayGraph(graph, stream->get()));
    DT_ASSERT_OK(DtSynchronizeStream(stream->get()));
    EXPECT_EQ(result, (std::vector<float>{1.0f * replay, 2.0f * replay, 3.0f * replay,
                                          4.0f * replay}))
        << "replay " << replay;
  }
  DtReleaseGraph(graph);
  stream.reset();
}

}  // namespace
