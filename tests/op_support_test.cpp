// Which ops a device runs is known without running them (DtGetOpSupport), and it is the truth:
// on every device of the device suites (device_suite/device_cases.h: CPU, WebGPU, CUDA) that this
// machine has, and every device type an env serves is one of them; an op with a principal element type the device supports runs (no
// DT_NOT_SUPPORTED), and one it does not support is refused before anything is written. Provider
// libraries receive the op's identifier and its parsed, defaulted parameters, and only calls
// their op support table lists.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "devtensor/devtensor.hpp"
#include "devtensor/devtensor_provider.h"
#include "device_suite/device_cases.h"
#include "ext_device.h"
#include "test_util.h"

extern "C" DtStatus* CallGetOpSupport(DtEnv* env, const DtDevice* device, const char* op_type,
                                      int type, int32_t* supported);

namespace {

using namespace devtensor_test;
using devtensor::Tensor;

constexpr const char* kOps[] = {"Cast", "Add", "Sub", "Mul", "Div", "Where", "ScatterND",
                                "ArgMax", "Expand", "Fill", "UpdateAttentionMask",
                                "UpdatePositionIds", "KvCacheAppend"};
constexpr DtElementType kTypes[] = {DT_FLOAT, DT_UINT8, DT_INT8, DT_UINT16, DT_INT16,
                                    DT_INT32, DT_INT64, DT_BOOL, DT_FLOAT16, DT_DOUBLE,
                                    DT_UINT32, DT_UINT64, DT_BFLOAT16};

// The bytes of one element of `type` holding 1 (true for bool).
std::vector<uint8_t> OneOf(DtElementType type) {
  std::vector<uint8_t> bytes(DtGetElementSize(type), 0);
  auto put = [&](auto value) { std::memcpy(bytes.data(), &value, sizeof value); };
  switch (type) {
    case DT_FLOAT: put(1.0f); break;
    case DT_DOUBLE: put(1.0); break;
    case DT_FLOAT16: put(uint16_t{0x3c00}); break;
    case DT_BFLOAT16: put(uint16_t{0x3f80}); break;
    default: bytes[0] = 1; break;  // integers and bool, little-endian
  }
  return bytes;
}

// A tensor on `device` whose every element holds `element` (its bytes).
Tensor Filled(const devtensor::Env& env, devtensor::Device device, DtElementType type,
              const devtensor::Shape& shape, const std::vector<uint8_t>& element) {
  int64_t count = 1;
  for (int64_t n : shape) count *= n;
  std::vector<uint8_t> bytes;
  for (int64_t i = 0; i < count; ++i) bytes.insert(bytes.end(), element.begin(), element.end());
  Tensor t = Tensor::create(env, device, type, shape);
  Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), bytes.data(), bytes.size(), 0, type,
                             shape);
  env.copy(host, t);
  return t;
}

// The bytes of a tensor's elements, downloaded.
std::vector<uint8_t> BytesOf(const devtensor::Env& env, const Tensor& t) {
  std::vector<uint8_t> bytes(t.element_size() * t.element_count());
  Tensor host = Tensor::wrap(env, env.device(DT_DEVICE_CPU), bytes.data(), bytes.size(), 0,
                             t.type(), t.shape());
  env.copy(t, host);
  return bytes;
}

// A small valid call of `op` with principal type `type` on `device`, run: its inputs hold ones
// (no integer division by zero), its outputs sentinel bytes. Returns the outcome and whether the
// outputs still hold their sentinels.
struct SmallCall {
  Outcome outcome;
  bool outputs_untouched;
};
SmallCall RunSmallCall(const devtensor::Env& env, devtensor::Device device, const std::string& op,
                       DtElementType type) {
  std::vector<Tensor> in, out;
  std::vector<DtAttribute> attributes;
  auto ones = [&](DtElementType t, const devtensor::Shape& shape) {
    in.push_back(Filled(env, device, t, shape, OneOf(t)));
  };
  auto output = [&](DtElementType t, const devtensor::Shape& shape) {
    out.push_back(Filled(env, device, t, shape,
                         std::vector<uint8_t>(DtGetElementSize(t), kSentinel)));
  };
  auto attribute_int = [&](const char* name, int64_t value) {
    DtAttribute a{};
    a.name = name;
    a.type = DT_ATTR_INT;
    a.i = value;
    attributes.push_back(a);
  };
  if (op == "Cast") {
    ones(type, {4});
    output(DT_FLOAT, {4});
    attribute_int("to", DT_FLOAT);
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    ones(type, {4});
    ones(type, {4});
    output(type, {4});
  } else if (op == "Where") {
    ones(DT_BOOL, {4});
    ones(type, {4});
    ones(type, {4});
    output(type, {4});
  } else if (op == "ScatterND") {
    ones(type, {4});
    ones(DT_INT64, {1, 1});
    ones(type, {1});
    output(type, {4});
  } else if (op == "ArgMax") {
    ones(type, {4});
    output(DT_INT64, {1});
  } else if (op == "Expand") {
    ones(type, {1});
    in.push_back(Tensor::from_host<int64_t>(env, device, {1}, {4}));
    output(type, {4});
  } else if (op == "Fill") {
    output(type, {4});
    DtAttribute value{};
    value.name = "value";
    value.type = DT_ATTR_FLOAT;
    value.f = 1.5f;
    attributes.push_back(value);
  } else if (op == "UpdateAttentionMask") {
    ones(DT_INT32, {});
    output(type, {1, 4});
  } else if (op == "UpdatePositionIds") {
    output(type, {4});
  } else if (op == "KvCacheAppend") {
    ones(type, {1, 1, 1, 2});
    ones(DT_INT32, {});
    output(type, {1, 1, 4, 2});
  }
  std::vector<const DtValue*> inputs;
  std::vector<DtValue*> outputs;
  for (const Tensor& t : in) inputs.push_back(t.get());
  for (const Tensor& t : out) outputs.push_back(t.get());
  SmallCall call;
  call.outcome = Take(DtRunOp(env.get(), op.c_str(), inputs.data(), inputs.size(), outputs.data(),
                              outputs.size(), attributes.data(), attributes.size(), nullptr));
  call.outputs_untouched = true;
  for (const Tensor& t : out) {
    for (uint8_t byte : BytesOf(env, t)) call.outputs_untouched &= byte == kSentinel;
  }
  return call;
}

int32_t Supported(const devtensor::Env& env, devtensor::Device device, const char* op,
                  DtElementType type) {
  int32_t supported = -1;
  DT_EXPECT_OK(DtGetOpSupport(env.get(), device.get(), op, type, &supported));
  return supported;
}

// Every (op, type) pair on `device`: DtGetOpSupport's answer is what running the op does. A
// supported call runs; one the device has no kernel for is DT_NOT_SUPPORTED naming the type, one
// the op's definition refuses (what the CPU, which runs every definition, does not support) is
// DT_INVALID_ARGUMENT; a refused call writes nothing.
void ExpectSupportIsTheTruth(const devtensor::Env& env, devtensor::Device device) {
  const devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  int supported_pairs = 0;
  for (const char* op : kOps) {
    for (DtElementType type : kTypes) {
      SCOPED_TRACE(std::string(op) + " on " + DtGetElementTypeName(type));
      const int32_t supported = Supported(env, device, op, type);
      ASSERT_TRUE(supported == 0 || supported == 1) << supported;
      const SmallCall call = RunSmallCall(env, device, op, type);
      if (supported) {
        ++supported_pairs;
        EXPECT_EQ(call.outcome.code, DT_OK) << call.outcome.message;
        continue;
      }
      EXPECT_TRUE(call.outputs_untouched) << "a refused call wrote its output";
      if (Supported(env, cpu, op, type)) {
        EXPECT_EQ(call.outcome.code, DT_NOT_SUPPORTED) << call.outcome.message;
        EXPECT_NE(call.outcome.message.find(DtGetElementTypeName(type)), std::string::npos)
            << call.outcome.message;
      } else {
        EXPECT_EQ(call.outcome.code, DT_INVALID_ARGUMENT) << call.outcome.message;
      }
    }
  }
  EXPECT_GT(supported_pairs, 50);  // ops run on most types on every device
}

TEST(OpSupport, AnswersWithoutRunningWhatTheDefinitionsAllowOnCpu) {
  devtensor::Env env;
  devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  // What the op definitions allow: arithmetic and ArgMax not on bool, the decode ops' ids and
  // masks int32 or int64, Cast from anything, Where keyed by its data.
  EXPECT_EQ(Supported(env, cpu, "Add", DT_FLOAT), 1);
  EXPECT_EQ(Supported(env, cpu, "Div", DT_INT64), 1);
  EXPECT_EQ(Supported(env, cpu, "Add", DT_BOOL), 0);
  EXPECT_EQ(Supported(env, cpu, "ArgMax", DT_BOOL), 0);
  EXPECT_EQ(Supported(env, cpu, "Cast", DT_BOOL), 1);
  EXPECT_EQ(Supported(env, cpu, "Where", DT_DOUBLE), 1);
  EXPECT_EQ(Supported(env, cpu, "Fill", DT_BFLOAT16), 1);
  EXPECT_EQ(Supported(env, cpu, "UpdatePositionIds", DT_INT64), 1);
  EXPECT_EQ(Supported(env, cpu, "UpdatePositionIds", DT_FLOAT), 0);
  EXPECT_EQ(Supported(env, cpu, "UpdateAttentionMask", DT_INT32), 1);
  EXPECT_EQ(Supported(env, cpu, "UpdateAttentionMask", DT_FLOAT16), 0);
  EXPECT_EQ(Supported(env, cpu, "KvCacheAppend", DT_FLOAT16), 1);
  EXPECT_TRUE(env.supports(cpu, "Mul", DT_UINT8));
  EXPECT_FALSE(env.supports(cpu, "Mul", DT_BOOL));
}

TEST(OpSupport, WebGpuHasNoDoubleArithmetic) {
  devtensor::Env env;
  const DtDevice* device = nullptr;
  const Outcome found = Take(DtGetDevice(env.get(), DT_DEVICE_WEBGPU, 0, &device));
  if (found.code != DT_OK) GTEST_SKIP() << "no WebGPU device: " << found.message;
  devtensor::Device gpu(device);
  // WebGPU shaders have no 64-bit floats.
  EXPECT_EQ(Supported(env, gpu, "Add", DT_DOUBLE), 0);
  EXPECT_EQ(Supported(env, gpu, "Div", DT_DOUBLE), 0);
}

// The truth check on device 0 of each device type of the device suites; a type this machine lacks
// is skipped, saying why.
class OpSupportOnDevice : public ::testing::TestWithParam<DeviceCase> {};
INSTANTIATE_TEST_SUITE_P(Devices, OpSupportOnDevice, ::testing::ValuesIn(kDeviceCases),
                         DeviceCaseName);

TEST_P(OpSupportOnDevice, IsTheTruth) {
  devtensor::Env env;
  const DtDevice* found = nullptr;
  const Outcome got = Take(DtGetDevice(env.get(), GetParam().type, 0, &found));
  if (got.code != DT_OK) {
    GTEST_SKIP() << "no " << GetParam().name << " device on this machine: " << got.message;
  }
  devtensor::Device device(found);
  ReadErrorFlags(device.get());  // what an earlier test left
  // Every device runs a decode step's arithmetic and cache append.
  EXPECT_EQ(Supported(env, device, "Add", DT_FLOAT), 1);
  EXPECT_EQ(Supported(env, device, "KvCacheAppend", DT_FLOAT16), 1);
  ExpectSupportIsTheTruth(env, device);
  // Flags an out-of-range run may have raised are not this test's concern.
  ReadErrorFlags(device.get());
}

// The truth check covers every device present: each device type a fresh env serves (its built-in
// and internal providers) is one of the device suites' types.
TEST(OpSupport, EveryDeviceTypeAnEnvServesIsChecked) {
  devtensor::Env env;
  for (const DtProviderInfo& p : env.providers()) {
    if (p.device_count == 0) continue;
    bool listed = false;
    for (const DeviceCase& c : kDeviceCases) listed |= c.type == p.device_type;
    EXPECT_TRUE(listed) << "provider '" << p.registration_name << "' serves "
                        << DtGetDeviceTypeName(p.device_type) << ", which kDeviceCases lacks";
  }
}

TEST(OpSupport, RefusesBadArguments) {
  devtensor::Env env;
  devtensor::Device cpu = env.device(DT_DEVICE_CPU);
  int32_t supported = 7;
  DT_EXPECT_ERROR(DtGetOpSupport(env.get(), cpu.get(), "Frobnicate", DT_FLOAT, &supported),
                  DT_NOT_FOUND, "Frobnicate");
  DT_EXPECT_ERROR(DtGetOpSupport(env.get(), cpu.get(), "add", DT_FLOAT, &supported), DT_NOT_FOUND,
                  "'add'");
  EXPECT_EQ(supported, 7) << "a failed call must leave supported alone";
  DT_EXPECT_ERROR(DtGetOpSupport(nullptr, cpu.get(), "Add", DT_FLOAT, &supported),
                  DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtGetOpSupport(env.get(), nullptr, "Add", DT_FLOAT, &supported),
                  DT_INVALID_ARGUMENT, "device");
  DT_EXPECT_ERROR(DtGetOpSupport(env.get(), cpu.get(), nullptr, DT_FLOAT, &supported),
                  DT_INVALID_ARGUMENT, "op_type");
  DT_EXPECT_ERROR(DtGetOpSupport(env.get(), cpu.get(), "Add", DT_FLOAT, nullptr),
                  DT_INVALID_ARGUMENT, "supported");
  // Element types as a C caller may pass them (c_enum_callers.c): any int.
  for (int bad : {0, 14, 99, -1}) {
    const std::string number = std::to_string(bad);
    DT_EXPECT_ERROR(CallGetOpSupport(env.get(), cpu.get(), "Add", bad, &supported),
                    DT_INVALID_ARGUMENT, "element_type", number.c_str());
  }
  EXPECT_THROW(env.supports(cpu, "Frobnicate", DT_FLOAT), devtensor::Error);
}

// The test provider's one kernel, Fill on float and int32, through the provider ABI.
class ProviderOpCall : public ::testing::Test {
 protected:
  void SetUp() override {
    DT_ASSERT_OK(DtRegisterProviderLibrary(env.get(), "ext", kExtProvider.c_str()));
    const DtDevice* device = nullptr;
    DT_ASSERT_OK(DtGetDevice(env.get(), DT_DEVICE_EXT_DEV, 0, &device));
    ext = devtensor::Device(device);
    hooks = std::make_unique<ExtHooks>();
    last_op = reinterpret_cast<decltype(last_op)>(dlsym(hooks->library, "DtTestExtLastOp"));
    ASSERT_NE(last_op, nullptr);
  }

  devtensor::Env env;
  devtensor::Device ext;
  std::unique_ptr<ExtHooks> hooks;
  int64_t (*last_op)(int32_t*, DtOpParams*) = nullptr;
};

TEST_F(ProviderOpCall, GetsTheIdentifierAndParsedParameters) {
  Random random;
  SCOPED_TRACE(random.trace());
  const float value = static_cast<float>(random.Between(-1000, 1000)) + 0.75f;
  Tensor y = Tensor::create(env, ext, DT_INT32, {2, 3});
  DtAttribute attribute{};
  attribute.name = "value";
  attribute.type = DT_ATTR_FLOAT;
  attribute.f = value;
  env.run("Fill", {}, {&y}, {attribute});
  int32_t op = 0;
  DtOpParams params{};
  EXPECT_EQ(last_op(&op, &params), 1);
  EXPECT_EQ(op, DT_OP_FILL);
  EXPECT_EQ(params.struct_size, sizeof(DtOpParams));
  EXPECT_EQ(params.fill.value, value);
  // Converted by the host as Cast converts: truncated toward zero.
  const int32_t truncated = static_cast<int32_t>(value);
  uint32_t bits = 0;
  std::memcpy(&bits, &truncated, 4);
  EXPECT_EQ(params.fill.bits, bits);
  const std::vector<int32_t> filled = y.to_host<int32_t>(env);
  EXPECT_EQ(filled, std::vector<int32_t>(6, truncated));
}

TEST_F(ProviderOpCall, OnlyWhatTheTableListsReachesTheProvider) {
  EXPECT_TRUE(env.supports(ext, "Fill", DT_FLOAT));
  EXPECT_TRUE(env.supports(ext, "Fill", DT_INT32));
  EXPECT_FALSE(env.supports(ext, "Fill", DT_INT64));
  EXPECT_FALSE(env.supports(ext, "Add", DT_FLOAT));
  Tensor a = Tensor::create(env, ext, DT_FLOAT, {4});
  Tensor y = Tensor::create(env, ext, DT_INT64, {4});
  DtAttribute value{};
  value.name = "value";
  value.type = DT_ATTR_FLOAT;
  value.f = 2.0f;
  const DtValue* in[] = {a.get(), a.get()};
  DtValue* sum[] = {a.get()};
  DtValue* ids[] = {y.get()};
  DT_EXPECT_ERROR(DtRunOp(env.get(), "Add", in, 2, sum, 1, nullptr, 0, nullptr), DT_NOT_SUPPORTED,
                  "Add", "float", "no kernel");
  DT_EXPECT_ERROR(DtRunOp(env.get(), "Fill", nullptr, 0, ids, 1, &value, 1, nullptr),
                  DT_NOT_SUPPORTED, "Fill", "int64", "no kernel");
  int32_t op = 0;
  DtOpParams params{};
  EXPECT_EQ(last_op(&op, &params), 0) << "a call outside the table reached RunOp";
  // The check still comes first: a bad call is DT_INVALID_ARGUMENT whatever the table says.
  DT_EXPECT_ERROR(DtRunOp(env.get(), "Fill", nullptr, 0, ids, 1, nullptr, 0, nullptr),
                  DT_INVALID_ARGUMENT, "'value'");
}

// A factory of provider ABI 1.1 runs ops without declaring a table: the host cannot know, so
// every op counts as supported and reaches RunOp, which decides (and gets typed calls all the same).
TEST(OpSupport, AProviderOfAbi11DecidesForItself) {
  devtensor::Env env;
  DT_ASSERT_OK(DtRegisterProviderLibrary(env.get(), "ext_abi11", kAbi11ExtProvider.c_str()));
  const DtDevice* device = nullptr;
  DT_ASSERT_OK(DtGetDevice(env.get(), DT_DEVICE_EXT_DEV, 0, &device));
  devtensor::Device ext(device);
  ExtHooks hooks(kAbi11ExtProvider);
  auto last_op = reinterpret_cast<int64_t (*)(int32_t*, DtOpParams*)>(
      dlsym(hooks.library, "DtTestExtLastOp"));
  ASSERT_NE(last_op, nullptr);
  EXPECT_TRUE(env.supports(ext, "Add", DT_FLOAT));
  EXPECT_TRUE(env.supports(ext, "Fill", DT_INT64));
  EXPECT_FALSE(env.supports(ext, "Add", DT_BOOL)) << "the op's definition still refuses bool";
  Tensor a = Tensor::create(env, ext, DT_FLOAT, {4});
  const DtValue* in[] = {a.get(), a.get()};
  DtValue* sum[] = {a.get()};
  DT_EXPECT_ERROR(DtRunOp(env.get(), "Add", in, 2, sum, 1, nullptr, 0, nullptr), DT_NOT_SUPPORTED,
                  "no kernel for op");
  int32_t op = 0;
  DtOpParams params{};
  EXPECT_EQ(last_op(&op, &params), 1) << "the call did not reach RunOp";
  EXPECT_EQ(op, DT_OP_ADD);
  Tensor y = Tensor::create(env, ext, DT_INT64, {3});
  DtAttribute value{};
  value.name = "value";
  value.type = DT_ATTR_FLOAT;
  value.f = -2.5f;
  env.run("Fill", {}, {&y}, {value});
  EXPECT_EQ(y.to_host<int64_t>(env), std::vector<int64_t>(3, -2));
}

TEST(OpSupport, AProviderWithoutKernelsHasNone) {
  devtensor::Env env;
  DT_ASSERT_OK(DtRegisterProviderLibrary(env.get(), "ext_small", kSmallExtProvider.c_str()));
  const DtDevice* device = nullptr;
  DT_ASSERT_OK(DtGetDevice(env.get(), DT_DEVICE_EXT_DEV, 0, &device));
  devtensor::Device ext(device);
  for (const char* op : kOps) EXPECT_FALSE(env.supports(ext, op, DT_FLOAT)) << op;
  Tensor y = Tensor::create(env, ext, DT_FLOAT, {4});
  DtAttribute value{};
  value.name = "value";
  value.type = DT_ATTR_FLOAT;
  value.f = 2.0f;
  DtValue* out[] = {y.get()};
  DT_EXPECT_ERROR(DtRunOp(env.get(), "Fill", nullptr, 0, out, 1, &value, 1, nullptr),
                  DT_NOT_SUPPORTED, "Fill", "no op kernels");
}

}  // namespace
