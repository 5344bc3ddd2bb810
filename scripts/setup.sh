#!/usr/bin/env bash
# Installs what devtensor's build and tests need on Debian bookworm, skipping what is already
# there. Safe to run again and again. Run as root, or as a user with sudo.
set -euo pipefail

# Debian packages the build and the tests need.
PACKAGES=(
  cmake ninja-build g++ make pkg-config
  googletest libgtest-dev libgmock-dev libbenchmark-dev
)

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

missing=()
for package in "${PACKAGES[@]}"; do
  is_installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  log "all ${#PACKAGES[@]} packages present"
  exit 0
fi

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq || die "apt-get update failed; check the machine's apt sources and network"
as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" \
  || die "apt-get install failed for: ${missing[*]}"
for package in "${missing[@]}"; do
  is_installed "$package" || die "$package is still not installed after apt-get install"
done
log "done"
