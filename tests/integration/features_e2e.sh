#!/usr/bin/env bash
# features_e2e.sh — issues 12 and 16 end to end: switchresmb → cpuu with
# Features=Delegates Rules Nicks SearchFolders ContactMembers Booking and
# RemoveJunkEmailMessages=1, against the slapd lab ([AD]) and two Exchange
# simulators seeded by tests/exsim/seedgen.py (rooms holding search folders,
# personal DLs with GAL members, a junk e-mail rule, EX nicknames, a shared
# calendar link and booking policies naming migrated, unmigrated and unknown
# users).  Checks the target mailboxes item by item against /_sim/state
# (tests/py/features_e2e_check.py), then rollback (cpuu -UndoAll on the kept
# profiles) gives the target's stable dump (/_sim/state?stable=1) back
# byte-identical — a rule that already existed on the target keeps its
# RuleId, the junk e-mail rule its ItemId — and a second update writes
# nothing (simulator counters and dump).
# Ends "N passed, N failed".  Env: SR_ROOT, SR_BIN, SHARED_DIR; E2E_KEEP=1 keeps files.
set -u
ROOT=${SR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${SR_BIN:-$ROOT/bin}
PY=/usr/bin/python3
SHARED=${SHARED_DIR:-$ROOT/../shared}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
differs() { ! cmp -s "$1" "$2"; }
lacks() { ! grep -q -- "$1" "$2"; }   # TEXT FILE
within() { [ "$1" -ge 1 ] && [ "$1" -le "$2" ]; }  # N BOUND

W=$(mktemp -d /tmp/features-e2e.XXXXXX)
chmod 700 "$W"
PIDS=()
SLAPD="" TSLAPD=""
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
    [ -n "$SLAPD" ] && "$ROOT/tests/lab/slapd-lab.sh" stop "$SLAPD" >/dev/null 2>&1
    [ -n "$TSLAPD" ] && "$ROOT/tests/lab/slapd-lab.sh" stop "$TSLAPD" >/dev/null 2>&1
    if [ -n "${E2E_KEEP:-}" ]; then echo "files kept in $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
# the lab: organisation, seeds, slapd, simulators, secrets (shared with graph_e2e.sh)
. "$ROOT/tests/common/lab.sh"

for b in switchresmb cpuu exsim; do
    [ -x "$BIN/$b" ] || { bad "$BIN/$b missing (make)"; finish; }
done

# ---- the organisation: users (every 3rd unmigrated), rooms -------------------------
lab_org --users 6 --rooms 2 --equipment 1 --seed 12 --unmigrated-every 3
# the migrated resources (rooms, equipment) are the mailboxes switchresmb processes
mapfile -t ROOMS < <(lab_resources source)
[ ${#ROOMS[@]} -ge 2 ] || { bad "fewer than 2 migrated resources in org.json"; finish; }
# The first room's target mailbox already holds two rules: R1, a stale copy of
# the source's "Forward to assistant" (same name, other recipient: the update
# Sets it), and R2, the target's own (never touched).  Rollback must give both
# back under their RuleIds.  Prints the target address of that room.
TROOM=$("$PY" "$ROOT/tests/py/seed_target_rules.py" "$W/tgt.xml" "${ROOMS[0]}" "$W/org.json") &&
    [ -n "$TROOM" ] || { bad "patching the target seed with existing rules"; finish; }

lab_slapd
lab_exsim src "$W/src.xml" && lab_exsim tgt "$W/tgt.xml" || finish
export SWITCHRESMB_ALLOW_HTTP=1
state() { curl -s --noproxy '*' --max-time 20 "$tgt_URL/_sim/state" >"$1" && [ -s "$1" ]; }
# the dump without what every write assigns anew (item versions, id counters)
stable() { curl -s --noproxy '*' --max-time 20 "$tgt_URL/_sim/state?stable=1" >"$1" && [ -s "$1" ]; }
# "RuleId<TAB>DisplayName" of the rules of mailbox SMTP in DUMP
rule_ids() {  # DUMP SMTP
    "$PY" - "$1" "$2" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
mb = next(m for m in ET.parse(sys.argv[1]).getroot().iter("mailbox") if m.get("smtp") == sys.argv[2])
for r in mb.find("rules").findall(T + "Rule"):
    print(r.findtext(T + "RuleId"), r.findtext(T + "DisplayName"), sep="\t")
PYEOF
}
stats() { curl -s --noproxy '*' --max-time 20 "${2:-$tgt_URL}/_sim/stats" >"$1" && [ -s "$1" ]; }
reset_stats() { local u; for u in "$src_URL" "$tgt_URL"; do
    curl -s --noproxy '*' --max-time 20 -XPOST -o /dev/null "$u/_sim/reset-stats"; done
    : >"$W/src.requests"; : >"$W/tgt.requests"; }   # the request logs start again too
ops_of() {  # REQUESTS-LOG SMTP OP: how many OP requests the simulator counted for SMTP
    awk -F'\t' -v m="$2" -v o="$3" 'tolower($1) == tolower(m) && $3 == o { n++ } END { print n + 0 }' "$1"
}
max_rt() {  # STATS.json: the most dependent round trips any one mailbox took
    "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])).get("mailboxes",{}); print(max([v["round_trips"] for v in m.values()] or [0]))' "$1"
}
# Dependent round trips per mailbox and side (simulator counters; switchresmb
# and the engine together; a directory lookup counts for the mailbox it works
# for, by its X-AnchorMailbox) with all of this test's features: the bound is
# the highest figure seen plus the spread between runs, so a regression
# fails.  Seen on 2026-12-06 (issue 13), three runs: source 4, 9, 6 and
# target 14, 17, 15 (concurrent reads on fresh NTLM connections move from
# one step to the next as the handshakes finish).  This case has Critical
# features, so the engine takes the old path (every read first, in
# concurrent waves, the two sides' batches of a wave together; one batched
# identity lookup; then each feature's writes in table order), not the
# pipeline round_trips.sh counts (5 / 5).  It was 13-14 / 24-25 before the
# read waves, with bounds 15 / 26.
RT_BOUND_SOURCE=11 RT_BOUND_TARGET=20

# ---- configuration -----------------------------------------------------------------
lab_machine_id
ACCT_PW() { "$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.stdout.write(next(a["password"] for a in o["accounts"] if a["side"]==sys.argv[2]))' "$W/org.json" "$1"; }
DC_ENC=$(encrypt <"$SLAPD/password")
SRC_ENC=$(ACCT_PW source | encrypt); TGT_ENC=$(ACCT_PW target | encrypt)
[ -n "$DC_ENC" ] && [ -n "$SRC_ENC" ] && [ -n "$TGT_ENC" ] || { bad "encrypting the lab passwords"; finish; }

# Calendar: the pane links of the Calendar module (the shared-calendar link)
FEATURES="Delegates Rules Nicks SearchFolders ContactMembers Booking Calendar"
write_case() {  # DIR [MORE CPUUCmdLine]: SwitchResMB.ini + CPUU.ini
    local D=$1 more=${2:-}
    mkdir -m 700 -p "$D"
    {
        printf '[Settings]\nCPUUCmdLine=-SkipAutodiscoverChecking -Log %s/cpuu.log%s\n' "$D" "$more"
        printf 'SrcExchServer=\nLogonNetworkSecurityNegotiate=1\nLeaveTemporaryProfiles=1\n\n'
        printf '[AD]\nDCName=%s\nDCAccount=%s\nDCPassword=%s\n\n' "$(kv "$SLAPD/lab.env" LAB_LDAP_URI)" \
            "$(kv "$SLAPD/lab.env" LAB_BIND_DN)" "$DC_ENC"
        printf '%s' "${EXTRA_INI:-}"
        printf '[SwitchMessage]\nMigrationAgentType=Contemporary\nTarget=Exchange\nRecreateSwitchMsg=0\n\n'
        echo "[MailboxesSMTP]"
        printf '%s\n' "${ROOMS[@]}"
    } >"$D/SwitchResMB.ini"
    {
        printf '[Parameters]\nAdmin=admin\nPassword=%s\nAdminTrg=admin\nPasswordTrg=%s\n' "$SRC_ENC" "$TGT_ENC"
        printf 'Features=%s\nRemoveJunkEmailMessages=1\nSilent=1\n' "$FEATURES"
        printf 'AutodiscoverSourceURL=%s/autodiscover/autodiscover.xml\n' "$src_URL"
        printf 'AutodiscoverTargetURL=%s/autodiscover/autodiscover.xml\n' "$tgt_URL"
    } >"$D/CPUU.ini"
    chmod 600 "$D/SwitchResMB.ini" "$D/CPUU.ini"
}
run_chain() {  # DIR
    local D=$1
    SWITCHRESMB_PROFILE_DIR=$D/profiles timeout 300 "$BIN/switchresmb" --state-dir "$D/state" \
        --cpuu "$BIN/cpuu" "$D/SwitchResMB.ini" >"$D/out.txt" 2>&1
}
show() { echo "---- $1"; tail -n 40 "$1" 2>/dev/null | sed 's/^/    /'; }

# ---- 1. rollback: the engine's update and -UndoAll on switchresmb's profiles -------
# switchresmb cleans a successful update up (its backups go, as the spec's
# -Cleanup says), so the rollback is proven on the profiles of a dry-run chain
# (LeaveTemporaryProfiles=1 keeps them): cpuu updates them as switchresmb would
# (-Profiles), then -UndoAll puts the target back.
state "$W/before.xml" && stable "$W/before.stable.xml" || { bad "target state dump"; finish; }
D0=$W/run0; write_case "$D0" " -DryRun"
run_chain "$D0"; RC=$?
check "dry-run chain: exit 0" [ "$RC" -eq 0 ] || { show "$D0/out.txt"; show "$D0/cpuu.log"; }
state "$W/dryrun.xml" && check "dry-run chain: target unchanged" cmp -s "$W/before.xml" "$W/dryrun.xml"
mapfile -t PROFS < <(cd "$D0/profiles" 2>/dev/null && ls -- *.profile 2>/dev/null | sed 's/%7B/{/; s/%7D/}/; s/\.profile$//')
check "dry-run chain kept ${#ROOMS[@]} profiles (LeaveTemporaryProfiles=1)" [ "${#PROFS[@]}" -eq "${#ROOMS[@]}" ]
engine() {  # LOG ARGS...: cpuu on the dry-run chain's profiles, with the source
    local log=$1; shift   # directory switchresmb hands it (resmb/actions.c)
    (cd "$D0" && export CPUU_SOURCE_DC CPUU_SOURCE_DC_ACCOUNT CPUU_SOURCE_DC_PASSWORD CPUU_SOURCE_DC_CA_FILE &&
     CPUU_SOURCE_DC=$(kv "$SLAPD/lab.env" LAB_LDAP_URI) CPUU_SOURCE_DC_ACCOUNT=$(kv "$SLAPD/lab.env" LAB_BIND_DN) \
     CPUU_SOURCE_DC_PASSWORD=$DC_ENC CPUU_SOURCE_DC_CA_FILE=$LDAPTLS_CACERT \
     SWITCHRESMB_PROFILE_DIR=$D0/profiles timeout 300 "$BIN/cpuu" -INI "$D0/CPUU.ini" \
        -SkipAutodiscoverChecking -Log "$D0/$log.log" "$@" >"$D0/$log.out" 2>&1)
}
engine update -Profiles "${PROFS[@]}"; RC=$?
check "cpuu -Profiles (the update): exit 1 (CPUU_SUCCESS)" [ "$RC" -eq 1 ] || { show "$D0/update.out"; show "$D0/update.log"; }
state "$W/updated0.xml" && check "cpuu -Profiles: the target changed" differs "$W/before.xml" "$W/updated0.xml"
engine undo -UndoAll; RC=$?
check "cpuu -UndoAll: exit 1 (CPUU_SUCCESS)" [ "$RC" -eq 1 ] || { show "$D0/undo.out"; show "$D0/undo.log"; }
check "cpuu -UndoAll: every profile rolled back" [ "$(grep -c 'rolled back to the source mailbox' "$D0/undo.log")" -eq "${#ROOMS[@]}" ]
stable "$W/rolledback.stable.xml" || { bad "target state dump after rollback"; finish; }
# Byte for byte: the stable dump leaves out only what the server assigns on
# every write and no client can write back (item versions = ChangeKeys, the id
# counters); ItemIds, RuleIds, content and order must all be as before.
if cmp -s "$W/before.stable.xml" "$W/rolledback.stable.xml"; then
    ok "rollback: target stable dump byte-identical to before"
else bad "rollback: target stable dump differs from before"
    diff "$W/before.stable.xml" "$W/rolledback.stable.xml" | head -n 60 | sed 's/^/    /'; fi
# the rules that already existed on the target: R1 Set by the update, both back under their ids
rule_ids "$W/before.stable.xml" "$TROOM" >"$W/rules.before"
rule_ids "$W/updated0.xml" "$TROOM" >"$W/rules.updated"
rule_ids "$W/rolledback.stable.xml" "$TROOM" >"$W/rules.rolledback"
check "existing target rules before: R1 and R2" \
    [ "$(cat "$W/rules.before")" = "$(printf 'R1\tForward to assistant\nR2\tTarget own rule')" ]
check "update: the stale copy R1 rewritten in place (same RuleId)" grep -qx $'R1\tForward to assistant' "$W/rules.updated"
check "update: R1's stale recipient replaced" lacks stale@example.org "$W/updated0.xml"
check "update: the target's own rule R2 kept" grep -qx $'R2\tTarget own rule' "$W/rules.updated"
check "rollback: R1 and R2 back under their RuleIds, nothing else" cmp -s "$W/rules.before" "$W/rules.rolledback"
"$PY" "$ROOT/tests/py/features_e2e_check.py" "$W/org.json" "$W/src.xml" "$W/updated0.xml" "$D0/update.log" \
    "${ROOMS[@]}" >"$W/check0.txt" 2>&1
while IFS= read -r line; do
    case $line in ok\ *) ok "engine: ${line#ok   }";; FAIL\ *) bad "engine: ${line#FAIL }";; *) echo "$line";; esac
done <"$W/check0.txt"

# ---- 2. the update (the whole chain) -------------------------------------------
reset_stats
D1=$W/run1; write_case "$D1"
run_chain "$D1"; RC=$?
check "switchresmb → cpuu: exit 0" [ "$RC" -eq 0 ] || { show "$D1/out.txt"; show "$D1/cpuu.log"; }
for r in "${ROOMS[@]}"; do
    check "report: $r DONE" grep -q "$r.*DONE" "$D1/out.txt"
    # issue 16: the report lists the unresolved references by mailbox (the
    # seed's booking lists name a DN nobody has; the names are in the engine log)
    check "report: $r lists its unresolved Booking references" \
        grep -q "$r .*DONE.*references kept unresolved (named in the engine log):.*Booking [1-9]" "$D1/out.txt"
done
state "$W/after1.xml" || { bad "target state dump after the update"; finish; }
if stats "$W/src1.json" "$src_URL" && stats "$W/tgt1.json"; then
    RT_S=$(max_rt "$W/src1.json"); RT_T=$(max_rt "$W/tgt1.json")
    check "dependent round trips per mailbox: source $RT_S (bound $RT_BOUND_SOURCE)" within "$RT_S" "$RT_BOUND_SOURCE"
    check "dependent round trips per mailbox: target $RT_T (bound $RT_BOUND_TARGET)" within "$RT_T" "$RT_BOUND_TARGET"
    # the recipients in batches, not one lookup per feature or address: the
    # logon's Autodiscover and at most one GetUserSettings per read wave in
    # which features' reads end (the pipeline, cpuu/pipeline.c: 2 here), each
    # riding a wave of other requests
    while read -r t; do
        n=$(ops_of "$W/tgt.requests" "$t" Autodiscover)
        check "target $t: $n Autodiscover requests (logon + one identity batch per read wave)" within "$n" 3
    done < <("$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); s={a.lower() for a in sys.argv[2:]}
for r in o["recipients"]:
    if r["source"]["smtp"].lower() in s: print(r["target"]["smtp"])' "$W/org.json" "${ROOMS[@]}")
else bad "simulator stats after the update"; fi
cat "$D1"/cpuu*.log "$D1"/*.csv "$D1/out.txt" >"$W/report1.txt" 2>/dev/null
"$PY" "$ROOT/tests/py/features_e2e_check.py" "$W/org.json" "$W/src.xml" "$W/after1.xml" "$W/report1.txt" \
    ${ROOMS[@]} >"$W/check1.txt" 2>&1
while IFS= read -r line; do
    case $line in ok\ *) ok "${line#ok   }";; FAIL\ *) bad "${line#FAIL }";; *) echo "$line";; esac
done <"$W/check1.txt"

# ---- 3. a second update writes nothing ---------------------------------------------
reset_stats
D2=$W/run2; write_case "$D2"
run_chain "$D2"; RC=$?
check "second update: exit 0" [ "$RC" -eq 0 ] || { show "$D2/out.txt"; show "$D2/cpuu.log"; }
stats "$W/stats2.json" && state "$W/after2.xml" || { bad "target stats/state after the second update"; finish; }
writes() {  # STATS.json: the write requests it counts, "" when none
    "$PY" - "$1" <<'PYEOF'
import json, re, sys
req = json.load(open(sys.argv[1]))["requests"]
print(" ".join(f"{k}={v}" for k, v in sorted(req.items())
               if re.match(r"(Create|Update|Delete|Add|Remove|Move|Copy|Set|Send|Empty)", k) and v))
PYEOF
}
WRITES=$(writes "$W/stats2.json")
check "second update: no write request to the target (${WRITES:-none})" [ -z "$WRITES" ]
check "second update: target dump unchanged" cmp -s "$W/after1.xml" "$W/after2.xml"

# ---- 4. the target directory ([TargetAD], ours): a second slapd holding the
# org's target side (the last run of this test).  The target identities then
# come from it in batches, not from GetUserSettings: the same mapping (the
# update writes nothing, the dump is unchanged) with fewer Autodiscover
# requests than run 3 made.
mkdir -m 700 "$W/tslapd"
LAB_SIDE=target timeout 60 "$ROOT/tests/lab/slapd-lab.sh" start "$W/tslapd" "$W/org.json" >"$W/tslapd.log" 2>&1 &&
    TSLAPD=$W/tslapd || { bad "target slapd lab: $(tail -n 3 "$W/tslapd.log")"; finish; }
TDC_ENC=$(encrypt <"$TSLAPD/password")
TDC_URI=$(kv "$TSLAPD/lab.env" LAB_LDAP_URI)
EXTRA_INI=$(printf '[TargetAD]\nDCName=%s\nDCAccount=%s\nDCPassword=%s\nCAFile=%s\n\n' "$TDC_URI" \
    "$(kv "$TSLAPD/lab.env" LAB_BIND_DN)" "$TDC_ENC" "$(kv "$TSLAPD/lab.env" LAB_CA)")
EXTRA_INI="$EXTRA_INI"$'\n\n'
reset_stats
D3=$W/run3; write_case "$D3"
EXTRA_INI=""
run_chain "$D3"; RC=$?
check "[TargetAD] update: exit 0" [ "$RC" -eq 0 ] || { show "$D3/out.txt"; show "$D3/cpuu.log"; }
check "[TargetAD] reached the engine" grep -qF "target directory $TDC_URI for the recipient map" "$D3/cpuu.log"
stats "$W/stats3.json" && state "$W/after3.xml" || { bad "target stats/state with [TargetAD]"; finish; }
ad_requests() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"].get("Autodiscover",0))' "$1"; }
AD2=$(ad_requests "$W/stats2.json"); AD3=$(ad_requests "$W/stats3.json")
check "[TargetAD]: fewer target Autodiscover requests ($AD3) than by GetUserSettings ($AD2)" [ "$AD3" -lt "$AD2" ]
WRITES=$(writes "$W/stats3.json")
check "[TargetAD]: no write request to the target (${WRITES:-none})" [ -z "$WRITES" ]
check "[TargetAD]: the same target identities: target dump unchanged" cmp -s "$W/after1.xml" "$W/after3.xml"
nowhere() { ! grep -rqF -- "$1" "$2"; }  # TEXT DIR
check "[TargetAD]: its password is in no log" nowhere "$(cat "$TSLAPD/password")" "$D3"

finish
