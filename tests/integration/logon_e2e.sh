#!/usr/bin/env bash
# logon_e2e.sh — the whole switchresmb → cpuu chain logs on the way real
# Exchange servers require (issue 9), against real authentication servers:
#   - the source directory: the slapd lab ([AD]);
#   - the Samba AD DC lab as the KDC and the holder of the passwords
#     (tests/lab/samba-logon.sh: HTTP keytab, NT hashes, svc-migr keytab);
#   - glewlwyd as Entra ID (tests/lab/entra-lab.sh);
#   - two Exchange simulators over TLS (this test's own CA), each offering
#     only what the scenario's server offers.
# Scenarios: an NTLM-only source with DOMAIN\user; a Kerberos-only source
# (svc-migr's client keytab, no password anywhere); an Office 365 target
# with a client secret and one with a certificate; refusals (wrong password,
# expired token, token for another audience, missing role, untrusted
# certificate) each with the spec's exit code and a message naming the
# cause; and no password, secret or token in any log.
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

W=$(mktemp -d /tmp/logon-e2e.XXXXXX)
chmod 700 "$W"
PIDS=()
SLAPD=""; SAMBA=""; ENTRA=""
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
    [ -n "$ENTRA" ] && "$ROOT/tests/lab/entra-lab.sh" stop "$ENTRA" >/dev/null 2>&1
    [ -n "$SAMBA" ] && "$ROOT/tests/lab/samba-lab.sh" stop "$SAMBA" >/dev/null 2>&1
    [ -n "$SLAPD" ] && "$ROOT/tests/lab/slapd-lab.sh" stop "$SLAPD" >/dev/null 2>&1
    if [ -n "${E2E_KEEP:-}" ]; then echo "files kept in $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
kv() { sed -n "s/^$2=//p" "$1" | head -n 1; }

for b in switchresmb cpuu exsim; do
    [ -x "$BIN/$b" ] || { bad "$BIN/$b missing (make)"; finish; }
done

# ---- the organisation, its directory, the simulators' seeds ----------------------
"$PY" "$ROOT/tests/lab/orggen.py" --users 0 --rooms 2 --equipment 0 --seed 11 \
    --unmigrated-every 0 -o "$W/org.json" >/dev/null &&
"$PY" "$ROOT/tests/exsim/seedgen.py" --org "$W/org.json" --side source -o "$W/src.xml" &&
"$PY" "$ROOT/tests/exsim/seedgen.py" --org "$W/org.json" --side target -o "$W/tgt.xml" ||
    { bad "orggen/seedgen"; finish; }
# the Kerberos-only service account, known to the source organisation (its seed password is unused)
sed -i "s|\(<account name=\"admin\"[^>]*/>\)|\1<account name=\"svc-migr\" upn=\"svc-migr@src.test\" password=\"$(openssl rand -hex 16)\" full-access=\"1\" impersonation=\"1\"/>|" "$W/src.xml"
mapfile -t ROOMS < <("$PY" - "$W/org.json" source <<'PYEOF'
import json, sys
o = json.load(open(sys.argv[1]))
for r in o["recipients"]:
    if r["kind"] != "user":
        print(r[sys.argv[2]]["smtp"])
PYEOF
)
mapfile -t TROOMS < <("$PY" - "$W/org.json" target <<'PYEOF'
import json, sys
o = json.load(open(sys.argv[1]))
for r in o["recipients"]:
    if r["kind"] != "user":
        print(r[sys.argv[2]]["smtp"])
PYEOF
)
# the guide's O365 example has no [AD]: the source Autodiscover must name the mailbox itself
"$PY" "$ROOT/tests/exsim/seedgen.py" --org "$W/org.json" --side source --no-redirect -o "$W/src-nr.xml" ||
    { bad "seedgen --no-redirect"; finish; }
[ ${#ROOMS[@]} -ge 1 ] || { bad "no rooms in org.json"; finish; }

mkdir -m 700 "$W/slapd"
timeout 60 "$ROOT/tests/lab/slapd-lab.sh" start "$W/slapd" "$W/org.json" >"$W/slapd.log" 2>&1 &&
    SLAPD=$W/slapd || { bad "slapd lab: $(tail -n 3 "$W/slapd.log")"; finish; }
export LDAPTLS_CACERT; LDAPTLS_CACERT=$(kv "$SLAPD/lab.env" LAB_CA)

SAMBA=$W/samba
if ! "$ROOT/tests/lab/samba-lab.sh" start "$SAMBA" "$W/org.json" >"$W/samba.log" 2>&1; then
    bad "Samba lab: $(tail -n 3 "$W/samba.log")"; SAMBA=""; finish
fi
"$ROOT/tests/lab/samba-logon.sh" "$SAMBA" >>"$W/samba.log" 2>&1 ||
    { bad "samba-logon.sh: $(tail -n 3 "$W/samba.log")"; finish; }
export KRB5_CONFIG; KRB5_CONFIG=$(kv "$SAMBA/lab.env" LAB_KRB5_CONFIG)
DC_PW=$(kv "$SAMBA/lab.env" LAB_PASSWORD)          # the admin's password as the DC holds it
NETBIOS=$(kv "$SAMBA/lab.env" LAB_NETBIOS)

ENTRA=$W/entra
"$ROOT/tests/lab/entra-lab.sh" start "$ENTRA" >"$W/entra.log" 2>&1 ||
    { bad "entra-lab: $(tail -n 3 "$W/entra.log")"; ENTRA=""; finish; }
E=$ENTRA/entra.env

# ---- TLS: our CA, the simulators' certificate (127.0.0.1) ------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/ca.key" \
    -out "$W/ca.pem" -days 2 -subj "/CN=logon e2e CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/key.pem" \
    -out "$W/srv.csr" -subj "/CN=127.0.0.1" >/dev/null 2>&1 &&
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$W/ext.cnf" &&
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
    -extfile "$W/ext.cnf" -out "$W/cert.pem" >/dev/null 2>&1 || { bad "test CA"; finish; }
# a second CA nobody trusts (the "untrusted certificate" refusal)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/bad.key" \
    -out "$W/bad.pem" -days 2 -subj "/CN=127.0.0.1" -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1

# Start a simulator; NAME.port/NAME.log; sets the variable NAME_URL.
start_exsim() {  # NAME SEED CERT KEY OPTIONS...
    local name=$1 seed=$2 cert=$3 key=$4 i; shift 4
    rm -f "$W/$name.port"
    "$BIN/exsim" --seed "$seed" --port 0 --port-file "$W/$name.port" --schemas "$SHARED/protocol/ews" \
        --tls-cert "$cert" --tls-key "$key" "$@" >"$W/$name.out" 2>"$W/$name.log" &
    PIDS+=($!)
    for i in $(seq 1 100); do [ -s "$W/$name.port" ] && break; kill -0 $! 2>/dev/null || break; sleep 0.05; done
    [ -s "$W/$name.port" ] || { bad "exsim $name: $(tail -n 3 "$W/$name.log")"; return 1; }
    printf -v "${name}_URL" 'https://127.0.0.1:%s' "$(cat "$W/$name.port")"
}
stop_exsims() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    PIDS=()
}

# ---- switchresmb and cpuu configuration --------------------------------------------
export SR_MACHINE_ID_FILE=$W/machine-id
echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
encrypt() {  # plaintext on stdin -> the stored (encrypted) form
    printf '[Settings]\nCPUUCmdLine=\n[AD]\nDCName=x\nDCAccount=x\nDCPassword=\n' >"$W/scratch.ini"
    chmod 600 "$W/scratch.ini"
    "$BIN/switchresmb" "$W/scratch.ini" - >/dev/null 2>&1 && sed -n 's/^DCPassword=//p' "$W/scratch.ini"
}
DC_ENC=$(encrypt <"$SLAPD/password")
ACCT_PW() { "$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.stdout.write(next(a["password"] for a in o["accounts"] if a["side"]==sys.argv[2]))' "$W/org.json" "$1"; }
TGT_PW=$(ACCT_PW target); TGT_ENC=$(printf '%s' "$TGT_PW" | encrypt)
DCPW_ENC=$(printf '%s' "$DC_PW" | encrypt)
[ -n "$DC_ENC" ] && [ -n "$TGT_ENC" ] && [ -n "$DCPW_ENC" ] || { bad "encrypting the lab passwords"; finish; }

# One case: SwitchResMB.ini [Settings] logon line, [SwitchMessage] Target, CPUU.ini lines.
# Runs the chain; RC, OUT (stdout+stderr of switchresmb, with cpuu's CSV/logs in $D).
# NO_AD=1: no [AD] section and [TargetMailboxesSMTP] pairs (the guide's O365 example).
run_chain() {  # NAME LOGON_LINE TARGET CPUU_LINES
    local name=$1 logon=$2 target=$3 lines=$4
    CASE_N=$((CASE_N + 1))
    D=$W/case$CASE_N           # numbered: no word of the case in the paths the output names
    echo "$name" >"$W/case$CASE_N.name"
    mkdir -m 700 -p "$D"
    {
        echo "[Settings]"
        echo "CPUUCmdLine=-SkipAutodiscoverChecking -Log $D/cpuu-#D.log"
        echo "SrcExchServer=mail.src.test"
        echo "$logon"
        echo "LeaveTemporaryProfiles=0"
        echo
        if [ -z "${NO_AD:-}" ]; then
            echo "[AD]"
            echo "DCName=$(kv "$SLAPD/lab.env" LAB_LDAP_URI)"
            echo "DCAccount=$(kv "$SLAPD/lab.env" LAB_BIND_DN)"
            echo "DCPassword=$DC_ENC"
            echo
        fi
        echo "[SwitchMessage]"
        echo "MigrationAgentType=Contemporary"
        echo "Target=$target"
        echo "RecreateSwitchMsg=0"
        echo
        echo "[MailboxesSMTP]"
        printf '%s\n' "${ROOMS[@]}"
        if [ -n "${NO_AD:-}" ]; then
            echo
            echo "[TargetMailboxesSMTP]"
            printf '%s\n' "${TROOMS[@]}"
        fi
    } >"$D/SwitchResMB.ini"
    printf '[Parameters]\nFeatures=Delegates Rules\nSilent=1\nAutodiscoverSourceURL=%s/autodiscover/autodiscover.xml\nAutodiscoverTargetURL=%s/autodiscover/autodiscover.xml\n%s\n' \
        "$src_URL" "$tgt_URL" "$lines" >"$D/CPUU.ini"
    chmod 600 "$D/SwitchResMB.ini" "$D/CPUU.ini"
    SWITCHRESMB_PROFILE_DIR=$D/profiles timeout 300 "$BIN/switchresmb" --state-dir "$D/state" \
        --cpuu "$BIN/cpuu" "$D/SwitchResMB.ini" >"$D/out.txt" 2>&1   # CPUU.ini beside it
    RC=$?
    cat "$D"/cpuu-*.log >>"$D/all.txt" 2>/dev/null
    cat "$D/out.txt" >>"$D/all.txt"
}
CASE_N=0
says() { grep -qF -- "$1" "$D/all.txt"; }
switch_msgs() {  # how many switch messages the source simulator now holds
    curl -s --max-time 10 --cacert "$W/ca.pem" "$src_URL/_sim/state" | grep -o 'IPM.Note.SwitchResMb.SwitchMessage' | wc -l
}

export SWITCHRESMB_CA_FILE=$W/ca.pem

# ---- 1. NTLM-only source (DOMAIN\user against the DC's hash), NTLM target ----------
echo "--- 1: NTLM-only source with $NETBIOS\\admin"
start_exsim src "$W/src.xml" "$W/cert.pem" "$W/key.pem" --www-auth ntlm \
    --ntlm-hashes "$(kv "$SAMBA/logon.env" LOGON_NTLM_HASHES)" &&
start_exsim tgt "$W/tgt.xml" "$W/cert.pem" "$W/key.pem" --www-auth ntlm
run_chain ntlm LogonNetworkSecurityWinnt=1 Exchange \
    "Admin=$NETBIOS\\admin
Password=$DCPW_ENC
AdminTrg=admin@tgt.test
PasswordTrg=$TGT_ENC"
check "NTLM-only source: exit 0" [ "$RC" = 0 ]
check "... the source accepted NTLM as admin" grep -q 'NTLM: accepted as admin' "$W/src.log"
check "... switch messages written" [ "$(switch_msgs)" -ge 1 ]
stop_exsims

NTLM_TGT="AdminTrg=admin@tgt.test
PasswordTrg=$TGT_ENC"

# ---- 2. Kerberos-only source: svc-migr's client keytab, no password anywhere ---------
echo "--- 2: Kerberos-only source (client keytab of svc-migr)"
start_exsim src "$W/src.xml" "$W/cert.pem" "$W/key.pem" --www-auth negotiate \
    --keytab "$(kv "$SAMBA/logon.env" LOGON_HTTP_KEYTAB)" &&
start_exsim tgt "$W/tgt.xml" "$W/cert.pem" "$W/key.pem" --www-auth ntlm
KRB5_CLIENT_KTNAME=$(kv "$SAMBA/logon.env" LOGON_SVC_KEYTAB) KRB5CCNAME=FILE:$W/svc.cc \
    run_chain kerberos LogonNetworkSecurityKerberos=1 Exchange "$NTLM_TGT"
check "Kerberos-only source: exit 0" [ "$RC" = 0 ]
check "... the source accepted Kerberos as svc-migr" grep -q 'Negotiate: accepted as svc-migr' "$W/src.log"
check "... no password for the source in CPUU.ini" bash -c "! grep -q '^Password=' '$D/CPUU.ini'"
check "... switch messages written" [ "$(switch_msgs)" -ge 1 ]
stop_exsims

# ---- 3. Office 365 targets: app-only OAuth2 by secret, by certificate ----------------
export SWITCHRESMB_ALLOW_HTTP=1          # glewlwyd's token endpoint is plain http on loopback
CID=$(kv "$E" ENTRA_CLIENT_ID); TOKEN_URL=$(kv "$E" ENTRA_TOKEN_URL)
SECRET_ENC=$(encrypt <"$(kv "$E" ENTRA_SECRET_FILE)")
NOROLE_ENC=$(encrypt <"$(kv "$E" ENTRA_NOROLE_SECRET_FILE)")
NTLM_SRC="Admin=$NETBIOS\\admin
Password=$DCPW_ENC"
JWT_OPTS=(--www-auth bearer --jwks "$(kv "$E" ENTRA_JWKS_URL)" --jwt-issuer "$(kv "$E" ENTRA_ISSUER)")
o365() {  # NAME CPUU_LINES [exsim options for the target...]
    local name=$1 lines=$2; shift 2
    start_exsim src "$W/src.xml" "$W/cert.pem" "$W/key.pem" --www-auth ntlm \
        --ntlm-hashes "$(kv "$SAMBA/logon.env" LOGON_NTLM_HASHES)" &&
    start_exsim tgt "$W/tgt.xml" "$W/cert.pem" "$W/key.pem" "${JWT_OPTS[@]}" "$@"
    run_chain "$name" LogonNetworkSecurityWinnt=1 O365 "$NTLM_SRC
$lines"
}
echo "--- 3: Office 365 target, client secret"
o365 o365secret "ClientId=$CID
ClientSecret=$SECRET_ENC
TokenURL=$TOKEN_URL"
check "O365 target with a client secret: exit 0" [ "$RC" = 0 ]
check "... the target accepted the token" grep -q 'Bearer: accepted as admin' "$W/tgt.log"
stop_exsims
echo "--- 3b: Office 365 target, certificate"
o365 o365cert "ClientId=$CID
ClientCertificate=$(kv "$E" ENTRA_CLIENT_CERT)
ClientCertificateKey=$(kv "$E" ENTRA_CLIENT_KEY)
TokenURL=$TOKEN_URL"
check "O365 target with a certificate: exit 0" [ "$RC" = 0 ]
check "... the target accepted the token" grep -q 'Bearer: accepted as admin' "$W/tgt.log"
check "... no client secret in CPUU.ini" bash -c "! grep -q '^ClientSecret=' '$D/CPUU.ini'"
stop_exsims

# ---- 3c. the guide's third example: Office 365 target, no [AD] --------------------
echo "--- 3c: the guide's O365 example without [AD] (source: Negotiate offered, NTLM used)"
start_exsim src "$W/src-nr.xml" "$W/cert.pem" "$W/key.pem" --www-auth negotiate,ntlm \
    --keytab "$(kv "$SAMBA/logon.env" LOGON_HTTP_KEYTAB)" \
    --ntlm-hashes "$(kv "$SAMBA/logon.env" LOGON_NTLM_HASHES)" &&
start_exsim tgt "$W/tgt.xml" "$W/cert.pem" "$W/key.pem" "${JWT_OPTS[@]}"
# no Kerberos ticket: Negotiate falls back to NTLM with Admin/Password, as the issue asks
NO_AD=1 KRB5CCNAME=FILE:$W/empty.cc run_chain noad "" O365 "$NTLM_SRC
ClientId=$CID
ClientSecret=$SECRET_ENC
TokenURL=$TOKEN_URL"
check "O365 example without [AD]: exit 0" [ "$RC" = 0 ]
check "... no [AD] in SwitchResMB.ini" bash -c "! grep -q '^\[AD\]' '$D/SwitchResMB.ini'"
check "... the source accepted NTLM after Negotiate had no ticket" grep -q 'NTLM: accepted as admin' "$W/src.log"
check "... the target accepted the token" grep -q 'Bearer: accepted as admin' "$W/tgt.log"
check "... switch messages written" [ "$(switch_msgs)" -ge 1 ]
stop_exsims

# ---- 4. refusals: the spec's exit code (1: the mailbox failed) and the cause named ---
refused() {  # WHAT TEXT...: exit 1 and every TEXT in the run's output
    local what=$1 t; shift
    check "$what: exit 1" [ "$RC" = 1 ]
    for t in "$@"; do check "$what: the message says \"$t\"" says "$t"; done
}
echo "--- 4: refusals"
start_exsim src "$W/src.xml" "$W/cert.pem" "$W/key.pem" --www-auth ntlm \
    --ntlm-hashes "$(kv "$SAMBA/logon.env" LOGON_NTLM_HASHES)" &&
start_exsim tgt "$W/tgt.xml" "$W/cert.pem" "$W/key.pem" --www-auth ntlm
run_chain wrongpw LogonNetworkSecurityWinnt=1 Exchange "Admin=$NETBIOS\\admin
Password=$(printf 'Wrong-%s' "$DC_PW" | encrypt)
$NTLM_TGT"
refused "wrong password" "401" "NTLM as $NETBIOS\\admin"
stop_exsims

o365 expired "ClientId=$CID
ClientSecret=$SECRET_ENC
TokenURL=$TOKEN_URL" --clock-offset 7200
refused "expired token" "401" "expired"
stop_exsims
o365 audience "ClientId=$CID
ClientSecret=$SECRET_ENC
TokenURL=$TOKEN_URL
ResourceURL=https://graph.microsoft.com"
refused "token for another audience" "401" "audience"
stop_exsims
o365 norole "ClientId=$(kv "$E" ENTRA_NOROLE_CLIENT_ID)
ClientSecret=$NOROLE_ENC
TokenURL=$TOKEN_URL"
refused "token without full_access_as_app" "401" "full_access_as_app"
stop_exsims

start_exsim src "$W/src.xml" "$W/bad.pem" "$W/bad.key" --www-auth ntlm \
    --ntlm-hashes "$(kv "$SAMBA/logon.env" LOGON_NTLM_HASHES)" &&
start_exsim tgt "$W/tgt.xml" "$W/cert.pem" "$W/key.pem" --www-auth ntlm
run_chain untrusted LogonNetworkSecurityWinnt=1 Exchange "$NTLM_SRC
$NTLM_TGT"
refused "untrusted TLS certificate" "certificate is not trusted"
stop_exsims

# ---- 5. no secret or token in any log or output ------------------------------------
leaks=""
secrets=("$DC_PW" "$TGT_PW" "$(cat "$(kv "$E" ENTRA_SECRET_FILE)")" "$(cat "$(kv "$E" ENTRA_NOROLE_SECRET_FILE)")"
         "$(cat "$SLAPD/password")" "$(cut -d: -f2 "$(kv "$SAMBA/logon.env" LOGON_NTLM_HASHES)" | head -n 1)")
# the logs, the reports, the run journal (SQLite file and its WAL) and every
# other file a run leaves in its state directory and profile store
nfiles=0
while IFS= read -r -d '' f; do
    nfiles=$((nfiles + 1))
    for s in "${secrets[@]}"; do [ -n "$s" ] && grep -aqF -- "$s" "$f" && leaks="$leaks $f"; done
    grep -aqE 'eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.' "$f" && leaks="$leaks $f(JWT)"
done < <(find "$W" -maxdepth 1 -name '*.log' -type f -print0;
         find "$W"/*/ \( -name all.txt -o -path '*/state/*' -o -path '*/profiles/*' \) -type f -print0 2>/dev/null)
check "the secret grep read the journals too ($nfiles files)" \
    bash -c "ls '$W'/*/state/*.journal >/dev/null 2>&1"
check "no password, secret, NT hash or token in the logs, reports, journals and profiles${leaks:+:$leaks}" [ -z "$leaks" ]
if command -v journalctl >/dev/null 2>&1 && journalctl -q -n 1 >/dev/null 2>&1; then
    jl=$(journalctl -q --since "-15min" 2>/dev/null)
    jleak=""
    for s in "${secrets[@]}"; do [ -n "$s" ] && printf '%s' "$jl" | grep -qF -- "$s" && jleak=1; done
    printf '%s' "$jl" | grep -qE 'eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.' && jleak=1
    check "no password, secret or token in the journal" [ -z "$jleak" ]
else
    echo "note: no systemd journal on this machine; the programs log to stdout/stderr, checked above"
fi

finish
