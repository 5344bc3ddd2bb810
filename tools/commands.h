// The devtensor command's subcommands.
#ifndef DEVTENSOR_TOOLS_COMMANDS_H_
#define DEVTENSOR_TOOLS_COMMANDS_H_

// `devtensor info`: providers, devices and their properties.
int InfoCommand();

// `devtensor bench [options]`: the benchmark suite; `args` are the words after "bench".
int BenchCommand(int argc, char** argv);

#endif  // DEVTENSOR_TOOLS_COMMANDS_H_
