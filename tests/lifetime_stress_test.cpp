// Lifetimes under concurrency: 8 threads create and release envs, tensors, views, streams and
// graphs in random orders while copies are in flight, on CPU alone and on CPU with each other device
// of the device suites (WebGPU, CUDA; skipped, saying why, where absent), and check every copy's
// result against a host reference. Shared tensors are read (and viewed, and their views released)
// by all threads at once. DEVTENSOR_STRESS_SECONDS sets how long each test runs (default 2).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace devtensor_test {
namespace {

constexpr int kThreads = 8;

// DT_EXPECT_OK that also stops every thread at the first failure.
#define STRESS_OK(call)                                                                   \
  do {                                                                                    \
    DtStatus* s_ = (call);                                                                \
    if (s_ != nullptr) {                                                                  \
      failed_.store(true);                                                                \
      ADD_FAILURE() << #call << ": " << DtGetErrorCodeName(DtGetErrorCode(s_)) << ": "    \
                    << DtGetErrorMessage(s_);                                             \
      DtReleaseStatus(s_);                                                                \
    }                                                                                     \
  } while (0)

double StressSeconds() {
  const char* text = std::getenv("DEVTENSOR_STRESS_SECONDS");
  const double seconds = text ? std::atof(text) : 0;
  return seconds > 0 ? seconds : 2.0;
}

// A 2-D contiguous tensor whose bytes the test knows.
struct Known {
  DtValue* value = nullptr;
  DtElementType type = DT_FLOAT;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> bytes;
};

// base[:, start:start+length] or base[start:start+length, :] as the header defines slices.
struct SliceArgs {
  size_t axis;
  int64_t start, length;
};

// The bytes a copy of the slice must produce, row-major.
std::vector<uint8_t> SliceBytes(const Known& base, SliceArgs s) {
  const size_t e = SizeOf(base.type);
  const int64_t rows = s.axis == 0 ? s.length : base.rows;
  const int64_t cols = s.axis == 1 ? s.length : base.cols;
  const int64_t r0 = s.axis == 0 ? s.start : 0, c0 = s.axis == 1 ? s.start : 0;
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(rows * cols) * e);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const size_t at = static_cast<size_t>((r0 + r) * base.cols + (c0 + c)) * e;
      out.insert(out.end(), base.bytes.begin() + at, base.bytes.begin() + at + e);
    }
  }
  return out;
}

class LifetimeStress : public ::testing::Test {
 protected:
  void SetUp() override { DT_ASSERT_OK(DtCreateEnv(&env_)); }
  void TearDown() override {
    for (Known& k : shared_) DtReleaseValue(k.value);
    DtReleaseEnv(env_);
  }

  // A tensor of random contents on `device`, filled from the host with a NULL-stream copy.
  Known MakeKnown(Random& random, DtEnv* env, const DtDevice* device, const DtDevice* cpu) {
    Known k;
    k.type = RandomType(random);
    k.rows = random.Between(1, 9);
    k.cols = random.Between(1, 33);
    k.bytes = RandomData(random, k.type, static_cast<size_t>(k.rows * k.cols) * SizeOf(k.type));
    const int64_t shape[2] = {k.rows, k.cols};
    std::vector<uint8_t> staging = k.bytes;
    DtValue* host = nullptr;
    STRESS_OK(DtCreateTensorWithData(env, cpu, staging.data(), staging.size(), 0, k.type, shape,
                                        2, &host));
    STRESS_OK(DtCreateTensor(env, device, k.type, shape, 2, &k.value));
    STRESS_OK(DtCopyTensors(env, (const DtValue* const*)&host, &k.value, 1, nullptr));
    DtReleaseValue(host);
    return k;
  }

  // The bytes of a contiguous tensor, read into a host buffer of exactly its size.
  std::vector<uint8_t> Read(DtEnv* env, const DtDevice* cpu, DtValue* tensor) {
    DtElementType type{};
    int64_t shape[DT_MAX_RANK];
    size_t rank = 0, elements = 0;
    STRESS_OK(DtGetTensorShape(tensor, &type, shape, DT_MAX_RANK, &rank));
    STRESS_OK(DtGetTensorSize(tensor, &elements, nullptr));
    std::vector<uint8_t> bytes(elements * SizeOf(type));
    DtValue* host = nullptr;
    STRESS_OK(DtCreateTensorWithData(env, cpu, bytes.data(), bytes.size(), 0, type, shape, rank,
                                        &host));
    STRESS_OK(DtCopyTensors(env, (const DtValue* const*)&tensor, &host, 1, nullptr));
    DtReleaseValue(host);
    return bytes;
  }

  // One thread's life: until the deadline, one of a few jobs picked at random.
  void Worker(int index, uint64_t seed, std::chrono::steady_clock::time_point deadline) {
    Random random;
    random.engine.seed(seed + static_cast<uint64_t>(index) * 7919);
    std::vector<Known> own;
    while (std::chrono::steady_clock::now() < deadline && !failed_.load()) {
      const int64_t job = random.Between(0, records_ ? 9 : 5);
      if (job <= 2) {
        CopyJob(random, own);
      } else if (job == 3) {
        PrivateEnvJob(random);
      } else if (job <= 5) {
        // Make or drop a tensor of the thread's own, on any device.
        if (own.size() < 6 && random.Between(0, 1)) {
          own.push_back(MakeKnown(random, env_, AnyDevice(random), cpu_));
        } else if (!own.empty()) {
          const size_t at = static_cast<size_t>(random.Between(0, own.size() - 1));
          DtReleaseValue(own[at].value);
          own.erase(own.begin() + at);
        }
      } else {
        GraphJob(random, own);
      }
      jobs_.fetch_add(1);
    }
    for (Known& k : own) DtReleaseValue(k.value);
  }

  const DtDevice* AnyDevice(Random& random) {
    return device_ && random.Between(0, 1) ? device_ : cpu_;
  }

  const Known& PickSource(Random& random, const std::vector<Known>& own) {
    if (!own.empty() && random.Between(0, 1)) {
      return own[static_cast<size_t>(random.Between(0, own.size() - 1))];
    }
    return shared_[static_cast<size_t>(random.Between(0, shared_.size() - 1))];
  }

  // A random slice of `base`, made as a view (DtSliceTensor, sometimes of a full view first).
  DtValue* MakeSlice(Random& random, const Known& base, SliceArgs* args) {
    args->axis = static_cast<size_t>(random.Between(0, 1));
    const int64_t dim = args->axis == 0 ? base.rows : base.cols;
    args->start = random.Between(0, dim - 1);
    args->length = random.Between(1, dim - args->start);
    const DtValue* from = base.value;
    DtValue* whole = nullptr;
    if (random.Between(0, 1)) {
      const int64_t shape[2] = {base.rows, base.cols};
      STRESS_OK(DtCreateTensorView(base.value, 0, base.type, shape, 2, &whole));
      from = whole;
    }
    DtValue* slice = nullptr;
    STRESS_OK(DtSliceTensor(from, args->axis, args->start, args->length, &slice));
    DtReleaseValue(whole);  // the slice keeps the storage alive
    return slice;
  }

  // Slice -> new tensor on any device, on no stream or a fresh stream, with the slice (and the
  // stream) released at random points while the copy may still run; then the result is checked.
  void CopyJob(Random& random, const std::vector<Known>& own) {
    const Known& base = PickSource(random, own);
    SliceArgs args{};
    DtValue* slice = MakeSlice(random, base, &args);
    const std::vector<uint8_t> expected = SliceBytes(base, args);
    const int64_t shape[2] = {args.axis == 0 ? args.length : base.rows,
                              args.axis == 1 ? args.length : base.cols};
    DtValue* dst = nullptr;
    STRESS_OK(DtCreateTensor(env_, AnyDevice(random), base.type, shape, 2, &dst));
    DtStream* stream = nullptr;
    if (random.Between(0, 1)) STRESS_OK(DtCreateStream(env_, AnyDevice(random), &stream));
    STRESS_OK(DtCopyTensors(env_, (const DtValue* const*)&slice, &dst, 1, stream));
    const int64_t order = random.Between(0, 2);
    if (order == 0) DtReleaseValue(slice);  // while the copy may run
    if (stream && random.Between(0, 1)) {
      STRESS_OK(DtSynchronizeStream(stream));
    }
    DtReleaseStream(stream);  // waits for the copy
    if (order == 1) DtReleaseValue(slice);
    if (Read(env_, cpu_, dst) != expected) {
      failed_.store(true);
      ADD_FAILURE() << "copy of slice axis " << args.axis << " start " << args.start << " length "
                    << args.length << " of a " << base.rows << "x" << base.cols << " "
                    << DtGetElementTypeName(base.type) << " tensor differs from the reference";
    }
    DtReleaseValue(dst);
    if (order == 2) DtReleaseValue(slice);
  }

  // An env of the thread's own, released while its tensors and a stream with a queued copy live on.
  void PrivateEnvJob(Random& random) {
    DtEnv* env = nullptr;
    STRESS_OK(DtCreateEnv(&env));
    const DtDevice* cpu = nullptr;
    STRESS_OK(DtGetDevice(env, DT_DEVICE_CPU, 0, &cpu));
    Known src = MakeKnown(random, env, cpu, cpu);
    DtValue* dst = nullptr;
    const int64_t shape[2] = {src.rows, src.cols};
    STRESS_OK(DtCreateTensor(env, cpu, src.type, shape, 2, &dst));
    DtStream* stream = nullptr;
    STRESS_OK(DtCreateStream(env, cpu, &stream));
    STRESS_OK(DtCopyTensors(env, (const DtValue* const*)&src.value, &dst, 1, stream));
    DtReleaseEnv(env);
    if (random.Between(0, 1)) DtReleaseValue(std::exchange(src.value, nullptr));
    DtReleaseStream(stream);
    DtReleaseValue(src.value);
    void* data = nullptr;
    STRESS_OK(DtGetTensorData(dst, &data));
    if (data == nullptr || std::memcmp(data, src.bytes.data(), src.bytes.size()) != 0) {
      failed_.store(true);
      ADD_FAILURE() << "a copy queued before DtReleaseEnv differs from its source";
    }
    DtReleaseValue(dst);
  }

  // On a device that records graphs: a slice copy captured on a stream, the slice and the capturing
  // stream released, replayed on another stream (the graph released at a random point), then
  // checked.
  void GraphJob(Random& random, const std::vector<Known>& own) {
    const Known* base = nullptr;
    for (int tries = 0; tries < 8 && !base; ++tries) {
      const Known& k = PickSource(random, own);
      if (DtGetTensorDevice(k.value) == device_) base = &k;
    }
    if (!base) return;
    SliceArgs args{};
    DtValue* slice = MakeSlice(random, *base, &args);
    const std::vector<uint8_t> expected = SliceBytes(*base, args);
    const int64_t shape[2] = {args.axis == 0 ? args.length : base->rows,
                              args.axis == 1 ? args.length : base->cols};
    DtValue* dst = nullptr;
    STRESS_OK(DtCreateTensor(env_, device_, base->type, shape, 2, &dst));
    DtStream* recording = nullptr;
    DtStream* stream = nullptr;
    STRESS_OK(DtCreateStream(env_, device_, &recording));
    STRESS_OK(DtBeginCapture(recording));
    STRESS_OK(DtCopyTensors(env_, (const DtValue* const*)&slice, &dst, 1, recording));
    DtGraph* graph = nullptr;
    STRESS_OK(DtEndCapture(recording, &graph));
    DtReleaseValue(slice);  // the graph holds what it uses
    if (random.Between(0, 1)) {
      DtReleaseStream(std::exchange(recording, nullptr));
    }
    STRESS_OK(DtCreateStream(env_, device_, &stream));
    STRESS_OK(DtReplayGraph(graph, stream));
    if (random.Between(0, 1)) DtReleaseGraph(std::exchange(graph, nullptr));
    STRESS_OK(DtSynchronizeStream(stream));
    if (Read(env_, cpu_, dst) != expected) {
      failed_.store(true);
      ADD_FAILURE() << "a replayed slice copy differs from the reference";
    }
    DtReleaseGraph(graph);
    DtReleaseStream(stream);
    DtReleaseStream(recording);
    DtReleaseValue(dst);
  }

  // On the CPU alone (`other` 0), or on the CPU and device 0 of `other`.
  void Run(DtDeviceType other) {
    Random random;
    SCOPED_TRACE(random.trace());
    DT_ASSERT_OK(DtGetDevice(env_, DT_DEVICE_CPU, 0, &cpu_));
    if (other != DtDeviceType(0)) {
      DtStatus* status = DtGetDevice(env_, other, 0, &device_);
      if (status != nullptr) {
        const std::string why = DtGetErrorMessage(status);
        DtReleaseStatus(status);
        GTEST_SKIP() << "no " << DtGetDeviceTypeName(other) << " device: " << why;
      }
      // Graph jobs where the device records: its own answer, a fresh stream's DtBeginCapture.
      DtStream* probe = nullptr;
      DT_ASSERT_OK(DtCreateStream(env_, device_, &probe));
      const Outcome begin = Take(DtBeginCapture(probe));
      records_ = begin.code == DT_OK;
      if (records_) {
        DtGraph* none = nullptr;
        DtStatus* empty = DtEndCapture(probe, &none);  // nothing recorded: refused, ends it
        DtReleaseStatus(empty);
        DtReleaseGraph(none);
      }
      DtReleaseStream(probe);
    }
    for (int i = 0; i < 6; ++i) {
      shared_.push_back(MakeKnown(random, env_, i % 2 ? AnyDevice(random) : cpu_, cpu_));
    }
    const double seconds = StressSeconds();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([this, i, seed = random.seed, deadline] { Worker(i, seed, deadline); });
    }
    for (std::thread& t : threads) t.join();
    std::printf("%d threads, %.1f s: %d jobs\n", kThreads, seconds, jobs_.load());
    EXPECT_GT(jobs_.load(), kThreads);
  }

  DtEnv* env_ = nullptr;
  const DtDevice* cpu_ = nullptr;
  const DtDevice* device_ = nullptr;  // the device beside the CPU, if any
  bool records_ = false;               // it records graphs
  std::vector<Known> shared_;  // read by every thread
  std::atomic<int> jobs_{0};
  std::atomic<bool> failed_{false};
};

TEST_F(LifetimeStress, EightThreadsOnCpu) { Run(DtDeviceType(0)); }

TEST_F(LifetimeStress, EightThreadsOnCpuAndWebGpu) { Run(DT_DEVICE_WEBGPU); }

TEST_F(LifetimeStress, EightThreadsOnCpuAndCuda) { Run(DT_DEVICE_CUDA); }

}  // namespace
}  // namespace devtensor_test
