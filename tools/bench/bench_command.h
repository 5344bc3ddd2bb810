// devtensor-bench: the benchmark suite, run by `devtensor bench` (tools/bench_launcher.cpp).
#ifndef DEVTENSOR_TOOLS_BENCH_BENCH_COMMAND_H_
#define DEVTENSOR_TOOLS_BENCH_BENCH_COMMAND_H_

// Runs the suite with the options in argv[1..] (devtensor bench --help); returns the exit status.
int RunBenchSuite(int argc, char** argv);

#endif  // DEVTENSOR_TOOLS_BENCH_BENCH_COMMAND_H_
