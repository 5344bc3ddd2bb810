// Copies the copy and stream suites check: a source buffer of random bytes (gaps and guards
// included, so reading a wrong byte shows) and a destination buffer of kSentinel, on the host or on
// the device under test, with a view of each (dense, or a strided slice of a larger parent); the
// expected destination buffer is computed element by element from placements described
// independently of the library, and the whole buffer is compared, so a byte written outside the
// view shows as well as a wrong element.
#ifndef DEVTENSOR_TESTS_DEVICE_SUITE_COPY_TRIALS_H_
#define DEVTENSOR_TESTS_DEVICE_SUITE_COPY_TRIALS_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "device_suite/device_cases.h"

namespace devtensor_test {

inline std::string Name(DtElementType type) { return DtGetElementTypeName(type); }

inline const char* WhereName(Where where) { return where == Where::kDevice ? "device" : "host"; }

// The directions of a copy that involves the device under test.
inline constexpr std::pair<Where, Where> kDirections[] = {
    {Where::kHost, Where::kDevice}, {Where::kDevice, Where::kHost}, {Where::kDevice, Where::kDevice}};

inline DtStatus* CopyOne(DtEnv* env, const DtValue* src, DtValue* dst,
                         DtStream* stream = nullptr) {
  return DtCopyTensors(env, &src, &dst, 1, stream);
}

inline bool AllSentinel(const std::vector<uint8_t>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == kSentinel; });
}

// Rank in [min_rank, max_rank]; dimensions 1..12 up to rank 2, 1..5 beyond.
inline Shape RandomShape(Random& random, size_t min_rank, size_t max_rank) {
  Shape shape(random.Between(min_rank, max_rank));
  for (int64_t& d : shape) d = random.Between(1, shape.size() <= 2 ? 12 : 5);
  return shape;
}

// Uniform in log space over [lo, hi]: as many tiny sizes as large ones.
inline int64_t LogUniform(Random& random, int64_t lo, int64_t hi) {
  std::uniform_real_distribution<double> exponent(std::log(double(lo)), std::log(double(hi) + 1));
  return std::clamp<int64_t>(static_cast<int64_t>(std::exp(exponent(random.engine))), lo, hi);
}

// A slice of `shape` along `axis` of a parent longer there, at a random start.
inline Placement SliceAlong(Random& random, const Shape& shape, size_t element_size, size_t axis) {
  Placement p = DensePlacement(shape, element_size, random.Between(1, 5), random.Between(1, 16));
  const int64_t extra = random.Between(1, 3);
  p.parent[axis] += extra;
  p.start[axis] = random.Between(0, extra);
  return p;
}

// One copy between two buffers.
struct Trial {
  DtElementType type;
  Where src_where, dst_where;
  Placement from, to;
  std::unique_ptr<Bytes> src, dst;
  devtensor::Tensor src_view, dst_view;
  std::vector<uint8_t> src_before, expected;

  std::string Describe() const {
    return Name(type) + " from " + WhereName(src_where) + " " + from.Describe() + " to " +
           WhereName(dst_where) + " " + to.Describe();
  }
};

// `direct` false: device bytes are set and read through devtensor (on threads).
inline std::unique_ptr<Trial> MakeTrial(const DeviceFixture& f, Random& random, DtElementType type,
                                        Where src_where, const Placement& from, Where dst_where,
                                        const Placement& to, bool direct = true) {
  auto t = std::make_unique<Trial>();
  t->type = type;
  t->src_where = src_where;
  t->dst_where = dst_where;
  t->from = from;
  t->to = to;
  t->src = f.NewBytes(src_where, from.BufferBytes(), direct);
  t->dst = f.NewBytes(dst_where, to.BufferBytes(), direct);
  t->src_before = RandomData(random, type, from.BufferBytes());
  t->src->Set(t->src_before);
  t->dst->Set(Sentinels(to.BufferBytes()));
  t->src_view = t->src->View(from, type);
  t->dst_view = t->dst->View(to, type);
  t->expected = Sentinels(to.BufferBytes());
  ReferenceCopy(t->src_before, from, &t->expected, to);
  return t;
}

// A trial between random placements of one random shape: each side dense or strided.
inline std::unique_ptr<Trial> RandomTrial(const DeviceFixture& f, Random& random, Where src_where,
                                          Where dst_where, bool direct = true) {
  const DtElementType type = RandomType(random);
  const size_t size = SizeOf(type);
  const Shape shape = RandomShape(random, 1, 5);
  auto place = [&] {
    return random.Between(0, 1)
               ? StridedPlacement(random, shape, size)
               : DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 16));
  };
  const Placement from = place(), to = place();
  return MakeTrial(f, random, type, src_where, from, dst_where, to, direct);
}

// A trial whose source is dense (now and then right at the buffer's start or end) or strided, and
// whose destination is dense among guards or strided.
inline std::unique_ptr<Trial> StridedOrDenseTrial(const DeviceFixture& f, Random& random,
                                                  bool src_strided, bool dst_strided,
                                                  Where src_where, Where dst_where) {
  const DtElementType type = RandomType(random);
  const size_t size = SizeOf(type);
  const Shape shape = RandomShape(random, 1, 5);
  const Placement from =
      src_strided ? StridedPlacement(random, shape, size)
                  : DensePlacement(shape, size, random.Between(0, 3), random.Between(0, 8));
  const Placement to =
      dst_strided ? StridedPlacement(random, shape, size)
                  : DensePlacement(shape, size, random.Between(1, 4), random.Between(1, 16));
  return MakeTrial(f, random, type, src_where, from, dst_where, to);
}

// The destination buffer against the reference, and the source buffer against itself.
inline ::testing::AssertionResult Check(const Trial& t) {
  const ::testing::AssertionResult dst = SameBytes(t.dst->Get(), t.expected);
  if (!dst) {
    return ::testing::AssertionFailure() << t.Describe() << ": destination: " << dst.message();
  }
  const ::testing::AssertionResult src = SameBytes(t.src->Get(), t.src_before);
  if (!src) {
    return ::testing::AssertionFailure() << t.Describe() << ": source changed: " << src.message();
  }
  return ::testing::AssertionSuccess();
}

// Copies the trial's views (on `stream` when given, then synchronised) and checks.
inline ::testing::AssertionResult RunTrial(const DeviceFixture& f, const Trial& t,
                                      const devtensor::Stream* stream = nullptr) {
  DtStatus* status =
      CopyOne(f.env.get(), t.src_view.get(), t.dst_view.get(), stream ? stream->get() : nullptr);
  if (status == nullptr && stream != nullptr) status = DtSynchronizeStream(stream->get());
  if (status != nullptr) {
    const Outcome o = Take(status);
    return ::testing::AssertionFailure()
           << t.Describe() << ": " << DtGetErrorCodeName(o.code) << ": " << o.message;
  }
  return Check(t);
}

// Device memory a download fills, and an upload of that host memory after it: a strided or dense
// host view, of a size that is a multiple of 4 bytes or not.
struct DownloadThenUpload {
  DtElementType type;
  Placement a, h, c;
  std::unique_ptr<Bytes> ga, hh, gc;
  devtensor::Tensor va, vh, vc;
  std::vector<uint8_t> values, h_expected, c_expected;
};

inline std::unique_ptr<DownloadThenUpload> MakeDownloadThenUpload(const DeviceFixture& f,
                                                                  Random& random, int trial) {
  auto d = std::make_unique<DownloadThenUpload>();
  // Trial 0: 5 bytes; trial 1: 48 bytes; trial 2: a strided host view; then random.
  d->type = trial == 0 ? DT_UINT8 : trial == 1 ? DT_FLOAT : RandomType(random);
  const size_t size = SizeOf(d->type);
  const Shape shape = trial == 0 ? Shape{5} : trial == 1 ? Shape{3, 4} : RandomShape(random, 1, 3);
  d->a = DensePlacement(shape, size, random.Between(0, 5), random.Between(1, 8));
  d->h = trial == 2 || (trial > 2 && random.Between(0, 1))
             ? StridedPlacement(random, shape, size)
             : DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 8));
  d->c = DensePlacement(shape, size, random.Between(1, 5), random.Between(1, 8));
  d->ga = f.NewBytes(Where::kDevice, d->a.BufferBytes());
  d->hh = f.NewBytes(Where::kHost, d->h.BufferBytes());
  d->gc = f.NewBytes(Where::kDevice, d->c.BufferBytes());
  d->values = RandomData(random, d->type, d->a.BufferBytes());
  d->ga->Set(d->values);
  d->hh->Set(Sentinels(d->hh->size()));
  d->gc->Set(Sentinels(d->gc->size()));
  d->va = d->ga->View(d->a, d->type);
  d->vh = d->hh->View(d->h, d->type);
  d->vc = d->gc->View(d->c, d->type);
  d->h_expected = Sentinels(d->hh->size());
  d->c_expected = Sentinels(d->gc->size());
  ReferenceCopy(d->values, d->a, &d->h_expected, d->h);
  ReferenceCopy(d->values, d->a, &d->c_expected, d->c);
  return d;
}

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_DEVICE_SUITE_COPY_TRIALS_H_
