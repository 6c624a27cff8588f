#!/usr/bin/env bash
# Benchmarks: each script in tests/bench/*.bench.sh prints its result lines,
# which are meant to be copied with the command into BENCHMARKS.md.
set -u
cd "${SR_ROOT:?}"
for b in tests/bench/*.bench.sh; do
    [ -e "$b" ] || continue
    echo "=== $b"
    bash "$b"
done
