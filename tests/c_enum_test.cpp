// Enum arguments and fields from C callers hold any int. The library reads each as the integer it
// is and refuses numbers that name nothing, with an error that quotes them; nothing is created.
// (Run under UndefinedBehaviorSanitizer, these calls used to load out-of-range enum values.)
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "devtensor/devtensor.h"
#include "test_util.h"

extern "C" {
size_t CallGetElementSize(int type);
const char* CallGetElementTypeName(int type);
const char* CallGetErrorCodeName(int code);
const char* CallGetDeviceTypeName(int type);
DtStatus* CallCreateTensor(DtEnv* env, const DtDevice* device, int type, const int64_t* shape,
                           size_t rank, DtValue** tensor);
DtStatus* CallCreateTensorWithData(DtEnv* env, const DtDevice* device, void* data,
                                   size_t data_bytes, int type, const int64_t* shape, size_t rank,
                                   DtValue** tensor);
DtStatus* CallCreateTensorView(const DtValue* base, int type, const int64_t* shape, size_t rank,
                               DtValue** view);
DtStatus* CallGetDevice(DtEnv* env, int type, int32_t id, const DtDevice** device);
DtStatus* CallGetDeviceCount(DtEnv* env, int type, int32_t* count);
DtStatus* CallRunOpWithAttributeType(DtEnv* env, const char* op_type, const DtValue* const* inputs,
                                     size_t num_inputs, DtValue* const* outputs,
                                     size_t num_outputs, const char* attribute, int attribute_type);
}

namespace {

using namespace devtensor_test;

// Numbers outside every enum of the API, and numbers between enumerators.
constexpr int kNotElementTypes[] = {0, 8, 14, 15, 17, 99, 1000, -1, -2147483647 - 1, 2147483647};

TEST(CEnums, ElementSizeAndNameOfNumbersThatAreNoTypeAreZeroAndUnknown) {
  for (int type : kNotElementTypes) {
    SCOPED_TRACE(type);
    EXPECT_EQ(CallGetElementSize(type), 0u);
    EXPECT_STREQ(CallGetElementTypeName(type), "unknown");
  }
  EXPECT_EQ(CallGetElementSize(DT_FLOAT16), 2u);
  EXPECT_STREQ(CallGetElementTypeName(DT_BFLOAT16), "bfloat16");
}

TEST(CEnums, ErrorCodeNameOfNumbersThatAreNoCodeIsUnknown) {
  for (int code : {9, 16, 1000, -1, 2147483647}) {
    SCOPED_TRACE(code);
    EXPECT_STREQ(CallGetErrorCodeName(code), "DT_UNKNOWN");
  }
  EXPECT_STREQ(CallGetErrorCodeName(DT_INTERNAL), "DT_INTERNAL");
  EXPECT_STREQ(CallGetErrorCodeName(DT_OK), "DT_OK");
}

TEST(CEnums, DeviceTypeNamesAreWordsAndUnknownForOtherNumbers) {
  const std::pair<int, const char*> named[] = {
      {DT_DEVICE_CPU, "CPU"},       {DT_DEVICE_CUDA, "CUDA"},   {DT_DEVICE_CUDA_HOST, "CUDAHost"},
      {DT_DEVICE_VULKAN, "Vulkan"}, {DT_DEVICE_METAL, "Metal"}, {DT_DEVICE_ROCM, "ROCm"},
      {DT_DEVICE_EXT_DEV, "ExtDev"}, {DT_DEVICE_WEBGPU, "WebGPU"}};
  for (const auto& [type, name] : named) EXPECT_STREQ(CallGetDeviceTypeName(type), name);
  for (int type : {0, 4, 9, 11, 16, 99, -1, 2147483647}) {
    SCOPED_TRACE(type);
    EXPECT_STREQ(CallGetDeviceTypeName(type), "unknown");
  }
}

class CEnumsOnCpu : public CpuEnvTest {};

TEST_F(CEnumsOnCpu, TensorsOfNumbersThatAreNoTypeAreRefusedQuotingTheNumber) {
  const DtDevice* cpu = nullptr;
  DT_ASSERT_OK(DtGetDevice(env_, DT_DEVICE_CPU, 0, &cpu));
  const int64_t shape[] = {2, 3};
  float data[6] = {1, 2, 3, 4, 5, 6};
  DtValue* base = nullptr;
  DT_ASSERT_OK(DtCreateTensorWithData(env_, cpu, data, sizeof data, 0, DT_FLOAT, shape, 2, &base));
  for (int type : kNotElementTypes) {
    SCOPED_TRACE(type);
    const std::string number = std::to_string(type);
    DtValue* tensor = nullptr;
    DT_EXPECT_ERROR(CallCreateTensor(env_, cpu, type, shape, 2, &tensor), DT_INVALID_ARGUMENT,
                    "type", number.c_str());
    DT_EXPECT_ERROR(CallCreateTensorWithData(env_, cpu, data, sizeof data, type, shape, 2, &tensor),
                    DT_INVALID_ARGUMENT, "type", number.c_str());
    DT_EXPECT_ERROR(CallCreateTensorView(base, type, shape, 1, &tensor), DT_INVALID_ARGUMENT,
                    "type", number.c_str());
    EXPECT_EQ(tensor, nullptr) << "an out-parameter was written on failure";
  }
  DtReleaseValue(base);
}

TEST_F(CEnumsOnCpu, DevicesOfNumbersNoProviderServesAreNotFoundQuotingTheNumber) {
  for (int type : {99, -1, 0, 16, 1000, 2147483647}) {
    SCOPED_TRACE(type);
    const DtDevice* device = nullptr;
    const std::string quoted = "device type " + std::to_string(type);
    DT_EXPECT_ERROR(CallGetDevice(env_, type, 0, &device), DT_NOT_FOUND, quoted.c_str());
    EXPECT_EQ(device, nullptr);
    int32_t count = -7;
    DT_EXPECT_OK(CallGetDeviceCount(env_, type, &count));
    EXPECT_EQ(count, 0);
  }
  const DtDevice* cpu = nullptr;
  DT_EXPECT_OK(CallGetDevice(env_, DT_DEVICE_CPU, 0, &cpu));
  EXPECT_NE(cpu, nullptr);
}

TEST_F(CEnumsOnCpu, AttributesOfNumbersThatAreNoAttributeTypeAreRefused) {
  const DtDevice* cpu = nullptr;
  DT_ASSERT_OK(DtGetDevice(env_, DT_DEVICE_CPU, 0, &cpu));
  const int64_t shape[] = {4};
  int64_t ids[4] = {3, 1, 4, 1};
  DtValue* tensor = nullptr;
  DT_ASSERT_OK(DtCreateTensorWithData(env_, cpu, ids, sizeof ids, 0, DT_INT64, shape, 1, &tensor));
  for (int type : {0, 5, 99, -1}) {
    SCOPED_TRACE(type);
    const std::string number = "(" + std::to_string(type) + ")";
    DT_EXPECT_ERROR(CallRunOpWithAttributeType(env_, "UpdatePositionIds", nullptr, 0, &tensor, 1,
                                               "increment", type),
                    DT_INVALID_ARGUMENT, "increment", number.c_str());
    EXPECT_EQ(ids[0], 3) << "a refused op wrote";
  }
  DT_EXPECT_OK(CallRunOpWithAttributeType(env_, "UpdatePositionIds", nullptr, 0, &tensor, 1,
                                          "increment", DT_ATTR_INT));
  EXPECT_EQ(ids[0], 4);
  DtReleaseValue(tensor);
}

}  // namespace
