#!/usr/bin/env bash
# samba-lab.sh — a throwaway Samba Active Directory domain controller, following
# tests/lab/LAB-CONTRACT.md (same interface as slapd-lab.sh):
#
#   tests/lab/samba-lab.sh start DIR ORG_JSON   # provision, start, write DIR/lab.env
#   tests/lab/samba-lab.sh stop DIR             # stop by PID, bounded wait, kill -9 fallback
#
# What start does, all inside DIR (nothing system-wide is touched):
#   1. samba-tool domain provision (DNS backend NONE) into DIR/dc, for the
#      org's source side (realm = domain, NetBIOS domain = netbios);
#   2. offline, with ldbmodify/ldbadd on DIR/dc/private/sam.ldb: the Exchange
#      schema extension (tests/lab/samba/exchange-schema-*.ldif), the admin
#      account of org.json (CN=admin,CN=Users; password in a 0600 LDIF that is
#      deleted after the load), ldap/ SPNs on the DC account (for GSSAPI, see
#      below), a keytab of the admin, and the organisation (tests/lab/org2ldif.py
#      --style ad: OUs, recipients, Exchange containers and Autodiscover SCP);
#   3. a CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost) made by
#      openssl, configured as Samba's TLS certificate;
#   4. samba -F -M single on 127.0.0.1 with only the ldap and kdc services
#      (winbindd is not installed), a private krb5.conf pointing the realm's KDC
#      at 127.0.0.1:<free port>;
#   5. bounded wait for LDAP, LDAPS and the KDC, then self-checks: a simple
#      bind over ldaps:// as DOMAIN\user, and a GSSAPI bind with a ticket from
#      the DC's KDC (LAB_SASL_GSSAPI=1 only when it worked).
#
# Ports: Samba's LDAP ports are fixed (389, 636, 3268, 3269; no smb.conf
# option moves them), so only one Samba lab can run on a machine at a time:
# LAB_LDAP_PORT/LAB_LDAPS_PORT are 389/636, and start takes a lock
# (/tmp/switchresmb-samba-lab.lock, inherited by samba, so held while the DC
# runs), waiting at most LAB_SAMBA_PORT_WAIT seconds (default 180) for
# another lab to end, then checks the ports are free; it fails clearly
# otherwise.  A DC left behind by a killed test ends itself after
# LAB_SAMBA_MAX_RUNTIME seconds (default 600); one whose DIR was deleted is
# stopped by the next start.  The KDC and kpasswd ports are free ports.
# Env: LAB_SIDE=target loads the target side instead.
#
# lab.env beyond the contract: LAB_NETBIOS, LAB_PRINCIPAL (the admin as
# user@REALM), LAB_KRB5CCNAME (a ticket cache holding its TGT, made at start;
# tickets last 10 h), LAB_KDC_PORT, LAB_GC_URI.
# Test hook: LAB_SAMBA_TEST_FAIL_SELFCHECK=1 makes the self-check bind fail
# after samba is up (tests/integration/ldap_samba.sh checks the cleanup).
#
# GSSAPI: libldap + Cyrus SASL ask for ldap/<host> where <host> is the host
# the client connected to; libldap turns a loopback address into this
# machine's FQDN (gethostname + lookup) unless SASL_NOCANON is set (then it
# stays "127.0.0.1"); other clients use the reverse name ("localhost").  So
# SPNs ldap/localhost, ldap/127.0.0.1, ldap/<FQDN> and ldap/<hostname> are put
# on the DC's account, and the private krb5.conf turns DNS canonicalisation
# off and maps those names to the realm: no /etc/hosts entry is needed.  Clients use KRB5_CONFIG=$LAB_KRB5_CONFIG and either
# KRB5CCNAME=$LAB_KRB5CCNAME or kinit -k -t $LAB_KEYTAB $LAB_PRINCIPAL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SAMBA=${SAMBA:-/usr/sbin/samba}
SAMBA_TOOL=${SAMBA_TOOL:-/usr/bin/samba-tool}
LAB_RUNTIME=${LAB_SAMBA_MAX_RUNTIME:-600}   # samba ends itself after this (leak guard)
LOCK=/tmp/switchresmb-samba-lab.lock        # one Samba lab per machine: fixed ports

die() { echo "samba-lab: $*" >&2; exit 1; }
note() { [ -n "${LAB_VERBOSE:-}" ] && echo "samba-lab: $*" >&2; return 0; }

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_open() {  # PORT: something accepts on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The values of one side of org.json the lab needs, as shell assignments.
org_vars() {  # ORG_JSON SIDE
    "$PY" - "$1" "$2" <<'PYEOF'
import json, shlex, sys
org = json.load(open(sys.argv[1], encoding="utf-8"))
side = sys.argv[2]
sd = org["sides"][side]
acct = next(a for a in org["accounts"] if a["side"] == side and a["name"] == "admin")
v = {
    "domain": sd["domain"], "netbios": sd["netbios"],
    "base": ",".join("DC=" + p for p in sd["domain"].split(".")),
    "acct": acct["name"], "upn": acct["upn"],
}
for k, x in v.items():
    print(f"{k}={shlex.quote(x)}")
PYEOF
}

# The admin account as LDIF, password as unicodePwd (UTF-16LE, quoted).
admin_ldif() {  # ORG_JSON SIDE BASE DC_DN SPN_HOST...
    "$PY" - "$@" <<'PYEOF'
import base64, json, sys
org = json.load(open(sys.argv[1], encoding="utf-8"))
side, base, dc_dn = sys.argv[2], sys.argv[3], sys.argv[4]
spns = "".join(f"servicePrincipalName: ldap/{h}\n" for h in sys.argv[5:])
a = next(a for a in org["accounts"] if a["side"] == side and a["name"] == "admin")
pw = base64.b64encode(('"' + a["password"] + '"').encode("utf-16-le")).decode()
print(f"""dn: CN={a['name']},CN=Users,{base}
changetype: add
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: {a['name']}
sAMAccountName: {a['name']}
userPrincipalName: {a['upn']}
displayName: Lab administrator
userAccountControl: 66048
unicodePwd:: {pw}

dn: {dc_dn}
changetype: modify
add: servicePrincipalName
{spns}-
""")
PYEOF
}

password_of() {  # ORG_JSON SIDE
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
org = json.load(open(sys.argv[1], encoding="utf-8"))
a = next(a for a in org["accounts"] if a["side"] == sys.argv[2] and a["name"] == "admin")
sys.stdout.write(a["password"])
PYEOF
}

make_certs() {  # TLSDIR DNSNAME
    local d=$1
    mkdir -p "$d" || return 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=switchresmb samba lab CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        >"$d/openssl.log" 2>&1 || return 1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/key.pem" -out "$d/server.csr" -subj "/CN=127.0.0.1" \
        >>"$d/openssl.log" 2>&1 || return 1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:%s\nextendedKeyUsage=serverAuth\n' \
        "$2" >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/cert.pem" \
        >>"$d/openssl.log" 2>&1 || return 1
    chmod 600 "$d/ca.key" "$d/key.pem"
}

# Rewrite the provisioned smb.conf's [global] for a loopback-only lab.
tune_smb_conf() {  # DIR KDC_PORT KPASSWD_PORT
    local d=$1 conf=$1/dc/etc/smb.conf
    "$PY" - "$conf" "$d" "$2" "$3" <<'PYEOF'
import sys
conf, d, kdc, kpw = sys.argv[1:5]
text = open(conf, encoding="utf-8").read()
drop = ("server services", "log file", "logging", "max log size", "interfaces",
        "bind interfaces only", "panic action")
out, in_global = [], False
for line in text.splitlines():
    s = line.strip()
    if s.startswith("["):
        in_global = s.lower() == "[global]"
        out.append(line)
        if in_global:
            out += [
                f"\tserver services = ldap, kdc",
                f"\tinterfaces = 127.0.0.1/8",
                f"\tbind interfaces only = yes",
                f"\tkrb5 port = {kdc}",
                f"\tkpasswd port = {kpw}",
                f"\tpid directory = {d}/run",
                f"\tncalrpc dir = {d}/run/ncalrpc",
                f"\tlogging = file",
                f"\tlog level = 1",
                f"\tmax log size = 0",
                f"\tldap server require strong auth = allow_sasl_over_tls",
                f"\ttls enabled = yes",
                f"\ttls keyfile = {d}/tls/key.pem",
                f"\ttls certfile = {d}/tls/cert.pem",
                f"\ttls cafile = {d}/tls/ca.pem",
            ]
        continue
    if in_global and "=" in s and s.split("=", 1)[0].strip().lower() in drop:
        continue
    out.append(line)
open(conf, "w", encoding="utf-8").write("\n".join(out) + "\n")
PYEOF
}

write_krb5_conf() {  # FILE REALM DOMAIN KDC_PORT HOST...
    local f=$1 realm=$2 domain=$3 port=$4 h; shift 4
    {
    cat <<CONF
[libdefaults]
    default_realm = $realm
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 0
    ticket_lifetime = 10h

[realms]
    $realm = {
        kdc = 127.0.0.1:$port
        admin_server = 127.0.0.1:$port
    }

[domain_realm]
    .$domain = $realm
    $domain = $realm
CONF
    for h in "$@"; do echo "    $h = $realm"; done
    } >"$f"
}

ldb_apply() {  # TOOL SAM LDIF LOG [extra options...]
    local tool=$1 sam=$2 ldif=$3 log=$4; shift 4
    "$tool" -H "$sam" "$@" "$ldif" >>"$log" 2>&1
}

# A samba left running by a lab whose DIR was deleted (its test was killed
# before it could run stop): it holds the fixed ports until --maximum-runtime.
# Recognised by its executable and by its sam.ldb being a deleted file in a
# .../dc/private/ directory; stopped by PID.  A system Samba is never touched.
reap_orphans() {
    local p exe
    for p in $(ss -ltnpH 'sport = :389' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
        exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
        case "$exe" in */samba) ;; *) continue ;; esac
        ls -l "/proc/$p/fd" 2>/dev/null | grep -q '/dc/private/sam\.ldb.* (deleted)$' || continue
        echo "samba-lab: stopping orphaned lab DC pid $p (its directory was deleted)" >&2
        kill -TERM "$p" 2>/dev/null
        local i
        for i in $(seq 1 50); do alive "$p" || break; sleep 0.1; done
        alive "$p" && kill -KILL "$p" 2>/dev/null
    done
}

# Waits (bounded) until Samba's fixed LDAP ports are free.
wait_ports_free() {
    local i limit=100   # 10 s: the lock is ours, so only a stray server could hold them
    for ((i = 0; i < limit; i++)); do
        port_open 389 || port_open 636 || port_open 3268 || port_open 3269 || return 0
        sleep 0.1
    done
    return 1
}

# What provisioning needs beyond the samba package (Debian installs these as
# samba's Recommends, which apt --no-install-recommends leaves out).
preflight() {
    local c missing=""
    for c in "$SAMBA" "$SAMBA_TOOL" ldbadd ldbmodify ldapsearch openssl ss; do
        command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
    done
    [ -d /usr/share/samba/setup/ad-schema ] || missing="$missing samba-ad-provision"
    ls /usr/lib/*/samba/ldb/samba_secrets.so >/dev/null 2>&1 || missing="$missing samba-dsdb-modules"
    ls /usr/lib/*/samba/vfs/acl_xattr.so >/dev/null 2>&1 || missing="$missing samba-vfs-modules"
    [ -z "$missing" ] || die "start: missing:$missing (Debian packages samba samba-ad-provision samba-dsdb-modules samba-vfs-modules ldb-tools ldap-utils openssl iproute2)"
}

start() {  # DIR ORG_JSON
    local d=$1 org=$2 side=${LAB_SIDE:-source}
    preflight
    [ -f "$org" ] || die "start: $org: no such org.json"
    mkdir -p "$d" && chmod 700 "$d" || die "start: cannot create $d"
    [ -e "$d/samba.pid" ] && die "start: $d already holds a lab (samba.pid exists)"
    d=$(cd "$d" && pwd)
    org=$(cd "$(dirname "$org")" && pwd)/$(basename "$org")
    umask 077
    # From here on, any failure stops whatever was started and cleans up.
    trap 'stop "$d" >/dev/null 2>&1' EXIT
    local t0=$SECONDS domain="" netbios="" base="" acct="" upn=""
    local vars
    vars=$(org_vars "$org" "$side") && eval "$vars" && [ -n "${base:-}" ] ||
        die "start: $org: cannot read side $side (sides.$side, accounts[admin])"
    local realm=${domain^^} host=labdc
    local dc_dn="CN=${host^^},OU=Domain Controllers,$base"
    local log=$d/start.log sam=$d/dc/private/sam.ldb
    : >"$log"

    # One Samba lab per machine (fixed ports): a lock that samba inherits, so
    # it is held exactly as long as this lab's DC runs (released by stop, by
    # a failed start's cleanup, or when samba ends for any reason).
    reap_orphans
    exec 9>>"$LOCK" || die "start: cannot open $LOCK"
    note "waiting for $LOCK"
    flock -w "${LAB_SAMBA_PORT_WAIT:-180}" 9 ||
        die "start: another Samba lab still runs after ${LAB_SAMBA_PORT_WAIT:-180} s (lock $LOCK)"
    wait_ports_free || die "start: 127.0.0.1 ports 389/636/3268/3269 are in use (another LDAP server?); Samba cannot move them"

    # 1. provision (no --adminpass: Administrator gets a random password we never use)
    note "provisioning $realm"
    "$SAMBA_TOOL" domain provision --realm="$realm" --domain="$netbios" --host-name="$host" \
        --server-role=dc --dns-backend=NONE --use-rfc2307 --targetdir="$d/dc" \
        --option="interfaces=127.0.0.1/8" --option="bind interfaces only=yes" \
        </dev/null 2>&1 | grep -vi 'password' >>"$log"
    [ -s "$sam" ] && [ -s "$d/dc/etc/smb.conf" ] ||
        die "start: samba-tool domain provision failed: $(tail -n 3 "$log")"
    note "provisioned after $((SECONDS - t0)) s"

    # 2. schema extension, admin account, SPNs, organisation — offline
    local f
    for f in 1-attributes 2-classes 3-user; do
        sed "s/\${SCHEMADN}/CN=Schema,CN=Configuration,$base/g" \
            "$here/samba/exchange-schema-$f.ldif" >"$d/schema-$f.ldif"
        ldb_apply ldbmodify "$sam" "$d/schema-$f.ldif" "$log" \
            --option="dsdb:schema update allowed=true" ||
            die "start: schema extension $f failed: $(tail -n 2 "$log")"
    done
    # GSSAPI clients ask for ldap/<name they connected to>; libldap replaces a
    # loopback address by this machine's FQDN (gethostname + lookup) unless
    # SASL_NOCANON, others use the reverse name: register every such name.
    local rname spn_hosts="localhost 127.0.0.1"
    for rname in $("$PY" -c '
import socket
n = socket.gethostname()
try: print(socket.gethostbyname_ex(n)[0])
except OSError: pass
print(n)
try: print(socket.gethostbyaddr("127.0.0.1")[0])
except OSError: pass' 2>/dev/null); do
        case " $spn_hosts " in *" $rname "*) ;; *) spn_hosts="$spn_hosts $rname" ;; esac
    done
    admin_ldif "$org" "$side" "$base" "$dc_dn" $spn_hosts >"$d/admin.ldif" || die "start: admin LDIF"
    ldb_apply ldbmodify "$sam" "$d/admin.ldif" "$log"; local rc=$?
    rm -f "$d/admin.ldif"
    [ $rc = 0 ] || die "start: admin account failed: $(tail -n 2 "$log")"
    # CN=Services,CN=Configuration exists in every AD forest already.
    "$PY" "$here/org2ldif.py" "$org" --side "$side" --style ad -o "$d/org.ldif.raw" ||
        die "start: org2ldif failed"
    awk 'BEGIN{RS="";ORS="\n\n"} !/^dn: CN=Services,CN=Configuration,/' \
        "$d/org.ldif.raw" >"$d/org.ldif"
    ldb_apply ldbadd "$sam" "$d/org.ldif" "$log" --relax ||
        die "start: loading the organisation failed: $(tail -n 2 "$log")"
    rm -f "$d/org.ldif.raw"
    note "schema + org loaded after $((SECONDS - t0)) s"

    # Keytab of the admin account, for GSSAPI tests (offline).
    "$SAMBA_TOOL" domain exportkeytab "$d/admin.keytab" --principal="$acct@$realm" \
        -s "$d/dc/etc/smb.conf" >>"$log" 2>&1 || note "exportkeytab failed"

    # 3. TLS
    make_certs "$d/tls" "$host.$domain" || die "start: openssl failed (see $d/tls/openssl.log)"

    # 4. start
    local kdc_port kpw_port
    kdc_port=$(free_port); kpw_port=$(free_port)
    [ "$kdc_port" != "$kpw_port" ] || kpw_port=$(free_port)
    mkdir -p "$d/run/ncalrpc" "$d/log"
    tune_smb_conf "$d" "$kdc_port" "$kpw_port" || die "start: cannot rewrite smb.conf"
    write_krb5_conf "$d/krb5.conf" "$realm" "$domain" "$kdc_port" $spn_hosts
    chmod 644 "$d/krb5.conf"
    "$SAMBA" -F -M single --maximum-runtime="$LAB_RUNTIME" -l "$d/log" -s "$d/dc/etc/smb.conf" \
        </dev/null >"$d/samba.out" 2>&1 &
    local pid=$!
    echo "$pid" >"$d/samba.pid"
    local i up=0
    for i in $(seq 1 300); do   # up to 30 s
        kill -0 "$pid" 2>/dev/null || break
        if port_open 389 && port_open 636 && port_open "$kdc_port"; then up=1; break; fi
        sleep 0.1
    done
    [ $up = 1 ] || die "start: samba did not come up (see $d/log/log.samba): $(grep -v '^\[' "$d/log/log.samba" 2>/dev/null | tail -n 3)"
    note "samba up after $((SECONDS - t0)) s"

    # 5. self-checks
    password_of "$org" "$side" >"$d/password"
    local pwfile=$d/password
    if [ -n "${LAB_SAMBA_TEST_FAIL_SELFCHECK:-}" ]; then   # test hook: fail after samba is up
        printf 'Wr0ng-for-test' >"$d/password.bad"; pwfile=$d/password.bad
    fi
    if ! LDAPTLS_CACERT="$d/tls/ca.pem" LDAPTLS_REQCERT=demand timeout 20 \
         ldapsearch -LLL -o nettimeout=10 -H ldaps://127.0.0.1:636 -x -D "$netbios\\$acct" \
         -y "$pwfile" -b "$base" -s base dn >"$d/check-ldaps.out" 2>&1; then
        die "start: simple bind over ldaps:// as $netbios\\$acct failed: $(tail -n 2 "$d/check-ldaps.out")"
    fi
    local gssapi=0
    if [ -s "$d/admin.keytab" ] &&
       KRB5_CONFIG="$d/krb5.conf" KRB5CCNAME="FILE:$d/krb5cc" timeout 20 \
           kinit -k -t "$d/admin.keytab" "$acct@$realm" >"$d/check-gssapi.out" 2>&1 &&
       KRB5_CONFIG="$d/krb5.conf" KRB5CCNAME="FILE:$d/krb5cc" timeout 20 \
           ldapsearch -LLL -o nettimeout=10 -Q -Y GSSAPI -H ldap://127.0.0.1:389 \
           -b "$base" -s base dn >>"$d/check-gssapi.out" 2>&1; then
        gssapi=1
    fi
    note "self-checks done after $((SECONDS - t0)) s (gssapi=$gssapi)"

    cat >"$d/lab.env" <<ENV
LAB_KIND=samba
LAB_PID=$pid
LAB_LDAP_URI=ldap://127.0.0.1:389
LAB_LDAPS_URI=ldaps://127.0.0.1:636
LAB_HOST=127.0.0.1
LAB_LDAP_PORT=389
LAB_LDAPS_PORT=636
LAB_CA=$d/tls/ca.pem
LAB_BASE=$base
LAB_CONFIG_BASE=CN=Configuration,$base
LAB_BIND_DN=CN=$acct,CN=Users,$base
LAB_BIND_UPN=$upn
LAB_BIND_NT=$netbios\\$acct
LAB_PASSWORD=$(cat "$d/password")
LAB_PLAIN_SIMPLE_BIND=0
LAB_SASL_GSSAPI=$gssapi
LAB_KRB5_CONFIG=$d/krb5.conf
LAB_REALM=$realm
LAB_KEYTAB=$d/admin.keytab
LAB_PRINCIPAL=$acct@$realm
LAB_KRB5CCNAME=FILE:$d/krb5cc
LAB_KDC_PORT=$kdc_port
LAB_GC_URI=ldap://127.0.0.1:3268
LAB_NETBIOS=$netbios
ENV
    chmod 600 "$d/lab.env"
    trap - EXIT
    echo "samba-lab: up, pid $pid, realm $realm, ldap 389, ldaps 636, kdc $kdc_port, gssapi $gssapi, $((SECONDS - t0)) s"
}

# True while PID runs (a zombie waiting for its parent counts as gone).
alive() {  # PID
    local st
    st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

# Is PID a samba started from DIR?  samba rewrites its command line ("samba:
# root process"), so check the executable and that it holds files in DIR
# (or wrote DIR/run/samba.pid) instead.
is_lab_samba() {  # PID DIR
    local exe
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    case "$exe" in */samba|*/samba\ \(deleted\)) ;; *) return 1 ;; esac
    [ "$(cat "$2/run/samba.pid" 2>/dev/null)" = "$1" ] && return 0
    ls -l "/proc/$1/fd" 2>/dev/null | grep -qF -- " $2/"
}

stop() {  # DIR — safe on a half-started lab and on an empty or missing DIR
    local d=$1 pid="" i p pids="" alive_any
    [ -d "$d" ] || { echo "samba-lab: stop: no such directory $d"; return 0; }
    d=$(cd "$d" && pwd)
    [ -s "$d/samba.pid" ] && pid=$(cat "$d/samba.pid")
    [ -s "$d/run/samba.pid" ] && pid="$pid $(cat "$d/run/samba.pid")"
    for p in $pid; do
        case "$p" in ''|*[!0-9]*) continue ;; esac
        is_lab_samba "$p" "$d" || continue
        pids="$pids $p $(pgrep -P "$p" 2>/dev/null | tr '\n' ' ')"
    done
    pids=$(echo $pids | tr ' ' '\n' | sort -u | tr '\n' ' ')
    if [ -z "${pids// /}" ]; then
        rm -f "$d/samba.pid" "$d/krb5cc"
        echo "samba-lab: stop: nothing running for $d"
        return 0
    fi
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 1 50); do   # up to 5 s
        alive_any=0
        for p in $pids; do alive "$p" && alive_any=1; done
        [ $alive_any = 0 ] && break
        sleep 0.1
    done
    for p in $pids; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    for i in $(seq 1 20); do   # up to 2 s more
        alive_any=0
        for p in $pids; do alive "$p" && alive_any=1; done
        [ $alive_any = 0 ] && break
        sleep 0.1
    done
    rm -f "$d/samba.pid" "$d/krb5cc"
    echo "samba-lab: stopped pid(s) $(echo $pids)"
}

case "${1:-}" in
    start) [ $# -eq 3 ] || die "usage: $0 start DIR ORG_JSON"; start "$2" "$3" ;;
    stop)  [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR ORG_JSON | stop DIR" ;;
esac
