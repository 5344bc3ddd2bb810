#include "bandwidth_plot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "text_format.h"

namespace devtensor::tools {
namespace {

struct Panel {
  const char* family;
  const char* title;
};
constexpr Panel kPanels[] = {{"upload", "host -> device (upload)"},
                             {"download", "device -> host (download)"},
                             {"upload_pageable", "pageable host -> device"},
                             {"download_pageable", "device -> pageable host"},
                             {"device_copy", "device -> device"},
                             {"cpu_copy", "host -> host (cpu_copy)"}};

constexpr const char* kStyles[] = {"lw 2 pt 7", "lw 2 pt 5 dt 2", "lw 2 pt 9 dt 3", "lw 2 pt 11 dt 4"};

std::string PlotLabel(const std::string& contender) {
  if (contender == "cuda") return "CUDA (pinned host memory)";
  if (contender == "cuda_pageable") return "CUDA (pageable host memory)";
  return Label(contender);
}

// Runs gnuplot on `script` inside `dir`; returns its exit status (127: it could not be started).
int RunGnuplot(const std::string& dir, const std::string& script) {
  const char* gnuplot = std::getenv("DEVTENSOR_GNUPLOT");
  if (gnuplot == nullptr || *gnuplot == '\0') gnuplot = "gnuplot";
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) return 127;
  if (child == 0) {
    if (chdir(dir.c_str()) == 0) execlp(gnuplot, gnuplot, script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(child, &status, 0) < 0) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

PlotOutcome DrawBandwidth(const std::string& dir, const std::string& title, const Results& results) {
  PlotOutcome outcome;
  // Bandwidth by family, size and contender.
  std::map<std::string, std::map<int64_t, std::map<std::string, double>>> data;
  std::set<int64_t> sizes;
  for (const Row& row : results.rows()) {
    if (!row.error.empty()) continue;
    for (const Panel& panel : kPanels) {
      if (row.family != panel.family) continue;
      sizes.insert(row.size);
      for (const Figure& f : row.figures) {
        if (!std::isnan(f.gbps)) data[row.family][row.size][f.contender] = f.gbps;
      }
    }
  }
  if (data.empty()) {
    outcome.message = "no transfer cases ran: no bandwidth plot";
    return outcome;
  }

  std::ofstream dat(dir + "/bandwidth.dat");
  std::ofstream gp(dir + "/bandwidth.gp");
  dat << "# devtensor bench: GB/s by transfer size; ? = not measured\n";
  gp << "# devtensor bench: bandwidth against transfer size, from bandwidth.dat.\n"
        "# Draw again with `gnuplot bandwidth.gp` in this folder.\n"
        "set datafile missing \"?\"\n"
        "set logscale x 2\n"
        "set logscale y 10\n"
        "set format y \"%g\"\n"
        "set grid xtics ytics mytics\n"
        "set key bottom right\n"
        "set style data linespoints\n"
        "set xlabel \"transfer size\"\n"
        "set ylabel \"GB/s (bytes copied / time)\"\n"
        "set xtics rotate by -45 (";
  bool first_tic = true;
  for (int64_t size : sizes) {
    gp << (first_tic ? "" : ", ") << "\"" << SizeText(size) << "\" " << size;
    first_tic = false;
  }
  gp << ")\n";
  gp << "set xrange [" << *sizes.begin() / 1.5 << ":" << *sizes.rbegin() * 1.5 << "]\n";
  // One y range for every panel, so that panels compare at a glance.
  double low = INFINITY, high = 0;
  for (const auto& [family, by_size] : data) {
    for (const auto& [size, figures] : by_size) {
      for (const auto& [contender, gbps] : figures) {
        low = std::min(low, gbps);
        high = std::max(high, gbps);
      }
    }
  }
  if (low > 0 && high > 0) {
    gp << "set yrange [" << std::pow(10, std::floor(std::log10(low))) << ":"
       << std::pow(10, std::ceil(std::log10(high))) << "]\n";
  }
  int panels = 0;
  for (const Panel& panel : kPanels) panels += data.count(panel.family) ? 1 : 0;
  // pngcairo draws smoother text; png (libgd) has fonts of its own where no font is installed.
  const std::string size = std::to_string(240 + 520 * panels) + ",640";
  gp << "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
        "  set terminal pngcairo size " << size << " noenhanced\n"
        "} else {\n"
        "  set terminal png size " << size << " noenhanced\n"
        "}\n"
        "set output \"bandwidth.png\"\n";
  gp << "set multiplot layout 1," << panels << " title \"" << title << "\"\n";

  int index = 0;
  for (const Panel& panel : kPanels) {
    auto it = data.find(panel.family);
    if (it == data.end()) continue;
    // The contenders with a figure in this panel, in table order: a curve without any point
    // would stop gnuplot.
    std::vector<std::string> contenders;
    for (const auto& [size, figures] : it->second) {
      for (const auto& [contender, gbps] : figures) {
        if (std::find(contenders.begin(), contenders.end(), contender) == contenders.end()) {
          contenders.push_back(contender);
        }
      }
    }
    std::stable_sort(contenders.begin(), contenders.end(),
                     [](const std::string& a, const std::string& b) { return TableOrder(a) < TableOrder(b); });
    dat << (index ? "\n\n" : "") << "# " << panel.family << ": size";
    for (const std::string& c : contenders) dat << " " << c;
    dat << "\n";
    for (const auto& [size, figures] : it->second) {
      dat << size;
      for (const std::string& c : contenders) {
        auto f = figures.find(c);
        if (f == figures.end()) dat << " ?";
        else dat << " " << f->second;
      }
      dat << "\n";
    }
    gp << "set title \"" << panel.title << "\"\n" << "plot ";
    for (size_t c = 0; c < contenders.size(); ++c) {
      gp << (c ? ", \\\n     " : "") << "\"bandwidth.dat\" index " << index << " using 1:" << c + 2
         << " title \"" << PlotLabel(contenders[c]) << "\" " << kStyles[c % std::size(kStyles)];
    }
    gp << "\n";
    ++index;
  }
  gp << "unset multiplot\n";
  dat.close();
  gp.close();
  outcome.written = true;

  const int status = RunGnuplot(dir, "bandwidth.gp");
  if (status == 0) {
    outcome.drawn = true;
    outcome.message = "bandwidth plot: " + dir + "/bandwidth.png";
  } else if (status == 127) {
    outcome.message = "gnuplot was not found (install gnuplot-nox, or set DEVTENSOR_GNUPLOT): the plot's data and "
                      "script are in " + dir + "; draw it with: cd " + dir + " && gnuplot bandwidth.gp";
  } else {
    outcome.message = "gnuplot failed (exit status " + std::to_string(status) + ") drawing " + dir +
                      "/bandwidth.gp; its data and script are there to draw again";
  }
  return outcome;
}

}  // namespace devtensor::tools
