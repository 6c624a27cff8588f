#!/usr/bin/python3
"""features_e2e_check.py ORG SRC_SEED TARGET_DUMP REPORT ROOM... — the target
mailboxes after Features=Delegates Rules Nicks SearchFolders ContactMembers
Booking Calendar and RemoveJunkEmailMessages=1, item by item against the
simulator's state dump (tests/integration/features_e2e.sh).  Prints one
"ok   what" or "FAIL what: why" line per check."""
import base64
import json
import struct
import sys
import xml.etree.ElementTree as ET

UNKNOWN = "cn=left-the-company"
BOOKING_LISTS = ("BookInPolicyLegacyDN", "RequestInPolicyLegacyDN",
                 "RequestOutOfPolicyLegacyDN", "ResourceDelegates")


def ln(el):
    return el.tag.rsplit("}", 1)[-1]


def kids(el, name):
    return [c for c in el if ln(c) == name]


def find_all(el, name):
    return [c for c in el.iter() if ln(c) == name]


def first(el, name):
    r = find_all(el, name)
    return r[0] if r else None


class Checker:
    def __init__(self):
        self.failed = 0

    def check(self, what, cond, why=""):
        if cond:
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}: {why}")


def build_map(org):
    """source DN/SMTP (lower case) → target DN/SMTP for migrated users."""
    m = {}
    for r in org["recipients"]:
        s, t = r.get("source"), r.get("target")
        if not s or not t or not r.get("migrated"):
            continue
        if s.get("legacy_dn") and t.get("legacy_dn"):
            m[s["legacy_dn"].lower()] = t["legacy_dn"]
        m[s["smtp"].lower()] = t["smtp"]
    return m


def mapped(m, v):
    return m.get(v.lower(), v)


def mailbox(root, smtp):
    for mb in root.iter():
        if ln(mb) == "mailbox" and (mb.get("smtp") or "").lower() == smtp.lower():
            return mb
    return None


def config_dict(mb, name):
    for it in mb.iter():
        if ln(it) == "item" and it.get("config") == name:
            d = first(it, "Dictionary")
            if d is None:
                return None
            out = {}
            for e in kids(d, "DictionaryEntry"):
                k = first(first(e, "DictionaryKey"), "Value").text
                v = first(e, "DictionaryValue")
                typ = first(v, "Type").text
                out[k] = (typ, [x.text or "" for x in kids(v, "Value")])
            return out
    return None


def check_booking(c, m, smtp, src_mb, tgt_mb, report):
    sd, td = config_dict(src_mb, "Calendar"), config_dict(tgt_mb, "Calendar")
    if sd is None or td is None:
        c.check(f"{smtp}: Calendar dictionary on both sides", False,
                f"source {'present' if sd else 'absent'}, target {'present' if td else 'absent'}")
        return
    for k, (typ, vals) in sorted(sd.items()):
        want = (typ, [mapped(m, v) for v in vals] if k in BOOKING_LISTS else vals)
        c.check(f"{smtp}: Booking key {k}", td.get(k) == want, f"want {want}, got {td.get(k)}")
    extra = sorted(set(td) - set(sd))
    c.check(f"{smtp}: Booking: no key the source lacks", not extra, f"extra {extra}")
    unknown = [v for k in BOOKING_LISTS for v in sd.get(k, ("", []))[1] if UNKNOWN in v]
    if unknown:
        # the engine's log names a profile; its "switch message" line names the mailbox
        guids = [l.split("}:")[0].split("{")[-1] for l in report.splitlines()
                 if f"switch message: {smtp} ->" in l and "{" in l]
        lines = [l for l in report.splitlines() for g in guids
                 if "{" + g + "}: Booking:" in l and UNKNOWN in l and "WARN" in l]
        c.check(f"{smtp}: the engine's log lists the unknown booking reference under this mailbox's profile",
                bool(guids) and bool(lines), f"profiles {guids}, no WARN line with {UNKNOWN}")


def folder_path(f, parents):
    parts = []
    while f is not None and ln(f) == "folder":
        parts.append(f.get("name") or "")
        f = parents.get(f)
    return "/".join(reversed(parts))


def search_folders(mb):
    parents = {c: p for p in mb.iter() for c in p}
    out = {}
    for f in mb.iter():
        if ln(f) == "folder" and f.get("search") == "1":
            out[f.get("name")] = (f, parents)
    return out


def constants(sp):
    return [c.get("Value") for c in find_all(sp, "Constant")]


def check_search_folders(c, m, smtp, src_mb, tgt_mb):
    ss, ts = search_folders(src_mb), search_folders(tgt_mb)
    c.check(f"{smtp}: search folders by name", sorted(ss) == sorted(ts),
            f"source {sorted(ss)}, target {sorted(ts)}")
    for name, (sf, sp_) in sorted(ss.items()):
        if name not in ts:
            continue
        tf, tp_ = ts[name]
        c.check(f"{smtp}: search folder '{name}': parent",
                folder_path(sp_.get(sf), sp_) == folder_path(tp_.get(tf), tp_),
                f"{folder_path(sp_.get(sf), sp_)} vs {folder_path(tp_.get(tf), tp_)}")
        sps, tps = first(sf, "SearchParameters"), first(tf, "SearchParameters")
        if sps is None or tps is None:
            c.check(f"{smtp}: search folder '{name}': SearchParameters", False, "missing")
            continue
        c.check(f"{smtp}: search folder '{name}': traversal",
                sps.get("Traversal") == tps.get("Traversal"), f"{sps.get('Traversal')} vs {tps.get('Traversal')}")
        want = [mapped(m, v) for v in constants(sps)]
        c.check(f"{smtp}: search folder '{name}': restriction constants mapped",
                constants(tps) == want, f"want {want}, got {constants(tps)}")
        ops = [ln(e) for e in first(sps, "Restriction").iter()]
        ops_t = [ln(e) for e in first(tps, "Restriction").iter()] if first(tps, "Restriction") is not None else []
        c.check(f"{smtp}: search folder '{name}': restriction shape", ops == ops_t, f"{ops} vs {ops_t}")
        sb, tb = base_folders(sps, src_mb), base_folders(tps, tgt_mb)
        c.check(f"{smtp}: search folder '{name}': base folders by path", sb == tb, f"{sb} vs {tb}")


def base_folders(sp, mb):
    """Base folders as folder paths in their mailbox: a DistinguishedFolderId
    by its name, a FolderId by the simulator's id (tests/exsim/ids.c: "EX",
    1, kind, mailbox GUID, 48-bit big-endian folder number)."""
    parents = {c: p for p in mb.iter() for c in p}
    folders = [f for f in mb.iter() if ln(f) == "folder"]
    byid = {f.get("id"): f for f in folders}
    bydist = {f.get("distinguished"): f for f in folders if f.get("distinguished")}
    out = []
    bf = first(sp, "BaseFolderIds")
    for b in (list(bf) if bf is not None else []):
        if ln(b) == "DistinguishedFolderId":
            f = bydist.get(b.get("Id"))
        else:
            raw = base64.b64decode(b.get("Id"))
            f = byid.get(str(int.from_bytes(raw[20:26], "big"))) if len(raw) >= 26 else None
        out.append(folder_path(f, parents) if f is not None else "?" + (b.get("Id") or ""))
    return out


def dl_members(mb):
    out = {}
    for it in mb.iter():
        if ln(it) != "item":
            continue
        mem = first(it, "Members")
        if mem is None:
            continue
        rows = []
        for mm in kids(mem, "Member"):
            box = first(mm, "Mailbox")
            rows.append((mm.get("Key"), first(box, "EmailAddress").text,
                         first(box, "RoutingType").text if first(box, "RoutingType") is not None else ""))
        name = first(it, "DisplayName")
        out[name.text if name is not None else it.get("id")] = rows
    return out


def check_dls(c, m, smtp, src_mb, tgt_mb):
    sd, td = dl_members(src_mb), dl_members(tgt_mb)
    c.check(f"{smtp}: personal DLs by name", sorted(sd) == sorted(td), f"{sorted(sd)} vs {sorted(td)}")
    for name, rows in sorted(sd.items()):
        want = [(k, mapped(m, a), rt) for k, a, rt in rows]
        c.check(f"{smtp}: DL '{name}': members mapped", td.get(name) == want, f"want {want}, got {td.get(name)}")


def autocomplete_rows(mb):
    for it in mb.iter():
        if ln(it) == "item" and it.get("config") == "Autocomplete":
            bd = first(it, "BinaryData")
            return parse_stream(base64.b64decode(bd.text)) if bd is not None and bd.text else []
    return None


def parse_stream(b):
    """Rows of (PR_ADDRTYPE, PR_EMAIL_ADDRESS, PR_SMTP_ADDRESS) (seedgen's layout)."""
    _, _, _, n = struct.unpack_from("<IIII", b, 0)
    off, rows = 16, []
    for _ in range(n):
        (np_,) = struct.unpack_from("<I", b, off)
        off += 4
        row = {}
        for _ in range(np_):
            tag, _ = struct.unpack_from("<II", b, off)
            typ = tag & 0xFFFF
            if typ in (0x001F, 0x0102):
                (ln_,) = struct.unpack_from("<I", b, off + 16)
                data = b[off + 20: off + 20 + ln_]
                off += 20 + ln_
                row[tag >> 16] = data.decode("utf-16-le").rstrip("\0") if typ == 0x001F else data
            else:
                row[tag >> 16] = struct.unpack_from("<i", b, off + 8)[0]
                off += 16
        rows.append((row.get(0x3002), row.get(0x3003), row.get(0x39FE)))
    return rows


def check_nicks(c, m, smtp, src_mb, tgt_mb):
    sr, tr = autocomplete_rows(src_mb), autocomplete_rows(tgt_mb)
    if sr is None or tr is None:
        c.check(f"{smtp}: nickname cache on both sides", False, f"source {sr is not None}, target {tr is not None}")
        return
    want = [(t, mapped(m, a), mapped(m, s)) for t, a, s in sr]
    c.check(f"{smtp}: Nicks rows: EX rows carry the target DN, SMTP rows the target SMTP",
            tr == want, f"want {want}, got {tr}")
    c.check(f"{smtp}: Nicks: at least one migrated EX row re-pointed",
            any(t == "EX" and a.lower() in m for t, a, _ in sr), "the seed has no migrated EX row")


def shared_calendar_dns(mb):
    out = []
    for it in mb.iter():
        if ln(it) != "item":
            continue
        for ep in kids(it, "ExtendedProperty") + find_all(it, "ExtendedProperty"):
            uri = first(ep, "ExtendedFieldURI")
            if uri is not None and uri.get("PropertyTag", "").lower() == "0x6854":
                raw = base64.b64decode(first(ep, "Value").text)
                out.append(raw[28:].rstrip(b"\0").decode("ascii", "replace"))
                break
    return out


def check_wlinks(c, m, smtp, src_mb, tgt_mb):
    sdn, tdn = shared_calendar_dns(src_mb), shared_calendar_dns(tgt_mb)
    want = [mapped(m, d) for d in sdn]
    c.check(f"{smtp}: shared-calendar links point at the owner's target mailbox",
            bool(sdn) and tdn == want, f"want {want}, got {tdn}")


def check_delegates_agree(c, org, smtp, tgt_mb):
    """docs/features.md "Delegates lead": every migrated resource delegate in
    the dictionary is a delegate of the target mailbox, and every delegate
    is in the dictionary under its target DN."""
    dn_of = {r["target"]["smtp"].lower(): r["target"].get("legacy_dn", "")
             for r in org["recipients"] if r.get("target")}
    td = config_dict(tgt_mb, "Calendar") or {}
    rd = [d for d in td.get("ResourceDelegates", ("", []))[1] if d.lower() in
          {v.lower() for v in dn_of.values()}]
    dels = [dn_of.get((first(d, "PrimarySmtpAddress").text or "").lower(), "?")
            for d in find_all(tgt_mb, "DelegateUser")]
    c.check(f"{smtp}: migrated ResourceDelegates and the mailbox's delegates agree",
            bool(rd) and sorted(rd) == sorted(dels), f"dictionary {rd}, delegates {dels}")


def junk_rules(mb):
    n = 0
    for it in mb.iter():
        if ln(it) != "item":
            continue
        for ep in find_all(it, "ExtendedProperty"):
            uri = first(ep, "ExtendedFieldURI")
            if uri is not None and uri.get("PropertyTag", "").lower() == "0x65eb" and \
                    first(ep, "Value").text == "JunkEmailRule":
                n += 1
    return n


# The junk settings on the junk e-mail rule (MS-OXCSPAM 3.1.4.1, 2.2.2): the
# condition with the lists, and the junk properties.  RemoveJunkEmailMessages=1
# deletes them and leaves the rule message.
JUNK_SETTINGS = ("0x0e9a", "0x6100", "0x6101", "0x6102", "0x6103", "0x6107")


def junk_settings(mb):
    """Junk e-mail rule messages still carrying a junk setting."""
    n = 0
    for it in mb.iter():
        if ln(it) != "item" or not junk_rules(it):
            continue
        tags = {first(ep, "ExtendedFieldURI").get("PropertyTag", "").lower()
                for ep in find_all(it, "ExtendedProperty") if first(ep, "ExtendedFieldURI") is not None}
        n += bool(tags & set(JUNK_SETTINGS))
    return n


def main(argv):
    org_p, src_p, dump_p, report_p, rooms = argv[0], argv[1], argv[2], argv[3], argv[4:]
    org = json.load(open(org_p, encoding="utf-8"))
    m = build_map(org)
    src, tgt = ET.parse(src_p).getroot(), ET.parse(dump_p).getroot()
    report = open(report_p, encoding="utf-8", errors="replace").read()
    c = Checker()
    repointed = 0
    for smtp in rooms:
        tsmtp = m.get(smtp.lower())
        smb, tmb = mailbox(src, smtp), mailbox(tgt, tsmtp or "")
        c.check(f"{smtp}: source and target mailboxes in the dumps", smb is not None and tmb is not None,
                f"target {tsmtp}")
        if smb is None or tmb is None:
            continue
        check_booking(c, m, smtp, smb, tmb, report)
        check_search_folders(c, m, smtp, smb, tmb)
        check_dls(c, m, smtp, smb, tmb)
        check_nicks(c, m, smtp, smb, tmb)
        check_wlinks(c, m, smtp, smb, tmb)
        check_delegates_agree(c, org, smtp, tmb)
        repointed += sum(d.lower() in m for d in shared_calendar_dns(smb))
        c.check(f"{smtp}: junk e-mail rule reset in place (RemoveJunkEmailMessages=1)",
                junk_rules(tmb) >= 1 and junk_settings(tmb) == 0,
                f"{junk_rules(tmb)} junk e-mail rule message(s), {junk_settings(tmb)} with settings left")
    c.check(f"at least one shared-calendar link names a migrated owner ({repointed})", repointed >= 1,
            "the seed gives no room a migrated calendar owner: the re-pointing is not exercised")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
