// Writes the seed corpus of the API fuzzers: programs (see program.h) that do what the tests and
// examples do: wrap and slice, views at odd offsets, batches that overlap, each op with tensors of
// the right shapes, streams, a decode step captured and replayed, releases in odd orders, and
// arguments the header refuses.
//   fuzz_seeds cpu DIR      the seeds of fuzz_api_cpu
//   fuzz_seeds webgpu DIR   the seeds of fuzz_api_webgpu
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "program.h"

using namespace devtensor_fuzz;
using A = ProgramWriter::Attribute;

namespace {

// hello_tensors: a column of a wrapped matrix copied into a new tensor.
ProgramWriter HelloTensors(uint8_t dev) {
  ProgramWriter w;
  w.CreateWithData(0, DT_FLOAT, {3, 4}, 0, 0);
  w.Slice(0, 1, 1, 2, 1);
  w.Create(dev, 2, DT_FLOAT, {3, 1});
  w.Copy({{1, 2}});
  w.Release(0);
  w.Create(kCpu, 3, DT_FLOAT, {3, 1});
  w.Copy({{2, 3}});
  w.Release(1);
  return w;
}

// Views at unaligned byte offsets and reinterpreted types, copied across and back.
ProgramWriter OddViews(uint8_t dev) {
  ProgramWriter w;
  w.CreateWithData(0, DT_UINT8, {64}, 3, 5);
  w.Create(dev, 1, DT_UINT8, {64});
  w.Copy({{0, 1}});
  w.View(1, 2, 3, DT_UINT8, {5});
  w.View(0, 3, 17, DT_UINT8, {5});
  w.Copy({{3, 2}});
  w.View(1, 4, 8, DT_FLOAT, {2, 3});
  w.Create(kCpu, 5, DT_FLOAT, {2, 3});
  w.Copy({{4, 5}});
  w.Zero(2);
  w.View(1, 6, 2, DT_INT16, {3});
  w.Copy({{1, 0}});
  w.Release(1);
  w.Copy({{6, 3}});
  return w;
}

// A batch whose pairs read what earlier pairs wrote, memmove within one buffer, and a batch with
// overlapping destinations (refused).
ProgramWriter Batches(uint8_t dev) {
  ProgramWriter w;
  w.CreateWithData(0, DT_INT32, {16}, 0, 0);
  w.Create(dev, 1, DT_INT32, {16});
  w.View(1, 2, 0, DT_INT32, {8});
  w.View(1, 3, 8, DT_INT32, {8});
  w.View(0, 4, 4, DT_INT32, {8});
  w.Copy({{0, 1}, {2, 4}});
  w.Copy({{0, 1}, {2, 4}, {4, 3}});
  w.Copy({{2, 3}});
  w.View(1, 5, 16, DT_INT32, {8});
  w.Copy({{4, 3}, {4, 5}});
  w.Slice(1, 6, 0, 1, 7);
  w.Copy({{6, 2}});
  return w;
}

// Strided slices of a matrix: zeroed, copied into strided destinations.
ProgramWriter Strided(uint8_t dev) {
  ProgramWriter w;
  w.Create(kCpu, 0, DT_FLOAT16, {4, 6});
  w.HostWrite(0, 7);
  w.Create(dev, 1, DT_FLOAT16, {4, 6});
  w.Copy({{0, 1}});
  w.Slice(1, 2, 1, 1, 3);
  w.Zero(2);
  w.Slice(0, 3, 1, 3, 3);
  w.Copy({{3, 2}});
  w.Slice(2, 4, 0, 1, 2);
  w.Slice(3, 5, 0, 2, 2);
  w.Copy({{4, 5}});
  w.Copy({{1, 0}});
  return w;
}

// Every op with tensors of the shapes it takes.
ProgramWriter Ops(uint8_t dev) {
  ProgramWriter w;
  w.Create(kCpu, 15, DT_FLOAT, {2, 3});
  w.HostWrite(15, 3);
  w.Create(dev, 0, DT_FLOAT, {2, 3});
  w.Create(dev, 1, DT_FLOAT, {2, 3});
  w.Copy({{15, 0}, {15, 1}});
  w.Create(dev, 2, DT_FLOAT, {2, 3});
  w.RunOp("Add", {0, 1}, {2});
  w.Slice(0, 3, 1, 0, 1);
  w.RunOp("Mul", {0, 3}, {2});
  w.RunOp("Sub", {2, 1}, {2});
  w.RunOp("Div", {2, 1}, {1});
  w.Create(dev, 4, DT_INT32, {2, 3});
  w.RunOp("Cast", {2}, {4}, {A{"to", DT_ATTR_INT, 7, 0}});
  w.Create(dev, 5, DT_INT64, {2, 1});
  w.RunOp("ArgMax", {0}, {5},
          {A{"axis", DT_ATTR_INT, 1, 0}, A{"keepdims", DT_ATTR_INT, 1, 0}});
  w.Create(dev, 6, DT_BOOL, {2, 3});
  w.RunOp("Cast", {0}, {6}, {A{"to", DT_ATTR_INT, 10, 0}});
  w.RunOp("Where", {6, 0, 1}, {2});
  w.Create(dev, 7, DT_FLOAT, {3});
  w.RunOp("Fill", {}, {7}, {A{"value", DT_ATTR_FLOAT, 3, 0}});
  w.Create(dev, 8, DT_INT64, {2});
  w.RunOp("Fill", {}, {8}, {A{"value", DT_ATTR_FLOAT, 3, 0}});
  w.RunOp("Expand", {7, 8}, {2});
  w.Create(dev, 9, DT_INT64, {1, 1});
  w.RunOp("Fill", {}, {9}, {A{"value", DT_ATTR_FLOAT, 1, 0}});
  w.View(7, 11, 0, DT_FLOAT, {1, 3});
  w.RunOp("ScatterND", {0, 9, 11}, {1});
  w.Create(kCpu, 10, DT_FLOAT, {2, 3});
  w.Copy({{2, 10}});
  return w;
}

// The decode ops: mask, position ids and a KV-cache append, with a bad position too.
ProgramWriter DecodeOps(uint8_t dev, uint8_t stream) {
  ProgramWriter w;
  if (stream != kNoStream) w.CreateStream(dev, stream - 1);
  w.Create(dev, 0, DT_INT32, {1, 8});
  w.Create(dev, 1, DT_INT32, {});
  w.RunOp("Fill", {}, {1}, {A{"value", DT_ATTR_FLOAT, 7, 0}}, stream);
  w.RunOp("UpdateAttentionMask", {1}, {0}, {}, stream);
  w.Create(dev, 2, DT_INT64, {1, 1});
  w.RunOp("Fill", {}, {2}, {A{"value", DT_ATTR_FLOAT, 3, 0}}, stream);
  w.RunOp("UpdatePositionIds", {}, {2}, {A{"increment", DT_ATTR_INT, 1, 0}}, stream);
  w.Create(dev, 3, DT_FLOAT, {1, 2, 8, 4});
  w.Zero(3, stream);
  w.Create(dev, 4, DT_FLOAT, {1, 2, 1, 4});
  w.RunOp("Fill", {}, {4}, {A{"value", DT_ATTR_FLOAT, 2, 0}}, stream);
  w.RunOp("KvCacheAppend", {4, 1}, {3}, {}, stream);
  w.RunOp("Fill", {}, {1}, {A{"value", DT_ATTR_FLOAT, 4, 0}}, stream);
  w.RunOp("KvCacheAppend", {4, 1}, {3}, {}, stream);
  w.ErrorFlags(dev);
  if (stream != kNoStream) w.SyncStream(stream - 1);
  w.Create(kCpu, 5, DT_FLOAT, {1, 2, 8, 4});
  w.Copy({{3, 5}});
  return w;
}

// Streams: copies queued on a stream, tensors released while it may still run, then the stream.
ProgramWriter Streams(uint8_t dev) {
  ProgramWriter w;
  w.CreateStream(dev, 0);
  w.CreateStream(kCpu, 1);
  w.CreateWithData(0, DT_UINT16, {32}, 2, 0);
  w.Create(dev, 1, DT_UINT16, {32});
  w.Copy({{0, 1}}, StreamByte(0));
  w.Slice(1, 2, 0, 5, 9);
  w.Create(kCpu, 3, DT_UINT16, {9});
  w.Copy({{2, 3}}, StreamByte(0));
  w.Release(1);
  w.Release(2);
  w.SyncStream(0);
  w.Slice(0, 4, 0, 20, 9);
  w.Copy({{3, 4}}, StreamByte(1));
  w.Zero(3, StreamByte(0));
  w.ReleaseStream(0);
  w.Copy({{4, 3}}, StreamByte(1));
  w.SyncStream(1);
  return w;
}

// A decode step captured on a stream and replayed, its tensors released before the graph.
ProgramWriter CaptureReplay() {
  ProgramWriter w;
  w.CreateStream(kWebGpu, 0);
  w.Create(kWebGpu, 0, DT_INT32, {1, 8});
  w.Zero(0);
  w.Create(kWebGpu, 1, DT_INT32, {});
  w.RunOp("Fill", {}, {1}, {A{"value", DT_ATTR_FLOAT, 1, 0}});
  w.Create(kWebGpu, 2, DT_INT64, {1, 1});
  w.Zero(2);
  w.Create(kWebGpu, 3, DT_FLOAT, {1, 2, 8, 4});
  w.Zero(3);
  w.Create(kWebGpu, 4, DT_FLOAT, {1, 2, 1, 4});
  w.RunOp("Fill", {}, {4}, {A{"value", DT_ATTR_FLOAT, 3, 0}});
  w.CreateWithData(5, DT_FLOAT, {1, 2, 1, 4}, 4, 4);
  w.BeginCapture(0);
  w.Copy({{5, 4}}, StreamByte(0));
  w.RunOp("KvCacheAppend", {4, 1}, {3}, {}, StreamByte(0));
  w.RunOp("UpdateAttentionMask", {1}, {0}, {}, StreamByte(0));
  w.RunOp("UpdatePositionIds", {}, {2}, {A{"increment", DT_ATTR_INT, 1, 0}}, StreamByte(0));
  w.Zero(4, StreamByte(0));
  w.SyncStream(0);
  w.EndCapture(0, 0);
  w.Replay(0, 0);
  w.Replay(0, 0);
  w.SyncStream(0);
  w.Create(kCpu, 6, DT_FLOAT, {1, 2, 8, 4});
  w.Copy({{3, 6}});
  w.Release(3);
  w.Release(4);
  w.Replay(0, 0);
  w.CreateStream(kWebGpu, 1);
  w.Replay(0, 1);
  w.ReleaseGraph(0);
  w.Create(kWebGpu, 7, DT_FLOAT, {1, 2, 1, 4});
  w.BeginCapture(1);
  w.Copy({{5, 7}}, StreamByte(1));
  w.RunOp("Add", {7, 7}, {7}, {}, StreamByte(1));
  w.ReleaseStream(1);
  return w;
}

// Arguments the header refuses: bad types, ranks, dimensions, offsets, slices, NULLs.
ProgramWriter Refused(uint8_t dev) {
  ProgramWriter w;
  w.Create(dev, 0, DT_FLOAT, {2, 3});
  w.Create(dev, 1, static_cast<DtElementType>(8), {2});
  w.Create(dev, 1, DT_FLOAT, {1, 1, 1, 1, 1, 1, 1, 1, 1});
  w.Create(dev, 1, DT_FLOAT, {2, -1});
  w.Create(dev, 1, DT_UINT8, {int64_t{1} << 62, int64_t{1} << 62});
  w.CreateWithData(1, DT_FLOAT, {4}, 2, 0);
  w.CreateWithData(1, DT_FLOAT, {4}, 4, -1);
  w.View(0, 2, 20, DT_FLOAT, {2});
  w.View(0, 2, 2, DT_FLOAT, {1});
  w.View(0, 2, 24, DT_FLOAT, {0});
  w.Slice(0, 2, 2, 0, 1);
  w.Slice(0, 2, 1, 2, 2);
  w.Slice(0, 2, 0, -1, 1);
  w.Create(dev, 3, DT_INT32, {2, 3});
  w.Copy({{0, 3}});
  w.Create(dev, 4, DT_FLOAT, {3, 2});
  w.Copy({{0, 4}});
  w.Copy({{0, kNull}});
  w.Zero(kNull);
  w.RunOp("Conv", {0}, {4});
  w.RunOp("Add", {0, 4}, {3});
  w.RunOp("ScatterND", {0, 3, 0}, {0}, {A{"reduction", DT_ATTR_INT, 0, 0}});
  w.RunOp("Cast", {0}, {3}, {A{"to", DT_ATTR_INTS, 7, 2}});
  w.SyncStream(kNull);
  w.BeginCapture(kNull);
  w.CreateStream(kCpu, 0);
  w.BeginCapture(0);
  w.EndCapture(0, 0);
  return w;
}

// The env released and made again while its tensors and streams live on.
ProgramWriter EnvRecycled() {
  ProgramWriter w;
  w.CreateWithData(0, DT_INT64, {4, 4}, 8, 8);
  w.Create(kCpu, 1, DT_INT64, {4, 4});
  w.CreateStream(kCpu, 0);
  w.RecycleEnv();
  w.Copy({{0, 1}}, StreamByte(0));
  w.Slice(1, 2, 0, 1, 2);
  w.Create(kCpu, 3, DT_INT64, {2, 4});
  w.Copy({{2, 3}});
  w.RecycleEnv();
  w.Release(1);
  w.Zero(2);
  w.ReleaseStream(0);
  return w;
}

bool Write(const std::string& dir, const std::string& name, const ProgramWriter& w) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror(path.c_str());
    return false;
  }
  const bool ok = std::fwrite(w.bytes().data(), 1, w.bytes().size(), f) == w.bytes().size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "cpu") != 0 && std::strcmp(argv[1], "webgpu") != 0)) {
    std::fprintf(stderr, "usage: fuzz_seeds cpu|webgpu DIR\n");
    return 2;
  }
  const std::string dir = argv[2];
  const bool webgpu = std::strcmp(argv[1], "webgpu") == 0;
  const uint8_t dev = webgpu ? kWebGpu : kCpu;
  bool ok = Write(dir, "hello_tensors", HelloTensors(dev)) &&
            Write(dir, "odd_views", OddViews(dev)) && Write(dir, "batches", Batches(dev)) &&
            Write(dir, "strided", Strided(dev)) && Write(dir, "ops", Ops(dev)) &&
            Write(dir, "decode_ops", DecodeOps(dev, kNoStream)) &&
            Write(dir, "decode_ops_on_stream", DecodeOps(dev, StreamByte(2))) &&
            Write(dir, "streams", Streams(dev)) && Write(dir, "refused", Refused(dev));
  if (webgpu) {
    ok = ok && Write(dir, "capture_replay", CaptureReplay());
  } else {
    ok = ok && Write(dir, "env_recycled", EnvRecycled());
  }
  return ok ? 0 : 1;
}
