// The devtensor command-line tool.
//   devtensor info      lists providers, devices and their properties
//   devtensor version   prints the library version
//   devtensor bench     runs the benchmark suite (devtensor bench --help)
//   devtensor help      lists the commands and options
#include <cstdio>
#include <cstring>

#include "commands.h"

namespace {

constexpr const char* kUsage =
    "usage: devtensor COMMAND [--help]\n"
    "       devtensor help [COMMAND]\n"
    "\n"
    "Commands:\n"
    "  info      the providers devtensor finds (library, version, provider ABI), their devices\n"
    "            and properties, and why a provider library did not load\n"
    "  version   the version of the loaded devtensor library\n"
    "  bench     the benchmark suite beside its baselines (built by `make bench`; its\n"
    "            options: devtensor bench --help)\n"
    "  help      this text, or a command's usage (devtensor help COMMAND)\n"
    "\n"
    "Options:\n"
    "  -h, --help  this text; after a command, that command's usage\n";

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* const* usage;
};

const Command kCommands[] = {
    {"info", InfoCommand, &kInfoUsage},
    {"version", VersionCommand, &kVersionUsage},
    {"bench", BenchCommand, &kBenchUsage},
};

const Command* Find(const char* name) {
  for (const Command& command : kCommands) {
    if (std::strcmp(command.name, name) == 0) return &command;
  }
  return nullptr;
}

bool IsHelp(const char* word) {
  return std::strcmp(word, "--help") == 0 || std::strcmp(word, "-h") == 0 ||
         std::strcmp(word, "help") == 0;
}

int UsageError(const char* what, const char* word) {
  std::fprintf(stderr, "devtensor: %s %s\n\n%s", what, word, kUsage);
  return 2;
}

// `devtensor help [COMMAND]`.
int Help(int argc, char** argv) {
  if (argc == 1) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc > 2) return UsageError("help: one command at most, not also", argv[2]);
  const Command* command = Find(argv[1]);
  if (command == nullptr) return UsageError("help: unknown command", argv[1]);
  std::fputs(*command->usage, stdout);
  return 0;
}

}  // namespace

int HelpOrUsageError(int argc, char** argv, const char* usage) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(usage, stdout);
    return 0;
  }
  const bool option = argv[1][0] == '-';
  std::fprintf(stderr, "devtensor %s: unknown %s %s\n\n%s", argv[0], option ? "option" : "argument",
               argv[1], usage);
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "devtensor: no command given\n\n%s", kUsage);
    return 2;
  }
  if (IsHelp(argv[1])) return Help(argc - 1, argv + 1);
  if (const Command* command = Find(argv[1])) return command->run(argc - 1, argv + 1);
  return UsageError(argv[1][0] == '-' ? "unknown option" : "unknown command", argv[1]);
}
