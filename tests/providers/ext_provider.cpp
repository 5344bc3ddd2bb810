// A test provider: device type DT_DEVICE_EXT_DEV with two devices whose buffers are host memory
// behind opaque handles (like a WGPUBuffer, a handle is not a pointer to the data), asynchronous
// streams on a worker thread, and a data transfer that copies ext<->CPU and within one ext device
// (so ext 0 -> ext 1 must go through host memory).
//
// Built in several variants (see tests/CMakeLists.txt):
//   DT_TEST_SMALL_STRUCTS     structs as small as the ABI allows: no streams, no clear, no
//                             external-buffer check (a provider built against an older header)
//   DT_TEST_ABI_MAJOR=N       claims provider ABI major N
//   DT_TEST_REQUIRE_HOST_MINOR=N  refuses hosts whose ABI minor is below N
//   DT_TEST_ABI_1_1_FACTORY   a factory of provider ABI 1.1: RunOp but no op support table, so
//                             the host hands it every op
//
// Test hooks: DT_TEST_EXT_STREAM_DELAY_US delays every queued task, so that work really is in
// flight when a test releases things; DtTestExtCounters reports calls and pairs seen;
// DtTestExtFailAllocationAfter makes an allocation fail with DT_OUT_OF_MEMORY and
// DtTestExtLoseDeviceAfterPairs loses the device part way through a batch (fault injection).
//
// Ops: the full variant has one kernel, Fill on float and int32 (its op support table says so),
// which writes the bits the host converted; DtTestExtLastOp reports the calls RunOp saw.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "host_memory/strided_copy.h"

#ifndef DT_TEST_ABI_MAJOR
#define DT_TEST_ABI_MAJOR DT_PROVIDER_ABI_MAJOR
#endif

namespace {

constexpr int32_t kDeviceCount = 2;
constexpr uint64_t kLiveMagic = 0x5445535442554631ull;  // "TESTBUF1"
constexpr uint64_t kDeadMagic = 0xDEADDEADDEADDEADull;

// Every registration passes the same host API; envs may be made on several threads at once.
std::atomic<const DtHostApi*> g_host_api{nullptr};
const DtHostApi* Host() { return g_host_api.load(std::memory_order_acquire); }
std::atomic<int64_t> g_copy_calls{0}, g_copy_pairs{0}, g_live_buffers{0}, g_external_releases{0};
// Fault injection: allocations that still succeed, and pairs still copied before the device is
// lost (-1: no limit), and whether it is lost.
std::atomic<int64_t> g_allocations_left{-1}, g_pairs_left{-1};
std::atomic<bool> g_lost{false};

// Counts one use of a budget set by a hook: false when it was used up.
bool Spend(std::atomic<int64_t>& left) {
  int64_t now = left.load();
  while (now >= 0) {
    if (now == 0) return false;
    if (left.compare_exchange_weak(now, now - 1)) return true;
  }
  return true;
}

// What a handle points to. Applications and the host only ever see the pointer to this struct.
struct ExtBuffer {
  uint64_t magic;
  int32_t device_id;
  size_t bytes;
  uint8_t* data;
};

DtStatus* Fail(DtErrorCode code, const char* format, long long a = 0, long long b = 0) {
  char message[256];
  std::snprintf(message, sizeof message, format, a, b);
  return Host()->CreateStatus(code, message);
}

// ---- streams ---------------------------------------------------------------------------------

class Stream {
 public:
  Stream() {
    const char* delay = std::getenv("DT_TEST_EXT_STREAM_DELAY_US");
    delay_us_ = delay ? std::atol(delay) : 0;
    worker_ = std::thread([this] { Work(); });
  }
  ~Stream() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
    Host()->ReleaseStatus(first_error_);
  }
  void Enqueue(std::function<DtStatus*()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(task));
    }
    wake_.notify_all();
  }
  DtStatus* Synchronize() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
    DtStatus* error = first_error_;
    first_error_ = nullptr;
    return error;
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      if (delay_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
      DtStatus* status = task();
      lock.lock();
      busy_ = false;
      if (status != nullptr && first_error_ == nullptr) {
        first_error_ = status;
      } else if (status != nullptr) {
        Host()->ReleaseStatus(status);  // only the first error is reported
      }
      if (queue_.empty()) idle_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<DtStatus*()>> queue_;
  bool busy_ = false, stopping_ = false;
  DtStatus* first_error_ = nullptr;
  long delay_us_ = 0;
  std::thread worker_;
};

// ---- memory ------------------------------------------------------------------------------------

DtStatus* Allocate(void* state, size_t bytes, void** handle) {
  const auto device_id = static_cast<int32_t>(reinterpret_cast<intptr_t>(state));
  if (g_lost.load()) return Fail(DT_DEVICE_LOST, "test device %lld was lost", device_id);
  if (!Spend(g_allocations_left)) {
    return Fail(DT_OUT_OF_MEMORY, "test device allocation of %lld bytes failed (injected)",
                (long long)bytes);
  }
  auto* buffer = new (std::nothrow)
      ExtBuffer{kLiveMagic, device_id, bytes, static_cast<uint8_t*>(std::malloc(bytes))};
  if (buffer == nullptr || buffer->data == nullptr) {
    delete buffer;
    return Fail(DT_OUT_OF_MEMORY, "test device allocation of %lld bytes failed", (long long)bytes);
  }
  g_live_buffers.fetch_add(1);
  *handle = buffer;
  return nullptr;
}

void Free(void*, void* handle) {
  auto* buffer = static_cast<ExtBuffer*>(handle);
  buffer->magic = kDeadMagic;
  std::free(buffer->data);
  delete buffer;
  g_live_buffers.fetch_sub(1);
}

void ReleaseNothing(void*) {}

// Where element [0, ..., 0] of `t` is in host memory. CPU handles are pointers; ext handles are
// ExtBuffers. Checks what the host promised: a live buffer, every element inside it.
DtStatus* Locate(const DtTensorRef* t, uint8_t** at) {
  size_t last = 0;
  for (size_t i = 0; i < t->rank; ++i) {
    if (t->shape[i] == 0) return Fail(DT_INTERNAL, "host passed an empty tensor");
    last += static_cast<size_t>(t->shape[i] - 1) * static_cast<size_t>(t->strides[i]);
  }
  const size_t end = t->byte_offset + (last + 1) * t->element_size;
  if (end > t->buffer_bytes) {
    return Fail(DT_INTERNAL, "host passed a tensor ending at byte %lld of a %lld-byte buffer",
                (long long)end, (long long)t->buffer_bytes);
  }
  if (t->device_type == DT_DEVICE_CPU) {
    *at = static_cast<uint8_t*>(t->handle) + t->byte_offset;
    return nullptr;
  }
  auto* buffer = static_cast<ExtBuffer*>(t->handle);
  if (buffer->magic != kLiveMagic) return Fail(DT_INTERNAL, "host passed a freed test buffer");
  if (buffer->bytes != t->buffer_bytes) {
    return Fail(DT_INTERNAL, "host passed buffer_bytes %lld for a %lld-byte test buffer",
                (long long)t->buffer_bytes, (long long)buffer->bytes);
  }
  *at = buffer->data + t->byte_offset;
  return nullptr;
}

// ---- data transfer -----------------------------------------------------------------------------

int32_t CanCopy(void*, DtDeviceType src_type, int32_t src_id, DtDeviceType dst_type,
                int32_t dst_id) {
  const bool src_ext = src_type == DT_DEVICE_EXT_DEV, dst_ext = dst_type == DT_DEVICE_EXT_DEV;
  if (src_ext && dst_ext) return src_id == dst_id;
  return (src_ext && dst_type == DT_DEVICE_CPU) || (dst_ext && src_type == DT_DEVICE_CPU);
}

DtStatus* CopyNow(const DtTensorRef* src, const DtTensorRef* dst) {
  if (!Spend(g_pairs_left)) g_lost.store(true);
  if (g_lost.load()) return Fail(DT_DEVICE_LOST, "the test device was lost (injected)");
  uint8_t *from = nullptr, *to = nullptr;
  if (DtStatus* s = Locate(src, &from)) return s;
  if (DtStatus* s = Locate(dst, &to)) return s;
  devtensor::CopyStrided(from, src->strides, to, dst->strides, dst->shape, dst->rank,
                         dst->element_size);
  return nullptr;
}

// A tensor ref with its own copy of shape and strides, for work that runs after the call returns.
struct OwnedRef {
  explicit OwnedRef(const DtTensorRef* t)
      : ref(*t), shape(t->shape, t->shape + t->rank), strides(t->strides, t->strides + t->rank) {}
  const DtTensorRef* get() {
    ref.shape = shape.data();
    ref.strides = strides.data();
    return &ref;
  }
  DtTensorRef ref;
  std::vector<int64_t> shape, strides;
};

DtStatus* CopyTensors(void*, const DtCopyPair* pairs, size_t count) {
  g_copy_calls.fetch_add(1);
  g_copy_pairs.fetch_add(static_cast<int64_t>(count));
  try {
    for (size_t i = 0; i < count; ++i) {
      if (pairs[i].stream == nullptr) {
        if (DtStatus* s = CopyNow(pairs[i].src, pairs[i].dst)) return s;
        continue;
      }
      auto task = [src = OwnedRef(pairs[i].src), dst = OwnedRef(pairs[i].dst)]() mutable {
        return CopyNow(src.get(), dst.get());
      };
      static_cast<Stream*>(pairs[i].stream)->Enqueue(std::move(task));
    }
  } catch (...) {
    return Fail(DT_OUT_OF_MEMORY, "test provider ran out of memory queueing a copy");
  }
  return nullptr;
}

#ifndef DT_TEST_SMALL_STRUCTS
DtStatus* ZeroNow(const DtTensorRef* t) {
  if (g_lost.load()) return Fail(DT_DEVICE_LOST, "the test device was lost (injected)");
  uint8_t* at = nullptr;
  if (DtStatus* s = Locate(t, &at)) return s;
  devtensor::ZeroStrided(at, t->strides, t->shape, t->rank, t->element_size);
  return nullptr;
}

DtStatus* ZeroTensor(void*, const DtTensorRef* tensor, void* stream) {
  if (stream == nullptr) return ZeroNow(tensor);
  try {
    static_cast<Stream*>(stream)->Enqueue(
        [t = OwnedRef(tensor)]() mutable { return ZeroNow(t.get()); });
  } catch (...) {
    return Fail(DT_OUT_OF_MEMORY, "test provider ran out of memory queueing a clear");
  }
  return nullptr;
}
#endif

// ---- ops -----------------------------------------------------------------------------------------

#ifndef DT_TEST_SMALL_STRUCTS
std::atomic<int64_t> g_op_calls{0};
std::mutex g_last_op_mutex;
int32_t g_last_op = 0;
DtOpParams g_last_params{};

constexpr DtOpSupport kOpSupport[] = {
    {DT_OP_FILL, DT_ELEMENT_TYPE_BIT(DT_FLOAT) | DT_ELEMENT_TYPE_BIT(DT_INT32)}};

DtStatus* FillNow(const DtTensorRef* t, uint64_t bits) {
  if (g_lost.load()) return Fail(DT_DEVICE_LOST, "the test device was lost (injected)");
  uint8_t* at = nullptr;
  if (DtStatus* s = Locate(t, &at)) return s;
  const int64_t every[DT_MAX_RANK] = {};  // one source element for all
  devtensor::CopyStrided(&bits, every, at, t->strides, t->shape, t->rank, t->element_size);
  return nullptr;
}

DtStatus* RunOp(void*, const DtOpCall* call, void* stream) {
  if (!DT_STRUCT_HAS_FIELD(call, DtOpCall, params) || call->params == nullptr) {
    return Fail(DT_NOT_SUPPORTED, "the test provider needs a host of provider ABI 1.2 for ops");
  }
  int32_t op = 0;
  std::memcpy(&op, &call->op, sizeof op);
  ++g_op_calls;
  {
    std::lock_guard<std::mutex> lock(g_last_op_mutex);
    g_last_op = op;
    g_last_params = *call->params;
  }
  if (op != DT_OP_FILL) return Fail(DT_NOT_SUPPORTED, "the test provider has no kernel for op %lld", op);
  const uint64_t bits = call->params->fill.bits;
  if (stream == nullptr) return FillNow(call->outputs[0], bits);
  try {
    static_cast<Stream*>(stream)->Enqueue(
        [t = OwnedRef(call->outputs[0]), bits]() mutable { return FillNow(t.get(), bits); });
  } catch (...) {
    return Fail(DT_OUT_OF_MEMORY, "test provider ran out of memory queueing an op");
  }
  return nullptr;
}
#endif

// ---- factory -----------------------------------------------------------------------------------

DtStatus* GetDeviceCount(void*, int32_t* count) {
  *count = kDeviceCount;
  return nullptr;
}

DtStatus* GetDeviceInfo(void*, int32_t device_id, DtDeviceInfo* info) {
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, name)) {
    std::snprintf(info->name, sizeof info->name, "test device %d (host memory, opaque handles)",
                  device_id);
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, is_addressable)) info->is_addressable = 0;
#ifndef DT_TEST_SMALL_STRUCTS
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, has_streams)) info->has_streams = 1;
#endif
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, max_allocation_bytes)) {
    info->max_allocation_bytes = 1ull << 30;
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, offset_alignment)) info->offset_alignment = 4;
  return nullptr;
}

DtStatus* CreateAllocator(void*, int32_t device_id, DtAllocator* allocator) {
  allocator->state = reinterpret_cast<void*>(static_cast<intptr_t>(device_id));
  allocator->Allocate = &Allocate;
  allocator->Free = &Free;
  allocator->Release = &ReleaseNothing;
  return nullptr;
}

DtStatus* CreateDataTransfer(void*, DtDataTransfer* transfer) {
  transfer->CanCopy = &CanCopy;
  transfer->CopyTensors = &CopyTensors;
  transfer->Release = &ReleaseNothing;
#ifndef DT_TEST_SMALL_STRUCTS
  if (DT_STRUCT_HAS_FIELD(transfer, DtDataTransfer, ZeroTensor)) transfer->ZeroTensor = &ZeroTensor;
#endif
  return nullptr;
}

#ifndef DT_TEST_SMALL_STRUCTS
DtStatus* AcquireExternalBuffer(void*, int32_t device_id, void* handle, size_t bytes) {
  auto* buffer = static_cast<ExtBuffer*>(handle);
  if (buffer->magic != kLiveMagic) {
    return Fail(DT_INVALID_ARGUMENT, "data is not a live test-device buffer");
  }
  if (buffer->device_id != device_id) {
    return Fail(DT_INVALID_ARGUMENT, "data belongs to test device %lld, not %lld",
                buffer->device_id, device_id);
  }
  if (bytes > buffer->bytes) {
    return Fail(DT_OUT_OF_RANGE, "data_bytes %lld exceeds the buffer's %lld bytes",
                (long long)bytes, (long long)buffer->bytes);
  }
  return nullptr;
}

void ReleaseExternalBuffer(void*, int32_t, void* handle) {
  g_external_releases.fetch_add(1);
  (void)handle;
}

DtStatus* CreateStream(void*, int32_t, void** stream) {
  auto* created = new (std::nothrow) Stream();
  if (created == nullptr) return Fail(DT_OUT_OF_MEMORY, "test stream allocation failed");
  *stream = created;
  return nullptr;
}

DtStatus* SynchronizeStream(void*, void* stream) { return static_cast<Stream*>(stream)->Synchronize(); }

void ReleaseStream(void*, void* stream) { delete static_cast<Stream*>(stream); }

// One native handle: "TestDeviceTag", the device id + 0x100 as a pointer.
DtStatus* GetNativeHandle(void*, int32_t device_id, const char* name, void** handle) {
  if (std::strcmp(name, "TestDeviceTag") != 0) {
    return Fail(DT_NOT_FOUND, "test device has no native handle of that name");
  }
  *handle = reinterpret_cast<void*>(static_cast<intptr_t>(device_id + 0x100));
  return nullptr;
}
#endif

// The factory lives in memory of exactly struct_size bytes, so that a host reading past the size
// the provider declared is caught by AddressSanitizer.
DtProviderFactory* MakeFactory() {
#if defined(DT_TEST_SMALL_STRUCTS)
  const size_t size = DT_PROVIDER_FACTORY_MIN_SIZE;
#elif defined(DT_TEST_ABI_1_1_FACTORY)
  const size_t size = offsetof(DtProviderFactory, op_support);
#else
  const size_t size = sizeof(DtProviderFactory);
#endif
  DtProviderFactory full{};
  full.struct_size = size;
  full.device_type = DT_DEVICE_EXT_DEV;
  full.GetDeviceCount = &GetDeviceCount;
  full.GetDeviceInfo = &GetDeviceInfo;
  full.CreateAllocator = &CreateAllocator;
  full.CreateDataTransfer = &CreateDataTransfer;
  full.Release = &ReleaseNothing;
#ifndef DT_TEST_SMALL_STRUCTS
  full.AcquireExternalBuffer = &AcquireExternalBuffer;
  full.ReleaseExternalBuffer = &ReleaseExternalBuffer;
  full.CreateStream = &CreateStream;
  full.SynchronizeStream = &SynchronizeStream;
  full.ReleaseStream = &ReleaseStream;
  full.GetNativeHandle = &GetNativeHandle;
  full.RunOp = &RunOp;
  full.op_support = kOpSupport;
  full.op_support_count = sizeof kOpSupport / sizeof kOpSupport[0];
#endif
  auto* factory = static_cast<DtProviderFactory*>(std::malloc(size));
  if (factory != nullptr) std::memcpy(factory, &full, size);
  return factory;
}

struct ProviderState {
  DtProvider provider{};
  DtProviderFactory* factory = nullptr;
  const DtProviderFactory* factories[1] = {};
};

void ReleaseProvider(void* state) {
  auto* self = static_cast<ProviderState*>(state);
  std::free(self->factory);
  delete self;
}

}  // namespace

extern "C" {

DtStatus* DtProviderInit(const DtHostApi* host, const DtProvider** provider) {
  g_host_api.store(host, std::memory_order_release);
#ifdef DT_TEST_REQUIRE_HOST_MINOR
  if (host->abi_minor < DT_TEST_REQUIRE_HOST_MINOR) {
    return Fail(DT_NOT_SUPPORTED, "test provider needs host provider ABI minor %lld, host has %lld",
                DT_TEST_REQUIRE_HOST_MINOR, host->abi_minor);
  }
#endif
  auto* state = new (std::nothrow) ProviderState();
  if (state == nullptr) return Fail(DT_OUT_OF_MEMORY, "test provider allocation failed");
  state->factory = MakeFactory();
  if (state->factory == nullptr) {
    delete state;
    return Fail(DT_OUT_OF_MEMORY, "test provider allocation failed");
  }
  state->factories[0] = state->factory;
  DtProvider& p = state->provider;
  p.struct_size = sizeof(DtProvider);
  p.abi_major = DT_TEST_ABI_MAJOR;
  p.abi_minor = DT_PROVIDER_ABI_MINOR;
  p.state = state;
  p.Release = &ReleaseProvider;
  p.name = "test-ext";
  p.factory_count = 1;
  p.factories = state->factories;
  *provider = &state->provider;
  return nullptr;
}

// Test hook: copy calls and pairs the transfer has seen, and buffers alive.
DT_EXPORT void DtTestExtCounters(int64_t* calls, int64_t* pairs, int64_t* live_buffers) {
  *calls = g_copy_calls.load();
  *pairs = g_copy_pairs.load();
  *live_buffers = g_live_buffers.load();
}

// Test hooks, fault injection: the next `successes` allocations succeed and the one after fails
// with DT_OUT_OF_MEMORY (-1: none fails); after `pairs` more copied pairs the device is lost, and
// every copy, clear and allocation after fails with DT_DEVICE_LOST (-1: never; also restores a
// lost device).
DT_EXPORT void DtTestExtFailAllocationAfter(int64_t successes) { g_allocations_left.store(successes); }
DT_EXPORT void DtTestExtLoseDeviceAfterPairs(int64_t pairs) {
  g_pairs_left.store(pairs);
  g_lost.store(false);
}

#ifndef DT_TEST_SMALL_STRUCTS
// Test hook: how many op calls RunOp saw, and the last one's op identifier and parameters.
DT_EXPORT int64_t DtTestExtLastOp(int32_t* op, DtOpParams* params) {
  std::lock_guard<std::mutex> lock(g_last_op_mutex);
  *op = g_last_op;
  *params = g_last_params;
  return g_op_calls.load();
}
#endif

// Test hook: how often the host released a wrapped application buffer.
DT_EXPORT int64_t DtTestExtExternalReleases() { return g_external_releases.load(); }

// Test hook: an application-style buffer of the test device, and its data pointer.
DT_EXPORT void* DtTestExtCreateBuffer(int32_t device_id, size_t bytes) {
  void* handle = nullptr;
  DtStatus* status =
      Allocate(reinterpret_cast<void*>(static_cast<intptr_t>(device_id)), bytes, &handle);
  if (status != nullptr) {
    Host()->ReleaseStatus(status);
    return nullptr;
  }
  return handle;
}
DT_EXPORT uint8_t* DtTestExtBufferData(void* handle) { return static_cast<ExtBuffer*>(handle)->data; }
DT_EXPORT void DtTestExtDestroyBuffer(void* handle) { Free(nullptr, handle); }

}  // extern "C"
