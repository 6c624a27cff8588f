#!/usr/bin/env bash
# Adds up the per-build totals that tests/run_tests.sh appended to $1.
set -u
p=0 f=0 runs=0
while read -r _ a b; do p=$((p + a)); f=$((f + b)); runs=$((runs + 1)); done < <(cat "$1" 2>/dev/null)
[ "$runs" -ge 2 ] || { echo "summary: expected 2 runs (plain + asan), got $runs"; f=$((f + 1)); }
echo "total: $p passed, $f failed"
[ "$f" -eq 0 ]
