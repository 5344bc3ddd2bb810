/* What both consumers report and check besides their round trips: the library's version, where
 * the provider libraries were loaded from, and that no file of the given trees is mapped. */
#ifndef DEVTENSOR_CONSUMER_CHECKS_H_
#define DEVTENSOR_CONSUMER_CHECKS_H_

#include <stdio.h>
#include <string.h>

#include "devtensor/devtensor.h"

/* 1 when the library loaded serves the header this program was compiled with. */
static int ReportVersion(const char* program) {
  uint32_t major = 0, minor = 0, patch = 0;
  DtGetVersion(&major, &minor, &patch);
  const int compatible = DtIsLibraryCompatible();
  printf("%s: devtensor %u.%u.%u, header %s, DtIsLibraryCompatible: %s\n", program, major, minor,
         patch, DT_VERSION_STRING, compatible ? "yes" : "NO");
  return compatible;
}

static void ReportProviders(const DtEnv* env) {
  size_t count = 0;
  if (DtGetProviderCount(env, &count) != NULL) return;
  for (size_t i = 0; i < count; ++i) {
    DtProviderInfo info = DT_PROVIDER_INFO_INIT;
    if (DtGetProviderInfo(env, i, &info) != NULL) continue;
    printf("  provider %-7s %s\n", info.registration_name,
           info.library_path[0] ? info.library_path : "(built in)");
  }
}

/* 1 when `path` is `directory` or lies under it. */
static int LiesUnder(const char* path, const char* directory) {
  const size_t n = strlen(directory);
  return strncmp(path, directory, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* 1 when no file mapped into this process lies under any of `directories`. */
static int NothingMappedFrom(char* const* directories, int count) {
  FILE* maps = fopen("/proc/self/maps", "r");
  if (maps == NULL) {
    perror("/proc/self/maps");
    return 0;
  }
  char line[4096], previous[4096] = "";
  int files = 0, clean = 1;
  while (fgets(line, sizeof line, maps) != NULL) {
    char* path = strchr(line, '/');
    if (path == NULL) continue;
    path[strcspn(path, "\n")] = '\0';
    if (strcmp(path, previous) == 0) continue;
    snprintf(previous, sizeof previous, "%s", path);
    ++files;
    for (int i = 0; i < count; ++i) {
      if (LiesUnder(path, directories[i])) {
        printf("  MAPPED FROM A FORBIDDEN TREE: %s (under %s)\n", path, directories[i]);
        clean = 0;
      }
    }
  }
  fclose(maps);
  if (clean) printf("  %d mapped files, none under the build tree or the source tree\n", files);
  return clean;
}

#endif /* DEVTENSOR_CONSUMER_CHECKS_H_ */
