#!/usr/bin/env bash
# fuzz_replay.sh — `make test`'s share of the fuzzing (tests/fuzz/README.md):
# every harness's seeds, generated corpus and past findings replayed through
# fuzzreplay_<h> (built with the normal compiler, ASan in `make test-asan`).
# A harness whose seeds are missing fails: a replay of nothing proves nothing.
# Env: SR_BUILD, SR_ROOT, SHARED_DIR.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
. tests/fuzz/seeds.sh
passed=0 failed=0
for h in resmb_ini cpuu_ini cmdline pox ews eid nicks profile secret graph; do
    bin="${SR_BUILD:-build}/tests/fuzzreplay_$h"
    mapfile -t seeds < <(fuzz_seeds "$h")
    if [ ! -x "$bin" ]; then
        failed=$((failed + 1)); echo "FAIL $h: $bin not built"; continue
    fi
    out=$(timeout 300 "$bin" "${seeds[@]}" 2>"${TMPDIR:-/tmp}/sr-fuzz-replay.$$"); rc=$?
    n=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) inputs replayed$/\1/p')
    if [ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then
        passed=$((passed + 1)); echo "ok   $h: $n inputs replayed"
    else
        failed=$((failed + 1)); echo "FAIL $h: exit $rc, ${n:-0} inputs"
        tail -n 15 "${TMPDIR:-/tmp}/sr-fuzz-replay.$$" | sed 's/^/     | /'
    fi
done
rm -f "${TMPDIR:-/tmp}/sr-fuzz-replay.$$"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
