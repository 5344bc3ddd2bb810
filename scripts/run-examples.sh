#!/usr/bin/env bash
# What `make run` shows: the devices devtensor finds, then each example, which says in its first
# line what it demonstrates.   run-examples.sh BUILD_DIR
set -euo pipefail
build=$1

for program in tools/devtensor examples/hello_tensors examples/kv_cache_append examples/decode_loop; do
  printf '\n== %s\n' "$(basename "$program")"
  if [ "$program" = tools/devtensor ]; then
    echo "devtensor info: the providers and devices devtensor finds on this machine"
    "$build/$program" info
  else
    "$build/$program"
  fi
done
