#!/usr/bin/env bash
# `make bench`: runs every benchmark in bench/; each prints its workload lines with a baseline
# measured in the same run and the ratio to it.
set -euo pipefail
build_dir=${1:-build/release}
export BATON_HOME=$(mktemp -d)
trap 'rm -rf "$BATON_HOME"' EXIT
for bench in "$build_dir"/bench/bench_*; do
  [ -x "$bench" ] || continue
  echo "== $(basename "$bench")"
  "$bench"
done
