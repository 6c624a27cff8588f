#!/usr/bin/python3
"""graph_e2e_cmb_check.py ORG SRC_SEED BEFORE_DUMP AFTER_DUMP LOG ROOM... — the
target mailboxes after Features=ContactMembers Booking written over Microsoft
Graph (tests/integration/graph_e2e.sh), item by item against the simulator's
state dumps, with what docs/graph.md promises:
- ContactMembers: a contact's EX e-mail address of a migrated recipient is
  its target SMTP address (Graph writes no EX addresses); every other entry
  as before; personal distribution lists untouched (Graph cannot change a
  member in place), each member that needed re-pointing named in the log;
- Booking: the target's Calendar dictionary has every key of the source's,
  the booking lists' identities mapped to the target legacyExchangeDNs (from
  the target directory), every other value as the source has it; an unknown
  reference kept and named in the log.
Prints one "ok   what" or "FAIL what: why" line per check."""
import json
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from features_e2e_check import (BOOKING_LISTS, UNKNOWN, Checker, build_map, config_dict,  # noqa: E402
                                dl_members, first, kids, ln, mailbox, mapped)


def is_dn(v):
    return v.lower().startswith("/o=") or v.lower().startswith("x500:")


def contact_entries(mb):
    """display name → [(Key, address)] of every t:Contact of the mailbox."""
    out = {}
    for it in mb.iter():
        if ln(it) != "item":
            continue
        body = next((c for c in it if ln(c) == "Contact"), None)
        if body is None:
            continue
        ea = first(body, "EmailAddresses")
        rows = [(e.get("Key"), e.text or "") for e in kids(ea, "Entry")] if ea is not None else []
        out[first(body, "DisplayName").text] = rows
    return out


def main(argv):
    org_p, src_p, before_p, after_p, log_p, rooms = argv[0], argv[1], argv[2], argv[3], argv[4], argv[5:]
    org = json.load(open(org_p))
    m = build_map(org)
    smtp_of = {r["source"]["smtp"].lower(): r["target"]["smtp"] for r in org["recipients"]
               if r.get("migrated") and r.get("target")}
    smtp_by_dn = {r["source"]["legacy_dn"].lower(): r["target"]["smtp"] for r in org["recipients"]
                  if r.get("migrated") and r.get("target") and r["source"].get("legacy_dn")}
    src, before, after = (ET.parse(p).getroot() for p in (src_p, before_p, after_p))
    log = open(log_p, encoding="utf-8", errors="replace").read()
    c = Checker()
    for room in rooms:
        tgt = smtp_of.get(room.lower())
        smb, bmb, amb = mailbox(src, room), mailbox(before, tgt), mailbox(after, tgt)
        if smb is None or bmb is None or amb is None:
            c.check(f"{room}: mailbox in the seed and both dumps", False, f"target {tgt}")
            continue
        # ContactMembers: contacts
        bc, ac = contact_entries(bmb), contact_entries(amb)
        c.check(f"{tgt}: contacts by name kept", sorted(bc) == sorted(ac), f"{sorted(bc)} vs {sorted(ac)}")
        n_ex = 0
        for name, rows in sorted(bc.items()):
            want = []
            for key, a in rows:
                if is_dn(a) and a.lower() in smtp_by_dn:
                    n_ex += 1
                    want.append((key, smtp_by_dn[a.lower()]))
                else:
                    want.append((key, a))
            c.check(f"{tgt}: contact '{name}': EX addresses → target SMTP, the rest kept",
                    ac.get(name) == want, f"want {want}, got {ac.get(name)}")
        c.check(f"{tgt}: at least one contact had a migrated EX address ({n_ex})", n_ex >= 1)
        # ContactMembers: distribution lists untouched, each member to re-point reported
        bd, ad = dl_members(bmb), dl_members(amb)
        c.check(f"{tgt}: personal distribution lists untouched", bd == ad, f"{bd} vs {ad}")
        for name, rows in sorted(bd.items()):
            for _key, a, _rt in rows:
                if mapped(m, a) == a and a.lower() not in smtp_by_dn:
                    continue
                line = f'ContactMembers: not carried over Microsoft Graph: distribution list "{name}": member {a} '
                c.check(f"{tgt}: DL '{name}': member {a} reported as not carried", line in log)
        # Booking
        sd, td = config_dict(smb, "Calendar"), config_dict(amb, "Calendar")
        if sd is None or td is None:
            c.check(f"{tgt}: Calendar dictionary on both sides", False,
                    f"source {'present' if sd else 'absent'}, target {'present' if td else 'absent'}")
            continue
        n_mapped = 0
        for k, (typ, vals) in sorted(sd.items()):
            want = (typ, [mapped(m, v) for v in vals] if k in BOOKING_LISTS else vals)
            n_mapped += sum(1 for v in want[1] if v not in vals)
            c.check(f"{tgt}: Booking key {k}", td.get(k) == want, f"want {want}, got {td.get(k)}")
        c.check(f"{tgt}: Booking: identities re-pointed ({n_mapped})", n_mapped >= 1)
        extra = sorted(set(td) - set(sd))
        c.check(f"{tgt}: Booking: no key the source lacks", not extra, f"extra {extra}")
        unknown = [v for k in BOOKING_LISTS for v in sd.get(k, ("", []))[1] if UNKNOWN in v]
        for v in unknown:
            c.check(f"{tgt}: Booking: the unknown reference {v} kept and logged",
                    any("Booking:" in l and v in l and "WARN" in l for l in log.splitlines()))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
