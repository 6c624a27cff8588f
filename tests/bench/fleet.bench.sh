#!/usr/bin/env bash
# fleet.bench.sh — issue 13 goals 5 and 7: N room mailboxes through
# switchresmb → cpuu (real engine) against the slapd lab and two simulators
# over HTTPS at an injected RTT, the simulators throttling at 27 concurrent
# requests per account (Exchange's default EWSMaxConcurrency).  Per --jobs J:
# mailboxes/s against the bound J / (d × RTT), d = the mean dependent round
# trips per mailbox (source + target, from the simulators' /_sim/stats), and
# the peak RSS of switchresmb and of its whole process tree.
# Env (defaults = the small run recorded in BENCHMARKS.md; the goal's size is
# FLEET_ROOMS=10000):
#   FLEET_ROOMS 200   FLEET_BIG 0 (big rooms among them)   FLEET_RTT_MS 100
#   FLEET_JOBS "4 32" FLEET_MAX_CONCURRENCY 27   BENCH_FEATURES "Delegates Rules Nicks"
set -u
cd "${SR_ROOT:?}" || exit 2
. tests/bench/benchlab.sh fleet
rooms=${FLEET_ROOMS:-200} big=${FLEET_BIG:-0} rtt=${FLEET_RTT_MS:-100}
conc=${FLEET_MAX_CONCURRENCY:-27}
echo "command: BENCH_ONLY=fleet FLEET_ROOMS=$rooms FLEET_BIG=$big FLEET_RTT_MS=$rtt FLEET_JOBS=\"${FLEET_JOBS:-4 32}\"" \
     "FLEET_MAX_CONCURRENCY=$conc BENCH_FEATURES=\"${BENCH_FEATURES:-Delegates Rules Nicks}\"" \
     "BENCH_TLS=${BENCH_TLS:-1}${BENCH_RESMB_OPTS:+ BENCH_RESMB_OPTS=\"$BENCH_RESMB_OPTS\"} make bench"
echo "machine: $(nproc) cpu, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
bl_org "$rooms" "$big"
bl_ldap
mapfile -t list < <(bl_rooms)
rc_all=0
for jobs in ${FLEET_JOBS:-4 32}; do
    bl_sims "$rtt" "$conc"
    bl_ini "${list[@]}"
    bl_run "$jobs"
    for s in src tgt; do
        curl -s --max-time 20 --noproxy '*' --cacert "$work/cert.pem" "$BL_SCHEME://127.0.0.1:$(cat "$work/$s.port")/_sim/stats" \
            >"$work/$s.stats.json"
    done
    $PY - "$work/src.stats.json" "$work/tgt.stats.json" "$rooms" "$jobs" "$rtt" "$BL_WALL_MS" \
        "$BL_RSS_KB" "$BL_TREE_KB" "$BL_RC" "$BL_CPU_MS" "$BL_SIM_CPU_MS" "$(nproc)" "$work/run.log" <<'EOF'
import json, re, sys
src, tgt = (json.load(open(p)) for p in sys.argv[1:3])
n, jobs, rtt, wall_ms, rss, tree, rc, cpu_ms, sim_ms, ncpu = (int(x) for x in sys.argv[3:13])
log = open(sys.argv[13], errors="replace").read()
load = open("/proc/loadavg").read().split()[:3]
def per_room(st):
    # rooms only: the referenced users' Autodiscover/ResolveNames count
    # against their own addresses, not the room's chain
    return {k.split("@")[0]: m["round_trips"] for k, m in st["mailboxes"].items()
            if k.startswith("room-")}
rs, rt = per_room(src), per_room(tgt)
both = [rs.get(k, 0) + rt.get(k, 0) for k in set(rs) | set(rt)]
ds = sum(rs.values()) / max(len(rs), 1)
dt = sum(rt.values()) / max(len(rt), 1)
ms, mt = max(rs.values(), default=0), max(rt.values(), default=0)
d = ds + dt
rate = n / (wall_ms / 1000.0)
bound = jobs / (d * rtt / 1000.0) if d and rtt else float("inf")
thr = src["events"].get("throttled", 0) + tgt["events"].get("throttled", 0)
done = re.search(r"\d+ mailbox\(es\): \d+ processed now.*?\d+ failed", log)
print(f"fleet: {n} rooms, --jobs {jobs}, RTT {rtt} ms: {wall_ms / 1000:.1f} s wall, {rate:.2f} mailboxes/s, "
      f"exit {rc}{' (report: ' + done.group(0) + ')' if done else ''}")
print(f"fleet:   d = {ds:.1f} source (max {ms}) + {dt:.1f} target (max {mt}) = {d:.1f} dependent round trips (max per room {max(both, default=0)}); "
      f"bound {jobs}/(d x RTT) = {bound:.2f} mailboxes/s; reached {100 * rate / bound:.0f}%")
print(f"fleet:   requests {src['requests_total']} source + {tgt['requests_total']} target, "
      f"connections {src['connections']} + {tgt['connections']}, throttled {thr}, "
      f"max in flight {src['max_in_flight']} / {tgt['max_in_flight']}")
# where the time goes: the CPU this run used (ours and the simulators') against
# what the machine's CPUs could give in the wall time; the rest of the CPUs
# went to other work on the machine (the load average says how much)
cap = ncpu * wall_ms
print(f"fleet:   CPU: switchresmb + engines {cpu_ms / 1000:.1f} s ({cpu_ms / n:.0f} ms per room), "
      f"simulators {sim_ms / 1000:.1f} s ({sim_ms / n:.0f} ms per room); "
      f"{100 * (cpu_ms + sim_ms) / cap:.0f}% of {ncpu} CPUs x wall; load after the run {' '.join(load)}")
print(f"fleet:   peak RSS switchresmb {rss / 1024:.1f} MiB, whole process tree {tree / 1024:.1f} MiB (PSS)")
EOF
    [ "$BL_RC" -eq 0 ] || { rc_all=1; echo "fleet: run log tail:"; tail -15 "$work/run.log"; }
done
exit $rc_all
