#!/usr/bin/env bash
# `make bench`: runs every benchmark case on release builds and writes the
# results to BENCHMARKS.md. Each case measures its reference in the same run
# (or states a fixed reference), so the ratios hold even though absolute
# numbers move with machine load. A failed case is recorded in the file and
# makes the script exit non-zero after the remaining cases ran.
set -euo pipefail
cd "$(dirname "$0")/.."

release=$PWD/target/release
export SKIFF_BIN=$release/skiff
export RUST_LOG=${RUST_LOG:-warn}
out=BENCHMARKS.md.new
logs=$(mktemp -d /tmp/skiff-bench-logs-XXXXXX)
failed=0

# Runs one case: its stdout goes into the file, its stderr into a log.
run_case() {
  local name=$1
  shift
  local started=$SECONDS
  echo "bench: $name ..." >&2
  if "$@" >>"$out" 2>"$logs/$name.log"; then
    echo "bench: $name done in $((SECONDS - started)) s" >&2
  else
    failed=1
    echo "bench: $name FAILED after $((SECONDS - started)) s; log: $logs/$name.log" >&2
    {
      echo
      echo "**The $name case failed in this run.** Last lines of its log:"
      echo
      echo '```'
      tail -n 20 "$logs/$name.log"
      echo '```'
    } >>"$out"
  fi
  echo >>"$out"
}

{
  echo "# Benchmarks"
  echo
  echo "Recorded by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "kernel $(uname -r), release builds. The machine is shared with other"
  echo "work, so absolute figures move with its load; compare the ratios, which"
  echo "are measured against a reference in the same run unless a table marks"
  echo "the reference as a fixed number."
  echo
} >"$out"

started=$SECONDS
run_case apiserver "$release/skiff-bench" apiserver
run_case scheduler "$release/examples/scheduler_bench"
run_case runtime "$release/skiff-bench" runtime
run_case pull "$release/skiff-bench" pull
run_case kubelet "$release/skiff-bench" kubelet
run_case server "$release/skiff-bench" server
echo "All cases took $((SECONDS - started)) s." >>"$out"

mv "$out" BENCHMARKS.md
if [[ $failed == 0 ]]; then
  rm -rf "$logs"
  echo "wrote BENCHMARKS.md"
else
  echo "wrote BENCHMARKS.md; the logs of the failed cases are in $logs"
fi
exit "$failed"
