// Streams on every device (kDeviceCases): work issued on a stream (copies in every direction,
// clears, ops) is in place after DtSynchronizeStream, runs in issue order (a later call reads what
// an earlier one wrote, host work included), keeps the tensors it uses alive when they are released
// before the synchronisation, survives the env, tensors and stream released in any order, and
// reports the device error flags its ops raised. Devices that check positions on the host fail
// such an op when it is issued instead (see DeviceFixture::ChecksValuesOnTheHost).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "device_suite/copy_trials.h"
#include "device_suite/device_cases.h"

namespace {

using namespace devtensor_test;
using devtensor::Tensor;

class StreamSuite : public DeviceTest {};
DT_INSTANTIATE_DEVICE_SUITE(StreamSuite);

TEST_P(StreamSuite, CreateRejectsNullArguments) {
  DtStream* out = reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50});
  DT_EXPECT_ERROR(DtCreateStream(nullptr, device.get(), &out), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtCreateStream(env.get(), nullptr, &out), DT_INVALID_ARGUMENT, "device");
  DT_EXPECT_ERROR(DtCreateStream(env.get(), device.get(), nullptr), DT_INVALID_ARGUMENT, "stream");
  EXPECT_EQ(out, reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a50}));
  DT_EXPECT_ERROR(DtSynchronizeStream(nullptr), DT_INVALID_ARGUMENT, "stream");
  EXPECT_EQ(DtGetStreamDevice(nullptr), nullptr);
}

TEST_P(StreamSuite, CopiesAndZeroesAreInPlaceAfterSynchronize) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(device);
  EXPECT_EQ(stream.device().get(), device.get());
  EXPECT_EQ(DtGetStreamDevice(stream.get()), device.get());
  for (int round = 0; round < Trials(10, 8); ++round) {
    // Copies in every direction (downloads into host views), a strided clear, and a chain whose
    // steps depend on each other, all issued before one synchronisation.
    std::vector<std::unique_ptr<Trial>> trials;
    for (int i = 0; i < 9; ++i) {
      const auto& [from, to] = kDirections[i % 3];
      trials.push_back(RandomTrial(*this, random, from, to));
    }
    for (int i = 0; i < Trials(10, 2); ++i) {
      const auto& [from, to] = kDirections[random.Between(0, 2)];
      trials.push_back(StridedOrDenseTrial(*this, random, random.Between(0, 1),
                                           random.Between(0, 1), from, to));
    }
    for (const auto& trial : trials) {
      DT_ASSERT_OK(CopyOne(env.get(), trial->src_view.get(), trial->dst_view.get(), stream.get()));
    }
    const DtElementType type = RandomType(random);
    const Placement p = StridedPlacement(random, RandomShape(random, 1, 4), SizeOf(type));
    auto cleared = NewBytes(Where::kDevice, p.BufferBytes());
    const std::vector<uint8_t> before = RandomData(random, type, p.BufferBytes());
    cleared->Set(before);
    Tensor view = cleared->View(p, type);
    DT_ASSERT_OK(DtZeroTensor(env.get(), view.get(), stream.get()));

    // A -> B, clear B[:, 2:7], B -> host C: C is A with those columns zero.
    const Shape shape = {6, 10};
    Tensor a = Tensor::create(env, device, DT_UINT16, shape);
    Tensor b = Tensor::create(env, device, DT_UINT16, shape);
    Tensor a_host = Tensor::create(env, cpu, DT_UINT16, shape);
    const std::vector<uint8_t> a_values = RandomBytes(random, 120);
    std::memcpy(a_host.data(), a_values.data(), 120);
    const Placement c_place = DensePlacement(shape, 2, random.Between(1, 4), random.Between(1, 8));
    auto c = NewBytes(Where::kHost, c_place.BufferBytes());
    c->Set(Sentinels(c->size()));
    Tensor c_view = c->View(c_place, DT_UINT16);
    env.copy(a_host, a, &stream);
    env.copy(a, b, &stream);
    env.zero(b.slice(1, 2, 5), &stream);
    env.copy(b, c_view, &stream);

    DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
    for (const auto& trial : trials) ASSERT_TRUE(Check(*trial));
    std::vector<uint8_t> expected = before;
    for (size_t at : p.ByteOffsets()) std::fill_n(expected.begin() + at, p.element_size, 0);
    ASSERT_TRUE(SameBytes(cleared->Get(), expected)) << "clearing " << p.Describe();
    std::vector<uint8_t> chain = a_values;
    for (size_t at : Placement{shape, {0, 2}, {6, 5}, 2, 0, 0}.ByteOffsets()) {
      chain[at] = chain[at + 1] = 0;
    }
    std::vector<uint8_t> c_expected = Sentinels(c->size());
    ReferenceCopy(chain, DensePlacement(shape, 2, 0, 0), &c_expected, c_place);
    ASSERT_TRUE(SameBytes(c->Get(), c_expected)) << "A -> B, clear, B -> C";
  }
}

// A -> B, clear B[:, 2:7], B -> C, all within the device: C must be A with those columns zero.
TEST_P(StreamSuite, WorkRunsInIssueOrder) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(device);
  const Shape shape = {6, 10};
  const std::vector<uint8_t> a_values = RandomBytes(random, 120), b_values = RandomBytes(random, 120);
  Tensor a = Tensor::create(env, device, DT_UINT16, shape);
  Tensor b = Tensor::create(env, device, DT_UINT16, shape);
  SetDeviceStorage(a, a_values);
  SetDeviceStorage(b, b_values);
  const Placement c_place = DensePlacement(shape, 2, random.Between(1, 4), random.Between(1, 16));
  auto c = NewBytes(Where::kDevice, c_place.BufferBytes());
  std::vector<uint8_t> c_before = Sentinels(c->size());
  const std::vector<uint8_t> c_values = RandomBytes(random, 120);
  std::copy(c_values.begin(), c_values.end(), c_before.begin() + c_place.parent_offset);
  c->Set(c_before);
  Tensor c_view = c->View(c_place, DT_UINT16);
  Tensor b_columns = b.slice(1, 2, 5);
  DT_ASSERT_OK(CopyOne(env.get(), a.get(), b.get(), stream.get()));
  DT_ASSERT_OK(DtZeroTensor(env.get(), b_columns.get(), stream.get()));
  DT_ASSERT_OK(CopyOne(env.get(), b.get(), c_view.get(), stream.get()));
  DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
  std::vector<uint8_t> expected = a_values;
  for (size_t at : Placement{shape, {0, 2}, {6, 5}, 2, 0, 0}.ByteOffsets()) {
    expected[at] = expected[at + 1] = 0;
  }
  std::vector<uint8_t> c_expected = Sentinels(c->size());
  std::copy(expected.begin(), expected.end(), c_expected.begin() + c_place.parent_offset);
  EXPECT_TRUE(SameBytes(c->Get(), c_expected));
}

// The stream keeps what queued work uses alive: every DtValue may go before synchronising.
TEST_P(StreamSuite, ReleasingTensorsBeforeSynchronizeIsSafe) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(device);
  // A strided slice of a device tensor downloaded into a strided view of the test's memory.
  for (int trial = 0; trial < Trials(20, 5); ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape parent = RandomShape(random, 2, 4);
    Placement from = DensePlacement(parent, size, 0, 0);
    from.shape[1] = random.Between(1, parent[1]);
    from.start[1] = random.Between(0, parent[1] - from.shape[1]);
    const Placement to = StridedPlacement(random, from.shape, size);
    SCOPED_TRACE(from.Describe() + " to " + to.Describe());

    const std::vector<uint8_t> values = RandomData(random, type, Product(parent) * size);
    std::vector<uint8_t> host_memory = Sentinels(to.BufferBytes());  // the test's, outlives all
    std::vector<uint8_t> expected = host_memory;
    ReferenceCopy(values, from, &expected, to);
    {
      Tensor src_base = Tensor::create(env, device, type, parent);
      SetDeviceStorage(src_base, values);
      Tensor src = src_base.slice(1, from.start[1], from.shape[1]);
      Tensor dst = Tensor::wrap(env, cpu, host_memory.data(), host_memory.size(), to.parent_offset,
                                type, to.parent);
      for (size_t axis = 0; axis < to.shape.size(); ++axis) {
        if (to.shape[axis] != to.parent[axis]) dst = dst.slice(axis, to.start[axis], to.shape[axis]);
      }
      DT_ASSERT_OK(CopyOne(env.get(), src.get(), dst.get(), stream.get()));
    }  // every DtValue goes here, with the work maybe still queued
    DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
    ASSERT_TRUE(SameBytes(host_memory, expected));
  }
  // Host source -> unaligned device view -> strided slice of another device tensor -> host memory.
  for (int trial = 0; trial < 10; ++trial) {
    const DtElementType type = RandomType(random);
    const size_t size = SizeOf(type);
    const Shape shape = RandomShape(random, 2, 4);
    const Placement out = StridedPlacement(random, shape, size);
    SCOPED_TRACE(Name(type) + " " + Text(shape) + " into " + out.Describe());
    std::vector<uint8_t> host_memory = Sentinels(out.BufferBytes());  // the test's, outlives all
    const std::vector<uint8_t> values = RandomData(random, type, Product(shape) * size);
    {
      Tensor source = Tensor::create(env, cpu, type, shape);
      std::memcpy(source.data(), values.data(), values.size());
      Tensor a = Tensor::create(env, device, DT_UINT8, {int64_t(values.size() + 3 * size)});
      Tensor a_view = a.view(size, type, shape);
      Shape wider = shape;
      wider.back() += 2;
      Tensor b = Tensor::create(env, device, type, wider);
      Tensor b_slice = b.slice(shape.size() - 1, 1, shape.back());
      Tensor dst = Tensor::wrap(env, cpu, host_memory.data(), host_memory.size(), out.parent_offset,
                                type, out.parent);
      for (size_t axis = 0; axis < shape.size(); ++axis) {
        if (out.shape[axis] != out.parent[axis]) {
          dst = dst.slice(axis, out.start[axis], out.shape[axis]);
        }
      }
      env.copy(source, a_view, &stream);
      env.copy(a_view, b_slice, &stream);
      env.copy(b_slice, dst, &stream);
    }  // every DtValue goes here, with the work maybe still queued
    DT_ASSERT_OK(DtSynchronizeStream(stream.get()));
    std::vector<uint8_t> expected = Sentinels(out.BufferBytes());
    ReferenceCopy(values, DensePlacement(shape, size, 0, 0), &expected, out);
    ASSERT_TRUE(SameBytes(host_memory, expected));
  }
}

// A later call on the stream is ordered after an earlier download: an upload of the host memory
// the download filled sends the downloaded data.
TEST_P(StreamSuite, UploadAfterADownloadOnTheStreamSendsTheDownloadedData) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(device);
  for (int trial = 0; trial < 8; ++trial) {
    auto d = MakeDownloadThenUpload(*this, random, trial);
    SCOPED_TRACE(Name(d->type) + ": A " + d->a.Describe() + ", host " + d->h.Describe());
    env.copy(d->va, d->vh, &stream);
    env.copy(d->vh, d->vc, &stream);
    stream.synchronize();
    EXPECT_TRUE(SameBytes(d->hh->Get(), d->h_expected)) << "the download";
    EXPECT_TRUE(SameBytes(d->gc->Get(), d->c_expected)) << "the upload issued after it";
  }
}

// The same with a host-to-host copy after the download: the host work waits for the stream.
TEST_P(StreamSuite, HostCopyAfterADownloadOnTheStreamCopiesTheDownloadedData) {
  SCOPED_TRACE(random.trace());
  devtensor::Stream stream = env.create_stream(device);
  const Shape shape = {7, 9};
  const std::vector<uint8_t> values = RandomBytes(random, 7 * 9 * 4);
  auto ga = NewBytes(Where::kDevice, values.size());
  ga->Set(values);
  Tensor a = ga->whole().view(0, DT_FLOAT, shape);
  Tensor h = Tensor::create(env, cpu, DT_FLOAT, shape);
  Tensor h2 = Tensor::create(env, cpu, DT_FLOAT, shape);
  std::memset(h.data(), kSentinel, values.size());
  std::memset(h2.data(), kSentinel, values.size());
  env.copy(a, h, &stream);
  env.copy(h, h2, &stream);
  stream.synchronize();
  EXPECT_EQ(std::memcmp(h.data(), values.data(), values.size()), 0);
  EXPECT_EQ(std::memcmp(h2.data(), values.data(), values.size()), 0);
}

// Env, tensor, view and stream released in each of the 24 orders with an upload and a download
// still queued: nothing crashes, and the download lands in the test's memory (releasing the
// stream waits for it).
TEST_P(StreamSuite, ReleaseInEveryOrderWithWorkQueued) {
  SCOPED_TRACE(random.trace());
  std::array<int, 4> order = {0, 1, 2, 3};
  do {
    SCOPED_TRACE("release order " + std::to_string(order[0]) + std::to_string(order[1]) +
                 std::to_string(order[2]) + std::to_string(order[3]) +
                 " (0 env, 1 tensor, 2 view, 3 stream)");
    const int64_t n = random.Between(1, 4000);
    const std::vector<uint8_t> values = RandomBytes(random, n);
    std::vector<uint8_t> out = Sentinels(n + 10);
    DtEnv* e = nullptr;
    DT_ASSERT_OK(DtCreateEnv(&e));
    const DtDevice *d = nullptr, *c = nullptr;
    DT_ASSERT_OK(DtGetDevice(e, device_case.type, 0, &d));
    DT_ASSERT_OK(DtGetDevice(e, DT_DEVICE_CPU, 0, &c));
    const int64_t whole_shape[] = {n + 8}, shape[] = {n};
    DtValue *tensor = nullptr, *view = nullptr, *src = nullptr, *dst = nullptr;
    DtStream* stream = nullptr;
    DT_ASSERT_OK(DtCreateTensor(e, d, DT_UINT8, whole_shape, 1, &tensor));
    DT_ASSERT_OK(DtCreateTensorView(tensor, 3, DT_UINT8, shape, 1, &view));
    DT_ASSERT_OK(DtCreateStream(e, d, &stream));
    DT_ASSERT_OK(DtCreateTensorWithData(e, c, const_cast<uint8_t*>(values.data()), n, 0, DT_UINT8,
                                        shape, 1, &src));
    DT_ASSERT_OK(DtCreateTensorWithData(e, c, out.data(), out.size(), 5, DT_UINT8, shape, 1, &dst));
    DT_ASSERT_OK(CopyOne(e, src, view, stream));
    DT_ASSERT_OK(CopyOne(e, view, dst, stream));
    DtReleaseValue(src);
    DtReleaseValue(dst);
    for (int which : order) {
      if (which == 0) DtReleaseEnv(e);
      if (which == 1) DtReleaseValue(tensor);
      if (which == 2) DtReleaseValue(view);
      if (which == 3) DtReleaseStream(stream);
    }
    std::vector<uint8_t> expected = Sentinels(n + 10);
    std::copy(values.begin(), values.end(), expected.begin() + 5);
    ASSERT_TRUE(SameBytes(out, expected));
  } while (std::next_permutation(order.begin(), order.end()));
}

// ---- Device error flags -----------------------------------------------------------------------------

// A KvCacheAppend of one token into a [1, 1, 4, 2] float cache on the device at `position` (an
// int32 scalar on the device, read by the device).
struct Append {
  Tensor cache, token, position;
};

Append MakeAppend(const DeviceFixture& f, int32_t position) {
  Append a;
  a.cache = Tensor::create(f.env, f.device, DT_FLOAT, {1, 1, 4, 2});
  a.token = Tensor::create(f.env, f.device, DT_FLOAT, {1, 1, 1, 2});
  a.position = Tensor::create(f.env, f.device, DT_INT32, {1});
  f.env.run("Fill", {}, {&a.cache}, {devtensor::FloatAttribute("value", 0.5f)});
  f.env.run("Fill", {}, {&a.token}, {devtensor::FloatAttribute("value", 2.0f)});
  Tensor host = Tensor::wrap(f.env, f.cpu, &position, 4, 0, DT_INT32, {1});
  f.env.copy(host, a.position);
  return a;
}

std::vector<float> Floats(const DeviceFixture& f, const Tensor& tensor) {
  std::vector<float> floats(tensor.element_count());
  Tensor host = Tensor::wrap(f.env, f.cpu, floats.data(), floats.size() * 4, 0, DT_FLOAT,
                             {int64_t(floats.size())});
  f.env.copy(tensor.view(0, DT_FLOAT, {int64_t(floats.size())}), host);
  return floats;
}

DtStatus* IssueAppend(const DeviceFixture& f, Append& a, DtStream* stream) {
  const DtValue* in[] = {a.token.get(), a.position.get()};
  DtValue* out[] = {a.cache.get()};
  return DtRunOp(f.env.get(), "KvCacheAppend", in, 2, out, 1, nullptr, 0, stream);
}

// DtGetDeviceErrorFlags sees the flags of work queued on streams that were not synchronised: it
// submits that work first. On a device that checks on the host, the bad append fails at once and
// no flag is ever raised.
TEST_P(StreamSuite, ErrorFlagsSeeWorkQueuedOnStreams) {
  Append bad = MakeAppend(*this, 7);
  devtensor::Stream one = env.create_stream(device), two = env.create_stream(device);
  if (ChecksValuesOnTheHost()) {
    DT_EXPECT_ERROR(IssueAppend(*this, bad, one.get()), DT_OUT_OF_RANGE, "KvCacheAppend");
    EXPECT_EQ(ErrorFlags(), 0u);
  } else {
    DT_ASSERT_OK(IssueAppend(*this, bad, one.get()));
    EXPECT_EQ(ErrorFlags(), DT_DEVICE_ERROR_KV_POSITION) << "the queued append's flag";
    EXPECT_EQ(ErrorFlags(), 0u) << "reading cleared it";
  }
  // Read once, the flag is not reported again by the stream's synchronisation.
  DT_EXPECT_OK(DtSynchronizeStream(one.get()));
  Append good = MakeAppend(*this, 1);
  DT_ASSERT_OK(IssueAppend(*this, good, two.get()));
  EXPECT_EQ(ErrorFlags(), 0u);
  DT_EXPECT_OK(DtSynchronizeStream(two.get()));
  EXPECT_EQ(Floats(*this, good.cache), (std::vector<float>{.5, .5, 2, 2, .5, .5, .5, .5}));
  EXPECT_EQ(Floats(*this, bad.cache), std::vector<float>(8, 0.5f)) << "skipped";
}

// A stream's synchronisation fails with DT_OUT_OF_RANGE naming the op when work it waited for
// raised a flag; the flag stays readable, once. Work that raised none synchronises cleanly after.
TEST_P(StreamSuite, ErrorFlagsOfItsWorkFailTheStreamsSynchronisation) {
  Append bad = MakeAppend(*this, -1);
  devtensor::Stream stream = env.create_stream(device);
  if (ChecksValuesOnTheHost()) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      DT_EXPECT_ERROR(IssueAppend(*this, bad, stream.get()), DT_OUT_OF_RANGE, "KvCacheAppend",
                      "out of range");
      DT_EXPECT_OK(DtSynchronizeStream(stream.get()));
      EXPECT_EQ(ErrorFlags(), 0u);
    }
  } else {
    DT_ASSERT_OK(IssueAppend(*this, bad, stream.get()));
    DT_EXPECT_ERROR(DtSynchronizeStream(stream.get()), DT_OUT_OF_RANGE, "KvCacheAppend",
                    "out of range");
    EXPECT_EQ(ErrorFlags(), DT_DEVICE_ERROR_KV_POSITION);
    EXPECT_EQ(ErrorFlags(), 0u);
    DT_ASSERT_OK(IssueAppend(*this, bad, stream.get()));
    DT_EXPECT_ERROR(DtSynchronizeStream(stream.get()), DT_OUT_OF_RANGE, "KvCacheAppend");
    DT_EXPECT_OK(DtSynchronizeStream(stream.get()));  // reported once
  }
  Append good = MakeAppend(*this, 3);
  DT_ASSERT_OK(IssueAppend(*this, good, stream.get()));
  DT_EXPECT_OK(DtSynchronizeStream(stream.get()));
  EXPECT_EQ(ErrorFlags(), ChecksValuesOnTheHost() ? 0u : DT_DEVICE_ERROR_KV_POSITION)
      << "the flag of the unread second append";
  EXPECT_EQ(Floats(*this, good.cache), (std::vector<float>{.5, .5, .5, .5, .5, .5, 2, 2}));
  EXPECT_EQ(Floats(*this, bad.cache), std::vector<float>(8, 0.5f)) << "skipped";
}

}  // namespace
