#!/usr/bin/env bash
# test_runner.sh — tests/run_tests.sh and tests/summarize.sh themselves (issue
# 15: a skip is never a pass; a listed test cannot vanish).  Runs the runner on
# stand-in tests in a temporary build directory: a CUnit-like binary whose
# Run Summary counts a skipped test as passed, scripts that print SKIP:/N/A:
# lines, a listed binary that is not built, a name that is not listed.
# Env: SR_ROOT.  Ends with "N passed, N failed".
set -u
# Never nested: a runner that globbed scripts again would start us from our own
# runs (each under its own timeout process group) without end.
if [ -n "${SR_IN_TEST_RUNNER_TEST:-}" ]; then echo "nested run refused"; echo "0 passed, 1 failed"; exit 1; fi
export SR_IN_TEST_RUNNER_TEST=1
cd "${SR_ROOT:-.}" || exit 2
root=$PWD
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
work=$(mktemp -d /tmp/sr-runner-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/build/tests"

# A CUnit-like binary: 3 tests, CUnit says 3 passed; one printed a SKIP line.
cat >"$work/build/tests/test_fake" <<'EOF'
#!/bin/sh
echo "  Test: a ...passed"
printf '\nSKIP: b: the fixture is missing\n'
echo "  Test: b ...passed"
echo "Run Summary:    Type  Total    Ran Passed Failed Inactive"
echo "              suites      1      1    n/a      0        0"
echo "               tests      3      3      3      0        0"
EOF
# A script with one N/A case, which it did not count as passed.
cat >"$work/na.sh" <<'EOF'
printf 'ok   a\nN/A: b: not on this lab\nok   c\n2 passed, 0 failed\n'
EOF
chmod 755 "$work/build/tests/test_fake"

run() {  # tests scripts [SR_SKIP_FAILS] [name] -> $work/out, $rc
    env SR_ROOT="$root" SR_BIN="$work/bin" SR_BUILD="$work/build" \
        SHARED_DIR="$work" SR_TESTS="$1" SR_TEST_SCRIPTS="$2" SR_SKIP_FAILS="${3:-0}" \
        SR_SUMMARY="$work/summary" bash tests/run_tests.sh ${4:+"$4"} >"$work/out" 2>&1
    rc=$?
}
last() { tail -n 1 "$work/out"; }
expect() {  # want what
    if [ "$(last)" = "$1" ]; then ok "$2"; else bad "$2: got '$(last)', want '$1'"; fi
}

rm -f "$work/summary"
run "test_fake" "$work/na.sh"
expect "build: 4 passed, 0 failed, 2 skipped" "skips counted, never passed (CUnit and script)"
[ "$rc" -eq 0 ] && ok "skips alone: exit 0 (test-fast)" || bad "skips alone: exit $rc"

run "test_fake" "$work/na.sh" 1
expect "build: 4 passed, 1 failed, 2 skipped" "SR_SKIP_FAILS=1 (make test): a SKIP fails, an N/A does not"
[ "$rc" -ne 0 ] && ok "SR_SKIP_FAILS=1 with a SKIP: non-zero exit" || bad "SR_SKIP_FAILS=1: exit 0"

run "test_fake test_gone" "$work/na.sh $work/gone.sh"
expect "build: 4 passed, 2 failed, 2 skipped" "a listed binary not built and a listed script missing fail"
grep -q "test_gone: listed in tests/tests.mk but" "$work/out" && ok "the missing test is named" ||
    bad "the missing test is not named"

run "test_fake" "" 0 test_nosuch
expect "build: 0 passed, 1 failed, 0 skipped" "a name that is not listed fails (make test-one T=typo)"

bash tests/summarize.sh "$work/summary" >"$work/sum" 2>&1
rc=$?
got=$(tail -n 1 "$work/sum")
# the four runs above appended 4/0/2, 4/1/2, 4/2/2 and 0/1/0
want="total: 12 passed, 4 failed, 6 skipped"
[ "$got" = "$want" ] && ok "summarize.sh adds passed, failed and skipped" ||
    bad "summarize.sh: got '$got', want '$want'"
[ "$rc" -ne 0 ] && ok "summarize.sh: failures → non-zero exit" || bad "summarize.sh: exit 0"

# Wall times: one line per test in test-logs/times.txt, the ten slowest listed
# (slowest first) before the last line.
printf 'sleep 1.2\nprintf "ok   a\\n1 passed, 0 failed\\n"\n' >"$work/slow.sh"
printf 'printf "ok   a\\n1 passed, 0 failed\\n"\n' >"$work/fast.sh"
run "test_fake" "$work/fast.sh $work/slow.sh"
expect "build: 4 passed, 0 failed, 1 skipped" "timed run: the last line stays the result"
times=$work/build/test-logs/times.txt
[ "$(wc -l <"$times" 2>/dev/null)" = 3 ] && ok "times.txt: one line per test" ||
    bad "times.txt: $(wc -l <"$times" 2>/dev/null) lines, want 3"
awk -F '\t' '$2 == "slow" && $1 >= 1.0 {f = 1} END {exit !f}' "$times" &&
    ok "times.txt: the slow test's wall time (>= 1 s)" || bad "times.txt: $(tr '\t' ' ' <"$times")"
first=$(sed -n '/^slowest tests/{n;p;q;}' "$work/out")
[ "${first##*[[:space:]]}" = slow ] && ok "slowest tests listed, slowest first" ||
    bad "slowest list: first line '$first'"
run "" "$work/fast.sh"
grep -q '^slowest tests' "$work/out" && bad "a single test still lists the slowest" ||
    ok "a single test (make test-one): no slowest list"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
