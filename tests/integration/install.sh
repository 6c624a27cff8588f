#!/usr/bin/env bash
# install.sh — `make install PREFIX= DESTDIR=` puts the programs, the man
# pages, the example configurations and the unit files where they belong
# (/etc/switchresmb for PREFIX=/usr, <prefix>/etc/switchresmb otherwise),
# leaves the test simulator out, and what it installed works: the programs
# run, the pages render, the example configuration validates once its
# password is stored, the service names the installed paths.
# Env: SR_ROOT, SR_BIN, SR_BUILD.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:?}" || exit 2
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
work=$(mktemp -d /tmp/sr-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
san=0; case "${SR_BUILD:-build}" in *asan) san=1 ;; esac
inst() {  # destdir prefix
    make -s --no-print-directory install DESTDIR="$1" PREFIX="$2" BIN="${SR_BIN:-bin}" \
        BUILD="${SR_BUILD:-build}" SAN=$san >"$work/make.log" 2>&1
}
inst "$work/sys" /usr; rc=$?
check "make install PREFIX=/usr DESTDIR=... (exit $rc)" "[ $rc -eq 0 ]"
[ $rc -eq 0 ] || cat "$work/make.log"
# BUILD/BIN given as absolute paths (as above) name the same directories as
# the relative defaults, so objects and their .d files keep one name
check "an absolute BUILD/BIN is the same directory as the relative one" \
    "make -p -q all BUILD='$PWD/build/asan' BIN='$PWD/bin' 2>/dev/null | grep -qx 'BUILD := build/asan' &&
     make -p -q all BUILD='$PWD/build/asan' BIN='$PWD/bin' 2>/dev/null | grep -qx 'BIN := bin'"
R="$work/sys"
for f in usr/bin/switchresmb usr/bin/cpuu usr/bin/cpuu-config; do
    check "$f installed, mode 755" "[ \"\$(stat -c %a '$R/$f' 2>/dev/null)\" = 755 ]"
done
check "the simulator is not installed" "[ ! -e '$R/usr/bin/exsim' ]"
for f in man1/switchresmb.1 man1/cpuu.1 man1/cpuu-config.1 man5/switchresmb.ini.5 man5/cpuu.ini.5; do
    check "usr/share/man/$f installed and renders" \
        "[ -f '$R/usr/share/man/$f' ] && [ -z \"\$(MANWIDTH=80 man --warnings -l '$R/usr/share/man/$f' 2>&1 >/dev/null)\" ]"
done
for f in SwitchResMB.ini.example CPUU.ini.example; do
    check "etc/switchresmb/$f installed" "[ -f '$R/etc/switchresmb/$f' ]"
done
for f in switchresmb.service switchresmb.timer; do
    check "usr/lib/systemd/system/$f installed, mode 644" "[ \"\$(stat -c %a '$R/usr/lib/systemd/system/$f' 2>/dev/null)\" = 644 ]"
done
check "the service runs /usr/bin/switchresmb on /etc/switchresmb/SwitchResMB.ini" \
    "grep -q '^ExecStart=/usr/bin/switchresmb .* /etc/switchresmb/SwitchResMB.ini\$' '$R/usr/lib/systemd/system/switchresmb.service'"
check "no placeholder left in the service" "! grep -q '@[A-Z]*@' '$R/usr/lib/systemd/system/switchresmb.service'"
check "installed programs run (--help)" \
    "'$R/usr/bin/switchresmb' --help >/dev/null && '$R/usr/bin/cpuu-config' --help >/dev/null"
# the example, made real: store a password, then both files validate
echo 0123456789abcdef0123456789abcdef >"$work/machine-id"
export SR_MACHINE_ID_FILE="$work/machine-id"
cp "$R/etc/switchresmb/SwitchResMB.ini.example" "$work/SwitchResMB.ini"
cp "$R/etc/switchresmb/CPUU.ini.example" "$work/CPUU.ini"
chmod 600 "$work/SwitchResMB.ini" "$work/CPUU.ini"
printf 'dc password\n' | "$R/usr/bin/switchresmb" "$work/SwitchResMB.ini" - >/dev/null 2>&1
# the account lines the example comments out, then its password as the example says
sed -i 's/^; Admin=/Admin=/; s/^; Password=.*/Password=/' "$work/CPUU.ini"
printf 'exchange password\n' | "$R/usr/bin/cpuu-config" --encrypt Password "$work/CPUU.ini" >/dev/null 2>&1
"$R/usr/bin/switchresmb" --check --cpuu-ini "$work/CPUU.ini" "$work/SwitchResMB.ini" >"$work/check.out" 2>&1
rc=$?
check "the example configuration validates once its account and passwords are stored (exit $rc)" "[ $rc -eq 0 ]"
[ $rc -eq 0 ] || cat "$work/check.out"

inst "$work/loc" /usr/local; rc=$?
check "make install PREFIX=/usr/local: configuration under /usr/local/etc/switchresmb" \
    "[ $rc -eq 0 ] && [ -f '$work/loc/usr/local/etc/switchresmb/CPUU.ini.example' ] && [ ! -e '$work/loc/etc' ] && \
     grep -q '^ExecStart=/usr/local/bin/switchresmb .* /usr/local/etc/switchresmb/SwitchResMB.ini\$' '$work/loc/usr/local/lib/systemd/system/switchresmb.service'"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
