#!/usr/bin/python3
"""The peer of issue 13 goal 6: what a Linux admin would script today with
Debian's python3-exchangelib, for the read-side part of a room's update.

Per room, against the same simulators as our engine (127.0.0.1 only):
  1. read the delegates (GetDelegate, source);
  2. read the Autocomplete user configuration (source Inbox), map its rows'
     SMTP addresses to the target (EX rows are left as they are: the script
     has no target legacyExchangeDNs) and write it to the target room's Inbox
     (CreateUserConfiguration);
  3. read the folder tree (source; exchangelib's deep FindFolder);
  4. resolve every referenced address (delegates and Autocomplete rows) on the
     target (ResolveNames; Exchange takes one entry per request).

    peer_exchangelib.py --org org.json --source URL --target URL ROOM_SMTP...

Credentials come from org.json's accounts (never argv); Basic over TLS (the
NTLM module requests_ntlm is not installed with Debian's exchangelib); the
simulator's CA in REQUESTS_CA_BUNDLE.  Prints one line per room and
"peer: N rooms, T s, T/N s per room"; exits 1 when a room failed.
"""
import argparse
import json
import struct
import sys
import time

# Autocomplete stream (MS-OXOCFG, Outlook's "Autocomplete Stream"): the tag of
# PR_SMTP_ADDRESS_W; each property is tag . reserved . union(8) [. size . bytes]
PR_SMTP_ADDRESS_W = 0x39FE001F
# PR_EMAIL_ADDRESS_W, PR_SMTP_ADDRESS_W, PR_NICK_NAME_W: what a rewrite maps
STRING_ADDRESS_TAGS = (0x3003001F, PR_SMTP_ADDRESS_W, 0x6001001F)
VARIABLE_TYPES = (0x001F, 0x001E, 0x0102)


def parse_stream(blob):
    """The rows of an Autocomplete stream: lists of [tag, union bytes, data or None]."""
    rows = []
    if len(blob) < 16:
        return rows
    (nrows,) = struct.unpack_from("<I", blob, 12)
    off = 16
    for _ in range(nrows):
        (nprops,) = struct.unpack_from("<I", blob, off)
        off += 4
        row = []
        for _ in range(nprops):
            (tag,) = struct.unpack_from("<I", blob, off)
            union = blob[off + 8:off + 16]
            off += 16
            data = None
            if (tag & 0xFFFF) in VARIABLE_TYPES:
                (size,) = struct.unpack_from("<I", blob, off)
                data = blob[off + 4:off + 4 + size]
                off += 4 + size
            row.append([tag, union, data])
        rows.append(row)
    return rows


def build_stream(rows):
    out = struct.pack("<IIII", 0xBAADF00D, 12, 0, len(rows))
    for row in rows:
        out += struct.pack("<I", len(row))
        for tag, union, data in row:
            out += struct.pack("<II", tag, 0) + union
            if data is not None:
                out += struct.pack("<I", len(data)) + data
    return out + struct.pack("<I", 0) + struct.pack("<II", 0xBAADF00D, 0)


def rewrite(rows, to_target):
    """Each row's SMTP addresses mapped to the target; returns the addresses seen."""
    seen = []
    for row in rows:
        for prop in row:
            if prop[0] in STRING_ADDRESS_TAGS:
                addr = prop[2].decode("utf-16-le").rstrip("\0")
                if prop[0] == PR_SMTP_ADDRESS_W:
                    seen.append(addr)
                if "@" in addr:
                    prop[2] = (to_target.get(addr.lower(), addr) + "\0").encode("utf-16-le")
    return seen


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--org", required=True)
    ap.add_argument("--source", required=True, help="source base URL https://127.0.0.1:PORT")
    ap.add_argument("--target", required=True, help="target base URL")
    ap.add_argument("rooms", nargs="+")
    a = ap.parse_args(argv)
    for url in (a.source, a.target):
        if not url.split("//", 1)[-1].startswith("127.0.0.1:"):
            sys.exit(f"{url}: the peer talks to the simulators on 127.0.0.1 only")
    org = json.load(open(a.org, encoding="utf-8"))
    # the directory's mapping, as an admin's script would load it from an export
    to_target = {}
    for r in org["recipients"]:
        if r.get("target"):
            to_target[r["source"]["smtp"].lower()] = r["target"]["smtp"]

    from exchangelib import BASIC, DELEGATE, Account, Build, Configuration, Credentials, Version
    from exchangelib.services import ResolveNames

    def config(side, url):
        acct = next(x for x in org["accounts"] if x["side"] == side)
        return Configuration(service_endpoint=url + "/EWS/Exchange.asmx",
                             credentials=Credentials(acct["name"], acct["password"]),
                             auth_type=BASIC, version=Version(build=Build(15, 1, 2507, 6)))

    src_cfg, tgt_cfg = config("source", a.source), config("target", a.target)
    failed = 0
    t_all = time.monotonic()
    for room in a.rooms:
        t0 = time.monotonic()
        try:
            src = Account(room, config=src_cfg, autodiscover=False, access_type=DELEGATE)
            tgt = Account(to_target[room.lower()], config=tgt_cfg, autodiscover=False,
                          access_type=DELEGATE)
            delegates = [d.user_id.primary_smtp_address for d in src.delegates]
            uc = src.inbox.get_user_configuration(name="Autocomplete")
            rows = parse_stream(bytes(uc.binary_data or b""))
            nicks = rewrite(rows, to_target)
            tgt.inbox.create_user_configuration(name="Autocomplete", binary_data=build_stream(rows))
            folders = list(src.root.walk())
            resolved = 0
            for addr in dict.fromkeys(x.lower() for x in delegates + nicks):
                # one entry per request: the schema allows one UnresolvedEntry
                got = list(ResolveNames(protocol=tgt.protocol, chunk_size=1).call(
                    unresolved_entries=[to_target.get(addr, addr)]))
                resolved += sum(1 for g in got if not isinstance(g, Exception))
            print(f"peer: {room}: {len(delegates)} delegates, {len(nicks)} nicks, {len(folders)} folders, "
                  f"{resolved} resolved, {time.monotonic() - t0:.2f} s", flush=True)
        except Exception as e:  # any failure counts, the run goes on
            failed += 1
            print(f"peer: {room}: FAILED {type(e).__name__}: {e}", flush=True)
    t = time.monotonic() - t_all
    print(f"peer: {len(a.rooms)} rooms, {t:.2f} s, {t / len(a.rooms):.3f} s per room, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
