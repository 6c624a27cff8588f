#!/usr/bin/env bash
# check_scale.bench.sh — `switchresmb --check` on SwitchResMB.ini files with
# 10k, 100k and 1M mailbox lines (half [Mailboxes] legacyExchangeDNs, half
# [MailboxesSMTP] addresses).  Goal (issue 10): ≤ 1 s for 100k.
# Env: SR_BIN; BENCH_CHECK_SIZES to choose the sizes.  Prints one line per size.
set -u
cd "${SR_ROOT:?}" || exit 2
BIN="${SR_BIN:-bin}/switchresmb"
work=$(mktemp -d /tmp/sr-bench-check-XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT
# beside the file, a CPUU.ini a run accepts (--check checks what the run checks)
echo 0123456789abcdef0123456789abcdef >"$work/machine-id"
export SR_MACHINE_ID_FILE="$work/machine-id"
printf '[Parameters]\nAdmin=SRC\\svc\nPassword=x\nFeatures=Delegates Rules\n' >"$work/CPUU.ini"
printf 'bench\n' | "${SR_BIN:-bin}/cpuu-config" --encrypt Password "$work/CPUU.ini" >/dev/null 2>&1
sizes=${BENCH_CHECK_SIZES:-10000 100000 1000000}
echo "command: BENCH_ONLY=check_scale BENCH_CHECK_SIZES=\"$sizes\" make bench"
echo "machine: $(nproc) cpu, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
for n in $sizes; do
    ini="$work/check-$n.ini"
    awk -v n="$n" 'BEGIN {
        print "[Settings]\nCPUUCmdLine=-Silent\nSrcExchServer=ex1.src.test\n[Mailboxes]"
        for (i = 0; i < n / 2; i++)
            printf "/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=room-%07d\n", i
        print "[MailboxesSMTP]"
        for (i = 0; i < n - int(n / 2); i++)
            printf "room-%07d@src.test\n", i
    }' >"$ini"
    TIMEFORMAT='%R %U %S'
    t=$( { time timeout 600 "$BIN" --check "$ini" >/dev/null 2>"$work/err"; echo "rc=$?" >"$work/rc"; } 2>&1 )
    rc=$(sed -n 's/^rc=//p' "$work/rc")
    read -r wall user sys <<<"$t"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    echo "check_scale: $n lines: ${wall} s wall, ${cpu} s CPU (exit $rc) — $BIN --check <generated $n-line SwitchResMB.ini>"
done
