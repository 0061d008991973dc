#!/usr/bin/env bash
# `make demo`: runs the example flows against the embedded database in a demo BATON_HOME, then
# lists the runs they made with the baton CLI.
set -euo pipefail
build_dir=${1:-build/release}
export BATON_HOME=${BATON_HOME:-$PWD/build/demo-home}
mkdir -p "$BATON_HOME"
echo "== BATON_HOME=$BATON_HOME"
for example in "$build_dir"/examples/example_*; do
  [ -x "$example" ] || continue
  echo "== running $(basename "$example")"
  "$example"
done
echo "== runs recorded"
"$build_dir"/src/cli/baton flow-run ls --limit 20
