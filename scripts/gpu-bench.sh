#!/usr/bin/env bash
# Runs the benchmark suite (`devtensor bench`) on a machine with an NVIDIA GPU: on WebGPU through
# Dawn's Vulkan backend, beside raw Dawn and, when the machine has a CUDA runtime, cudaMemcpy; on
# CUDA (devtensor's CUDA provider) beside cudaMemcpy; and the decode step in PyTorch, eager and as a
# CUDA graph, beside devtensor's. Two steps:
#
#   scripts/gpu-bench.sh prepare   here: what `scripts/gpu-check.sh prepare` stages in .gpu/, the
#                                  CUDA provider when it is built, and gnuplot with the libraries
#                                  and a font it needs, packed in .gpu/gnuplot.tar.gz (the GPU
#                                  machine may have no gnuplot and no package registry)
#   scripts/gpu-bench.sh run       there, from the repository root with .gpu/ beside it: brings up
#                                  Vulkan, finds libcudart, and writes under $OUT (default .gpu/out):
#     webgpu  every WebGPU case (transfers 4 KiB to 1 GiB, small updates, KV append, the decode
#             step at t = 128, 1024, 4000): bench.md, bench.json, bandwidth.png
#     cuda    every CUDA case (transfers from pinned and pageable host memory and device copies,
#             4 KiB to 256 MiB; the 4-byte update at byte 1026; the decode step at t = 128, 1024,
#             4000): cuda/bench.md, cuda/bench.json, cuda/bandwidth.png
#     torch   bench/torch_decode_step.py: its check, its eager and graph times and the ratios to
#             devtensor's CUDA decode step, one JSON object a line, in torch_decode_step.jsonl;
#             and whether its tokens equal the example's (decode_loop on the CPU, same state)
#   with the log of all of them in bench.txt.
#
# REPETITIONS (default 5) and MIN_TIME (seconds of devtensor time per repetition of a case,
# default 0.2) tune the run; with 3 and 0.1 the WebGPU part took under 2 minutes on an H200
# machine, with the defaults about 4. DEVICES picks the parts (default "webgpu cuda torch"; torch
# needs cuda's bench.json for its ratios). BENCH_ARGS adds options to the WebGPU run,
# CUDA_BENCH_ARGS to the CUDA run (devtensor bench --help), TORCH_ARGS to the PyTorch script
# (bench/torch_decode_step.py --help); CUDA_MAX_BYTES caps the CUDA transfers (default 256M).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-env.sh
STAGE=.gpu
GNUPLOT_STAGE=$STAGE/gnuplot
# glibc's own libraries come from the machine, never from the stage.
GLIBC_LIBRARIES='^(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so'
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

# gnuplot, the libraries ldd says it loads (but glibc's) and one font with a fontconfig file of its
# own, behind a wrapper that points the loader and fontconfig at them.
stage_gnuplot() {
  local gnuplot library
  gnuplot=$(readlink -f "$(command -v gnuplot)") || { echo "gpu-bench: no gnuplot here (scripts/setup.sh installs it)" >&2; return 1; }
  [ -f "$FONT" ] || { echo "gpu-bench: $FONT is missing (package fonts-dejavu-core)" >&2; return 1; }
  rm -rf "$GNUPLOT_STAGE" "$STAGE/gnuplot.tar.gz"
  mkdir -p "$GNUPLOT_STAGE/bin" "$GNUPLOT_STAGE/lib" "$GNUPLOT_STAGE/fonts"
  cp "$gnuplot" "$GNUPLOT_STAGE/bin/gnuplot.real"
  ldd "$gnuplot" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r library; do
    basename "$library" | grep -qE "$GLIBC_LIBRARIES" || cp -L "$library" "$GNUPLOT_STAGE/lib/"
  done
  cp "$FONT" "$GNUPLOT_STAGE/fonts/"
  cat >"$GNUPLOT_STAGE/fonts/fonts.conf" <<'CONF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir prefix="relative">.</dir>
  <cachedir>/tmp/devtensor-gnuplot-fontconfig</cachedir>
</fontconfig>
CONF
  cat >"$GNUPLOT_STAGE/bin/gnuplot" <<'WRAPPER'
#!/bin/sh
# gnuplot carried from the build machine, with the libraries and the font it was staged with.
# Only shell built-ins here: it must run with any PATH.
here=$(cd "${0%/*}/.." && pwd)
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
FONTCONFIG_FILE="$here/fonts/fonts.conf" GDFONTPATH="$here/fonts" GNUPLOT_DEFAULT_GDFONT=DejaVuSans \
  exec "$here/bin/gnuplot.real" "$@"
WRAPPER
  chmod +x "$GNUPLOT_STAGE/bin/gnuplot"
  check_staged_gnuplot
  # Packed: the libraries are most of the stage's size, and compress to a third.
  tar -C "$STAGE" -czf "$STAGE/gnuplot.tar.gz" gnuplot
  rm -rf "$GNUPLOT_STAGE"
}

# The staged gnuplot draws a PNG with no PATH, no environment and only the staged libraries and font.
check_staged_gnuplot() {
  local work gnuplot=$PWD/$GNUPLOT_STAGE/bin/gnuplot
  work=$(mktemp -d)
  printf 'set terminal pngcairo size 400,300\nset output "check.png"\nset title "staged gnuplot"\nplot sin(x)\n' >"$work/check.gp"
  (cd "$work" && env -i PATH=/nonexistent HOME="$work" "$gnuplot" check.gp)
  [ -s "$work/check.png" ] || { echo "gpu-bench: the staged gnuplot drew nothing" >&2; rm -rf "$work"; return 1; }
  if env -i LD_TRACE_LOADED_OBJECTS=1 LD_LIBRARY_PATH="$PWD/$GNUPLOT_STAGE/lib" "$GNUPLOT_STAGE/bin/gnuplot.real" |
      grep -q 'not found'; then
    echo "gpu-bench: the staged gnuplot lacks a library" >&2
    rm -rf "$work"
    return 1
  fi
  rm -rf "$work"
  echo "gpu-bench: staged gnuplot draws with no PATH and its own libraries and font"
}

# The CUDA provider beside the WebGPU one, as in the build tree, when it is built.
stage_cuda_provider() {
  local provider=${BUILD:-build}/devtensor/libdevtensor_cuda.so
  if [ ! -f "$provider" ]; then
    echo "gpu-bench: $provider is not built: the CUDA cases will say there is no CUDA device" >&2
    return 0
  fi
  if [ ! -f "$STAGE/build/devtensor/libdevtensor_cuda.so" ]; then
    cp -a "$provider" "$STAGE/build/devtensor/"
    strip --strip-debug "$STAGE/build/devtensor/libdevtensor_cuda.so"
  fi
}

prepare() {
  scripts/gpu-check.sh prepare
  stage_cuda_provider
  stage_gnuplot
  du -sh "$STAGE"
}

# The CUDA runtime library on this machine, if any: a CUDA toolkit, then the nvidia-cuda-runtime
# Python package, then the loader's cache.
find_cudart() {
  local candidate directory
  for candidate in /usr/local/cuda*/lib64/libcudart.so* /usr/local/cuda*/targets/*/lib/libcudart.so*; do
    [ -f "$candidate" ] && { echo "$candidate"; return; }
  done
  directory=$(python3 -c 'import nvidia.cuda_runtime as m; print(list(m.__path__)[0])' 2>/dev/null) || true
  for candidate in "$directory"/lib/libcudart.so*; do
    [ -n "$directory" ] && [ -f "$candidate" ] && { echo "$candidate"; return; }
  done
  ldconfig -p 2>/dev/null | awk '/libcudart\.so/ { print $NF; exit }' || true
}

wants() { [[ " ${DEVICES:-webgpu cuda torch} " == *" $1 "* ]]; }

# devtensor bench on CUDA into $1/cuda. A machine with a GPU must run the CUDA cases: a skip is
# a failure here.
run_cuda() {
  local out=$1 log
  log=$(mktemp)
  echo "== devtensor bench --device cuda" | tee -a "$out/bench.txt"
  # shellcheck disable=SC2086 # CUDA_BENCH_ARGS is a list of options
  "$STAGE/build/tools/devtensor" bench --device cuda --out "$out/cuda" --repetitions "${REPETITIONS:-5}" \
    --min-time "${MIN_TIME:-0.2}" --max-bytes "${CUDA_MAX_BYTES:-256M}" ${CUDA_BENCH_ARGS:-} 2>&1 |
    tee "$log" | tee -a "$out/bench.txt" || { rm -f "$log"; return 1; }
  if grep -q "devtensor bench: skipped:" "$log"; then
    echo "gpu-bench: CUDA cases were skipped on this machine (see above)" | tee -a "$out/bench.txt"
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# The PyTorch decode step, its ratios to devtensor's, and its tokens beside the example's.
run_torch() {
  local out=$1 rc=0 example mine shape=(32 8 128 4096 128256)
  echo "== PyTorch decode step (bench/torch_decode_step.py)" | tee -a "$out/bench.txt"
  # shellcheck disable=SC2086 # TORCH_ARGS is a list of options
  python3 bench/torch_decode_step.py --devtensor-json "$out/cuda/bench.json" \
    --out "$out/torch_decode_step.jsonl" ${TORCH_ARGS:-} 2>&1 | tee -a "$out/bench.txt" || rc=${PIPESTATUS[0]}
  if [ "$rc" = 77 ]; then
    echo "gpu-bench: no PyTorch with CUDA here: the PyTorch baseline is left out" | tee -a "$out/bench.txt"
    return 0
  fi
  [ "$rc" = 0 ] || return 1
  # Same state, same steps: the example on the CPU picks the same tokens.
  example=$("$STAGE/build/examples/decode_loop" --device cpu --mode device --layers "${shape[0]}" \
    --kv-heads "${shape[1]}" --head-dim "${shape[2]}" --max-length "${shape[3]}" --vocab "${shape[4]}" \
    --start 128 --steps 5 | sed -n 's/^  tokens: //p')
  mine=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "check" in o:
        print(o["tokens"][0], "...", o["tokens"][-1])
        break' "$out/torch_decode_step.jsonl")
  echo "tokens at t = 128, 5 steps: example (decode_loop on the CPU) $example, PyTorch $mine: $(
    [ -n "$example" ] && [ "$example" = "$mine" ] && echo same || echo DIFFER)" | tee -a "$out/bench.txt"
  [ -n "$example" ] && [ "$example" = "$mine" ]
}

run() {
  local out=${OUT:-$STAGE/out} status=0
  mkdir -p "$out"
  gpu_bring_up "$STAGE"
  if [ -z "${DEVTENSOR_BENCH_CUDART:-}" ]; then
    DEVTENSOR_BENCH_CUDART=$(find_cudart)
    export DEVTENSOR_BENCH_CUDART
  fi
  if ! command -v gnuplot >/dev/null 2>&1 && [ -f "$STAGE/gnuplot.tar.gz" ]; then
    rm -rf "$GNUPLOT_STAGE" && tar -C "$STAGE" -xzf "$STAGE/gnuplot.tar.gz"
    export DEVTENSOR_GNUPLOT=$PWD/$GNUPLOT_STAGE/bin/gnuplot
  fi
  {
    echo "== machine"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    echo "CUDA runtime: ${DEVTENSOR_BENCH_CUDART:-none found}"
    echo "gnuplot: ${DEVTENSOR_GNUPLOT:-$(command -v gnuplot || echo none)}"
  } 2>&1 | tee "$out/bench.txt"
  if wants webgpu; then
    echo "== devtensor bench" | tee -a "$out/bench.txt"
    # shellcheck disable=SC2086 # BENCH_ARGS is a list of options
    "$STAGE/build/tools/devtensor" bench --out "$out" --repetitions "${REPETITIONS:-5}" \
      --min-time "${MIN_TIME:-0.2}" ${BENCH_ARGS:-} 2>&1 | tee -a "$out/bench.txt" || status=1
  fi
  if wants cuda; then
    run_cuda "$out" || status=1
  fi
  if wants torch; then
    run_torch "$out" || status=1
  fi
  echo "== exit $status" | tee -a "$out/bench.txt"
  return $status
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare | run" >&2; exit 2 ;;
esac
