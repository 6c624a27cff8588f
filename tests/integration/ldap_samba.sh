#!/usr/bin/env bash
# ldap_samba.sh — the ldap test suite against a real Active Directory: a Samba
# AD DC (tests/lab/samba-lab.sh) instead of the slapd lab.
#
#   1. $SR_BUILD/tests/test_ldap with LAB_SCRIPT=tests/lab/samba-lab.sh: the
#      same cases as against slapd; the binary provisions one DC for its run
#      and stops it.  Its CUnit totals are added to ours.
#   2. The lab's own contract: a start that fails halfway (after samba is up)
#      exits non-zero and leaves nothing running; stop is safe on a missing
#      or empty DIR; after every run nothing listens on the DC's ports.
# AD-only client behaviour (TLS-required message, GSSAPI, >1000 objects,
# SCP, referrals) is in build/tests/test_ldap_ad (tests/tests.mk).
#
# Env: SR_ROOT SR_BUILD (tests/run_tests.sh).  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
build=${SR_BUILD:-build}
lab=tests/lab/samba-lab.sh
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "  ok   $*"; }
bad()  { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

tmp=$(mktemp -d /tmp/sr-ldapsamba-XXXXXX) || exit 2
cleanup() { [ -d "$tmp/lab" ] && bash "$lab" stop "$tmp/lab" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

# Nothing of a Samba lab listens on 127.0.0.1 (LDAP, LDAPS, GC ports).
dc_ports_closed() {
    ! ss -ltnH 2>/dev/null | awk '{print $4}' | grep -qE '^127\.0\.0\.1:(389|636|3268|3269)$'
}

# No samba process holds files under DIR.
no_samba_in() {
    local p
    for p in /proc/[0-9]*; do
        case "$(readlink "$p/exe" 2>/dev/null)" in */samba) ;; *) continue ;; esac
        ls -l "$p/fd" 2>/dev/null | grep -qF -- " $1/" && return 1
    done
    return 0
}

# ---- 1. the ldap suite against the DC -----------------------------------------
echo "== test_ldap against the Samba AD DC"
if [ ! -x "$build/tests/test_ldap" ]; then
    bad "test_ldap is not built ($build/tests/test_ldap)"
else
    t0=$SECONDS
    # ASan build: a third-party leak in Cyrus SASL's GSSAPI plugin is suppressed.
    LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$PWD/tests/lab/samba/lsan.supp" \
    LAB_SCRIPT=$lab timeout -k 10 600 "$build/tests/test_ldap" >"$tmp/test_ldap.log" 2>&1
    rc=$?
    cat "$tmp/test_ldap.log"
    read -r p f < <(awk '$1=="tests" && NF>=5 && $2 ~ /^[0-9]+$/ {print $4, $5; found=1}
                         END {if (!found) print "x x"}' "$tmp/test_ldap.log")
    if [ "$p" = x ]; then
        bad "test_ldap against samba: no CUnit summary (exit $rc)"
    else
        # CUnit counts a test that printed SKIP:/N/A: as passed; tests/run_tests.sh
        # counts those lines (they are in our output) as skipped.
        s=$(grep -c -e '^SKIP: ' -e '^N/A: ' "$tmp/test_ldap.log")
        p=$((p > s ? p - s : 0))
        passed=$((passed + p)); failed=$((failed + f))
        echo "  test_ldap against samba: $p passed, $f failed, $s skipped, exit $rc, $((SECONDS - t0)) s"
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && bad "test_ldap exit status $rc"
    fi
    check "after test_ldap: no DC port left listening" dc_ports_closed
fi

# ---- 2. the lab's start/stop contract ----------------------------------------
echo "== samba-lab.sh start/stop"
/usr/bin/python3 tests/lab/orggen.py --users 3 --rooms 2 --equipment 1 -o "$tmp/org.json" ||
    bad "orggen"
check "stop on a missing DIR exits 0" bash "$lab" stop "$tmp/nonexistent"
mkdir -m 700 "$tmp/empty"
check "stop on an empty DIR exits 0" bash "$lab" stop "$tmp/empty"
check "start with a missing org.json fails" bash -c "! bash '$lab' start '$tmp/x' '$tmp/none.json' 2>/dev/null"

# A start that fails after samba is up (the self-check bind is made to fail):
# non-zero exit, a reason, and nothing left running or listening.
t0=$SECONDS
LAB_SAMBA_TEST_FAIL_SELFCHECK=1 bash "$lab" start "$tmp/lab" "$tmp/org.json" >"$tmp/half.log" 2>&1
rc=$?
cat "$tmp/half.log"
check "start failing halfway exits non-zero" test "$rc" -ne 0
check "start failing halfway says why" grep -q 'simple bind over ldaps' "$tmp/half.log"
check "start failing halfway leaves no DC port listening" dc_ports_closed
check "start failing halfway leaves no samba of its DIR" no_samba_in "$tmp/lab"
check "stop after a failed start exits 0" bash "$lab" stop "$tmp/lab"
echo "  (halfway start + stop: $((SECONDS - t0)) s)"

echo "ldap_samba: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
