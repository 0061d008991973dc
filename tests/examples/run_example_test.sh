#!/usr/bin/env bash
# Runs one example program the way a newcomer would and checks what it prints and records.
#   run_example_test.sh <case> <examples build dir>
# Each case gets a fresh BATON_HOME (the embedded SQLite database and result store).
set -euo pipefail
case_name=$1
bin=$2
export BATON_HOME=$(mktemp -d)
trap 'rm -rf "$BATON_HOME"; [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true' EXIT

expect() {  # expect <text> <output>
  if ! grep -qF -- "$1" <<<"$2"; then
    echo "expected output to contain: $1"
    echo "---- output ----"
    echo "$2"
    exit 1
  fi
}

case "$case_name" in
  etl_retries)
    out=$("$bin/example_etl_retries" 2>&1)
    expect "ETL pipeline finished: extract needed 3 attempts" "$out"
    expect "4 customers processed and loaded" "$out"
    expect "Finished in state Completed" "$out"
    ;;
  dynamic_mapping)
    out=$("$bin/example_dynamic_mapping" 2>&1)
    expect "Dynamic mapping: 5 files discovered at run time" "$out"
    ;;
  concurrent_submit)
    out=$("$bin/example_concurrent_submit" 2>&1)
    expect "report from sales.parquet and stock.parquet" "$out"
    ;;
  ml_pipeline)
    first=$("$bin/example_ml_pipeline" 2>&1)
    expect "load_dataset finished in state Completed" "$first"
    expect "after 20 epochs" "$first"
    # A variable changes the epochs without a rebuild; each run adds a version of the report.
    "$bin/../src/cli/baton" variable set ml_epochs 5 >/dev/null
    second=$("$bin/example_ml_pipeline" 2>&1)
    expect "load_dataset finished in state Cached" "$second"
    expect "after 5 epochs" "$second"
    report=$("$bin/../src/cli/baton" artifact inspect ml-model-report)
    expect "| iris-v1 | 5 |" "$report"
    expect "| iris-v1 | 20 |" "$report"
    ;;
  github_stars)
    # The stand-in API as a separate process on 127.0.0.1; the flow gets its URL as a parameter.
    coproc SERVER { exec "$bin/fake_github_server"; }
    server_pid=$SERVER_PID
    read -r -t 10 line <&"${SERVER[0]}"
    port=${line##* }
    out=$("$bin/example_github_stars" --flow github_stars \
      --params "{\"base_url\": \"http://127.0.0.1:$port\", \"repos\": [\"PrefectHQ/prefect\", \"baton/baton\"]}" 2>&1)
    expect "PrefectHQ/prefect: 17800 stars" "$out"
    expect "baton/baton: 42 stars" "$out"
    # An unknown repository fails its task (after retries) and so the flow run: exit code 1.
    set +e
    out=$("$bin/example_github_stars" --flow github_stars \
      --params "{\"base_url\": \"http://127.0.0.1:$port\", \"repos\": [\"no/such-repo\"]}" 2>&1)
    rc=$?
    set -e
    [ "$rc" = 1 ] || { echo "expected exit code 1 for an unknown repository, got $rc"; echo "$out"; exit 1; }
    expect "answered 404" "$out"
    # A parameter of the wrong type is rejected naming the field: exit code 2.
    set +e
    out=$("$bin/example_github_stars" --flow github_stars --params '{"repos": "PrefectHQ/prefect"}' 2>&1)
    rc=$?
    set -e
    [ "$rc" = 2 ] || { echo "expected exit code 2 for a bad parameter, got $rc"; echo "$out"; exit 1; }
    expect "parameters.repos: expected an array of strings" "$out"
    # Without parameters the example starts its own local stand-in.
    out=$("$bin/example_github_stars" 2>&1)
    expect "GitHub stars: fetched 3 repositories" "$out"
    ;;
  *)
    echo "unknown case $case_name"
    exit 2
    ;;
esac
echo "ok: $case_name"
