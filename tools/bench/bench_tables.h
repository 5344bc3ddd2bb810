// The tables `devtensor bench` prints and writes to bench.md: one per kind of case (cases with
// the same contenders share one), and the decode step's, with host/device, device/captured and
// how flat the step time stays from the smallest t to the largest.
#ifndef DEVTENSOR_TOOLS_BENCH_BENCH_TABLES_H_
#define DEVTENSOR_TOOLS_BENCH_BENCH_TABLES_H_

#include <string>
#include <vector>

#include "bench_results.h"

namespace devtensor::tools {

struct Table {
  std::string title;
  std::vector<std::string> head;
  size_t label_columns = 2;  // leading columns that name the row (left-aligned); figures follow
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;  // printed below the table
};

std::vector<Table> BuildTables(const Results& results);

// Fixed-width text for a terminal.
std::string TextTables(const std::string& heading, const std::vector<std::string>& notes,
                       const std::vector<Table>& tables);
// GitHub-flavoured markdown.
std::string MarkdownTables(const std::string& heading, const std::vector<std::string>& notes,
                           const std::vector<Table>& tables);

}  // namespace devtensor::tools

#endif  // DEVTENSOR_TOOLS_BENCH_BENCH_TABLES_H_
