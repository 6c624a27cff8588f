#!/usr/bin/env bash
# sigpipe.sh — every process of ours ignores SIGPIPE (issue 11): a reader
# that went away (a closed progress pipe, a closed stdout, a directory
# server that died under a socket) gives EPIPE and a proper exit status,
# never death by signal 13 (exit 141, which is not a bitmask value).
# The processes are started the way a runner resets them: SIGPIPE at its
# default (Python's subprocess restores it), stdout and the progress fd a
# pipe whose reading end is already closed.
# Env: SR_BIN, SR_ROOT.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
BIN="${SR_BIN:-bin}"
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

# broken_pipe_run ARGS...: prints "exit N" or "signal N"
broken_pipe_run() {
    /usr/bin/python3 - "$@" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)                      # nobody will ever read
env = dict(os.environ, CPUU_PROGRESS_FD=str(w))
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=w, stderr=w,
                   pass_fds=[w], env=env, timeout=60)   # restore_signals: SIGPIPE default
print("signal %d" % -p.returncode if p.returncode < 0 else "exit %d" % p.returncode)
PY
}

# check NAME WANT ARGS...
check() {
    local name=$1 want=$2; shift 2
    local got
    got=$(broken_pipe_run "$@")
    if [ "$got" = "$want" ]; then ok "$name: $got"; else bad "$name: got '$got', want '$want'"; fi
}

check "cpuu -? with progress fd and stdout closed" "exit 0" "$BIN/cpuu" -?
check "cpuu bad parameter: exit bits, not SIGPIPE" "exit 16" "$BIN/cpuu" -Frobnicate
export SR_MACHINE_ID_FILE
SR_MACHINE_ID_FILE=$(mktemp /tmp/sr-sigpipe-XXXXXX)
echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
check "switchresmb --check with stdout closed" "exit 0" \
    "$BIN/switchresmb" --check tests/data/switchresmb/seed_ex1_legacy.ini
check "switchresmb --help with stdout closed" "exit 0" "$BIN/switchresmb" --help
rm -f "$SR_MACHINE_ID_FILE"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
