#!/usr/bin/env bash
# list_memory.bench.sh — issue 13 goal 7 (switchresmb's peak RSS ≤ 64 MiB for
# a 100,000-mailbox list): a SwitchResMB.ini with two real rooms and N
# addresses the directory does not know (each fails at the directory lookup,
# so the engine runs twice only), --jobs 4, against the slapd lab and the
# simulators over HTTPS.  What grows with N is switchresmb's own state: the
# list, the journal, the report.  Prints wall, CPU-free figures (peak RSS of
# switchresmb, peak PSS of its tree) and the exit code (1: the unknown ones
# failed, as they must).
# Env: LIST_MAILBOXES 2000 (the goal's size: 100000)
set -u
cd "${SR_ROOT:?}" || exit 2
. tests/bench/benchlab.sh listmem
n=${LIST_MAILBOXES:-2000}
echo "command: BENCH_ONLY=list_memory LIST_MAILBOXES=$n make bench"
echo "machine: $(nproc) cpu, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
bl_org 2 0
bl_ldap
bl_sims 0 27
mapfile -t list < <(bl_rooms; seq -f 'gone-%07g@src.test' 1 "$n")
bl_ini "${list[@]}"
bl_run 4
summary=$(grep -m1 'mailbox(es):' "$work/run.log" | sed 's/^ *//')
echo "list_memory: $((n + 2)) mailboxes ($n unknown to the directory): $((BL_WALL_MS / 1000)) s wall," \
     "exit $BL_RC; peak RSS switchresmb $((BL_RSS_KB / 1024)) MiB, tree $((BL_TREE_KB / 1024)) MiB PSS; $summary"
# exit 1 = the unknown mailboxes failed, which is the point
[ "$BL_RC" -eq 1 ] && grep -q '2 processed now' "$work/run.log"
