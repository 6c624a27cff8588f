#!/usr/bin/env bash
# readme_quickstart.sh — README's "Quick start for a real organisation",
# followed step by step against the lab: install (make install DESTDIR=,
# PREFIX=/usr), SwitchResMB.ini from the installed example with the DC
# password stored through `switchresmb FILE -`, CPUU.ini from cpuu-config,
# --check, --dry-run, the run with the installed engine, --status, the
# reports in the default state directory, the units.  /etc/switchresmb is
# $R/etc/switchresmb here.  Each command is also looked up in README.md, so
# the README cannot drift from what this test runs.
# Env: SR_ROOT, SR_BIN, SR_BUILD, SHARED_DIR.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:?}" || exit 2
. tests/common/harness.sh quickstart
in_readme() {  # the command as the README writes it
    if grep -qF -- "$1" README.md; then ok "README says: $1"; else bad "README no longer says: $1"; fi
}

# ---- 1. install
in_readme "make && sudo make install PREFIX=/usr"
san=0; case "${SR_BUILD:-build}" in *asan) san=1 ;; esac
make -s --no-print-directory install DESTDIR="$work/root" PREFIX=/usr BIN="${SR_BIN:-bin}" \
    BUILD="${SR_BUILD:-build}" SAN=$san >"$work/make.log" 2>&1 || { cat "$work/make.log"; die "make install"; }
R="$work/root" CONF="$work/root/etc/switchresmb"
export PATH="$R/usr/bin:$PATH"
check "installed: switchresmb, cpuu, cpuu-config, the examples, the units" \
    "[ -x '$R/usr/bin/switchresmb' ] && [ -x '$R/usr/bin/cpuu' ] && [ -x '$R/usr/bin/cpuu-config' ] && [ -f '$CONF/SwitchResMB.ini.example' ] && [ -f '$R/usr/lib/systemd/system/switchresmb.timer' ]"

# ---- the lab stands in for the organisation
$PY tests/lab/orggen.py --users 0 --rooms 3 --equipment 0 --seed 11 --no-problems -o "$work/org.json" || die orggen
$PY tests/exsim/seedgen.py --org "$work/org.json" --side source -o "$work/src.xml" || die seedgen
$PY tests/exsim/seedgen.py --org "$work/org.json" --side target -o "$work/tgt.xml" || die seedgen
mkdir -m 700 "$work/lab"
timeout 60 tests/lab/slapd-lab.sh start "$work/lab" "$work/org.json" >"$work/lab.log" 2>&1 || die "slapd lab"
labv() { sed -n "s/^$1=//p" "$work/lab/lab.env"; }
SHARED=${SHARED_DIR:-../shared}
schemas=()
[ -f "$SHARED/protocol/ews/messages.xsd" ] && schemas=(--schemas "$SHARED/protocol/ews")
start_exsim() {
    "${SR_BIN:-bin}/exsim" --seed "$2" --port 0 --port-file "$work/$1.port" "${schemas[@]}" >"$work/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
    [ -s "$work/$1.port" ] || die "exsim $1"
}
start_exsim src "$work/src.xml"
start_exsim tgt "$work/tgt.xml"
SRC=$(cat "$work/src.port") TGT=$(cat "$work/tgt.port")
export SR_MACHINE_ID_FILE="$work/machine-id"
echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
export LDAPTLS_CACERT; LDAPTLS_CACERT=$(labv LAB_CA)
export SWITCHRESMB_ALLOW_HTTP=1 CPUU_ALLOW_HTTP=1 SWITCHRESMB_PROFILE_DIR="$work/profiles"
export XDG_STATE_HOME="$work/state"

# ---- 2. SwitchResMB.ini from the example, the DC password stored
in_readme "cp /etc/switchresmb/SwitchResMB.ini.example /etc/switchresmb/SwitchResMB.ini"
cp "$CONF/SwitchResMB.ini.example" "$CONF/SwitchResMB.ini"
in_readme "chmod 600 /etc/switchresmb/SwitchResMB.ini"
chmod 600 "$CONF/SwitchResMB.ini"
# "Edit [AD] and the mailbox lists first"
$PY - "$CONF/SwitchResMB.ini" "$work/org.json" "$(labv LAB_LDAP_URI)" "$(labv LAB_BIND_DN)" "$work" <<'EOF'
import json, re, sys
path, org, uri, dn, work = sys.argv[1:]
t = open(path).read()
t = re.sub(r"(?m)^DCName=.*$", "DCName=" + uri, t)
t = re.sub(r"(?m)^DCAccount=.*$", "DCAccount=" + dn, t)
# the lab's Autodiscover is on 127.0.0.1, not on the mail domain
t = re.sub(r"(?m)^CPUUCmdLine=.*$", "CPUUCmdLine=-SkipAutodiscoverChecking -Log " + work + "/cpuu-#D.log", t)
rooms = [r["source"]["smtp"] for r in json.load(open(org))["recipients"] if r["kind"] == "room"]
t = t[: t.index("[MailboxesSMTP]")] + "[MailboxesSMTP]\n" + "\n".join(rooms) + "\n"
open(path, "w").write(t)
EOF
in_readme "switchresmb /etc/switchresmb/SwitchResMB.ini -"
switchresmb "$CONF/SwitchResMB.ini" - <"$work/lab/password" >"$work/enc.out" 2>&1
check "the DC password is stored encrypted" "grep -q '^DCPassword=srenc1:host:' '$CONF/SwitchResMB.ini'"

# ---- 3. CPUU.ini with the wizard (scripted form)
in_readme "cpuu-config --new --out /etc/switchresmb"
in_readme "cpuu-config --new --non-interactive --out /etc/switchresmb --admin"
pw() { $PY -c 'import json,sys; o=json.load(open(sys.argv[1])); print(next(a["password"] for a in o["accounts"] if a["side"]==sys.argv[2]))' "$work/org.json" "$1"; }
pw source >"$work/src.pw"; pw target >"$work/tgt.pw"
cpuu-config --new --non-interactive --out "$CONF" --admin admin --password-file "$work/src.pw" \
    --admin-trg admin --password-trg-file "$work/tgt.pw" --features 'Delegates Rules' \
    --autodiscover-source "http://127.0.0.1:$SRC/autodiscover/autodiscover.xml" \
    --autodiscover-target "http://127.0.0.1:$TGT/autodiscover/autodiscover.xml" >"$work/wiz.out" 2>&1
check "cpuu-config wrote CPUU.ini (mode 600, passwords encrypted)" \
    "[ \"\$(stat -c %a '$CONF/CPUU.ini')\" = 600 ] && [ \$(grep -c '=srenc1:' '$CONF/CPUU.ini') -eq 2 ]"

# ---- 4. check, dry run
in_readme "switchresmb --check --cpuu-ini /etc/switchresmb/CPUU.ini /etc/switchresmb/SwitchResMB.ini"
switchresmb --check --cpuu-ini "$CONF/CPUU.ini" "$CONF/SwitchResMB.ini" >"$work/check.out" 2>&1
rc=$?
check "--check: both files valid (exit $rc)" "[ $rc -eq 0 ]"
[ $rc -eq 0 ] || cat "$work/check.out"
in_readme "switchresmb --dry-run /etc/switchresmb/SwitchResMB.ini"
timeout 120 switchresmb --dry-run "$CONF/SwitchResMB.ini" >"$work/dry.out" 2>&1
rc=$?
check "--dry-run: every mailbox would be processed (exit $rc)" "[ $rc -eq 0 ] && [ \$(grep -c 'would update' '$work/dry.out') -eq 3 ]"

# ---- 5. the run with the installed engine, then --status
in_readme "switchresmb /etc/switchresmb/SwitchResMB.ini > /var/log/switchresmb.log"
timeout 300 switchresmb "$CONF/SwitchResMB.ini" >"$work/switchresmb.log" 2>"$work/run.err"
rc=$?
check "the run: every mailbox switched (exit $rc)" "[ $rc -eq 0 ] && grep -q '3 processed now' '$work/switchresmb.log'"
[ $rc -eq 0 ] || tail -30 "$work/switchresmb.log"
in_readme "switchresmb --status /etc/switchresmb/SwitchResMB.ini"
switchresmb --status "$CONF/SwitchResMB.ini" >"$work/status.out" 2>&1
rc=$?
check "--status: DONE 3, exit 0 (got $rc)" "[ $rc -eq 0 ] && grep -q 'DONE 3' '$work/status.out'"
check "the reports are in the default state directory (\$XDG_STATE_HOME/switchresmb)" \
    "ls '$work/state/switchresmb/'*.report.html '$work/state/switchresmb/'*.report.json '$work/state/switchresmb/'*.report.csv >/dev/null"
check "the engine's log is where CPUUCmdLine's -Log says" "ls '$work'/cpuu-*.log >/dev/null 2>&1"

# ---- 6. schedule: the installed units are valid
in_readme "systemctl enable --now switchresmb.timer"
out=$(systemd-analyze verify --man=no "$R/usr/lib/systemd/system/switchresmb.timer" \
      "$R/usr/lib/systemd/system/switchresmb.service" 2>&1 | grep -v 'is not executable')
check "the installed units verify (the binaries live under DESTDIR here)" "[ -z \"\$out\" ]"
[ -z "$out" ] || echo "$out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
