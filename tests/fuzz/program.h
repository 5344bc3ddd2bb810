// The byte format of the API fuzzers' inputs: a little program of C API calls. Shared by the fuzz
// targets (which decode it) and by fuzz_seeds (which writes meaningful programs as seed corpus).
//
// An input is a sequence of commands. Each command is one opcode byte (taken modulo kOpCount)
// followed by its arguments, read byte by byte; a program that ends early reads zeros. Slots name
// the objects a program made: kTensorSlots tensors, kStreamSlots streams, kGraphSlots graphs. A
// command that creates an object names its slot; an object already in that slot is released first.
#ifndef DEVTENSOR_TESTS_FUZZ_PROGRAM_H_
#define DEVTENSOR_TESTS_FUZZ_PROGRAM_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "devtensor/devtensor.h"

namespace devtensor_fuzz {

constexpr int kTensorSlots = 16;
constexpr int kStreamSlots = 4;
constexpr int kGraphSlots = 4;
constexpr int kMaxCommands = 64;
constexpr int kMaxPairs = 4;

enum Op : uint8_t {
  // dev, slot, type, rank, dims[rank]
  kCreate = 0,
  // slot, type, rank, dims[rank], offset, slack (int8): a caller buffer of exactly
  // offset + tensor bytes + slack bytes (at least 0), wrapped at byte `offset`; CPU only.
  kCreateWithData,
  // base, slot, offset (u16), type, rank, dims[rank]
  kView,
  // base, slot, axis, start (dim byte), length (dim byte)
  kSlice,
  // dev, slot, like: a new contiguous tensor of the type and shape of tensor `like`
  kCreateLike,
  // count (bit 7: NULL env), stream, then count x (src, dst)
  kCopy,
  // tensor, stream
  kZero,
  // op (index into kOpNames), stream, num_inputs, inputs..., num_outputs, outputs...,
  // num_attributes, then per attribute: name (index into kAttributeNames), type, value byte, count
  kRunOp,
  // tensor: DtReleaseValue
  kRelease,
  // dev, slot
  kCreateStream,
  // stream
  kSyncStream,
  // stream
  kReleaseStream,
  // stream
  kBeginCapture,
  // stream, graph slot
  kEndCapture,
  // graph, stream
  kReplay,
  // graph
  kReleaseGraph,
  // tensor, seed: the caller writes bytes into a CPU tensor's memory (as an application does)
  kHostWrite,
  // dev: DtGetDeviceErrorFlags
  kErrorFlags,
  // DtReleaseEnv and DtCreateEnv again while every object lives on (CPU target only)
  kRecycleEnv,
  kOpCount
};

// Devices a dev byte names (bit 0); the CPU target maps both to the CPU.
constexpr uint8_t kCpu = 0, kWebGpu = 1;

// Element types: a type byte below 0xF0 names kTypes[byte % 13]; above, kBadTypes[byte & 7].
constexpr DtElementType kTypes[] = {DT_FLOAT,  DT_UINT8,  DT_INT8,    DT_UINT16,  DT_INT16,
                                    DT_INT32,  DT_INT64,  DT_BOOL,    DT_FLOAT16, DT_DOUBLE,
                                    DT_UINT32, DT_UINT64, DT_BFLOAT16};
constexpr int kTypeCount = 13;
// (Within the enum's value range, 0..31, so that C++ may hold them in a DtElementType.)
constexpr int kBadTypes[] = {0, 8, 14, 15, 17, 18, 30, 31};
inline DtElementType DecodeType(uint8_t b) {
  return b < 0xF0 ? kTypes[b % kTypeCount] : static_cast<DtElementType>(kBadTypes[b & 7]);
}
inline uint8_t EncodeType(DtElementType type) {
  for (int i = 0; i < kTypeCount; ++i) {
    if (kTypes[i] == type) return static_cast<uint8_t>(i);
  }
  return 0xF0;
}

// Dimensions and indices: a byte below 0xF8 is its low 6 bits (0..63); above, kBadDims[byte & 7].
constexpr int64_t kBadDims[] = {-1, -2, INT64_MAX, INT64_MIN, int64_t{1} << 32,
                                int64_t{1} << 62, int64_t{1} << 31, 64};
inline int64_t DecodeDim(uint8_t b) { return b < 0xF8 ? (b & 0x3F) : kBadDims[b & 7]; }
inline uint8_t EncodeDim(int64_t d) {
  if (d >= 0 && d < 64) return static_cast<uint8_t>(d);
  for (int i = 0; i < 8; ++i) {
    if (kBadDims[i] == d) return static_cast<uint8_t>(0xF8 + i);
  }
  return 0xF8;
}
// Ranks: byte % 10, so 9 (above DT_MAX_RANK) is reachable.
inline size_t DecodeRank(uint8_t b) { return b % 10; }

// The tensor a selector byte names: 0xFF is NULL; else slot byte % kTensorSlots.
constexpr uint8_t kNull = 0xFF;

// Streams: byte % (kStreamSlots + 1); 0 is the NULL stream, k is slot k - 1.
inline uint8_t StreamByte(int slot) { return static_cast<uint8_t>(slot + 1); }
constexpr uint8_t kNoStream = 0;

// The ops DtRunOp is given: devtensor's list, then names it must refuse.
constexpr const char* kOpNames[] = {"Cast",  "Add",   "Sub",       "Mul",     "Div",
                                    "Where", "ScatterND", "ArgMax", "Expand", "Fill",
                                    "UpdateAttentionMask", "UpdatePositionIds", "KvCacheAppend",
                                    "Conv",  "add",   ""};
constexpr int kOpNameCount = 16;
constexpr const char* kAttributeNames[] = {"to",    "axis",      "keepdims", "select_last_index",
                                           "value", "increment", "reduction", "alpha"};
constexpr int kAttributeNameCount = 8;
// Attribute values: int attributes take kIntValues[byte % 16], floats kFloatValues[byte % 8].
constexpr int64_t kIntValues[] = {0, 1, -1, 2, 3, 7, DT_FLOAT, DT_INT32, DT_INT64, DT_FLOAT16,
                                  DT_BOOL, DT_UINT8, INT64_MAX, INT64_MIN, 100, 13};
constexpr float kFloatValues[] = {0.0f, 1.0f, -1.5f, 2.5f, 1e30f, -0.0f, 65504.0f, 3.0f};
inline int OpIndex(const char* name) {
  for (int i = 0; i < kOpNameCount; ++i) {
    const char* a = kOpNames[i];
    const char* b = name;
    while (*a && *a == *b) ++a, ++b;
    if (*a == *b) return i;
  }
  return kOpNameCount - 1;
}

// Writes programs in this format (used by fuzz_seeds).
class ProgramWriter {
 public:
  const std::vector<uint8_t>& bytes() const { return bytes_; }

  void Create(uint8_t dev, int slot, DtElementType type, std::initializer_list<int64_t> shape) {
    Put(kCreate, dev, slot, EncodeType(type));
    Shape(shape);
  }
  void CreateWithData(int slot, DtElementType type, std::initializer_list<int64_t> shape,
                      uint8_t offset, int8_t slack) {
    Put(kCreateWithData, slot, EncodeType(type));
    Shape(shape);
    Put(offset, static_cast<uint8_t>(slack));
  }
  void View(int base, int slot, uint16_t offset, DtElementType type,
            std::initializer_list<int64_t> shape) {
    Put(kView, base, slot, offset & 0xFF, offset >> 8, EncodeType(type));
    Shape(shape);
  }
  void Slice(int base, int slot, int axis, int64_t start, int64_t length) {
    Put(kSlice, base, slot, axis, EncodeDim(start), EncodeDim(length));
  }
  void CreateLike(uint8_t dev, int slot, int like) { Put(kCreateLike, dev, slot, like); }
  void Copy(std::initializer_list<std::pair<int, int>> pairs, uint8_t stream = kNoStream) {
    Put(kCopy, pairs.size(), stream);
    for (auto [src, dst] : pairs) Put(src, dst);
  }
  void Zero(int tensor, uint8_t stream = kNoStream) { Put(kZero, tensor, stream); }
  struct Attribute {
    const char* name;
    DtAttributeType type;
    uint8_t value;
    uint8_t count;
  };
  void RunOp(const char* op, std::initializer_list<int> inputs, std::initializer_list<int> outputs,
             std::initializer_list<Attribute> attributes = {}, uint8_t stream = kNoStream) {
    Put(kRunOp, OpIndex(op), stream, inputs.size());
    for (int i : inputs) Put(i);
    Put(outputs.size());
    for (int o : outputs) Put(o);
    Put(attributes.size());
    for (const Attribute& a : attributes) {
      int name = 0;
      for (int i = 0; i < kAttributeNameCount; ++i) {
        const char* x = kAttributeNames[i];
        const char* y = a.name;
        while (*x && *x == *y) ++x, ++y;
        if (*x == *y) name = i;
      }
      Put(name, a.type, a.value, a.count);
    }
  }
  void Release(int tensor) { Put(kRelease, tensor); }
  void CreateStream(uint8_t dev, int slot) { Put(kCreateStream, dev, slot); }
  void SyncStream(int slot) { Put(kSyncStream, slot); }
  void ReleaseStream(int slot) { Put(kReleaseStream, slot); }
  void BeginCapture(int stream) { Put(kBeginCapture, stream); }
  void EndCapture(int stream, int graph) { Put(kEndCapture, stream, graph); }
  void Replay(int graph, int stream) { Put(kReplay, graph, stream); }
  void ReleaseGraph(int graph) { Put(kReleaseGraph, graph); }
  void HostWrite(int tensor, uint8_t seed) { Put(kHostWrite, tensor, seed); }
  void ErrorFlags(uint8_t dev) { Put(kErrorFlags, dev); }
  void RecycleEnv() { Put(kRecycleEnv); }

 private:
  template <typename... T>
  void Put(T... values) {
    (bytes_.push_back(static_cast<uint8_t>(values)), ...);
  }
  void Shape(std::initializer_list<int64_t> shape) {
    Put(shape.size());
    for (int64_t d : shape) Put(EncodeDim(d));
  }
  std::vector<uint8_t> bytes_;
};

}  // namespace devtensor_fuzz

#endif  // DEVTENSOR_TESTS_FUZZ_PROGRAM_H_
