#!/usr/bin/env bash
# `make bench`: runs every benchmark case on release builds and writes the
# results to BENCHMARKS.md. Each case measures its reference in the same run,
# so the ratios hold even though absolute numbers move with machine load.
set -euo pipefail
cd "$(dirname "$0")/.."

export SKIFF_BIN=$PWD/target/release/skiff
out=BENCHMARKS.md.new
{
  echo "# Benchmarks"
  echo
  echo "Recorded by \`make bench\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -r)),"
  echo "release builds. Absolute figures move with machine load; compare the"
  echo "ratios, which are measured against a reference in the same run."
  echo
  echo "## Store and apiserver"
  echo
  target/release/skiff-bench store
  echo
  echo "## Scheduler"
  echo
  echo '```'
  target/release/examples/scheduler_bench --nodes 100 --pods 1000
  target/release/examples/scheduler_bench --nodes 1000 --pods 10000
  echo '```'
} >"$out"
mv "$out" BENCHMARKS.md
echo "wrote BENCHMARKS.md"
