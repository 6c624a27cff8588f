#!/usr/bin/python3
"""What test_ldap_ad expects of the Samba AD lab: one TSV line per recipient of
the source side of ORG.json, after a "#ews<TAB>host" line.

Usage: org_expect_ad.py ORG.json
Columns: id, kind, smtp, targetAddress, the mailbox GUID as the hex of its AD
byte order (what msExchMailboxGuid holds), problems (- when none),
proxyAddresses (|-separated).
"""
import json,sys,uuid
org=json.load(open(sys.argv[1]))
print('#ews\t'+org['sides']['source']['ews_host'])
for r in org['recipients']:
    s=r['source']
    print('\t'.join([r['id'],r['kind'],s['smtp'],s.get('target_address') or '',
                     uuid.UUID(s['mailbox_guid']).bytes_le.hex(),','.join(r['problems']) or '-',
                     '|'.join(s['proxies'])]))
