#!/usr/bin/python3
"""Generate one test organisation (source and target sides) as org.json.

The format is described in tests/lab/ORG-FORMAT.md.  Deterministic: the same
arguments give byte-identical output.  Standard library only.

    orggen.py --users 20 --rooms 10 --equipment 5 --seed 1 -o org.json
"""
import argparse
import json
import random
import sys
import uuid

ADMIN_GROUP = "Exchange Administrative Group (FYDIBOHF23SPDLT)"


def side(domain, netbios, org, rng):
    dc = ",".join("dc=" + p for p in domain.split("."))
    return {
        "domain": domain, "netbios": netbios, "base_dn": dc, "org": org,
        "admin_group": ADMIN_GROUP, "ews_host": "mail." + domain,
        "deployment_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    }


def guid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def endpoint(sd, name, kind, rng, old_org=None):
    ou = "Users" if kind == "user" else "Resources"
    dn_dc = ",".join("DC=" + p for p in sd["domain"].split("."))
    smtp = f"{name}@{sd['domain']}"
    proxies = [f"SMTP:{smtp}", f"smtp:{name.replace('-', '.')}@{sd['domain']}"]
    if old_org:
        proxies.append(f"X500:/o={old_org}/ou={ADMIN_GROUP}/cn=Recipients/cn={name}")
    return {
        "dn": f"CN={name},OU={ou},{dn_dc}",
        "smtp": smtp,
        "legacy_dn": f"/o={sd['org']}/ou={sd['admin_group']}/cn=Recipients/cn={name}",
        "proxies": proxies,
        "mailbox_guid": guid(rng),
        "object_guid": guid(rng),
        "recipient_type_details": {"room": 16, "equipment": 32, "user": 1}[kind],
    }


def generate(args):
    rng = random.Random(args.seed)
    src = side(args.source_domain, "SRC", "SourceOrg", rng)
    tgt = side(args.target_domain, "TGT", "TargetOrg", rng)
    names = ([("user", f"user-{i:04d}") for i in range(1, args.users + 1)] +
             [("room", f"room-{i:04d}") for i in range(1, args.rooms + 1)] +
             [("equipment", f"equip-{i:04d}") for i in range(1, args.equipment + 1)])
    recipients = []
    for n, (kind, name) in enumerate(names):
        migrated = (n % args.unmigrated_every) != args.unmigrated_every - 1 if args.unmigrated_every else True
        old_org = "OldOrg" if args.x500_every and n % args.x500_every == 0 else None
        r = {
            "id": name, "kind": kind,
            "display_name": name.replace("-", " ").title(),
            "sam": name,
            "source": endpoint(src, name, kind, rng, old_org),
            "target": endpoint(tgt, name, kind, rng) if migrated else None,
            "migrated": migrated,
            "problems": [],
        }
        if migrated:
            r["source"]["target_address"] = "SMTP:" + r["target"]["smtp"]
        recipients.append(r)
    add_problems(recipients, args)
    add_unicode(recipients, args)
    accounts = [
        {"side": s, "name": "admin", "upn": f"admin@{sd['domain']}",
         "password": f"Adm1n-{s}-{args.seed}!", "token": f"tok-{s}-{rng.getrandbits(64):016x}",
         "full_access": True, "impersonation": True}
        for s, sd in (("source", src), ("target", tgt))
    ]
    return {"format": 1, "seed": args.seed, "sides": {"source": src, "target": tgt},
            "accounts": accounts, "recipients": recipients}


def add_problems(recipients, args):
    """Deliberate faults, tagged so tests can find them."""
    if not args.problems or len(recipients) < 4:
        return
    a, b = recipients[-1], recipients[-2]
    shared = f"smtp:shared-{a['sam']}@" + a["source"]["smtp"].split("@")[1]
    for r in (a, b):
        r["source"]["proxies"].append(shared)
        r["problems"].append("duplicate-proxy")
    c = recipients[-3]
    c["source"]["legacy_dn"] = None
    c["problems"].append("no-legacy-dn")
    d = recipients[-4]
    if d["migrated"]:
        d["source"].pop("target_address", None)
        d["problems"].append("no-target-address")


def add_unicode(recipients, args):
    """Addresses whose letters differ only in non-ASCII case (issue 10): the
    directory compares them case-insensitively, so must the client."""
    if not args.unicode or len(recipients) < 7:
        return
    a, b, c = recipients[0], recipients[1], recipients[2]
    dom = a["source"]["smtp"].split("@")[1]
    a["source"]["proxies"].append(f"smtp:\u00c9LODIE.{a['sam']}@{dom}")   # ÉLODIE
    a["problems"].append("non-ascii-case")
    b["source"]["proxies"].append(f"smtp:zo\u00eb.twin@{dom}")            # zoë
    c["source"]["proxies"].append(f"smtp:ZO\u00cb.TWIN@{dom}")            # ZOË
    for r in (b, c):
        r["problems"].append("non-ascii-twin")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--rooms", type=int, default=5)
    p.add_argument("--equipment", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--source-domain", default="src.test")
    p.add_argument("--target-domain", default="tgt.test")
    p.add_argument("--unmigrated-every", type=int, default=7,
                   help="every Nth recipient is not migrated (0: all migrated)")
    p.add_argument("--x500-every", type=int, default=3,
                   help="every Nth recipient carries an X500 proxy from an earlier migration (0: none)")
    p.add_argument("--no-problems", dest="problems", action="store_false",
                   help="do not add the deliberate faults")
    p.add_argument("--unicode", action="store_true",
                   help="add addresses that differ only in non-ASCII case (tags non-ascii-case, "
                        "non-ascii-twin)")
    p.add_argument("-o", "--output", default="-")
    args = p.parse_args(argv)
    doc = json.dumps(generate(args), indent=1, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(doc)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(doc)


if __name__ == "__main__":
    main(sys.argv[1:])
