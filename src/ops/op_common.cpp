#include "ops/op_common.h"

#include <algorithm>

#include "layout/element_type.h"
#include "layout/layout.h"

namespace devtensor::ops {

std::string ArgText(const char* what, size_t index, const char* name) {
  return std::string(what) + "[" + std::to_string(index) + "] (" + name + ")";
}

const char* TypeName(DtElementType type) { return DtGetElementTypeName(type); }

int64_t ElementCount(const int64_t* shape, size_t rank) {
  int64_t count = 1;
  for (size_t i = 0; i < rank; ++i) count *= shape[i];
  return count;
}
int64_t ElementCount(const TensorView& view) { return ElementCount(view.shape, view.rank); }

bool SameShape(const TensorView& view, const int64_t* shape, size_t rank) {
  return view.rank == rank && std::equal(shape, shape + rank, view.shape);
}

size_t ElementBytes(DtElementType type) { return ElementTypeSize(type); }

bool IsKnownType(DtElementType type) { return ElementBytes(type) != 0; }
bool IsNumeric(DtElementType type) { return IsKnownType(type) && type != DT_BOOL; }

bool SameView(const TensorView& a, const TensorView& b) {
  if (a.data != b.data || ElementBytes(a.type) != ElementBytes(b.type) || a.rank != b.rank) {
    return false;
  }
  for (size_t i = 0; i < a.rank; ++i) {
    if (a.shape[i] != b.shape[i]) return false;
    if (a.shape[i] > 1 && a.strides[i] != b.strides[i]) return false;
  }
  return true;
}

namespace {
// The view as a layout whose byte offset is relative to address `base` (<= the view's data).
Layout LayoutOf(const TensorView& view, uintptr_t base) {
  Layout layout;
  layout.rank = view.rank;
  std::copy(view.shape, view.shape + view.rank, layout.shape);
  std::copy(view.strides, view.strides + view.rank, layout.strides);
  layout.element_size = ElementBytes(view.type);
  layout.byte_offset = static_cast<size_t>(reinterpret_cast<uintptr_t>(view.data) - base);
  return layout;
}
}  // namespace

bool ViewsOverlap(const TensorView& a, const TensorView& b) {
  if (ElementCount(a) == 0 || ElementCount(b) == 0) return false;
  // Addresses as integers: the views may lie in different allocations.
  const uintptr_t base =
      std::min(reinterpret_cast<uintptr_t>(a.data), reinterpret_cast<uintptr_t>(b.data));
  const Layout la = LayoutOf(a, base), lb = LayoutOf(b, base);
  const size_t ea = ExtentBytes(la), eb = ExtentBytes(lb);
  if (la.byte_offset + ea <= lb.byte_offset || lb.byte_offset + eb <= la.byte_offset) return false;
  return LayoutsOverlap(la, lb);
}

int32_t LoadScalarInt32(const TensorView& view) { return Load<int32_t>(view.data, 0); }

DtStatus* CheckCounts(const OpCall& call, size_t inputs, const char* input_names, size_t outputs,
                    const char* output_names) {
  if (call.num_inputs == inputs && call.num_outputs == outputs) return nullptr;
  auto plural = [](size_t n, const char* word) {
    return Concat(n, " ", word, n == 1 ? "" : "s");
  };
  return Fail(DT_INVALID_ARGUMENT, call.op, "takes ", plural(inputs, "input"),
              inputs ? Concat(" (", input_names, ")") : std::string(), " and ",
              plural(outputs, "output"), " (", output_names, "); got ",
              plural(call.num_inputs, "input"), " and ", plural(call.num_outputs, "output"));
}

DtStatus* CheckInt32Scalar(const OpCall& call, const TensorView& view, const Arg& arg) {
  if (view.type != DT_INT32) {
    return Fail(DT_INVALID_ARGUMENT, call.op, arg.text(), " has element type ", TypeName(view.type),
                " but must be int32");
  }
  if (ElementCount(view) != 1) {
    return Fail(DT_INVALID_ARGUMENT, call.op, arg.text(), " has shape ", ShapeText(view),
                " but must hold exactly one element (a scalar)");
  }
  return nullptr;
}

DtStatus* CheckOutputShape(const OpCall& call, const TensorView& output, const Arg& arg,
                         const int64_t* shape, size_t rank) {
  if (SameShape(output, shape, rank)) return nullptr;
  return Fail(DT_INVALID_ARGUMENT, call.op, arg.text(), " has shape ", ShapeText(output),
              " but the op's result has shape ", ShapeText(shape, rank));
}

}  // namespace devtensor::ops
