// bandwidth.png: GB/s (log) against transfer size (log) for upload, download, device_copy (and,
// on CUDA, upload_pageable and download_pageable), devtensor beside each baseline, one panel per
// direction. Written as data (bandwidth.dat) and a
// gnuplot script (bandwidth.gp), then drawn by running gnuplot on them; without gnuplot both stay,
// to be drawn later with `gnuplot bandwidth.gp` in the same folder.
#ifndef DEVTENSOR_TOOLS_BENCH_BANDWIDTH_PLOT_H_
#define DEVTENSOR_TOOLS_BENCH_BANDWIDTH_PLOT_H_

#include <string>

#include "bench_results.h"

namespace devtensor::tools {

struct PlotOutcome {
  bool written = false;  // data and script are there (false: no transfer cases ran)
  bool drawn = false;    // and gnuplot drew the picture
  std::string message;   // what happened, for the user
};

// `dir` exists. DEVTENSOR_GNUPLOT names the gnuplot to run, else the one on PATH.
PlotOutcome DrawBandwidth(const std::string& dir, const std::string& title, const Results& results);

}  // namespace devtensor::tools

#endif  // DEVTENSOR_TOOLS_BENCH_BANDWIDTH_PLOT_H_
