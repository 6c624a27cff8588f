#!/usr/bin/env bash
# exsim_interop.sh — the Exchange simulator cross-checked by a client nobody
# here wrote: Debian's python3-exchangelib (tests/exsim/test/interop_exchangelib.py)
# against two bin/exsim instances (source and target org) over HTTPS on free
# loopback ports, seeded from tests/lab/orggen.py through tests/exsim/seedgen.py.
# exchangelib autodiscovers a migrated source mailbox (redirectAddr to the
# target org), then runs EWS operations on the source.  Ends "N passed, N failed".
set -u
ROOT=${SR_ROOT:-$(pwd)}
BIN=${SR_BIN:-$ROOT/bin}
SHARED=${SHARED_DIR:-$ROOT/../shared}
PY=/usr/bin/python3
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "PASS $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if [ ! -x "$BIN/exsim" ]; then bad "bin/exsim not built ($BIN/exsim)"; finish; fi
if ! $PY -c 'import exchangelib' 2>/dev/null; then bad "python3-exchangelib missing for $PY"; finish; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sr-exsim-interop-XXXXXX")
pids=()
stop_pid() {  # pid -> sets $st to its exit status (SIGTERM, bounded wait, then SIGKILL)
    local p=$1
    st=
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$p" 2>/dev/null && { kill -KILL "$p" 2>/dev/null; st=killed; }
    wait "$p" 2>/dev/null
    local rc=$?
    [ -n "$st" ] || st=$rc
}
cleanup() {
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && stop_pid "$p"; done
    [ -n "${EXSIM_KEEP:-}" ] || rm -rf -- "$tmp"
}
trap cleanup EXIT

$PY "$ROOT/tests/lab/orggen.py" --users 3 --rooms 2 --equipment 1 --seed 3 -o "$tmp/org.json" \
    && $PY "$ROOT/tests/exsim/seedgen.py" --org "$tmp/org.json" --side source -o "$tmp/source.xml" \
    && $PY "$ROOT/tests/exsim/seedgen.py" --org "$tmp/org.json" --side target -o "$tmp/target.xml" \
    || { bad "orggen/seedgen"; finish; }
# One migration account known to both orgs (as a migration admin would be).
pw="Mig-$RANDOM$RANDOM-pw"
for s in source target; do
    sed -i "2a\\ <account name=\"migadmin\" password=\"$pw\" full-access=\"1\" impersonation=\"1\" />" "$tmp/$s.xml"
done
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
    -subj /CN=exsim-test -addext \
    "subjectAltName=DNS:src.test,DNS:autodiscover.src.test,DNS:tgt.test,DNS:autodiscover.tgt.test,IP:127.0.0.1" \
    >"$tmp/openssl.log" 2>&1 || { bad "openssl test certificate"; finish; }

start() {  # name seed -> sets port_<name>
    local name=$1
    "$BIN/exsim" --seed "$2" --port 0 --port-file "$tmp/$name.port" --pid-file "$tmp/$name.pid" \
        --schemas "$SHARED/protocol/ews" --validate-responses --dump-on-exit "$tmp/$name.dump.xml" \
        --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --www-auth basic,bearer \
        >"$tmp/$name.log" 2>&1 &
    local pid=$! port=
    pids+=("$pid")
    for _ in $(seq 1 250); do
        [ -s "$tmp/$name.port" ] && port=$(cat "$tmp/$name.port") && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.04
    done
    if [ -z "$port" ]; then bad "exsim $name did not start:"; cat "$tmp/$name.log"; finish; fi
    [ "$(cat "$tmp/$name.pid")" = "$pid" ] || bad "$name pid file"
    ok "exsim $name on https://127.0.0.1:$port"
    eval "port_$name=$port"
}
start src "$tmp/source.xml"
start tgt "$tmp/target.xml"

out=$(REQUESTS_CA_BUNDLE="$tmp/cert.pem" TMPDIR="$tmp" timeout 180 $PY \
      "$ROOT/tests/exsim/test/interop_exchangelib.py" \
      --url "https://127.0.0.1:$port_src/EWS/Exchange.asmx" --seed "$tmp/source.xml" \
      --account migadmin --mailbox user-0001@src.test \
      --map "src.test=$port_src" --map "tgt.test=$port_tgt" \
      --ad-address user-0001@src.test --ad-expect-address user-0001@tgt.test \
      --ad-expect-ews "https://127.0.0.1:$port_tgt/EWS/Exchange.asmx" 2>&1)
echo "$out" | sed 's/^/  /'
p=$(echo "$out" | grep -c '^PASS ')
f=$(echo "$out" | grep -c '^FAIL ')
[ "$p" -ge 1 ] || { f=$((f + 1)); echo "FAIL interop script produced no results"; }
passed=$((passed + p)); failed=$((failed + f))

for name in src tgt; do
    if grep -q 'schema-invalid' "$tmp/$name.log"; then
        bad "exsim $name logged schema-invalid responses:"; grep 'schema-invalid' "$tmp/$name.log" | head -5
    else
        ok "every exsim $name response passed schema validation"
    fi
done
stop_pid "${pids[0]}"
[ "$st" = 0 ] && ok "exsim src stopped on SIGTERM" || bad "exsim src stop (status $st)"
stop_pid "${pids[1]}"
[ "$st" = 0 ] && ok "exsim tgt stopped on SIGTERM" || bad "exsim tgt stop (status $st)"
grep -q 'interop updated' "$tmp/src.dump.xml" 2>/dev/null && ok "state dump holds the item exchangelib updated" \
    || bad "state dump lacks the item exchangelib created/updated"
finish
