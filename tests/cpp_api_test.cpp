// The C++ wrapper (devtensor.hpp): that it calls every function devtensor.h exports, and its own
// helpers — uploads and downloads, float16 and bfloat16 conversions, the typed decode ops and
// Fill with float and integer values — on every device of the device suites (CPU, WebGPU, CUDA),
// against references computed here on fresh random inputs.
//
// Outputs are views inside an "arena": a uint8 device tensor whose other bytes hold sentinels or
// random bytes, set and read with the calls the wrapper had before its helpers (create, wrap,
// copy). After a helper runs, every arena byte outside the output's elements must hold what it
// held, and a helper that throws must have written nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "device_suite/device_cases.h"
#include "test_util.h"

namespace {

using namespace devtensor_test;
using devtensor::BFloat16;
using devtensor::Device;
using devtensor::Env;
using devtensor::Float16;
using devtensor::Stream;
using devtensor::Tensor;

// ---- Every exported function has a wrapper ------------------------------------------------------

std::string ReadFile(const char* path) {
  std::ifstream file(path);
  EXPECT_TRUE(file.good()) << "cannot read " << path;
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// `text` without its // and /* */ comments, so that only code counts as a call.
std::string WithoutComments(const std::string& text) {
  std::string code;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "//") == 0) {
      i = text.find('\n', i);
      if (i == std::string::npos) break;
      code += '\n';
    } else if (text.compare(i, 2, "/*") == 0) {
      i = text.find("*/", i + 2);
      if (i == std::string::npos) break;
      ++i;
    } else {
      code += text[i];
    }
  }
  return code;
}

// The names of the functions a header declares with DT_EXPORT: the identifier before the first
// "(" after each DT_EXPORT that begins a declaration.
std::vector<std::string> ExportedFunctions(const std::string& header) {
  const std::string code = WithoutComments(header);
  const std::regex declaration(R"((^|\n)[ \t]*DT_EXPORT\b([^(;]*)\()");
  const std::regex name(R"((Dt\w+)\s*$)");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(code.begin(), code.end(), declaration);
       it != std::sregex_iterator(); ++it) {
    const std::string before_parenthesis = (*it)[2];
    std::smatch match;
    if (std::regex_search(before_parenthesis, match, name)) names.push_back(match[1]);
  }
  return names;
}

bool Calls(const std::string& code, const std::string& function) {
  return std::regex_search(code, std::regex("(^|[^A-Za-z0-9_])" + function + R"(\s*\()"));
}

TEST(CppApiCoverage, TheWrapperCallsEveryFunctionTheCHeaderExports) {
  if (!std::filesystem::exists(DT_TEST_C_HEADER) || !std::filesystem::exists(DT_TEST_CPP_HEADER)) {
    GTEST_SKIP() << "the source tree of this build is not here (" << DT_TEST_C_HEADER
                 << "): the build was moved to another machine";
  }
  const std::vector<std::string> exported = ExportedFunctions(ReadFile(DT_TEST_C_HEADER));
  const std::string wrapper = WithoutComments(ReadFile(DT_TEST_CPP_HEADER));
  // The parsing itself: a few functions the header has always had, and no doubles.
  for (const char* known : {"DtCreateEnv", "DtCopyTensors", "DtRunOp", "DtReleaseGraph"}) {
    EXPECT_NE(std::find(exported.begin(), exported.end(), known), exported.end()) << known;
  }
  EXPECT_GE(exported.size(), 40u);
  EXPECT_EQ(std::set<std::string>(exported.begin(), exported.end()).size(), exported.size());
  // DtIsLibraryCompatible is static inline, not exported: a wrapper all the same.
  std::vector<std::string> wanted = exported;
  wanted.push_back("DtIsLibraryCompatible");
  for (const std::string& function : wanted) {
    EXPECT_TRUE(Calls(wrapper, function))
        << "devtensor.h declares " << function
        << " but devtensor.hpp never calls it: give it a wrapper (and a test in cpp_api_test.cpp)";
  }
}

TEST(CppApiCoverage, TheCheckSeesAFunctionWithoutAWrapper) {
  const std::string header = "DT_EXPORT void DtGetVersion(uint32_t* major);\n"
                             "/* DT_EXPORT int DtCommentedOut(void); */\n"
                             "DT_EXPORT DtStatus* DtSomethingNew(DtEnv* env,\n"
                             "                                  int flag);\n";
  const std::vector<std::string> exported = ExportedFunctions(header);
  EXPECT_EQ(exported, (std::vector<std::string>{"DtGetVersion", "DtSomethingNew"}));
  const std::string wrapper = WithoutComments("void f() { DtGetVersion(a, b, c); }  // DtSomethingNew(\n");
  EXPECT_TRUE(Calls(wrapper, "DtGetVersion"));
  EXPECT_FALSE(Calls(wrapper, "DtSomethingNew"));
  EXPECT_FALSE(Calls(wrapper, "DtGetVer"));
}

// ---- float16 and bfloat16 on the host -----------------------------------------------------------

struct SmallFloat {
  int fraction, exponent;
  uint16_t infinity() const { return uint16_t(((1u << exponent) - 1u) << fraction); }
  uint16_t sign_bit() const { return uint16_t(1u << (fraction + exponent)); }
};
constexpr SmallFloat kHalf{10, 5}, kBrain{7, 8};

// The value of a 16-bit pattern, by the definition of the format.
double Decode(uint16_t bits, SmallFloat format) {
  const int bias = (1 << (format.exponent - 1)) - 1;
  const uint32_t exponent = (bits >> format.fraction) & ((1u << format.exponent) - 1u);
  const uint32_t fraction = bits & ((1u << format.fraction) - 1u);
  const double sign = (bits & format.sign_bit()) ? -1.0 : 1.0;
  if (exponent == (1u << format.exponent) - 1u) return fraction ? NAN : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(double(fraction), 1 - bias - format.fraction);
  return sign * std::ldexp(double(fraction | (1u << format.fraction)),
                           int(exponent) - bias - format.fraction);
}

// Rounds a non-NaN `x` to the nearest value of the format, ties to the even pattern, by search
// among all finite values; beyond the largest, the next step is infinity's pattern.
class NearestEven {
 public:
  explicit NearestEven(SmallFloat format) : format_(format) {
    for (uint16_t bits = 0; bits < format.infinity(); ++bits) values_.push_back(Decode(bits, format));
    beyond_ = std::ldexp(1.0, 1 << (format.exponent - 1));
  }
  uint16_t operator()(double x) const {
    const uint16_t sign = std::signbit(x) ? format_.sign_bit() : 0;
    const double a = std::fabs(x);
    if (std::isinf(a)) return uint16_t(sign | format_.infinity());
    const size_t below = size_t(std::upper_bound(values_.begin(), values_.end(), a) - values_.begin()) - 1;
    if (values_[below] == a) return uint16_t(sign | below);
    const double next = below + 1 < values_.size() ? values_[below + 1] : beyond_;
    // 2a against the sum of the neighbours: both exact in double, unlike the two distances.
    const double twice = 2 * a, sum = values_[below] + next;
    const size_t nearest = twice < sum ? below : twice > sum ? below + 1 : (below % 2 ? below + 1 : below);
    return uint16_t(sign | nearest);
  }

 private:
  SmallFloat format_;
  std::vector<double> values_;
  double beyond_;
};

float FloatFromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

TEST(CppApiFloat16, EveryFloat16AndBFloat16DecodesExactlyAndRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    SCOPED_TRACE(bits);
    const uint16_t b = uint16_t(bits);
    for (SmallFloat format : {kHalf, kBrain}) {
      const bool half = format.fraction == kHalf.fraction;
      const float value = half ? devtensor::ToFloat(Float16{b}) : devtensor::ToFloat(BFloat16{b});
      const uint16_t back = half ? devtensor::ToFloat16(value).bits : devtensor::ToBFloat16(value).bits;
      const double expected = Decode(b, format);
      if (std::isnan(expected)) {
        ASSERT_TRUE(std::isnan(value));
        EXPECT_EQ(std::signbit(value), (b & format.sign_bit()) != 0);
        // NaN stays NaN, quiet, with its sign.
        EXPECT_EQ(back & uint16_t(~format.sign_bit()) & format.infinity(), format.infinity());
        EXPECT_NE(back & (1u << (format.fraction - 1)), 0u);
        EXPECT_EQ(back & format.sign_bit(), b & format.sign_bit());
      } else {
        ASSERT_EQ(double(value), expected);
        ASSERT_EQ(std::signbit(value), std::signbit(expected));  // -0 stays -0
        ASSERT_EQ(back, b);
      }
    }
  }
}

TEST(CppApiFloat16, FloatsRoundToNearestEvenIntoBothFormats) {
  Random random;
  SCOPED_TRACE(random.trace());
  for (SmallFloat format : {kHalf, kBrain}) {
    const bool half = format.fraction == kHalf.fraction;
    const NearestEven reference(format);
    std::vector<float> inputs;
    // Every midpoint between neighbours (the ties), and the floats on either side of it.
    for (uint16_t bits = 0; bits + 1 < format.infinity(); ++bits) {
      const float mid = float((Decode(bits, format) + Decode(bits + 1, format)) / 2);
      for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
        inputs.push_back(x);
        inputs.push_back(-x);
      }
    }
    // Fresh random floats: every bit pattern is as likely, NaNs and infinities included.
    for (int i = 0; i < 300000; ++i) inputs.push_back(FloatFromBits(uint32_t(random())));
    inputs.push_back(INFINITY);
    inputs.push_back(-INFINITY);
    inputs.push_back(65520.0f);  // half: the tie between 65504 and infinity
    for (float x : inputs) {
      const uint16_t got = half ? devtensor::ToFloat16(x).bits : devtensor::ToBFloat16(x).bits;
      if (std::isnan(x)) {
        ASSERT_TRUE(std::isnan(Decode(got, format))) << x;
        continue;
      }
      ASSERT_EQ(got, reference(x)) << (half ? "float16 of " : "bfloat16 of ") << x;
      const uint16_t from_double = half ? devtensor::ToFloat16(double(x)).bits
                                        : devtensor::ToBFloat16(double(x)).bits;
      ASSERT_EQ(from_double, got) << x;
    }
  }
}

// ---- Versions, names, providers, errors ---------------------------------------------------------

TEST(CppApi, VersionsAndNames) {
  EXPECT_EQ(devtensor::library_version(), devtensor::header_version());
  EXPECT_EQ(devtensor::header_version().text(), DT_VERSION_STRING);
  EXPECT_TRUE(devtensor::is_library_compatible());
  EXPECT_STREQ(devtensor::device_type_name(DT_DEVICE_WEBGPU), "WebGPU");
  EXPECT_STREQ(devtensor::device_type_name(DT_DEVICE_CPU), "CPU");
  EXPECT_STREQ(devtensor::device_type_name(DT_DEVICE_CUDA), "CUDA");
  EXPECT_STREQ(devtensor::device_type_name(DtDeviceType(99)), "unknown");
  EXPECT_STREQ(devtensor::element_type_name(DT_BFLOAT16), "bfloat16");
  EXPECT_EQ(devtensor::element_size(DT_FLOAT16), 2u);
  EXPECT_STREQ(devtensor::error_code_name(DT_OUT_OF_RANGE), "DT_OUT_OF_RANGE");
  static_assert(devtensor::element_type_of<float>() == DT_FLOAT);
  static_assert(devtensor::element_type_of<const int64_t>() == DT_INT64);
  static_assert(devtensor::element_type_of<uint16_t>() == DT_UINT16);
  static_assert(devtensor::element_type_of<Float16>() == DT_FLOAT16);
  static_assert(devtensor::element_type_of<BFloat16>() == DT_BFLOAT16);
  static_assert(devtensor::element_type_of<bool>() == DT_BOOL);
  static_assert(devtensor::element_type_of<std::string>() == DtElementType(0));
}

TEST(CppApi, ProvidersSayTheirLibraryVersionAndLoadErrors) {
  Env env;
  const std::vector<DtProviderInfo> providers = env.providers();
  ASSERT_EQ(providers.size(), env.provider_count());
  bool webgpu = false, cuda = false;
  for (size_t i = 0; i < providers.size(); ++i) {
    const DtProviderInfo& p = providers[i];
    EXPECT_STREQ(p.registration_name, env.provider_info(i).registration_name);
    EXPECT_STREQ(p.version, DT_VERSION_STRING) << p.registration_name;
    if (std::string(p.registration_name) == "cpu") {
      EXPECT_STREQ(p.library_path, "");
    }
    if (p.device_type == DT_DEVICE_WEBGPU) {
      webgpu = true;
      EXPECT_NE(std::string(p.library_path).find("devtensor_webgpu"), std::string::npos);
    }
    if (p.device_type == DT_DEVICE_CUDA) {
      cuda = true;
      EXPECT_NE(std::string(p.library_path).find("devtensor_cuda"), std::string::npos);
    }
  }
  // A provider library that ships with devtensor is either loaded or in the load errors, by name.
  const std::string errors = env.provider_load_errors();
  if (webgpu) {
    EXPECT_EQ(errors.find("devtensor_webgpu"), std::string::npos) << errors;
  } else {
    EXPECT_NE(errors.find("webgpu"), std::string::npos) << errors;
  }
  if (cuda) {
    EXPECT_EQ(errors.find("devtensor_cuda"), std::string::npos) << errors;
  } else {
    EXPECT_NE(errors.find("cuda"), std::string::npos) << errors;
  }
}

TEST(CppApi, ErrorsCarryTheCodeAndTheMessage) {
  Env env;
  try {
    env.device(DT_DEVICE_METAL);
    FAIL() << "no Metal device here";
  } catch (const devtensor::Error& e) {
    EXPECT_EQ(e.code(), DT_NOT_FOUND);
    EXPECT_EQ(std::string(e.what()), "DT_NOT_FOUND: " + e.message());
    EXPECT_NE(e.message().find("Metal"), std::string::npos) << e.message();
  }
}

// ---- On each device -----------------------------------------------------------------------------

class CppApiOnDevice : public ::testing::TestWithParam<DtDeviceType> {
 protected:
  void SetUp() override {
    const DtDevice* found = nullptr;
    DtStatus* status = DtGetDevice(env.get(), GetParam(), 0, &found);
    if (status != nullptr) {
      const std::string why = DtGetErrorMessage(status);
      DtReleaseStatus(status);
      GTEST_SKIP() << "no " << DtGetDeviceTypeName(GetParam()) << " device on this machine: " << why;
    }
    device = env.device(GetParam());
    cpu = env.device(DT_DEVICE_CPU);
    device.error_flags();  // clears what an earlier test left
  }

  // A uint8 device tensor holding `bytes`, set with create and copy.
  Tensor Upload(const std::vector<uint8_t>& bytes) {
    Tensor tensor = Tensor::create(env, device, DT_UINT8, {int64_t(bytes.size())});
    std::vector<uint8_t> copy = bytes;
    Tensor host = Tensor::wrap(env, cpu, copy.data(), copy.size(), 0, DT_UINT8, {int64_t(copy.size())});
    env.copy(host, tensor);
    return tensor;
  }
  // The bytes of a contiguous tensor, read with wrap and copy.
  std::vector<uint8_t> Download(const Tensor& tensor) {
    std::vector<uint8_t> bytes(tensor.element_count() * tensor.element_size());
    Tensor host = Tensor::wrap(env, cpu, bytes.data(), bytes.size(), 0, tensor.type(), tensor.shape());
    env.copy(tensor, host);
    return bytes;
  }

  // A device arena of `contents`, and the view of `placement` of `type` in it.
  struct Arena {
    Tensor bytes, view;
    Placement placement;
    std::vector<uint8_t> contents;
  };
  Arena MakeArena(DtElementType type, const Shape& shape, bool random_contents) {
    Placement p = StridedPlacement(random, shape, DtGetElementSize(type));
    p.tail += (4 - p.BufferBytes() % 4) % 4;  // whole words: the simplest copy path
    Arena a{Tensor(), Tensor(), p,
            random_contents ? RandomData(random, type, p.BufferBytes()) : Sentinels(p.BufferBytes())};
    a.bytes = Upload(a.contents);
    a.view = a.bytes.view(p.parent_offset, type, p.parent);
    for (size_t axis = 0; axis < shape.size(); ++axis) a.view = a.view.slice(axis, p.start[axis], p.shape[axis]);
    return a;
  }
  // The view's elements, row-major, from the arena's contents.
  static std::vector<uint8_t> Elements(const Arena& a) {
    std::vector<uint8_t> elements;
    for (size_t offset : a.placement.ByteOffsets()) {
      elements.insert(elements.end(), a.contents.begin() + offset,
                      a.contents.begin() + offset + a.placement.element_size);
    }
    return elements;
  }
  // The arena's contents with the view's elements replaced by `elements` (row-major).
  static std::vector<uint8_t> With(const Arena& a, const std::vector<uint8_t>& elements) {
    std::vector<uint8_t> expected = a.contents;
    const std::vector<size_t> offsets = a.placement.ByteOffsets();
    for (size_t k = 0; k < offsets.size(); ++k) {
      std::memcpy(&expected[offsets[k]], &elements[k * a.placement.element_size], a.placement.element_size);
    }
    return expected;
  }

  // Random elements of host type T through from_host (the template's type, and the explicit
  // one), to_host into a vector, and to_host into a span with sentinels around it.
  template <typename T>
  void RoundTrip(const Shape& shape) {
    constexpr DtElementType type = devtensor::element_type_of<T>();
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape));
    const size_t count = size_t(Product(shape));
    const std::vector<uint8_t> bytes = RandomData(random, type, count * sizeof(T));
    std::vector<T> values(count);
    if (count) std::memcpy(static_cast<void*>(values.data()), bytes.data(), bytes.size());

    const Tensor typed = Tensor::from_host(env, device, shape, values);
    EXPECT_EQ(typed.type(), type);
    EXPECT_EQ(typed.shape(), shape);
    EXPECT_EQ(typed.device(), device);
    EXPECT_TRUE(SameBytes(Download(typed), bytes));
    const Tensor explicit_type = Tensor::from_host(env, device, type, shape, std::span<const T>(values));
    EXPECT_TRUE(SameBytes(Download(explicit_type), bytes));

    const std::vector<T> back = typed.to_host<T>(env);
    ASSERT_EQ(back.size(), count);
    EXPECT_TRUE(count == 0 || std::memcmp(back.data(), bytes.data(), bytes.size()) == 0);

    constexpr size_t kPad = 3;
    std::vector<T> guarded(count + 2 * kPad);
    std::memset(static_cast<void*>(guarded.data()), kSentinel, guarded.size() * sizeof(T));
    typed.to_host(env, std::span<T>(guarded).subspan(kPad, count));
    std::vector<uint8_t> expected = Sentinels(guarded.size() * sizeof(T));
    std::copy(bytes.begin(), bytes.end(), expected.begin() + kPad * sizeof(T));
    std::vector<uint8_t> got(guarded.size() * sizeof(T));
    std::memcpy(got.data(), static_cast<const void*>(guarded.data()), got.size());
    EXPECT_TRUE(SameBytes(got, expected));
  }

  Shape RandomShape(size_t min_rank, size_t max_rank, int64_t max_dimension = 4) {
    Shape shape(random.Between(min_rank, max_rank));
    for (int64_t& d : shape) d = random.Between(1, max_dimension);
    return shape;
  }
  // A stream half of the time (nullptr otherwise); Finish waits for it.
  const Stream* MaybeStream() {
    if (random.Between(0, 1) == 0) return nullptr;
    stream = env.create_stream(device);
    return &stream;
  }
  void Finish() {
    if (stream) stream.synchronize();
    stream = Stream();
  }

  Random random;
  Env env;
  Device device, cpu;
  Stream stream;
};

std::string DeviceName(const ::testing::TestParamInfo<DtDeviceType>& info) {
  return DtGetDeviceTypeName(info.param);
}
// The devices of the device suites (device_suite/device_cases.h).
std::vector<DtDeviceType> DeviceTypes() {
  std::vector<DtDeviceType> types;
  for (const DeviceCase& c : kDeviceCases) types.push_back(c.type);
  return types;
}
INSTANTIATE_TEST_SUITE_P(Devices, CppApiOnDevice, ::testing::ValuesIn(DeviceTypes()), DeviceName);

// The name devtensor.h gives each device type of the device suites.
const char* TypeNameOf(DtDeviceType type) {
  switch (type) {
    case DT_DEVICE_CPU: return "CPU";
    case DT_DEVICE_WEBGPU: return "WebGPU";
    case DT_DEVICE_CUDA: return "CUDA";
    default: return "a device type this test does not know";
  }
}

TEST_P(CppApiOnDevice, DeviceFacts) {
  const DtDeviceInfo info = device.info();
  EXPECT_STREQ(device.type_name(), TypeNameOf(GetParam()));
  EXPECT_EQ(device.type(), GetParam());
  EXPECT_EQ(device.name(), info.name);
  EXPECT_EQ(device.runs_on_cpu(), info.runs_on_cpu != 0);
  EXPECT_EQ(device.error_flags(), 0u);
  if (GetParam() == DT_DEVICE_WEBGPU) {
    for (const char* name : {"WGPUInstance", "WGPUAdapter", "WGPUDevice", "WGPUQueue"}) {
      EXPECT_NE(device.native_handle(name), nullptr) << name;
    }
  }
  if (GetParam() == DT_DEVICE_CUDA) {  // the primary context, and the ordinal as a CUdevice
    EXPECT_NE(device.native_handle("CUcontext"), nullptr);
    EXPECT_EQ(device.native_handle("CUdevice"), reinterpret_cast<void*>(intptr_t(device.id())));
  }
  try {
    device.native_handle("NoSuchHandle");
    FAIL() << "a handle no provider knows";
  } catch (const devtensor::Error& e) {
    EXPECT_EQ(e.code(), DT_NOT_FOUND) << e.what();
  }
}

// ---- Uploads and downloads

TEST_P(CppApiOnDevice, FromHostAndToHostRoundTripEveryType) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 3; ++trial) {
    const Shape shape = trial == 0 ? Shape{} : RandomShape(1, 4);
    RoundTrip<float>(shape);
    RoundTrip<double>(shape);
    RoundTrip<int8_t>(shape);
    RoundTrip<uint8_t>(shape);
    RoundTrip<int16_t>(shape);
    RoundTrip<uint16_t>(shape);
    RoundTrip<int32_t>(shape);
    RoundTrip<uint32_t>(shape);
    RoundTrip<int64_t>(shape);
    RoundTrip<uint64_t>(shape);
    RoundTrip<Float16>(shape);
    RoundTrip<BFloat16>(shape);
  }
  // bool: a span of bools (std::vector<bool> has no contiguous storage).
  const bool flags[] = {true, false, false, true, true};
  const Tensor t = Tensor::from_host(env, device, {5}, std::span<const bool>(flags));
  EXPECT_EQ(t.type(), DT_BOOL);
  EXPECT_EQ(t.to_host<uint8_t>(env), (std::vector<uint8_t>{1, 0, 0, 1, 1}));
  // Braces, a rank-0 scalar, and an empty tensor.
  EXPECT_EQ(Tensor::from_host<int32_t>(env, device, {}, {-7}).to_host<int32_t>(env), std::vector<int32_t>{-7});
  EXPECT_EQ(Tensor::from_host(env, device, DT_FLOAT16, {2}, {Float16{0x3C00}, Float16{0xC000}})
                .to_host<uint16_t>(env),
            (std::vector<uint16_t>{0x3C00, 0xC000}));
  EXPECT_TRUE(Tensor::from_host(env, device, {0, 3}, std::vector<float>{}).to_host<float>(env).empty());
}

TEST_P(CppApiOnDevice, ToHostOfAStridedViewGivesItsElementsInRowMajorOrder) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    const DtElementType type = RandomType(random);
    const Shape shape = RandomShape(1, 4);
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape));
    const Arena a = MakeArena(type, shape, /*random_contents=*/true);
    std::vector<uint8_t> got(a.view.element_count() * a.view.element_size());
    a.view.to_host_bytes(env, got.data(), got.size());
    EXPECT_TRUE(SameBytes(got, Elements(a)));
    if (type == DT_INT32) {
      std::vector<int32_t> ints = a.view.to_host<int32_t>(env);
      EXPECT_EQ(std::memcmp(ints.data(), got.data(), got.size()), 0);
    }
  }
}

// Expects `call` to throw devtensor::Error with `code` and a message containing every part.
template <typename Call>
void ExpectError(Call call, DtErrorCode code, std::initializer_list<const char*> parts) {
  try {
    call();
    ADD_FAILURE() << "no error";
  } catch (const devtensor::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const char* part : parts) {
      EXPECT_NE(e.message().find(part), std::string::npos) << "\"" << e.message() << "\" lacks \"" << part << "\"";
    }
  }
}

TEST_P(CppApiOnDevice, UploadsAndDownloadsCheckElementSizeAndCount) {
  const std::vector<float> six(6, 1.0f);
  ExpectError([&] { Tensor::from_host(env, device, {2, 4}, six); }, DT_INVALID_ARGUMENT,
              {"from_host", "6 host elements", "[2, 4]", "8 elements"});
  ExpectError([&] { Tensor::from_host(env, device, DT_FLOAT16, {6}, six); }, DT_INVALID_ARGUMENT,
              {"from_host", "float16 (2 bytes)", "4 bytes"});
  ExpectError([&] { Tensor::from_host_bytes(env, device, DT_INT32, {3}, six.data(), 8); },
              DT_INVALID_ARGUMENT, {"from_host", "8 host bytes", "int32", "[3]", "12 bytes"});

  const Tensor halves = Tensor::from_host(env, device, DT_FLOAT16, {2, 3}, std::vector<uint16_t>(6, 0x3C00));
  ExpectError([&] { halves.to_host<float>(env); }, DT_INVALID_ARGUMENT, {"to_host", "float16 (2 bytes)", "4 bytes"});
  std::vector<uint16_t> small(5, 0xA5A5);
  ExpectError([&] { halves.to_host(env, small); }, DT_INVALID_ARGUMENT,
              {"to_host", "5 host elements", "[2, 3]", "6 elements"});
  EXPECT_EQ(small, std::vector<uint16_t>(5, 0xA5A5)) << "a refused download writes nothing";
  ExpectError([&] { halves.to_host_bytes(env, small.data(), 10); }, DT_INVALID_ARGUMENT,
              {"to_host", "10 host bytes", "12 bytes"});
}

// ---- Fill

bool IsFloatType(DtElementType type) {
  return type == DT_FLOAT || type == DT_DOUBLE || type == DT_FLOAT16 || type == DT_BFLOAT16;
}

// The element bytes of an integer type holding `value` (which fits it).
std::vector<uint8_t> IntegerBytes(DtElementType type, uint64_t value) {
  std::vector<uint8_t> bytes(DtGetElementSize(type));
  std::memcpy(bytes.data(), &value, bytes.size());  // little-endian host: the low bytes
  return bytes;
}

// What Fill writes for a float `value`, as Cast converts: by the definitions, independently.
std::vector<uint8_t> FilledBytes(DtElementType type, float value) {
  static const NearestEven half(kHalf), brain(kBrain);
  std::vector<uint8_t> bytes(DtGetElementSize(type));
  auto put = [&](auto v) { std::memcpy(bytes.data(), &v, sizeof v); };
  switch (type) {
    case DT_FLOAT: put(value); break;
    case DT_DOUBLE: put(double(value)); break;
    case DT_FLOAT16: put(half(value)); break;
    case DT_BFLOAT16: put(brain(value)); break;
    case DT_BOOL: put(uint8_t(value != 0)); break;
    default: {
      // Truncation toward zero, then saturation to the type's range.
      const double t = std::trunc(double(value));
      const bool is_signed = type == DT_INT8 || type == DT_INT16 || type == DT_INT32 || type == DT_INT64;
      const int bits = int(bytes.size() * 8) - (is_signed ? 1 : 0);
      const double above = std::ldexp(1.0, bits), lowest = is_signed ? -above : 0.0;
      uint64_t stored;
      if (t >= above) stored = is_signed ? (uint64_t(1) << bits) - 1 : ~uint64_t(0) >> (64 - bits);
      else if (t <= lowest) stored = is_signed ? uint64_t(int64_t(lowest)) : 0;
      else stored = is_signed ? uint64_t(int64_t(t)) : uint64_t(t);
      bytes = IntegerBytes(type, stored);
    }
  }
  return bytes;
}

// What the Fill helper writes for an integer `value` that fits `type`: the value itself on
// integer types, the value through float on the others.
std::vector<uint8_t> IntegerFilledBytes(DtElementType type, int64_t value) {
  if (IsFloatType(type) || type == DT_BOOL) return FilledBytes(type, float(value));
  return IntegerBytes(type, uint64_t(value));
}

std::vector<uint8_t> Repeat(const std::vector<uint8_t>& element, size_t count) {
  std::vector<uint8_t> all;
  for (size_t i = 0; i < count; ++i) all.insert(all.end(), element.begin(), element.end());
  return all;
}

// A float to fill `type` with: in range, fractional, beyond the range, tiny or huge.
float RandomFillValue(Random& random, DtElementType type) {
  const float sign = random.Between(0, 1) ? -1.0f : 1.0f;
  switch (random.Between(0, 3)) {
    case 0: return sign * float(random.Between(0, 100));
    case 1: return sign * (float(random.Between(0, 100)) + 0.75f);
    case 2: return sign * std::ldexp(float(random.Between(1, 1 << 23)), int(random.Between(-40, 20)));
    default: return IsFloatType(type) ? sign * std::ldexp(1.0f, int(random.Between(-140, 127)))
                                      : sign * std::ldexp(1.0f, int(random.Between(7, 70)));
  }
}

TEST_P(CppApiOnDevice, FillWithAFloatConvertsAsCast) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    for (int trial = 0; trial < 3; ++trial) {
      const float value = RandomFillValue(random, type);
      const Shape shape = RandomShape(1, 3);
      SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape) + " value " + std::to_string(value));
      const Arena a = MakeArena(type, shape, /*random_contents=*/false);
      const bool as_double = random.Between(0, 1) == 1;
      if (as_double) env.fill(a.view, double(value), MaybeStream());
      else env.fill(a.view, value, MaybeStream());
      Finish();
      EXPECT_TRUE(SameBytes(Download(a.bytes), With(a, Repeat(FilledBytes(type, value), a.view.element_count()))));
    }
  }
}

// An integer that fits `type` and that the Fill helper writes exactly: any one on int32 and int64
// (beyond 2^24 half the time), a float's integers on the others.
int64_t RandomFillInteger(Random& random, DtElementType type) {
  if (type == DT_BOOL) return random.Between(0, 2);
  if (IsFloatType(type)) return random.Between(-(1 << 20), 1 << 20);
  const auto [lowest, highest] = devtensor::detail::IntegerRange(type);
  if (type == DT_INT32 || type == DT_INT64) {
    return random.Between(0, 1) ? random.Between(-(1 << 24), 1 << 24) : random.Between(lowest, highest);
  }
  if (type == DT_UINT32 || type == DT_UINT64) {
    return random.Between(0, 1 << 24) << random.Between(0, type == DT_UINT32 ? 7 : 38);
  }
  return random.Between(lowest, highest);
}

TEST_P(CppApiOnDevice, FillWithAnIntegerWritesItExactly) {
  SCOPED_TRACE(random.trace());
  for (DtElementType type : kAllTypes) {
    std::vector<int64_t> values = {0, RandomFillInteger(random, type), RandomFillInteger(random, type)};
    if (type == DT_INT64) values.insert(values.end(), {INT64_MAX, INT64_MIN, INT64_MAX - 1, (int64_t(1) << 24) + 1});
    if (type == DT_INT32) values.insert(values.end(), {INT32_MAX, INT32_MIN, (1 << 24) + 1});
    for (int64_t value : values) {
      const Shape shape = RandomShape(1, 3);
      SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape) + " value " + std::to_string(value));
      const Arena a = MakeArena(type, shape, /*random_contents=*/false);
      const bool as_int32 = value >= INT32_MIN && value <= INT32_MAX && random.Between(0, 1) == 1;
      if (as_int32) env.fill(a.view, int32_t(value), MaybeStream());
      else env.fill(a.view, value, MaybeStream());
      Finish();
      const std::vector<uint8_t> element = IntegerFilledBytes(type, value);
      EXPECT_TRUE(SameBytes(Download(a.bytes), With(a, Repeat(element, a.view.element_count()))));
    }
  }
}

TEST_P(CppApiOnDevice, FillRefusesAnIntegerItCannotWriteAndWritesNothing) {
  SCOPED_TRACE(random.trace());
  struct Refused {
    DtElementType type;
    int64_t value;
    const char* says;
  };
  const Refused refused[] = {
      {DT_INT8, 300, "does not fit int8"},
      {DT_UINT8, -1, "does not fit uint8"},
      {DT_INT32, int64_t(1) << 40, "does not fit int32"},
      {DT_UINT32, (int64_t(1) << 24) + 1, "is not a float"},
      {DT_UINT64, (int64_t(1) << 40) + 1, "is not a float"},
      {DT_UINT64, -5, "does not fit uint64"},
  };
  for (const Refused& r : refused) {
    SCOPED_TRACE(std::string(DtGetElementTypeName(r.type)) + " value " + std::to_string(r.value));
    const Arena a = MakeArena(r.type, RandomShape(1, 2), /*random_contents=*/false);
    ExpectError([&] { env.fill(a.view, r.value); }, DT_INVALID_ARGUMENT, {"fill", r.says});
    EXPECT_TRUE(SameBytes(Download(a.bytes), a.contents));
  }
  // Unsigned values beyond int64: a float's integers on uint64, nothing else.
  const Arena a = MakeArena(DT_UINT64, {3}, /*random_contents=*/false);
  const uint64_t big = (uint64_t(1) << 63) + (uint64_t(1) << 40);
  env.fill(a.view, big);
  EXPECT_TRUE(SameBytes(Download(a.bytes), With(a, Repeat(IntegerBytes(DT_UINT64, big), 3))));
  ExpectError([&] { env.fill(a.view, ~uint64_t(0)); }, DT_INVALID_ARGUMENT, {"fill", "is not a float"});
  const Arena b = MakeArena(DT_INT64, {3}, /*random_contents=*/false);
  ExpectError([&] { env.fill(b.view, big); }, DT_INVALID_ARGUMENT, {"fill", "does not fit int64"});
  EXPECT_TRUE(SameBytes(Download(b.bytes), b.contents));
}

// ---- The decode ops

TEST_P(CppApiOnDevice, UpdateAttentionMaskSetsOnesUpToTheLength) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    const DtElementType type = random.Between(0, 1) ? DT_INT32 : DT_INT64;
    const Shape shape = {random.Between(1, 3), random.Between(1, 12)};
    const int64_t length = random.Between(-3, shape[1] + 3);
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape) + " length " + std::to_string(length));
    const Arena mask = MakeArena(type, shape, /*random_contents=*/true);
    const Tensor total = Tensor::from_host<int32_t>(env, device, {}, {int32_t(length)});
    env.update_attention_mask(mask.view, total, MaybeStream());
    Finish();
    std::vector<uint8_t> expected;
    for (int64_t b = 0; b < shape[0]; ++b) {
      for (int64_t j = 0; j < shape[1]; ++j) {
        const std::vector<uint8_t> element = IntegerBytes(type, j < length ? 1 : 0);
        expected.insert(expected.end(), element.begin(), element.end());
      }
    }
    EXPECT_TRUE(SameBytes(Download(mask.bytes), With(mask, expected)));
  }
}

TEST_P(CppApiOnDevice, UpdatePositionIdsAddsTheIncrementWrapping) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    const DtElementType type = random.Between(0, 1) ? DT_INT32 : DT_INT64;
    const Shape shape = RandomShape(1, 3);
    const bool default_increment = trial % 3 == 0;
    const int64_t increment = default_increment ? 1
                              : type == DT_INT32 ? random.Between(INT32_MIN, INT32_MAX)
                                                 : int64_t(random());
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " " + Text(shape) + " += " + std::to_string(increment));
    const Arena ids = MakeArena(type, shape, /*random_contents=*/true);
    if (default_increment) env.update_position_ids(ids.view);
    else env.update_position_ids(ids.view, increment, MaybeStream());
    Finish();
    std::vector<uint8_t> expected = Elements(ids);
    const size_t size = DtGetElementSize(type);
    for (size_t at = 0; at < expected.size(); at += size) {
      uint64_t value = 0;
      std::memcpy(&value, &expected[at], size);
      value += uint64_t(increment);  // the low bytes wrap as int32 or int64 arithmetic does
      std::memcpy(&expected[at], &value, size);
    }
    EXPECT_TRUE(SameBytes(Download(ids.bytes), With(ids, expected)));
  }
}

// cache[:, :, position:position + new_len, :] = new_kv, row-major element bytes.
std::vector<uint8_t> AppendReference(std::vector<uint8_t> cache, const Shape& cache_shape,
                                     const std::vector<uint8_t>& fresh, int64_t new_len,
                                     int64_t position, size_t element_size) {
  const int64_t rows = cache_shape[0] * cache_shape[1], max_len = cache_shape[2], dim = cache_shape[3];
  const size_t row_bytes = size_t(dim) * element_size;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < new_len; ++t) {
      std::memcpy(&cache[(size_t(r * max_len + position + t)) * row_bytes],
                  &fresh[size_t(r * new_len + t) * row_bytes], row_bytes);
    }
  }
  return cache;
}

TEST_P(CppApiOnDevice, KvCacheAppendWritesAtThePositionTheTensorHolds) {
  SCOPED_TRACE(random.trace());
  for (int trial = 0; trial < 8; ++trial) {
    const DtElementType type = RandomType(random);
    const int64_t batch = random.Between(1, 2), heads = random.Between(1, 3);
    const int64_t max_len = random.Between(1, 9), dim = random.Between(1, 6);
    const int64_t new_len = random.Between(1, max_len);
    const int64_t position = random.Between(0, max_len - new_len);
    const Shape cache_shape = {batch, heads, max_len, dim}, fresh_shape = {batch, heads, new_len, dim};
    SCOPED_TRACE(std::string(DtGetElementTypeName(type)) + " cache " + Text(cache_shape) + " new_len " +
                 std::to_string(new_len) + " at " + std::to_string(position));
    const Arena cache = MakeArena(type, cache_shape, /*random_contents=*/true);
    const Arena fresh = MakeArena(type, fresh_shape, /*random_contents=*/true);
    const Tensor at = Tensor::from_host<int32_t>(env, device, {}, {int32_t(position)});
    env.kv_cache_append(cache.view, fresh.view, at, MaybeStream());
    Finish();
    const std::vector<uint8_t> expected = AppendReference(
        Elements(cache), cache_shape, Elements(fresh), new_len, position, DtGetElementSize(type));
    EXPECT_TRUE(SameBytes(Download(cache.bytes), With(cache, expected)));
    EXPECT_TRUE(SameBytes(Download(fresh.bytes), fresh.contents)) << "the input is only read";
    EXPECT_EQ(device.error_flags(), 0u);
  }
}

TEST_P(CppApiOnDevice, KvCacheAppendOutOfRangeLeavesTheCache) {
  SCOPED_TRACE(random.trace());
  const Arena cache = MakeArena(DT_FLOAT16, {1, 2, 4, 8}, /*random_contents=*/true);
  const Tensor fresh = Tensor::from_host(env, device, DT_FLOAT16, {1, 2, 2, 8}, std::vector<uint16_t>(32, 0x3C00));
  const Tensor at = Tensor::from_host<int32_t>(env, device, {}, {3});
  // A device whose stream work runs synchronously checks the position on the host and fails the
  // call; one with asynchronous streams cannot, and flags it instead (devtensor.h).
  if (device.info().has_streams == 0) {
    ExpectError([&] { env.kv_cache_append(cache.view, fresh, at); }, DT_OUT_OF_RANGE, {"KvCacheAppend"});
    EXPECT_EQ(device.error_flags(), 0u);
  } else {
    env.kv_cache_append(cache.view, fresh, at);  // the device skips the write and says so
    EXPECT_EQ(device.error_flags(), DT_DEVICE_ERROR_KV_POSITION);
    EXPECT_EQ(device.error_flags(), 0u) << "reading the flags clears them";
  }
  EXPECT_TRUE(SameBytes(Download(cache.bytes), cache.contents));
}

// A decode step of the typed helpers, recorded once and replayed: each replay appends at the
// length the device holds and advances it, as issuing the step again would.
TEST_P(CppApiOnDevice, TheDecodeHelpersReplayAsAGraph) {
  SCOPED_TRACE(random.trace());
  const int64_t heads = 2, max_len = 8, dim = 4, start = 2, replays = 4;
  const Arena cache = MakeArena(DT_FLOAT16, {1, heads, max_len, dim}, /*random_contents=*/true);
  const Arena mask = MakeArena(DT_INT64, {1, max_len}, /*random_contents=*/true);
  const std::vector<uint8_t> fresh_bytes = RandomData(random, DT_FLOAT16, size_t(heads * dim * 2));
  const Tensor fresh = Tensor::from_host_bytes(env, device, DT_FLOAT16, {1, heads, 1, dim},
                                               fresh_bytes.data(), fresh_bytes.size());
  const Tensor length = Tensor::create(env, device, DT_INT32, {});
  const Tensor position_ids = Tensor::create(env, device, DT_INT64, {1, 1});
  const int64_t first_id = (int64_t(1) << 40) + 3;  // beyond a float: the two-op integer fill
  env.fill(length, start);
  env.fill(position_ids, first_id);

  Stream recording = env.create_stream(device);
  // Devices record exactly when their streams run asynchronously (the device suites' GraphSuite).
  if (device.info().has_streams == 0) {
    ExpectError([&] { devtensor::begin_capture(recording); }, DT_NOT_SUPPORTED, {});
    return;
  }
  devtensor::begin_capture(recording);
  env.kv_cache_append(cache.view, fresh, length, &recording);
  env.update_position_ids(length, 1, &recording);
  env.update_position_ids(position_ids, 1, &recording);
  env.update_attention_mask(mask.view, length, &recording);
  devtensor::Graph step = devtensor::end_capture(recording);
  EXPECT_TRUE(bool(step));
  for (int64_t i = 0; i < replays; ++i) step.replay(recording);
  recording.synchronize();

  std::vector<uint8_t> expected_cache = Elements(cache);
  for (int64_t i = 0; i < replays; ++i) {
    expected_cache = AppendReference(expected_cache, {1, heads, max_len, dim}, fresh_bytes, 1, start + i, 2);
  }
  std::vector<uint8_t> expected_mask;
  for (int64_t j = 0; j < max_len; ++j) {
    const std::vector<uint8_t> element = IntegerBytes(DT_INT64, j < start + replays ? 1 : 0);
    expected_mask.insert(expected_mask.end(), element.begin(), element.end());
  }
  EXPECT_TRUE(SameBytes(Download(cache.bytes), With(cache, expected_cache)));
  EXPECT_TRUE(SameBytes(Download(mask.bytes), With(mask, expected_mask)));
  EXPECT_EQ(length.to_host<int32_t>(env), std::vector<int32_t>{int32_t(start + replays)});
  EXPECT_EQ(position_ids.to_host<int64_t>(env), std::vector<int64_t>{first_id + replays});
  EXPECT_EQ(device.error_flags(), 0u);
}

// ---- Batches, ops from vectors, sizes

TEST_P(CppApiOnDevice, BatchedCopiesAndOpsTakeVectors) {
  SCOPED_TRACE(random.trace());
  std::vector<Tensor> sources, destinations;
  std::vector<std::vector<uint8_t>> data;
  for (int i = 0; i < 4; ++i) {
    const Shape shape = RandomShape(1, 3);
    data.push_back(RandomData(random, DT_UINT16, size_t(Product(shape)) * 2));
    sources.push_back(Tensor::from_host_bytes(env, device, DT_UINT16, shape, data.back().data(), data.back().size()));
    destinations.push_back(Tensor::create(env, device, DT_UINT16, shape));
  }
  std::vector<devtensor::CopyPair> pairs;
  for (size_t i = 0; i < sources.size(); ++i) pairs.push_back({&sources[i], &destinations[i]});
  env.copy(pairs, MaybeStream());
  Finish();
  for (size_t i = 0; i < sources.size(); ++i) EXPECT_TRUE(SameBytes(Download(destinations[i]), data[i]));

  const Tensor a = Tensor::from_host(env, device, {3}, std::vector<int32_t>{1, 2, 3});
  const Tensor b = Tensor::from_host(env, device, {3}, std::vector<int32_t>{10, 20, 30});
  const Tensor sum = Tensor::create(env, device, DT_INT32, {3});
  const std::vector<const Tensor*> inputs = {&a, &b}, outputs = {&sum};
  env.run("Add", inputs, outputs);
  EXPECT_EQ(sum.to_host<int32_t>(env), (std::vector<int32_t>{11, 22, 33}));

  const Tensor matrix = Tensor::create(env, device, DT_FLOAT, {3, 5});
  const Tensor column = matrix.slice(1, 2, 1);
  EXPECT_EQ(column.rank(), 2u);
  EXPECT_EQ(column.element_size(), 4u);
  EXPECT_EQ(column.element_count(), 3u);
  EXPECT_EQ(column.extent_bytes(), (2 * 5 + 1) * 4u);
  EXPECT_FALSE(column.contiguous());
}

TEST(CppApi, AttributesHoldWhatTheyAreGiven) {
  const std::vector<int64_t> ints = {1, -2};
  const std::vector<float> floats = {0.5f};
  const DtAttribute i = devtensor::IntsAttribute("axes", ints);
  EXPECT_EQ(i.type, DT_ATTR_INTS);
  EXPECT_EQ(i.ints, ints.data());
  EXPECT_EQ(i.count, 2u);
  const DtAttribute f = devtensor::FloatsAttribute("scales", floats);
  EXPECT_EQ(f.type, DT_ATTR_FLOATS);
  EXPECT_EQ(f.floats, floats.data());
  EXPECT_EQ(f.count, 1u);
}

}  // namespace
