#!/usr/bin/python3
"""graph_e2e_nicks_sf.py ORG SRC_SEED TARGET_DUMP ROOM... — the target
mailboxes' Nicks and SearchFolders after an update written over Microsoft
Graph (tests/integration/graph_e2e.sh), item by item against the simulator's
state dump, with what docs/graph.md promises:
- Nicks (beta userConfigurations, Autocomplete binaryData): the source's
  rows in order, each migrated recipient's row pointing at its target SMTP
  address as an SMTP row (Graph gives no target legacyExchangeDN), other
  rows as they were;
- SearchFolders (v1.0 mailSearchFolder): every source search folder under
  the target's search-folder root with the same traversal and restriction
  shape, its address constants the target SMTP addresses (a sender's EX
  address property then tested as the sender's SMTP address property,
  PidTagSenderSmtpAddress 0x5D01), its base folders the target folders of
  the same path; a folder whose restriction has no OData filter is not
  there (the engine reports it).
Prints one "ok   what" or "FAIL what: why" line per check."""
import json
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from features_e2e_check import (Checker, autocomplete_rows, base_folders, constants,  # noqa: E402
                                find_all, first, folder_path, ln, search_folders)

# graph_e2e.sh's search folder whose restriction (Exists) has no OData filter
NOT_CARRIED = {"Has a follow-up flag"}
# MS-OXPROPS: the sender's EX address property and its SMTP counterpart
SMTP_PATH = {"0x0C1F": "0x5D01", "0x0065": "0x5D02"}


def smtp_map(org):
    """source DN and SMTP (lower case) → target SMTP, migrated recipients."""
    m = {}
    for r in org["recipients"]:
        s, t = r.get("source"), r.get("target")
        if s and t and r.get("migrated"):
            if s.get("legacy_dn"):
                m[s["legacy_dn"].lower()] = t["smtp"]
            m[s["smtp"].lower()] = t["smtp"]
    return m


def mailbox(root, smtp):
    return next((mb for mb in root.iter("mailbox") if (mb.get("smtp") or "").lower() == smtp.lower()), None)


def check_nicks(c, m, room, src_mb, tgt_mb):
    sr, tr = autocomplete_rows(src_mb), autocomplete_rows(tgt_mb)
    if not sr:
        c.check(f"{room}: Nicks: the source seed has an autocomplete list", False, "none")
        return
    want = []
    for t, a, s in sr:
        key = (a if t == "EX" else s or a or "").lower()
        want.append(("SMTP", m[key], m[key]) if key in m else (t, a, s))
    c.check(f"{room}: Nicks: the target's rows are the source's, migrated ones as target SMTP rows",
            tr == want, f"want {want}, got {tr}")
    c.check(f"{room}: Nicks: the seed re-points at least one EX row", any(t == "EX" for t, _, _ in sr), "")


def check_search_folders(c, m, room, src_mb, tgt_mb):
    ss, ts = search_folders(src_mb), search_folders(tgt_mb)
    for name in NOT_CARRIED & set(ss):
        c.check(f"{room}: search folder '{name}' (no OData filter): not on the target", name not in ts, "")
        del ss[name]
    c.check(f"{room}: SearchFolders: the source's by name", sorted(ss) == sorted(ts),
            f"source {sorted(ss)}, target {sorted(ts)}")
    for name, (sf, sp_) in sorted(ss.items()):
        if name not in ts:
            continue
        tf, tp_ = ts[name]
        c.check(f"{room}: search folder '{name}': under the search-folder root",
                folder_path(sp_.get(sf), sp_) == folder_path(tp_.get(tf), tp_),
                f"{folder_path(sp_.get(sf), sp_)} vs {folder_path(tp_.get(tf), tp_)}")
        sps, tps = first(sf, "SearchParameters"), first(tf, "SearchParameters")
        if tps is None:
            c.check(f"{room}: search folder '{name}': a search definition", False, "none")
            continue
        c.check(f"{room}: search folder '{name}': traversal", sps.get("Traversal") == tps.get("Traversal"),
                f"{sps.get('Traversal')} vs {tps.get('Traversal')}")
        want = [m.get((v or "").lower(), v) for v in constants(sps)]
        c.check(f"{room}: search folder '{name}': constants as target SMTP addresses",
                constants(tps) == want, f"want {want}, got {constants(tps)}")
        tags = [SMTP_PATH.get(e.get("PropertyTag"), e.get("PropertyTag")) for e in find_all(sps, "ExtendedFieldURI")]
        got = [e.get("PropertyTag") for e in find_all(tps, "ExtendedFieldURI")]
        c.check(f"{room}: search folder '{name}': EX address properties tested by SMTP address",
                got == tags, f"want {tags}, got {got}")
        shape = [ln(e) for e in first(sps, "Restriction").iter()]
        tshape = [ln(e) for e in first(tps, "Restriction").iter()] if first(tps, "Restriction") is not None else []
        c.check(f"{room}: search folder '{name}': restriction shape", shape == tshape, f"{shape} vs {tshape}")
        sb, tb = base_folders(sps, src_mb), base_folders(tps, tgt_mb)
        c.check(f"{room}: search folder '{name}': base folders by path", sb == tb, f"{sb} vs {tb}")


def main():
    org = json.load(open(sys.argv[1]))
    src, tgt = ET.parse(sys.argv[2]).getroot(), ET.parse(sys.argv[3]).getroot()
    m = smtp_map(org)
    by_src = {r["source"]["smtp"].lower(): r for r in org["recipients"] if r.get("source")}
    c = Checker()
    for room in sys.argv[4:]:
        rec = by_src.get(room.lower())
        tsmtp = rec and rec.get("target") and rec["target"]["smtp"]
        smb, tmb = mailbox(src, room), mailbox(tgt, tsmtp or "")
        if smb is None or tmb is None:
            c.check(f"{room}: mailbox on both sides", False, f"source {smb is not None}, target {tmb is not None}")
            continue
        check_nicks(c, m, room, smb, tmb)
        check_search_folders(c, m, room, smb, tmb)
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
