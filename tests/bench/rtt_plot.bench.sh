#!/usr/bin/env bash
# rtt_plot.bench.sh — issue 13's plot: our time per room mailbox (switchresmb
# → cpuu, one worker, HTTPS) against the injected RTT, for the small and the
# big room, beside the floor d × RTT (d = that run's mean dependent round trips
# per room, both sides on one clock, from the simulators' request logs: the
# two sides' waves go out together, so the sum of their counts, shown beside
# it, overstates what a room waits for).  gnuplot (Debian gnuplot-nox,
# `set terminal dumb`) draws it as text; with BENCH_WRITE=1 the plot and its
# table replace the block between the rtt-plot markers in BENCHMARKS.md.
# Always: the block, the plot and its data go to $BENCH_OUT (default
# build/bench): rtt_plot.md, rtt_plot.txt, rtt_plot.dat.
# Env: PLOT_RTTS "0 50 100 300"  PLOT_SMALL 3 (small rooms per point)
#      PLOT_BIG 1  BENCH_FEATURES "Delegates Rules Nicks"  BENCH_WRITE 0
set -u
cd "${SR_ROOT:?}" || exit 2
BL_REQLOG=1
. tests/bench/benchlab.sh rttplot
command -v gnuplot >/dev/null || bl_die "gnuplot is not installed (make deps: gnuplot-nox)"
small=${PLOT_SMALL:-3} big=${PLOT_BIG:-1}
cmd="BENCH_ONLY=rtt_plot PLOT_RTTS=\"${PLOT_RTTS:-0 50 100 300}\" PLOT_SMALL=$small PLOT_BIG=$big BENCH_FEATURES=\"${BENCH_FEATURES:-Delegates Rules Nicks}\" BENCH_WRITE=1 make bench"
machine="$(nproc) cpu, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "command: $cmd"
echo "machine: $machine"
bl_org "$((small + big))" "$big"
bl_ldap
mapfile -t all < <(bl_rooms)
data=$work/rtt.dat
echo "# rtt_ms small_s small_floor_s small_d small_src+tgt big_s big_floor_s big_d big_src+tgt" >"$data"
rc_all=0
for rtt in ${PLOT_RTTS:-0 50 100 300}; do
    row="$rtt"
    for size in small big; do
        if [ "$size" = big ]; then set -- "${all[@]:0:$big}"; else set -- "${all[@]:$big}"; fi
        [ $# -gt 0 ] || { row+=" NaN NaN NaN NaN"; continue; }
        bl_sims "$rtt" 27
        bl_ini "$@"
        bl_run 1
        [ "$BL_RC" -eq 0 ] || { rc_all=1; echo "rtt_plot: run failed (exit $BL_RC):"; tail -12 "$work/run.log"; }
        read -r ds dt <<<"$(bl_room_rt)"
        d=$(bl_room_chain)
        row+=" $(awk -v ms="$BL_WALL_MS" -v n=$# -v d="$d" -v rtt="$rtt" \
            'BEGIN { printf "%.3f %.3f %.1f", ms / 1000 / n, d * rtt / 1000, d }') $ds+$dt"
        echo "rtt_plot: RTT $rtt ms, $size room x$#: $(awk -v ms="$BL_WALL_MS" -v n=$# 'BEGIN { printf "%.3f", ms / 1000 / n }') s per room, d = $d on one clock (source $ds, target $dt)"
    done
    echo "$row" >>"$data"
done
plot=$(gnuplot -e "
set terminal dumb 100 30; set key top left; set xlabel 'injected RTT (ms)'; set ylabel 's per room';
set xrange [0:*]; set yrange [0:*];
plot '$data' using 1:2 with linespoints pt 'S' title 'small room, measured',
     '' using 1:3 with lines dt 2 title 'small room, floor d x RTT',
     '' using 1:6 with linespoints pt 'B' title 'big room, measured',
     '' using 1:7 with lines dt 2 title 'big room, floor d x RTT'" 2>&1) || bl_die "gnuplot failed: $plot"
table=$(awk 'NR > 1 { printf "| %s | %s | %s | %s (%s) | %s | %s | %s (%s) |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$data")
block="<!-- rtt-plot:begin (written by tests/bench/rtt_plot.bench.sh) -->
$machine, shared with other jobs (wall times are inflated; the floors are not):

    $cmd

\`\`\`
$plot
\`\`\`

| RTT ms | small: s/room | small: floor | small: d (source+target) | big: s/room | big: floor | big: d (source+target) |
|---|---|---|---|---|---|---|
$table
<!-- rtt-plot:end -->"
echo "$block"
out=${BENCH_OUT:-build/bench}
mkdir -p "$out" && printf '%s\n' "$block" >"$out/rtt_plot.md" && printf '%s\n' "$plot" >"$out/rtt_plot.txt" &&
    cp "$data" "$out/rtt_plot.dat" && echo "rtt_plot: written to $out/rtt_plot.md, rtt_plot.txt, rtt_plot.dat"
if [ "${BENCH_WRITE:-0}" = 1 ]; then
    grep -q '<!-- rtt-plot:begin' BENCHMARKS.md || bl_die "BENCHMARKS.md has no rtt-plot markers"
    BLOCK="$block" $PY - BENCHMARKS.md <<'PYEOF'
import os, re, sys
p = sys.argv[1]
s = open(p, encoding="utf-8").read()
s = re.sub(r"<!-- rtt-plot:begin.*?<!-- rtt-plot:end -->", lambda m: os.environ["BLOCK"], s, flags=re.S)
open(p, "w", encoding="utf-8").write(s)
PYEOF
    echo "rtt_plot: BENCHMARKS.md updated"
fi
exit $rc_all
