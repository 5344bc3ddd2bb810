// The built-in CPU provider: one device, host memory, synchronous copies. It is linked into the
// devtensor library but reaches the core only through the provider ABI, like any library.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "devtensor/devtensor_provider.h"
#include "ops/ops.h"
#include "host_memory/strided_copy.h"

namespace {

// One instance per DtCpuProviderInit, so that envs created at once share nothing mutable. It is
// the state of the provider, its factory, allocator and data transfer.
struct CpuProvider {
  const DtHostApi* host = nullptr;
  DtProviderFactory factory{};
  const DtProviderFactory* factories[1] = {};
  DtProvider provider{};
};

const DtHostApi* Host(void* state) { return static_cast<CpuProvider*>(state)->host; }

// Every op of every element type its definition takes: the reference kernels cover them all.
constexpr uint64_t kAnyType = ~uint64_t(0);
constexpr DtOpSupport kOpSupport[] = {
    {DT_OP_CAST, kAnyType},
    {DT_OP_ADD, kAnyType},
    {DT_OP_SUB, kAnyType},
    {DT_OP_MUL, kAnyType},
    {DT_OP_DIV, kAnyType},
    {DT_OP_WHERE, kAnyType},
    {DT_OP_SCATTER_ND, kAnyType},
    {DT_OP_ARGMAX, kAnyType},
    {DT_OP_EXPAND, kAnyType},
    {DT_OP_FILL, kAnyType},
    {DT_OP_UPDATE_ATTENTION_MASK, kAnyType},
    {DT_OP_UPDATE_POSITION_IDS, kAnyType},
    {DT_OP_KV_CACHE_APPEND, kAnyType},
};
static_assert(sizeof kOpSupport / sizeof kOpSupport[0] == DT_OP_ID_END - 1);

// Alignment of every CPU allocation: a cache line, and enough for any element type.
constexpr size_t kAlignment = 64;

DtStatus* Allocate(void* state, size_t bytes, void** handle) {
  void* memory = nullptr;
  if (posix_memalign(&memory, kAlignment, bytes) != 0 || memory == nullptr) {
    char message[96];
    std::snprintf(message, sizeof message, "host allocation of %zu bytes failed", bytes);
    return Host(state)->CreateStatus(DT_OUT_OF_MEMORY, message);
  }
  *handle = memory;
  return nullptr;
}

void Free(void*, void* handle) { std::free(handle); }

void ReleaseNothing(void*) {}

int32_t CanCopy(void*, DtDeviceType src_type, int32_t, DtDeviceType dst_type, int32_t) {
  return src_type == DT_DEVICE_CPU && dst_type == DT_DEVICE_CPU;
}

char* ElementZero(const DtTensorRef* t) { return static_cast<char*>(t->handle) + t->byte_offset; }

DtStatus* CopyTensors(void*, const DtCopyPair* pairs, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const DtTensorRef* src = pairs[i].src;
    const DtTensorRef* dst = pairs[i].dst;
    devtensor::CopyStrided(ElementZero(src), src->strides, ElementZero(dst), dst->strides,
                           dst->shape, dst->rank, dst->element_size);
  }
  return nullptr;
}

DtStatus* ZeroTensor(void*, const DtTensorRef* tensor, void*) {
  devtensor::ZeroStrided(ElementZero(tensor), tensor->strides, tensor->shape, tensor->rank,
                         tensor->element_size);
  return nullptr;
}

devtensor::ops::TensorView ViewOf(const DtTensorRef* t) {
  devtensor::ops::TensorView view;
  view.type = t->element_type;
  view.rank = t->rank;
  for (size_t i = 0; i < t->rank; ++i) {
    view.shape[i] = t->shape[i];
    view.strides[i] = t->strides[i];
  }
  view.data = ElementZero(t);
  return view;
}

// Ops run on the calling thread with the reference kernels, on the parameters the host parsed.
DtStatus* RunOp(void* state, const DtOpCall* call, void*) {
  devtensor::ops::TensorView inputs[16], outputs[16];
  if (call->num_inputs > 16 || call->num_outputs > 16) {
    return Host(state)->CreateStatus(DT_NOT_SUPPORTED, "ops take at most 16 inputs and outputs");
  }
  const devtensor::ops::OpDefinition* op = devtensor::ops::FindOp(call->op);
  if (op == nullptr || call->params == nullptr) {
    return Host(state)->CreateStatus(DT_INTERNAL, "an op call without its identifier or parameters");
  }
  for (size_t i = 0; i < call->num_inputs; ++i) inputs[i] = ViewOf(call->inputs[i]);
  for (size_t i = 0; i < call->num_outputs; ++i) outputs[i] = ViewOf(call->outputs[i]);
  try {
    // The ops make their statuses as the host does: the CPU provider is built into it.
    return devtensor::ops::RunHostOp(*op, inputs, call->num_inputs, outputs, call->num_outputs,
                                     *call->params);
  } catch (...) {
    return Host(state)->CreateStatus(DT_OUT_OF_MEMORY, "the CPU op ran out of host memory");
  }
}

DtStatus* GetDeviceCount(void*, int32_t* count) {
  *count = 1;
  return nullptr;
}

DtStatus* GetDeviceInfo(void*, int32_t, DtDeviceInfo* info) {
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, name)) {
    std::snprintf(info->name, sizeof info->name, "host memory (%ld cores)",
                  sysconf(_SC_NPROCESSORS_ONLN));
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, is_addressable)) info->is_addressable = 1;
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, memory_bytes)) {
    info->memory_bytes = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                         static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  }
  if (DT_STRUCT_HAS_FIELD(info, DtDeviceInfo, offset_alignment)) info->offset_alignment = 1;
  return nullptr;
}

DtStatus* CreateAllocator(void* state, int32_t, DtAllocator* allocator) {
  allocator->state = state;
  allocator->Allocate = &Allocate;
  allocator->Free = &Free;
  allocator->Release = &ReleaseNothing;
  return nullptr;
}

DtStatus* CreateDataTransfer(void* state, DtDataTransfer* transfer) {
  transfer->state = state;
  transfer->CanCopy = &CanCopy;
  transfer->CopyTensors = &CopyTensors;
  transfer->Release = &ReleaseNothing;
  if (DT_STRUCT_HAS_FIELD(transfer, DtDataTransfer, ZeroTensor)) transfer->ZeroTensor = &ZeroTensor;
  return nullptr;
}

void ReleaseProvider(void* state) { delete static_cast<CpuProvider*>(state); }

}  // namespace

extern "C" DtStatus* DtCpuProviderInit(const DtHostApi* host, const DtProvider** provider) {
  auto* cpu = new (std::nothrow) CpuProvider();
  if (cpu == nullptr) return host->CreateStatus(DT_OUT_OF_MEMORY, "no host memory for the CPU provider");
  cpu->host = host;
  DtProviderFactory& factory = cpu->factory;
  factory.struct_size = sizeof(DtProviderFactory);
  factory.state = cpu;
  factory.device_type = DT_DEVICE_CPU;
  factory.GetDeviceCount = &GetDeviceCount;
  factory.GetDeviceInfo = &GetDeviceInfo;
  factory.CreateAllocator = &CreateAllocator;
  factory.CreateDataTransfer = &CreateDataTransfer;
  factory.Release = &ReleaseNothing;
  factory.RunOp = &RunOp;
  factory.op_support = kOpSupport;
  factory.op_support_count = sizeof kOpSupport / sizeof kOpSupport[0];
  cpu->factories[0] = &cpu->factory;
  DtProvider& out = cpu->provider;
  out.struct_size = sizeof(DtProvider);
  out.abi_major = DT_PROVIDER_ABI_MAJOR;
  out.abi_minor = DT_PROVIDER_ABI_MINOR;
  out.state = cpu;
  out.Release = &ReleaseProvider;
  out.name = "cpu";
  out.factory_count = 1;
  out.version = DT_VERSION_STRING;
  out.factories = cpu->factories;
  *provider = &out;
  return nullptr;
}
