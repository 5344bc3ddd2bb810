// `devtensor bench`: runs devtensor-bench, the benchmark suite, from the folder of this executable
// with the same arguments. The suite lives in its own executable so that the CLI links no
// benchmark code and `make run` does not build it.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_usage.h"
#include "commands.h"

const char* const kBenchUsage = devtensor::tools::kBenchUsage;

namespace {

constexpr const char* kBenchExecutable = "devtensor-bench";

// The path of `name` in the folder of the running executable; "" when that is unknown.
std::string Sibling(const char* name) {
  char self[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return "";
  std::string path(self, size_t(length));
  return path.substr(0, path.rfind('/') + 1) + name;
}

bool AsksForHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

void SayNotBuilt(const std::string& path) {
#ifdef DEVTENSOR_CLI_BENCHMARKS_CONFIGURED
  std::fprintf(stderr,
               "devtensor bench: %s is not built; build it with `make bench` (which also runs the "
               "suite) or `cmake --build BUILD --target devtensor_bench_cli`\n",
               path.c_str());
#else
  std::fprintf(stderr,
               "devtensor bench: %s is not built: this build has no benchmarks; configure with "
               "-DDEVTENSOR_BUILD_BENCHMARKS=ON, then `make bench`\n",
               path.c_str());
#endif
}

}  // namespace

int BenchCommand(int argc, char** argv) {
  if (AsksForHelp(argc, argv)) {
    std::fputs(kBenchUsage, stdout);
    return 0;
  }
  const std::string path = Sibling(kBenchExecutable);
  if (path.empty() || access(path.c_str(), X_OK) != 0) {
    SayNotBuilt(path.empty() ? kBenchExecutable : path);
    return 1;
  }
  std::vector<char*> args = {const_cast<char*>(path.c_str())};
  args.insert(args.end(), argv + 1, argv + argc);
  args.push_back(nullptr);
  std::fflush(nullptr);
  execv(path.c_str(), args.data());
  std::fprintf(stderr, "devtensor bench: cannot run %s: %s\n", path.c_str(), std::strerror(errno));
  return 1;
}
