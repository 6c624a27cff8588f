# harness.sh — sourced by the integration scripts that start a lab: the
# counters and their result line, a private work directory, and a cleanup
# that stops every PID in `pids` (bounded wait, then -9) and the slapd lab
# under $work/lab.  Usage: `. tests/common/harness.sh NAME` (from SR_ROOT);
# the work directory is /tmp/sr-NAME-XXXXXX, mode 700.
PY=/usr/bin/python3
passed=0 failed=0
work=$(mktemp -d "/tmp/sr-${1:?harness.sh needs a name}-XXXXXX")
chmod 700 "$work"
pids=()
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    [ -f "$work/lab/lab.env" ] && tests/lab/slapd-lab.sh stop "$work/lab" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
die() { bad "$*"; echo "$passed passed, $failed failed"; exit 1; }
