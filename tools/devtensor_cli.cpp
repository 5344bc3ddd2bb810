// The devtensor command-line tool.
//   devtensor info      lists providers, devices and their properties
//   devtensor version   prints the library version
//   devtensor bench     runs the benchmark suite (devtensor bench --help)
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "devtensor/devtensor.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "info") == 0) return InfoCommand();
  if (argc == 2 && std::strcmp(argv[1], "version") == 0) {
    std::printf("%d.%d.%d\n", DT_VERSION_MAJOR, DT_VERSION_MINOR, DT_VERSION_PATCH);
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "bench") == 0) return BenchCommand(argc - 1, argv + 1);
  std::fprintf(stderr, "usage: devtensor info | version | bench [--help]\n");
  return 2;
}
