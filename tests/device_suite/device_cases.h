// The devices every device suite (tests/device_suite/*_suite_test.cpp) runs on, the fixture that
// gets the device under test (or skips, saying why, on a machine without it), and the test's own
// reach into device memory: host memory by pointer, WebGPU buffers through Dawn, any other device
// (CUDA, whose handles are device pointers the test cannot dereference) through copies of whole
// buffers as uint8 tensors (the simplest copy path), so that what a test checks does not depend on
// the copies under test where the device allows it. What a device can do (asynchronous streams,
// graphs, addressable handles, kernels) is the API's answer (DtDeviceInfo, DtBeginCapture,
// DtGetOpSupport), never decided by the device's type or name.
//
// Adding a device to every suite is one line in kDeviceCases.
#ifndef DEVTENSOR_TESTS_DEVICE_SUITE_DEVICE_CASES_H_
#define DEVTENSOR_TESTS_DEVICE_SUITE_DEVICE_CASES_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "test_util.h"
#include "webgpu_util.h"

namespace devtensor_test {

// One device the suites run on.
struct DeviceCase {
  const char* name;   // the instance's name: Devices/CopySuite.SomeTest/WebGPU
  DtDeviceType type;  // device 0 of this type is the device under test
  // Its tensors are host memory: the test reads them by pointer, and a copy costs microseconds, so
  // random tests run their full trial counts there and fewer trials elsewhere.
  bool host_memory;
};

// Every device the suites run on. A device the machine lacks is skipped (GTEST_SKIP), with why.
inline constexpr DeviceCase kDeviceCases[] = {
    {"CPU", DT_DEVICE_CPU, true},
    {"WebGPU", DT_DEVICE_WEBGPU, false},
    {"CUDA", DT_DEVICE_CUDA, false},
};

inline void PrintTo(const DeviceCase& c, std::ostream* os) { *os << c.name; }
inline std::string DeviceCaseName(const ::testing::TestParamInfo<DeviceCase>& info) {
  return info.param.name;
}

// Runs every TEST_P of `suite` on every device of kDeviceCases.
#define DT_INSTANTIATE_DEVICE_SUITE(suite)                                                \
  INSTANTIATE_TEST_SUITE_P(Devices, suite,                                                \
                           ::testing::ValuesIn(::devtensor_test::kDeviceCases),           \
                           ::devtensor_test::DeviceCaseName)

// ---- The test's own reach into memory ------------------------------------------------------------

// How a test reaches a device's memory itself.
struct Reach {
  const devtensor::Env* env = nullptr;
  devtensor::Device cpu;
  bool host_pointers = false;  // storage handles are host pointers (not device pointers)
  const Dawn* dawn = nullptr;  // WebGPU buffers through Dawn; null: through devtensor copies
};

// Writes `bytes` at the start of the storage of `root` (a tensor made by DtCreateTensor, or a
// uint8 tensor over a whole buffer).
inline void SetStorage(const Reach& reach, const DtValue* root, const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return;
  void* handle = nullptr;
  size_t byte_offset = 0;
  devtensor::Check(DtGetTensorBuffer(root, &handle, &byte_offset, nullptr));
  if (reach.host_pointers) {
    std::memcpy(static_cast<uint8_t*>(handle) + byte_offset, bytes.data(), bytes.size());
  } else if (reach.dawn != nullptr) {
    reach.dawn->Write(static_cast<wgpu::Buffer>(handle), byte_offset, bytes);
  } else {
    std::vector<uint8_t> copy = bytes;
    const int64_t n = int64_t(copy.size());
    devtensor::Tensor host =
        devtensor::Tensor::wrap(*reach.env, reach.cpu, copy.data(), copy.size(), 0, DT_UINT8, {n});
    DtValue* view = nullptr;
    devtensor::Check(DtCreateTensorView(root, 0, DT_UINT8, &n, 1, &view));
    reach.env->copy(host, devtensor::Tensor(view));
  }
}

// The first `size` bytes of the storage of `root` (as for SetStorage).
inline std::vector<uint8_t> GetStorage(const Reach& reach, const DtValue* root, size_t size) {
  if (size == 0) return {};
  void* handle = nullptr;
  size_t byte_offset = 0;
  devtensor::Check(DtGetTensorBuffer(root, &handle, &byte_offset, nullptr));
  if (reach.host_pointers) {
    const auto* data = static_cast<const uint8_t*>(handle) + byte_offset;
    return std::vector<uint8_t>(data, data + size);
  }
  if (reach.dawn != nullptr) {
    return reach.dawn->Read(static_cast<wgpu::Buffer>(handle), byte_offset, size);
  }
  std::vector<uint8_t> bytes(size);
  const int64_t n = int64_t(size);
  devtensor::Tensor host =
      devtensor::Tensor::wrap(*reach.env, reach.cpu, bytes.data(), size, 0, DT_UINT8, {n});
  DtValue* view = nullptr;
  devtensor::Check(DtCreateTensorView(root, 0, DT_UINT8, &n, 1, &view));
  reach.env->copy(devtensor::Tensor(view), host);
  return bytes;
}

// Where a buffer of a test lives: host memory the test owns, or the device under test.
enum class Where { kHost, kDevice };

// A byte buffer that devtensor sees as a uint8 tensor [size] and the test sets and reads whole
// itself. Host memory (and memory of host-memory devices) is the test's own vector, wrapped; other
// device memory is allocated by devtensor and reached as `reach` says.
class Bytes {
 public:
  Bytes(const Reach& reach, devtensor::Device on, size_t size)
      : reach_(reach), on_(on), size_(size) {
    if (reach.host_pointers) {
      host_.assign(std::max<size_t>(size, 1), 0);  // never a null pointer, even when empty
      whole_ = devtensor::Tensor::wrap(*reach.env, on, host_.data(), size, 0, DT_UINT8,
                                       {int64_t(size)});
    } else {
      whole_ = devtensor::Tensor::create(*reach.env, on, DT_UINT8, {int64_t(size)});
    }
  }

  size_t size() const { return size_; }
  const devtensor::Tensor& whole() const { return whole_; }
  bool host_memory() const { return reach_.host_pointers; }
  uint8_t* host_data() { return host_.data(); }  // host memory only

  void Set(const std::vector<uint8_t>& bytes) {
    if (reach_.host_pointers) {
      std::copy(bytes.begin(), bytes.end(), host_.begin());
    } else {
      SetStorage(reach_, whole_.get(), bytes);
    }
  }
  std::vector<uint8_t> Get() const {
    if (reach_.host_pointers) return std::vector<uint8_t>(host_.begin(), host_.begin() + size_);
    return GetStorage(reach_, whole_.get(), size_);
  }

  // The library's view of `p` with elements of `type`: the parent (host memory wrapped with
  // DtCreateTensorWithData at its offset, device memory a view of the buffer), sliced along every
  // axis where the view is shorter.
  devtensor::Tensor View(const Placement& p, DtElementType type) const {
    devtensor::Tensor view =
        reach_.host_pointers
            ? devtensor::Tensor::wrap(*reach_.env, on_, const_cast<uint8_t*>(host_.data()), size_,
                                      p.parent_offset, type, p.parent)
            : whole_.view(p.parent_offset, type, p.parent);
    for (size_t axis = 0; axis < p.shape.size(); ++axis) {
      if (p.shape[axis] != p.parent[axis]) view = view.slice(axis, p.start[axis], p.shape[axis]);
    }
    return view;
  }

 private:
  Reach reach_;
  devtensor::Device on_;
  size_t size_;
  std::vector<uint8_t> host_;
  devtensor::Tensor whole_;
};

// ---- The fixture ------------------------------------------------------------------------------------

// An env, its CPU, the device under test and the test's reach into both. Error flags an earlier
// test left on the device are cleared first, so ErrorFlags() reports this test's own.
class DeviceFixture {
 public:
  // Gets device 0 of `c`'s type; where the machine has none, skips (required: fails) saying why.
  // Callers return when IsSkipped() or HasFatalFailure().
  void Open(const DeviceCase& c, bool required) {
    device_case = c;
    cpu = env.device(DT_DEVICE_CPU);
    const DtDevice* found = nullptr;
    DtStatus* status = DtGetDevice(env.get(), c.type, 0, &found);
    if (status != nullptr) {
      const std::string why = DtGetErrorMessage(status);
      DtReleaseStatus(status);
      if (required) FAIL() << "no " << c.name << " device: " << why;
      GTEST_SKIP() << "no " << c.name << " device on this machine: " << why;
    }
    device = devtensor::Device(found);
    info = device.info();
    ReadErrorFlags(device.get());
    if (c.type == DT_DEVICE_WEBGPU && !c.host_memory) {
      ASSERT_NO_FATAL_FAILURE(dawn.Open(found));
      dawn_open = true;
    }
  }

  // The test's reach into the device under test's memory; `direct` false: through devtensor
  // copies (on threads, where Dawn must not be called beside devtensor).
  Reach DeviceReach(bool direct = true) const {
    return Reach{&env, cpu, device_case.host_memory, direct && dawn_open ? &dawn : nullptr};
  }
  Reach HostReach() const { return Reach{&env, cpu, true, nullptr}; }

  // A buffer of `size` bytes on the host or on the device under test.
  std::unique_ptr<Bytes> NewBytes(Where where, size_t size, bool direct = true) const {
    if (where == Where::kHost) return std::make_unique<Bytes>(HostReach(), cpu, size);
    return std::make_unique<Bytes>(DeviceReach(direct), device, size);
  }

  // The storage of a tensor devtensor allocated on the device, as in SetStorage and GetStorage.
  void SetDeviceStorage(const DtValue* root, const std::vector<uint8_t>& bytes) const {
    SetStorage(DeviceReach(), root, bytes);
  }
  void SetDeviceStorage(const devtensor::Tensor& root, const std::vector<uint8_t>& bytes) const {
    SetStorage(DeviceReach(), root.get(), bytes);
  }
  std::vector<uint8_t> GetDeviceStorage(const DtValue* root, size_t size) const {
    return GetStorage(DeviceReach(), root, size);
  }
  std::vector<uint8_t> GetDeviceStorage(const devtensor::Tensor& root, size_t size) const {
    return GetStorage(DeviceReach(), root.get(), size);
  }

  // `host` on host-memory devices, `elsewhere` on the others: the number of random trials.
  int Trials(int host, int elsewhere) const { return device_case.host_memory ? host : elsewhere; }

  // Whether the device checks data-dependent values (positions, indices, divisors) on the host
  // and fails such calls, as devices whose work runs synchronously do; devices with asynchronous
  // streams cannot, and skip the write and raise an error flag instead (devtensor.h).
  bool ChecksValuesOnTheHost() const { return info.has_streams == 0; }

  // How error messages name the device: "WebGPU(15):0".
  std::string DeviceText() const {
    return std::string(DtGetDeviceTypeName(device_case.type)) + "(" +
           std::to_string(int(device_case.type)) + "):0";
  }

  uint32_t ErrorFlags() const { return ReadErrorFlags(device.get()); }

  Random random;
  devtensor::Env env;
  devtensor::Device cpu, device;
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
  DeviceCase device_case{};
  Dawn dawn;
  bool dawn_open = false;
};

// A test run once per device of kDeviceCases (instantiate with DT_INSTANTIATE_DEVICE_SUITE).
class DeviceTest : public ::testing::TestWithParam<DeviceCase>, public DeviceFixture {
 public:
  void SetUp() override { Open(GetParam(), /*required=*/false); }
};

// The entry of kDeviceCases for `type`.
inline DeviceCase CaseOf(DtDeviceType type) {
  for (const DeviceCase& c : kDeviceCases) {
    if (c.type == type) return c;
  }
  ADD_FAILURE() << DtGetDeviceTypeName(type) << " is not in kDeviceCases";
  return DeviceCase{"?", type, false};
}

// The WebGPU device for a plain test of WebGPU's own behaviour: a missing device fails.
class WebGpuDeviceTest : public ::testing::Test, public DeviceFixture {
 public:
  void SetUp() override { Open(CaseOf(DT_DEVICE_WEBGPU), /*required=*/true); }
};

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_DEVICE_SUITE_DEVICE_CASES_H_
