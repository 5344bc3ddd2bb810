// The contenders cases time, by the name their counters carry, with the labels tables and progress
// lines show, in the order tables list them.
#ifndef DEVTENSOR_BENCH_CASES_CONTENDERS_H_
#define DEVTENSOR_BENCH_CASES_CONTENDERS_H_

#include <string_view>

namespace devtensor::bench {

struct ContenderLabel {
  std::string_view name;   // counter prefix
  std::string_view label;  // table column
  std::string_view brief;  // progress line
};

inline constexpr ContenderLabel kContenderLabels[] = {
    {"devtensor", "devtensor", "devtensor"},
    {"device", "device", "device"},
    {"host", "host", "host"},
    {"captured", "captured", "captured"},
    {"one_call_each", "one call each", "each"},
    {"calls_on_stream", "calls on a stream", "stream"},
    {"raw_dawn", "raw Dawn", "raw"},
    {"memcpy", "memcpy", "memcpy"},
    {"hand_loop", "hand-written loop", "hand"},
    {"cuda", "CUDA", "cuda"},
    {"cuda_pageable", "CUDA pageable", "cuda-pageable"},
};

}  // namespace devtensor::bench

#endif  // DEVTENSOR_BENCH_CASES_CONTENDERS_H_
