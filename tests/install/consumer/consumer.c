/* A C program built against an installed devtensor. On CPU and on WebGPU: uploads random floats,
 * copies a strided slice of them on the device, reads it back between sentinel bytes and compares.
 * Then fails if any file mapped into the process lies under a directory given as an argument.
 *
 *   consumer_c FORBIDDEN_DIRECTORY...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumer_checks.h"
#include "devtensor/devtensor.h"

enum { kRows = 8, kCols = 12, kFirst = 3, kWidth = 5, kGuard = 16, kSentinel = 0xA5 };

#define CHECK(call)                                                    \
  do {                                                                 \
    DtStatus* status_ = (call);                                        \
    if (status_ != NULL) {                                             \
      printf("  %s: %s\n", #call, DtGetErrorMessage(status_));         \
      DtReleaseStatus(status_);                                        \
      return 0;                                                        \
    }                                                                  \
  } while (0)

static int Copy(DtEnv* env, const DtValue* src, DtValue* dst) {
  CHECK(DtCopyTensors(env, &src, &dst, 1, NULL));
  return 1;
}

/* 1 when the slice read back equals the host data and the sentinel bytes around it are intact. */
static int Matches(const unsigned char* readback, float host[kRows][kCols]) {
  const size_t bytes = sizeof(float) * kRows * kWidth;
  for (size_t i = 0; i < kGuard; ++i) {
    if (readback[i] != kSentinel || readback[kGuard + bytes + i] != kSentinel) return 0;
  }
  for (int r = 0; r < kRows; ++r) {
    const unsigned char* row = readback + kGuard + sizeof(float) * r * kWidth;
    if (memcmp(row, &host[r][kFirst], sizeof(float) * kWidth) != 0) return 0;
  }
  return 1;
}

static int RoundTrip(DtEnv* env, DtDeviceType type) {
  float host[kRows][kCols];
  unsigned char readback[kGuard + sizeof(float) * kRows * kWidth + kGuard];
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) host[r][c] = (float)rand() / RAND_MAX - 0.5f;
  }
  memset(readback, kSentinel, sizeof readback);
  const int64_t shape[2] = {kRows, kCols}, window_shape[2] = {kRows, kWidth};
  const DtDevice *cpu, *device;
  DtValue *source, *on_device, *window, *copy, *result;
  CHECK(DtGetDevice(env, DT_DEVICE_CPU, 0, &cpu));
  CHECK(DtGetDevice(env, type, 0, &device));
  DtDeviceInfo info = DT_DEVICE_INFO_INIT;
  CHECK(DtGetDeviceInfo(device, &info));
  CHECK(DtCreateTensorWithData(env, cpu, host, sizeof host, 0, DT_FLOAT, shape, 2, &source));
  CHECK(DtCreateTensor(env, device, DT_FLOAT, shape, 2, &on_device));
  CHECK(DtSliceTensor(on_device, 1, kFirst, kWidth, &window));
  CHECK(DtCreateTensor(env, device, DT_FLOAT, window_shape, 2, &copy));
  CHECK(DtCreateTensorWithData(env, cpu, readback, sizeof readback, kGuard, DT_FLOAT, window_shape,
                               2, &result));
  const int copied = Copy(env, source, on_device) && Copy(env, window, copy) && Copy(env, copy, result);
  const int same = copied && Matches(readback, host);
  printf("  %-6s %s: %dx%d random floats up, [:, %d:%d] copied on the device, read back: %s\n",
         DtGetDeviceTypeName(type), info.name, kRows, kCols, kFirst, kFirst + kWidth,
         same ? "equal, sentinels intact" : "WRONG");
  DtReleaseValue(result);
  DtReleaseValue(copy);
  DtReleaseValue(window);
  DtReleaseValue(on_device);
  DtReleaseValue(source);
  return same;
}

int main(int argc, char** argv) {
  srand((unsigned)time(NULL));
  if (!ReportVersion("consumer_c")) return 1;
  DtEnv* env = NULL;
  DtStatus* status = DtCreateEnv(&env);
  if (status != NULL) {
    printf("DtCreateEnv: %s\n", DtGetErrorMessage(status));
    return 1;
  }
  ReportProviders(env);
  const int ok = RoundTrip(env, DT_DEVICE_CPU) && RoundTrip(env, DT_DEVICE_WEBGPU) &&
                 NothingMappedFrom(argv + 1, argc - 1);
  DtReleaseEnv(env);
  return ok ? 0 : 1;
}
