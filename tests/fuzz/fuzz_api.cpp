// A libFuzzer target that runs the C API as a little program of calls decoded from its input (see
// program.h) and checks, after every call, the promises devtensor.h makes:
//   - a call that fails returns a status with a known code and a message, leaves its
//     out-parameter untouched and changes no byte of any tensor's storage;
//   - tensors, views and slices get exactly the layout the header describes, inside their storage;
//   - a copy that succeeds writes exactly what a plain element-by-element reference writes, and
//     nothing else; a zero clears exactly the view's elements; an op writes nothing but its
//     outputs' elements;
//   - work recorded by a capture runs only on replay, and a replay equals issuing it again;
//   - objects may be released in any order, with work in flight.
// Every storage has a shadow copy on the host: CPU storages are compared with their memory
// directly, WebGPU storages are read back with DtCopyTensors into host buffers of exactly their
// size. Caller buffers are malloc'ed to the exact byte count: AddressSanitizer sees a stray byte.
//
// Built twice: fuzz_api_cpu (CPU only; fast) and fuzz_api_webgpu (CPU and WebGPU tensors, streams,
// capture and replay). DT_FUZZ_TRACE=1 prints each call as it runs, to read a reproducer.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "../element_sizes.h"
#include "program.h"

#ifndef DT_FUZZ_WEBGPU
#define DT_FUZZ_WEBGPU 0
#endif

namespace {

using namespace devtensor_fuzz;
using devtensor_test::SizeOf;

// Tensors larger than this are not created (the allocation would be real); invalid shapes are.
constexpr size_t kMaxTensorBytes = 16 * 1024;

bool g_trace = false;
std::string g_last_error;  // the last failing call's status, for the report

[[noreturn]] void Fail(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::fprintf(stderr, "fuzz_api: promise broken: ");
  std::vfprintf(stderr, format, args);
  std::fprintf(stderr, "\n(the last status was %s)\n", g_last_error.c_str());
  va_end(args);
  std::abort();
}

void Trace(const char* format, ...) {
  if (!g_trace) return;
  static const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "[%8.1f ms] ", std::chrono::duration<double, std::milli>(
                                          std::chrono::steady_clock::now() - start).count());
  std::va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  std::fprintf(stderr, "\n");
  va_end(args);
}

// Reads the program; past its end every byte is 0.
struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  bool done() const { return at >= size; }
  uint8_t u8() { return at < size ? data[at++] : 0; }
  uint16_t u16() {
    uint16_t lo = u8();
    return static_cast<uint16_t>(lo | (u8() << 8));
  }
};

// A shape as decoded, valid or not.
struct ShapeArg {
  size_t rank = 0;
  int64_t dims[10] = {};
};
ShapeArg ReadShape(Reader& in) {
  ShapeArg s;
  s.rank = DecodeRank(in.u8());
  for (size_t i = 0; i < s.rank; ++i) s.dims[i] = DecodeDim(in.u8());
  return s;
}

// Bytes of a contiguous tensor of `type` and `shape`; false when the shape or the type is invalid:
// a bad type, rank above DT_MAX_RANK, a negative dimension, or a size that does not fit. Like the
// library, the product of the non-zero dimensions must fit in int64_t even when another dimension
// is 0 (row-major strides are built from it).
bool ContiguousBytes(DtElementType type, const ShapeArg& s, size_t* bytes) {
  const size_t element = SizeOf(type);
  if (element == 0 || s.rank > DT_MAX_RANK) return false;
  unsigned __int128 n = 1;
  bool empty = false;
  for (size_t i = 0; i < s.rank; ++i) {
    if (s.dims[i] < 0) return false;
    if (s.dims[i] == 0) {
      empty = true;
      continue;
    }
    n *= static_cast<uint64_t>(s.dims[i]);
    if (n > INT64_MAX) return false;
  }
  n = empty ? 0 : n * element;
  if (n > SIZE_MAX) return false;
  *bytes = static_cast<size_t>(n);
  return true;
}

// Where a tensor's elements are: the storage (an index into Model::storages), byte offset of
// element [0...0], shape and strides in elements.
struct Layout {
  int storage = -1;
  DtElementType type = DT_UINT8;
  size_t element = 1;
  size_t rank = 0;
  int64_t shape[DT_MAX_RANK] = {};
  int64_t strides[DT_MAX_RANK] = {};
  size_t offset = 0;

  size_t Elements() const {
    size_t n = 1;
    for (size_t i = 0; i < rank; ++i) n *= static_cast<size_t>(shape[i]);
    return n;
  }
  // Calls f(byte position of the element) for every element in row-major order.
  template <typename F>
  void ForEach(F f) const {
    if (Elements() == 0) return;
    int64_t index[DT_MAX_RANK] = {};
    size_t pos = offset;
    for (;;) {
      f(pos);
      size_t axis = rank;
      while (axis > 0) {
        --axis;
        if (++index[axis] < shape[axis]) {
          pos += static_cast<size_t>(strides[axis]) * element;
          break;
        }
        pos -= static_cast<size_t>(index[axis] - 1) * static_cast<size_t>(strides[axis]) * element;
        index[axis] = 0;
        if (axis == 0) return;
      }
      if (rank == 0) return;
    }
  }
  size_t Extent() const {
    size_t last = 0;
    for (size_t i = 0; i < rank; ++i) {
      if (shape[i] == 0) return 0;
      last += static_cast<size_t>(shape[i] - 1) * static_cast<size_t>(strides[i]);
    }
    return (last + 1) * element;
  }
  bool SameShape(const Layout& o) const {
    return rank == o.rank && std::equal(shape, shape + rank, o.shape);
  }
};

Layout Contiguous(int storage, DtElementType type, const ShapeArg& s, size_t offset) {
  Layout l;
  l.storage = storage;
  l.type = type;
  l.element = SizeOf(type);
  l.rank = s.rank;
  l.offset = offset;
  int64_t stride = 1;
  for (size_t i = s.rank; i-- > 0;) {
    l.shape[i] = s.dims[i];
    l.strides[i] = stride;
    stride *= s.dims[i];
  }
  return l;
}

// What one successful recorded or issued call does to memory.
struct Effect {
  enum Kind { kCopyPairs, kZeroView, kOpOutputs } kind;
  std::vector<Layout> a;  // copies: sources; zero / op: the views written
  std::vector<Layout> b;  // copies: destinations

  // True when no byte is written (every view written is empty): a device records nothing for it.
  bool WritesNothing() const {
    const std::vector<Layout>& written = kind == kCopyPairs ? b : a;
    return std::all_of(written.begin(), written.end(),
                       [](const Layout& l) { return l.Elements() == 0; });
  }
};

struct Storage {
  bool tracked = false;
  bool webgpu = false;
  int refs = 0;                 // model tensors on it
  size_t bytes = 0;
  uint8_t* host = nullptr;      // CPU: the memory itself
  void* handle = nullptr;       // as DtGetTensorBuffer gives it
  std::vector<uint8_t> shadow;  // what the bytes must be
  std::vector<uint8_t> known;   // 0 where the bytes are not predicted (fresh memory, op outputs)
  DtValue* whole = nullptr;     // WebGPU: a uint8 view of every byte, to read back
  DtValue* readback = nullptr;  // WebGPU: a CPU tensor over `readback_memory`
  uint8_t* readback_memory = nullptr;
};

struct Tensor {
  DtValue* value = nullptr;
  Layout layout;
  int env_generation = 0;
};

struct Stream {
  DtStream* stream = nullptr;
  bool webgpu = false;
  bool capturing = false;
  std::vector<Effect> recorded;
};

struct Graph {
  DtGraph* graph = nullptr;
  std::vector<Effect> effects;
};

DtValue* const kPoisonValue = reinterpret_cast<DtValue*>(uintptr_t{0x5a5a5a5a5a5a5a50});
DtStream* const kPoisonStream = reinterpret_cast<DtStream*>(uintptr_t{0x5a5a5a5a5a5a5a50});
DtGraph* const kPoisonGraph = reinterpret_cast<DtGraph*>(uintptr_t{0x5a5a5a5a5a5a5a50});

// The process's env and devices, made once.
struct Process {
  DtEnv* env = nullptr;
  int env_generation = 0;
  const DtDevice* cpu = nullptr;
  const DtDevice* webgpu = nullptr;
};
Process g;

void OpenEnv() {
  DtStatus* s = DtCreateEnv(&g.env);
  if (s) Fail("DtCreateEnv: %s", DtGetErrorMessage(s));
  s = DtGetDevice(g.env, DT_DEVICE_CPU, 0, &g.cpu);
  if (s) Fail("DtGetDevice(cpu): %s", DtGetErrorMessage(s));
  ++g.env_generation;
}

// Returns true when `s` is NULL; checks what a failing status must carry and releases it.
bool Ok(DtStatus* s, const char* call) {
  if (s == nullptr) return true;
  const DtErrorCode code = DtGetErrorCode(s);
  const char* message = DtGetErrorMessage(s);
  if (code < DT_INVALID_ARGUMENT || code > DT_INTERNAL) Fail("%s: status code %d", call, int(code));
  if (message == nullptr || message[0] == '\0') Fail("%s: failed with an empty message", call);
  if (code == DT_INTERNAL || code == DT_DEVICE_LOST) {
    Fail("%s: %s: %s", call, DtGetErrorCodeName(code), message);
  }
  g_last_error = std::string(call) + ": " + DtGetErrorCodeName(code) + ": " + message;
  Trace("  -> %s: %s", DtGetErrorCodeName(code), message);
  DtReleaseStatus(s);
  return false;
}

// The outcome of a call that makes a tensor: it succeeds exactly when the model says it is
// `valid`, and a failure leaves the out-parameter `value` as it was (kPoisonValue). True on success.
bool Made(const char* call, DtStatus* status, bool valid, const DtValue* value) {
  const bool ok = Ok(status, call);
  if (ok != valid) {
    Fail("%s %s, expected %s", call, ok ? "succeeded" : "failed", valid ? "success" : "failure");
  }
  if (!ok && value != kPoisonValue) Fail("%s failed but wrote its out-parameter", call);
  return ok;
}

class Machine {
 public:
  void Run(Reader& in) {
    if (g.webgpu) {  // flags an earlier input raised
      uint32_t flags = 0;
      if (!Ok(DtGetDeviceErrorFlags(g.webgpu, &flags), "DtGetDeviceErrorFlags")) {
        Fail("DtGetDeviceErrorFlags failed");
      }
    }
    for (int step = 0; step < kMaxCommands && !in.done(); ++step) {
      Step(in);
      if (pending_ < 0) Check("after the call");
    }
    ReleaseAll(in.u8());
  }

 private:
  std::vector<Storage> storages_;
  Tensor tensors_[kTensorSlots];
  Stream streams_[kStreamSlots];
  Graph graphs_[kGraphSlots];
  std::vector<uint8_t*> caller_buffers_;  // freed when everything that may use them is gone
  int pending_ = -1;                      // the stream slot that may have work in flight
  bool device_may_raise_ = false;         // a WebGPU op that may raise error flags was issued

  // ---- selection --------------------------------------------------------------------------

  const DtDevice* Device(uint8_t b) {
    if (b == kNull) return nullptr;
    if (DT_FUZZ_WEBGPU && (b & 1) == kWebGpu && g.webgpu) return g.webgpu;
    return g.cpu;
  }
  int TensorSlot(uint8_t b) {
    if (b == kNull) return -1;
    for (int i = 0; i < kTensorSlots; ++i) {
      const int slot = (b + i) % kTensorSlots;
      if (tensors_[slot].value) return slot;
    }
    return -1;
  }
  DtValue* TensorAt(int slot) { return slot < 0 ? nullptr : tensors_[slot].value; }
  int StreamArg(uint8_t b) {  // for calls that take an optional stream
    const int k = b % (kStreamSlots + 1);
    return k == 0 || !streams_[k - 1].stream ? -1 : k - 1;
  }
  int StreamSlot(uint8_t b) {  // for stream calls
    if (b == kNull) return -1;
    return streams_[b % kStreamSlots].stream ? b % kStreamSlots : -1;
  }
  DtStream* StreamAt(int slot) { return slot < 0 ? nullptr : streams_[slot].stream; }

  // ---- the memory model -------------------------------------------------------------------

  // Storage numbers are never reused: recorded effects name them.
  int NewStorage() {
    storages_.emplace_back();
    storages_.back().tracked = true;
    return static_cast<int>(storages_.size() - 1);
  }

  void DropStorage(int id) {
    Storage& s = storages_[id];
    if (s.whole) DtReleaseValue(s.whole);
    if (s.readback) DtReleaseValue(s.readback);
    std::free(s.readback_memory);
    s = Storage{};
  }

  // Reads the current bytes of every tracked storage into `actual`.
  void ReadAll(std::vector<std::vector<uint8_t>>* actual) {
    actual->resize(storages_.size());
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    for (size_t i = 0; i < storages_.size(); ++i) {
      Storage& s = storages_[i];
      if (!s.tracked) continue;
      if (!s.webgpu) {
        (*actual)[i].assign(s.host, s.host + s.bytes);
      } else if (s.bytes > 0) {
        src.push_back(s.whole);
        dst.push_back(s.readback);
      }
    }
    if (!src.empty()) {
      if (!Ok(DtCopyTensors(g.env, src.data(), dst.data(), src.size(), nullptr), "read-back")) {
        Fail("reading WebGPU storages back failed");
      }
    }
    for (size_t i = 0; i < storages_.size(); ++i) {
      Storage& s = storages_[i];
      if (s.tracked && s.webgpu) {
        (*actual)[i].assign(s.readback_memory, s.readback_memory + s.bytes);
      }
    }
  }

  // Every known byte of every storage must be what the model says; then the model learns the rest.
  void Check(const char* when) {
    std::vector<std::vector<uint8_t>> actual;
    ReadAll(&actual);
    for (size_t i = 0; i < storages_.size(); ++i) {
      Storage& s = storages_[i];
      if (!s.tracked) continue;
      for (size_t b = 0; b < s.bytes; ++b) {
        if (s.known[b] && s.shadow[b] != actual[i][b]) {
          Fail("%s: byte %zu of storage %zu (%s, %zu bytes) is 0x%02x, expected 0x%02x", when, b, i,
               s.webgpu ? "webgpu" : "cpu", s.bytes, actual[i][b], s.shadow[b]);
        }
      }
      s.shadow = std::move(actual[i]);
      std::fill(s.known.begin(), s.known.end(), 1);
    }
  }

  void Apply(const Effect& e) {
    switch (e.kind) {
      case Effect::kCopyPairs:
        for (size_t p = 0; p < e.a.size(); ++p) {
          const Layout& src = e.a[p];
          const Layout& dst = e.b[p];
          if (src.storage < 0 || dst.storage < 0) continue;
          // memmove semantics: read the whole source first.
          std::vector<uint8_t> values, known;
          const Storage& from = storages_[src.storage];
          src.ForEach([&](size_t pos) {
            for (size_t k = 0; k < src.element; ++k) {
              values.push_back(from.tracked ? from.shadow[pos + k] : 0);
              known.push_back(from.tracked ? from.known[pos + k] : 0);
            }
          });
          Storage& to = storages_[dst.storage];
          if (!to.tracked) continue;
          size_t at = 0;
          dst.ForEach([&](size_t pos) {
            for (size_t k = 0; k < dst.element; ++k, ++at) {
              to.shadow[pos + k] = values[at];
              to.known[pos + k] = known[at];
            }
          });
        }
        break;
      case Effect::kZeroView:
      case Effect::kOpOutputs:
        for (const Layout& l : e.a) {
          if (l.storage < 0 || !storages_[l.storage].tracked) continue;
          Storage& s = storages_[l.storage];
          l.ForEach([&](size_t pos) {
            for (size_t k = 0; k < l.element; ++k) {
              s.shadow[pos + k] = 0;
              s.known[pos + k] = e.kind == Effect::kZeroView;
            }
          });
        }
        break;
    }
  }

  // A storage is untracked once the program holds no tensor of it (streams and graphs may).
  void Unref(int id) {
    if (id < 0) return;
    if (--storages_[id].refs == 0) DropStorage(id);
  }

  // Work issued on `next` (-1: no stream, or not stream work) is ordered after the pending
  // stream's only if it is the same stream; otherwise that work is waited for first.
  void Settle(int next) {
    if (pending_ < 0 || pending_ == next) return;
    const int slot = pending_;
    pending_ = -1;
    if (!SyncOk(DtSynchronizeStream(streams_[slot].stream))) {
      Fail("synchronising stream %d with queued work failed", slot);
    }
    Check("after the queued work of a stream");
  }

  // A device's kernels cannot fail; a KvCacheAppend position or a ScatterND index out of range
  // skips the write and raises a device error flag, which DtSynchronizeStream reports as
  // DT_OUT_OF_RANGE. True when `s` is success or such a report after such an op was issued.
  bool SyncOk(DtStatus* s) {
    if (s != nullptr && DtGetErrorCode(s) == DT_OUT_OF_RANGE && device_may_raise_ &&
        std::strstr(DtGetErrorMessage(s), "device error flags") != nullptr) {
      DtReleaseStatus(s);
      return true;
    }
    return Ok(s, "DtSynchronizeStream");
  }

  // The outcome of a call that writes memory through `stream_slot` (-1: none).
  void Issued(bool ok, int stream_slot, Effect effect) {
    if (!ok) return;
    if (stream_slot >= 0 && streams_[stream_slot].capturing) {
      streams_[stream_slot].recorded.push_back(std::move(effect));
      return;
    }
    Apply(effect);
    if (stream_slot >= 0 && streams_[stream_slot].webgpu) pending_ = stream_slot;
  }

  // ---- tensors ------------------------------------------------------------------------------

  void Put(int slot, DtValue* value, const Layout& layout) {
    ReleaseTensor(slot);
    tensors_[slot].value = value;
    tensors_[slot].layout = layout;
    tensors_[slot].env_generation = g.env_generation;
    ++storages_[layout.storage].refs;
  }

  void ReleaseTensor(int slot) {
    Tensor& t = tensors_[slot];
    if (!t.value) return;
    DtReleaseValue(t.value);
    t.value = nullptr;
    Unref(t.layout.storage);
  }

  // Checks that `value` has exactly `layout`, then stores it in `slot`.
  void Adopt(int slot, DtValue* value, Layout layout, const char* call) {
    DtElementType type{};
    int64_t shape[DT_MAX_RANK], strides[DT_MAX_RANK];
    size_t rank = 99, offset = 0, bytes = 0;
    void* handle = nullptr;
    if (!Ok(DtGetTensorShape(value, &type, shape, DT_MAX_RANK, &rank), "DtGetTensorShape") ||
        !Ok(DtGetTensorStrides(value, strides, DT_MAX_RANK), "DtGetTensorStrides") ||
        !Ok(DtGetTensorBuffer(value, &handle, &offset, &bytes), "DtGetTensorBuffer")) {
      Fail("%s: querying the new tensor failed", call);
    }
    const Storage& s = storages_[layout.storage];
    // The strides of a tensor without elements address nothing; the header leaves them open.
    if (rank == layout.rank && layout.Elements() == 0) {
      std::copy(strides, strides + rank, layout.strides);
    }
    if (type != layout.type || rank != layout.rank ||
        !std::equal(shape, shape + rank, layout.shape) ||
        !std::equal(strides, strides + rank, layout.strides) || offset != layout.offset ||
        handle != s.handle || bytes != s.bytes) {
      std::string got, want;
      for (size_t i = 0; i < rank && i < DT_MAX_RANK; ++i) {
        got += " " + std::to_string(shape[i]) + "/" + std::to_string(strides[i]);
      }
      for (size_t i = 0; i < layout.rank; ++i) {
        want += " " + std::to_string(layout.shape[i]) + "/" + std::to_string(layout.strides[i]);
      }
      Fail("%s: the tensor has type %d, shape/strides [%s ], offset %zu in buffer %p of %zu "
           "bytes; expected type %d, [%s ], offset %zu in buffer %p of %zu bytes",
           call, int(type), got.c_str(), offset, handle, bytes, int(layout.type), want.c_str(),
           layout.offset, s.handle, s.bytes);
    }
    const size_t extent = layout.Extent();
    if (extent > 0 && layout.offset + extent > s.bytes) {
      Fail("%s: the tensor's elements end at byte %zu of a %zu-byte storage", call,
           layout.offset + extent, s.bytes);
    }
    Put(slot, value, layout);
  }

  // A new storage for a tensor DtCreateTensor made.
  int TrackCreated(DtValue* value, bool webgpu, size_t bytes) {
    const int id = NewStorage();
    Storage& s = storages_[id];
    s.webgpu = webgpu;
    s.bytes = bytes;
    s.shadow.assign(bytes, 0);
    s.known.assign(bytes, 0);  // the contents of a new tensor are unspecified
    size_t offset = 1, buffer_bytes = 0;
    if (!Ok(DtGetTensorBuffer(value, &s.handle, &offset, &buffer_bytes), "DtGetTensorBuffer")) {
      Fail("DtGetTensorBuffer on a new tensor failed");
    }
    if (offset != 0 || buffer_bytes != bytes) {
      Fail("a new tensor of %zu bytes has offset %zu in a buffer of %zu bytes", bytes, offset,
           buffer_bytes);
    }
    if (!webgpu) {
      s.host = static_cast<uint8_t*>(s.handle);
    } else if (bytes > 0) {
      const int64_t n = static_cast<int64_t>(bytes);
      s.readback_memory = static_cast<uint8_t*>(std::malloc(bytes));
      if (!Ok(DtCreateTensorView(value, 0, DT_UINT8, &n, 1, &s.whole), "DtCreateTensorView") ||
          !Ok(DtCreateTensorWithData(g.env, g.cpu, s.readback_memory, bytes, 0, DT_UINT8, &n, 1,
                                     &s.readback),
              "DtCreateTensorWithData")) {
        Fail("making the read-back tensors of a WebGPU storage failed");
      }
    }
    return id;
  }

  void Create(Reader& in, bool like) {
    const DtDevice* device = Device(in.u8());
    const int slot = in.u8() % kTensorSlots;
    DtElementType type;
    ShapeArg shape;
    if (like) {
      const int of = TensorSlot(in.u8());
      if (of < 0) return;
      const Layout& l = tensors_[of].layout;
      type = l.type;
      shape.rank = l.rank;
      std::copy(l.shape, l.shape + l.rank, shape.dims);
    } else {
      type = DecodeType(in.u8());
      shape = ReadShape(in);
    }
    size_t bytes = 0;
    const bool valid = ContiguousBytes(type, shape, &bytes) && device != nullptr;
    if (valid && bytes > kMaxTensorBytes) return;
    const bool webgpu = device && device == g.webgpu;
    Trace("DtCreateTensor(%s, type %d, rank %zu, %zu bytes) -> slot %d",
          webgpu ? "webgpu" : device ? "cpu" : "NULL", int(type), shape.rank, bytes, slot);
    DtValue* value = kPoisonValue;
    DtStatus* status = DtCreateTensor(g.env, device, type, shape.dims, shape.rank, &value);
    if (!Made("DtCreateTensor", status, valid, value)) return;
    const int id = TrackCreated(value, webgpu, bytes);
    ReleaseTensor(slot);
    Adopt(slot, value, Contiguous(id, type, shape, 0), "DtCreateTensor");
  }

  void CreateWithData(Reader& in) {
    const int slot = in.u8() % kTensorSlots;
    const DtElementType type = DecodeType(in.u8());
    const ShapeArg shape = ReadShape(in);
    const size_t offset = in.u8();
    const int slack = static_cast<int8_t>(in.u8());
    size_t bytes = 0;
    const bool shape_ok = ContiguousBytes(type, shape, &bytes);
    if (shape_ok && bytes > kMaxTensorBytes) return;
    const int64_t want = static_cast<int64_t>(shape_ok ? bytes : 0) + int64_t(offset) + slack;
    const size_t data_bytes = static_cast<size_t>(std::max<int64_t>(0, want));
    uint8_t* data = static_cast<uint8_t*>(std::malloc(data_bytes));
    if (data == nullptr) data = static_cast<uint8_t*>(std::malloc(1));
    for (size_t i = 0; i < data_bytes; ++i) data[i] = static_cast<uint8_t>(i * 37 + offset + 11);
    caller_buffers_.push_back(data);
    // offset + bytes <= data_bytes, written so that a huge byte count cannot wrap around.
    const bool valid = shape_ok && bytes <= data_bytes && offset <= data_bytes - bytes &&
                       offset % SizeOf(type) == 0;
    Trace("DtCreateTensorWithData(cpu, %zu bytes at %zu, type %d, rank %zu, %zu bytes) -> slot %d",
          data_bytes, offset, int(type), shape.rank, bytes, slot);
    DtValue* value = kPoisonValue;
    DtStatus* status = DtCreateTensorWithData(g.env, g.cpu, data, data_bytes, offset, type,
                                              shape.dims, shape.rank, &value);
    if (!Made("DtCreateTensorWithData", status, valid, value)) return;
    const int id = NewStorage();
    Storage& s = storages_[id];
    s.bytes = data_bytes;
    s.host = data;
    s.handle = data;
    s.shadow.assign(data, data + data_bytes);
    s.known.assign(data_bytes, 1);
    ReleaseTensor(slot);
    Adopt(slot, value, Contiguous(id, type, shape, offset), "DtCreateTensorWithData");
  }

  void View(Reader& in) {
    const int base = TensorSlot(in.u8());
    const int slot = in.u8() % kTensorSlots;
    const size_t offset = in.u16();
    const DtElementType type = DecodeType(in.u8());
    const ShapeArg shape = ReadShape(in);
    size_t bytes = 0;
    bool valid = base >= 0 && ContiguousBytes(type, shape, &bytes);
    Layout layout;
    if (valid) {
      const Layout& from = tensors_[base].layout;
      const size_t extent = from.Extent();
      layout = Contiguous(from.storage, type, shape, from.offset + offset);
      // offset + bytes <= extent, written so that a huge byte count cannot wrap around.
      valid = bytes <= extent && offset <= extent - bytes && layout.offset % SizeOf(type) == 0;
    }
    Trace("DtCreateTensorView(slot %d, offset %zu, type %d, rank %zu, %zu bytes) -> slot %d", base,
          offset, int(type), shape.rank, bytes, slot);
    DtValue* value = kPoisonValue;
    DtStatus* status = DtCreateTensorView(TensorAt(base), offset, type, shape.dims, shape.rank,
                                          &value);
    if (!Made("DtCreateTensorView", status, valid, value)) return;
    ++storages_[layout.storage].refs;  // the base may be the tensor in `slot`
    ReleaseTensor(slot);
    --storages_[layout.storage].refs;
    Adopt(slot, value, layout, "DtCreateTensorView");
  }

  void Slice(Reader& in) {
    const int base = TensorSlot(in.u8());
    const int slot = in.u8() % kTensorSlots;
    const size_t axis = in.u8() % 10;
    const int64_t start = DecodeDim(in.u8());
    const int64_t length = DecodeDim(in.u8());
    bool valid = base >= 0;
    Layout layout;
    if (valid) {
      const Layout& from = tensors_[base].layout;
      valid = axis < from.rank && start >= 0 && length >= 0 && start <= from.shape[axis] &&
              length <= from.shape[axis] - start;
      if (valid) {
        layout = from;
        layout.shape[axis] = length;
        if (layout.Elements() > 0) {
          layout.offset += static_cast<size_t>(start) * static_cast<size_t>(from.strides[axis]) *
                           from.element;
        }
      }
    }
    Trace("DtSliceTensor(slot %d, axis %zu, start %" PRId64 ", length %" PRId64 ") -> slot %d",
          base, axis, start, length, slot);
    DtValue* value = kPoisonValue;
    DtStatus* status = DtSliceTensor(TensorAt(base), axis, start, length, &value);
    if (!Made("DtSliceTensor", status, valid, value)) return;
    ++storages_[layout.storage].refs;
    ReleaseTensor(slot);
    --storages_[layout.storage].refs;
    Adopt(slot, value, layout, "DtSliceTensor");
  }

  // ---- copies, zeros and ops --------------------------------------------------------------

  // The element bytes of `l` marked in a per-storage map; false if any was marked already.
  static bool Mark(std::vector<std::vector<uint8_t>>& marks, const std::vector<Storage>& storages,
                   const Layout& l) {
    auto& m = marks[l.storage];
    if (m.empty()) m.assign(storages[l.storage].bytes, 0);
    bool disjoint = true;
    l.ForEach([&](size_t pos) {
      for (size_t k = 0; k < l.element; ++k) {
        if (m[pos + k]) disjoint = false;
        m[pos + k] = 1;
      }
    });
    return disjoint;
  }

  void Copy(Reader& in) {
    const uint8_t head = in.u8();
    const size_t count = head & 7;
    const bool null_env = head & 0x80;
    const int stream = StreamArg(in.u8());
    std::vector<int> src_slots, dst_slots;
    for (size_t i = 0; i < count; ++i) {
      src_slots.push_back(TensorSlot(in.u8()));
      dst_slots.push_back(TensorSlot(in.u8()));
    }
    if (count > kMaxPairs) return;
    Settle(stream);
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    Effect effect{Effect::kCopyPairs, {}, {}};
    // The header's rules decide CPU-only batches on the current env with no stream: pairs of one
    // type and shape whose destinations are disjoint must be copied, any other batch refused.
    bool decidable = !null_env && stream < 0;
    bool valid = !null_env;
    std::vector<std::vector<uint8_t>> marks(storages_.size());
    for (size_t i = 0; i < count; ++i) {
      src.push_back(TensorAt(src_slots[i]));
      dst.push_back(TensorAt(dst_slots[i]));
      if (src_slots[i] < 0 || dst_slots[i] < 0) {
        valid = false;
        continue;
      }
      const Tensor& s = tensors_[src_slots[i]];
      const Tensor& d = tensors_[dst_slots[i]];
      effect.a.push_back(s.layout);
      effect.b.push_back(d.layout);
      if (s.layout.type != d.layout.type || !s.layout.SameShape(d.layout)) valid = false;
      if (storages_[s.layout.storage].webgpu || storages_[d.layout.storage].webgpu ||
          s.env_generation != g.env_generation || d.env_generation != g.env_generation) {
        decidable = false;
      }
      if (!Mark(marks, storages_, d.layout)) valid = false;
    }
    Trace("DtCopyTensors(%zu pairs%s, stream %d)", count, null_env ? ", NULL env" : "", stream);
    for (size_t i = 0; i < count; ++i) Trace("  slot %d -> slot %d", src_slots[i], dst_slots[i]);
    const bool ok = Ok(DtCopyTensors(null_env ? nullptr : g.env, src.data(), dst.data(), count,
                                     StreamAt(stream)),
                       "DtCopyTensors");
    if (ok && !valid) Fail("DtCopyTensors succeeded on a batch the header refuses");
    if (decidable && ok != valid) Fail("DtCopyTensors failed on a valid batch of CPU tensors");
    Issued(ok, stream, std::move(effect));
  }

  void Zero(Reader& in) {
    const int slot = TensorSlot(in.u8());
    const int stream = StreamArg(in.u8());
    Settle(stream);
    Trace("DtZeroTensor(slot %d, stream %d)", slot, stream);
    const bool ok = Ok(DtZeroTensor(g.env, TensorAt(slot), StreamAt(stream)), "DtZeroTensor");
    if (slot < 0 && ok) Fail("DtZeroTensor succeeded on NULL");
    if (slot >= 0 && !ok && stream < 0 && tensors_[slot].env_generation == g.env_generation) {
      Fail("DtZeroTensor failed on a live tensor");
    }
    Effect effect{Effect::kZeroView, {}, {}};
    if (slot >= 0) effect.a.push_back(tensors_[slot].layout);
    Issued(ok, stream, std::move(effect));
  }

  void RunOp(Reader& in) {
    const char* op = kOpNames[in.u8() % kOpNameCount];
    const int stream = StreamArg(in.u8());
    std::vector<DtValue*> inputs, outputs;
    std::vector<int> input_slots, output_slots;
    const size_t num_inputs = in.u8() % 5;
    for (size_t i = 0; i < num_inputs; ++i) input_slots.push_back(TensorSlot(in.u8()));
    const size_t num_outputs = in.u8() % 3;
    for (size_t i = 0; i < num_outputs; ++i) output_slots.push_back(TensorSlot(in.u8()));
    const size_t num_attributes = in.u8() % 4;
    DtAttribute attributes[4] = {};
    int64_t ints[4][3];
    float floats[4][3];
    for (size_t i = 0; i < num_attributes; ++i) {
      DtAttribute& a = attributes[i];
      a.name = kAttributeNames[in.u8() % kAttributeNameCount];
      a.type = static_cast<DtAttributeType>(in.u8() % 6);
      const uint8_t value = in.u8();
      a.count = in.u8() % 4;
      for (int k = 0; k < 3; ++k) {
        ints[i][k] = kIntValues[(value + k) % 16];
        floats[i][k] = kFloatValues[(value + k) % 8];
      }
      a.i = kIntValues[value % 16];
      a.f = kFloatValues[value % 8];
      a.ints = ints[i];
      a.floats = floats[i];
    }
    Settle(stream);
    Effect effect{Effect::kOpOutputs, {}, {}};
    for (int s : input_slots) inputs.push_back(TensorAt(s));
    for (int s : output_slots) {
      outputs.push_back(TensorAt(s));
      if (s >= 0) effect.a.push_back(tensors_[s].layout);
    }
    Trace("DtRunOp(%s, %zu inputs, %zu outputs, %zu attributes, stream %d)", op, num_inputs,
          num_outputs, num_attributes, stream);
    const bool ok = Ok(DtRunOp(g.env, op, inputs.data(), num_inputs, outputs.data(), num_outputs,
                               attributes, num_attributes, StreamAt(stream)),
                       "DtRunOp");
    if (ok) {
      if (std::find(output_slots.begin(), output_slots.end(), -1) != output_slots.end() ||
          std::find(input_slots.begin(), input_slots.end(), -1) != input_slots.end()) {
        Fail("DtRunOp(%s) succeeded with a NULL tensor", op);
      }
      if (OpIndex(op) >= 13) Fail("DtRunOp succeeded with op_type '%s'", op);
      if (std::strcmp(op, "KvCacheAppend") == 0 || std::strcmp(op, "ScatterND") == 0) {
        for (int slot : output_slots) {
          if (storages_[tensors_[slot].layout.storage].webgpu) device_may_raise_ = true;
        }
      }
    }
    Issued(ok, stream, std::move(effect));
  }

  void HostWrite(Reader& in) {
    const int slot = TensorSlot(in.u8());
    const uint8_t seed = in.u8();
    if (slot < 0) return;
    Storage& s = storages_[tensors_[slot].layout.storage];
    if (s.webgpu) return;
    Settle(-1);
    const Layout& l = tensors_[slot].layout;
    Trace("host write into slot %d", slot);
    size_t n = 0;
    l.ForEach([&](size_t pos) {
      for (size_t k = 0; k < l.element; ++k, ++n) {
        uint8_t v = static_cast<uint8_t>(seed + n * 101);
        if (l.type == DT_BOOL) v &= 1;
        s.host[pos + k] = v;
        s.shadow[pos + k] = v;
        s.known[pos + k] = 1;
      }
    });
  }

  // ---- streams and graphs ------------------------------------------------------------------

  void CreateStream(Reader& in) {
    const DtDevice* device = Device(in.u8());
    const int slot = in.u8() % kStreamSlots;
    Trace("DtCreateStream(%s) -> stream %d", device == g.webgpu ? "webgpu" : "cpu", slot);
    ReleaseStream(slot);
    DtStream* stream = kPoisonStream;
    const bool ok = Ok(DtCreateStream(g.env, device, &stream), "DtCreateStream");
    if (ok != (device != nullptr)) Fail("DtCreateStream %s", ok ? "succeeded" : "failed");
    if (!ok) {
      if (stream != kPoisonStream) Fail("DtCreateStream failed but wrote its out-parameter");
      return;
    }
    streams_[slot] = Stream{};
    streams_[slot].stream = stream;
    streams_[slot].webgpu = device == g.webgpu && g.webgpu != nullptr;
  }

  void SyncStream(Reader& in) {
    const int slot = StreamSlot(in.u8());
    Trace("DtSynchronizeStream(stream %d)", slot);
    const bool ok = SyncOk(DtSynchronizeStream(StreamAt(slot)));
    const bool valid = slot >= 0 && !streams_[slot].capturing;
    if (ok != valid) Fail("DtSynchronizeStream %s", ok ? "succeeded" : "failed");
    if (ok && pending_ == slot) pending_ = -1;
  }

  void ReleaseStream(int slot) {
    Stream& s = streams_[slot];
    if (!s.stream) return;
    Trace("DtReleaseStream(stream %d)", slot);
    DtReleaseStream(s.stream);
    s = Stream{};
    if (pending_ == slot) pending_ = -1;
  }

  void BeginCapture(Reader& in) {
    const int slot = StreamSlot(in.u8());
    Trace("DtBeginCapture(stream %d)", slot);
    // The stream's earlier work finishes first; if it raised device error flags, the capture
    // reports them as DtSynchronizeStream does and does not begin.
    DtStatus* status = DtBeginCapture(StreamAt(slot));
    const bool ok = status == nullptr;
    const bool flagged = !ok && SyncOk(status);  // releases the status
    const bool valid = slot >= 0 && streams_[slot].webgpu && !streams_[slot].capturing;
    if (ok != valid && !(valid && flagged)) Fail("DtBeginCapture %s", ok ? "succeeded" : "failed");
    if ((ok || flagged) && pending_ == slot) pending_ = -1;  // earlier work finished first
    if (!ok) return;
    streams_[slot].capturing = true;
    streams_[slot].recorded.clear();
  }

  void EndCapture(Reader& in) {
    const int slot = StreamSlot(in.u8());
    const int graph = in.u8() % kGraphSlots;
    Trace("DtEndCapture(stream %d) -> graph %d", slot, graph);
    DtGraph* made = kPoisonGraph;
    const bool ok = Ok(DtEndCapture(StreamAt(slot), &made), "DtEndCapture");
    const bool valid = slot >= 0 && streams_[slot].capturing;
    // A capture that recorded nothing, or only work that writes no byte, may be refused (the
    // stream then records no more).
    const bool empty = valid && std::all_of(streams_[slot].recorded.begin(),
                                            streams_[slot].recorded.end(),
                                            [](const Effect& e) { return e.WritesNothing(); });
    if (ok != valid && !(empty && !ok)) Fail("DtEndCapture %s", ok ? "succeeded" : "failed");
    if (!ok) {
      if (made != kPoisonGraph) Fail("DtEndCapture failed but wrote its out-parameter");
      if (empty) streams_[slot].capturing = false;
      return;
    }
    ReleaseGraph(graph);
    graphs_[graph].graph = made;
    graphs_[graph].effects = std::move(streams_[slot].recorded);
    streams_[slot].capturing = false;
    streams_[slot].recorded.clear();
  }

  void Replay(Reader& in) {
    const int graph = in.u8() % kGraphSlots;
    const int slot = StreamSlot(in.u8());
    if (!graphs_[graph].graph) return;
    Settle(slot);
    Trace("DtReplayGraph(graph %d, stream %d)", graph, slot);
    const bool ok = Ok(DtReplayGraph(graphs_[graph].graph, StreamAt(slot)), "DtReplayGraph");
    const bool valid = slot >= 0 && streams_[slot].webgpu && !streams_[slot].capturing;
    if (ok != valid) Fail("DtReplayGraph %s", ok ? "succeeded" : "failed");
    if (!ok) return;
    for (const Effect& e : graphs_[graph].effects) Apply(e);
    pending_ = slot;
  }

  void ReleaseGraph(int slot) {
    if (!graphs_[slot].graph) return;
    Trace("DtReleaseGraph(graph %d)", slot);
    DtReleaseGraph(graphs_[slot].graph);
    graphs_[slot] = Graph{};
  }

  void ErrorFlags(Reader& in) {
    const DtDevice* device = Device(in.u8());
    uint32_t flags = 0;
    Trace("DtGetDeviceErrorFlags");
    const bool ok = Ok(DtGetDeviceErrorFlags(device, &flags), "DtGetDeviceErrorFlags");
    if (ok != (device != nullptr)) Fail("DtGetDeviceErrorFlags %s", ok ? "succeeded" : "failed");
    if (ok && device == g.cpu && flags != 0) Fail("the CPU reported device error flags %u", flags);
    if (ok && device == g.webgpu && flags != 0 && !device_may_raise_) {
      Fail("the WebGPU device reported error flags %u with no op that raises them", flags);
    }
  }

  void RecycleEnv() {
    if (DT_FUZZ_WEBGPU) return;  // a new WebGPU device per env is too slow for the fuzzer
    Trace("DtReleaseEnv; DtCreateEnv");
    DtReleaseEnv(g.env);
    OpenEnv();
  }

  void Step(Reader& in) {
    switch (static_cast<Op>(in.u8() % kOpCount)) {
      case kCreate: return Create(in, false);
      case kCreateWithData: return CreateWithData(in);
      case kView: return View(in);
      case kSlice: return Slice(in);
      case kCreateLike: return Create(in, true);
      case kCopy: return Copy(in);
      case kZero: return Zero(in);
      case kRunOp: return RunOp(in);
      case kRelease: {
        const int slot = TensorSlot(in.u8());
        Trace("DtReleaseValue(slot %d)", slot);
        if (slot >= 0) ReleaseTensor(slot);
        return;
      }
      case kCreateStream: return CreateStream(in);
      case kSyncStream: return SyncStream(in);
      case kReleaseStream: {
        const int slot = StreamSlot(in.u8());
        if (slot >= 0) ReleaseStream(slot);
        return;
      }
      case kBeginCapture: return BeginCapture(in);
      case kEndCapture: return EndCapture(in);
      case kReplay: return Replay(in);
      case kReleaseGraph: return ReleaseGraph(in.u8() % kGraphSlots);
      case kHostWrite: return HostWrite(in);
      case kErrorFlags: return ErrorFlags(in);
      case kRecycleEnv: return RecycleEnv();
      case kOpCount: return;
    }
  }

  // Releases what is left, streams (with their queued work) and graphs first or last, as the
  // program's last byte says.
  void ReleaseAll(uint8_t order) {
    if (order & 2) Settle(-1);  // else the work still queued runs while things are released
    if (order & 1) {
      for (int i = 0; i < kGraphSlots; ++i) ReleaseGraph(i);
      for (int i = 0; i < kStreamSlots; ++i) ReleaseStream(i);
    }
    for (int i = 0; i < kTensorSlots; ++i) ReleaseTensor(i);
    for (int i = 0; i < kGraphSlots; ++i) ReleaseGraph(i);
    for (int i = 0; i < kStreamSlots; ++i) ReleaseStream(i);
    for (size_t i = 0; i < storages_.size(); ++i) {
      if (storages_[i].tracked) DropStorage(static_cast<int>(i));
    }
    for (uint8_t* p : caller_buffers_) std::free(p);
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_trace = std::getenv("DT_FUZZ_TRACE") != nullptr;
  OpenEnv();
#if DT_FUZZ_WEBGPU
  DtStatus* s = DtGetDevice(g.env, DT_DEVICE_WEBGPU, 0, &g.webgpu);
  if (s) {
    std::fprintf(stderr, "fuzz_api_webgpu: no WebGPU device, fuzzing the CPU only: %s\n",
                 DtGetErrorMessage(s));
    DtReleaseStatus(s);
    g.webgpu = nullptr;
  }
#endif
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  Machine machine;
  machine.Run(in);
  return 0;
}
