#!/usr/bin/env bash
# exsim_logon.sh — the simulator accepts real logons, and only those it offers:
#   A. NTLMv2 against the seed's passwords (DOMAIN\user, case, UPN), Basic
#      only when offered, Negotiate without a keytab refused, exact 401
#      challenges, RS256 JWTs against a JWKS file (roles string/array, aud,
#      iss, exp, nbf, alg, kid), and TLS with the test's own CA;
#   B. the Samba AD lab (tests/lab/samba-lab.sh + samba-logon.sh): Kerberos
#      with the admin's ticket and with a service account's client keytab,
#      a principal the org does not know, no ticket; NTLM against the NT
#      hashes read from the DC;
#   C. glewlwyd as Entra ID (tests/lab/entra-lab.sh): tokens by secret and by
#      certificate accepted; another audience, no full_access_as_app role,
#      expired (the simulator's clock ahead) and a forged signature refused,
#      each with an x-ms-diagnostics header naming the cause;
#   and the simulator's log holds no password, hash or token.
# Everything on 127.0.0.1; servers stopped by PID.  Ends "N passed, N failed".
set -u
ROOT=${SR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${SR_BIN:-$ROOT/bin}
PY=/usr/bin/python3
EXSIM=$BIN/exsim
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() {  # DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

T=$(mktemp -d /tmp/exsim-logon.XXXXXX)
chmod 700 "$T"
PIDS=()
LAB=""; ENTRA=""
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
    [ -n "$ENTRA" ] && "$ROOT/tests/lab/entra-lab.sh" stop "$ENTRA" >/dev/null 2>&1
    [ -n "$LAB" ] && "$ROOT/tests/lab/samba-lab.sh" stop "$LAB" >/dev/null 2>&1
    [ -n "${EXSIM_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

[ -x "$EXSIM" ] || { bad "bin/exsim missing (make)"; echo "$pass passed, $fail failed"; exit 1; }

# ---- fixtures ----------------------------------------------------------------
"$PY" "$ROOT/tests/lab/orggen.py" --users 2 --rooms 1 --seed 9 -o "$T/org.json" >/dev/null &&
"$PY" "$ROOT/tests/exsim/seedgen.py" --org "$T/org.json" --side source -o "$T/src.xml" ||
    { bad "org/seed generation"; echo "$pass passed, $fail failed"; exit 1; }
# A service account for the Kerberos-only logon (its seed password is random and unused).
sed -i "s|\(<account name=\"admin\"[^>]*/>\)|\1<account name=\"svc-migr\" upn=\"svc-migr@src.test\" password=\"$(openssl rand -hex 16)\" full-access=\"1\" impersonation=\"1\"/>|" "$T/src.xml"
ADMIN_PW=$(sed -n 's/.*<account name="admin"[^>]*password="\([^"]*\)".*/\1/p' "$T/src.xml" | head -n 1)
MBX=$(sed -n 's/.*<mailbox smtp="\([^"]*\)".*/\1/p' "$T/src.xml" | head -n 1)
HOST=mail.src.test

# TLS: our own CA and a certificate for the front-end names
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/ca.key" \
    -out "$T/ca.pem" -days 2 -subj "/CN=exsim logon test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/key.pem" \
    -out "$T/srv.csr" -subj "/CN=$HOST" >/dev/null 2>&1 &&
printf 'subjectAltName=DNS:%s,DNS:autodiscover.src.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$HOST" >"$T/ext.cnf" &&
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
    -extfile "$T/ext.cnf" -out "$T/cert.pem" >/dev/null 2>&1 || bad "test CA"

# Start an exsim over TLS with extra options; sets PORT, LOG.  Name = log file.
start_exsim() {  # NAME OPTIONS...
    local name=$1; shift
    rm -f "$T/$name.port"
    LOG=$T/$name.log
    "$EXSIM" --seed "$T/src.xml" --port 0 --port-file "$T/$name.port" \
        --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$@" >"$T/$name.out" 2>"$LOG" &
    PIDS+=($!)
    local i
    for i in $(seq 1 100); do [ -s "$T/$name.port" ] && break; kill -0 $! 2>/dev/null || break; sleep 0.05; done
    PORT=$(cat "$T/$name.port" 2>/dev/null)
    [ -n "$PORT" ] || { bad "exsim $name did not start: $(tail -n 3 "$LOG")"; return 1; }
}
stop_last() { local p=${PIDS[-1]}; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; unset 'PIDS[-1]'; }

AD_BODY="<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>$MBX</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"
# POST Autodiscover through curl; prints "STATUS" then headers/body to $T/last.*
ad() {  # curl options...
    curl -s --max-time 20 --cacert "$T/ca.pem" --resolve "$HOST:$PORT:127.0.0.1" \
        -H 'Content-Type: text/xml' --data-binary "$AD_BODY" -D "$T/last.hdr" -o "$T/last.body" \
        -w '%{http_code}' "$@" "https://$HOST:$PORT/autodiscover/autodiscover.xml"
}
# The logon worked: 200 with Autodiscover's answer for the mailbox.
ad_ok() { [ "$(ad "$@")" = 200 ] && grep -q 'outlook/responseschema/2006a' "$T/last.body"; }
ad_401() { [ "$(ad "$@")" = 401 ]; }
challenges() { grep -i '^WWW-Authenticate:' "$T/last.hdr" | tr -d '\r' | sed 's/^[^:]*: //' | cut -d' ' -f1 | sort | tr '\n' ' '; }
diag_has() { grep -i '^x-ms-diagnostics:' "$T/last.hdr" | grep -q "$1"; }

# ---- A. no external server ---------------------------------------------------
echo "--- A: NTLM (seed passwords), offers, JWT against a JWKS file, TLS"
if start_exsim ntlm --www-auth ntlm; then
    check "401 without credentials" ad_401
    check "the 401 offers exactly NTLM" [ "$(challenges)" = "NTLM " ]
    check "NTLM SRC\\admin with the seed password" ad_ok --ntlm -u "SRC\\admin:$ADMIN_PW"
    check "NTLM src\\ADMIN (names are case-insensitive)" ad_ok --ntlm -u "src\\ADMIN:$ADMIN_PW"
    check "NTLM with the UPN admin@src.test" ad_ok --ntlm -u "admin@src.test:$ADMIN_PW"
    check "NTLM with the DNS domain src.test\\admin" ad_ok --ntlm -u "src.test\\admin:$ADMIN_PW"
    check "NTLM wrong password refused" ad_401 --ntlm -u "SRC\\admin:x$ADMIN_PW"
    check "... and the log names the cause" grep -q 'NTLM: SRC\\admin: wrong password' "$LOG"
    check "NTLM unknown domain refused" ad_401 --ntlm -u "OTHER\\admin:$ADMIN_PW"
    # a second client: requests_ntlm (python3-exchangelib's NTLM) negotiates Unicode strings,
    # where libcurl sends OEM ones; it takes the NT hash as "LM:NT" (Python's hashlib has no MD4)
    NT=$(printf '%s' "$ADMIN_PW" | iconv -t UTF-16LE | openssl dgst -md4 -provider legacy -r | cut -d' ' -f1)
    check "NTLM from requests_ntlm (Unicode): right hash 200, wrong hash 401" bash -c '
        [ "$(NT="'"$NT"'" URL="https://127.0.0.1:'"$PORT"'/autodiscover/autodiscover.xml" CA="'"$T/ca.pem"'" \
             BODY="$1" /usr/bin/python3 - <<"PYEOF"
import os, requests
from requests_ntlm import HttpNtlmAuth
z = "0" * 32
for pw in (z + ":" + os.environ["NT"], z + ":" + "1" * 32):
    r = requests.post(os.environ["URL"], data=os.environ["BODY"], verify=os.environ["CA"],
                      auth=HttpNtlmAuth("SRC\\admin", pw), headers={"Content-Type": "text/xml"},
                      proxies={"http": None, "https": None})
    print(r.status_code, end=" ")
PYEOF
        )" = "200 401 " ]' _ "$AD_BODY"
    check "Basic is refused when not offered" ad_401 --basic -u "admin:$ADMIN_PW"
    check "... the log says so" grep -q "scheme 'Basic' not offered" "$LOG"
    check "without our CA the certificate is not trusted" \
        bash -c "curl -s --max-time 10 --resolve '$HOST:$PORT:127.0.0.1' -o /dev/null https://$HOST:$PORT/ ; [ \$? = 60 ]"
    stop_last
fi
if start_exsim nokeytab --www-auth negotiate,basic; then
    check "the 401 offers Negotiate and Basic" [ "$(ad >/dev/null; challenges)" = "Basic Negotiate " ]
    check "Negotiate without a keytab is refused" ad_401 -H 'Authorization: Negotiate YIIBAA=='
    check "... the log says why" grep -q 'no keytab' "$LOG"
    check "Basic works when offered" ad_ok --basic -u "SRC\\admin:$ADMIN_PW"
    check "NTLM is refused when not offered" ad_401 --ntlm -u "SRC\\admin:$ADMIN_PW"
    stop_last
fi

# JWTs signed by a key of our own, its JWKS in a file
"$PY" - "$T" <<'PYEOF' || bad "JWKS fixture"
import json, sys, time, jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
d = sys.argv[1]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
jwk.update(kid="k1", use="sig", alg="RS256")
json.dump({"keys": [jwk]}, open(d + "/jwks.json", "w"))
now = int(time.time())
ISS = "https://sts.windows.net/t1/"
AUD = "https://outlook.office365.com"
base = {"iss": ISS, "aud": AUD, "iat": now, "nbf": now, "exp": now + 3600,
        "roles": ["full_access_as_app"], "appid": "app-1"}
def tok(name, k=key, kid="k1", alg="RS256", **kw):
    c = dict(base); c.update(kw)
    c = {a: b for a, b in c.items() if b is not None}
    t = jwt.encode(c, k if alg.startswith("RS") else "secret", algorithm=alg, headers={"kid": kid})
    open("%s/jwt.%s" % (d, name), "w").write(t)
tok("array")
tok("string", roles="Mail.ReadWrite,full_access_as_app")
tok("audlist", aud=["https://example.invalid", AUD])
tok("norole", roles="Mail.ReadWrite")
tok("noroles", roles=None)
tok("graph", aud="https://graph.microsoft.com")
tok("issuer", iss="https://sts.windows.net/other/")
tok("expired", iat=now - 7200, nbf=now - 7200, exp=now - 3600)
tok("future", nbf=now + 3600, exp=now + 7200)
tok("otherkey", k=other)
tok("unknownkid", kid="k2")
tok("hs256", alg="HS256")
PYEOF
bearer() { ad -H "Authorization: Bearer $(cat "$T/jwt.$1")"; }
bearer_ok() { [ "$(bearer "$1")" = 200 ] && grep -q 'outlook/responseschema/2006a' "$T/last.body"; }
bearer_refused() {  # NAME DIAG-TEXT
    [ "$(bearer "$1")" = 401 ] && diag_has "$2" && grep -qi '^WWW-Authenticate: Bearer .*error="invalid_token"' "$T/last.hdr"
}
if start_exsim jwtfile --www-auth bearer --jwks "$T/jwks.json" --jwt-issuer https://sts.windows.net/t1/; then
    check "JWT with roles as an array" bearer_ok array
    check "JWT with roles as a comma-joined string" bearer_ok string
    check "JWT with aud as a list" bearer_ok audlist
    check "JWT without full_access_as_app refused (2000008)" bearer_refused norole 2000008
    check "JWT without roles refused" bearer_refused noroles 'no permission'
    check "JWT for Graph refused: audience" bearer_refused graph 'audience claim value is invalid'
    check "JWT of another issuer refused" bearer_refused issuer 'issuer'
    check "expired JWT refused" bearer_refused expired 'expired'
    check "JWT not valid yet refused" bearer_refused future 'not valid yet'
    check "JWT signed by another key refused" bearer_refused otherkey 'signature is invalid'
    check "JWT with an unknown kid refused" bearer_refused unknownkid 'signing key'
    check "HS256 JWT refused" bearer_refused hs256 'RS256'
    check "the seed's opaque token is refused when JWTs are required" \
        [ "$(ad -H "Authorization: Bearer $(sed -n 's/.*<account name="admin"[^>]*token="\([^"]*\)".*/\1/p' "$T/src.xml")")" = 401 ]
    check "the 401 offers exactly Bearer" [ "$(ad >/dev/null; challenges)" = "Bearer " ]
    stop_last
fi

# ---- B. Samba AD lab: Kerberos and NTLM against the DC ------------------------
echo "--- B: Samba AD DC: Kerberos (ticket, service keytab), NTLM (NT hashes from the DC)"
LAB=$T/lab
if ! "$ROOT/tests/lab/samba-lab.sh" start "$LAB" "$T/org.json" >"$T/lab.start" 2>&1; then
    bad "Samba lab start: $(tail -n 3 "$T/lab.start")"; LAB_OK=0
elif ! "$ROOT/tests/lab/samba-logon.sh" "$LAB" >"$T/logon.start" 2>&1; then
    bad "samba-logon.sh: $(tail -n 3 "$T/logon.start")"; LAB_OK=0
else
    LAB_OK=1
fi
if [ $LAB_OK = 1 ]; then
    kvs() { sed -n "s/^$2=//p" "$1" | head -n 1; }
    export KRB5_CONFIG=$(kvs "$LAB/lab.env" LAB_KRB5_CONFIG)
    LAB_CC=$(kvs "$LAB/lab.env" LAB_KRB5CCNAME)
    LAB_PW=$(kvs "$LAB/lab.env" LAB_PASSWORD)
    SVC_KT=$(kvs "$LAB/logon.env" LOGON_SVC_KEYTAB)
    SVC_P=$(kvs "$LAB/logon.env" LOGON_SVC_PRINCIPAL)
    HTTP_KT=$(kvs "$LAB/logon.env" LOGON_HTTP_KEYTAB)
    HASHES=$(kvs "$LAB/logon.env" LOGON_NTLM_HASHES)
    check "the HTTP keytab holds AES keys for HTTP/$HOST" \
        bash -c "klist -k -e '$HTTP_KT' | grep 'HTTP/$HOST@' | grep -q aes256"
    check "the NT hashes file is private" [ "$(stat -c %a "$HASHES")" = 600 ]
    if start_exsim krb --www-auth negotiate,ntlm --keytab "$HTTP_KT" --ntlm-hashes "$HASHES"; then
        check "the 401 offers Negotiate and NTLM" [ "$(ad >/dev/null; challenges)" = "NTLM Negotiate " ]
        check "Kerberos: the admin's ticket" env KRB5CCNAME="$LAB_CC" bash -c "$(declare -f ad ad_ok); T='$T' PORT=$PORT HOST=$HOST AD_BODY='$AD_BODY' ad_ok --negotiate -u :"
        check "... accepted as admin" grep -q 'Negotiate: accepted as admin' "$LOG"
        check "... with a mutual-auth token on the 200" grep -qi '^WWW-Authenticate: Negotiate ' "$T/last.hdr"
        check "service account: kinit from its client keytab (no password)" \
            env KRB5CCNAME="FILE:$T/svc.cc" kinit -k -t "$SVC_KT" "$SVC_P"
        check "Kerberos: the service account's ticket" env KRB5CCNAME="FILE:$T/svc.cc" bash -c "$(declare -f ad ad_ok); T='$T' PORT=$PORT HOST=$HOST AD_BODY='$AD_BODY' ad_ok --negotiate -u :"
        check "... accepted as svc-migr" grep -q 'Negotiate: accepted as svc-migr' "$LOG"
        check "no ticket: 401" env KRB5CCNAME="FILE:$T/none.cc" bash -c "$(declare -f ad ad_401); T='$T' PORT=$PORT HOST=$HOST AD_BODY='$AD_BODY' ad_401 --negotiate -u :"
        # a principal the KDC knows and the organisation does not: the web service account
        samba-tool domain exportkeytab "$T/websvc.keytab" --principal="websvc@SRC.TEST" \
            -s "$LAB/dc/etc/smb.conf" >/dev/null 2>&1
        check "kinit as websvc (known to the KDC only)" \
            env KRB5CCNAME="FILE:$T/http.cc" kinit -k -t "$T/websvc.keytab" websvc@SRC.TEST
        check "a principal unknown to the organisation: 401" env KRB5CCNAME="FILE:$T/http.cc" bash -c "$(declare -f ad ad_401); T='$T' PORT=$PORT HOST=$HOST AD_BODY='$AD_BODY' ad_401 --negotiate -u :"
        check "... the log names it" grep -q 'Negotiate: websvc@SRC.TEST: no such account' "$LOG"
        check "NTLM against the DC's hash: SRC\\admin" ad_ok --ntlm -u "SRC\\admin:$LAB_PW"
        check "NTLM against the DC's hash: UPN" ad_ok --ntlm -u "admin@src.test:$LAB_PW"
        check "NTLM wrong password: 401" ad_401 --ntlm -u "SRC\\admin:Wrong-$LAB_PW"
        check "NTLM for an account without a DC hash: 401" ad_401 --ntlm -u "SRC\\svc-migr:whatever"
        check "... the log names it" grep -q 'no NT hash for account svc-migr' "$LOG"
        stop_last
    fi
    unset KRB5_CONFIG
    "$ROOT/tests/lab/samba-lab.sh" stop "$LAB" >/dev/null 2>&1; LAB=""
fi

# ---- C. glewlwyd as Entra ID ----------------------------------------------------
echo "--- C: glewlwyd (Entra stand-in): app-only tokens by secret and certificate"
ENTRA=$T/entra
if ! "$ROOT/tests/lab/entra-lab.sh" start "$ENTRA" >"$T/entra.start" 2>&1; then
    bad "entra-lab start: $(tail -n 3 "$T/entra.start")"
else
    kvs() { sed -n "s/^$2=//p" "$1" | head -n 1; }
    E=$ENTRA/entra.env
    TOKEN_URL=$(kvs "$E" ENTRA_TOKEN_URL); CID=$(kvs "$E" ENTRA_CLIENT_ID)
    # client_credentials; the secret goes to curl through a 0600 config file, not argv
    token() {  # CLIENT_ID SECRET_FILE RESOURCE -> token on stdout
        printf 'user = "%s:%s"\n' "$1" "$(cat "$2")" >"$T/curl.cfg"
        curl -s --max-time 20 -K "$T/curl.cfg" -d grant_type=client_credentials \
            --data-urlencode "scope=$3/.default" --data-urlencode "resource=$3" "$TOKEN_URL" |
            "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
        rm -f "$T/curl.cfg"
    }
    token "$CID" "$(kvs "$E" ENTRA_SECRET_FILE)" https://outlook.office365.com >"$T/jwt.secret"
    token "$CID" "$(kvs "$E" ENTRA_SECRET_FILE)" https://graph.microsoft.com >"$T/jwt.entragraph"
    token "$(kvs "$E" ENTRA_NOROLE_CLIENT_ID)" "$(kvs "$E" ENTRA_NOROLE_SECRET_FILE)" \
        https://outlook.office365.com >"$T/jwt.entranorole"
    # the certificate credential: an RS256 client assertion with the x5t header (RFC 7523)
    "$PY" - "$CID" "$TOKEN_URL" "$(kvs "$E" ENTRA_CLIENT_KEY)" "$(kvs "$E" ENTRA_CLIENT_CERT)" >"$T/assertion" <<'PYEOF'
import base64, sys, time, uuid, jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
cid, aud, keyf, certf = sys.argv[1:5]
cert = x509.load_pem_x509_certificate(open(certf, "rb").read())
x5t = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=").decode()
now = int(time.time())
print(jwt.encode({"iss": cid, "sub": cid, "aud": aud, "jti": str(uuid.uuid4()),
                  "iat": now, "nbf": now, "exp": now + 300},
                 open(keyf).read(), algorithm="RS256", headers={"x5t": x5t}), end="")
PYEOF
    curl -s --max-time 20 -d grant_type=client_credentials -d client_id="$CID" \
        -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
        --data-urlencode "client_assertion@$T/assertion" \
        --data-urlencode scope=https://outlook.office365.com/.default \
        --data-urlencode resource=https://outlook.office365.com "$TOKEN_URL" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' >"$T/jwt.cert" 2>/dev/null
    for f in secret entragraph entranorole cert; do
        check "glewlwyd issued a token ($f)" grep -q '^ey.*\..*\.' "$T/jwt.$f"
    done
    JWT_OPTS=(--www-auth bearer --jwks "$(kvs "$E" ENTRA_JWKS_URL)" --jwt-issuer "$(kvs "$E" ENTRA_ISSUER)")
    if start_exsim entra "${JWT_OPTS[@]}"; then
        check "token by client secret accepted" bearer_ok secret
        check "token by certificate assertion accepted" bearer_ok cert
        check "token for Graph refused: audience" bearer_refused entragraph 'audience claim value is invalid'
        check "token without full_access_as_app refused" bearer_refused entranorole 2000008
        check "forged signature refused" bash -c "$(declare -f ad bearer bearer_refused diag_has); T='$T' PORT=$PORT HOST=$HOST AD_BODY='$AD_BODY'; t=\$(cat '$T/jwt.secret'); echo \"\${t%??}AA\" >'$T/jwt.forged'; bearer_refused forged 'signature'"
        stop_last
    fi
    if start_exsim entralate "${JWT_OPTS[@]}" --clock-offset 7200; then
        check "token refused once expired (clock 2 h ahead)" bearer_refused secret 'The token has expired'
        stop_last
    fi
    "$ROOT/tests/lab/entra-lab.sh" stop "$ENTRA" >/dev/null 2>&1; ENTRA=""
fi

# ---- the logs hold no secret -----------------------------------------------------
leaks=""
for f in "$T"/*.log; do
    [ -e "$f" ] || continue
    for s in "$ADMIN_PW" ${LAB_PW:+"$LAB_PW"}; do grep -qF -- "$s" "$f" && leaks="$leaks $f(password)"; done
    for j in "$T"/jwt.*; do
        sig=$(cut -s -d. -f3 "$j")
        [ -n "$sig" ] && grep -qF -- "$sig" "$f" && leaks="$leaks $f($(basename "$j"))"
    done
    [ -n "${HASHES:-}" ] && [ -r "$HASHES" ] && grep -qF -- "$(cut -d: -f2 "$HASHES" | head -n 1)" "$f" && leaks="$leaks $f(NT hash)"
done
check "no password, NT hash or token in the simulator's logs${leaks:+:$leaks}" [ -z "$leaks" ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
