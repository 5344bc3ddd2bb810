#!/usr/bin/env bash
# Installs a build tree into a fresh prefix, moves the prefix elsewhere, and builds and runs the
# consumer of tests/install/consumer against it twice: with CMake's find_package and with a plain
# compiler command from pkg-config. Each of the four programs (C and C++, both ways) round-trips
# data on CPU and WebGPU and fails if a file of the build tree or the source tree is mapped into it.
#
#   check_install.sh BUILD_DIR SOURCE_DIR [CMAKE [GENERATOR [CC [CXX]]]]
set -euo pipefail
build=$(realpath "$1")
source=$(realpath "$2")
cmake=${3:-cmake}
generator=${4:-Ninja}
cc=${5:-cc}
cxx=${6:-c++}
consumer=$source/tests/install/consumer

fail() {
  echo "check_install: $*" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/devtensor-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
case $work/ in "$build"/* | "$source"/*) fail "TMPDIR ($work) must lie outside the trees checked" ;; esac
# What the programs run with: nothing pointing at the runtime, nothing on the library path.
unset DEVTENSOR_WEBGPU_RUNTIME LD_LIBRARY_PATH

echo "== install $build"
"$cmake" --install "$build" --prefix "$work/installed" >"$work/install.log" || {
  cat "$work/install.log"
  fail "cmake --install failed"
}
(cd "$work/installed" && find . -type f -o -type l | sed 's|^\./|   |' | sort)
# Moved somewhere else: whatever still names the first prefix breaks now.
mkdir -p "$work/moved/elsewhere"
mv "$work/installed" "$work/moved/elsewhere/prefix"
prefix=$work/moved/elsewhere/prefix
echo "== moved to $prefix"

pc=$(find "$prefix" -name devtensor.pc -print -quit)
[ -n "$pc" ] || fail "devtensor.pc was not installed"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")

# No installed binary keeps a run path into the build or source tree, and no installed text names
# them or the prefix it was installed to.
while IFS= read -r -d '' file; do
  if readelf -h "$file" >/dev/null 2>&1; then
    runpath=$(readelf -d "$file" | grep -E "\((RUNPATH|RPATH)\)" || true)
    case $runpath in *"$build"* | *"$source"* | *"$work/installed"*)
      fail "${file#"$prefix"/} keeps a run path into the build: $runpath" ;;
    esac
  elif grep -qF -e "$build" -e "$source" -e "$work/installed" "$file"; then
    fail "${file#"$prefix"/} names the build tree, the source tree or the first prefix"
  fi
done < <(find "$prefix" -type f -print0)
cli_runpath=$(readelf -d "$prefix/bin/devtensor" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
echo "   run paths: bin/devtensor ${cli_runpath:-none}; no installed file names the build or source tree"

run() {
  local name=$1
  shift
  echo "== $name"
  "$@" "$build" "$source" || fail "$name failed"
}

echo "== CMake: find_package(devtensor CONFIG REQUIRED), CMAKE_PREFIX_PATH=<moved prefix>"
"$cmake" -S "$consumer" -B "$work/cmake" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "configuring the consumer failed"; }
grep -F -- "-- devtensor " "$work/cmake.log" | sed 's/^-- /   /'
grep -qF "from $prefix/" "$work/cmake.log" || fail "find_package found devtensor outside $prefix"
"$cmake" --build "$work/cmake" >"$work/cmake-build.log" 2>&1 ||
  { cat "$work/cmake-build.log"; fail "building the consumer with CMake failed"; }
run "consumer_c (CMake)" "$work/cmake/consumer_c"
run "consumer_cpp (CMake)" "$work/cmake/consumer_cpp"

echo "== pkg-config: PKG_CONFIG_PATH=<moved prefix>/${pcdir#"$prefix"/}"
export PKG_CONFIG_PATH=$pcdir
flags=$(pkg-config --cflags --libs devtensor) || fail "pkg-config does not know devtensor"
# The library's directory as the .pc gives it, relative to the .pc's own place.
rpath=$(pkg-config --variable=libdir devtensor)
echo "   $(pkg-config --modversion devtensor): $flags"
[ "$(realpath "$rpath")" = "$(realpath "$libdir")" ] || fail "devtensor.pc's libdir $rpath is not $libdir"
mkdir -p "$work/pkg-config"
# shellcheck disable=SC2086  # the flags are words
"$cc" -std=c11 -I"$consumer" "$consumer/consumer.c" $flags -Wl,-rpath,"$rpath" \
  -o "$work/pkg-config/consumer_c" || fail "building consumer.c with pkg-config's flags failed"
# shellcheck disable=SC2086
"$cxx" -std=c++20 -I"$consumer" "$consumer/consumer.cpp" $flags -Wl,-rpath,"$rpath" \
  -o "$work/pkg-config/consumer_cpp" || fail "building consumer.cpp with pkg-config's flags failed"
run "consumer_c (pkg-config)" "$work/pkg-config/consumer_c"
run "consumer_cpp (pkg-config)" "$work/pkg-config/consumer_cpp"

echo "== installed CLI: bin/devtensor info"
"$prefix/bin/devtensor" info >"$work/info.txt" 2>&1 || { cat "$work/info.txt"; fail "devtensor info failed"; }
grep -E "^  [a-z]+ \(provider ABI" "$work/info.txt" || true
grep -qF "$prefix/" "$work/info.txt" || fail "devtensor info loaded no provider from $prefix"
# The CUDA provider is installed beside the others and found there: it serves devices, or says
# why it cannot (no driver, no device, no NVRTC), never that its library is missing.
[ -f "$libdir/devtensor/libdevtensor_cuda.so" ] || fail "the CUDA provider is not installed in $libdir/devtensor"
grep -qE "^  cuda \(provider ABI .*$prefix/|provider 'cuda' failed to initialise" "$work/info.txt" ||
  { cat "$work/info.txt"; fail "devtensor info neither loaded the installed CUDA provider nor said why it could not"; }
echo "== installed, moved and used from another project: OK"
