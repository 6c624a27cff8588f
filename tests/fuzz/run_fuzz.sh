#!/usr/bin/env bash
# run_fuzz.sh — `make fuzz`: runs each libFuzzer harness for FUZZ_SECONDS on
# its seeds (seeds.sh); new interesting inputs go to build/fuzz/corpus/<h>/
# (kept between runs), crashes to tests/fuzz/findings/<h>/ (commit them: `make
# test` replays them).  Prints one line per harness: runs, coverage, findings.
# Usage: run_fuzz.sh [harness]   Env: SR_ROOT SR_FUZZ_BIN SHARED_DIR FUZZ_SECONDS
set -u
cd "${SR_ROOT:?}" || exit 2
. tests/fuzz/seeds.sh
secs=${FUZZ_SECONDS:-60}
only=${1:-}
work=build/fuzz
mkdir -p "$work/logs"
status=0
printf '%-10s %10s %8s %8s %9s  %s\n' harness execs cov ft findings seconds
for h in resmb_ini cpuu_ini cmdline pox ews eid nicks profile secret graph; do
    [ -n "$only" ] && [ "$only" != "$h" ] && continue
    bin="${SR_FUZZ_BIN:?}/fuzz_$h"
    corpus="$work/corpus/$h" findings="tests/fuzz/findings/$h"
    mkdir -p "$corpus" "$findings"
    dirs=()
    while read -r p; do   # libFuzzer takes directories; single seed files join the work corpus
        if [ -d "$p" ]; then dirs+=("$p"); else cp -f "$p" "$corpus/"; fi
    done < <(fuzz_seeds "$h")
    before=$(find "$findings" -type f | wc -l)
    log="$work/logs/$h.log"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$findings/" "$corpus" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    after=$(find "$findings" -type f | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    printf '%-10s %10s %8s %8s %9s  %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
        "$((after - before))" "$secs"
    if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
        status=1
        echo "  !! $h: exit $rc; see $log and $findings/"
        grep -E 'ERROR|SUMMARY|property broken' "$log" | head -5 | sed 's/^/  | /'
    fi
done
exit $status
