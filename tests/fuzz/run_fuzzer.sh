#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time from its seed corpus and prints its exec figures.
#   run_fuzzer.sh TARGET SECONDS WORK_CORPUS_DIR SEED_CORPUS_DIR
# New inputs go to WORK_CORPUS_DIR (the seeds are never written). A crash input and the target's
# output stay in WORK_CORPUS_DIR/.. for reading; DT_FUZZ_TRACE=1 TARGET CRASH_FILE replays one.
set -euo pipefail
target=$1 seconds=$2 work=$3 seeds=$4
name=$(basename "$target")
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
log="$work.log"
artifacts="$work.artifacts/"
mkdir -p "$artifacts"
# Leaks inside the GPU driver are not devtensor's (see tests/lsan.supp).
export LSAN_OPTIONS="suppressions=$here/../lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="abort_on_error=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
status=0
"$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=60 -rss_limit_mb=6144 \
  -max_len=1024 -artifact_prefix="$artifacts" "$work" "$seeds" >"$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
if [ "$status" -ne 0 ] || [ -z "$runs" ]; then
  tail -n 80 "$log"
  echo "$name: FAILED (exit $status); log $log, crash inputs in $artifacts"
  exit 1
fi
grep -m 1 -i 'no WebGPU device' "$log" || true
corpus=$(ls "$work" | wc -l)
echo "$name: $runs runs in ${seconds} s, $rate execs/s, corpus $corpus inputs"
