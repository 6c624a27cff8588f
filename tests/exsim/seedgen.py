#!/usr/bin/python3
"""Make the Exchange simulator's seed (one instance) from an org.json.

The seed format is described in tests/exsim/SEED-FORMAT.md.  Deterministic:
the same org.json and arguments give byte-identical output.  Stdlib only.

    seedgen.py --org org.json --side source -o source-seed.xml

--big-rooms N gives the first N rooms of the org the content of a large
resource mailbox (BIG: 200 delegates, 200 rules, 2,000 Autocomplete rows)
beside the small ones (SMALL), for the per-mailbox cost benchmarks (issue 13).
"""
import argparse
import base64
import json
import random
import struct
import sys
import uuid
import xml.etree.ElementTree as ET

NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
T = "{%s}" % NS_T

# EWS distinguished folders: (distinguished name, display name, folder class, parent).
# "root" is the mailbox root; the IPM subtree is msgfolderroot.
STD_FOLDERS = [
    ("msgfolderroot", "Top of Information Store", "IPF.Note", "root"),
    ("inbox", "Inbox", "IPF.Note", "msgfolderroot"),
    ("calendar", "Calendar", "IPF.Appointment", "msgfolderroot"),
    ("contacts", "Contacts", "IPF.Contact", "msgfolderroot"),
    ("tasks", "Tasks", "IPF.Task", "msgfolderroot"),
    ("notes", "Notes", "IPF.StickyNote", "msgfolderroot"),
    ("journal", "Journal", "IPF.Journal", "msgfolderroot"),
    ("drafts", "Drafts", "IPF.Note", "msgfolderroot"),
    ("sentitems", "Sent Items", "IPF.Note", "msgfolderroot"),
    ("deleteditems", "Deleted Items", "IPF.Note", "msgfolderroot"),
    ("junkemail", "Junk Email", "IPF.Note", "msgfolderroot"),
    ("outbox", "Outbox", "IPF.Note", "msgfolderroot"),
    ("searchfolders", "Finder", "", "root"),
    (None, "Common Views", "", "root"),
]

# MS-OXOCFG 2.2.9 WunderBar link properties (tags from MS-OXPROPS).
WLINK_TYPE, WLINK_FLAGS, WLINK_ORDINAL = "0x6849", "0x684A", "0x684B"
WLINK_ENTRYID, WLINK_RECKEY, WLINK_FOLDERTYPE = "0x684C", "0x684D", "0x684F"
WLINK_GROUP_CLSID, WLINK_GROUP_NAME, WLINK_SECTION = "0x6850", "0x6851", "0x6852"
WLINK_CALENDAR_COLOR, WLINK_ABEID, WLINK_GROUP_HEADER_ID = "0x6853", "0x6854", "0x6842"
FOLDER_CLSID = {"calendar": "{02780600-0000-0000-C000-000000000046}",
                "contacts": "{01780600-0000-0000-C000-000000000046}",
                "inbox": "{00780600-0000-0000-C000-000000000046}"}
AB_PROVIDER = bytes.fromhex("DCA740C8C042101AB4B908002B2FE182")


def guid_bytes(s):
    """A GUID string in its Windows binary layout (first three fields little-endian)."""
    return uuid.UUID(s).bytes_le


def folder_entryid(mbx, counter):
    """MS-OXCDATA 2.2.4.1 Folder EntryID (46 bytes)."""
    return (b"\0" * 4 + guid_bytes(mbx["mailbox_guid"]) + struct.pack("<H", 1) +
            guid_bytes(mbx["db_guid"]) + counter.to_bytes(6, "big") + b"\0\0")


def message_entryid(mbx, folder_counter, counter):
    """MS-OXCDATA 2.2.4.2 Message EntryID (70 bytes)."""
    db = guid_bytes(mbx["db_guid"])
    return (b"\0" * 4 + guid_bytes(mbx["mailbox_guid"]) + struct.pack("<H", 7) +
            db + folder_counter.to_bytes(6, "big") + b"\0\0" +
            db + counter.to_bytes(6, "big") + b"\0\0")


def ab_entryid(legacy_dn):
    """MS-OXCDATA 2.2.5.2 Address Book EntryID of a local mail user."""
    return b"\0" * 4 + AB_PROVIDER + struct.pack("<II", 1, 0) + legacy_dn.encode("ascii") + b"\0"


def ews_id(mbx, kind, counter):
    """The simulator's EWS id (SEED-FORMAT.md): 'EX' 01 kind guid counter(6) 00."""
    raw = b"EX\x01" + kind.encode() + guid_bytes(mbx["mailbox_guid"]) + counter.to_bytes(6, "big") + b"\0"
    return base64.b64encode(raw).decode("ascii")


def b64(data):
    return base64.b64encode(data).decode("ascii")


def sub(parent, tag, text=None, **attrs):
    e = ET.SubElement(parent, tag, {k.replace("_", "-") if not k[0].isupper() else k: str(v)
                                    for k, v in attrs.items()})
    if text is not None:
        e.text = str(text)
    return e


def tsub(parent, name, text=None, **attrs):
    e = ET.SubElement(parent, T + name, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        e.text = str(text)
    return e


def ext_prop(item, tag, ptype, value):
    ep = tsub(item, "ExtendedProperty")
    tsub(ep, "ExtendedFieldURI", PropertyTag=tag, PropertyType=ptype)
    tsub(ep, "Value", value)


class Size:
    """How much a mailbox refers to: delegates, rules and Autocomplete rows."""

    def __init__(self, delegates, rules, nicks):
        self.delegates, self.rules, self.nicks = delegates, rules, nicks


SMALL = Size(2, 4, 4)
# The large room of issue 13: a room many people book for, with a long
# Autocomplete list; its references cost round trips per address today.
BIG = Size(200, 200, 2000)


class Box:
    """One mailbox being generated: hands out ids from its counter."""

    def __init__(self, rec, ep, node, size=SMALL):
        self.rec, self.ep, self.node, self.size = rec, ep, node, size
        self.next = 1
        self.folders = {}

    def new_id(self):
        n = self.next
        self.next += 1
        return n

    def folder(self, parent, name, cls, distinguished=None):
        fid = self.new_id()
        f = sub(parent, "folder", id=fid, name=name)
        if cls:
            f.set("class", cls)
        if distinguished:
            f.set("distinguished", distinguished)
            self.folders[distinguished] = (f, fid)
        return f, fid

    def item(self, folder, kind, item_class, subject, associated=False):
        iid = self.new_id()
        it = sub(folder, "item", id=iid)
        if associated:
            it.set("associated", "1")
        body = tsub(it, kind)
        tsub(body, "ItemClass", item_class)
        tsub(body, "Subject", subject)
        return it, body, iid


def mailbox_mail(rec_side, rec):
    return rec_side["smtp"]


def make_folders(box, side):
    root, rid = box.folder(box.node, "", "", "root")
    for dist, name, cls, parent in STD_FOLDERS:
        pnode = box.folders[parent][0]
        f, fid = box.folder(pnode, name, cls, dist)
        if dist is None:
            box.folders["commonviews"] = (f, fid)
    inbox = box.folders["inbox"][0]
    proj, pid = box.folder(inbox, "Projects", "IPF.Note")
    box.folders["projects"] = (proj, pid)
    arch, aid = box.folder(proj, "Archive 2019", "IPF.Note")
    box.folders["archive"] = (arch, aid)
    box.folder(box.folders["msgfolderroot"][0], "Reports", "IPF.Note")
    box.folder(box.folders["calendar"][0], "Team Calendar", "IPF.Appointment")


def make_mail(box, others, side):
    inbox = box.folders["inbox"][0]
    for n, other in enumerate(others[:3]):
        o = other[side]
        _, body, _ = box.item(inbox, "Message", "IPM.Note", f"Status report {n + 1}")
        tsub(body, "Body", f"Report {n + 1} from {o['smtp']}", BodyType="Text")
        snd = tsub(body, "Sender")
        mb = tsub(snd, "Mailbox")
        tsub(mb, "Name", other["display_name"])
        tsub(mb, "EmailAddress", o["smtp"])
        tsub(mb, "RoutingType", "SMTP")
        tsub(body, "IsRead", "false" if n == 0 else "true")
    _, body, _ = box.item(box.folders["archive"][0], "Message", "IPM.Note", "Old archive note")
    _, body, _ = box.item(box.folders["drafts"][0], "Message", "IPM.Note", "Draft reply")


def make_junk_rule(box, others):
    """The Inbox's junk e-mail rule (MS-OXORULE 2.2.4 extended rule message,
    provider "JunkEmailRule").  Its condition blob stands for the safe and
    blocked senders lists; here opaque bytes naming two senders."""
    _, body, _ = box.item(box.folders["inbox"][0], "Message", "IPM.ExtendedRule.Message",
                          "Junk E-mail Rule", True)
    ext_prop(body, "0x65EC", "String", "Junk E-mail Rule")
    ext_prop(body, "0x65EB", "String", "JunkEmailRule")
    ext_prop(body, "0x65E9", "Integer", 1)
    ext_prop(body, "0x65F3", "Integer", 0)
    lists = ";".join(o["source"]["smtp"] for o in others[:2]) + "|spam@example.net"
    ext_prop(body, "0x0E9A", "Binary", b64(lists.encode("utf-16-le")))


def make_contacts(box, others, side):
    cont = box.folders["contacts"][0]
    contact_ids = []
    for other in others[:2]:
        o = other[side]
        _, body, cid = box.item(cont, "Contact", "IPM.Contact", other["display_name"])
        tsub(body, "DisplayName", other["display_name"])
        tsub(body, "GivenName", other["display_name"].split()[0])
        ea = tsub(body, "EmailAddresses")
        # a contact added from the GAL carries the EX address (legacyExchangeDN)
        ex = not contact_ids and o.get("legacy_dn")
        tsub(ea, "Entry", o["legacy_dn"] if ex else o["smtp"], Key="EmailAddress1")
        tsub(body, "Surname", other["display_name"].split()[-1])
        contact_ids.append((cid, other))
    _, body, _ = box.item(cont, "DistributionList", "IPM.DistList", "Project team")
    tsub(body, "DisplayName", "Project team")
    members = tsub(body, "Members")
    for n, other in enumerate(others[:4]):
        o = other[side]
        m = tsub(members, "Member", Key=f"m{n + 1}")
        mb = tsub(m, "Mailbox")
        tsub(mb, "Name", other["display_name"])
        if n % 2 == 0 and o.get("legacy_dn"):
            tsub(mb, "EmailAddress", o["legacy_dn"])
            tsub(mb, "RoutingType", "EX")
        else:
            tsub(mb, "EmailAddress", o["smtp"])
            tsub(mb, "RoutingType", "SMTP")
        tsub(mb, "MailboxType", "Mailbox")
        tsub(m, "Status", "Normal")
    # a second contact folder: a list mixing an external one-off, a GAL user
    # by EX address and another recipient as an SMTP one-off
    team, _ = box.folder(cont, "Partner contacts", "IPF.Contact")
    _, body, _ = box.item(team, "DistributionList", "IPM.DistList", "Partners")
    tsub(body, "DisplayName", "Partners")
    members = tsub(body, "Members")
    rows = [("Partner Contact", "partner@example.org", "SMTP", "OneOff")]
    for n, other in enumerate(others[1:3]):
        o = other[side]
        ex = n == 0 and o.get("legacy_dn")
        rows.append((other["display_name"], o["legacy_dn"] if ex else o["smtp"],
                     "EX" if ex else "SMTP", "Mailbox" if ex else "OneOff"))
    for n, (name, address, rt, mt) in enumerate(rows):
        m = tsub(members, "Member", Key=f"p{n + 1}")
        mb = tsub(m, "Mailbox")
        tsub(mb, "Name", name)
        tsub(mb, "EmailAddress", address)
        tsub(mb, "RoutingType", rt)
        tsub(mb, "MailboxType", mt)
        tsub(m, "Status", "Normal")


def make_search_folder(box, others):
    finder = box.folders["searchfolders"][0]
    sf, _ = box.folder(finder, "Unread mail", "IPF.Note")
    sf.set("search", "1")
    sp = tsub(sf, "SearchParameters", Traversal="Deep")
    res = tsub(sp, "Restriction")
    eq = tsub(res, "IsEqualTo")
    tsub(eq, "FieldURI", FieldURI="message:IsRead")
    c = tsub(eq, "FieldURIOrConstant")
    tsub(c, "Constant", Value="false")
    bf = tsub(sp, "BaseFolderIds")
    tsub(bf, "DistinguishedFolderId", Id="inbox")
    if len(others) < 3:
        return
    # "Mail from people": Outlook keeps EX senders by legacyExchangeDN
    # (PidTagSenderEmailAddress 0x0C1F) and SMTP ones by address (0x5D01)
    sf, _ = box.folder(finder, "Mail from the team", "IPF.Note")
    sf.set("search", "1")
    sp = tsub(sf, "SearchParameters", Traversal="Shallow")
    alt = tsub(tsub(sp, "Restriction"), "Or")
    for n, other in enumerate(others[:3]):
        o = other["source"]
        ex = n == 0 and o.get("legacy_dn")
        eq = tsub(alt, "IsEqualTo")
        tsub(eq, "ExtendedFieldURI", PropertyTag="0x0C1F" if ex else "0x5D01", PropertyType="String")
        tsub(tsub(eq, "FieldURIOrConstant"), "Constant", Value=o["legacy_dn"] if ex else o["smtp"])
    bf = tsub(sp, "BaseFolderIds")
    tsub(bf, "FolderId", Id=ews_id(box.ep, "F", box.folders["projects"][1]))
    tsub(bf, "DistinguishedFolderId", Id="sentitems")


def make_shortcuts(box, others, side):
    """Navigation pane shortcuts: a group header and links under it."""
    cv = box.folders["commonviews"][0]
    header_id = bytes(range(16))
    _, body, _ = box.item(cv, "Message", "IPM.Microsoft.WunderBar.Link", "My Calendars", True)
    ext_prop(body, WLINK_TYPE, "Integer", 4)
    ext_prop(body, WLINK_SECTION, "Integer", 3)
    ext_prop(body, WLINK_ORDINAL, "Binary", b64(b"\x80"))
    ext_prop(body, WLINK_GROUP_NAME, "String", "My Calendars")
    ext_prop(body, WLINK_FLAGS, "Integer", 0)
    ext_prop(body, WLINK_GROUP_HEADER_ID, "Binary", b64(header_id))
    for n, dist in enumerate(("calendar", "contacts", "inbox")):
        _, fid = box.folders[dist]
        _, body, _ = box.item(cv, "Message", "IPM.Microsoft.WunderBar.Link", dist.title(), True)
        ext_prop(body, WLINK_TYPE, "Integer", 0)
        ext_prop(body, WLINK_FLAGS, "Integer", 0)
        ext_prop(body, WLINK_SECTION, "Integer", {"calendar": 3, "contacts": 4, "inbox": 1}[dist])
        ext_prop(body, WLINK_ENTRYID, "Binary", b64(folder_entryid(box.ep, fid)))
        ext_prop(body, WLINK_RECKEY, "Binary", b64(folder_entryid(box.ep, fid)))
        ext_prop(body, WLINK_ORDINAL, "Binary", b64(bytes([0x81 + n])))
        ext_prop(body, WLINK_FOLDERTYPE, "Binary", b64(uuid.UUID(FOLDER_CLSID[dist]).bytes_le))
        if dist == "calendar":
            ext_prop(body, WLINK_GROUP_CLSID, "Binary", b64(header_id))
    if others and others[0][side].get("legacy_dn"):
        # A shared calendar of another user (its owner given by an Address Book EntryID).
        o = others[0][side]
        _, body, _ = box.item(cv, "Message", "IPM.Microsoft.WunderBar.Link",
                              others[0]["display_name"] + " - Calendar", True)
        ext_prop(body, WLINK_TYPE, "Integer", 2)
        ext_prop(body, WLINK_FLAGS, "Integer", 0)
        ext_prop(body, WLINK_SECTION, "Integer", 3)
        ext_prop(body, WLINK_ORDINAL, "Binary", b64(b"\x90"))
        ext_prop(body, WLINK_CALENDAR_COLOR, "Integer", 2)
        ext_prop(body, WLINK_ABEID, "Binary", b64(ab_entryid(o["legacy_dn"])))
        ext_prop(body, WLINK_GROUP_CLSID, "Binary", b64(header_id))


def autocomplete_stream(entries):
    """Autocomplete stream (Outlook "Autocomplete Stream" page; MS-OXOCFG): rows
    of recipient properties.  Each property: tag (4) . reserved (4) . value
    union (8) . value data.  Fixed-size values (PT_LONG) sit in the union;
    PT_UNICODE / PT_BINARY have an unused union and value data = byte count (4)
    + bytes (strings UTF-16LE with NUL)."""
    out = struct.pack("<IIII", 0xBAADF00D, 12, 0, len(entries))
    for weight, (name, addrtype, addr, smtp, eid) in enumerate(entries):
        search_key = (addrtype + ":" + addr).upper().encode("ascii") + b"\0"
        props = [(0x3001001F, name), (0x3002001F, addrtype), (0x3003001F, addr),
                 (0x39FE001F, smtp), (0x300B0102, search_key), (0x0FFE0003, 6),
                 (0x39000003, 0), (0x6001001F, smtp), (0x6004 << 16 | 0x0003, 10000 - weight)]
        if eid:
            props.append((0x0FFF0102, eid))
        out += struct.pack("<I", len(props))
        for tag, val in props:
            if isinstance(val, int):
                out += struct.pack("<IIiI", tag, 0, val, 0)
                continue
            data = val if isinstance(val, bytes) else (val + "\0").encode("utf-16-le")
            out += struct.pack("<II", tag, 0) + b"\0" * 8
            out += struct.pack("<I", len(data)) + data
    out += struct.pack("<I", 0) + struct.pack("<II", 0xBAADF00D, 0)
    return out


def make_userconfigs(box, others, side):
    inbox = box.folders["inbox"][0]
    entries = []
    for other in others[:box.size.nicks]:
        o = other[side]
        if o.get("legacy_dn"):
            entries.append((other["display_name"], "EX", o["legacy_dn"], o["smtp"],
                            ab_entryid(o["legacy_dn"])))
        else:
            entries.append((other["display_name"], "SMTP", o["smtp"], o["smtp"], b""))
    entries.append(("Partner Contact", "SMTP", "partner@example.org", "partner@example.org", b""))
    # a big room remembers more people than the org holds: external one-offs
    for n in range(len(entries), box.size.nicks):
        ext = f"contact-{n:05d}@partner{n % 50:02d}.example.org"
        entries.append((f"External Contact {n}", "SMTP", ext, ext, b""))
    it, _, _ = box.item(inbox, "Message", "IPM.Configuration.Autocomplete",
                        "IPM.Configuration.Autocomplete", True)
    it.set("config", "Autocomplete")
    tsub(it, "BinaryData", b64(autocomplete_stream(entries)))
    entries = [("piAutoProcess", "Boolean", "true"), ("piRemindDefault", "Integer32", "15"),
               ("OLPrefsVersion", "Integer32", "1")]
    if box.rec["kind"] in ("room", "equipment"):
        # resource delegates = the room's delegates (make_delegates: first two others)
        delegates = [o["source"]["legacy_dn"] for o in others[:box.size.delegates]
                     if o["source"].get("legacy_dn")]
        entries += booking_policy(others, delegates)
    calendar_config(box, entries)


UNKNOWN_DN = ("/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
              "/cn=Recipients/cn=left-the-company")


def booking_policy(others, delegates):
    """A resource's calendar processing (MS-OXOCFG 2.2.5.1.1 AutomateProcessing;
    the policy lists as Exchange stores CalendarConfiguration's BookInPolicy,
    RequestInPolicy, RequestOutOfPolicy and ResourceDelegates: legacyExchangeDNs).
    The lists name migrated and unmigrated users and one DN nobody has."""
    others = [o for o in others if o["kind"] == "user"] or others
    dns = [o["source"]["legacy_dn"] for o in others if o["source"].get("legacy_dn")]
    migrated = [o["source"]["legacy_dn"] for o in others
                if o["source"].get("legacy_dn") and o.get("migrated") and o.get("target")]
    unmigrated = [d for d in dns if d not in migrated]
    book = migrated[:2] + unmigrated[:1] + [UNKNOWN_DN]
    return [("AutomateProcessing", "Integer32", "2"), ("AllBookInPolicy", "Boolean", "false"),
            ("AllRequestInPolicy", "Boolean", "true"), ("AllRequestOutOfPolicy", "Boolean", "false"),
            ("BookingWindowInDays", "Integer32", "180"),
            ("MaximumDurationInMinutes", "Integer32", "1440"),
            ("AllowConflicts", "Boolean", "false"),
            ("BookInPolicyLegacyDN", "StringArray", book),
            ("RequestInPolicyLegacyDN", "StringArray", migrated[2:3] + unmigrated[1:2]),
            ("RequestOutOfPolicyLegacyDN", "StringArray", [UNKNOWN_DN]),
            ("ResourceDelegates", "StringArray", delegates)]


def calendar_config(box, entries):
    cal = box.folders["calendar"][0]
    it, _, _ = box.item(cal, "Message", "IPM.Configuration.Calendar",
                        "IPM.Configuration.Calendar", True)
    it.set("config", "Calendar")
    d = tsub(it, "Dictionary")
    for key, typ, val in entries:
        e = tsub(d, "DictionaryEntry")
        k = tsub(e, "DictionaryKey")
        tsub(k, "Type", "String")
        tsub(k, "Value", key)
        v = tsub(e, "DictionaryValue")
        tsub(v, "Type", typ)
        for one in (val if isinstance(val, list) else [val]):
            tsub(v, "Value", one)


DELIVER = ("DelegatesAndSendInformationToMe", "DelegatesOnly", "DelegatesAndMe")


def make_delegates(box, others, side, n):
    dl = sub(box.node, "delegates", deliver=DELIVER[n % len(DELIVER)])
    for n, other in enumerate(others[:box.size.delegates]):
        o = other[side]
        du = tsub(dl, "DelegateUser")
        uid = tsub(du, "UserId")
        tsub(uid, "PrimarySmtpAddress", o["smtp"])
        tsub(uid, "DisplayName", other["display_name"])
        perm = tsub(du, "DelegatePermissions")
        tsub(perm, "CalendarFolderPermissionLevel", "Editor" if n == 0 else "Reviewer")
        tsub(perm, "InboxFolderPermissionLevel", "None")
        tsub(du, "ReceiveCopiesOfMeetingMessages", "true" if n == 0 else "false")
        tsub(du, "ViewPrivateItems", "false")


def addr(parent, other, side):
    a = tsub(parent, "Address")
    tsub(a, "Name", other["display_name"])
    tsub(a, "EmailAddress", other[side]["smtp"])
    tsub(a, "RoutingType", "SMTP")


def make_rules(box, others, side):
    rules = sub(box.node, "rules")
    if len(others) < 3:
        return
    specs = [("From " + others[0]["display_name"], "FromAddresses", "MoveToFolder", "projects"),
             ("Copy to archive", "SentToAddresses", "CopyToFolder", "archive"),
             ("Forward to assistant", "FromAddresses", "ForwardToRecipients", None),
             ("Redirect to backup", "SentToAddresses", "RedirectToRecipients", None)]
    big = box.size.rules > len(specs)
    for n in range(box.size.rules):
        name, cond, action, folder = specs[n % len(specs)]
        if big:
            # rules are matched by name: each one distinct
            name = f"{name} {n + 1}"
        r = tsub(rules, "Rule")
        tsub(r, "RuleId", f"R{n + 1}")
        tsub(r, "DisplayName", name)
        tsub(r, "Priority", n + 1)
        tsub(r, "IsEnabled", "true")
        c = tsub(r, "Conditions")
        addr(tsub(c, cond), others[n % len(others)], side)
        a = tsub(r, "Actions")
        if folder:
            fid = box.folders[folder][1]
            tsub(tsub(a, action), "FolderId", Id=ews_id(box.ep, "F", fid))
        else:
            addr(tsub(a, action), others[(n + 1) % len(others)], side)
    rules.set("next-id", str(box.size.rules + 1))


def big_room_ids(org, n):
    """The first n rooms of the org (in its order): the big ones."""
    rooms = [r["id"] for r in org["recipients"] if r["kind"] == "room"]
    if n > len(rooms):
        sys.exit(f"--big-rooms {n}: the org has only {len(rooms)} rooms")
    return set(rooms[:n])


def size_of(rec, big, room_n):
    """--big-rooms picks rooms for BIG; --big-room N sizes every room N/N/N."""
    if rec["id"] in big:
        return BIG
    if room_n and rec["kind"] == "room":
        return Size(room_n, room_n, room_n)
    return SMALL


def generate(org, side, redirect, big_rooms=0, room_n=0):
    sd = org["sides"][side]
    rng = random.Random(f"{org.get('seed', 0)}-{side}")
    root = ET.Element("exsim-seed", {"format": "1", "side": side, "domain": sd["domain"],
                                     "netbios": sd["netbios"], "org": sd["org"],
                                     "deployment-id": sd["deployment_id"], "ews-host": sd["ews_host"]})
    for a in org["accounts"]:
        if a["side"] != side:
            continue
        sub(root, "account", name=a["name"], upn=a["upn"], password=a["password"],
            token=a.get("token") or "", full_access=int(bool(a.get("full_access"))),
            impersonation=int(bool(a.get("impersonation"))))
    hosted = [r for r in org["recipients"] if r.get(side)]
    everyone = [r for r in org["recipients"] if r.get("source")]
    big = big_room_ids(org, big_rooms)
    for rec in hosted:
        ep = dict(rec[side])
        ep["db_guid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        mb = sub(root, "mailbox", smtp=ep["smtp"], display_name=rec["display_name"],
                 guid=ep["mailbox_guid"], db_guid=ep["db_guid"], kind=rec["kind"])
        if ep.get("legacy_dn"):
            mb.set("legacy-dn", ep["legacy_dn"])
        ta = ep.get("target_address")
        if side == "source" and redirect and rec.get("migrated") and ta:
            mb.set("redirect", ta.split(":", 1)[1] if ":" in ta else ta)
        for p in ep["proxies"]:
            sub(mb, "proxy", p)
        box = Box(rec, ep, mb, size_of(rec, big, room_n))
        # Content names the other recipients by their SOURCE addresses on both
        # sides: the target's items are a copy of the source's, not yet fixed.
        others = [o for o in everyone if o is not rec]
        start = everyone.index(rec)
        others = others[start:] + others[:start]
        make_folders(box, side)
        make_mail(box, others, "source")
        make_contacts(box, others, "source")
        make_junk_rule(box, others)
        if side == "source":
            make_search_folder(box, others)
            make_shortcuts(box, others, side)
            make_userconfigs(box, others, side)
            make_delegates(box, others, side, start)
            make_rules(box, others, side)
        else:
            sub(mb, "delegates", deliver="DelegatesAndSendInformationToMe")
            sub(mb, "rules", next_id="1")
            if rec["kind"] in ("room", "equipment"):
                # a new resource on the target: processing off, no policy yet
                calendar_config(box, [("AutomateProcessing", "Integer32", "0"),
                                      ("piRemindDefault", "Integer32", "15")])
        mb.set("next-id", str(box.next))
    return root


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--org", required=True, help="org.json from tests/lab/orggen.py")
    p.add_argument("--side", required=True, choices=("source", "target"))
    p.add_argument("--no-redirect", dest="redirect", action="store_false",
                   help="source side: do not mark migrated mailboxes for Autodiscover redirectAddr")
    p.add_argument("--big-rooms", type=int, default=0, metavar="N",
                   help="the first N rooms get 200 delegates, 200 rules and 2,000 Autocomplete "
                        "rows (delegates and rooms' others are capped by the org's size)")
    p.add_argument("--big-room", type=int, default=0, metavar="N",
                   help="every room holds N delegates, N rules and N Autocomplete rows "
                        "(round_trips.sh: a big room costs the round trips a small one does)")
    p.add_argument("-o", "--output", default="-")
    args = p.parse_args(argv)
    with open(args.org, encoding="utf-8") as f:
        org = json.load(f)
    if org.get("format") != 1:
        sys.exit(f"{args.org}: unsupported format {org.get('format')!r} (expected 1)")
    ET.register_namespace("t", NS_T)
    root = generate(org, args.side, args.redirect, args.big_rooms, args.big_room)
    ET.indent(root, " ")
    doc = ET.tostring(root, encoding="unicode", xml_declaration=False)
    doc = '<?xml version="1.0" encoding="UTF-8"?>\n' + doc + "\n"
    if args.output == "-":
        sys.stdout.write(doc)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(doc)


if __name__ == "__main__":
    main(sys.argv[1:])
