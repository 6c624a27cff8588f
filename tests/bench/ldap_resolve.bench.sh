#!/usr/bin/env bash
# Benchmark: resolve 10,000 mailbox addresses (primary SMTP, legacyExchangeDN,
# secondary smtp: proxies) against the directory lab in one ldapdir_resolve
# call — batched OR filters, paged results.  The test binary doubles as the
# bench (test_ldap --bench N); it starts and stops the lab itself.
#   env: SR_ROOT, SR_BUILD (default $SR_ROOT/build), LAB_SCRIPT (default slapd),
#        LDAP_BENCH_KEYS (default 10000)
set -u
cd "${SR_ROOT:-.}" || exit 2
build=${SR_BUILD:-$PWD/build}
bin="$build/tests/test_ldap"
n=${LDAP_BENCH_KEYS:-10000}
if [ ! -x "$bin" ]; then
    make --no-print-directory -j2 "build/tests/test_ldap" >/dev/null || { echo "ldap_resolve: build failed"; exit 1; }
    bin="$PWD/build/tests/test_ldap"
fi
echo "command: LAB_SCRIPT=${LAB_SCRIPT:-tests/lab/slapd-lab.sh} $bin --bench $n" \
     "(= BENCH_ONLY=ldap_resolve${LAB_SCRIPT:+ LAB_SCRIPT=$LAB_SCRIPT}${LDAP_BENCH_KEYS:+ LDAP_BENCH_KEYS=$n} make bench)"
echo "machine: $(nproc) cpu, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
start=$(date +%s%N)
"$bin" --bench "$n"
rc=$?
echo "wall (lab start + org generation + resolve + stop): $(( ($(date +%s%N) - start) / 1000000 )) ms"
exit $rc
