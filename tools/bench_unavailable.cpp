// `devtensor bench` in a build without benchmarks (DEVTENSOR_BUILD_BENCHMARKS=OFF).
#include <cstdio>

#include "commands.h"

int BenchCommand(int, char**) {
  std::fprintf(stderr, "devtensor bench: this build has no benchmarks (configure with -DDEVTENSOR_BUILD_BENCHMARKS=ON)\n");
  return 2;
}
