#!/usr/bin/env bash
# samba-logon.sh — what the Exchange logon tests need from the Samba AD lab,
# added to a lab that tests/lab/samba-lab.sh started in DIR:
#
#   tests/lab/samba-logon.sh DIR [ACCOUNT...]     # writes DIR/logon/ and DIR/logon.env
#
#   1. an HTTP service account (websvc, random password nobody keeps) holding
#      the SPNs HTTP/<host> of the simulated Exchange front ends
#      (LOGON_HTTP_HOSTS, default "mail.<domain> autodiscover.<domain> 127.0.0.1";
#      the last lets a client reach the simulator by address, no name mapping), with
#      AES keys (msDS-SupportedEncryptionTypes = 24; otherwise only RC4), and
#      its keytab exported for the web server (exsim --keytab);
#   2. the NT hashes of ACCOUNTs (default: admin) read from the DC, as
#      "name:hex" lines (exsim --ntlm-hashes): NTLM is then checked against
#      the passwords the DC really holds;
#   3. a service account for scheduled runs (svc-migr, UPN svc-migr@<domain>,
#      AES keys, random password nobody keeps) and its client keytab: a
#      Kerberos-only logon with no password anywhere
#      (kinit -k -t $LOGON_SVC_KEYTAB $LOGON_SVC_PRINCIPAL).
#
# DIR/logon.env (0600): LOGON_HTTP_HOSTS (comma-separated) LOGON_HTTP_KEYTAB LOGON_NTLM_HASHES
# LOGON_SVC_NAME LOGON_SVC_UPN LOGON_SVC_PRINCIPAL LOGON_SVC_KEYTAB.
# Everything is written inside DIR/logon (0700); keytabs and hashes are 0600.
set -u
die() { echo "samba-logon: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 DIR [ACCOUNT...]"
d=$(cd "$1" 2>/dev/null && pwd) || die "$1: no such lab directory"
shift
[ -r "$d/lab.env" ] || die "$d/lab.env missing: start the lab first (tests/lab/samba-lab.sh start)"
# lab.env values are plain KEY=VALUE lines
kv() { sed -n "s/^$1=//p" "$d/lab.env" | head -n 1; }
realm=$(kv LAB_REALM); base=$(kv LAB_BASE)
[ -n "$realm" ] && [ -n "$base" ] || die "$d/lab.env: no LAB_REALM/LAB_BASE (not a Samba lab?)"
domain=${realm,,}
conf="$d/dc/etc/smb.conf"; sam="$d/dc/private/sam.ldb"
out="$d/logon"; log="$out/setup.log"
umask 077
mkdir -p "$out" || die "cannot create $out"
: >"$log"
hosts=$(echo "${LOGON_HTTP_HOSTS:-mail.$domain autodiscover.$domain 127.0.0.1}" | tr , " ")
accounts=${*:-admin}
S=(-s "$conf")

# A user with a random password that is never written anywhere.
add_random_user() {  # NAME
    local pw
    pw="$(openssl rand -base64 24)Aa1!"
    samba-tool user add "$1" "$pw" "${S[@]}" >>"$log" 2>&1 ||
        die "samba-tool user add $1 failed: $(tail -n 2 "$log")"
    pw=
}

aes_only() {  # NAME: AES128 + AES256 keys in what the KDC issues and exports
    printf 'dn: CN=%s,CN=Users,%s\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n' \
        "$1" "$base" >"$out/enc.ldif"
    ldbmodify -H "$sam" "$out/enc.ldif" >>"$log" 2>&1 || die "ldbmodify (enctypes of $1) failed: $(tail -n 2 "$log")"
    rm -f "$out/enc.ldif"
}

# The keys change with every password set: take the keytab after aes_only.
export_keytab() {  # PRINCIPAL FILE
    rm -f "$2"
    samba-tool domain exportkeytab "$2" --principal="$1" "${S[@]}" >>"$log" 2>&1 && [ -s "$2" ] ||
        die "exportkeytab $1 failed: $(tail -n 2 "$log")"
    chmod 600 "$2"
}

# 1. HTTP service account and its keytab
add_random_user websvc
aes_only websvc
for h in $hosts; do
    samba-tool spn add "HTTP/$h" websvc "${S[@]}" >>"$log" 2>&1 || die "spn add HTTP/$h failed: $(tail -n 2 "$log")"
done
rm -f "$out/http.keytab"
for h in $hosts; do
    samba-tool domain exportkeytab "$out/http.keytab" --principal="HTTP/$h" "${S[@]}" >>"$log" 2>&1 ||
        die "exportkeytab HTTP/$h failed: $(tail -n 2 "$log")"
done
chmod 600 "$out/http.keytab"

# 2. NT hashes from the DC
: >"$out/ntlm-hashes"
for a in $accounts; do
    nt=$(samba-tool user getpassword "$a" --attributes=unicodePwd "${S[@]}" 2>>"$log" |
         sed -n 's/^unicodePwd:: //p' | base64 -d | od -An -tx1 | tr -d ' \n')
    [ ${#nt} = 32 ] || die "no NT hash for $a (samba-tool user getpassword; see $log)"
    printf '%s:%s\n' "$a" "$nt" >>"$out/ntlm-hashes"
done
chmod 600 "$out/ntlm-hashes"

# 3. the scheduled-run service account: client keytab, no password kept
add_random_user svc-migr
printf 'dn: CN=svc-migr,CN=Users,%s\nchangetype: modify\nreplace: userPrincipalName\nuserPrincipalName: svc-migr@%s\n' \
    "$base" "$domain" >"$out/upn.ldif"
ldbmodify -H "$sam" "$out/upn.ldif" >>"$log" 2>&1 || die "ldbmodify (UPN of svc-migr) failed"
rm -f "$out/upn.ldif"
aes_only svc-migr
export_keytab "svc-migr@$realm" "$out/svc.keytab"

cat >"$d/logon.env" <<ENV
LOGON_HTTP_HOSTS=${hosts// /,}
LOGON_HTTP_KEYTAB=$out/http.keytab
LOGON_NTLM_HASHES=$out/ntlm-hashes
LOGON_SVC_NAME=svc-migr
LOGON_SVC_UPN=svc-migr@$domain
LOGON_SVC_PRINCIPAL=svc-migr@$realm
LOGON_SVC_KEYTAB=$out/svc.keytab
ENV
chmod 600 "$d/logon.env"
echo "samba-logon: HTTP SPNs ($hosts), NT hashes ($accounts), service account svc-migr ready"
