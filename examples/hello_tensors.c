/* Wrap a host array, copy a strided column slice of it into a new tensor, and print it. */
#include <stdio.h>
#include "devtensor/devtensor.h"

#define CHECK(call) do { DtStatus* s = (call); if (s) { \
  fprintf(stderr, "%s\n", DtGetErrorMessage(s)); DtReleaseStatus(s); return 1; } } while (0)

int main(void) {
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
