#!/usr/bin/env bash
# Runs every CUnit test binary of one build and every tests/integration/*.sh,
# adds up their results and ends with the plain line "N passed, N failed".
# Usage: tests/run_tests.sh [name]   (env: SR_ROOT SR_BIN SR_BUILD SHARED_DIR)
# With SR_SUMMARY set, the totals are also appended to that file.
set -u
cd "${SR_ROOT:?}" || exit 2
export SR_ROOT SR_BIN SR_BUILD SHARED_DIR
only=${1:-}
passed=0 failed=0
log_dir="$SR_BUILD/test-logs"; mkdir -p "$log_dir"

# CUnit prints "  tests  total  ran  passed  failed  inactive" in its Run Summary.
# A suite whose set-up failed is counted by CUnit under "suites ... Failed", not
# under tests: count it as a failure too.
count_cunit() {
    awk '$1=="suites" && NF>=5 && $5 ~ /^[0-9]+$/ {sf += $5}
         $1=="tests" && NF>=5 && $2 ~ /^[0-9]+$/ {p = $4; f = $5; found=1}
         END {if (!found) print "x x"; else print p, f + sf}' "$1"
}
# Scripts end with "N passed, N failed".
count_plain() {
    tail -n 5 "$1" | sed -n 's/^\([A-Za-z_-]*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2 \3/p' | tail -n 1
}

run_one() {  # name kind cmd...
    local name=$1 kind=$2; shift 2
    local out="$log_dir/$name.log"
    echo "=== $name"
    timeout -k 10 900 "$@" >"$out" 2>&1; local rc=$?
    cat "$out"
    local p f
    if [ "$kind" = cunit ]; then read -r p f < <(count_cunit "$out"); else read -r p f < <(count_plain "$out"); fi
    if [ -z "${p:-}" ] || [ "$p" = x ]; then p=0; f=1; echo "!!! $name: no result line (exit $rc)"; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "!!! $name: exit status $rc"; fi
    passed=$((passed + p)); failed=$((failed + f))
    echo "--- $name: $p passed, $f failed"
}

for t in "$SR_BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    [ -n "$only" ] && [ "$only" != "$n" ] && continue
    run_one "$n" cunit "$t"
done
for s in tests/integration/*.sh; do
    [ -e "$s" ] || continue
    n=$(basename "$s" .sh)
    [ -n "$only" ] && [ "$only" != "$n" ] && continue
    run_one "$n" plain bash "$s"
done

label=$( [ "$SR_BUILD" != "${SR_BUILD%asan}" ] && echo asan || echo build )
[ -n "${SR_SUMMARY:-}" ] && echo "$label $passed $failed" >>"$SR_SUMMARY"
echo "$label: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
