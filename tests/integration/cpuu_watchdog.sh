#!/usr/bin/env bash
# cpuu_watchdog.sh — cpuu run by hand (not by switchresmb) with WatchDog=1
# runs under the spec's watchdog: an engine stuck on an Exchange server that
# accepts the connection and never answers is stopped after GlobalWait and
# restarted, Attempt times in all, and the run ends with exit bit 32; with
# WatchDog=0 the same run is still stuck when an outer `timeout` kills it
# (so it is the watchdog that ended the first).  A run that does not hang
# is not disturbed, and Ctrl-C (SIGINT) reaches the watched engine.
# Env: SR_BIN, SR_ROOT.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
BIN=${SR_BIN:-bin}
PY=/usr/bin/python3
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
work=$(mktemp -d /tmp/sr-cpuu-wd-XXXXXX)
chmod 700 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
[ -x "$BIN/cpuu" ] || { bad "$BIN/cpuu is not built"; echo "$passed passed, $failed failed"; exit 1; }

# a server on 127.0.0.1 that takes connections and says nothing (at most 90 s)
$PY - "$work/port" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(1.0)
held, end = [], time.monotonic() + 90
while time.monotonic() < end:
    try:
        c, _ = s.accept(); held.append(c)
    except socket.timeout:
        pass
EOF
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
PORT=$(cat "$work/port")

export SWITCHRESMB_PROFILE_DIR="$work/profiles" CPUU_ALLOW_HTTP=1
mkdir -m 700 "$work/profiles"
cat >"$work/profiles/Room%201.profile" <<EOF
switchresmb-profile 1

[profile]
name = Room 1
default = 1

[status]
temporary = 0
updated = 0

[account]
home-server = mail.src.test
legacy-dn = /o=Src/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=room1
smtp = room1@src.test
logon-security = NTLM
autodiscover-url = http://127.0.0.1:$PORT/autodiscover/autodiscover.xml
ews-url = http://127.0.0.1:$PORT/EWS/Exchange.asmx
offline = 0
EOF
chmod 600 "$work/profiles/Room%201.profile"
ini() {  # WatchDog value
    # an account, so the engine gets as far as the server that never answers
    # (an NTLM profile without a password is refused before any connection)
    printf '[Parameters]\nFeatures=Delegates Rules\nSilent=1\nWatchDog=%s\nGlobalWait=2\nAttempt=2\nAdmin=SRC\\admin\nPassword=\n' "$1" \
        >"$work/CPUU.ini"
    printf 'AutodiscoverSourceURL=http://127.0.0.1:%s/autodiscover/autodiscover.xml\n' "$PORT" >>"$work/CPUU.ini"
    printf 'not-a-secret\n' | "$BIN/cpuu-config" --encrypt Password "$work/CPUU.ini" >/dev/null
}

ini 1
start=$(date +%s)
timeout 40 "$BIN/cpuu" -INI "$work/CPUU.ini" -Log "$work/a.log" -Profiles 'Room 1' -SkipAutodiscoverChecking \
    >"$work/a.out" 2>"$work/a.err"
rc=$? took=$(( $(date +%s) - start ))
check "WatchDog=1: the hung engine is stopped, exit carries bit 32 (exit $rc after ${took}s)" \
    "[ $rc -ne 124 ] && [ \$((rc & 32)) -eq 32 ]"
check "WatchDog=1: restarted once, then given up (Attempt=2)" \
    "grep -q 'attempt 1 of 2), restarting' '$work/a.err' && grep -q 'attempt 2 of 2)' '$work/a.err'"
check "WatchDog=1: it took about two GlobalWait periods (${took}s, want 4..20)" "[ $took -ge 4 ] && [ $took -le 20 ]"
check "WatchDog=1: says where it hung" "grep -q 'hung in global' '$work/a.err'"

ini 0
timeout 8 "$BIN/cpuu" -INI "$work/CPUU.ini" -Log "$work/b.log" -Profiles 'Room 1' -SkipAutodiscoverChecking \
    >/dev/null 2>"$work/b.err"
rc=$?
check "WatchDog=0: the same run is still stuck when timeout(1) kills it (exit $rc)" "[ $rc -eq 124 ]"

# a run that does not hang: no profile of that name -> code 4, nothing restarted
ini 1
"$BIN/cpuu" -INI "$work/CPUU.ini" -Log "$work/c.log" -Profiles 'No Such Profile' >/dev/null 2>"$work/c.err"
rc=$?
check "WatchDog=1, quick run: the engine's own result (CSV 4), no restart (exit $rc)" \
    "! grep -q restarting '$work/c.err' && grep -q \$'^No Such Profile\t4' '$work/c.csv'"

# signals to the watchdog go to the engine, and nothing is restarted after them
sig_run() {  # signal name
    printf '[Parameters]\nFeatures=Rules\nSilent=1\nWatchDog=1\nGlobalWait=3\nAttempt=3\nAutodiscoverSourceURL=http://127.0.0.1:%s/autodiscover/autodiscover.xml\n' \
        "$PORT" >"$work/CPUU.ini"
    "$BIN/cpuu" -INI "$work/CPUU.ini" -Log "$work/$1.log" -Profiles 'Room 1' -SkipAutodiscoverChecking \
        >/dev/null 2>"$work/$1.err" &
    local cp=$! t0; t0=$(date +%s)
    sleep 1
    kill -"$1" "$cp"
    for _ in $(seq 200); do kill -0 "$cp" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$cp" 2>/dev/null; then kill -9 "$cp"; wait "$cp"; echo "999 99"; return; fi
    wait "$cp"; echo "$? $(( $(date +%s) - t0 ))"
}
read -r rc took < <(sig_run TERM)
check "SIGTERM: the engine stops at once, no restart (exit $rc after ${took}s)" \
    "[ $rc -ne 999 ] && [ $took -le 2 ] && ! grep -q restarting '$work/TERM.err'"
read -r rc took < <(sig_run INT)
# the engine finishes the profile in progress (here: until the watchdog stops
# it), then the run ends instead of trying again: one GlobalWait, not three
check "SIGINT: the profile in progress ends, no further attempt (exit $rc after ${took}s)" \
    "[ $rc -ne 999 ] && [ $took -le 6 ] && ! grep -q restarting '$work/INT.err'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
