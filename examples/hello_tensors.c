/* Wrap a host array, copy a strided column slice of it into a new tensor, and print it. */
#include <stdio.h>
#include <string.h>
#include "devtensor/devtensor.h"

#define CHECK(call) do { DtStatus* s = (call); if (s) { \
  fprintf(stderr, "%s\n", DtGetErrorMessage(s)); DtReleaseStatus(s); return 1; } } while (0)

static const char kUsage[] = "usage: hello_tensors [--help]\n"
    "Wraps a host array without copying and copies a strided column slice of it out.\n";

int main(int argc, char** argv) {
  if (argc > 1) { /* the one option is --help */
    int help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (!help) fprintf(stderr, "hello_tensors: unknown option %s\n\n", argv[1]);
    fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  printf("hello_tensors: a host array wrapped without copying, and a strided column of it copied out\n");
  float host[3][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}};
  int64_t shape[2] = {3, 4}, column_shape[2] = {3, 1};
  DtEnv* env; const DtDevice* cpu; DtValue *matrix, *column, *copy;
  CHECK(DtCreateEnv(&env));
  CHECK(DtGetDevice(env, DT_DEVICE_CPU, 0, &cpu));
  CHECK(DtCreateTensorWithData(env, cpu, host, sizeof host, 0, DT_FLOAT, shape, 2, &matrix));
  CHECK(DtSliceTensor(matrix, 1, 2, 1, &column));             /* host[:, 2:3], strides {4, 1} */
  CHECK(DtCreateTensor(env, cpu, DT_FLOAT, column_shape, 2, &copy));
  CHECK(DtCopyTensors(env, (const DtValue* const*)&column, &copy, 1, NULL));
  float* out; CHECK(DtGetTensorData(copy, (void**)&out));
  printf("column 2: %g %g %g\n", out[0], out[1], out[2]);   /* 2 6 10 */
  DtReleaseEnv(env);                  /* any order: tensors keep what they use alive */
  DtReleaseValue(column); DtReleaseValue(matrix); DtReleaseValue(copy);
  return 0;
}
