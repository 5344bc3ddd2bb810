// How tables and progress lines write times, rates and sizes.
#ifndef DEVTENSOR_TOOLS_BENCH_TEXT_FORMAT_H_
#define DEVTENSOR_TOOLS_BENCH_TEXT_FORMAT_H_

#include <cstdint>
#include <string>

namespace devtensor::tools {

// "12.3 µs", "4.56 ms", "1.23 s"; "-" for NaN
std::string TimeText(double us);
// "0.055", "3.10", "50.1", "3900"; "-" for NaN
std::string RateText(double gbps);
// "4 KiB", "256 MiB", "1 GiB"
std::string SizeText(int64_t bytes);
// "1.04×"; "-" for NaN
std::string RatioText(double ratio);

}  // namespace devtensor::tools

#endif  // DEVTENSOR_TOOLS_BENCH_TEXT_FORMAT_H_
