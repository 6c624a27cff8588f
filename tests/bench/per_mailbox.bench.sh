#!/usr/bin/env bash
# per_mailbox.bench.sh — what one mailbox costs switchresmb + cpuu together
# (issue 13 goal 4: CPU ≤ 30 ms per mailbox): CPU instructions (callgrind,
# every process of the run, repeatable on a shared machine), and the system
# calls fsync, fdatasync, execve and connect (strace -f -c).
# Against the slapd lab and two simulators on 127.0.0.1 (plain HTTP, 0 ms RTT),
# Features=Delegates Rules, --jobs 1.  Two runs per measure on fresh state: one
# mailbox, then BENCH_MAILBOXES; "per mailbox" is the difference divided by
# the extra mailboxes (the run's fixed costs — start-up, lock, journal open,
# report — fall out), "1 mailbox" is the whole one-mailbox run.
# Env: SR_ROOT SR_BIN SHARED_DIR; BENCH_MAILBOXES (default 5); BENCH_KEEP=1;
# BENCH_FEATURES (default "Delegates Rules"; e.g. "Tasks": these rooms have
# no Tasks links, so the engine looks no recipient up and needs no directory);
# BENCH_TLS=1: the simulators serve HTTPS with a throwaway self-signed
# certificate, named to switchresmb and the engine by SWITCHRESMB_CA_FILE.
# Every server is started here and stopped by PID.
set -u
cd "${SR_ROOT:?}" || exit 2
BIN=${SR_BIN:?}
PY=/usr/bin/python3
SHARED=${SHARED_DIR:-../shared}
N=${BENCH_MAILBOXES:-5}
FEATURES=${BENCH_FEATURES:-Delegates Rules}
work=$(mktemp -d /tmp/sr-bench-mb-XXXXXX)
chmod 700 "$work"
pids=()
stop_pid() {
    kill "$1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
}
cleanup() {
    for p in "${pids[@]}"; do stop_pid "$p"; done
    [ -f "$work/lab/lab.env" ] && tests/lab/slapd-lab.sh stop "$work/lab" >/dev/null 2>&1
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "per_mailbox: files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
die() { echo "per_mailbox: $*" >&2; exit 1; }
for b in switchresmb exsim cpuu; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run make first"; done
for t in valgrind strace /usr/bin/time; do command -v $t >/dev/null || die "$t is not installed (make deps)"; done
[ "$N" -ge 2 ] || die "BENCH_MAILBOXES must be at least 2"

# ---- the lab: rooms for six runs (1, N three times), every one migrated: each
# run gets rooms of its own, since the simulators keep what an earlier run changed
R=$((3 * N + 3))
$PY tests/lab/orggen.py --users 1 --rooms "$R" --equipment 0 --seed 7 --unmigrated-every 0 \
    --no-problems -o "$work/org.json" || die "orggen failed"
$PY tests/exsim/seedgen.py --org "$work/org.json" --side source -o "$work/src.xml" || die "seedgen"
$PY tests/exsim/seedgen.py --org "$work/org.json" --side target -o "$work/tgt.xml" || die "seedgen"
mkdir -m 700 "$work/lab"
timeout 60 tests/lab/slapd-lab.sh start "$work/lab" "$work/org.json" >"$work/lab.log" 2>&1 ||
    { cat "$work/lab.log"; die "the slapd lab did not start"; }
labv() { sed -n "s/^$1=//p" "$work/lab/lab.env"; }
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
[ "${#rooms[@]}" -eq "$R" ] || die "expected $R rooms, got ${#rooms[@]}"

SCHEME=http
tls_args=()
if [ "${BENCH_TLS:-0}" = 1 ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" \
        >/dev/null 2>&1 || die "openssl could not make a certificate"
    tls_args=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    export SWITCHRESMB_CA_FILE="$work/cert.pem"
    SCHEME=https
fi
start_exsim() {  # name
    "$BIN/exsim" --seed "$work/$1.xml" --port 0 --port-file "$work/$1.port" \
        --schemas "$SHARED/protocol/ews" "${tls_args[@]}" >"$work/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
    [ -s "$work/$1.port" ] || die "exsim $1 did not start"
}
start_exsim src
start_exsim tgt
SRC=$(cat "$work/src.port") TGT=$(cat "$work/tgt.port")
LDAP_URI=$(labv LAB_LDAP_URI)

# case DIR COUNT: a fresh state, profile store and INI listing the next COUNT rooms
next_room=0
new_case() {
    local d=$1 n=$2
    mkdir -p -m 700 "$d/state" "$d/profiles"
    {
        printf '[Settings]\nCPUUCmdLine=-SkipAutodiscoverChecking -Log %s/cpuu.log\n' "$d"
        printf 'SrcExchServer=mail.src.test\nLogonNetworkSecurityNegotiate=1\n\n'
        printf '[AD]\nDCName=%s\nDCAccount=%s\nDCPassword=%s\n\n' "$LDAP_URI" "$(labv LAB_BIND_DN)" "$DPW"
        printf '[SwitchMessage]\nMigrationAgentType=Contemporary\nTarget=Exchange\nRecreateSwitchMsg=0\n\n'
        printf '[MailboxesSMTP]\n'
        printf '%s\n' "${rooms[@]:$next_room:$n}"
    } >"$d/SwitchResMB.ini"
    next_room=$((next_room + n))
    # generous waits: under callgrind everything runs ~50 times slower
    printf '[Parameters]\nFeatures=%s\nSilent=1\nAdmin=admin\nPassword=%s\nAdminTrg=admin\nPasswordTrg=%s\nAutodiscoverSourceURL=%s://127.0.0.1:%s/autodiscover/autodiscover.xml\nAutodiscoverTargetURL=%s://127.0.0.1:%s/autodiscover/autodiscover.xml\nWatchDog=1\nOpenStoreWait=600\nFeatureWait=600\nGlobalWait=1200\n' \
        "$FEATURES" "$SPW" "$TPW" "$SCHEME" "$SRC" "$SCHEME" "$TGT" >"$d/CPUU.ini"
    chmod 600 "$d/SwitchResMB.ini" "$d/CPUU.ini"
}
run_sr() {  # DIR WRAPPER... : switchresmb under the wrapper; exit status
    local d=$1; shift
    SWITCHRESMB_PROFILE_DIR="$d/profiles" timeout 1800 "$@" "$BIN/switchresmb" --state-dir "$d/state" \
        --cpuu "$BIN/cpuu" --jobs 1 "$d/SwitchResMB.ini" >"$d/run.log" 2>&1
}
done_count() { grep -cE '^  [^ ]+@[^ ]+ +DONE ' "$1/run.log"; }

# instructions DIR COUNT -> total Ir of every process of the run
instructions() {
    local d=$1
    new_case "$d" "$2"
    mkdir -p "$d/cg"
    # a forked worker inherits its parent's counts: dumping (and zeroing) before
    # every fork keeps each instruction in one file only; exec'd engines start afresh
    run_sr "$d" valgrind --tool=callgrind --trace-children=yes --dump-before=fork \
        --callgrind-out-file="$d/cg/%p" \
        --log-file="$d/valgrind.log" || { tail -20 "$d/run.log"; die "run of $2 under callgrind failed"; }
    [ "$(done_count "$d")" -eq "$2" ] || { tail -20 "$d/run.log"; die "not every mailbox DONE"; }
    cat "$d"/cg/* | awk '/^summary:/ { s += $2 } END { printf "%.0f\n", s }'
}
# syscalls DIR COUNT -> "fsync fdatasync execve connect" of every process of the run
syscalls() {
    local d=$1
    new_case "$d" "$2"
    run_sr "$d" strace -f -c -o "$d/strace.txt" || { tail -20 "$d/run.log"; die "run of $2 under strace failed"; }
    [ "$(done_count "$d")" -eq "$2" ] || { tail -20 "$d/run.log"; die "not every mailbox DONE"; }
    local s out=""
    for s in fsync fdatasync execve connect; do
        out="$out $(awk -v s="$s" '$NF == s { print $4 }' "$d/strace.txt" | head -1)"
    done
    echo $out | awk '{ for (i = 1; i <= 4; i++) printf "%d ", $i + 0; print "" }'
}

# the simulators' counters (issue 13 goal 2: new connections per side)
sim() { curl -s --max-time 10 --noproxy '*' -k "$@"; }
sim_connections() {  # port -> connections since the last reset
    sim "$SCHEME://127.0.0.1:$1/_sim/stats" | grep -o '"connections":[0-9]*' | cut -d: -f2
}
# cputime DIR COUNT -> user+sys seconds of every process of the run (noisy on
# a shared machine; the instructions are the figure to compare); DIR/conn.txt
# gets the run's new connections to the source and the target simulator
cputime() {
    local d=$1
    new_case "$d" "$2"
    sim -XPOST "$SCHEME://127.0.0.1:$SRC/_sim/reset-stats" >/dev/null
    sim -XPOST "$SCHEME://127.0.0.1:$TGT/_sim/reset-stats" >/dev/null
    # wait4's usage of switchresmb includes every descendant it reaped
    run_sr "$d" /usr/bin/time -f '%U %S' -o "$d/time.txt" ||
        { tail -20 "$d/run.log"; die "run of $2 failed"; }
    [ "$(done_count "$d")" -eq "$2" ] || { tail -20 "$d/run.log"; die "not every mailbox DONE"; }
    echo "$(sim_connections "$SRC") $(sim_connections "$TGT")" >"$d/conn.txt"
    awk '{ printf "%.0f\n", ($1 + $2) * 1000 }' "$d/time.txt"
}
c1=$(cputime "$work/c1" 1) || exit 1
cN=$(cputime "$work/cN" "$N") || exit 1
i1=$(instructions "$work/i1" 1) || exit 1
iN=$(instructions "$work/iN" "$N") || exit 1
s1=$(syscalls "$work/s1" 1) || exit 1
sN=$(syscalls "$work/sN" "$N") || exit 1
read -r src1 tgt1 <"$work/c1/conn.txt"
read -r srcN tgtN <"$work/cN/conn.txt"
read -r f1 d1 e1 c1s <<<"$s1"
read -r fN dN eN cNs <<<"$sN"
awk -v c1="$c1" -v cN="$cN" -v i1="$i1" -v iN="$iN" -v n="$N" -v f1="$f1" -v d1="$d1" -v e1="$e1" -v c1s="$c1s" \
    -v fN="$fN" -v dN="$dN" -v eN="$eN" -v cNs="$cNs" 'BEGIN {
    m = n - 1   # extra mailboxes of the second run over the first
    printf "per_mailbox: 1 mailbox (whole run): %.1f M instructions, %d ms CPU, fsync %d, fdatasync %d, execve %d, connect %d\n",
        i1 / 1e6, c1, f1, d1, e1, c1s
    printf "per_mailbox: each further mailbox (%d vs 1): %.1f M instructions, %.0f ms CPU, fsync %.1f, fdatasync %.1f, execve %.1f, connect %.1f\n",
        n, (iN - i1) / m / 1e6, (cN - c1) / m, (fN - f1) / m, (dN - d1) / m, (eN - e1) / m, (cNs - c1s) / m
}'
awk -v a="$src1" -v b="$srcN" -v c="$tgt1" -v d="$tgtN" -v n="$N" 'BEGIN {
    printf "per_mailbox: new connections (simulator counters): 1 mailbox: source %d, target %d; each further mailbox: source %.1f, target %.1f\n",
        a, c, (b - a) / (n - 1), (d - c) / (n - 1)
}'
echo "per_mailbox: command: BENCH_ONLY=per_mailbox BENCH_MAILBOXES=$N${BENCH_TLS:+ BENCH_TLS=$BENCH_TLS}${BENCH_FEATURES:+ BENCH_FEATURES=\"$BENCH_FEATURES\"} make bench (tests/bench/per_mailbox.bench.sh; $(nproc) cpu, $(uname -sr))"
