// Helpers shared by the tests: status checks, random bytes, sentinel-guarded buffers.
#ifndef DEVTENSOR_TESTS_TEST_UTIL_H_
#define DEVTENSOR_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"

namespace devtensor_test {

// Expects success; on failure prints the status's code and message.
#define DT_EXPECT_OK(call)                                                                   \
  do {                                                                                       \
    DtStatus* s_ = (call);                                                                   \
    EXPECT_EQ(s_, nullptr) << DtGetErrorCodeName(DtGetErrorCode(s_)) << ": "                  \
                           << DtGetErrorMessage(s_);                                         \
    DtReleaseStatus(s_);                                                                     \
  } while (0)
#define DT_ASSERT_OK(call)                                                                   \
  do {                                                                                       \
    DtStatus* s_ = (call);                                                                   \
    ASSERT_EQ(s_, nullptr) << DtGetErrorCodeName(DtGetErrorCode(s_)) << ": "                  \
                           << DtGetErrorMessage(s_);                                         \
  } while (0)

// The code and message of a status, which is released.
struct Outcome {
  DtErrorCode code;
  std::string message;
};
inline Outcome Take(DtStatus* status) {
  Outcome o{DtGetErrorCode(status), DtGetErrorMessage(status)};
  DtReleaseStatus(status);
  return o;
}

// Expects `call` to fail with `code` and a message containing every one of `parts`.
#define DT_EXPECT_ERROR(call, expected_code, ...)                                            \
  do {                                                                                       \
    ::devtensor_test::Outcome o_ = ::devtensor_test::Take(call);                             \
    EXPECT_EQ(o_.code, expected_code) << o_.message;                                                  \
    for (const char* part_ : {__VA_ARGS__}) {                                                \
      EXPECT_NE(o_.message.find(part_), std::string::npos)                                   \
          << "message \"" << o_.message << "\" lacks \"" << part_ << "\"";                  \
    }                                                                                        \
  } while (0)

// A random engine with a fresh seed each run, or DEVTENSOR_TEST_SEED to repeat one. Tests put
// SCOPED_TRACE(random.trace()) first so that a failure prints the seed.
struct Random {
  Random() {
    const char* fixed = std::getenv("DEVTENSOR_TEST_SEED");
    std::random_device device;
    seed = fixed ? std::strtoull(fixed, nullptr, 10) : (uint64_t(device()) << 32) ^ device();
    engine.seed(seed);
  }
  std::string trace() const { return "DEVTENSOR_TEST_SEED=" + std::to_string(seed); }
  uint64_t operator()() { return engine(); }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(engine);
  }
  uint64_t seed = 0;
  std::mt19937_64 engine;
};

inline std::vector<uint8_t> RandomBytes(Random& rng, size_t n) {
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

// The byte every guard region holds; chosen so that neither zeros nor copies are likely to match.
constexpr uint8_t kSentinel = 0xA5;

}  // namespace devtensor_test

#endif  // DEVTENSOR_TESTS_TEST_UTIL_H_
