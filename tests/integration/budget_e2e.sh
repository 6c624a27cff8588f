#!/usr/bin/env bash
# budget_e2e.sh — issue 13: one request budget per Exchange account for the
# whole run (mapi/budget.h).  switchresmb → cpuu (the real engine) against the
# slapd lab and two simulators that throttle per account
# (--max-concurrency, Exchange's EWSMaxConcurrency): the simulators' peak of
# requests in flight (/_sim/stats max_in_flight) stays within the limit and
# nothing is throttled, at the default 27 with --jobs 8 and at a tight limit
# where the parent's 27-wide batched reads alone would overshoot; a control
# run without the budget (--ews-concurrency 0, what the code did before)
# overshoots, so the check can fail.  Then an engine killed by SIGKILL in the
# middle of its requests does not shrink the budget: the other mailboxes are
# done, nothing is throttled and every slot is free at the end.
# Counts and states only, nothing is timed.  Ends "N passed, N failed".
# Env: SR_ROOT, SR_BIN, SHARED_DIR; BENCH_KEEP=1 keeps the files.
set -u
cd "${SR_ROOT:?}" || exit 2
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

ROOMS=24        # a batch of the parent's reads (more than any limit below)
RTT_MS=20       # every answer waits this long, so requests overlap as on a real link
export BENCH_TLS=0 BENCH_TIMEOUT=300 BENCH_FEATURES="Delegates Rules Nicks"
# benchlab.sh: the lab, the simulators and the INI files the benches use
. tests/bench/benchlab.sh budget
SW_PID=""
stop_run() {
    [ -n "$SW_PID" ] || return 0
    kill "$SW_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$SW_PID" 2>/dev/null || break; sleep 0.1; done
    SW_PID=""
}
trap 'stop_run; bl_cleanup' EXIT

bl_org "$ROOMS" 0
bl_ldap
mapfile -t list < <(bl_rooms)
[ "${#list[@]}" -eq "$ROOMS" ] || { bad "the org has $ROOMS rooms (${#list[@]})"; finish; }

stat_of() { bl_stat "$1" "$2"; }
throttled() {  # side: the simulator's throttling events
    curl -s --max-time 20 --noproxy '*' "$BL_SCHEME://127.0.0.1:$(cat "$work/$1.port")/_sim/stats" |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["events"].get("throttled", 0))'
}
done_rooms() { grep -c '^ *room-[0-9]*@.* DONE' "$work/run.log"; }

# One run through benchlab's bl_run (what the fleet bench runs).
run_case() {  # name limit jobs ews_concurrency
    local name=$1 limit=$2 jobs=$3 conc=$4
    bl_sims "$RTT_MS" "$limit"
    bl_ini "${list[@]}"
    BENCH_RESMB_OPTS="--log-level info --ews-concurrency $conc" bl_run "$jobs"
    CASE_RC=$BL_RC
    CASE_SRC_MAX=$(stat_of src max_in_flight) CASE_TGT_MAX=$(stat_of tgt max_in_flight)
    CASE_THR=$(( $(throttled src) + $(throttled tgt) ))
    CASE_DONE=$(done_rooms)
    echo "     $name: exit $CASE_RC, $CASE_DONE/$ROOMS DONE, max in flight $CASE_SRC_MAX source /" \
         "$CASE_TGT_MAX target (limit $limit), throttled $CASE_THR"
}

within_limit() {  # limit
    [ "$CASE_SRC_MAX" -ge 1 ] && [ "$CASE_SRC_MAX" -le "$1" ] &&
    [ "$CASE_TGT_MAX" -ge 1 ] && [ "$CASE_TGT_MAX" -le "$1" ]
}
all_done() { [ "$CASE_RC" -eq 0 ] && [ "$CASE_DONE" -eq "$ROOMS" ]; }
slots_back() {  # limit: the run's own end-of-run count of both budgets
    grep -q "request budget (source): all $1 slot(s) free at the end" "$work/run.log" &&
    grep -q "request budget (target): all $1 slot(s) free at the end" "$work/run.log"
}
show_tail() { tail -n 15 "$work/run.log" | sed 's/^/    /'; }

# ---- the default budget (27) against Exchange's default limit, --jobs 8 -------------
run_case "default" 27 8 27
check "default: every room DONE, exit 0" all_done
all_done || show_tail
check "default: at most 27 requests in flight per account" within_limit 27
check "default: nothing throttled (no ErrorServerBusy)" [ "$CASE_THR" -eq 0 ]
check "default: every slot free at the end" slots_back 27

# ---- a tight limit: the parent's batch (27 wide) and 4 engines share 5 slots ---------
run_case "tight" 5 4 5
check "tight: every room DONE, exit 0" all_done
all_done || show_tail
check "tight: at most 5 requests in flight per account" within_limit 5
check "tight: nothing throttled" [ "$CASE_THR" -eq 0 ]

# ---- control: no budget (the code before it) overshoots the same limit --------------
run_case "control" 5 4 0
check "control without a budget: more than 5 in flight (the check can fail)" \
    [ "$CASE_SRC_MAX" -gt 5 ]

# ---- an engine killed mid-request does not shrink the budget ------------------------
# Slow answers (200 ms) so that an engine is waiting for one when it is killed.
bl_sims 200 4
bl_ini "${list[@]}"
rm -rf "$work/state" "$work/profiles" "$work"/cpuu-*.log
export LDAPTLS_CACERT; LDAPTLS_CACERT=$(bl_labv LAB_CA)
export SWITCHRESMB_ALLOW_HTTP=1 SWITCHRESMB_PROFILE_DIR="$work/profiles"
"$BIN/switchresmb" --log-level info --state-dir "$work/state" --cpuu "$BIN/cpuu" --jobs 4 \
    --ews-concurrency 4 "$work/SwitchResMB.ini" >"$work/run.log" 2>&1 &
SW_PID=$!
# the first engine (a grandchild: switchresmb → worker → cpuu), by PID
engine_of() {
    local w c
    for w in $(ps -o pid= --ppid "$SW_PID" 2>/dev/null); do
        for c in $(ps -o pid= --ppid "$w" 2>/dev/null); do
            [ "$(cat "/proc/$c/comm" 2>/dev/null)" = cpuu ] && { echo "$c"; return 0; }
        done
    done
    return 1
}
victim=""
for _ in $(seq 300); do victim=$(engine_of) && break; sleep 0.05; done
if [ -n "$victim" ]; then
    sleep 0.5   # into its requests (each answer takes 200 ms)
    kill -KILL "$victim" 2>/dev/null && ok "an engine (PID $victim) killed with SIGKILL" ||
        bad "the engine $victim ended before it could be killed"
else
    bad "no engine process appeared"
fi
ended=0
for _ in $(seq 1200); do kill -0 "$SW_PID" 2>/dev/null || { ended=1; break; }; sleep 0.1; done
check "the run ends after the kill (no request waits for a lost slot)" [ "$ended" -eq 1 ]
[ "$ended" -eq 1 ] && wait "$SW_PID"
SW_PID=""
CASE_DONE=$(done_rooms)
killed_thr=$(( $(throttled src) + $(throttled tgt) ))
echo "     kill: $CASE_DONE/$ROOMS DONE, throttled $killed_thr"
check "kill: every other room DONE" [ "$CASE_DONE" -ge $((ROOMS - 1)) ]
check "kill: nothing throttled" [ "$killed_thr" -eq 0 ]
check "kill: every slot free at the end (the kernel gave the killed engine's back)" slots_back 4
slots_back 4 || grep -i "budget" "$work/run.log" | sed 's/^/    /'
finish
