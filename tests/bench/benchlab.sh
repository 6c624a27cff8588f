# benchlab.sh — sourced by the issue-13 benches (fleet, peer, rtt_plot) and by
# tests/integration/budget_e2e.sh: one
# seeded organisation, its source directory in the slapd lab, two Exchange
# simulators over HTTPS (a throwaway CA) on free 127.0.0.1 ports, and the
# SwitchResMB.ini / CPUU.ini a run of the real engine needs.  Everything
# started is stopped by PID on exit (bounded waits).
#
#   . tests/bench/benchlab.sh NAME          # from SR_ROOT; work dir /tmp/sr-bench-NAME-XXXXXX
#   bl_org ROOMS BIG_ROOMS                  # org.json + both seeds (BENCH_USERS, BENCH_SEED)
#   bl_ldap                                 # the slapd lab with the source directory
#   bl_sims RTT_MS MAX_CONCURRENCY          # (re)start both simulators
#   bl_ini MAILBOX...                       # SwitchResMB.ini + CPUU.ini for these rooms
#   bl_run JOBS                             # one switchresmb run; sets BL_WALL_MS BL_RC
#                                           #   BL_RSS_KB (switchresmb) BL_TREE_KB (whole tree)
#                                           #   BL_CPU_MS (user+sys of switchresmb and every
#                                           #   process it waited for) BL_SIM_CPU_MS (both simulators)
#   bl_stat SIDE KEY                        # a number from that simulator's /_sim/stats
#   bl_room_rt / bl_room_chain              # round trips per room: per side / both on one clock
# Env: SR_ROOT SR_BIN SHARED_DIR; BENCH_FEATURES (default "Delegates Rules Nicks"),
#      BENCH_TLS (default 1: HTTPS, as a real link pays the handshakes),
#      BENCH_RESMB_OPTS (more switchresmb options for bl_run, e.g.
#      "--ews-concurrency 0" to run without the per-account budget).
set -u
PY=/usr/bin/python3
BIN=${SR_BIN:?}
SHARED=${SHARED_DIR:-../shared}
BL_NAME=${1:?benchlab.sh needs a name}
work=$(mktemp -d "/tmp/sr-bench-$BL_NAME-XXXXXX")
chmod 700 "$work"
bl_sim_pids=()
bl_cleanup() {
    bl_stop_sims
    [ -f "$work/lab/lab.env" ] && tests/lab/slapd-lab.sh stop "$work/lab" >/dev/null 2>&1
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$BL_NAME: files kept in $work"; else rm -rf "$work"; fi
}
trap bl_cleanup EXIT
bl_die() { echo "$BL_NAME: $*" >&2; exit 1; }

for b in switchresmb cpuu exsim cpuu-config; do
    [ -x "$BIN/$b" ] || bl_die "$BIN/$b is missing: run make first"
done

# org.json and both seeds; users enough for a big room's 200 delegates.
bl_org() {  # rooms big_rooms
    local users=${BENCH_USERS:-20}
    [ "$2" -gt 0 ] && [ "$users" -lt 201 ] && users=201
    $PY tests/lab/orggen.py --users "$users" --rooms "$1" --equipment 0 --seed "${BENCH_SEED:-13}" \
        --unmigrated-every 0 --no-problems -o "$work/org.json" || bl_die "orggen failed"
    for s in source target; do
        $PY tests/exsim/seedgen.py --org "$work/org.json" --side "$s" --big-rooms "$2" \
            -o "$work/$s.xml" || bl_die "seedgen $s failed"
    done
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
        -days 2 -subj /CN=exsim-bench -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        >"$work/openssl.log" 2>&1 || bl_die "openssl test certificate"
}

bl_ldap() {
    mkdir -m 700 "$work/lab"
    timeout 60 tests/lab/slapd-lab.sh start "$work/lab" "$work/org.json" >"$work/lab.log" 2>&1 ||
        { cat "$work/lab.log"; bl_die "the slapd lab did not start"; }
}
bl_labv() { sed -n "s/^$1=//p" "$work/lab/lab.env"; }

bl_stop_sims() {
    local p
    for p in "${bl_sim_pids[@]}"; do
        kill "$p" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    bl_sim_pids=()
}

# Both simulators, fresh from the seeds (a run changes the mailboxes: the next
# measurement must start from the same state).
bl_sims() {  # rtt_ms max_concurrency
    bl_stop_sims
    local name seed tls=()
    [ "${BENCH_TLS:-1}" = 1 ] && tls=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    for name in src tgt; do
        seed=$work/source.xml
        [ "$name" = tgt ] && seed=$work/target.xml
        rm -f "$work/$name.port"
        # each simulator's request log (where the time went; bl_room_chain)
        # when a bench asks for it (BL_REQLOG=1) or the files are kept
        rm -f "$work/$name.requests"
        EXSIM_REQUEST_LOG=$([ "${BL_REQLOG:-0}" = 1 ] || [ "${BENCH_KEEP:-0}" = 1 ] && echo "$work/$name.requests") \
        "$BIN/exsim" --seed "$seed" --port 0 --port-file "$work/$name.port" \
            --schemas "$SHARED/protocol/ews" --rtt-ms "$1" --max-concurrency "$2" "${tls[@]}" \
            >"$work/$name.log" 2>&1 &
        bl_sim_pids+=($!)
        for _ in $(seq 600); do [ -s "$work/$name.port" ] && break; sleep 0.1; done
        [ -s "$work/$name.port" ] || { cat "$work/$name.log"; bl_die "exsim $name did not start"; }
    done
    BL_SCHEME=https
    [ "${BENCH_TLS:-1}" = 1 ] || BL_SCHEME=http
    BL_SRC_URL=$BL_SCHEME://127.0.0.1:$(cat "$work/src.port")
    BL_TGT_URL=$BL_SCHEME://127.0.0.1:$(cat "$work/tgt.port")
}

# user+sys CPU ms the running simulators have used so far (/proc/PID/stat)
bl_sim_cpu_ms() {
    local p tck total=0
    tck=$(getconf CLK_TCK)
    for p in "${bl_sim_pids[@]}"; do
        total=$(( total + $(awk -v t="$tck" '{ sub(/.*\) /, ""); printf "%d", ($12 + $13) * 1000 / t }' "/proc/$p/stat" 2>/dev/null || echo 0) ))
    done
    echo "$total"
}

bl_stat() {  # side key
    local port
    port=$(cat "$work/$1.port")
    curl -s --max-time 20 --noproxy '*' --cacert "$work/cert.pem" "$BL_SCHEME://127.0.0.1:$port/_sim/stats" |
        $PY -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$2"
}

# The stored (encrypted, host mode) form of a password read from stdin.
bl_encrypt() {
    printf '[Settings]\nCPUUCmdLine=\n[AD]\nDCName=x\nDCAccount=x\nDCPassword=\n' >"$work/scratch.ini"
    chmod 600 "$work/scratch.ini"
    "$BIN/switchresmb" "$work/scratch.ini" - >/dev/null 2>&1 && sed -n 's/^DCPassword=//p' "$work/scratch.ini"
}

bl_ini() {  # rooms (SMTP) ...
    export SR_MACHINE_ID_FILE="$work/machine-id"
    echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
    {
        echo "[Settings]"
        # the lab's Autodiscover URLs are on 127.0.0.1, not on the mail domains
        echo "CPUUCmdLine=-SkipAutodiscoverChecking -Log $work/cpuu-#D.log"
        echo "SrcExchServer=mail.src.test"
        echo "LogonNetworkSecurityNegotiate=1"
        echo "LeaveTemporaryProfiles=0"
        echo
        echo "[AD]"
        echo "DCName=$(bl_labv LAB_LDAP_URI)"
        echo "DCAccount=$(bl_labv LAB_BIND_DN)"
        echo "DCPassword="
        echo
        echo "[SwitchMessage]"
        echo "MigrationAgentType=Contemporary"
        echo "Target=Exchange"
        echo "RecreateSwitchMsg=0"
        echo
        echo "[MailboxesSMTP]"
        printf '%s\n' "$@"
    } >"$work/SwitchResMB.ini"
    chmod 600 "$work/SwitchResMB.ini"
    "$BIN/switchresmb" "$work/SwitchResMB.ini" - <"$work/lab/password" >/dev/null ||
        bl_die "could not encrypt DCPassword"
    local pw spw tpw
    pw() { $PY -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.stdout.write(next(a["password"] for a in o["accounts"] if a["side"]==sys.argv[2]))' "$work/org.json" "$1"; }
    spw=$(pw source | bl_encrypt) tpw=$(pw target | bl_encrypt)
    [ -n "$spw" ] && [ -n "$tpw" ] || bl_die "could not encrypt the Exchange passwords"
    cat >"$work/CPUU.ini" <<EOF
[Parameters]
Features=${BENCH_FEATURES:-Delegates Rules Nicks}
Silent=1
Admin=admin
Password=$spw
AdminTrg=admin
PasswordTrg=$tpw
AutodiscoverSourceURL=$BL_SRC_URL/autodiscover/autodiscover.xml
AutodiscoverTargetURL=$BL_TGT_URL/autodiscover/autodiscover.xml
EOF
    chmod 600 "$work/CPUU.ini"
}

# The rooms of the org, big ones first (seedgen makes the first N rooms big).
bl_rooms() { $PY -c 'import json,sys; [print(r["source"]["smtp"]) for r in json.load(open(sys.argv[1]))["recipients"] if r["kind"] == "room"]' "$work/org.json"; }

# One run from an empty state: wall time, exit code, peak RSS of switchresmb
# (its VmHWM) and of its whole process tree (PSS, sampled every 100 ms).
bl_run() {  # jobs
    rm -rf "$work/state" "$work/profiles" "$work"/cpuu-*.log
    export LDAPTLS_CACERT; LDAPTLS_CACERT=$(bl_labv LAB_CA)
    export SWITCHRESMB_CA_FILE="$work/cert.pem"
    export SWITCHRESMB_ALLOW_HTTP=1
    export SWITCHRESMB_PROFILE_DIR="$work/profiles"
    local t0 t1 out sim0
    sim0=$(bl_sim_cpu_ms)
    t0=$(date +%s%N)
    out=$($PY tests/bench/rss_tree.py --timeout "${BENCH_TIMEOUT:-3600}" --output "$work/run.log" -- \
        "$BIN/switchresmb" --state-dir "$work/state" --cpuu "$BIN/cpuu" --jobs "$1" ${BENCH_RESMB_OPTS:-} \
        "$work/SwitchResMB.ini")
    BL_RC=$?
    t1=$(date +%s%N)
    BL_WALL_MS=$(( (t1 - t0) / 1000000 ))
    read -r BL_RSS_KB BL_TREE_KB BL_CPU_MS <<<"$out"
    BL_SIM_CPU_MS=$(( $(bl_sim_cpu_ms) - sim0 ))
}

# The mean dependent chain per room of both sides on one clock (BL_REQLOG=1
# before bl_sims): a request extends a room's chain only when it starts
# after an earlier request of that room, on either side, has ended — the
# round trips the room waits for when both sides go out together (the sum
# of the sides' counts, bl_room_rt, overstates it).  Rooms only.
bl_room_chain() {
    [ -s "$work/src.requests" ] && [ -s "$work/tgt.requests" ] || { echo 0; return; }
    $PY tests/py/chain.py "$work/src.requests" "$work/tgt.requests"
}

# Mean dependent round trips per room after a run: "SOURCE TARGET" (rooms
# only; the referenced users' own lookups count against their addresses).
bl_room_rt() {
    local s
    for s in src tgt; do
        curl -s --max-time 20 --noproxy '*' --cacert "$work/cert.pem" "$BL_SCHEME://127.0.0.1:$(cat "$work/$s.port")/_sim/stats"
        echo
    done | $PY -c '
import json, sys
out = []
for line in [x for x in sys.stdin.read().split("\n") if x.strip()][:2]:
    v = [m["round_trips"] for k, m in json.loads(line)["mailboxes"].items() if k.startswith("room-")]
    out.append("%.1f" % (sum(v) / len(v) if v else 0))
print(" ".join(out))'
}
