#!/usr/bin/python3
"""Write one side of an org.json (tests/lab/ORG-FORMAT.md) as LDIF.

    org2ldif.py ORG_JSON [--side source|target] [--style slapd|ad]
                [--ext-attr N] [--site NAME] [-o FILE]

--style slapd (default): a complete tree for the slapd lab with tests/lab/ad.schema:
  the domain root, CN=Users with the side's admin account (userPassword as
  {SSHA}), OU=Users / OU=Resources with every recipient, and the configuration
  subtree CN=Configuration,<base> holding the Exchange Autodiscover SCP.
--style ad: for a real AD / Samba AD DC that already has the domain root,
  CN=Users, the admin account and CN=Configuration: only the OUs, the
  recipients (without objectGUID, which the DC assigns) and the Exchange
  containers + SCP under CN=Configuration.

Every migrated recipient carries the target address in targetAddress (what a
directory synchronisation agent writes) and, unless --ext-attr 0, the bare
target SMTP address in extensionAttributeN too (default 15), so a client can be
tested with a custom mapping attribute.  GUIDs are written in AD's byte order
(the first three fields little-endian).  Standard library only; deterministic.
"""
import argparse
import base64
import hashlib
import json
import sys
import uuid

SCP_KEYWORD = "77378F46-2C66-4aa9-A6A6-3E7A48B19596"   # Autodiscover SCP GUID


def b64(data):
    return base64.b64encode(data).decode("ascii")


def attr(lines, name, value):
    """Append one attribute line, base64 when LDIF requires it (RFC 2849)."""
    if isinstance(value, bytes):
        lines.append(f"{name}:: {b64(value)}")
        return
    value = str(value)
    unsafe = (not value or value[0] in " :<" or value[-1] == " " or
              any(ord(c) > 126 or ord(c) < 32 for c in value))
    if unsafe:
        lines.append(f"{name}:: {b64(value.encode('utf-8'))}")
    else:
        lines.append(f"{name}: {value}")


def entry(dn, attrs):
    lines = []
    attr(lines, "dn", dn)
    for name, value in attrs:
        if value is None:
            continue
        for v in (value if isinstance(value, list) else [value]):
            attr(lines, name, v)
    return "\n".join(lines) + "\n"


def ssha(password, seed):
    salt = hashlib.sha256(f"salt-{seed}".encode()).digest()[:8]
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + b64(digest + salt)


def guid_bytes(text):
    return uuid.UUID(text).bytes_le


def recipient(r, side, ext_attr, style):
    ep = r[side]
    target = ep.get("target_address")
    attrs = [
        ("objectClass", ["top", "person", "organizationalPerson", "user"]),
        ("cn", r["sam"]), ("sn", r["sam"]),
        ("displayName", r["display_name"]),
        ("sAMAccountName", r["sam"]),
        ("userPrincipalName", ep["smtp"]),
        ("mail", ep["smtp"]),
        ("proxyAddresses", ep["proxies"]),
        ("legacyExchangeDN", ep.get("legacy_dn")),
        # A real DC makes objectGUID itself and refuses one in an add.
        ("objectGUID", guid_bytes(ep["object_guid"]) if style == "slapd" else None),
        ("msExchMailboxGuid", guid_bytes(ep["mailbox_guid"])),
        ("msExchRecipientTypeDetails", ep["recipient_type_details"]),
        ("targetAddress", target),
    ]
    if target and ext_attr:
        bare = target.split(":", 1)[1] if ":" in target else target
        attrs.append((f"extensionAttribute{ext_attr}", bare))
    return entry(ep["dn"], attrs)


def config_entries(sd, base, site, with_root):
    """CN=Configuration and the Exchange path down to the Autodiscover SCP."""
    cfg = "CN=Configuration," + base
    server = sd["ews_host"].split(".")[0].upper()
    path = [cfg, "CN=Services," + cfg, "CN=Microsoft Exchange,CN=Services," + cfg]
    org = f"CN={sd['org']},CN=Microsoft Exchange,CN=Services,{cfg}"
    ags = "CN=Administrative Groups," + org
    ag = f"CN={sd['admin_group']},{ags}"
    servers = "CN=Servers," + ag
    srv = f"CN={server},{servers}"
    protocols = "CN=Protocols," + srv
    path += [org, ags, ag, servers, srv, protocols]
    out = []
    for dn in path if with_root else path[1:]:
        out.append(entry(dn, [("objectClass", ["top", "container"]),
                              ("cn", dn.split(",", 1)[0][3:])]))
    url = f"https://{sd['ews_host']}/Autodiscover/Autodiscover.xml"
    out.append(entry("CN=Autodiscover," + protocols, [
        ("objectClass", ["top", "serviceConnectionPoint"]),
        ("cn", "Autodiscover"),
        ("serviceClassName", "ms-Exchange-AutoDiscover-Service"),
        ("serviceDNSName", sd["ews_host"]),
        ("serviceBindingInformation", url),
        ("keywords", [SCP_KEYWORD, "Site=" + site]),
    ]))
    return out


def convert(org, side, style, ext_attr, site):
    sd = org["sides"][side]
    base = ",".join("DC=" + p for p in sd["domain"].split("."))
    out = []
    if style == "slapd":
        out.append(entry(base, [("objectClass", ["top", "domain"]),
                                ("dc", sd["domain"].split(".")[0])]))
        out.append(entry("CN=Users," + base, [("objectClass", ["top", "container"]),
                                              ("cn", "Users")]))
        for a in org["accounts"]:
            if a["side"] != side:
                continue
            out.append(entry(f"CN={a['name']},CN=Users,{base}", [
                ("objectClass", ["top", "person", "organizationalPerson", "user"]),
                ("cn", a["name"]), ("sn", a["name"]),
                ("sAMAccountName", a["name"]), ("userPrincipalName", a["upn"]),
                ("userPassword", ssha(a["password"], org.get("seed", 0))),
            ]))
    for ou in ("Users", "Resources"):
        out.append(entry(f"OU={ou},{base}", [("objectClass", ["top", "organizationalUnit"]),
                                              ("ou", ou)]))
    for r in org["recipients"]:
        if r.get(side):
            out.append(recipient(r, side, ext_attr, style))
    out += config_entries(sd, base, site, style == "slapd")
    return "\n".join(out)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("org_json")
    p.add_argument("--side", choices=("source", "target"), default="source")
    p.add_argument("--style", choices=("slapd", "ad"), default="slapd")
    p.add_argument("--ext-attr", type=int, default=15,
                   help="also write the bare target SMTP into extensionAttributeN (0: no)")
    p.add_argument("--site", default="Default-First-Site-Name")
    p.add_argument("-o", "--output", default="-")
    args = p.parse_args(argv)
    if not 0 <= args.ext_attr <= 15:
        p.error("--ext-attr: expected 0..15")
    with open(args.org_json, encoding="utf-8") as f:
        org = json.load(f)
    text = convert(org, args.side, args.style, args.ext_attr, args.site)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
