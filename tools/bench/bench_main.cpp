// devtensor-bench: the executable `devtensor bench` runs, kept apart so that the devtensor CLI links
// no benchmark code.
#include "bench_command.h"

int main(int argc, char** argv) { return RunBenchSuite(argc, argv); }
