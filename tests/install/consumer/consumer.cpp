// A C++ program built against an installed devtensor, through the C++ wrapper. On CPU and on
// WebGPU: uploads random floats, copies a strided slice of them on the device, reads it back
// between sentinel bytes and compares. Then fails if any file mapped into the process lies under a
// directory given as an argument.
//
//   consumer_cpp FORBIDDEN_DIRECTORY...
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "consumer_checks.h"
#include "devtensor/devtensor.hpp"

namespace {

constexpr int64_t kRows = 8, kCols = 12, kFirst = 3, kWidth = 5;
constexpr size_t kGuard = 16;
constexpr uint8_t kSentinel = 0xA5;

// True when the slice read back equals the host data and the sentinel bytes around it are intact.
bool Matches(const std::vector<uint8_t>& readback, const std::vector<float>& host) {
  const size_t bytes = sizeof(float) * kRows * kWidth;
  for (size_t i = 0; i < kGuard; ++i) {
    if (readback[i] != kSentinel || readback[kGuard + bytes + i] != kSentinel) return false;
  }
  for (int64_t r = 0; r < kRows; ++r) {
    if (std::memcmp(&readback[kGuard + sizeof(float) * r * kWidth], &host[r * kCols + kFirst],
                    sizeof(float) * kWidth) != 0) {
      return false;
    }
  }
  return true;
}

bool RoundTrip(const devtensor::Env& env, DtDeviceType type, std::mt19937& random) {
  using devtensor::Tensor;
  std::vector<float> host(kRows * kCols);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (float& v : host) v = value(random);
  std::vector<uint8_t> readback(kGuard + sizeof(float) * kRows * kWidth + kGuard, kSentinel);
  const devtensor::Device cpu = env.device(DT_DEVICE_CPU), device = env.device(type);
  const Tensor source = Tensor::wrap(env, cpu, host.data(), host.size() * sizeof(float), 0,
                                     DT_FLOAT, {kRows, kCols});
  const Tensor on_device = Tensor::create(env, device, DT_FLOAT, {kRows, kCols});
  const Tensor copy = Tensor::create(env, device, DT_FLOAT, {kRows, kWidth});
  const Tensor result = Tensor::wrap(env, cpu, readback.data(), readback.size(), kGuard, DT_FLOAT,
                                     {kRows, kWidth});
  env.copy(source, on_device);
  env.copy(on_device.slice(1, kFirst, kWidth), copy);
  env.copy(copy, result);
  const bool same = Matches(readback, host);
  std::printf("  %-6s %s: %lldx%lld random floats up, [:, %lld:%lld] copied on the device, read "
              "back: %s\n",
              DtGetDeviceTypeName(type), device.info().name, (long long)kRows, (long long)kCols,
              (long long)kFirst, (long long)(kFirst + kWidth),
              same ? "equal, sentinels intact" : "WRONG");
  return same;
}

}  // namespace

int main(int argc, char** argv) {
  if (!ReportVersion("consumer_cpp")) return 1;
  try {
    devtensor::Env env;
    ReportProviders(env.get());
    std::mt19937 random(std::random_device{}());
    const bool ok = RoundTrip(env, DT_DEVICE_CPU, random) &&
                    RoundTrip(env, DT_DEVICE_WEBGPU, random) &&
                    NothingMappedFrom(argv + 1, argc - 1);
    return ok ? 0 : 1;
  } catch (const devtensor::Error& error) {
    std::printf("  %s\n", error.what());
    return 1;
  }
}
