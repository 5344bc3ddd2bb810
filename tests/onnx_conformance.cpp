// ONNX conformance of devtensor's ONNX ops: runs every ONNX node test (the libonnx-testdata
// directories test_*/ with model.onnx and test_data_set_*/) whose model is a single node of an op
// devtensor defines, on the CPU device and on device 0 of WebGPU and of CUDA, through the public C
// API. A device this machine lacks is named with why (DtGetDevice's message) and its cases skipped.
//
// Each case runs twice per device: with fresh contiguous tensors, and with every input and output
// a view at a random element offset (a multiple of the element size, never of 16 bytes) inside a
// larger buffer filled with sentinel bytes, which must survive. A case whose DtRunOp answers
// DT_NOT_SUPPORTED, or that needs what devtensor cannot express (string tensors, string
// attributes other than reduction "none"), is skipped.
//
// Usage: onnx_conformance [--data DIR] [--seed N] [NAME_SUBSTRING]
//   DIR defaults to $DEVTENSOR_ONNX_NODE_DIR or /usr/share/libonnx-testdata/data/node; the seed
//   of the offsets to $DEVTENSOR_TEST_SEED or a fresh one (printed).
// Prints one line per op and device ("Add cuda: N passed, N failed, N skipped"), one per device
// ("all ops on cuda: ..."), then "N passed, N failed, N skipped"; exits 1 on a failure.
#include <onnx/onnx_pb.h>  // onnx-ml.pb.h with ONNX_ML=1 (from the onnx_proto target)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"

namespace {

namespace fs = std::filesystem;

constexpr uint8_t kSentinel = 0xA5;
constexpr const char* kOps[] = {"Cast", "Add",       "Sub",    "Mul",   "Div",
                                "Where", "ScatterND", "ArgMax", "Expand"};

// ---- Small RAII over the C API -----------------------------------------------------------------

struct Value {
  DtValue* value = nullptr;
  Value() = default;
  explicit Value(DtValue* v) : value(v) {}
  Value(Value&& other) noexcept : value(other.value) { other.value = nullptr; }
  Value& operator=(Value&& other) noexcept {
    std::swap(value, other.value);
    return *this;
  }
  ~Value() { DtReleaseValue(value); }
};

// A failed call's text, "" for success; releases the status.
std::string Describe(DtStatus* status) {
  if (status == nullptr) return "";
  std::string text =
      std::string(DtGetErrorCodeName(DtGetErrorCode(status))) + ": " + DtGetErrorMessage(status);
  DtReleaseStatus(status);
  return text;
}

// ---- A test case read from protobuf files -------------------------------------------------------

struct Tensor {
  DtElementType type = DT_FLOAT;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian, row-major
};

struct Attribute {
  std::string name;
  DtAttributeType type;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

struct DataSet {
  std::string name;
  std::vector<Tensor> inputs, outputs;
};

struct Case {
  std::string name;
  std::string op;
  std::vector<Attribute> attributes;
  std::vector<DataSet> data_sets;
  std::string unsupported;  // why devtensor cannot run it; "" when it can
};

size_t ElementSize(DtElementType type) { return DtGetElementSize(type); }

// ONNX TensorProto types that are DtElementTypes (same numbers).
bool IsDtType(int type) {
  switch (type) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 10: case 11: case 12:
    case 13: case 16:
      return true;
  }
  return false;
}

template <typename T>
void Append(std::vector<uint8_t>* bytes, T value) {
  const size_t at = bytes->size();
  bytes->resize(at + sizeof(T));
  std::memcpy(bytes->data() + at, &value, sizeof(T));
}

// The tensor in `proto`, or an explanation why it cannot be one devtensor handles. `declared` is
// the element type the model declares for it (0 when unknown): ONNX 1.12's data sets store
// bfloat16 tensors as uint16 ones holding the bits, which are read as the declared type.
std::optional<Tensor> ToTensor(const onnx::TensorProto& proto, int declared, std::string* why) {
  if (!IsDtType(proto.data_type())) {
    *why = "element type " + std::to_string(proto.data_type()) + " (" +
           onnx::TensorProto_DataType_Name(proto.data_type()) + ") is no devtensor type";
    return std::nullopt;
  }
  Tensor t;
  t.type = static_cast<DtElementType>(proto.data_type());
  if (t.type == DT_UINT16 && (declared == DT_BFLOAT16 || declared == DT_FLOAT16)) {
    t.type = static_cast<DtElementType>(declared);
  }
  int64_t count = 1;
  for (int64_t d : proto.dims()) {
    t.shape.push_back(d);
    count *= d;
  }
  if (proto.has_data_location() && proto.data_location() == onnx::TensorProto::EXTERNAL) {
    *why = "external data";
    return std::nullopt;
  }
  const size_t size = ElementSize(t.type);
  if (proto.has_raw_data()) {
    t.bytes.assign(proto.raw_data().begin(), proto.raw_data().end());
  } else {
    switch (t.type) {
      case DT_FLOAT:
        for (float v : proto.float_data()) Append(&t.bytes, v);
        break;
      case DT_DOUBLE:
        for (double v : proto.double_data()) Append(&t.bytes, v);
        break;
      case DT_INT64:
        for (int64_t v : proto.int64_data()) Append(&t.bytes, v);
        break;
      case DT_UINT32:
        for (uint64_t v : proto.uint64_data()) Append(&t.bytes, static_cast<uint32_t>(v));
        break;
      case DT_UINT64:
        for (uint64_t v : proto.uint64_data()) Append(&t.bytes, v);
        break;
      case DT_INT32:
        for (int32_t v : proto.int32_data()) Append(&t.bytes, v);
        break;
      case DT_INT16:
        for (int32_t v : proto.int32_data()) Append(&t.bytes, static_cast<int16_t>(v));
        break;
      case DT_UINT16:
      case DT_FLOAT16:
      case DT_BFLOAT16:  // int32_data holds the 16 bits
        for (int32_t v : proto.int32_data()) Append(&t.bytes, static_cast<uint16_t>(v));
        break;
      case DT_INT8:
        for (int32_t v : proto.int32_data()) Append(&t.bytes, static_cast<int8_t>(v));
        break;
      case DT_UINT8:
        for (int32_t v : proto.int32_data()) Append(&t.bytes, static_cast<uint8_t>(v));
        break;
      case DT_BOOL:
        for (int32_t v : proto.int32_data()) Append(&t.bytes, static_cast<uint8_t>(v != 0));
        break;
    }
  }
  if (t.bytes.size() != static_cast<size_t>(count) * size) {
    *why = "holds " + std::to_string(t.bytes.size()) + " bytes for " + std::to_string(count) +
           " elements";
    return std::nullopt;
  }
  return t;
}

template <typename Proto>
bool ReadProto(const fs::path& path, Proto* proto) {
  std::ifstream in(path, std::ios::binary);
  return in && proto->ParseFromIstream(&in);
}

// The case in `dir` when its model is a single node of one of kOps; nullopt otherwise.
std::optional<Case> LoadCase(const fs::path& dir, std::string* error) {
  onnx::ModelProto model;
  if (!ReadProto(dir / "model.onnx", &model)) {
    *error = "cannot parse model.onnx";
    return std::nullopt;
  }
  const onnx::GraphProto& graph = model.graph();
  if (graph.node_size() != 1) return std::nullopt;
  const onnx::NodeProto& node = graph.node(0);
  if (std::find(std::begin(kOps), std::end(kOps), node.op_type()) == std::end(kOps)) {
    return std::nullopt;
  }
  if (!node.domain().empty() && node.domain() != "ai.onnx") return std::nullopt;
  Case c;
  c.name = dir.filename().string();
  c.op = node.op_type();
  for (const onnx::AttributeProto& a : node.attribute()) {
    Attribute attribute;
    attribute.name = a.name();
    switch (a.type()) {
      case onnx::AttributeProto::INT:
        attribute.type = DT_ATTR_INT;
        attribute.i = a.i();
        break;
      case onnx::AttributeProto::FLOAT:
        attribute.type = DT_ATTR_FLOAT;
        attribute.f = a.f();
        break;
      case onnx::AttributeProto::INTS:
        attribute.type = DT_ATTR_INTS;
        attribute.ints.assign(a.ints().begin(), a.ints().end());
        break;
      case onnx::AttributeProto::FLOATS:
        attribute.type = DT_ATTR_FLOATS;
        attribute.floats.assign(a.floats().begin(), a.floats().end());
        break;
      case onnx::AttributeProto::STRING:
        // ScatterND's reduction "none" is the op without the attribute.
        if (a.name() == "reduction" && a.s() == "none") continue;
        c.unsupported = "string attribute " + a.name() + "=\"" + a.s() + "\"";
        continue;
      default:
        c.unsupported = "attribute " + a.name() + " of type " +
                        onnx::AttributeProto_AttributeType_Name(a.type());
        continue;
    }
    c.attributes.push_back(attribute);
  }
  // Element types the model declares for its values.
  std::map<std::string, int> declared;
  for (const auto* list : {&graph.input(), &graph.output()}) {
    for (const onnx::ValueInfoProto& v : *list) {
      if (v.type().has_tensor_type()) declared[v.name()] = v.type().tensor_type().elem_type();
    }
  }
  // Graph inputs that are not initializers are fed from input_<i>.pb in order.
  std::map<std::string, onnx::TensorProto> initializers;
  for (const onnx::TensorProto& t : graph.initializer()) initializers[t.name()] = t;
  std::vector<std::string> fed;
  for (const onnx::ValueInfoProto& v : graph.input()) {
    if (!initializers.count(v.name())) fed.push_back(v.name());
  }
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0) {
      sets.push_back(entry.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  for (const fs::path& set : sets) {
    DataSet data;
    data.name = set.filename().string();
    std::map<std::string, onnx::TensorProto> values = initializers;
    for (size_t i = 0; i < fed.size(); ++i) {
      onnx::TensorProto t;
      const fs::path file = set / ("input_" + std::to_string(i) + ".pb");
      if (!ReadProto(file, &t)) {
        *error = "cannot parse " + file.string();
        return std::nullopt;
      }
      values[fed[i]] = t;
    }
    std::string why;
    for (const std::string& name : node.input()) {
      if (name.empty() || !values.count(name)) {
        c.unsupported = "input '" + name + "' is optional or missing";
        break;
      }
      std::optional<Tensor> t = ToTensor(values[name], declared[name], &why);
      if (!t) {
        c.unsupported = "input " + name + ": " + why;
        break;
      }
      data.inputs.push_back(std::move(*t));
    }
    for (int i = 0; i < graph.output_size() && c.unsupported.empty(); ++i) {
      onnx::TensorProto t;
      const fs::path file = set / ("output_" + std::to_string(i) + ".pb");
      if (!ReadProto(file, &t)) {
        *error = "cannot parse " + file.string();
        return std::nullopt;
      }
      std::optional<Tensor> tensor = ToTensor(t, declared[graph.output(i).name()], &why);
      if (!tensor) {
        c.unsupported = "output " + graph.output(i).name() + ": " + why;
        break;
      }
      data.outputs.push_back(std::move(*tensor));
    }
    if (graph.output_size() != node.output_size()) c.unsupported = "graph outputs differ from the node's";
    c.data_sets.push_back(std::move(data));
  }
  return c;
}

// ---- Comparison ---------------------------------------------------------------------------------

double HalfToDouble(uint16_t h) {
  const int exponent = (h >> 10) & 0x1F, fraction = h & 0x3FF;
  double v;
  if (exponent == 0x1F) {
    v = fraction ? NAN : INFINITY;
  } else if (exponent == 0) {
    v = std::ldexp(fraction, -24);
  } else {
    v = std::ldexp(fraction + 1024, exponent - 25);
  }
  return (h & 0x8000) ? -v : v;
}

double BFloat16ToDouble(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Element `i` of a floating tensor as double.
double FloatAt(DtElementType type, const uint8_t* bytes, size_t i) {
  switch (type) {
    case DT_FLOAT: {
      float f;
      std::memcpy(&f, bytes + 4 * i, 4);
      return f;
    }
    case DT_DOUBLE: {
      double d;
      std::memcpy(&d, bytes + 8 * i, 8);
      return d;
    }
    case DT_FLOAT16: {
      uint16_t h;
      std::memcpy(&h, bytes + 2 * i, 2);
      return HalfToDouble(h);
    }
    default: {
      uint16_t b;
      std::memcpy(&b, bytes + 2 * i, 2);
      return BFloat16ToDouble(b);
    }
  }
}

std::string ElementText(DtElementType type, const uint8_t* bytes, size_t i) {
  std::ostringstream out;
  out.precision(9);
  switch (type) {
    case DT_FLOAT:
    case DT_DOUBLE:
    case DT_FLOAT16:
    case DT_BFLOAT16:
      out << FloatAt(type, bytes, i);
      break;
    default: {
      const size_t size = ElementSize(type);
      uint64_t raw = 0;
      std::memcpy(&raw, bytes + size * i, size);
      const bool is_signed = type == DT_INT8 || type == DT_INT16 || type == DT_INT32 ||
                             type == DT_INT64;
      if (is_signed && size < 8 && (raw >> (8 * size - 1) & 1)) raw |= ~uint64_t(0) << (8 * size);
      if (is_signed) {
        out << static_cast<int64_t>(raw);
      } else {
        out << raw;
      }
    }
  }
  return out.str();
}

struct Comparison {
  bool equal = true;    // within the type's tolerance
  bool exact = true;    // bit for bit (NaN payloads aside)
  std::string mismatch; // the first element outside the tolerance
  std::string inexact;  // the elements that differ within the tolerance
};

Comparison Compare(const Tensor& expected, const std::vector<uint8_t>& actual) {
  Comparison result;
  const size_t size = ElementSize(expected.type);
  const size_t count = expected.bytes.size() / size;
  const bool floating = expected.type == DT_FLOAT || expected.type == DT_DOUBLE ||
                        expected.type == DT_FLOAT16 || expected.type == DT_BFLOAT16;
  double tolerance = 0, floor = 1;
  if (expected.type == DT_FLOAT || expected.type == DT_DOUBLE) tolerance = 1e-5;
  if (expected.type == DT_FLOAT16) tolerance = 1e-3, floor = 6.103515625e-05;
  if (expected.type == DT_BFLOAT16) tolerance = 1e-2, floor = 1.1754943508222875e-38;
  for (size_t i = 0; i < count; ++i) {
    bool same_bits = std::memcmp(expected.bytes.data() + i * size, actual.data() + i * size, size) == 0;
    bool ok = same_bits;
    if (floating) {
      const double b = FloatAt(expected.type, expected.bytes.data(), i);
      const double a = FloatAt(expected.type, actual.data(), i);
      if (std::isnan(a) || std::isnan(b)) {
        ok = std::isnan(a) && std::isnan(b);
        same_bits = same_bits || ok;
      } else if (std::isinf(a) || std::isinf(b)) {
        ok = a == b;
      } else {
        ok = std::fabs(a - b) <= tolerance * std::max(floor, std::fabs(b));
      }
    }
    if (!same_bits && ok) {
      result.exact = false;
      result.inexact += (result.inexact.empty() ? "" : "; ") + std::string("element ") +
                        std::to_string(i) + " is " + ElementText(expected.type, actual.data(), i) +
                        " for " + ElementText(expected.type, expected.bytes.data(), i);
    }
    if (!ok && result.equal) {
      result.equal = false;
      std::ostringstream out;
      out << "element " << i << " of " << count << ": got " << ElementText(expected.type, actual.data(), i)
          << ", expected " << ElementText(expected.type, expected.bytes.data(), i);
      result.mismatch = out.str();
    }
  }
  return result;
}

// ---- Running a case on a device -----------------------------------------------------------------

enum class Outcome { kPassed, kFailed, kSkipped };

struct Runner {
  DtEnv* env = nullptr;
  const DtDevice* cpu = nullptr;
  std::mt19937_64 random;

  // A host tensor over `bytes`.
  Value Host(std::vector<uint8_t>& bytes, DtElementType type, const std::vector<int64_t>& shape,
             std::string* error) {
    DtValue* v = nullptr;
    static uint8_t dummy = 0;
    void* data = bytes.empty() ? &dummy : bytes.data();
    const size_t size = bytes.empty() ? 1 : bytes.size();
    *error = Describe(DtCreateTensorWithData(env, cpu, data, size, 0, type, shape.data(),
                                             shape.size(), &v));
    return Value(v);
  }

  Value HostBytes(std::vector<uint8_t>& bytes, std::string* error) {
    const int64_t n = static_cast<int64_t>(bytes.size());
    return Host(bytes, DT_UINT8, {n}, error);
  }

  std::string Copy(const DtValue* src, DtValue* dst) {
    return Describe(DtCopyTensors(env, &src, &dst, 1, nullptr));
  }

  // One placement of a tensor on the device: either the tensor itself, or a view at `offset`
  // bytes inside `buffer`, a uint8 tensor of `buffer_bytes` filled with sentinels.
  struct Placed {
    Value buffer;  // empty for a plain tensor
    Value tensor;
    size_t offset = 0, bytes = 0, buffer_bytes = 0;
  };

  std::string Place(const DtDevice* device, const Tensor& t, bool at_offset, Placed* out) {
    const size_t size = ElementSize(t.type);
    out->bytes = t.bytes.size();
    DtValue* v = nullptr;
    if (!at_offset) {
      std::string e = Describe(DtCreateTensor(env, device, t.type, t.shape.data(), t.shape.size(), &v));
      out->tensor = Value(v);
      return e;
    }
    // An element offset whose byte offset is a multiple of the element size but not of 16.
    size_t offset;
    do {
      offset = size * std::uniform_int_distribution<size_t>(1, 64 / size)(random);
    } while (offset % 16 == 0);
    out->offset = offset;
    out->buffer_bytes = offset + out->bytes + std::uniform_int_distribution<size_t>(1, 24)(random);
    const int64_t n = static_cast<int64_t>(out->buffer_bytes);
    std::string e = Describe(DtCreateTensor(env, device, DT_UINT8, &n, 1, &v));
    out->buffer = Value(v);
    if (!e.empty()) return e;
    std::vector<uint8_t> sentinels(out->buffer_bytes, kSentinel);
    Value host = HostBytes(sentinels, &e);
    if (!e.empty()) return e;
    if (!(e = Copy(host.value, out->buffer.value)).empty()) return e;
    v = nullptr;
    e = Describe(DtCreateTensorView(out->buffer.value, offset, t.type, t.shape.data(),
                                    t.shape.size(), &v));
    out->tensor = Value(v);
    return e;
  }

  // Downloads `placed`'s tensor into `bytes`; with a buffer, checks its sentinels too.
  std::string Download(const Placed& placed, const Tensor& t, std::vector<uint8_t>* bytes) {
    std::string e;
    if (placed.buffer.value == nullptr) {
      bytes->assign(placed.bytes, 0);
      Value host = Host(*bytes, t.type, t.shape, &e);
      if (!e.empty()) return e;
      return Copy(placed.tensor.value, host.value);
    }
    std::vector<uint8_t> all(placed.buffer_bytes, 0);
    Value host = HostBytes(all, &e);
    if (!e.empty()) return e;
    if (!(e = Copy(placed.buffer.value, host.value)).empty()) return e;
    for (size_t i = 0; i < all.size(); ++i) {
      if (i >= placed.offset && i < placed.offset + placed.bytes) continue;
      if (all[i] != kSentinel) {
        std::ostringstream out;
        out << "sentinel byte " << i << " of the buffer (view at bytes " << placed.offset << ".."
            << placed.offset + placed.bytes << ") is 0x" << std::hex << int(all[i]);
        return out.str();
      }
    }
    bytes->assign(all.begin() + placed.offset, all.begin() + placed.offset + placed.bytes);
    return "";
  }

  // Runs one data set; `detail` explains a failure or a skip.
  Outcome RunSet(const Case& c, const DataSet& set, const DtDevice* device, bool at_offset,
                 std::string* detail, std::string* inexact) {
    std::vector<Placed> inputs(set.inputs.size()), outputs(set.outputs.size());
    std::vector<Tensor> input_copies = set.inputs;
    std::string e;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!(e = Place(device, set.inputs[i], at_offset, &inputs[i])).empty() ||
          !(e = UploadInput(input_copies[i], inputs[i])).empty()) {
        *detail = "setting up input " + std::to_string(i) + ": " + e;
        return Outcome::kFailed;
      }
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!(e = Place(device, set.outputs[i], at_offset, &outputs[i])).empty()) {
        *detail = "setting up output " + std::to_string(i) + ": " + e;
        return Outcome::kFailed;
      }
    }
    std::vector<DtAttribute> attributes;
    for (const Attribute& a : c.attributes) {
      DtAttribute d{};
      d.name = a.name.c_str();
      d.type = a.type;
      d.i = a.i;
      d.f = a.f;
      d.ints = a.ints.data();
      d.floats = a.floats.data();
      d.count = a.type == DT_ATTR_INTS ? a.ints.size() : a.floats.size();
      attributes.push_back(d);
    }
    std::vector<const DtValue*> in;
    std::vector<DtValue*> out;
    for (Placed& p : inputs) in.push_back(p.tensor.value);
    for (Placed& p : outputs) out.push_back(p.tensor.value);
    DtStatus* status = DtRunOp(env, c.op.c_str(), in.data(), in.size(), out.data(), out.size(),
                               attributes.data(), attributes.size(), nullptr);
    if (DtGetErrorCode(status) == DT_NOT_SUPPORTED) {
      *detail = Describe(status);
      return Outcome::kSkipped;
    }
    if (!(e = Describe(status)).empty()) {
      *detail = "DtRunOp: " + e;
      return Outcome::kFailed;
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::vector<uint8_t> bytes;
      if (!(e = Download(outputs[i], set.outputs[i], &bytes)).empty()) {
        *detail = "output " + std::to_string(i) + ": " + e;
        return Outcome::kFailed;
      }
      Comparison cmp = Compare(set.outputs[i], bytes);
      if (!cmp.equal) {
        *detail = "output " + std::to_string(i) + ": " + cmp.mismatch;
        return Outcome::kFailed;
      }
      if (!cmp.exact) *inexact = "output " + std::to_string(i) + ": " + cmp.inexact;
    }
    for (size_t i = 0; i < inputs.size() && at_offset; ++i) {
      std::vector<uint8_t> bytes;
      if (!(e = Download(inputs[i], set.inputs[i], &bytes)).empty()) {
        *detail = "input " + std::to_string(i) + ": " + e;
        return Outcome::kFailed;
      }
      if (bytes != set.inputs[i].bytes) {
        *detail = "input " + std::to_string(i) + " was changed";
        return Outcome::kFailed;
      }
    }
    return Outcome::kPassed;
  }

  std::string UploadInput(Tensor& t, Placed& placed) {
    std::string e;
    Value host = Host(t.bytes, t.type, t.shape, &e);
    if (!e.empty()) return e;
    return Copy(host.value, placed.tensor.value);
  }
};

struct Counts {
  int passed = 0, failed = 0, skipped = 0;
};

}  // namespace

int main(int argc, char** argv) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  std::string data_dir = "/usr/share/libonnx-testdata/data/node";
  if (const char* env_dir = std::getenv("DEVTENSOR_ONNX_NODE_DIR"); env_dir && *env_dir) {
    data_dir = env_dir;
  }
  uint64_t seed = std::random_device{}();
  if (const char* fixed = std::getenv("DEVTENSOR_TEST_SEED")) seed = std::strtoull(fixed, nullptr, 10);
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      data_dir = argv[++i];
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s [--data DIR] [--seed N] [NAME_SUBSTRING]\n", argv[0]);
      return 0;
    } else {
      filter = arg;
    }
  }
  std::printf("ONNX node tests from %s; offsets with DEVTENSOR_TEST_SEED=%llu\n", data_dir.c_str(),
              static_cast<unsigned long long>(seed));

  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(data_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("test_", 0) != 0) continue;
    if (name.find("_expanded") != std::string::npos) continue;
    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
    dirs.push_back(entry.path());
  }
  if (ec) {
    std::printf("cannot read %s: %s\n", data_dir.c_str(), ec.message().c_str());
    std::printf("0 passed, 1 failed, 0 skipped\n");
    return 1;
  }
  std::sort(dirs.begin(), dirs.end());

  Runner runner;
  runner.random.seed(seed);
  if (std::string e = Describe(DtCreateEnv(&runner.env)); !e.empty()) {
    std::printf("DtCreateEnv: %s\n0 passed, 1 failed, 0 skipped\n", e.c_str());
    return 1;
  }
  if (std::string e = Describe(DtGetDevice(runner.env, DT_DEVICE_CPU, 0, &runner.cpu)); !e.empty()) {
    std::printf("CPU device: %s\n0 passed, 1 failed, 0 skipped\n", e.c_str());
    return 1;
  }
  struct Device {
    const char* name;
    const DtDevice* device;
  };
  std::vector<Device> devices = {{"cpu", runner.cpu}};
  struct Other {
    const char* name;
    DtDeviceType type;
  };
  for (const Other& other : {Other{"webgpu", DT_DEVICE_WEBGPU}, Other{"cuda", DT_DEVICE_CUDA}}) {
    const DtDevice* found = nullptr;
    const std::string error = Describe(DtGetDevice(runner.env, other.type, 0, &found));
    devices.push_back({other.name, found});
    if (found == nullptr) std::printf("%s: no device (%s); its cases are skipped\n", other.name, error.c_str());
  }

  std::map<std::string, std::map<std::string, Counts>> counts;  // op -> device -> counts
  Counts total;
  int load_errors = 0;
  for (const fs::path& dir : dirs) {
    std::string error;
    std::optional<Case> c = LoadCase(dir, &error);
    if (!error.empty()) {
      std::printf("FAILED %s: %s\n", dir.filename().c_str(), error.c_str());
      ++load_errors;
      continue;
    }
    if (!c) continue;
    for (const Device& device : devices) {
      Counts& op_counts = counts[c->op][device.name];
      Outcome outcome = Outcome::kPassed;
      std::string detail;
      std::string inexact;
      if (!c->unsupported.empty()) {
        outcome = Outcome::kSkipped;
        detail = c->unsupported;
      } else if (device.device == nullptr) {
        outcome = Outcome::kSkipped;
        detail = "no device";
      } else {
        for (const DataSet& set : c->data_sets) {
          for (bool at_offset : {false, true}) {
            std::string why;
            const Outcome o = runner.RunSet(*c, set, device.device, at_offset, &why, &inexact);
            if (o == Outcome::kPassed) continue;
            outcome = o;
            detail = set.name + (at_offset ? " (views at offsets)" : " (contiguous)") + ": " + why;
            break;
          }
          if (outcome != Outcome::kPassed) break;
        }
      }
      switch (outcome) {
        case Outcome::kPassed:
          ++op_counts.passed, ++total.passed;
          if (!inexact.empty()) {
            std::printf("note: %s on %s passes within tolerance but not bit for bit: %s\n",
                        c->name.c_str(), device.name, inexact.c_str());
          }
          break;
        case Outcome::kFailed:
          ++op_counts.failed, ++total.failed;
          std::printf("FAILED %s on %s: %s\n", c->name.c_str(), device.name, detail.c_str());
          break;
        case Outcome::kSkipped:
          ++op_counts.skipped, ++total.skipped;
          if (std::getenv("DEVTENSOR_ONNX_VERBOSE")) {
            std::printf("skipped %s on %s: %s\n", c->name.c_str(), device.name, detail.c_str());
          }
          break;
      }
    }
  }
  for (const char* op : kOps) {
    for (const Device& device : devices) {
      const Counts& n = counts[op][device.name];
      std::printf("%s %s: %d passed, %d failed, %d skipped\n", op, device.name, n.passed, n.failed,
                  n.skipped);
    }
  }
  for (const Device& device : devices) {
    Counts n;
    for (const char* op : kOps) {
      const Counts& c = counts[op][device.name];
      n.passed += c.passed, n.failed += c.failed, n.skipped += c.skipped;
    }
    std::printf("all ops on %s: %d passed, %d failed, %d skipped%s\n", device.name, n.passed,
                n.failed, n.skipped, device.device == nullptr ? " (no device)" : "");
  }
  total.failed += load_errors;
  std::printf("%d passed, %d failed, %d skipped\n", total.passed, total.failed, total.skipped);
  DtReleaseEnv(runner.env);
  google::protobuf::ShutdownProtobufLibrary();
  return total.failed > 0 ? 1 : 0;
}
