// Provider libraries: registration, versioning, discovery, unloading, and what the env reports.
#include <cstring>
#include <set>
#include <sstream>
#include <string>

#include "devtensor/devtensor_provider.h"
#include "ext_device.h"
#include "test_util.h"

using namespace devtensor_test;

namespace {

struct EnvHolder {
  EnvHolder() { DtReleaseStatus(DtCreateEnv(&env)); }
  ~EnvHolder() { DtReleaseEnv(env); }
  DtEnv* env = nullptr;
};

int32_t DeviceCount(DtEnv* env, DtDeviceType type) {
  int32_t count = -1;
  DtReleaseStatus(DtGetDeviceCount(env, type, &count));
  return count;
}

DtValue* NewTensor(DtEnv* env, DtDeviceType type, int32_t id, std::vector<int64_t> shape,
                   DtElementType element = DT_FLOAT) {
  const DtDevice* device = nullptr;
  DtReleaseStatus(DtGetDevice(env, type, id, &device));
  DtValue* tensor = nullptr;
  DtStatus* status = DtCreateTensor(env, device, element, shape.data(), shape.size(), &tensor);
  EXPECT_EQ(status, nullptr) << DtGetErrorMessage(status);
  DtReleaseStatus(status);
  return tensor;
}

size_t ProviderCount(DtEnv* env) {
  size_t count = 0;
  DtReleaseStatus(DtGetProviderCount(env, &count));
  return count;
}

TEST(ProviderLibrary, FreshEnvStartsWithTheCpuProvider) {
  EnvHolder h;
  const size_t count = ProviderCount(h.env);
  ASSERT_GE(count, 1u);
  DtProviderInfo info = DT_PROVIDER_INFO_INIT;
  DT_ASSERT_OK(DtGetProviderInfo(h.env, 0, &info));
  EXPECT_STREQ(info.registration_name, "cpu");
  EXPECT_STREQ(info.library_path, "");
  EXPECT_EQ(info.device_type, DT_DEVICE_CPU);
  EXPECT_EQ(info.device_count, 1);
  EXPECT_EQ(info.abi_major, uint32_t(DT_PROVIDER_ABI_MAJOR));
  const std::string past = "index " + std::to_string(count);
  DT_EXPECT_ERROR(DtGetProviderInfo(h.env, count, &info), DT_OUT_OF_RANGE, past.c_str(),
                  "registered providers");
  // The others are internal provider libraries found beside the devtensor library.
  for (size_t i = 1; i < count; ++i) {
    DT_ASSERT_OK(DtGetProviderInfo(h.env, i, &info));
    EXPECT_NE(std::string(info.library_path).find("libdevtensor_"), std::string::npos);
  }
  EXPECT_EQ(DeviceCount(h.env, DT_DEVICE_CPU), 1);
  EXPECT_EQ(DeviceCount(h.env, DT_DEVICE_EXT_DEV), 0);
  // Each line of the load errors names a shipped provider that is not in the env, with how to get
  // it: one whose library was not built or installed says to install it; one whose library is there
  // but failed to initialise (the CUDA provider without the NVIDIA driver, say) says why.
  std::set<std::string> registered;
  for (size_t i = 0; i < count; ++i) {
    DT_ASSERT_OK(DtGetProviderInfo(h.env, i, &info));
    registered.insert(info.registration_name);
  }
  const char* errors = nullptr;
  DT_ASSERT_OK(DtGetProviderLoadErrors(h.env, &errors));
  std::istringstream lines(errors);
  for (std::string line; std::getline(lines, line);) {
    ASSERT_EQ(line.rfind("provider '", 0), 0u) << line;
    const std::string name = line.substr(10, line.find('\'', 10) - 10);
    EXPECT_EQ(registered.count(name), 0u) << line;
    if (line.find("does not exist") != std::string::npos) {
      EXPECT_NE(line.find("install"), std::string::npos) << line;
    } else {
      const std::string failed = "provider '" + name + "' failed to initialise: ";
      ASSERT_EQ(line.rfind(failed, 0), 0u) << line;
      EXPECT_GT(line.size(), failed.size() + 20) << "no reason given: " << line;
    }
  }
  DT_EXPECT_ERROR(DtGetProviderLoadErrors(nullptr, &errors), DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtGetProviderLoadErrors(h.env, nullptr), DT_INVALID_ARGUMENT, "text");
}

TEST(ProviderLibrary, MissingDeviceTypeSaysWhatWasTriedAndHowToFixIt) {
  EnvHolder h;
  const DtDevice* device = reinterpret_cast<const DtDevice*>(0x1);
  DT_EXPECT_ERROR(DtGetDevice(h.env, DT_DEVICE_METAL, 0, &device), DT_NOT_FOUND, "Metal(8):0",
                  "DtRegisterProviderLibrary");
  // What was tried: every internal provider library that is not in the env, with why.
  const char* errors = nullptr;
  DT_ASSERT_OK(DtGetProviderLoadErrors(h.env, &errors));
  const Outcome metal = Take(DtGetDevice(h.env, DT_DEVICE_METAL, 0, &device));
  std::istringstream lines(errors);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NE(metal.message.find("[" + line + "]"), std::string::npos) << metal.message;
  }
  EXPECT_EQ(device, reinterpret_cast<const DtDevice*>(0x1)) << "out-parameter written on failure";
  DT_EXPECT_ERROR(DtGetDevice(h.env, DT_DEVICE_CPU, 1, &device), DT_NOT_FOUND, "CPU(1):1",
                  "[0, 1)");
  DT_EXPECT_ERROR(DtGetDevice(h.env, DT_DEVICE_CPU, -1, &device), DT_NOT_FOUND, "CPU(1):-1");
}

TEST(ProviderLibrary, RegistersDevicesAndUnloadsWhenUnregistered) {
  {
    EnvHolder h;
    const size_t before = ProviderCount(h.env);
    DT_ASSERT_OK(DtRegisterProviderLibrary(h.env, "ext", kExtProvider.c_str()));
    EXPECT_TRUE(IsLoaded(kExtProvider));
    EXPECT_EQ(DeviceCount(h.env, DT_DEVICE_EXT_DEV), 2);
    ASSERT_EQ(ProviderCount(h.env), before + 1);
    DtProviderInfo info = DT_PROVIDER_INFO_INIT;
    DT_ASSERT_OK(DtGetProviderInfo(h.env, before, &info));
    EXPECT_STREQ(info.registration_name, "ext");
    EXPECT_STREQ(info.provider_name, "test-ext");
    EXPECT_EQ(std::string(info.library_path), kExtProvider);
    EXPECT_EQ(info.device_type, DT_DEVICE_EXT_DEV);
    EXPECT_EQ(info.device_count, 2);

    const DtDevice* device = nullptr;
    DT_ASSERT_OK(DtGetDevice(h.env, DT_DEVICE_EXT_DEV, 1, &device));
    DtDeviceInfo device_info = DT_DEVICE_INFO_INIT;
    DT_ASSERT_OK(DtGetDeviceInfo(device, &device_info));
    EXPECT_EQ(device_info.type, DT_DEVICE_EXT_DEV);
    EXPECT_EQ(device_info.id, 1);
    EXPECT_EQ(device_info.is_addressable, 0);
    EXPECT_EQ(device_info.has_streams, 1);
    EXPECT_STREQ(device_info.provider_name, "test-ext");
    EXPECT_NE(std::strstr(device_info.name, "test device 1"), nullptr) << device_info.name;

    DT_ASSERT_OK(DtUnregisterProviderLibrary(h.env, "ext"));
    EXPECT_FALSE(IsLoaded(kExtProvider));
    EXPECT_EQ(DeviceCount(h.env, DT_DEVICE_EXT_DEV), 0);
    // Registering again works.
    DT_ASSERT_OK(DtRegisterProviderLibrary(h.env, "ext", kExtProvider.c_str()));
    EXPECT_EQ(DeviceCount(h.env, DT_DEVICE_EXT_DEV), 2);
  }
  EXPECT_FALSE(IsLoaded(kExtProvider)) << "releasing the env must unload an unused provider";
}

TEST(ProviderLibrary, UnregisterFailsWhileTensorsOrStreamsLive) {
  EnvHolder h;
  DT_ASSERT_OK(DtRegisterProviderLibrary(h.env, "ext", kExtProvider.c_str()));
  DtValue* tensor = NewTensor(h.env, DT_DEVICE_EXT_DEV, 0, {4, 4});
  ASSERT_NE(tensor, nullptr);
  DtValue* view = nullptr;
  DT_ASSERT_OK(DtSliceTensor(tensor, 1, 1, 2, &view));
  DtReleaseValue(tensor);  // the view still holds the storage
  DT_EXPECT_ERROR(DtUnregisterProviderLibrary(h.env, "ext"), DT_FAILED_PRECONDITION, "'ext'",
                  "1 live");
  EXPECT_EQ(DeviceCount(h.env, DT_DEVICE_EXT_DEV), 2) << "a failed unregister must unload nothing";
  DtReleaseValue(view);

  const DtDevice* device = nullptr;
  DT_ASSERT_OK(DtGetDevice(h.env, DT_DEVICE_EXT_DEV, 0, &device));
  DtStream* stream = nullptr;
  DT_ASSERT_OK(DtCreateStream(h.env, device, &stream));
  DT_EXPECT_ERROR(DtUnregisterProviderLibrary(h.env, "ext"), DT_FAILED_PRECONDITION, "1 live");
  DtReleaseStream(stream);
  DT_EXPECT_OK(DtUnregisterProviderLibrary(h.env, "ext"));
  EXPECT_FALSE(IsLoaded(kExtProvider));
}

TEST(ProviderLibrary, TensorsKeepTheLibraryLoadedAfterTheEnvGoes) {
  DtEnv* env = nullptr;
  DT_ASSERT_OK(DtCreateEnv(&env));
  DT_ASSERT_OK(DtRegisterProviderLibrary(env, "ext", kExtProvider.c_str()));
  DtValue* tensor = NewTensor(env, DT_DEVICE_EXT_DEV, 0, {8});
  DtValue* host = NewTensor(env, DT_DEVICE_CPU, 0, {8});
  ASSERT_TRUE(tensor && host);
  const DtDevice* device = DtGetTensorDevice(tensor);
  DtReleaseEnv(env);
  ASSERT_TRUE(IsLoaded(kExtProvider));
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
  DT_EXPECT_OK(DtGetDeviceInfo(device, &info));  // the device outlives its env
  EXPECT_EQ(info.type, DT_DEVICE_EXT_DEV);

  // Another env, without the provider registered, can still copy them: the tensors' own
  // provider serves the pair.
  Random random;
  SCOPED_TRACE(random.trace());
  EnvHolder other;
  float* data = nullptr;
  DT_ASSERT_OK(DtGetTensorData(host, reinterpret_cast<void**>(&data)));
  std::vector<float> expected(8);
  for (auto& v : expected) v = float(random.Between(-1000, 1000));
  std::memcpy(data, expected.data(), sizeof(float) * 8);
  const DtValue* src[] = {host};
  DtValue* dst[] = {tensor};
  DT_ASSERT_OK(DtCopyTensors(other.env, src, dst, 1, nullptr));
  std::memset(data, 0, sizeof(float) * 8);
  const DtValue* back_src[] = {tensor};
  DtValue* back_dst[] = {host};
  DT_ASSERT_OK(DtCopyTensors(other.env, back_src, back_dst, 1, nullptr));
  EXPECT_EQ(std::memcmp(data, expected.data(), sizeof(float) * 8), 0);

  DtReleaseValue(tensor);
  EXPECT_FALSE(IsLoaded(kExtProvider)) << "the last tensor of the provider should unload it";
  DtReleaseValue(host);
}

TEST(ProviderLibrary, ManyEnvsShareOneLoadedLibrary) {
  std::vector<DtEnv*> envs(4);
  for (auto& env : envs) {
    DT_ASSERT_OK(DtCreateEnv(&env));
    DT_ASSERT_OK(DtRegisterProviderLibrary(env, "ext", kExtProvider.c_str()));
  }
  DT_ASSERT_OK(DtUnregisterProviderLibrary(envs[0], "ext"));
  EXPECT_TRUE(IsLoaded(kExtProvider)) << "other envs still use it";
  for (auto& env : envs) DtReleaseEnv(env);
  EXPECT_FALSE(IsLoaded(kExtProvider));
}

TEST(ProviderLibrary, RegistrationErrors) {
  EnvHolder h;
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(nullptr, "x", kExtProvider.c_str()),
                  DT_INVALID_ARGUMENT, "env");
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, nullptr, kExtProvider.c_str()),
                  DT_INVALID_ARGUMENT, "registration_name");
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "", kExtProvider.c_str()),
                  DT_INVALID_ARGUMENT, "registration_name");
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "x", nullptr), DT_INVALID_ARGUMENT,
                  "library_path");
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "x", "/nonexistent/libnothing.so"),
                  DT_NOT_FOUND, "library_path '/nonexistent/libnothing.so'");
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "x", kNotAProvider.c_str()), DT_NOT_FOUND,
                  "does not export DtProviderInit");
  EXPECT_FALSE(IsLoaded(kNotAProvider)) << "a refused library must be unloaded";
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "cpu", kExtProvider.c_str()),
                  DT_INVALID_ARGUMENT, "'cpu' is already registered");

  DT_ASSERT_OK(DtRegisterProviderLibrary(h.env, "ext", kExtProvider.c_str()));
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "ext", kExtProvider.c_str()),
                  DT_INVALID_ARGUMENT, "'ext' is already registered");
  // The same device type under another name: one provider per device type in an env.
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "ext-again", kSmallExtProvider.c_str()),
                  DT_FAILED_PRECONDITION, "ExtDev", "'ext'");
  EXPECT_FALSE(IsLoaded(kSmallExtProvider));

  DT_EXPECT_ERROR(DtUnregisterProviderLibrary(h.env, "cpu"), DT_INVALID_ARGUMENT, "built-in");
  DT_EXPECT_ERROR(DtUnregisterProviderLibrary(h.env, "nope"), DT_NOT_FOUND, "'nope'");
  DT_EXPECT_ERROR(DtUnregisterProviderLibrary(h.env, nullptr), DT_INVALID_ARGUMENT,
                  "registration_name");
}

TEST(ProviderLibrary, NewerMajorVersionIsRefusedAndUnloaded) {
  EnvHolder h;
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "v2", kV2ExtProvider.c_str()), DT_NOT_SUPPORTED,
                  "provider ABI 2.", "this library speaks ABI 1.");
  EXPECT_FALSE(IsLoaded(kV2ExtProvider));
  EXPECT_EQ(DeviceCount(h.env, DT_DEVICE_EXT_DEV), 0);
}

TEST(ProviderLibrary, ProviderThatRefusesTheHostFailsCleanly) {
  EnvHolder h;
  DT_EXPECT_ERROR(DtRegisterProviderLibrary(h.env, "picky", kPickyExtProvider.c_str()),
                  DT_NOT_SUPPORTED, "'picky' failed to initialise", "needs host provider ABI minor 999");
  EXPECT_FALSE(IsLoaded(kPickyExtProvider));
}

TEST(ProviderLibrary, OlderProviderWithSmallStructsLoadsAndWorks) {
  Random random;
  SCOPED_TRACE(random.trace());
  EnvHolder h;
  DT_ASSERT_OK(DtRegisterProviderLibrary(h.env, "old", kSmallExtProvider.c_str()));
  const DtDevice* device = nullptr;
  DT_ASSERT_OK(DtGetDevice(h.env, DT_DEVICE_EXT_DEV, 0, &device));
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
  DT_ASSERT_OK(DtGetDeviceInfo(device, &info));
  EXPECT_EQ(info.has_streams, 0);

  // Copies in both directions, a clear (through zeros uploaded from host memory, since the old
  // provider has no ZeroTensor) and a stream (synchronous, since it has no streams) all work.
  DtValue* tensor = NewTensor(h.env, DT_DEVICE_EXT_DEV, 0, {16});
  DtValue* host = NewTensor(h.env, DT_DEVICE_CPU, 0, {16});
  uint32_t* data = nullptr;
  DT_ASSERT_OK(DtGetTensorData(host, reinterpret_cast<void**>(&data)));
  std::vector<uint32_t> expected(16);
  for (auto& v : expected) v = static_cast<uint32_t>(random()) | 1u;
  std::memcpy(data, expected.data(), 64);
  DtStream* stream = nullptr;
  DT_ASSERT_OK(DtCreateStream(h.env, device, &stream));
  const DtValue* up_src[] = {host};
  DtValue* up_dst[] = {tensor};
  DT_ASSERT_OK(DtCopyTensors(h.env, up_src, up_dst, 1, stream));
  DtValue* middle = nullptr;
  DT_ASSERT_OK(DtSliceTensor(tensor, 0, 4, 8, &middle));
  DT_ASSERT_OK(DtZeroTensor(h.env, middle, stream));
  std::memset(data, 0xFF, 64);
  const DtValue* down_src[] = {tensor};
  DtValue* down_dst[] = {host};
  DT_ASSERT_OK(DtCopyTensors(h.env, down_src, down_dst, 1, stream));
  DT_ASSERT_OK(DtSynchronizeStream(stream));
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(data[i], (i >= 4 && i < 12) ? 0u : expected[i]) << "element " << i;
  }
  DtReleaseStream(stream);
  DtReleaseValue(middle);
  DtReleaseValue(tensor);
  DtReleaseValue(host);
}

TEST(ProviderLibrary, ThousandEnvCyclesWithAProvider) {
  for (int i = 0; i < 1000; ++i) {
    DtEnv* env = nullptr;
    DT_ASSERT_OK(DtCreateEnv(&env));
    if (i % 10 == 0) {
      DT_ASSERT_OK(DtRegisterProviderLibrary(env, "ext", kExtProvider.c_str()));
      DtValue* tensor = NewTensor(env, DT_DEVICE_EXT_DEV, 0, {3});
      DtReleaseEnv(env);  // before the tensor, on purpose
      DtReleaseValue(tensor);
    } else {
      DtReleaseEnv(env);
    }
  }
  EXPECT_FALSE(IsLoaded(kExtProvider));
}

}  // namespace
