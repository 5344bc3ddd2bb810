#include "providers/cuda/kernel_names.h"

namespace devtensor::cuda {
namespace {

// Of a kernel "dtk_run<OP>" or "dtk_run_many<OP>", by OP: "dtk_cast_op<float, int>" ->
// "dtk_cast_op|int>"; "dtk_binary_op<dtk_add, float>" -> "dtk_binary_op<dtk_add"; ArgMax's
// kernels of one type together; any other -> its template's name.
std::string FamilyKey(const std::string& kernel) {
  const size_t open = kernel.find('<');
  if (open == std::string::npos) return kernel;
  if (const size_t argmax = kernel.find("dtk_argmax"); argmax != std::string::npos) {
    // Its kernels of every pass, by element type (no type name holds a '>').
    const size_t type = kernel.find('<', argmax) + 1;
    return "dtk_argmax|" + kernel.substr(type, kernel.find('>', type) - type);
  }
  const std::string op = kernel.substr(open + 1);
  const std::string name = op.substr(0, op.find('<'));
  if (name == "dtk_cast_op") return name + "|" + op.substr(op.find(", ") + 2);
  if (name == "dtk_binary_op") return op.substr(0, op.find(','));
  return name;
}

}  // namespace

const char* DeviceTypeName(DtElementType type) {
  switch (type) {
    case DT_FLOAT: return "float";
    case DT_UINT8: return "unsigned char";
    case DT_INT8: return "signed char";
    case DT_UINT16: return "unsigned short";
    case DT_INT16: return "short";
    case DT_INT32: return "int";
    case DT_INT64: return "long long";
    case DT_BOOL: return "dtk_bool";
    case DT_FLOAT16: return "dtk_half";
    case DT_DOUBLE: return "double";
    case DT_UINT32: return "unsigned int";
    case DT_UINT64: return "unsigned long long";
    case DT_BFLOAT16: return "dtk_bfloat16";
  }
  return "unsigned char";
}

const char* WordTypeName(size_t bytes) {
  switch (bytes) {
    case 2: return "unsigned short";
    case 4: return "unsigned int";
    case 8: return "unsigned long long";
    default: return "unsigned char";
  }
}

std::vector<std::string> EveryOpName() {
  static constexpr DtElementType kTypes[] = {DT_FLOAT,  DT_UINT8,   DT_INT8,   DT_UINT16, DT_INT16,
                                             DT_INT32,  DT_INT64,   DT_BOOL,   DT_FLOAT16,
                                             DT_DOUBLE, DT_UINT32,  DT_UINT64, DT_BFLOAT16};
  std::vector<std::string> names = {"dtk_copy_pairs_op"};
  for (DtElementType from : kTypes) {
    for (DtElementType to : kTypes) {
      names.push_back(OpName("dtk_cast_op", DeviceTypeName(to), DeviceTypeName(from)));
    }
    if (from == DT_BOOL) continue;
    for (const char* op : {"dtk_add", "dtk_sub", "dtk_mul", "dtk_div"}) {
      names.push_back(OpName("dtk_binary_op", op, DeviceTypeName(from)));
    }
    names.push_back(OpName("dtk_argmax_op", DeviceTypeName(from)));
  }
  for (size_t bytes : {1, 2, 4, 8}) {
    for (const char* op : {"dtk_where_op", "dtk_copy_op", "dtk_fill_op", "dtk_kv_append_op",
                           "dtk_scatter_nd_op"}) {
      names.push_back(OpName(op, WordTypeName(bytes)));
    }
  }
  for (DtElementType type : {DT_INT32, DT_INT64}) {
    names.push_back(OpName("dtk_increment_op", DeviceTypeName(type)));
    names.push_back(OpName("dtk_attention_mask_op", DeviceTypeName(type)));
  }
  return names;
}

std::vector<std::string> EveryKernelName() {
  std::vector<std::string> names;
  for (const std::string& op : EveryOpName()) {
    names.push_back("dtk_run<" + op + ">");
    names.push_back("dtk_run_many<" + op + ">");
    // A long ArgMax axis: kernels of their own (op_kernels.cpp).
    if (op.rfind("dtk_argmax_op<", 0) == 0) {
      const std::string type = op.substr(op.find('<'));
      names.push_back("dtk_argmax_runs" + type);
      names.push_back("dtk_argmax_finish" + type);
    }
  }
  return names;
}

std::string OpName(const char* op, const std::string& a, const std::string& b) {
  return std::string(op) + "<" + a + (b.empty() ? "" : ", " + b) + ">";
}

std::vector<std::string> KernelFamily(const std::string& expression) {
  const std::string key = FamilyKey(expression);
  std::vector<std::string> family;
  for (const std::string& name : EveryKernelName()) {
    if (FamilyKey(name) == key) family.push_back(name);
  }
  if (family.empty()) family.push_back(expression);
  return family;
}

}  // namespace devtensor::cuda
