#!/usr/bin/python3
"""Feature test (test_cpuu_features): patch the source and target exsim seeds.

Usage: features_seed_patch.py ORG.json SOURCE-SEED.xml TARGET-SEED.xml
Source mailbox of the first migrated user: a source-only folder, rules (disabled,
client-only, into the source-only folder, with exceptions / forward as attachment /
SMS alert), a third delegate with a Custom level.  Target mailbox: its own delegate
and rule, which every run must leave alone.  Prints, tab-separated, what the test
expects: R src-smtp src-legacy-dn tgt-smtp|-  (every recipient), M src tgt (the
mailbox), O tgt-smtp (the target's own delegate).
"""
import json, sys, base64, uuid
import xml.etree.ElementTree as ET
T = 'http://schemas.microsoft.com/exchange/services/2006/types'
ET.register_namespace('t', T)
org = json.load(open(sys.argv[1]))
for r in org['recipients']:
    s, t = r['source'], r.get('target') or {}
    tgt = t.get('smtp', '-') if s.get('target_address') else '-'
    print('R', s['smtp'], s.get('legacy_dn') or '-', tgt, sep='\t')
me = next(r for r in org['recipients'] if r['kind'] == 'user' and r.get('target'))
print('M', me['source']['smtp'], me['target']['smtp'], sep='\t')
tree = ET.parse(sys.argv[2])
mb = next(m for m in tree.getroot().iter('mailbox') if m.get('smtp') == me['source']['smtp'])
nid = int(mb.get('next-id'))
mb.set('next-id', str(nid + 1))
def q(n): return '{%s}%s' % (T, n)
inbox = next(f for f in mb.iter('folder') if f.get('distinguished') == 'inbox')
ET.SubElement(inbox, 'folder', {'id': str(nid), 'name': 'Source only', 'class': 'IPF.Note'})
raw = b'EX\x01F' + uuid.UUID(mb.get('guid')).bytes_le + nid.to_bytes(6, 'big') + b'\0'
fid = base64.b64encode(raw).decode()
rules = mb.find('rules')
n = int(rules.get('next-id'))
other = next(r for r in org['recipients'] if r is not me and r.get('target'))['source']['smtp']
def rule(name, enabled, unsupported, action):
    global n
    r = ET.SubElement(rules, q('Rule'))
    for k, v in (('RuleId', 'R%d' % n), ('DisplayName', name), ('Priority', str(n)),
                 ('IsEnabled', enabled)):
        ET.SubElement(r, q(k)).text = v
    if unsupported: ET.SubElement(r, q('IsNotSupported')).text = 'true'
    c = ET.SubElement(ET.SubElement(r, q('Conditions')), q('FromAddresses'))
    a = ET.SubElement(c, q('Address'))
    ET.SubElement(a, q('EmailAddress')).text = other
    ET.SubElement(a, q('RoutingType')).text = 'SMTP'
    act = ET.SubElement(r, q('Actions'))
    if action: ET.SubElement(ET.SubElement(act, q('MoveToFolder')), q('FolderId'), {'Id': fid})
    else: ET.SubElement(act, q('MarkAsRead')).text = 'true'
    n += 1
rule('Disabled rule', 'false', False, False)
rule('Client only', 'true', True, False)
rule('To a source-only folder', 'true', False, True)
# exceptions, forward as attachment, an SMS alert (MOBILE stays as it is)
mig = [r['source']['smtp'] for r in org['recipients'] if r is not me and r.get('target')]
r = ET.SubElement(rules, q('Rule'))
for k, v in (('RuleId', 'R%d' % n), ('DisplayName', 'With exceptions'), ('Priority', str(n)),
             ('IsEnabled', 'true')):
    ET.SubElement(r, q(k)).text = v
def ad(parent, addr, rt):
    a = ET.SubElement(parent, q('Address'))
    ET.SubElement(a, q('EmailAddress')).text = addr
    ET.SubElement(a, q('RoutingType')).text = rt
ad(ET.SubElement(ET.SubElement(r, q('Conditions')), q('SentToAddresses')), mig[0], 'SMTP')
ad(ET.SubElement(ET.SubElement(r, q('Exceptions')), q('FromAddresses')), mig[1], 'SMTP')
act = ET.SubElement(r, q('Actions'))
ad(ET.SubElement(act, q('ForwardAsAttachmentToRecipients')), mig[2], 'SMTP')
ad(ET.SubElement(act, q('SendSMSAlertToRecipients')), '+15550100', 'MOBILE')
ET.SubElement(act, q('StopProcessingRules')).text = 'true'
n += 1
rules.set('next-id', str(n))
own = [r for r in org['recipients'] if r is not me and r.get('target')][-1]
# a third source delegate with a Custom level EWS cannot write
dels = mb.find('delegates')
have = {e.text.lower() for e in dels.iter(q('PrimarySmtpAddress'))}
third = next(r for r in org['recipients'] if r is not me and r is not own and r.get('target')
             and r['source']['smtp'].lower() not in have)
du = ET.SubElement(dels, q('DelegateUser'))
ET.SubElement(ET.SubElement(du, q('UserId')), q('PrimarySmtpAddress')).text = third['source']['smtp']
pm = ET.SubElement(du, q('DelegatePermissions'))
ET.SubElement(pm, q('CalendarFolderPermissionLevel')).text = 'Reviewer'
ET.SubElement(pm, q('InboxFolderPermissionLevel')).text = 'Custom'
ET.SubElement(du, q('ReceiveCopiesOfMeetingMessages')).text = 'false'
ET.SubElement(du, q('ViewPrivateItems')).text = 'true'
tree.write(sys.argv[2], encoding='utf-8', xml_declaration=True)
# the target's own delegate and rule (must survive every run)
print('O', own['target']['smtp'], sep='\t')
tree = ET.parse(sys.argv[3])
mb = next(m for m in tree.getroot().iter('mailbox') if m.get('smtp') == me['target']['smtp'])
du = ET.SubElement(mb.find('delegates'), q('DelegateUser'))
uid = ET.SubElement(du, q('UserId'))
ET.SubElement(uid, q('PrimarySmtpAddress')).text = own['target']['smtp']
ET.SubElement(ET.SubElement(du, q('DelegatePermissions')), q('TasksFolderPermissionLevel')).text = 'Reviewer'
ET.SubElement(du, q('ReceiveCopiesOfMeetingMessages')).text = 'false'
ET.SubElement(du, q('ViewPrivateItems')).text = 'false'
rules = mb.find('rules')
r = ET.SubElement(rules, q('Rule'))
for k, v in (('RuleId', 'R1'), ('DisplayName', 'Target own rule'), ('Priority', '1'), ('IsEnabled', 'true')):
    ET.SubElement(r, q(k)).text = v
a = ET.SubElement(ET.SubElement(ET.SubElement(r, q('Conditions')), q('FromAddresses')), q('Address'))
ET.SubElement(a, q('EmailAddress')).text = own['target']['smtp']
ET.SubElement(a, q('RoutingType')).text = 'SMTP'
ET.SubElement(ET.SubElement(r, q('Actions')), q('MarkAsRead')).text = 'true'
for k in list(rules.attrib): del rules.attrib[k]
rules.set('next-id', '2')
tree.write(sys.argv[3], encoding='utf-8', xml_declaration=True)
