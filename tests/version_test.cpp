// The version an application sees at run time, and the check that refuses an older library.
#include <cstdio>

#include "test_util.h"

namespace {

TEST(Version, TheLoadedLibraryReportsTheVersionOfItsHeader) {
  uint32_t major = 99, minor = 99, patch = 99;
  DtGetVersion(&major, &minor, &patch);
  EXPECT_EQ(major, uint32_t(DT_VERSION_MAJOR));
  EXPECT_EQ(minor, uint32_t(DT_VERSION_MINOR));
  EXPECT_EQ(patch, uint32_t(DT_VERSION_PATCH));
  char text[32];
  std::snprintf(text, sizeof text, "%u.%u.%u", major, minor, patch);
  EXPECT_STREQ(text, DT_VERSION_STRING);
  // Any out-pointer may be left out.
  uint32_t only_minor = 99;
  DtGetVersion(nullptr, &only_minor, nullptr);
  EXPECT_EQ(only_minor, uint32_t(DT_VERSION_MINOR));
  DtGetVersion(nullptr, nullptr, nullptr);
  EXPECT_EQ(DtIsLibraryCompatible(), 1);
}

TEST(Version, EveryProviderOfAFreshEnvSaysItsVersion) {
  DtEnv* env = nullptr;
  DT_ASSERT_OK(DtCreateEnv(&env));
  size_t count = 0;
  DT_ASSERT_OK(DtGetProviderCount(env, &count));
  for (size_t i = 0; i < count; ++i) {
    DtProviderInfo info = DT_PROVIDER_INFO_INIT;
    DT_ASSERT_OK(DtGetProviderInfo(env, i, &info));
    EXPECT_STREQ(info.version, DT_VERSION_STRING) << info.registration_name;
  }
  DtReleaseEnv(env);
}

}  // namespace
