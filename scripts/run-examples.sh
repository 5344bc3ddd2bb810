#!/usr/bin/env bash
# What `make run` shows: the devices devtensor finds, then each example with one line on what it
# demonstrates.   run-examples.sh BUILD_DIR
set -euo pipefail
build=$1

show() {
  local what=$1
  shift
  printf '\n== %s\n   %s\n' "$(basename "$1")" "$what"
  "$@"
}

show "the providers and devices devtensor finds on this machine" "$build/tools/devtensor" info
show "C: a host array wrapped without copying, and a strided column slice of it copied out" \
  "$build/examples/hello_tensors"
show "C++: a KV cache on the GPU, one token's keys and values appended per step by KvCacheAppend" \
  "$build/examples/kv_cache_append"
show "C++: a decode loop's state (KV cache, mask, position ids, logits) updated on the host, on the device, and as a replayed graph" \
  "$build/examples/decode_loop"
