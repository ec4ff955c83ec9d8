#!/usr/bin/env bash
# Compile every kernel source for float and double on the GPU generations fastnet
# targets (A100: sm_80, H100/H200: sm_90), so a syntax or type error fails CI on a
# machine with nvcc even though CI has no GPU to run them on.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for src in "$here"/*.cu; do
  for real in float double; do
    for arch in sm_80 sm_90; do
      if nvcc -cubin -arch="$arch" -DREAL="$real" -I"$here" -o "$out/k.cubin" "$src"; then
        echo "ok   $(basename "$src") REAL=$real $arch"
      else
        echo "FAIL $(basename "$src") REAL=$real $arch" >&2
        status=1
      fi
    done
  done
done
exit $status
