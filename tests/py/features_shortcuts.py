#!/usr/bin/python3
"""Feature test (test_cpuu_features): navigation shortcuts in the seeds.

Usage: features_shortcuts.py ORG.json SOURCE-SEED.xml TARGET-SEED.xml
(after features_seed_patch.py).  Adds WunderBar links to the source mailbox's
Common Views (a shared calendar of a migrated owner, one of an unmigrated owner,
unread mail, a source-only folder, a PST folder, a shortcut) and the target's
own favourite.  Prints: S owner-src-smtp owner-target-legacy-dn, U unmigrated-legacy-dn|-
"""
import json, sys, base64, uuid
import xml.etree.ElementTree as ET
T = 'http://schemas.microsoft.com/exchange/services/2006/types'
ET.register_namespace('t', T)
def q(n): return '{%s}%s' % (T, n)
org = json.load(open(sys.argv[1]))
me = next(r for r in org['recipients'] if r['kind'] == 'user' and r.get('target'))
mig = [r for r in org['recipients'] if r is not me and r.get('target') and
       r['source'].get('legacy_dn') and r['target'].get('legacy_dn')]
unm = [r for r in org['recipients'] if r is not me and not r.get('target') and
       r['source'].get('legacy_dn')]
def b64(b): return base64.b64encode(b).decode()
def ab(dn): return (b'\0' * 4 + bytes.fromhex('DCA740C8C042101AB4B908002B2FE182') +
                    (1).to_bytes(4, 'little') + b'\0' * 4 + dn.encode() + b'\0')
def store(srv, dn): return (b'\0' * 4 + bytes.fromhex('38A1BB1005E5101AA1BB08002B2A56C2') +
    b'\0\0' + b'emsmdb.dll' + b'\0' * 8 + bytes.fromhex('1B55FA20AA6611CD9BC800AA002FC45A') +
    (12).to_bytes(4, 'little') + srv.encode() + b'\0' + dn.encode() + b'\0')
def add(m, tag, ty, v):
    ep = ET.SubElement(m, q('ExtendedProperty'))
    ET.SubElement(ep, q('ExtendedFieldURI'), {'PropertyTag': tag, 'PropertyType': ty})
    ET.SubElement(ep, q('Value')).text = str(v)
def tags(m): return {e.find(q('ExtendedFieldURI')).get('PropertyTag'): e.find(q('Value'))
                     for e in m.iter(q('ExtendedProperty'))}
def open_cv(path, smtp):
    tree = ET.parse(path)
    mb = next(m for m in tree.getroot().iter('mailbox') if m.get('smtp') == smtp)
    return tree, mb, next(f for f in mb.iter('folder') if f.get('name') == 'Common Views')
def link(mb, cv, subject, props):
    nid = int(mb.get('next-id'))
    mb.set('next-id', str(nid + 1))
    m = ET.SubElement(ET.SubElement(cv, 'item', {'id': str(nid), 'associated': '1'}), q('Message'))
    ET.SubElement(m, q('ItemClass')).text = 'IPM.Microsoft.WunderBar.Link'
    ET.SubElement(m, q('Subject')).text = subject
    for p in props: add(m, *p)
tree, mb, cv = open_cv(sys.argv[2], me['source']['smtp'])
msgs = [i.find(q('Message')) for i in cv.findall('item')]
shared = next(m for m in msgs if tags(m)['0x6849'].text == '2')
inbox = next(m for m in msgs if tags(m).get('0x6852') is not None and tags(m)['0x6852'].text == '1')
owner = mig[0]
tags(shared)['0x6854'].text = b64(ab(owner['source']['legacy_dn']))
add(shared, '0x684E', 'Binary', b64(store('exsrc01', owner['source']['legacy_dn'])))
hdr = tags(shared)['0x6850'].text
add(inbox, '0x684E', 'Binary', b64(store('exsrc01', me['source']['legacy_dn'])))
if unm:
    link(mb, cv, 'Not migrated - Calendar', [('0x6849', 'Integer', 2), ('0x684A', 'Integer', 0),
         ('0x6852', 'Integer', 3), ('0x684B', 'Binary', b64(b'\x91')), ('0x6850', 'Binary', hdr),
         ('0x6854', 'Binary', b64(ab(unm[0]['source']['legacy_dn'])))])
so = next(f for f in mb.iter('folder') if f.get('name') == 'Source only')
feid = (b'\0' * 4 + uuid.UUID(mb.get('guid')).bytes_le + b'\x01\0' +
        uuid.UUID(mb.get('db-guid')).bytes_le + int(so.get('id')).to_bytes(6, 'big') + b'\0\0')
mail = tags(inbox)['0x684F'].text
link(mb, cv, 'Unread mail', [('0x6849', 'Integer', 1), ('0x6852', 'Integer', 1),
     ('0x684B', 'Binary', b64(b'\x95')), ('0x684C', 'Binary', b64(bytes(46)))])
link(mb, cv, 'Source only', [('0x6849', 'Integer', 0), ('0x6852', 'Integer', 1),
     ('0x684B', 'Binary', b64(b'\x96')), ('0x684C', 'Binary', b64(feid)), ('0x684F', 'Binary', mail)])
link(mb, cv, 'PST folder', [('0x6849', 'Integer', 0), ('0x6852', 'Integer', 1),
     ('0x684B', 'Binary', b64(b'\x97')), ('0x684C', 'Binary', b64(bytes(4) + bytes(range(16, 58)))),
     ('0x684F', 'Binary', mail)])
link(mb, cv, 'Shortcut to Inbox', [('0x6849', 'Integer', 0), ('0x684B', 'Binary', b64(b'\x20')),
     ('0x684C', 'Binary', tags(inbox)['0x684C'].text)])
tree.write(sys.argv[2], encoding='utf-8', xml_declaration=True)
tree, mb, cv = open_cv(sys.argv[3], me['target']['smtp'])
link(mb, cv, 'Target own favorite', [('0x6849', 'Integer', 0), ('0x6852', 'Integer', 1),
     ('0x684B', 'Binary', b64(b'\x70')), ('0x684C', 'Binary', b64(bytes(range(46))))])
tree.write(sys.argv[3], encoding='utf-8', xml_declaration=True)
print('S', owner['source']['smtp'], owner['target']['legacy_dn'], sep='\t')
print('U', unm[0]['source']['legacy_dn'] if unm else '-', sep='\t')
