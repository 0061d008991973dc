#!/usr/bin/env bash
# Installs a Baton build into a fresh prefix, builds tests/install/consumer against it with
# find_package(baton), runs the consumer's flow, and reads its run back with the installed CLI.
#   run_install_test.sh <baton build dir> <consumer source dir>
set -euo pipefail
build=$1
consumer=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export BATON_HOME=$work/home

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/baton" || { echo "the baton CLI was not installed"; exit 1; }
# Only the public headers are installed: a consumer cannot reach the engine's internals.
test -f "$work/prefix/include/baton/baton.h" || { echo "include/baton/baton.h missing"; exit 1; }
if [ -d "$work/prefix/include/core" ] || [ -d "$work/prefix/include/storage" ]; then
  echo "internal headers were installed"; exit 1
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$consumer" -B "$work/consumer-build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer-build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

out=$("$work/consumer-build/consumer" 2>&1)
grep -qF "sum of squares: 30" <<<"$out" || { echo "unexpected output:"; echo "$out"; exit 1; }
runs=$("$work/prefix/bin/baton" flow-run ls --json)
grep -qF '"installed_consumer"' <<<"$runs" || { echo "run not recorded:"; echo "$runs"; exit 1; }
grep -qF '"COMPLETED"' <<<"$runs" || { echo "run not completed:"; echo "$runs"; exit 1; }
echo "installed SDK and CLI work"
