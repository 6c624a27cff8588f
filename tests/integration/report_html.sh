#!/usr/bin/env bash
# report_html.sh — the reports switchresmb writes beside its journal, from a
# real run on the lab (slapd + two simulators; the engine is a stand-in that
# reports success): JSON (per mailbox key, list line, resolved object,
# target, state, bits, reason; totals and the exit bitmask), CSV (formula
# cells defused) and one self-contained HTML page, opened in headless
# Chromium: it loads with no console error, the failed filter shows exactly
# the failed rows, and a display name from AD holding <script> is shown as
# text.  Chromium runs with its own network features off and a fresh profile.
# Env: SR_BIN, SR_ROOT, SHARED_DIR.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:?}" || exit 2
BIN=${SR_BIN:?}
. tests/common/harness.sh report
command -v chromium >/dev/null || die "chromium is not installed (make deps)"

# ---- the lab, with hostile directory data
$PY tests/lab/orggen.py --users 0 --rooms 3 --equipment 0 --seed 7 --no-problems -o "$work/org.json" || die orggen
$PY - "$work/org.json" <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
rooms = [r for r in o["recipients"] if r["kind"] == "room"]
rooms[0]["display_name"] = "<script>document.title='pwned'</script><img src=x onerror=alert(1)> Room"
rooms[1]["display_name"] = "=HYPERLINK(\"http://x.example\") & \"quotes\""
json.dump(o, open(sys.argv[1], "w"))
EOF
$PY tests/exsim/seedgen.py --org "$work/org.json" --side source -o "$work/src.xml" || die seedgen
$PY tests/exsim/seedgen.py --org "$work/org.json" --side target -o "$work/tgt.xml" || die seedgen
mkdir -m 700 "$work/lab"
timeout 60 tests/lab/slapd-lab.sh start "$work/lab" "$work/org.json" >"$work/lab.log" 2>&1 ||
    { cat "$work/lab.log"; die "the slapd lab did not start"; }
labv() { sed -n "s/^$1=//p" "$work/lab/lab.env"; }
SHARED=${SHARED_DIR:-../shared}
schemas=()
[ -f "$SHARED/protocol/ews/messages.xsd" ] && schemas=(--schemas "$SHARED/protocol/ews")
start_exsim() {
    "$BIN/exsim" --seed "$2" --port 0 --port-file "$work/$1.port" "${schemas[@]}" >"$work/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
    [ -s "$work/$1.port" ] || die "exsim $1 did not start"
}
start_exsim src "$work/src.xml"
start_exsim tgt "$work/tgt.xml"
SRC=$(cat "$work/src.port") TGT=$(cat "$work/tgt.port")
export SR_MACHINE_ID_FILE="$work/machine-id"
echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
export LDAPTLS_CACERT; LDAPTLS_CACERT=$(labv LAB_CA)
export SWITCHRESMB_ALLOW_HTTP=1 CPUU_ALLOW_HTTP=1 SWITCHRESMB_PROFILE_DIR="$work/profiles"

pw() { $PY -c 'import json,sys; o=json.load(open(sys.argv[1])); print(next(a["password"] for a in o["accounts"] if a["side"]==sys.argv[2]))' "$work/org.json" "$1"; }
pw source >"$work/spw"; pw target >"$work/tpw"
"$BIN/cpuu-config" --new --non-interactive --out "$work" --admin admin --password-file "$work/spw" \
    --admin-trg admin --password-trg-file "$work/tpw" \
    --autodiscover-source "http://127.0.0.1:$SRC/autodiscover/autodiscover.xml" \
    --autodiscover-target "http://127.0.0.1:$TGT/autodiscover/autodiscover.xml" --scripts none \
    >/dev/null 2>&1 || die "cpuu-config"
{
    printf '[Settings]\nCPUUCmdLine=\nSrcExchServer=mail.src.test\n[AD]\n'
    printf 'DCName=%s\nDCAccount=%s\nDCPassword=\n' "$(labv LAB_LDAP_URI)" "$(labv LAB_BIND_DN)"
    printf '[SwitchMessage]\nMigrationAgentType=Contemporary\nTarget=Exchange\n[MailboxesSMTP]\n'
    $PY -c 'import json,sys; [print(r["source"]["smtp"]) for r in json.load(open(sys.argv[1]))["recipients"] if r["kind"]=="room"]' "$work/org.json"
    echo "missing-room@src.test"
} >"$work/SwitchResMB.ini"
chmod 600 "$work/SwitchResMB.ini"
"$BIN/switchresmb" "$work/SwitchResMB.ini" - <"$work/lab/password" >/dev/null 2>&1 || die "DCPassword"
printf '#!/bin/sh\nexit 1\n' >"$work/stand-in"; chmod 755 "$work/stand-in"
"$BIN/switchresmb" --status --state-dir "$work/state" "$work/SwitchResMB.ini" >"$work/st0.out" 2>&1
rc=$?
check "--status before any run: exit 0, no run yet, 4 listed but not started" \
    "[ $rc -eq 0 ] && grep -q 'no run yet' '$work/st0.out' && grep -q '4 listed but not started' '$work/st0.out'"
timeout 300 "$BIN/switchresmb" --state-dir "$work/state" --cpuu "$work/stand-in" "$work/SwitchResMB.ini" \
    >"$work/run.log" 2>&1
rc=$?
check "the run: exit 1 (one mailbox is not in the directory), got $rc" "[ $rc -eq 1 ]"
before=$(ls -l --time-style=full-iso "$work/state" | md5sum)
"$BIN/switchresmb" --status --state-dir "$work/state" "$work/SwitchResMB.ini" >"$work/st1.out" 2>&1
rc=$?
after=$(ls -l --time-style=full-iso "$work/state" | md5sum)
check "--status after the run: exit 1 as the run reported, counts DONE 3 FAILED 1" \
    "[ $rc -eq 1 ] && grep -q 'DONE 3 FAILED 1' '$work/st1.out' && grep -q '0 listed but not started' '$work/st1.out'"
check "--status: the failed mailbox with its last transition, attempts, time and error" \
    "grep -E '^  missing-room@src.test +FAILED +1 +[A-Z_]+ -> FAILED +20[0-9-]+T[0-9:.]+Z +.*[a-z]' '$work/st1.out' >/dev/null"
check "--status: a done mailbox's last transition" \
    "grep -qE '^  room-0001@src.test +DONE +1 +CLEANED -> DONE ' '$work/st1.out'"
check "--status changed no file in the state directory" "[ '$before' = '$after' ]"
check "no progress line when stderr is not a terminal" "! grep -q 'mailboxes/s' '$work/run.log'"
echo '[]' >"$work/none.json"
timeout 300 $PY tests/integration/pty_drive.py "$work/tty.txt" "$work/none.json" -- \
    "$BIN/switchresmb" --state-dir "$work/state-tty" --cpuu "$work/stand-in" "$work/SwitchResMB.ini" \
    >/dev/null 2>&1
rc=$?
check "on a terminal: one line rewritten in place, ending with the totals (exit $rc)" \
    "[ $rc -eq 1 ] && grep -aq \$'\r4/4  done 3  failed 1  running 0  queued 0  [0-9.]* mailboxes/s  ETA 00:00:00' '$work/tty.txt'"
json=$(ls "$work"/state/*.report.json 2>/dev/null) csv=$(ls "$work"/state/*.report.csv 2>/dev/null)
html=$(ls "$work"/state/*.report.html 2>/dev/null)
check "JSON, CSV and HTML reports beside the journal" "[ -n '$json' ] && [ -n '$csv' ] && [ -n '$html' ]"
[ -n "$html" ] || { tail -20 "$work/run.log"; die "no reports"; }
check "reports are mode 600" "[ \"\$(stat -c %a '$json' '$csv' '$html' | sort -u)\" = 600 ]"

# ---- JSON and CSV
$PY - "$json" "$csv" >"$work/py.out" 2>&1 <<'EOF'
import csv, json, sys
d = json.load(open(sys.argv[1]))
m = {r["key"]: r for r in d["mailboxes"]}
assert d["exit_code"] == 1 and d["exit_bits"][0]["bit"] == 1, d["exit_bits"]
assert d["totals"]["mailboxes"] == 4 and d["totals"]["failed"] == 1, d["totals"]
sp = d["spent_by_batches"]
assert sp["ldap_searches"] >= 1 and sp["ews_requests"] >= 1, sp
# the workers' own requests (switch-message writes) count too; the target
# Autodiscover for the switch messages is the parent's batch (target_batch.c)
sw, tot = d["spent_by_workers"], d["spent"]
assert sw["ews_requests"] >= 3 and sw["autodiscover_requests"] == 0, sw
assert sp["autodiscover_requests"] >= 3, sp
assert tot["ews_requests"] == sp["ews_requests"] + sw["ews_requests"], (tot, sp, sw)
assert tot["autodiscover_requests"] == sp["autodiscover_requests"] + sw["autodiscover_requests"]
# time per phase: every phase present, non-negative, the busy ones above 0,
# and no more in all than the run's wall time times its workers
t = d["totals"]
ph = t["phase_seconds"]
assert list(ph) == ["directory", "switch_message", "engine_update", "engine_cleanup",
                    "profile"], ph
assert all(isinstance(v, (int, float)) and v >= 0 for v in ph.values()), ph
assert all(ph[k] > 0 for k in ph), ph
assert t["jobs"] >= 1 and t["wall_seconds"] > 0, t
assert sum(ph.values()) <= t["wall_seconds"] * t["jobs"], (ph, t)
assert m["missing-room@src.test"]["state"] == "FAILED" and m["missing-room@src.test"]["reason"]
r = m["room-0001@src.test"]
assert r["state"] == "DONE" and r["section"] == "MailboxesSMTP" and r["line"] > 0, r
assert r["target"].endswith("@tgt.test") and r["legacy_dn"].startswith("/o="), r
assert r["display_name"].startswith("<script>"), r
assert r["started"] <= r["finished"] and r["finished"].endswith("Z"), r
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(rows) == 4, rows
c = {x["key"]: x for x in rows}
assert c["room-0002@src.test"]["display_name"].startswith("'=HYPERLINK"), c["room-0002@src.test"]
assert c["room-0001@src.test"]["display_name"].startswith("<script>")
print("ok")
EOF
check "JSON: totals, exit bits, per mailbox key/line/section/legacy DN/target/state/reason/timings" \
    "grep -qx ok '$work/py.out'"
grep -qx ok "$work/py.out" || cat "$work/py.out"
check "the HTML is self-contained (no src= or href= to fetch)" \
    "! grep -qiE '(src|href)=\"(https?:)?//' '$html' && grep -q 'Content-Security-Policy' '$html'"

# ---- the page in headless Chromium
browse() {  # url-suffix out
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --no-pings --user-data-dir="$work/chrome-$RANDOM" \
        --enable-logging=stderr --v=0 --virtual-time-budget=3000 \
        --dump-dom "file://$html$1" >"$2" 2>"$2.err"
}
browse "" "$work/all.html"
check "the page loads and its script ran to the end" "grep -q 'data-ready=\"1\"' '$work/all.html'"
check "no script error and no console error" \
    "! grep -q 'data-error=' '$work/all.html' && ! grep -qE 'CONSOLE|Uncaught' '$work/all.html.err'"
check "summary first: totals and the exit code explained before the table" \
    "$PY -c 'import sys; t=open(sys.argv[1]).read(); assert t.index(\"processing failed with errors\") < t.index(\"<tbody\")' '$work/all.html'"
check "all four rows, the failed one first" \
    "[ \$(grep -o '<tr class=\"[A-Z]*\">' '$work/all.html' | wc -l) -eq 4 ] && grep -o '<tr class=\"[A-Z]*\">' '$work/all.html' | head -1 | grep -q FAILED"
check "the <script> display name is shown as text, not run" \
    "grep -qF '&lt;script&gt;document.title' '$work/all.html' && ! grep -q '<title>pwned' '$work/all.html' && [ \$(grep -o '<script' '$work/all.html' | wc -l) -eq 2 ] && ! grep -q '<img' '$work/all.html'"
$PY - "$work/all.html" "$json" >"$work/phases.out" 2>&1 <<'EOF'
import json, re, sys
t = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
assert t.index('id="phases"') < t.index('id="mb"'), "the phases come after the mailboxes"
tb = re.search(r'<table id="phases">.*?<tbody>(.*?)</tbody>', t, re.S).group(1)
rows = re.findall(r'<tr><td>([a-z ]+)</td><td>([0-9.]+)</td><td>([0-9.]+ %)</td></tr>', tb)
assert [r[0] for r in rows] == ["directory", "switch message", "engine update",
                                "engine cleanup", "profile"], tb
ph = d["totals"]["phase_seconds"]
assert [float(r[1]) for r in rows] == [round(v, 3) for v in ph.values()], (rows, ph)
assert "Requests: %d EWS" % d["spent"]["ews_requests"] in t, "no requests line"
print("ok")
EOF
check "summary: the time-per-phase table (five phases, seconds, share) and the requests" \
    "grep -qx ok '$work/phases.out'"
grep -qx ok "$work/phases.out" || cat "$work/phases.out"
browse "#filter=failed" "$work/failed.html"
check "the failed filter shows exactly the failed rows" \
    "grep -q 'data-filter=\"failed\"' '$work/failed.html' && [ \"\$(grep -o '<tr class=\"[A-Z]*\">' '$work/failed.html' | sort -u)\" = '<tr class=\"FAILED\">' ] && [ \$(grep -o '<tr class=' '$work/failed.html' | wc -l) -eq 1 ] && grep -q 'missing-room@src.test' '$work/failed.html'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
