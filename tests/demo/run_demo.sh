#!/usr/bin/env bash
# The demo: what exists of the pipeline so far, run on the bundled lab.
# (Stage 1: the configuration loader on the specification's examples.  The
# later stages append to this script as they land.)
set -u
cd "${SR_ROOT:?}"
echo "demo: switchresmb validating the bundled SwitchResMB.ini examples"
rc_all=0
for f in tests/data/switchresmb/seed-example-*.ini; do
    [ -e "$f" ] || continue
    "$SR_BIN/switchresmb" --check "$f"; rc=$?
    echo "demo: $f -> exit $rc"
    [ "$rc" -eq 0 ] || rc_all=1
done
exit $rc_all
