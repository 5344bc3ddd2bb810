#!/usr/bin/env bash
# Runs the test suite (and, with --bench, the WebGPU benchmarks) on a machine with an NVIDIA GPU,
# through Dawn's Vulkan backend (WebGPU) and through the CUDA provider. Two steps:
#
#   scripts/gpu-check.sh prepare   here: builds (in $BUILD, default build), then stages in .gpu/
#                                  everything the GPU machine lacks (the build with the Dawn
#                                  runtime beside its WebGPU provider and, when built, the CUDA
#                                  provider beside it, the Vulkan loader packages, Google
#                                  Benchmark's library)
#   scripts/gpu-check.sh run [--bench]
#                                  there, from the repository root with .gpu/ beside it: brings up
#                                  Vulkan, runs every test (CUDA's too), writes a summary (and the
#                                  benchmark tables and JSON, and the decode step at the Llama-8B
#                                  shape on WebGPU and on CUDA) under $OUT (default: .gpu/out)
#
# The CUDA provider needs nothing staged: the GPU machine's NVIDIA driver (libcuda.so.1) and its
# CUDA toolkit's NVRTC, which scripts/gpu-env.sh points it at (CUDA_HOME).
#
# scripts/gpu-bench.sh runs the whole benchmark suite with tables and a plot (`devtensor bench`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-env.sh
STAGE=.gpu
# The build tree prepare makes and stages (`make build` into it).
BUILD=${BUILD:-build}
# Vulkan loader and the GL vendor-neutral dispatch libraries the NVIDIA ICD needs.
LOADER_PACKAGES=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)

prepare() {
  make build BUILD="$BUILD"
  rm -rf "$STAGE/build" "$STAGE/lib" && mkdir -p "$STAGE/build/devtensor" "$STAGE/build/tests" \
    "$STAGE/build/bench" "$STAGE/build/tools" "$STAGE/build/examples" "$STAGE/lib" "$STAGE/debs"
  local exclude
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qxF "/$STAGE/" "$exclude" 2>/dev/null || echo "/$STAGE/" >>"$exclude"
  # The build tree's layout: the providers in devtensor/ beside the library, Dawn beside them.
  local b=$BUILD
  cp -a "$b"/libdevtensor.so* "$STAGE/build/"
  cp -a "$b/devtensor/libdevtensor_webgpu.so" "$STAGE/build/devtensor/"
  if [ -f "$b/devtensor/libdevtensor_cuda.so" ]; then
    cp -a "$b/devtensor/libdevtensor_cuda.so" "$STAGE/build/devtensor/"
  else
    echo "prepare: $b/devtensor/libdevtensor_cuda.so was not built: the GPU machine checks no CUDA" >&2
  fi
  cp -a "$b/tests/devtensor_tests" "$b/tests/onnx_conformance" "$b/tests/exit_with_live_objects" \
    "$b"/tests/*.so "$STAGE/build/tests/"
  cp -a "$b/bench/devtensor_bench" "$b/bench/devtensor_webgpu_bench" "$STAGE/build/bench/"
  cp -a "$b/tools/devtensor" "$b/tools/devtensor-bench" "$STAGE/build/tools/"
  cp -a "$b/examples/hello_tensors" "$b/examples/kv_cache_append" "$b/examples/decode_loop" \
    "$STAGE/build/examples/"
  find "$STAGE/build" -type f -exec strip --strip-debug {} +
  # Dawn as it was shipped (not stripped), beside the provider as in the build tree.
  cp -a "$b/devtensor/libwebgpu_wrapper.so" "$STAGE/build/devtensor/"
  cp -a /usr/lib/x86_64-linux-gnu/libbenchmark.so.1* /usr/lib/x86_64-linux-gnu/libonnx_proto.so.1* \
    /usr/lib/x86_64-linux-gnu/libprotobuf.so.32* "$STAGE/lib/"
  # The ONNX node tests of the ops devtensor implements.
  rm -rf "$STAGE/onnx" && mkdir -p "$STAGE/onnx"
  local op
  for op in cast add sub mul div where scatternd argmax expand; do
    cp -a /usr/share/libonnx-testdata/data/node/test_"$op"* "$STAGE/onnx/"
  done
  if ! ls "$STAGE"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
    local lists
    lists=$(mktemp -d)
    local opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
    apt-get "${opts[@]}" update -qq
    (cd "$STAGE/debs" && apt-get "${opts[@]}" download "${LOADER_PACKAGES[@]}")
    rm -rf "$lists"
  fi
  du -sh "$STAGE"
}

# What `devtensor info` says about CUDA: the CUDA provider, its devices and their properties, or
# the line on why its library did not load.
cuda_info() {
  "$1/tools/devtensor" info | awk '/^  [^ ]/ { show = /cuda/ } /^[^ ]/ { show = 0 } show || /cuda/'
}

run() {
  local bench=0
  [ "${1:-}" = "--bench" ] && bench=1
  local out=${OUT:-$STAGE/out}
  mkdir -p "$out"
  gpu_bring_up "$STAGE"
  local b=$STAGE/build status=0 cuda=0
  case "$("$b/tools/devtensor" info 2>&1 || true)" in *"device CUDA:0"*) cuda=1 ;; esac
  {
    echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    echo "== devtensor info"; "$b/tools/devtensor" info
    echo "== CUDA (CUDA_HOME=${CUDA_HOME:-unset})"; cuda_info "$b"
    [ "$cuda" = 1 ] || echo "no CUDA device: its tests, ONNX cases and examples are skipped"
    echo "== examples"; "$b/examples/hello_tensors" && "$b/examples/kv_cache_append" &&
      "$b/examples/decode_loop" && { [ "$cuda" = 0 ] || "$b/examples/decode_loop" --device cuda; }
  } 2>&1 | tee "$out/summary.txt" || status=1
  echo "== tests" | tee -a "$out/summary.txt"
  "$b/tests/devtensor_tests" --gtest_brief=1 >"$out/tests.txt" 2>&1 || status=1
  DEVTENSOR_WEBGPU_RUNTIME=/nonexistent/libwebgpu_wrapper.so DT_TEST_WITHOUT_WEBGPU_RUNTIME=1 \
    "$b/tests/devtensor_tests" --gtest_brief=1 --gtest_filter='WebGpuWithoutRuntime.*' \
    >>"$out/tests.txt" 2>&1 || status=1
  "$b/tests/exit_with_live_objects" >>"$out/tests.txt" 2>&1 || status=1
  "$b/tests/onnx_conformance" --data "$STAGE/onnx" >"$out/onnx.txt" 2>&1 || status=1
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests? from .* ran|^\[  FAILED  \]" "$out/tests.txt" | tee -a "$out/summary.txt"
  grep -E "(cpu|webgpu|cuda): |passed, .* failed" "$out/onnx.txt" | tee -a "$out/summary.txt"
  if [ "$bench" = 1 ]; then
    echo "== CPU benchmarks" | tee -a "$out/summary.txt"
    # The decode step runs below, as the example; transfers stop at 256 MiB here
    # (scripts/gpu-bench.sh runs everything).
    export DEVTENSOR_BENCH_MAX_BYTES=${DEVTENSOR_BENCH_MAX_BYTES:-268435456}
    "$b/bench/devtensor_bench" --benchmark_repetitions="${REPETITIONS:-3}" --benchmark_filter=-decode \
      --benchmark_report_aggregates_only=true --benchmark_out="$out/cpu_bench.json" \
      --benchmark_out_format=json >"$out/cpu_bench.txt" 2>&1 || status=1
    python3 bench/ratios.py "$out/cpu_bench.json" --markdown | tee -a "$out/summary.txt"
    echo "== WebGPU benchmarks" | tee -a "$out/summary.txt"
    "$b/bench/devtensor_webgpu_bench" --benchmark_repetitions="${REPETITIONS:-3}" --benchmark_filter=-decode \
      --benchmark_report_aggregates_only=true --benchmark_out="$out/webgpu_bench.json" \
      --benchmark_out_format=json >"$out/webgpu_bench.txt" 2>&1 || status=1
    python3 bench/ratios.py "$out/webgpu_bench.json" --markdown | tee -a "$out/summary.txt"
  fi
  if [ "$bench" = 1 ]; then
    echo "== decode step, Llama-8B shape (32 layers, 8 KV heads, head dim 128, fp16, max length 4096)" |
      tee -a "$out/summary.txt"
    local devices=(webgpu) device
    [ "$cuda" = 1 ] && devices+=(cuda)
    for t in 128 1024 4000; do
      for device in "${devices[@]}"; do
        "$b/examples/decode_loop" --device "$device" --layers 32 --kv-heads 8 --head-dim 128 \
          --max-length 4096 --vocab 128256 --start "$t" --steps "${DECODE_STEPS:-5}" 2>&1 |
          tee -a "$out/summary.txt" || status=1
      done
    done
    [ "$cuda" = 1 ] || echo "decode step on CUDA: skipped, no CUDA device" | tee -a "$out/summary.txt"
  fi
  echo "== exit $status" | tee -a "$out/summary.txt"
  return $status
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 prepare | run [--bench]" >&2; exit 2 ;;
esac
