#!/usr/bin/env bash
# run_bench.sh — `make bench`: every benchmark recorded in BENCHMARKS.md.
# Each run prints "=== <command>", a command that reruns that bench alone,
# and the bench prints its own result lines (with the machine and its load),
# which are meant to be copied with the command into BENCHMARKS.md.
#
#   make bench                    quick mode: each tests/bench/*.bench.sh once
#                                 at its default (small) sizes, ~10 min on the
#                                 2-CPU machine (BENCHMARKS.md)
#   BENCH_FULL=1 make bench       full mode: the quick runs, then every other
#                                 configuration a BENCHMARKS.md figure comes
#                                 from (TLS and Tasks rows of per_mailbox, the
#                                 fleet at 16 workers, without the
#                                 request budget and at the goal's 10,000 rooms,
#                                 the list at 300 / 10,000 / 100,000 mailboxes,
#                                 the Samba directory); hours, see BENCHMARKS.md
#   BENCH_ONLY="fleet peer" make bench    only these benches (names without
#                                 .bench.sh), in either mode
# A variable set by the caller (FLEET_JOBS=..., BENCH_TLS=1, ...) reaches the
# quick runs; a full-mode run sets its own on top.  Exit status: 1 when a
# bench failed (every bench still runs).
set -u
cd "${SR_ROOT:?}" || exit 2
export SR_ROOT SR_BIN="${SR_BIN:?}" SHARED_DIR="${SHARED_DIR:-../shared}"
[ -d "$SHARED_DIR/protocol/ews" ] ||
    { echo "make bench: $SHARED_DIR/protocol/ews is missing: pass SHARED_DIR=<the shared directory>" >&2; exit 2; }
# the tree measured: a commit, "+changes" when the work tree differs from it
if commit=$(git rev-parse --short HEAD 2>/dev/null); then
    git diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
else
    commit="unknown (not a git tree)"
fi
rc=0
wanted() {  # name: in BENCH_ONLY (or no BENCH_ONLY)
    [ -z "${BENCH_ONLY:-}" ] && return 0
    case " $BENCH_ONLY " in *" $1 "*) return 0 ;; esac
    return 1
}
run() {  # name [VAR=value ...]: one bench, with these variables on top of the caller's
    local name=$1; shift
    wanted "$name" || return 0
    local a shown=""
    for a in "$@"; do shown+=" ${a%%=*}=\"${a#*=}\""; done
    echo "=== BENCH_ONLY=$name$shown make bench    # $(date -u +%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), commit $commit"
    env "$@" bash "tests/bench/$name.bench.sh"
    local st=$?
    [ "$st" -eq 0 ] || { rc=1; echo "=== $name: FAILED (exit $st)"; }
}
for b in tests/bench/*.bench.sh; do
    name=$(basename "$b" .bench.sh)
    run "$name"
done
if [ "${BENCH_FULL:-0}" = 1 ]; then
    echo "=== full mode (BENCH_FULL=1): the other configurations BENCHMARKS.md records"
    run per_mailbox BENCH_TLS=1
    run per_mailbox BENCH_FEATURES=Tasks
    run fleet FLEET_JOBS=16
    run fleet FLEET_JOBS="4 32" BENCH_RESMB_OPTS="--ews-concurrency 0"
    run list_memory LIST_MAILBOXES=300
    run list_memory LIST_MAILBOXES=10000
    run ldap_resolve LAB_SCRIPT=tests/lab/samba-lab.sh
    # the goal sizes last: each alone takes about half an hour or more
    run fleet FLEET_ROOMS=10000 FLEET_JOBS=32
    run list_memory LIST_MAILBOXES=100000
fi
exit $rc
