// DtRunOp: checks a call against the op's definition, parses its attributes once, and hands the
// op's identifier and parameters to the provider of the tensors' device when its op support
// table has a kernel for them. DtGetOpSupport reads the same table.
#include <vector>

#include "core/c_enum.h"
#include "core/env.h"
#include "common/status.h"
#include "core/stream.h"
#include "core/tensor.h"
#include "ops/ops.h"

using devtensor::Error;
using devtensor::Guarded;

namespace devtensor {
namespace {

ops::TensorView ViewOf(const DtValue& value) {
  ops::TensorView view;
  view.type = value.type;
  view.rank = value.layout.rank;
  std::copy(value.layout.shape, value.layout.shape + view.rank, view.shape);
  std::copy(value.layout.strides, value.layout.strides + view.rank, view.strides);
  return view;
}

bool SameDevice(const DtDevice* a, const DtDevice* b) {
  return a->info.type == b->info.type && a->info.id == b->info.id;
}

// Whether the factory has a kernel for `op` with principal type `type`: its op support table
// says so, or it has RunOp and no table (a provider older than ABI 1.2), which decides by itself.
bool FactorySupports(const DtProviderFactory& api, const ops::OpDefinition& op,
                     DtElementType type) {
  if (api.RunOp == nullptr) return false;
  if (api.op_support == nullptr) return true;
  for (size_t i = 0; i < api.op_support_count; ++i) {
    if (EnumInteger(api.op_support[i].op) == static_cast<int32_t>(op.id)) {
      return (api.op_support[i].element_types & DT_ELEMENT_TYPE_BIT(type)) != 0;
    }
  }
  return false;
}

}  // namespace
}  // namespace devtensor

using namespace devtensor;

extern "C" DtStatus* DtGetDeviceErrorFlags(const DtDevice* device, uint32_t* flags) {
  if (device == nullptr) return Error(DT_INVALID_ARGUMENT, "device is NULL");
  if (flags == nullptr) return Error(DT_INVALID_ARGUMENT, "flags is NULL");
  const DtProviderFactory& api = device->factory->api;
  if (api.ReadErrorFlags == nullptr) {
    *flags = 0;
    return nullptr;
  }
  return Guarded([&] { return api.ReadErrorFlags(api.state, device->info.id, flags); });
}

extern "C" DtStatus* DtRunOp(DtEnv* env, const char* op_type, const DtValue* const* inputs,
                             size_t num_inputs, DtValue* const* outputs, size_t num_outputs,
                             const DtAttribute* attributes, size_t num_attributes,
                             DtStream* stream) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (op_type == nullptr) return Error(DT_INVALID_ARGUMENT, "op_type is NULL");
    const ops::OpDefinition* op = ops::FindOp(op_type);
    if (op == nullptr) {
      return Error(DT_NOT_SUPPORTED, "op_type '", op_type, "' is not an op devtensor defines");
    }
    if (num_inputs > 0 && inputs == nullptr) return Error(DT_INVALID_ARGUMENT, "inputs is NULL");
    if (num_outputs > 0 && outputs == nullptr) return Error(DT_INVALID_ARGUMENT, "outputs is NULL");
    if (num_attributes > 0 && attributes == nullptr) {
      return Error(DT_INVALID_ARGUMENT, "attributes is NULL");
    }
    if (num_outputs == 0) return Error(DT_INVALID_ARGUMENT, op_type, ": no outputs");
    std::vector<ops::TensorView> in, out;
    in.reserve(num_inputs);
    out.reserve(num_outputs);
    const DtDevice* device = nullptr;
    auto add = [&](const DtValue* value, const char* what, size_t i,
                   std::vector<ops::TensorView>* views) -> DtStatus* {
      if (value == nullptr) return Error(DT_INVALID_ARGUMENT, op_type, ": ", what, "[", i, "] is NULL");
      const DtDevice* here = value->storage->device();
      if (device == nullptr) device = here;
      if (!SameDevice(device, here)) {
        return Error(DT_INVALID_ARGUMENT, op_type, ": ", what, "[", i, "] lives on ",
                     DeviceText(here), " but the op's first tensor on ", DeviceText(device),
                     "; all tensors of an op must be on one device");
      }
      views->push_back(ViewOf(*value));
      return nullptr;
    };
    for (size_t i = 0; i < num_outputs; ++i) DT_RETURN_IF_ERROR(add(outputs[i], "outputs", i, &out));
    for (size_t i = 0; i < num_inputs; ++i) DT_RETURN_IF_ERROR(add(inputs[i], "inputs", i, &in));
    DtOpParams params{};
    DT_RETURN_IF_ERROR(ops::CheckOp(*op, in.data(), in.size(), out.data(), out.size(), attributes,
                                    num_attributes, &params));
    const FactoryInstance* factory = device->factory;
    const DtElementType principal = ops::PrincipalType(*op, in.data(), out.data());
    if (factory->api.RunOp == nullptr) {
      return Error(DT_NOT_SUPPORTED, op_type, " on ", DtGetElementTypeName(principal), " on ",
                   DeviceText(device), ": the device's provider has no op kernels");
    }
    if (!FactorySupports(factory->api, *op, principal)) {
      return Error(DT_NOT_SUPPORTED, op_type, " on ", DtGetElementTypeName(principal), " on ",
                   DeviceText(device), ": the device has no kernel for this element type ",
                   "(DtGetOpSupport lists what it has)");
    }
    std::vector<DtTensorRef> refs;
    refs.reserve(num_inputs + num_outputs);
    for (size_t i = 0; i < num_inputs; ++i) {
      refs.push_back(MakeTensorRef(*inputs[i]->storage, inputs[i]->layout, inputs[i]->type));
    }
    for (size_t i = 0; i < num_outputs; ++i) {
      refs.push_back(MakeTensorRef(*outputs[i]->storage, outputs[i]->layout, outputs[i]->type));
    }
    std::vector<const DtTensorRef*> pointers;
    pointers.reserve(refs.size());
    for (const DtTensorRef& ref : refs) pointers.push_back(&ref);
    DtOpCall call{};
    call.struct_size = sizeof(DtOpCall);
    call.op_type = op_type;
    call.device_id = device->info.id;
    call.inputs = pointers.data();
    call.num_inputs = num_inputs;
    call.outputs = pointers.data() + num_inputs;
    call.num_outputs = num_outputs;
    call.attributes = attributes;
    call.num_attributes = num_attributes;
    call.op = op->id;
    call.params = &params;

    std::vector<std::shared_ptr<Storage>> done;  // dropped after the stream's lock
    std::unique_lock<std::mutex> lock;
    if (stream != nullptr) lock = std::unique_lock<std::mutex>(stream->mutex);
    void* provider_stream = nullptr;
    DT_RETURN_IF_ERROR(PrepareStream(stream, factory, &provider_stream, &done));
    DT_RETURN_IF_ERROR(factory->api.RunOp(factory->api.state, &call, provider_stream));
    if (provider_stream != nullptr) {
      for (size_t i = 0; i < num_inputs; ++i) HoldUntilDrained(stream, inputs[i]->storage);
      for (size_t i = 0; i < num_outputs; ++i) HoldUntilDrained(stream, outputs[i]->storage);
    }
    return nullptr;
  });
}

extern "C" DtStatus* DtGetOpSupport(DtEnv* env, const DtDevice* device, const char* op_type,
                                    DtElementType element_type, int32_t* supported) {
  return Guarded([&]() -> DtStatus* {
    if (env == nullptr) return Error(DT_INVALID_ARGUMENT, "env is NULL");
    if (device == nullptr) return Error(DT_INVALID_ARGUMENT, "device is NULL");
    if (op_type == nullptr) return Error(DT_INVALID_ARGUMENT, "op_type is NULL");
    if (supported == nullptr) return Error(DT_INVALID_ARGUMENT, "supported is NULL");
    const int32_t type = EnumInteger(element_type);
    if (!IsElementType(type)) {
      return Error(DT_INVALID_ARGUMENT, "element_type ", type, " is not a DtElementType");
    }
    const ops::OpDefinition* op = ops::FindOp(op_type);
    if (op == nullptr) {
      return Error(DT_NOT_FOUND, "op_type '", op_type, "' is not an op devtensor defines");
    }
    *supported = op->takes(element_type) && FactorySupports(device->factory->api, *op, element_type);
    return nullptr;
  });
}
