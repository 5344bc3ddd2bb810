#!/usr/bin/env bash
# Installs what devtensor's build and tests need on Debian bookworm, skipping what is already
# there. Safe to run again and again. Run as root, or as a user with sudo.
set -euo pipefail

# Debian packages the build and the tests need (gnuplot and a font: `devtensor bench` draws its
# bandwidth plot with them; clang and its runtimes build the fuzz and ThreadSanitizer builds;
# doxygen writes the API reference, `make docs`).
PACKAGES=(
  cmake ninja-build g++ make pkg-config clang libclang-rt-14-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libvulkan1 ca-certificates openssl
  libonnx-testdata libonnx-dev libprotobuf-dev
  gnuplot-nox fonts-dejavu-core
  doxygen
)
# Mesa's lavapipe (Vulkan on the CPU) for the WebGPU tests: bookworm's 22.3 is rejected by Dawn,
# so it comes from bookworm-backports, at least this version.
LAVAPIPE_PACKAGE=mesa-vulkan-drivers
LAVAPIPE_MIN_VERSION=25
# The Dawn WebGPU runtime: an npm package holding libwebgpu_wrapper.so, checked against the
# integrity its registry publishes, unpacked into deps/dawn (ignored by git).
DAWN_PACKAGE=bun-webgpu-linux-x64@0.1.7
DAWN_INTEGRITY=sha512-UEP7UZdEhx9otvkZczjsszL8ZVlrODANQvgl+C88/bNVmxDoFi7w1fWzGi1sZyakiETjmtFDq2/xCLhbSZxjqw==
DAWN_DIR="$(cd "$(dirname "$0")/.." && pwd)/deps/dawn"

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*' (not root, and no sudo)"
  fi
}

command -v dpkg-query >/dev/null 2>&1 || die "this script installs with apt on Debian bookworm; dpkg-query not found"

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || die "apt-get update failed; check the machine's apt sources and network"
  as_root apt-get install -y -qq --no-install-recommends "$@" || die "apt-get install failed for: $*"
}

install_debian_packages() {
  local missing=() package
  # npm may come with a Node.js installed some other way; Debian's npm only when there is none.
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
  for package in "${PACKAGES[@]}"; do
    is_installed "$package" || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} Debian packages present"
    return
  fi
  log "installing: ${missing[*]}"
  install_packages "${missing[@]}"
  for package in "${missing[@]}"; do
    is_installed "$package" || die "$package is still not installed after apt-get install"
  done
}

# The URI of the machine's own Debian bookworm source (deb822 or one-line format).
debian_mirror() {
  local file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         /(^|\n)Suites:([^\n]*[ \t])?bookworm([ \t]|$|\n)/ {
           for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, " "); print u[1]; exit }
         }' "$file"
  done | head -n 1 | grep . && return
  grep -hE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+bookworm[[:space:]]' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/' | head -n 1
}

install_lavapipe() {
  local version
  version=$(dpkg-query -W -f='${Version}' "$LAVAPIPE_PACKAGE" 2>/dev/null || true)
  if [ -n "$version" ] && dpkg --compare-versions "$version" ge "$LAVAPIPE_MIN_VERSION"; then
    log "$LAVAPIPE_PACKAGE $version present"
    return
  fi
  if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    local mirror
    mirror=$(debian_mirror) || true
    [ -n "$mirror" ] || die "cannot find the machine's Debian bookworm apt source to add bookworm-backports from"
    log "adding bookworm-backports from the machine's Debian source"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" | as_root tee /etc/apt/sources.list.d/devtensor-backports.sources >/dev/null
  fi
  log "installing $LAVAPIPE_PACKAGE >= $LAVAPIPE_MIN_VERSION from bookworm-backports"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || die "apt-get update failed after adding bookworm-backports"
  as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports "$LAVAPIPE_PACKAGE" \
    || die "could not install $LAVAPIPE_PACKAGE from bookworm-backports"
  version=$(dpkg-query -W -f='${Version}' "$LAVAPIPE_PACKAGE")
  dpkg --compare-versions "$version" ge "$LAVAPIPE_MIN_VERSION" \
    || die "$LAVAPIPE_PACKAGE is $version after install; Dawn needs >= $LAVAPIPE_MIN_VERSION"
}

install_dawn() {
  if [ -f "$DAWN_DIR/libwebgpu_wrapper.so" ] && [ "$(cat "$DAWN_DIR/INTEGRITY" 2>/dev/null)" = "$DAWN_INTEGRITY" ]; then
    log "Dawn runtime present in deps/dawn"
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $DAWN_PACKAGE"
  local work tarball actual
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  log "fetching $DAWN_PACKAGE with npm pack"
  (cd "$work" && npm pack --silent "$DAWN_PACKAGE" >/dev/null) || die "npm pack $DAWN_PACKAGE failed"
  tarball=$(ls "$work"/*.tgz 2>/dev/null | head -n 1)
  [ -n "$tarball" ] || die "npm pack $DAWN_PACKAGE produced no tarball"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  [ "$actual" = "$DAWN_INTEGRITY" ] || die "integrity mismatch for $DAWN_PACKAGE: expected $DAWN_INTEGRITY, got $actual"
  tar -xzf "$tarball" -C "$work" package/libwebgpu_wrapper.so || die "the package lacks libwebgpu_wrapper.so"
  mkdir -p "$DAWN_DIR"
  install -m 0755 "$work/package/libwebgpu_wrapper.so" "$DAWN_DIR/libwebgpu_wrapper.so"
  printf '%s\n' "$DAWN_INTEGRITY" >"$DAWN_DIR/INTEGRITY"
  log "Dawn runtime unpacked into deps/dawn"
}

install_debian_packages
install_lavapipe
install_dawn
