#!/usr/bin/env bash
# resmb_graph_check.sh — switchresmb --check for an Office 365 target that may
# speak Microsoft Graph (issue 17 §2, CPUU.ini ProtocolTrg): one token and one
# GET /users/{first target mailbox} against tests/py/graph_fake.py (started
# here on a free loopback port, stopped by its PID), reported as the admin
# needs it: OK, no token, 403 (which permissions), unknown mailbox; exit 1
# only when ProtocolTrg=Graph; Protocol=Graph for the source refused (4).
# Env: SR_BIN, SR_ROOT.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
BIN="${SR_BIN:-bin}/switchresmb"
WIZ="${SR_BIN:-bin}/cpuu-config"
DATA=tests/data/switchresmb
CLIENT_ID=00000000-aaaa-bbbb-cccc-0000000000c4
SECRET=Graph-Check-Secret-789
passed=0 failed=0
work=$(mktemp -d /tmp/sr-graph-check-XXXXXX)
fake_pid=
cleanup() { [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
echo 0123456789abcdef0123456789abcdef >"$work/host"
export SR_MACHINE_ID_FILE="$work/host"

ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; sed 's/^/     | /' "$work/out" "$work/err" 2>/dev/null | head -20; }
run() {  # EXPECTED_RC NAME ARGS...
    local want=$1 name=$2; shift 2
    timeout 60 "$BIN" "$@" >"$work/out" 2>"$work/err" </dev/null
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, want $want"; fi
}
expect() {  # FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: [$2] not in $(basename "$1")"; fi
}
absent() {  # FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then bad "$3: [$2] in $(basename "$1")"; else ok "$3"; fi
}
fake() {  # JSON: the stand-in's control endpoint
    curl -s --noproxy '*' -m 10 -d "$1" "http://127.0.0.1:$port/_fake/config" >/dev/null
}

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '%s' "$SECRET" >"$work/secret"; chmod 600 "$work/secret"
/usr/bin/python3 tests/py/graph_fake.py "$port" "$CLIENT_ID" "$work/secret" \
    "Room-1@target.domain,Room-2@target.domain" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do
    curl -s --noproxy '*' -m 1 "http://127.0.0.1:$port/_fake/stats" >/dev/null 2>&1 && break
    sleep 0.1
done

# cpuu_ini NAME PROTOCOL_TRG SECRET [EXTRA LINE]: CPUU.ini with the app's
# OAuth2 keys, the stand-in's token and Graph URLs, the secret encrypted here
cpuu_ini() {
    local f="$work/$1.ini"
    printf '[Parameters]\nClientId=%s\nClientSecret=x\nTokenURL=http://127.0.0.1:%s/token\nGraphURL=http://127.0.0.1:%s\nProtocolTrg=%s\nFeatures=Delegates Rules\nSilent=1\n%s' \
        "$CLIENT_ID" "$port" "$port" "$2" "${4:-}" >"$f"
    printf '%s\n' "$3" | timeout 20 "$WIZ" --encrypt ClientSecret "$f" >/dev/null 2>&1
    echo "$f"
}
INI="$DATA/seed_ex3_target.ini"   # Target=O365; first target mailbox Room-1@target.domain

run 0 "ProtocolTrg=Graph, the app is allowed" --check --allow-http --cpuu-ini "$(cpuu_ini good Graph "$SECRET")" "$INI"
expect "$work/out" "Graph (target): OK: a token for the Graph audience, and Room-1@target.domain answered" "OK reported"

run 1 "ProtocolTrg=Graph, a wrong secret" --check --allow-http --cpuu-ini "$(cpuu_ini wrong Graph not-the-secret)" "$INI"
expect "$work/out" "Graph (target): no token:" "no token reported"
expect "$work/out" "AADSTS7000215" "the token endpoint's reason is named"
expect "$work/out" "ProtocolTrg=Graph: a run would fail every mailbox" "the consequence is named"
absent "$work/out" "not-the-secret" "the secret is not printed"
absent "$work/err" "not-the-secret" "the secret is not logged"

fake '{"deny": true}'
run 1 "ProtocolTrg=Graph, the role not granted" --check --allow-http --cpuu-ini "$work/good.ini" "$INI"
expect "$work/out" "Authorization_RequestDenied" "Graph's code is named"
expect "$work/out" "grant the app the Graph application permission this needs, with admin consent" "what to do is said"
expect "$work/out" "the target features need the application permissions User.Read.All, MailboxSettings.ReadWrite" "the permissions to grant are named"
run 0 "ProtocolTrg=Auto, the role not granted: reported, EWS still the way" --check --allow-http --cpuu-ini "$(cpuu_ini auto Auto "$SECRET")" "$INI"
expect "$work/out" "HTTP 403" "Auto: the 403 is reported"
fake '{"deny": false}'

cpuu_ini ews EWS "$SECRET" >/dev/null
run 0 "ProtocolTrg=EWS: Graph not probed" --check --allow-http --cpuu-ini "$work/ews.ini" "$INI"
absent "$work/out" "Graph (target)" "no Graph line with EWS"

# the first target mailbox unknown to the tenant
sed 's/^Room-1@target.domain$/Nobody@target.domain/' "$INI" >"$work/nobody.ini"
run 1 "ProtocolTrg=Graph, the mailbox is not in the tenant" --check --allow-http --cpuu-ini "$work/good.ini" "$work/nobody.ini"
expect "$work/out" "/users/Nobody@target.domain" "the mailbox is named"
expect "$work/out" "Request_ResourceNotFound" "Graph's 404 code is named"

# Protocol=Graph for the source: refused as an INI error, with file:line
cpuu_ini src Auto "$SECRET" "Protocol=Graph
" >/dev/null
run 4 "Protocol=Graph for the source" --check --allow-http --cpuu-ini "$work/src.ini" "$INI"
expect "$work/err" "src.ini:9: [Parameters] Protocol: Graph is for an Office 365 target only" "source Graph refused with file:line"

# an on-premises target: Graph refused there (4), never probed with Auto
sed 's/^Target=O365$/Target=Exchange/' "$INI" >"$work/onprem.ini"
run 4 "an Exchange target with ProtocolTrg=Graph" --check --allow-http --cpuu-ini "$work/good.ini" "$work/onprem.ini"
expect "$work/out" "good.ini:6: [Parameters] ProtocolTrg=Graph, but the target is not Office 365" "Graph on-premises refused with file:line"
run 0 "an Exchange target with ProtocolTrg=Auto: not probed" --check --allow-http --cpuu-ini "$work/auto.ini" "$work/onprem.ini"
absent "$work/out" "Graph (target)" "no Graph line for an on-premises target"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
