#include "text_format.h"

#include <cmath>
#include <cstdio>

namespace devtensor::tools {

std::string TimeText(double us) {
  char text[32];
  if (std::isnan(us)) return "-";
  if (us < 1000) std::snprintf(text, sizeof text, "%.1f µs", us);
  else if (us < 1e6) std::snprintf(text, sizeof text, "%.2f ms", us / 1e3);
  else std::snprintf(text, sizeof text, "%.2f s", us / 1e6);
  return text;
}

std::string RateText(double gbps) {
  char text[32];
  if (std::isnan(gbps)) return "-";
  const char* format = gbps >= 100 ? "%.0f" : gbps >= 10 ? "%.1f" : gbps >= 1 ? "%.2f" : "%.3f";
  std::snprintf(text, sizeof text, format, gbps);
  return text;
}

std::string SizeText(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = double(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, value == std::floor(value) ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

std::string RatioText(double ratio) {
  if (std::isnan(ratio)) return "-";
  char text[32];
  // Two significant digits at least: a ratio of 0.0024 must not read 0.00.
  std::snprintf(text, sizeof text, ratio >= 100 ? "%.0f×" : ratio >= 10 ? "%.1f×" : ratio >= 0.1 ? "%.2f×" : "%.2g×", ratio);
  return text;
}

}  // namespace devtensor::tools
