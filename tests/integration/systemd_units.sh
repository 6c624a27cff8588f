#!/usr/bin/env bash
# systemd_units.sh — contrib/systemd: the service and the timer pass
# `systemd-analyze verify` without a single message (a deliberately broken
# unit shows that the check does report), and the service keeps what
# docs/switchresmb.md promises: state in StateDirectory, output to the
# journal, a stop that signals switchresmb only and waits for the engines.
# Env: SR_ROOT, SR_BIN.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
BIN=$(cd "${SR_BIN:-bin}" && pwd)
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
work=$(mktemp -d /tmp/sr-units-XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v systemd-analyze >/dev/null || { bad "systemd-analyze missing (make deps: systemd)"; echo "$passed passed, $failed failed"; exit 1; }
# the units as `make install` writes them, pointing at this build
sed "s|@BINDIR@|$BIN|g; s|@CONFDIR@|/etc/switchresmb|g" contrib/systemd/switchresmb.service.in \
    >"$work/switchresmb.service"
cp contrib/systemd/switchresmb.timer "$work/"
out=$(systemd-analyze verify --man=no "$work/switchresmb.service" "$work/switchresmb.timer" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify: service and timer clean"; else bad "verify (exit $rc): $out"; fi
printf '[Service]\nType=oneshot\nExecStart=%s/switchresmb --help\nKillMod=mixed\n' "$BIN" >"$work/broken.service"
out=$(systemd-analyze verify --man=no "$work/broken.service" 2>&1)
if grep -q "Unknown key 'KillMod'" <<<"$out"; then ok "the check reports a misspelt key (control)"; else bad "verify did not report a broken unit: $out"; fi
has() {  # name key=value
    if grep -qx "$2" "$work/switchresmb.service"; then ok "$1 ($2)"; else bad "$1: no $2"; fi
}
has "state where systemd keeps it" "StateDirectory=switchresmb"
has "the run's files private" "StateDirectoryMode=0700"
has "log to the journal" "StandardOutput=journal"
has "SIGTERM to switchresmb only, engines finish their step" "KillMode=mixed"
has "stop waits for the running engines" "TimeoutStopSec=30min"
has "one run at a time, however long" "Type=oneshot"
grep -q '^ExecStart=.*--state-dir ${STATE_DIRECTORY} ' "$work/switchresmb.service" &&
    ok "journal and report in the state directory" || bad "ExecStart does not use STATE_DIRECTORY"
grep -qx 'Persistent=true' "$work/switchresmb.timer" && grep -qx 'WantedBy=timers.target' "$work/switchresmb.timer" &&
    ok "timer: persistent, enabled under timers.target" || bad "timer lacks Persistent/WantedBy"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
