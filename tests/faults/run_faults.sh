#!/usr/bin/env bash
# run_faults.sh — `make faults`: a FAULT_MAILBOXES-mailbox run (default 100)
# with the real engine (Delegates, Rules) under each fault of issue 11, each
# followed by plain reruns (at most FAULT_RERUNS, default 3) until exit 0,
# and compared with the fault-free run:
#   DONE      mailboxes DONE at the end        FAILED  not DONE (with reasons)
#   lost      listed but not DONE at the end   twice   mailboxes whose update
#   state     the simulators' state (normalised: ids, change keys and times
#             removed) equals the fault-free run's: "same" or "DIFFERS"
# "twice" counts journal ends of the UPDATED step with event ok above one
# per mailbox: an engine update that succeeded twice for one mailbox.
# Every server is started here on 127.0.0.1 and stopped by PID.
# Usage: run_faults.sh [fault...]   (default: all; FAULT_KEEP=1 keeps files)
# Env: SR_ROOT SR_BIN SHARED_DIR FAULT_MAILBOXES FAULT_RERUNS FAULT_SEED
set -u
cd "${SR_ROOT:?}" || exit 2
BIN=${SR_BIN:?}
PY=/usr/bin/python3
SHARED=${SHARED_DIR:-../shared}
N=${FAULT_MAILBOXES:-100}
RERUNS=${FAULT_RERUNS:-3}
RANDOM=${FAULT_SEED:-11}
ALL_FAULTS="none kill9-parent kill9-group engine-killed directory-restart http-503 conn-drops throttling slow-answers disk-full engine-killed-waiting engine-hangs-waiting kill9-waiting"
faults=${*:-$ALL_FAULTS}
work=$(mktemp -d /tmp/sr-faults-XXXXXX)
chmod 700 "$work"
pids=()
results="$work/results.txt"
: >"$results"

stop_pid() {
    kill "$1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
}
cleanup() {
    for p in "${pids[@]}"; do stop_pid "$p"; done
    mountpoint -q "$work/small" 2>/dev/null && umount -l "$work/small"
    [ -f "$work/lab/lab.env" ] && tests/lab/slapd-lab.sh stop "$work/lab" >/dev/null 2>&1
    if [ "${FAULT_KEEP:-0}" = 1 ]; then echo "faults: files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
die() { echo "faults: $*" >&2; exit 1; }
for b in switchresmb exsim cpuu; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run make first"; done

# ---- the lab: N rooms without deliberate faults, every one migrated
$PY tests/lab/orggen.py --users 1 --rooms "$N" --equipment 0 --seed 7 --unmigrated-every 0 \
    --no-problems -o "$work/org.json" || die "orggen failed"
$PY tests/exsim/seedgen.py --org "$work/org.json" --side source -o "$work/src.xml" || die "seedgen"
$PY tests/exsim/seedgen.py --org "$work/org.json" --side target -o "$work/tgt.xml" || die "seedgen"
mkdir -m 700 "$work/lab"
timeout 60 tests/lab/slapd-lab.sh start "$work/lab" "$work/org.json" >"$work/lab.log" 2>&1 ||
    { cat "$work/lab.log"; die "the slapd lab did not start"; }
labv() { sed -n "s/^$1=//p" "$work/lab/lab.env"; }
LDAP_PORT=$(labv LAB_LDAP_URI | sed 's/.*://')
# the directory is reached through drop_proxy.py, so it can "go away"
$PY tests/faults/drop_proxy.py --target "127.0.0.1:$LDAP_PORT" --port-file "$work/proxy.port" \
    --down-file "$work/dir-down" >"$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
[ -s "$work/proxy.port" ] || die "drop_proxy did not start"

export SR_MACHINE_ID_FILE="$work/machine-id"
echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
export LDAPTLS_CACERT; LDAPTLS_CACERT=$(labv LAB_CA)
export SWITCHRESMB_ALLOW_HTTP=1
encrypt() {
    printf '[Settings]\nCPUUCmdLine=\n[AD]\nDCName=x\nDCAccount=x\nDCPassword=\n' >"$work/scratch.ini"
    chmod 600 "$work/scratch.ini"
    "$BIN/switchresmb" "$work/scratch.ini" - >/dev/null 2>&1 && sed -n 's/^DCPassword=//p' "$work/scratch.ini"
}
acct_pw() { $PY -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.stdout.write(next(a["password"] for a in o["accounts"] if a["side"]==sys.argv[2]))' "$work/org.json" "$1"; }
DPW=$(encrypt <"$work/lab/password") SPW=$(acct_pw source | encrypt) TPW=$(acct_pw target | encrypt)
[ -n "$DPW" ] && [ -n "$SPW" ] && [ -n "$TPW" ] || die "cannot encrypt the lab passwords"
mapfile -t rooms < <($PY -c 'import json,sys
for r in json.load(open(sys.argv[1]))["recipients"]:
    if r["kind"] != "user": print(r["source"]["smtp"])' "$work/org.json")
[ "${#rooms[@]}" -eq "$N" ] || die "expected $N rooms, got ${#rooms[@]}"

# ---- one scenario's servers and files
start_exsim() {  # dir name seed
    "$BIN/exsim" --seed "$3" --port 0 --port-file "$1/$2.port" --schemas "$SHARED/protocol/ews" \
        >"$1/$2.log" 2>&1 &
    pids+=($!)
    eval "${2}_pid=$!"
    for _ in $(seq 100); do [ -s "$1/$2.port" ] && break; sleep 0.1; done
    [ -s "$1/$2.port" ] || die "exsim $2 did not start"
}
sim() {  # port path [curl args]
    local port=$1 path=$2; shift 2
    curl -s --max-time 20 --noproxy '*' "$@" "http://127.0.0.1:$port$path"
}
setup_case() {  # dir [OpenStoreWait/FeatureWait seconds, default 20] [GlobalWait, default 120]
    local d=$1
    mkdir -p -m 700 "$d"
    start_exsim "$d" src "$work/src.xml"
    start_exsim "$d" tgt "$work/tgt.xml"
    SRC=$(cat "$d/src.port") TGT=$(cat "$d/tgt.port")
    {
        printf '[Settings]\nCPUUCmdLine=-SkipAutodiscoverChecking -Log %s/cpuu.log\n' "$d"
        printf 'SrcExchServer=mail.src.test\nLogonNetworkSecurityNegotiate=1\n\n'
        printf '[AD]\nDCName=ldap://127.0.0.1:%s\nDCAccount=%s\nDCPassword=%s\n\n' \
            "$(cat "$work/proxy.port")" "$(labv LAB_BIND_DN)" "$DPW"
        printf '[SwitchMessage]\nMigrationAgentType=Contemporary\nTarget=Exchange\nRecreateSwitchMsg=0\n\n'
        printf '[MailboxesSMTP]\n'; printf '%s\n' "${rooms[@]}"
    } >"$d/SwitchResMB.ini"
    printf '[Parameters]\nFeatures=Delegates Rules\nSilent=1\nAdmin=admin\nPassword=%s\nAdminTrg=admin\nPasswordTrg=%s\nAutodiscoverSourceURL=http://127.0.0.1:%s/autodiscover/autodiscover.xml\nAutodiscoverTargetURL=http://127.0.0.1:%s/autodiscover/autodiscover.xml\nWatchDog=1\nOpenStoreWait=%s\nFeatureWait=%s\nGlobalWait=%s\n' \
        "$SPW" "$TPW" "$SRC" "$TGT" "${2:-20}" "${2:-20}" "${3:-120}" >"$d/CPUU.ini"
    chmod 600 "$d/SwitchResMB.ini" "$d/CPUU.ini"
    mkdir -p -m 700 "$d/state" "$d/profiles"
}
# run DIR LOG [extra args]: in its own process group (setsid), in the background; $run_pid
start_run() {
    local d=$1 log=$2; shift 2
    SWITCHRESMB_PROFILE_DIR="$d/profiles" setsid "$BIN/switchresmb" --state-dir "${STATE:-$d/state}" \
        --cpuu "${CPUU:-$BIN/cpuu}" --jobs 4 "$@" "$d/SwitchResMB.ini" >"$log" 2>&1 &
    run_pid=$!
}
wait_run() {  # seconds -> exit status (124: did not end)
    for _ in $(seq $(( $1 * 10 ))); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$run_pid" 2>/dev/null; then kill -9 -- "-$run_pid" 2>/dev/null; wait "$run_pid"; return 124; fi
    wait "$run_pid"
}
engines_of() {  # dir -> the cpuu processes of our run, by PID: children of its workers,
    # and the kept engines serving them (an engine serves many mailboxes and
    # outlives the worker that started it: docs/cpuu.md), found by the
    # case's -Log in their argv
    local w
    { for w in $(pgrep -P "$run_pid" 2>/dev/null); do pgrep -P "$w" 2>/dev/null; done
      pgrep -f -- "^$BIN/cpuu .*-Log $1/cpuu.log" 2>/dev/null; } | sort -u
}
state_of() {  # port -> normalised state
    sim "$1" /_sim/state | sed -E 's/ (Id|ChangeKey|id|change_key|changekey|next-id|created|created_at|CreatedAt|time|[A-Za-z]*[Tt]ime)="[^"]*"//g; s/>[0-9]{4}-[0-9]{2}-[0-9]{2}T[^<]*</></g; s/switchresmb [^<]* on [^<]*//g'
}
finish_case() {  # dir fault
    local d=$1 f=$2 rc=1 i
    for i in $(seq "$RERUNS"); do
        # workers orphaned by a kill -9 of the parent finish their mailbox and
        # hold the run lock meanwhile: wait for them (bounded), do not count it
        for _ in $(seq 60); do
            start_run "$d" "$d/rerun$i.log"
            wait_run 900; rc=$?
            grep -q 'lock on the file held' "$d/rerun$i.log" || break
            sleep 1
        done
        [ "$rc" -eq 0 ] && break
    done
    local done_n failed_n lost twice
    done_n=$(grep -cE '^  [^ ]+@[^ ]+ +DONE ' "$d/rerun$i.log")
    lost=$((N - done_n))
    failed_n=$(grep -cE '^  [^ ]+@[^ ]+ +FAILED ' "$d/run.log" 2>/dev/null)
    twice=$($PY - "$d/state" <<'PYEOF'
import glob, sqlite3, sys
n = 0
for j in glob.glob(sys.argv[1] + "/*.journal"):
    db = sqlite3.connect(j)
    # state 4 = UPDATED (resmb/resmb.h), event 1 = ok: ended with success
    for (c,) in db.execute("SELECT COUNT(*) FROM log WHERE phase='end' AND next=4 AND event=1 GROUP BY object"):
        n += c > 1
print(n)
PYEOF
)
    state_of "$SRC" >"$d/src.state"; state_of "$TGT" >"$d/tgt.state"
    local same=same
    if [ "$f" != none ]; then
        cmp -s "$d/src.state" "$work/none/src.state" && cmp -s "$d/tgt.state" "$work/none/tgt.state" || same=DIFFERS
    fi
    printf '%-18s %5s %6s %6s %5s %6s  %s\n' "$f" "$done_n" "${failed_n:-0}" "$lost" "$twice" "$same" \
        "exit $rc after $i rerun(s)" | tee -a "$results"
    grep -E '^  [^ ]+@[^ ]+ +FAILED' "$d/run.log" 2>/dev/null | cut -c48- | sort | uniq -c | sort -rn |
        head -3 | sed 's/^/      | first run: /'
    grep -E '^  [^ ]+@[^ ]+ +(FAILED|INTERRUPTED|NOT STARTED)' "$d/rerun$i.log" | head -5 | sed 's/^/      | /'
    stop_pid "$src_pid"; stop_pid "$tgt_pid"
}

# ---- the faults: each starts a first run, hurts it, lets it end
fault_none() { start_run "$1" "$1/run.log"; wait_run 900; }
fault_kill9-parent() {   # kill -9 of switchresmb alone at 20 random moments
    for _ in $(seq 20); do
        start_run "$1" "$1/run.log"; sleep "0.$((RANDOM % 10))$((RANDOM % 10))"; sleep $((RANDOM % 2))
        kill -9 "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null
        sleep 0.5   # orphaned workers finish their mailbox; the next run waits for the lock anyway
    done
}
fault_kill9-group() {    # power cut: the whole process group, five times
    for _ in $(seq 5); do
        start_run "$1" "$1/run.log"; sleep $((1 + RANDOM % 3))
        kill -9 -- "-$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null
        for e in $(engines_of "$1"); do kill -9 "$e" 2>/dev/null; done
    done
}
fault_engine-killed() {  # a running engine killed mid-feature, ten times
    start_run "$1" "$1/run.log"
    for _ in $(seq 10); do
        sleep "0.$((RANDOM % 10))"
        for e in $(engines_of "$1" | head -1); do kill -9 "$e" 2>/dev/null; done
    done
    wait_run 900
}
fault_directory-restart() {   # the directory goes away mid-run and comes back
    start_run "$1" "$1/run.log"
    sleep 2; touch "$work/dir-down"
    sleep 3; rm -f "$work/dir-down"
    wait_run 900
}
fault_http-503() {       # 5% HTTP 503 on both Exchange sides
    sim "$SRC" "/_sim/config?fail-rate=0.05&fail-status=503&fail-seed=5" -XPOST >/dev/null
    sim "$TGT" "/_sim/config?fail-rate=0.05&fail-status=503&fail-seed=6" -XPOST >/dev/null
    start_run "$1" "$1/run.log"; wait_run 900
    sim "$SRC" "/_sim/config?fail-rate=0" -XPOST >/dev/null; sim "$TGT" "/_sim/config?fail-rate=0" -XPOST >/dev/null
}
fault_conn-drops() {     # a response cut mid-body every few seconds
    start_run "$1" "$1/run.log"
    while kill -0 "$run_pid" 2>/dev/null; do
        sim "$SRC" "/_sim/config?drop-nth=$((5 + RANDOM % 20))" -XPOST >/dev/null
        sim "$TGT" "/_sim/config?drop-nth=$((5 + RANDOM % 20))" -XPOST >/dev/null
        sleep 2
    done
    wait_run 10
}
fault_throttling() {     # a throttling storm: one request at a time, ErrorServerBusy
    for p in "$SRC" "$TGT"; do sim "$p" "/_sim/config?max-concurrency=1&backoff-ms=300" -XPOST >/dev/null; done
    start_run "$1" "$1/run.log"; wait_run 900
    for p in "$SRC" "$TGT"; do sim "$p" "/_sim/config?max-concurrency=0&backoff-ms=0" -XPOST >/dev/null; done
}
fault_slow-answers() {   # answers slower than the watchdog's limits for a while
    for p in "$SRC" "$TGT"; do sim "$p" "/_sim/config?rtt-ms=2500" -XPOST >/dev/null; done
    start_run "$1" "$1/run.log"; sleep 20
    for p in "$SRC" "$TGT"; do sim "$p" "/_sim/config?rtt-ms=0" -XPOST >/dev/null; done
    wait_run 900
}
fault_disk-full() {      # the journal on a 1 MiB tmpfs, filled but for 96 KiB
    mkdir -p "$work/small"
    mount -t tmpfs -o size=1m,mode=0700 tmpfs "$work/small" 2>/dev/null ||
        { echo "      | disk-full: cannot mount a tmpfs here (not root): not run" | tee -a "$results"; return 1; }
    dd if=/dev/zero of="$work/small/fill" bs=4k 2>/dev/null
    truncate -s -96K "$work/small/fill"
    STATE="$work/small" start_run "$1" "$1/run.log"; wait_run 900
    grep -o 'disk full under [^:]*' "$1/run.log" | head -1 | sed 's/^/      | /'
    rm -f "$work/small/fill"
}

# The engine kept from a mailbox's update for its cleanup (one process per
# mailbox, cpuu_invoke.h), hurt while it waits for that command by
# tests/py/engine_wrap.py standing as cpuu in the first run (the reruns use
# the engine itself); the wrapper's log counts the starts (the fresh cleanups).
wrapped_run() {  # dir fault [every]
    ENGINE_WRAP_REAL="$BIN/cpuu" ENGINE_WRAP_LOG="$1/engine-starts.log" ENGINE_WRAP_FAULT=$2 \
        ENGINE_WRAP_EVERY=${3:-1} CPUU="$SR_ROOT/tests/py/engine_wrap.py" start_run "$1" "$1/run.log"
    wait_run 900
    echo "      | $2: $(grep -c . "$1/engine-starts.log") engine start(s), $(grep -c -- -Cleanup "$1/engine-starts.log") fresh cleanup(s)" |
        tee -a "$results"
}
fault_engine-killed-waiting() { wrapped_run "$1" kill 3; }   # every 3rd kept engine killed
fault_engine-hangs-waiting() { wrapped_run "$1" hang 4; }    # every 4th stopped: GlobalWait ends it
fault_kill9-waiting() { wrapped_run "$1" kill-group; }       # switchresmb's group killed once in that window

printf '%-18s %5s %6s %6s %5s %6s\n' fault DONE FAILED lost twice state | tee -a "$results"
for f in none $faults; do
    [ "$f" = none ] && [ -d "$work/none" ] && continue
    d="$work/$f"
    case $f in
        slow-answers) setup_case "$d" 2;;
        engine-hangs-waiting) setup_case "$d" 20 10;;
        *) setup_case "$d";;
    esac
    STATE=
    [ "$f" = disk-full ] && STATE="$work/small"
    "fault_$f" "$d" || { [ "$f" = disk-full ] && { stop_pid "$src_pid"; stop_pid "$tgt_pid"; continue; }; }
    STATE=$STATE finish_case "$d" "$f"
    [ "$f" = disk-full ] && umount -l "$work/small"
done
cp "$results" "${FAULT_RESULTS:-build/faults-results.txt}" 2>/dev/null
bad=$(awk 'NR>1 && $1 !~ /^\|/ && ($4 != 0 || $5 != 0 || $6 != "same")' "$results" | wc -l)
echo "faults: $bad scenario(s) with something lost, done twice or a different end state"
[ "$bad" -eq 0 ]
