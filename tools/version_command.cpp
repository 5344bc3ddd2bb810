// `devtensor version`: the version of the loaded library, and of the headers this tool was built
// with when they differ (a library installed apart from the tool).
#include <cstdio>

#include "commands.h"
#include "devtensor/devtensor.hpp"

const char* const kVersionUsage =
    "usage: devtensor version\n"
    "\n"
    "Prints the version of the devtensor library loaded at run time, and the version of the\n"
    "devtensor.h this tool was built with when the two differ.\n"
    "  -h, --help  this text\n";

int VersionCommand(int argc, char** argv) {
  if (argc > 1) return HelpOrUsageError(argc, argv, kVersionUsage);
  const devtensor::Version library = devtensor::library_version();
  constexpr devtensor::Version header = devtensor::header_version();
  std::printf("%s\n", library.text().c_str());
  if (library != header) {
    std::printf("built with devtensor.h %s; %s\n", header.text().c_str(),
                devtensor::is_library_compatible() ? "the library is compatible with it"
                                                 : "the library is older: it may lack what the "
                                                   "tool uses");
  }
  return 0;
}
