#!/usr/bin/python3
"""graph_e2e_check.py ORG SRC_SEED TARGET_DUMP ROOM... — the target mailboxes
after Features=Delegates Rules written over Microsoft Graph, item by item
against the simulator's state dump (tests/integration/graph_e2e.sh), with
what docs/graph.md promises:
- Rules: every enabled source rule is a target rule of the same name, order
  and enabled state, its addresses mapped to the target SMTP addresses, its
  move/copy folders the target folders of the same path, every other test
  and action as in the source;
- Delegates: every source delegate with Calendar Editor is a target
  delegate under its target address with that role and ViewPrivateItems;
  one with Calendar Reviewer shares the target calendar with the `read`
  role (Graph's delegate roles are Editor only: the engine reports it); the
  mailbox-wide meeting-message option as in the source
  (DeliverMeetingRequests);
- nothing else: no target rule or delegate the source has not, but the
  target's own rules (names the source has not), which stay untouched;
- a rule with a test Graph has no property for is not on the target.
Prints one "ok   what" or "FAIL what: why" line per check."""
import base64
import json
import sys
import xml.etree.ElementTree as ET

T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
# docs/graph.md: conditions or exceptions Graph has no test for: the rule is not written
NOT_CARRIED = ("ItemClasses", "MessageClassifications", "WithinDateRange", "FromConnectedAccounts")
# docs/graph.md: Calendar Editor → a delegate role, Reviewer → read (a share)
AS_DELEGATE, AS_READ = "Editor", "Reviewer"


def build_map(org):
    """source SMTP (lower case) → target SMTP for migrated recipients."""
    return {r["source"]["smtp"].lower(): r["target"]["smtp"] for r in org["recipients"]
            if r.get("migrated") and r.get("target")}


def mailbox(root, smtp):
    return next((m for m in root.iter("mailbox") if (m.get("smtp") or "").lower() == smtp.lower()), None)


def folder_paths(mb):
    """The simulator's folder number → "/"-joined display-name path of that
    mailbox's folders."""
    parents = {c: p for p in mb.iter() for c in p}
    out = {}
    for f in mb.iter("folder"):
        parts, g = [], f
        while g is not None and g.tag == "folder":
            parts.append(g.get("name") or "")
            g = parents.get(g)
        out[f.get("id")] = "/".join(reversed(parts))
    return out


def folder_of(ews_id, paths):
    """A FolderId by the simulator's id layout (tests/exsim/ids.c: "EX", 1,
    kind, mailbox GUID, 48-bit big-endian folder number), either base64
    alphabet."""
    raw = base64.b64decode(ews_id.replace("-", "+").replace("_", "/") + "==")
    n = str(int.from_bytes(raw[20:26], "big")) if len(raw) >= 26 else None
    return paths.get(n, "?" + ews_id)


def canon(el, amap, paths):
    """A rule's Conditions/Actions/Exceptions as comparable text: addresses by
    mapped SMTP (amap None: as they are), folders by path."""
    if el is None:
        return []
    out = []
    for kid in el:
        name = kid.tag.replace(T, "")
        addrs = kid.findall(T + "Address")
        fid = kid.find(T + "FolderId")
        if addrs:
            v = sorted((a.findtext(T + "EmailAddress") or "").lower() for a in addrs)
            if amap is not None:
                v = sorted(amap.get(a, a).lower() for a in v)
        elif fid is not None:
            v = folder_of(fid.get("Id", ""), paths)
        elif len(kid):
            v = sorted((s.text or "") for s in kid)
        else:
            v = kid.text or ""
        out.append((name, v))
    return sorted(out, key=repr)


def rules(mb, amap, paths):
    out = []
    for r in mb.find("rules").findall(T + "Rule") if mb.find("rules") is not None else []:
        out.append({
            "name": r.findtext(T + "DisplayName"),
            "priority": int(r.findtext(T + "Priority") or 0),
            "enabled": r.findtext(T + "IsEnabled"),
            "conditions": canon(r.find(T + "Conditions"), amap, paths),
            "actions": canon(r.find(T + "Actions"), amap, paths),
            "exceptions": canon(r.find(T + "Exceptions"), amap, paths),
        })
    return sorted(out, key=lambda x: x["priority"])


def carried_not(rule):
    return any(k in NOT_CARRIED for k, _ in rule["conditions"] + rule["exceptions"])


def delegates(mb, amap, want):
    """{smtp: (level, ViewPrivateItems)} of the delegates with Calendar level
    WANT (any level when amap is None: the target), by target address."""
    d = mb.find("delegates")
    out = {}
    for u in (d.findall(T + "DelegateUser") if d is not None else []):
        smtp = (u.findtext(T + "UserId/" + T + "PrimarySmtpAddress") or "").lower()
        level = u.findtext(T + "DelegatePermissions/" + T + "CalendarFolderPermissionLevel") or "None"
        if amap is not None:
            if level != want or smtp not in amap:
                continue
            smtp = amap[smtp].lower()
        out[smtp] = (level, u.findtext(T + "ViewPrivateItems") or "false")
    return out, (d.get("deliver") if d is not None else None)


def shares(mb):
    """{smtp: role} of the calendar's non-delegate sharing (SEED-FORMAT.md)."""
    cs = mb.find("calendar-sharing")
    return {s.get("smtp").lower(): s.get("role") for s in (cs.findall("share") if cs is not None else [])}


def main(argv):
    org_p, src_p, dump_p, rooms = argv[0], argv[1], argv[2], argv[3:]
    org = json.load(open(org_p))
    amap = build_map(org)
    src, dump = ET.parse(src_p).getroot(), ET.parse(dump_p).getroot()
    failed = 0

    def check(what, cond, why=""):
        nonlocal failed
        print(f"ok   {what}" if cond else f"FAIL {what}: {why}")
        failed += not cond
    for room in rooms:
        smb, tmb = mailbox(src, room), mailbox(dump, amap[room.lower()])
        if smb is None or tmb is None:
            check(f"{room}: source and target mailboxes in the dumps", False, "missing")
            continue
        src_rules = rules(smb, amap, folder_paths(smb))
        want = [r for r in src_rules if r["enabled"] == "true" and not carried_not(r)]
        names = {r["name"] for r in src_rules}
        got = [r for r in rules(tmb, None, folder_paths(tmb)) if r["name"] in names]
        check(f"{room}: the source's {len(want)} enabled rules on the target, nothing else",
              len(want) > 0 and [r["name"] for r in want] == [r["name"] for r in got],
              f"want {[r['name'] for r in want]}, got {[r['name'] for r in got]}")
        for w, g in zip(want, got):
            for k in ("enabled", "conditions", "actions", "exceptions"):
                check(f"{room}: rule {w['name']!r}: {k}", w[k] == g[k], f"want {w[k]}, got {g[k]}")
        wd, wdeliver = delegates(smb, amap, AS_DELEGATE)
        gd, gdeliver = delegates(tmb, None, None)
        check(f"{room}: the source's {len(wd)} Calendar Editor delegates on the target, "
              "nothing else", len(wd) > 0 and sorted(wd) == sorted(gd), f"want {sorted(wd)}, got {sorted(gd)}")
        for smtp, v in sorted(wd.items()):
            check(f"{room}: delegate {smtp}: Calendar {v[0]}, ViewPrivateItems {v[1]}",
                  gd.get(smtp) == v, f"got {gd.get(smtp)}")
        check(f"{room}: meeting messages: {wdeliver}", wdeliver == gdeliver, f"got {gdeliver}")
        wr = {smtp: "read" for smtp in delegates(smb, amap, AS_READ)[0]}
        gs = shares(tmb)
        check(f"{room}: the source's {len(wr)} Calendar Reviewer delegates share the calendar as read, "
              "nothing else", len(wr) > 0 and wr == gs, f"want {wr}, got {gs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
