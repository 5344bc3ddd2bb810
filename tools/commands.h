// The devtensor command's subcommands. Each takes the words from its name on (argv[0] is the
// command's name) and returns the exit status: 0 done, 1 failed, 2 bad usage.
#ifndef DEVTENSOR_TOOLS_COMMANDS_H_
#define DEVTENSOR_TOOLS_COMMANDS_H_

// `devtensor info`: providers, their libraries and versions, devices and their properties, and
// the provider libraries that did not load.
int InfoCommand(int argc, char** argv);
extern const char* const kInfoUsage;

// `devtensor version`: the loaded library's version, and the headers' when they differ.
int VersionCommand(int argc, char** argv);
extern const char* const kVersionUsage;

// `devtensor bench [options]`: runs devtensor-bench from beside this executable.
int BenchCommand(int argc, char** argv);
extern const char* const kBenchUsage;

// For a command that takes no options but got some: prints `usage` and returns 0 for --help or
// -h, else prints what is wrong and `usage` and returns 2.
int HelpOrUsageError(int argc, char** argv, const char* usage);

#endif  // DEVTENSOR_TOOLS_COMMANDS_H_
