#!/usr/bin/python3
"""The password of ORG.json's lab account of SIDE (source|target), written to
OUT (no newline), so it never appears in an argv or on stdout.

Usage: org_password.py ORG.json SIDE OUT
"""
import json,sys
o=json.load(open(sys.argv[1]))
open(sys.argv[3],'w').write(next(a['password'] for a in o['accounts'] if a['side']==sys.argv[2]))
