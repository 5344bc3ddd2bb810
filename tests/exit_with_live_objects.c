/* Exits with a WebGPU tensor, a stream with queued work, a CPU tensor and (with an argument) the
 * env still alive: process exit must be clean, whatever is left. Run by ctest twice. */
#include <stdio.h>
#include "devtensor/devtensor.h"

#define CHECK(call) do { DtStatus* s = (call); if (s) { \
  fprintf(stderr, "%s\n", DtGetErrorMessage(s)); return 1; } } while (0)

int main(int argc, char** argv) {
  (void)argv;
  DtEnv* env; const DtDevice *gpu, *cpu; DtValue *device, *host; DtStream* stream;
  int64_t shape[1] = {4096};
  CHECK(DtCreateEnv(&env));
  CHECK(DtGetDevice(env, DT_DEVICE_WEBGPU, 0, &gpu));
  CHECK(DtGetDevice(env, DT_DEVICE_CPU, 0, &cpu));
  CHECK(DtCreateTensor(env, gpu, DT_FLOAT, shape, 1, &device));
  CHECK(DtCreateTensor(env, cpu, DT_FLOAT, shape, 1, &host));
  CHECK(DtCreateStream(env, gpu, &stream));
  const DtValue* src[2] = {host, device};
  DtValue* dst[2] = {device, host};
  CHECK(DtCopyTensors(env, src, dst, 2, stream)); /* an upload and a download, left queued */
  if (argc > 1) DtReleaseEnv(env);
  printf("exiting with live objects\n");
  return 0;
}
