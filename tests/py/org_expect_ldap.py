#!/usr/bin/python3
"""What test_ldap expects of the directory lab: one TSV line per recipient of
the source side of ORG.json, after a "#ews<TAB>host" line.

Usage: org_expect_ldap.py ORG.json
Columns: id, smtp, legacyExchangeDN, targetAddress, msExchRecipientTypeDetails,
problems (comma-separated, - when none), proxyAddresses (|-separated), DN.
"""
import json,sys
org=json.load(open(sys.argv[1]))
print('#ews\t'+org['sides']['source']['ews_host'])
for r in org['recipients']:
    s=r['source']
    print('\t'.join([r['id'],s['smtp'],s.get('legacy_dn') or '',s.get('target_address') or '',
                     str(s['recipient_type_details']),','.join(r['problems']) or '-',
                     '|'.join(s['proxies']),s['dn']]))
