#!/usr/bin/python3
"""Every recipient of ORG.json: source SMTP, TAB, target legacyExchangeDN (- when none).

Usage: org_target_dns.py ORG.json
"""
import json, sys
for r in json.load(open(sys.argv[1]))['recipients']:
    t = r.get('target') or {}
    print(r['source']['smtp'], t.get('legacy_dn') or '-', sep='\t')
