// Add, Sub, Mul, Div with broadcasting, Where and Expand: one invocation per output element,
// inputs read at their broadcast positions.
#include <string>
#include <vector>

#include "common/return_if_error.h"
#include "providers/webgpu/kernels/element_code.h"
#include "providers/webgpu/kernels/kernels.h"
#include "providers/webgpu/kernels/library.h"

namespace devtensor::webgpu {
namespace {

// Strides (elements) of `t` broadcast to `rank` dimensions of `shape`: right-aligned, 0 where t
// has size 1 or no dimension.
std::vector<int64_t> BroadcastStrides(const DtTensorRef& t, const int64_t* shape, size_t rank) {
  std::vector<int64_t> strides(rank, 0);
  for (size_t i = 0; i < t.rank; ++i) {
    const size_t d = rank - t.rank + i;
    strides[d] = (t.shape[i] == 1 && shape[d] != 1) ? 0 : t.strides[i];
  }
  return strides;
}

// The output element's size in bytes, as its kernel stores it.
uint32_t OutputSize(const DtOpCall& call) {
  return static_cast<uint32_t>(call.outputs[0]->element_size);
}

}  // namespace

DtStatus* RecordPerElement(OpBuilder& b, const DtOpCall& call, uint32_t inputs,
                           const std::function<std::string(const std::vector<DtTensorRef>& used)>& store) {
  const DtTensorRef& out = *call.outputs[0];
  DT_RETURN_IF_ERROR(b.BindOutputElements(out));
  std::vector<DtTensorRef> used(inputs);
  for (uint32_t k = 0; k < inputs; ++k) DT_RETURN_IF_ERROR(b.BindInput(k + 1, *call.inputs[k], true, &used[k]));
  for (uint32_t k = 0; k < inputs; ++k) {
    std::vector<int64_t> strides = BroadcastStrides(used[k], out.shape, out.rank);
    b.SetStrides(k + 1, strides.data(), out.rank, used[k].element_size);
  }
  return b.Dispatch(call, "", [&] {
    std::string code = KernelLibrary();
    for (uint32_t k = 0; k < inputs; ++k) {
      code += RawLoad("raw" + std::to_string(k + 1), "word_in" + std::to_string(k + 1),
                      static_cast<uint32_t>(used[k].element_size));
    }
    return code + MainHead() + "  " + store(used) + "\n}\n";
  }, inputs);
}

DtStatus* RecordArithmetic(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  // The store is made only when the kernel is first compiled, and captures only the call, so that
  // its std::function needs no allocation on each op.
  return RecordPerElement(b, call, 2, [&call](const std::vector<DtTensorRef>&) {
    const DtElementType type = call.outputs[0]->element_type;
    TypeInfo info{};
    Describe(type, &info);
    const std::string a = FromBits(type, "raw1(address(1u, index))");
    const std::string c = FromBits(type, "raw2(address(2u, index))");
    const std::string out = "address(0u, index)";
    if (info.cls == Class::kWide) {  // 64-bit integers (no Div: the support table says so)
      const char* function = call.op == DT_OP_ADD ? "add64(" : call.op == DT_OP_SUB ? "sub64(" : "mul64(";
      return Store(type, info.size, out, function + a + ", " + c + ")");
    }
    const char* symbol = call.op == DT_OP_ADD   ? "+"
                         : call.op == DT_OP_SUB ? "-"
                         : call.op == DT_OP_MUL ? "*"
                                                : "/";
    return Store(type, info.size, out, "(" + a + " " + symbol + " " + c + ")");
  });
}

DtStatus* RecordWhere(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  return RecordPerElement(b, call, 3, [&](const std::vector<DtTensorRef>&) {
    return "let bits = select(raw3(address(3u, index)), raw2(address(2u, index)), "
           "raw1(address(1u, index)) != 0u);\n  " +
           StoreRaw(OutputSize(call), "address(0u, index)", "bits");
  });
}

DtStatus* RecordExpandWith(OpBuilder& b, const DtOpCall& call) {
  // The target shape (inputs[1]) is the output's: only the data is bound.
  return RecordPerElement(b, call, 1, [&](const std::vector<DtTensorRef>&) {
    return StoreRaw(OutputSize(call), "address(0u, index)", "raw1(address(1u, index))");
  });
}

DtStatus* RecordExpand(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  return RecordExpandWith(b, call);
}

}  // namespace devtensor::webgpu
