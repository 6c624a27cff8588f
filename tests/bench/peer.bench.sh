#!/usr/bin/env bash
# peer.bench.sh — issue 13 goal 6: our full update (switchresmb → cpuu, one
# worker) beside Debian's python3-exchangelib doing the read-side part
# (tests/bench/peer_exchangelib.py), on the same seeded rooms, against the same
# simulators (HTTPS on 127.0.0.1, fresh from the seed for every run), at each
# RTT, for the small and the big room.  Prints their time / our time per room
# (issue 13's goal: >= 3 at 100 ms).
# Env: PEER_SMALL 5 (small rooms)  PEER_BIG 1 (big rooms)  PEER_RTTS "0 100"
#      BENCH_FEATURES "Delegates Rules Nicks"
set -u
cd "${SR_ROOT:?}" || exit 2
BL_REQLOG=1   # the simulators' request logs: the chain of both sides on one clock
. tests/bench/benchlab.sh peer
small=${PEER_SMALL:-5} big=${PEER_BIG:-1}
echo "command: BENCH_ONLY=peer PEER_SMALL=$small PEER_BIG=$big PEER_RTTS=\"${PEER_RTTS:-0 100}\"" \
     "BENCH_FEATURES=\"${BENCH_FEATURES:-Delegates Rules Nicks}\" make bench"
echo "machine: $(nproc) cpu, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
$PY -c 'import exchangelib' 2>/dev/null || bl_die "python3-exchangelib is not installed (make deps)"
bl_org "$((small + big))" "$big"
bl_ldap
mapfile -t all < <(bl_rooms)
rc_all=0
for rtt in ${PEER_RTTS:-0 100}; do
    for size in small big; do
        if [ "$size" = big ]; then set -- "${all[@]:0:$big}"; else set -- "${all[@]:$big}"; fi
        [ $# -gt 0 ] || continue
        bl_sims "$rtt" 27
        bl_ini "$@"
        bl_run 1
        ours=$(awk -v ms="$BL_WALL_MS" -v n=$# 'BEGIN { printf "%.3f", ms / 1000 / n }')
        [ "$BL_RC" -eq 0 ] || { rc_all=1; echo "peer: our run failed (exit $BL_RC):"; tail -12 "$work/run.log"; }
        read -r ods odt <<<"$(bl_room_rt)"
        ochain=$(bl_room_chain)
        ocpu=$BL_CPU_MS osim=$BL_SIM_CPU_MS
        bl_sims "$rtt" 27
        REQUESTS_CA_BUNDLE="$work/cert.pem" timeout "${BENCH_TIMEOUT:-3600}" $PY tests/bench/peer_exchangelib.py \
            --org "$work/org.json" --source "$BL_SRC_URL" --target "$BL_TGT_URL" "$@" >"$work/peer.log" 2>&1 ||
            { rc_all=1; echo "peer: the exchangelib script failed:"; tail -5 "$work/peer.log"; }
        theirs=$(sed -n 's/^peer: [0-9]* rooms, .* s, \([0-9.]*\) s per room.*/\1/p' "$work/peer.log")
        theirs=${theirs:-0}
        read -r tds tdt <<<"$(bl_room_rt)"
        tchain=$(bl_room_chain)
        echo "peer: RTT $rtt ms, $size room x$#: ours $ours s per room (full update, exit $BL_RC)," \
             "exchangelib $theirs s per room (read side); theirs/ours" \
             "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }')" \
             "(goal at 100 ms: >= 3)"
        echo "peer:   dependent round trips per room (source + target; the lookups of" \
             "referenced users count against those users): ours $ods + $odt ($ochain on one clock:" \
             "the sides go out together), theirs $tds + $tdt ($tchain)"
        # where our time goes: the room's counted chains at this RTT (not all of
        # the network's share: the logon legs of new connections and the
        # referenced users' lookups are not in d; rtt_plot's slope has it all)
        # and the CPU
        echo "peer:   ours per room: d (one clock) x RTT = $(awk -v a="$ochain" -v r="$rtt" \
             'BEGIN { printf "%.2f", a * r / 1000 }') s, CPU (switchresmb + engines) $(awk -v c="$ocpu" -v n=$# \
             'BEGIN { printf "%.2f", c / 1000 / n }') s, simulators' CPU $(awk -v c="$osim" -v n=$# \
             'BEGIN { printf "%.2f", c / 1000 / n }') s"
    done
done
exit $rc_all
