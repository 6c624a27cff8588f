#!/usr/bin/env bash
# cpuu_config_lab.sh — the scripts cpuu-config writes, run against the lab:
#   1. a small organisation in a throwaway slapd and two Exchange simulators
#      (source, target) on 127.0.0.1 (as the demo starts them);
#   2. switchresmb writes the switch messages and leaves its temporary
#      profiles (LeaveTemporaryProfiles=1) — its engine here is a stand-in that
#      changes nothing, so the profiles are still unswitched;
#   3. cpuu-config (non-interactive) writes CPUU.ini and the scripts for those
#      profiles, with the Exchange passwords encrypted;
#   4. CPUU_Update.sh switches them with the real bin/cpuu (CSV 10, exit 1 =
#      CPUU_SUCCESS), CPUU_Rollback.sh restores them (12), CPUU_Update.sh again
#      (10), CPUU_Cleanup.sh deletes the backups (14).
# Env: SR_BIN, SR_ROOT, SHARED_DIR.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:?}" || exit 2
BIN=${SR_BIN:?}
SHARED=${SHARED_DIR:-../shared}
. tests/common/harness.sh cfg-lab
for b in switchresmb exsim cpuu cpuu-config; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing"
done

# ---- 1. the lab
$PY tests/lab/orggen.py --users 1 --rooms 3 --equipment 0 --seed 7 --no-problems -o "$work/org.json" ||
    die "orggen"
$PY tests/exsim/seedgen.py --org "$work/org.json" --side source -o "$work/src.xml" || die "seedgen source"
$PY tests/exsim/seedgen.py --org "$work/org.json" --side target -o "$work/tgt.xml" || die "seedgen target"
mkdir -m 700 "$work/lab"
timeout 60 tests/lab/slapd-lab.sh start "$work/lab" "$work/org.json" >"$work/lab.log" 2>&1 ||
    { cat "$work/lab.log"; die "the slapd lab did not start"; }
labv() { sed -n "s/^$1=//p" "$work/lab/lab.env"; }
schemas=()
[ -f "$SHARED/protocol/ews/messages.xsd" ] && schemas=(--schemas "$SHARED/protocol/ews")
start_exsim() {  # name seed
    "$BIN/exsim" --seed "$2" --port 0 --port-file "$work/$1.port" "${schemas[@]}" >"$work/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
    [ -s "$work/$1.port" ] || { cat "$work/$1.log"; die "exsim $1 did not start"; }
}
start_exsim src "$work/src.xml"
start_exsim tgt "$work/tgt.xml"
SRC=$(cat "$work/src.port") TGT=$(cat "$work/tgt.port")
ok "lab up: slapd $(labv LAB_LDAP_URI), exsim source :$SRC, target :$TGT"

export SR_MACHINE_ID_FILE="$work/machine-id"
echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
export LDAPTLS_CACERT; LDAPTLS_CACERT=$(labv LAB_CA)
export SWITCHRESMB_ALLOW_HTTP=1 CPUU_ALLOW_HTTP=1
export SWITCHRESMB_PROFILE_DIR="$work/profiles"

# ---- the wizard writes CPUU.ini beside SwitchResMB.ini (switchresmb reads its Admin)
acct_pw() { $PY -c 'import json,sys; o=json.load(open(sys.argv[1])); print(next(a["password"] for a in o["accounts"] if a["side"]==sys.argv[2]))' "$work/org.json" "$1"; }
acct_pw source >"$work/spw"; acct_pw target >"$work/tpw"
"$BIN/cpuu-config" --new --non-interactive --out "$work" --logon manual \
    --admin admin --password-file "$work/spw" --admin-trg admin --password-trg-file "$work/tpw" \
    --autodiscover-source "http://127.0.0.1:$SRC/autodiscover/autodiscover.xml" \
    --autodiscover-target "http://127.0.0.1:$TGT/autodiscover/autodiscover.xml" --test-autodiscover \
    --features 'Delegates Rules' --watchdog 0 --profiles-all --log "$work/cpuu-#D.log" \
    >"$work/wizard.out" 2>&1
rc=$?
check "cpuu-config wrote CPUU.ini (exit $rc; both Autodiscover URLs answer)" \
    "[ $rc -eq 0 ] && [ \$(grep -c ': answers (HTTP' '$work/wizard.out') -eq 2 ]"
[ $rc -eq 0 ] || cat "$work/wizard.out"

# ---- 2. switch messages and unswitched temporary profiles
$PY - "$work/org.json" >"$work/rooms.txt" <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
for r in o["recipients"]:
    if r["kind"] == "room":
        print(r["source"]["smtp"])
EOF
{
    echo "[Settings]"
    echo "CPUUCmdLine="
    echo "SrcExchServer=mail.src.test"
    echo "LeaveTemporaryProfiles=1"
    echo "[AD]"
    echo "DCName=$(labv LAB_LDAP_URI)"
    echo "DCAccount=$(labv LAB_BIND_DN)"
    echo "DCPassword="
    echo "[SwitchMessage]"
    echo "MigrationAgentType=Contemporary"
    echo "Target=Exchange"
    echo "[MailboxesSMTP]"
    cat "$work/rooms.txt"
} >"$work/SwitchResMB.ini"
chmod 600 "$work/SwitchResMB.ini"
"$BIN/switchresmb" "$work/SwitchResMB.ini" - <"$work/lab/password" >/dev/null 2>&1 || die "DCPassword"
cat >"$work/stand-in" <<'EOF'
#!/bin/sh
# stands in for cpuu under switchresmb: changes nothing, reports CPUU_SUCCESS
exit 1
EOF
chmod 755 "$work/stand-in"
timeout 300 "$BIN/switchresmb" --state-dir "$work/state" --cpuu "$work/stand-in" "$work/SwitchResMB.ini" \
    >"$work/resmb.log" 2>&1
mapfile -t profs < <(ls "$work/profiles" | sed -n 's/^\(%7B[0-9A-F-]*%7D\)\.profile$/\1/p' | sed 's/%7B/{/; s/%7D/}/')
check "switchresmb left ${#profs[@]} unswitched temporary profiles (want 3)" '[ ${#profs[@]} -eq 3 ]'
[ ${#profs[@]} -eq 3 ] || { tail -30 "$work/resmb.log"; die "no profiles to work on"; }
check "they are not switched yet" "! grep -q '^updated = 1' '$work/profiles/'*.profile"

# ---- 3. the wizard again (--load): the scripts for exactly these profiles
popts=()
for p in "${profs[@]}"; do popts+=(--profile "$p"); done
"$BIN/cpuu-config" --load "$work/CPUU.ini" --non-interactive --out "$work/cpuu" "${popts[@]}" \
    >"$work/wizard2.out" 2>&1
rc=$?
check "cpuu-config --load wrote the scripts for the three profiles (exit $rc)" \
    "[ $rc -eq 0 ] && [ \$(grep -c '{' '$work/cpuu/CPUU_Update.sh') -ge 3 ]"
[ $rc -eq 0 ] || cat "$work/wizard2.out"

# ---- 4. the scripts, with the real engine
csv_codes() {  # the last code per profile, in profile order
    for p in "${profs[@]}"; do awk -F'\t' -v p="$p" '$1 == p {c = $2} END {print c}' "$work"/cpuu-*.csv; done | paste -sd' ' -
}
run_script() {  # name want-exit want-codes
    CPUU_BIN="$BIN/cpuu" timeout 300 "$work/cpuu/CPUU_$1.sh" -SkipAutodiscoverChecking >"$work/$1.out" 2>&1
    local rc=$?
    local codes; codes=$(csv_codes)
    check "CPUU_$1.sh: exit $rc (want $2), CSV codes '$codes' (want '$3')" "[ $rc -eq $2 ] && [ '$codes' = '$3' ]"
    [ $rc -eq "$2" ] || { cat "$work/$1.out"; tail -20 "$work"/cpuu-*.log; }
}
run_script Update 1 "10 10 10"
check "the profiles are switched to the target" \
    "[ \$(grep -l '^updated = 1' '$work/profiles/'%7B*%7D.profile | wc -l) -eq 3 ] && grep -q '^smtp = .*@tgt' '$work/profiles/'%7B*%7D.profile"
check "no password in the engine's log" "! grep -qF -f '$work/spw' '$work'/cpuu-*.log"
run_script Rollback 1 "12 12 12"
check "rolled back: not switched any more" "! grep -q '^updated = 1' '$work/profiles/'%7B*%7D.profile"
run_script Update 1 "10 10 10"
run_script Cleanup 1 "14 14 14"
check "cleanup removed the backups" "! ls '$work/profiles' | grep -q cpuu-backup"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
