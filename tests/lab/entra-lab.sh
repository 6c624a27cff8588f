#!/usr/bin/env bash
# entra-lab.sh — a real OAuth2 server standing in for Microsoft Entra ID
# (Debian's glewlwyd 2.7.5, SQLite), on 127.0.0.1 and a free port, for the
# app-only (client credentials) logon Exchange Online requires.
#
#   tests/lab/entra-lab.sh start DIR     # keys, database, glewlwyd; writes DIR/entra.env
#   tests/lab/entra-lab.sh stop DIR      # stop by PID, bounded wait
#
# What it sets up (nothing outside DIR is touched):
#   - the server's RS256 signing key (its JWKS: $ENTRA_JWKS_URL);
#   - confidential client ENTRA_CLIENT_ID ("the migration app") that may log on
#     with its secret (Basic or POST) or, as Microsoft recommends, with a
#     certificate: an RS256 private_key_jwt assertion (ENTRA_CLIENT_CERT/KEY,
#     a self-signed certificate, the key 0600);
#   - its application permissions as the token's roles: full_access_as_app
#     (EWS) and the Graph ones an Exchange Online target needs;
#   - a second client, ENTRA_NOROLE_CLIENT_ID, with the same kind of secret
#     but without full_access_as_app (Mail.ReadWrite only): the "consent
#     missing" case;
#   - a third, ENTRA_GRAPH_CLIENT_ID (secret in ENTRA_GRAPH_SECRET_FILE), with
#     exactly the Graph application permissions docs/graph.md asks for and
#     no EWS one: a tenant that moved to Graph;
#   - two audiences: EWS (https://outlook.office365.com) and Graph
#     (https://graph.microsoft.com); the client sends scope=<res>/.default and
#     resource=<res> (glewlwyd sets aud from resource=; Entra from either).
# Issuer: https://sts.windows.net/<tenant>/ (Entra's v1 form).
#
# DIR/entra.env (0600, KEY=VALUE lines): ENTRA_PID ENTRA_PORT ENTRA_TOKEN_URL
# ENTRA_JWKS_URL ENTRA_ISSUER ENTRA_TENANT ENTRA_CLIENT_ID ENTRA_SECRET_FILE
# ENTRA_CLIENT_CERT ENTRA_CLIENT_KEY ENTRA_NOROLE_CLIENT_ID ENTRA_NOROLE_SECRET_FILE
# ENTRA_GRAPH_CLIENT_ID ENTRA_GRAPH_SECRET_FILE
# ENTRA_EWS_RESOURCE ENTRA_GRAPH_RESOURCE.  Secrets live in 0600 files only.
#
# Where glewlwyd differs from Entra (clients must not depend on it): roles is a
# comma-joined string (Entra: an array), errors are a bare 403 (Entra: JSON
# error/error_description), the token URL is /api/<plugin>/token (so clients
# must take the token endpoint as a whole URL), typ is at+jwt.
# Pitfalls (see ../shared/labs/oauth-entra-standin.md): never write
# use_secure_connection in glewlwyd.conf; private_key_jwt needs
# request-parameter-allow; extra client properties need the client module's
# data-format; settings go into SQLite before the start.
# Needs: glewlwyd sqlite3 openssl curl (Debian).  The packaged instance
# (port 4593, started by the package where systemd runs) is not used.
set -u
PY=/usr/bin/python3
PLUGIN=oauth2
TENANT=11111111-2222-3333-4444-555555555555
CLIENT_ID=00000000-aaaa-bbbb-cccc-000000000001
NOROLE_ID=00000000-aaaa-bbbb-cccc-000000000002
GRAPH_ID=00000000-aaaa-bbbb-cccc-000000000003
RES=https://outlook.office365.com
GRES=https://graph.microsoft.com

die() { echo "entra-lab: $*" >&2; exit 1; }

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

preflight() {
    local c missing=""
    for c in glewlwyd sqlite3 openssl curl; do command -v "$c" >/dev/null || missing="$missing $c"; done
    [ -r /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz ] || missing="$missing glewlwyd(schema)"
    [ -z "$missing" ] || die "start: missing:$missing (Debian packages glewlwyd sqlite3 openssl curl)"
}

make_keys() {  # DIR
    local d=$1
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/as_key.pem" 2>/dev/null &&
    openssl pkey -in "$d/as_key.pem" -pubout -out "$d/as_pub.pem" 2>/dev/null &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/client_key.pem" -out "$d/client_cert.pem" \
        -days 2 -subj "/CN=switchresmb app-only test" 2>/dev/null &&
    openssl x509 -in "$d/client_cert.pem" -pubkey -noout >"$d/client_pub.pem" &&
    chmod 600 "$d/as_key.pem" "$d/client_key.pem"
}

write_conf() {  # DIR PORT
    # No use_secure_connection line: any value makes glewlwyd demand TLS files.
    cat >"$1/glewlwyd.conf" <<EOF
port=$2
bind_address="127.0.0.1"
external_url="http://127.0.0.1:$2"
api_prefix="api"
log_mode="file"
log_level="INFO"
log_file="$1/glewlwyd.log"
cookie_secure=0
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3"; path = "$1/glewlwyd.db"; };
EOF
}

# The OIDC plugin's parameters (JSON), the signing key read from DIR.
plugin_params() {  # DIR
    "$PY" - "$1" "$TENANT" "$RES" "$GRES" <<'PYEOF'
import json, sys
d, tenant, res, gres = sys.argv[1:5]
print(json.dumps({
    "iss": "https://sts.windows.net/%s/" % tenant,
    "jwt-type": "rsa", "jwt-key-size": "256",
    "key": open(d + "/as_key.pem").read(), "cert": open(d + "/as_pub.pem").read(),
    "jwks-show": True, "access-token-duration": 3600, "refresh-token-duration": 3600,
    "code-duration": 600, "refresh-token-rolling": False, "allow-non-oidc": True,
    "auth-type-client-enabled": True, "auth-type-code-enabled": False,
    "auth-type-token-enabled": False, "auth-type-none-enabled": False,
    "auth-type-password-enabled": False, "auth-type-refresh-enabled": False,
    "auth-type-device-enabled": False,
    "request-parameter-allow": True,
    "client-pubkey-parameter": "pubkey", "client-jwks-parameter": "jwks", "request-maximum-exp": 3600,
    "resource-allowed": True,
    "resource-scope": {res + "/.default": [res], gres + "/.default": [gres]},
    "resource-client-property": "resource", "resource-scope-and-client-property": False,
    "additional-parameters": [
        {"client-parameter": "roles", "token-parameter": "roles"},
        {"client-parameter": "tid", "token-parameter": "tid"},
        {"client-parameter": "client_id", "token-parameter": "appid"}]}))
PYEOF
}

# SQL for one confidential client: id, name, secret, roles (space-separated).
client_sql() {  # ID NAME SECRET ROLES
    local id=$1 name=$2 secret=$3 r rows=""
    for r in $4; do rows="$rows UNION ALL SELECT 'roles', '$r'"; done
    cat <<EOF
INSERT INTO g_client (gc_client_id, gc_name, gc_confidential, gc_enabled) VALUES ('$id', '$name', 1, 1);
INSERT INTO g_client_scope_client (gc_id, gcs_id)
  SELECT (SELECT gc_id FROM g_client WHERE gc_client_id='$id'), gcs_id FROM g_client_scope;
INSERT INTO g_client_property (gc_id, gcp_name, gcp_value)
  SELECT (SELECT gc_id FROM g_client WHERE gc_client_id='$id'), n, v FROM (
    SELECT 'client_secret' n, '$secret' v UNION ALL SELECT 'authorization_type', 'client_credentials'
    UNION ALL SELECT 'token_endpoint_auth_method', 'client_secret_basic'
    UNION ALL SELECT 'token_endpoint_auth_method', 'client_secret_post'
    UNION ALL SELECT 'token_endpoint_auth_method', 'private_key_jwt'
    UNION ALL SELECT 'token_endpoint_signing_alg', 'RS256'
    UNION ALL SELECT 'pubkey', readfile('client_pub.pem')
    UNION ALL SELECT 'resource', '$RES' UNION ALL SELECT 'resource', '$GRES'
    UNION ALL SELECT 'tid', '$TENANT' $rows);
EOF
}

seed_db() {  # DIR SECRET NOROLE_SECRET GRAPH_SECRET
    local d=$1
    zcat /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz | sqlite3 "$d/glewlwyd.db" || return 1
    plugin_params "$d" >"$d/oidc-params.json" || return 1
    (cd "$d" && sqlite3 glewlwyd.db) <<EOF
UPDATE g_client_module_instance SET gcmi_parameters = json_set(gcmi_parameters,
  '\$."data-format".roles', json('{"multiple":true,"read":true,"write":true}'),
  '\$."data-format".tid',   json('{"multiple":false,"read":true,"write":true}')) WHERE gcmi_name='database';
INSERT INTO g_plugin_module_instance (gpmi_module, gpmi_name, gpmi_display_name, gpmi_parameters)
  VALUES ('oidc', '$PLUGIN', 'Entra stand-in', readfile('oidc-params.json'));
INSERT INTO g_client_scope (gcs_name) VALUES ('$RES/.default');
INSERT INTO g_client_scope (gcs_name) VALUES ('$GRES/.default');
$(client_sql "$CLIENT_ID" migration-app "$2" "full_access_as_app User.Read.All Mail.ReadWrite MailboxSettings.ReadWrite Calendars.ReadWrite Contacts.ReadWrite MailboxConfigItem.ReadWrite")
$(client_sql "$NOROLE_ID" no-consent-app "$3" "Mail.ReadWrite")
$(client_sql "$GRAPH_ID" graph-only-app "$4" "User.Read.All MailboxSettings.ReadWrite Calendars.ReadWrite Mail.ReadBasic.All Mail.ReadWrite Contacts.ReadWrite MailboxConfigItem.ReadWrite")
EOF
}

start() {  # DIR
    local d=$1
    preflight
    mkdir -p "$d" && chmod 700 "$d" || die "start: cannot create $d"
    d=$(cd "$d" && pwd)
    [ -e "$d/glewlwyd.pid" ] && die "start: $d already holds a stand-in (glewlwyd.pid exists)"
    umask 077
    trap 'stop "$d" >/dev/null 2>&1' EXIT
    rm -f "$d/glewlwyd.db" "$d/glewlwyd.log"
    local secret norole gsecret port
    secret="S1-$(openssl rand -hex 16)"; norole="S2-$(openssl rand -hex 16)"; gsecret="S3-$(openssl rand -hex 16)"
    printf '%s' "$secret" >"$d/client_secret"; printf '%s' "$norole" >"$d/norole_secret"
    printf '%s' "$gsecret" >"$d/graph_secret"
    make_keys "$d" || die "start: openssl failed"
    port=$(free_port)
    write_conf "$d" "$port"
    seed_db "$d" "$secret" "$norole" "$gsecret" || die "start: seeding glewlwyd's database failed"
    glewlwyd -c "$d/glewlwyd.conf" </dev/null >"$d/stdout.log" 2>&1 &
    local pid=$! i up=0
    echo "$pid" >"$d/glewlwyd.pid"
    for i in $(seq 1 100); do   # up to 10 s: ready when the JWKS answers (plugin loaded)
        kill -0 "$pid" 2>/dev/null || break
        curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/api/$PLUGIN/jwks" && { up=1; break; }
        sleep 0.1
    done
    [ $up = 1 ] || die "start: glewlwyd did not come up: $(tail -n 3 "$d/stdout.log" "$d/glewlwyd.log" 2>/dev/null)"
    cat >"$d/entra.env" <<ENV
ENTRA_PID=$pid
ENTRA_PORT=$port
ENTRA_TOKEN_URL=http://127.0.0.1:$port/api/$PLUGIN/token
ENTRA_JWKS_URL=http://127.0.0.1:$port/api/$PLUGIN/jwks
ENTRA_ISSUER=https://sts.windows.net/$TENANT/
ENTRA_TENANT=$TENANT
ENTRA_CLIENT_ID=$CLIENT_ID
ENTRA_SECRET_FILE=$d/client_secret
ENTRA_CLIENT_CERT=$d/client_cert.pem
ENTRA_CLIENT_KEY=$d/client_key.pem
ENTRA_NOROLE_CLIENT_ID=$NOROLE_ID
ENTRA_NOROLE_SECRET_FILE=$d/norole_secret
ENTRA_GRAPH_CLIENT_ID=$GRAPH_ID
ENTRA_GRAPH_SECRET_FILE=$d/graph_secret
ENTRA_EWS_RESOURCE=$RES
ENTRA_GRAPH_RESOURCE=$GRES
ENV
    trap - EXIT
    echo "entra-lab: up, pid $pid, port $port"
}

stop() {  # DIR
    local d=$1 pid i
    [ -s "$d/glewlwyd.pid" ] || { echo "entra-lab: stop: nothing running for $d"; return 0; }
    pid=$(cat "$d/glewlwyd.pid")
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
        */glewlwyd) kill -TERM "$pid" 2>/dev/null
                    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null ;;
    esac
    rm -f "$d/glewlwyd.pid"
    echo "entra-lab: stopped pid $pid"
}

case "${1:-}" in
    start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
    stop)  [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR | stop DIR" ;;
esac
