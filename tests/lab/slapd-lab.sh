#!/usr/bin/env bash
# slapd-lab.sh — a throwaway OpenLDAP slapd shaped like Active Directory,
# following tests/lab/LAB-CONTRACT.md:
#
#   tests/lab/slapd-lab.sh start DIR ORG_JSON   # provision, start, write DIR/lab.env
#   tests/lab/slapd-lab.sh stop DIR             # stop by PID, bounded wait
#
# 127.0.0.1 only, two free ports (ldap:// and ldaps://), a CA and a server
# certificate made by openssl at start, schema tests/lab/ad.schema, data from
# tests/lab/org2ldif.py (loaded offline with slapadd before the server starts).
# Extension beyond the contract: LAB_SIDE=target loads the target side instead.
# No system service is touched: every file lives in DIR.
set -u
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}

die() { echo "slapd-lab: $*" >&2; exit 1; }

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Reads one value from org.json: side's field, or the side's admin account field.
org_get() {  # ORG_JSON SIDE what
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import json, sys
org = json.load(open(sys.argv[1], encoding="utf-8"))
side, what = sys.argv[2], sys.argv[3]
sd = org["sides"][side]
acct = next(a for a in org["accounts"] if a["side"] == side and a["name"] == "admin")
if what == "base":
    print(",".join("DC=" + p for p in sd["domain"].split(".")))
elif what == "netbios":
    print(sd["netbios"])
elif what == "upn":
    print(acct["upn"])
elif what == "password":
    sys.stdout.write(acct["password"])
PYEOF
}

make_certs() {  # DIR
    local d=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=switchresmb lab CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        >"$d/openssl.log" 2>&1 || return 1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/key.pem" -out "$d/server.csr" -subj "/CN=127.0.0.1" \
        >>"$d/openssl.log" 2>&1 || return 1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/cert.pem" \
        >>"$d/openssl.log" 2>&1 || return 1
    chmod 600 "$d/ca.key" "$d/key.pem"
}

write_conf() {  # DIR BASE
    local d=$1 base=$2
    cat >"$d/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include $here/ad.schema
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel 0
# AD-like: unpaged searches stop at 500 entries, pages up to 1000 (MaxPageSize),
# paged result sets unbounded.
sizelimit size.soft=500 size.hard=500 size.pr=1000 size.prtotal=unlimited
TLSCACertificateFile $d/ca.pem
TLSCertificateFile $d/cert.pem
TLSCertificateKeyFile $d/key.pem
database mdb
suffix "$base"
rootdn "CN=root,$base"
directory $d/db
maxsize 104857600
index objectClass eq
index proxyAddresses,legacyExchangeDN,mail,extensionAttribute15,targetAddress eq
access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by users read
    by * none
CONF
    chmod 600 "$d/slapd.conf"
}

start() {  # DIR ORG_JSON
    local d=$1 org=$2 side=${LAB_SIDE:-source}
    [ -f "$org" ] || die "start: $org: no such org.json"
    mkdir -p "$d" && chmod 700 "$d" || die "start: cannot create $d"
    [ -e "$d/slapd.pid" ] && die "start: $d already holds a lab (slapd.pid exists)"
    d=$(cd "$d" && pwd)
    umask 077
    local base netbios upn
    base=$(org_get "$org" "$side" base) || die "start: $org: cannot read side $side"
    netbios=$(org_get "$org" "$side" netbios)
    upn=$(org_get "$org" "$side" upn)
    org_get "$org" "$side" password >"$d/password" && chmod 600 "$d/password"
    make_certs "$d" || die "start: openssl failed (see $d/openssl.log)"
    write_conf "$d" "$base"
    "$PY" "$here/org2ldif.py" "$org" --side "$side" -o "$d/data.ldif" || die "start: org2ldif failed"
    mkdir -p "$d/db"
    "$SLAPADD" -q -f "$d/slapd.conf" -l "$d/data.ldif" >"$d/slapadd.log" 2>&1 ||
        die "start: slapadd failed: $(tail -n 3 "$d/slapadd.log")"
    local try p1 p2 ok=0
    for try in 1 2 3; do
        p1=$(free_port); p2=$(free_port)
        [ "$p1" != "$p2" ] || continue
        "$SLAPD" -f "$d/slapd.conf" -h "ldap://127.0.0.1:$p1/ ldaps://127.0.0.1:$p2/" \
            >"$d/slapd.log" 2>&1 || continue
        local i
        for i in $(seq 1 100); do   # up to 10 s
            if [ -s "$d/slapd.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$p1") 2>/dev/null &&
               (exec 3<>"/dev/tcp/127.0.0.1/$p2") 2>/dev/null; then ok=1; break; fi
            sleep 0.1
        done
        [ $ok = 1 ] && break
        stop "$d" >/dev/null 2>&1
    done
    [ $ok = 1 ] || die "start: slapd did not come up (see $d/slapd.log)"
    local pid; pid=$(cat "$d/slapd.pid")
    cat >"$d/lab.env" <<ENV
LAB_KIND=slapd
LAB_PID=$pid
LAB_LDAP_URI=ldap://127.0.0.1:$p1
LAB_LDAPS_URI=ldaps://127.0.0.1:$p2
LAB_HOST=127.0.0.1
LAB_LDAP_PORT=$p1
LAB_LDAPS_PORT=$p2
LAB_CA=$d/ca.pem
LAB_BASE=$base
LAB_CONFIG_BASE=CN=Configuration,$base
LAB_BIND_DN=CN=admin,CN=Users,$base
LAB_BIND_UPN=
LAB_BIND_NT=
LAB_PASSWORD=$(cat "$d/password")
LAB_PLAIN_SIMPLE_BIND=1
LAB_SASL_GSSAPI=0
LAB_NETBIOS=$netbios
ENV
    chmod 600 "$d/lab.env"
    echo "slapd-lab: up, pid $pid, ldap $p1, ldaps $p2, base $base"
}

stop() {  # DIR
    local d=$1 pid i
    [ -s "$d/slapd.pid" ] || { echo "slapd-lab: stop: no slapd.pid in $d"; return 0; }
    pid=$(cat "$d/slapd.pid")
    # Only a slapd started from this DIR: check its command line first.
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$d/slapd.conf"; then
        rm -f "$d/slapd.pid"; return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; sleep 0.1; fi
    rm -f "$d/slapd.pid"
    echo "slapd-lab: stopped pid $pid"
}

case "${1:-}" in
    start) [ $# -eq 3 ] || die "usage: $0 start DIR ORG_JSON"; start "$2" "$3" ;;
    stop)  [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR ORG_JSON | stop DIR" ;;
esac
