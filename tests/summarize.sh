#!/usr/bin/env bash
# Adds up the per-build totals that tests/run_tests.sh appended to $1
# ("LABEL passed failed skipped") and ends with
# "total: N passed, N failed, N skipped" (the line CI reads).
set -u
p=0 f=0 s=0 runs=0
while read -r _ a b c; do
    p=$((p + a)); f=$((f + b)); s=$((s + ${c:-0})); runs=$((runs + 1))
done < <(cat "$1" 2>/dev/null)
[ "$runs" -ge 2 ] || { echo "summary: expected 2 runs (plain + asan), got $runs"; f=$((f + 1)); }
echo "total: $p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
