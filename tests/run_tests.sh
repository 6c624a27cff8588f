#!/usr/bin/env bash
# Runs the tests tests/tests.mk lists (the Makefile passes them in SR_TESTS and
# SR_TEST_SCRIPTS), adds up their results and ends with the plain line
# "LABEL: N passed, N failed, N skipped".
# Usage: tests/run_tests.sh [name]   (env: SR_ROOT SR_BIN SR_BUILD SHARED_DIR
#                                     SR_TESTS SR_TEST_SCRIPTS [SR_SKIP_FAILS])
# A listed test that is not there is a failure.  A test that prints
#   "SKIP: <what>: <why>"  did not run something CI has (a missing file, a lab
#                          that did not start): skipped, never passed, and with
#                          SR_SKIP_FAILS=1 (`make test`, CI) also a failure;
#   "N/A: <what>: <why>"   has a case that does not apply to the lab at hand
#                          (the other lab runs it): skipped, never passed.
# For a CUnit binary each such line is one CUnit test that is not counted as
# passed (tu_skip prints one line per test); a script counts its own.
# With SR_SUMMARY set, "LABEL passed failed skipped" is appended to that file.
# Each test's wall time goes to $SR_BUILD/test-logs/times.txt ("seconds<TAB>name",
# rewritten every run); when more than one test ran, the ten slowest are listed
# before the last line, to keep the whole suite (CI) under its time budget.
set -u
cd "${SR_ROOT:?}" || exit 2
export SR_ROOT SR_BIN SR_BUILD SHARED_DIR
only=${1:-}
passed=0 failed=0 skipped=0 ran=0
log_dir="$SR_BUILD/test-logs"; mkdir -p "$log_dir"
times="$log_dir/times.txt"; : >"$times"

# CUnit prints "  tests  total  ran  passed  failed  inactive" in its Run Summary.
# A suite whose set-up failed is counted by CUnit under "suites ... Failed", not
# under tests: count it as a failure too.
count_cunit() {
    awk '$1=="suites" && NF>=5 && $5 ~ /^[0-9]+$/ {sf += $5}
         $1=="tests" && NF>=5 && $2 ~ /^[0-9]+$/ {p = $4; f = $5; found=1}
         END {if (!found) print "x x"; else print p, f + sf}' "$1"
}
# Scripts end with "N passed, N failed" (a script's passes exclude its skips).
count_plain() {
    tail -n 5 "$1" | sed -n 's/^\([A-Za-z_-]*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2 \3/p' | tail -n 1
}
count_lines() { grep -c "^$1" "$2"; }

run_one() {  # name kind cmd...
    local name=$1 kind=$2; shift 2
    local out="$log_dir/$name.log"
    echo "=== $name"
    ran=$((ran + 1))
    local t0; t0=$(date +%s.%N)
    timeout -k 10 900 "$@" >"$out" 2>&1; local rc=$?
    awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$name" 'BEGIN {printf "%.1f\t%s\n", b - a, n}' >>"$times"
    cat "$out"
    local p f must na
    if [ "$kind" = cunit ]; then read -r p f < <(count_cunit "$out"); else read -r p f < <(count_plain "$out"); fi
    if [ -z "${p:-}" ] || [ "$p" = x ]; then p=0; f=1; echo "!!! $name: no result line (exit $rc)"; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "!!! $name: exit status $rc"; fi
    must=$(count_lines 'SKIP: ' "$out") na=$(count_lines 'N/A: ' "$out")
    local s=$((must + na))
    if [ "$kind" = cunit ]; then p=$((p > s ? p - s : 0)); fi   # CUnit counted them as passed
    if [ "$must" -gt 0 ] && [ "${SR_SKIP_FAILS:-0}" = 1 ]; then
        f=$((f + must)); echo "!!! $name: $must skipped that CI must run (SR_SKIP_FAILS=1)"
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    echo "--- $name: $p passed, $f failed, $s skipped"
}

missing() {  # name what
    ran=$((ran + 1)); failed=$((failed + 1))
    echo "!!! $1: listed in tests/tests.mk but $2"
}

for n in ${SR_TESTS:-}; do
    [ -n "$only" ] && [ "$only" != "$n" ] && continue
    t="$SR_BUILD/tests/$n"
    if [ -x "$t" ]; then run_one "$n" cunit "$t"; else missing "$n" "$t is not built"; fi
done
for s in ${SR_TEST_SCRIPTS:-}; do
    n=$(basename "$s" .sh)
    [ -n "$only" ] && [ "$only" != "$n" ] && continue
    if [ -f "$s" ]; then run_one "$n" plain bash "$s"; else missing "$n" "$s does not exist"; fi
done
if [ "$ran" -eq 0 ]; then
    failed=$((failed + 1))
    echo "!!! no test ran${only:+: '$only' is not listed in tests/tests.mk}"
fi

if [ "$ran" -gt 1 ] && [ -s "$times" ]; then
    echo "slowest tests (wall seconds; all in $times):"
    sort -t "$(printf '\t')" -k1,1 -rn "$times" | head -n 10 | sed 's/^/    /'
fi

label=$( [ "$SR_BUILD" != "${SR_BUILD%asan}" ] && echo asan || echo build )
[ -n "${SR_SUMMARY:-}" ] && echo "$label $passed $failed $skipped" >>"$SR_SUMMARY"
echo "$label: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
