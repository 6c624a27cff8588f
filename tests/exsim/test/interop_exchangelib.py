#!/usr/bin/python3
"""Drive bin/exsim with a client nobody here wrote: Debian's python3-exchangelib.

    interop_exchangelib.py --url http://127.0.0.1:PORT/EWS/Exchange.asmx \
                           --seed SEED.xml --mailbox user-0001@src.test \
                           [--map src.test=PORT --map tgt.test=PORT --ad-address A
                            --ad-expect-address B --ad-expect-ews URL]

With --map, POX Autodiscover runs the way exchangelib does it against real
domains (https://DOMAIN/autodiscover/autodiscover.xml, following redirectAddr);
the test domains are mapped to 127.0.0.1:PORT inside this process only (no
resolver change, no DNS query, nothing leaves loopback).  Give the test CA in
REQUESTS_CA_BUNDLE.

Credentials are read from the seed's first <account>, or the one named by
--account (never from argv).
Expectations (folder names, item subjects, delegates, user configuration
values) are read from the same seed.  Each check prints PASS/FAIL; the last
line is "N passed, N failed".  Run with /usr/bin/python3 (Debian's).
"""
import argparse
import os
import sys
import traceback
import xml.etree.ElementTree as ET

NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
T = "{%s}" % NS_T


def seed_expectations(path, smtp, account=None):
    root = ET.parse(path).getroot()
    acct = next(x for x in root.findall("account") if account in (None, x.get("name")))
    mbx = next(m for m in root.findall("mailbox") if m.get("smtp").lower() == smtp.lower())

    def dfolder(name):
        return next(f for f in mbx.iter("folder") if f.get("distinguished") == name)

    inbox = dfolder("inbox")
    exp = {
        "user": acct.get("name"),
        "password": acct.get("password"),
        "inbox_children": sorted(f.get("name") for f in inbox.findall("folder")),
        "inbox_subjects": sorted(
            it.find(T + "Message/" + T + "Subject").text
            for it in inbox.findall("item")
            if it.get("associated") != "1" and it.find(T + "Message/" + T + "Subject") is not None),
        "delegates": sorted(
            d.find(T + "UserId/" + T + "PrimarySmtpAddress").text.lower()
            for d in mbx.findall("delegates/" + T + "DelegateUser")),
        "calendar_config": {},
        "others": [m.get("smtp") for m in root.findall("mailbox") if m is not mbx],
        "display_names": {m.get("smtp").lower(): m.get("display-name") for m in root.findall("mailbox")},
    }
    for it in dfolder("calendar").findall("item"):
        if it.get("config") == "Calendar":
            for e in it.iter(T + "DictionaryEntry"):
                exp["calendar_config"][e.find(T + "DictionaryKey/" + T + "Value").text] = \
                    e.find(T + "DictionaryValue/" + T + "Value").text
    return exp


def install_host_map(mapping):
    """Route DOMAIN and autodiscover.DOMAIN (any port) to 127.0.0.1:PORT; refuse
    every other name so no lookup or connection leaves the machine."""
    import socket
    from urllib.parse import urlparse

    from exchangelib.autodiscover.discovery.base import BaseAutodiscovery
    from exchangelib.errors import TransportError

    def target(host):
        h = (host or "").rstrip(".").lower()
        if h.startswith("autodiscover."):
            h = h[len("autodiscover."):]
        return mapping.get(h)

    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        p = target(host)
        if p:
            return real("127.0.0.1", p, *args, **kwargs)
        if host in ("127.0.0.1", "localhost", None):
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: not a test host")

    def ensure_valid_hostname(self, url):
        if not target(urlparse(url).hostname):
            raise TransportError(f"{url}: not a test host")

    socket.getaddrinfo = fake_getaddrinfo
    BaseAutodiscovery._ensure_valid_hostname = ensure_valid_hostname
    BaseAutodiscovery._get_srv_records = lambda self, hostname: []


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn):
        try:
            fn()
            self.passed += 1
            print(f"PASS {name}", flush=True)
        except Exception as e:  # any failure, including exchangelib's own errors
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            if os.environ.get("EXSIM_VERBOSE"):
                traceback.print_exc(file=sys.stdout)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--mailbox", required=True)
    ap.add_argument("--account", help="seed account to log on with (default: the first)")
    ap.add_argument("--map", action="append", default=[], help="DOMAIN=PORT")
    ap.add_argument("--only", help="comma list of check names to run (debugging)")
    ap.add_argument("--ad-address")
    ap.add_argument("--ad-expect-address")
    ap.add_argument("--ad-expect-ews")
    a = ap.parse_args(argv)
    exp = seed_expectations(a.seed, a.mailbox, a.account)

    from exchangelib import (BASIC, DELEGATE, Account, Build, Configuration, Credentials,
                             Message, Version)

    config = Configuration(service_endpoint=a.url,
                           credentials=Credentials(exp["user"], exp["password"]),
                           auth_type=BASIC, version=Version(build=Build(15, 1, 2507, 6)))
    acct = Account(primary_smtp_address=a.mailbox, config=config, autodiscover=False,
                   access_type=DELEGATE)
    r = Runner()
    state = {}

    def get_folder():
        inbox = acct.inbox
        expect(inbox.name == "Inbox", f"inbox name {inbox.name!r}")
        expect(acct.calendar.name == "Calendar", f"calendar name {acct.calendar.name!r}")

    def find_folder():
        names = sorted(f.name for f in acct.inbox.children)
        expect(names == exp["inbox_children"], f"inbox children {names} != {exp['inbox_children']}")

    def find_item():
        subjects = sorted(i.subject for i in acct.inbox.all().only("subject"))
        expect(subjects == exp["inbox_subjects"], f"inbox subjects {subjects} != {exp['inbox_subjects']}")

    def get_item():
        subj = exp["inbox_subjects"][0]
        item = acct.inbox.get(subject=subj)
        expect(item.subject == subj, f"subject {item.subject!r}")
        expect(item.item_class == "IPM.Note", f"item class {item.item_class!r}")
        fetched = list(acct.fetch(ids=[(item.id, item.changekey)]))
        expect(len(fetched) == 1 and fetched[0].subject == subj, "fetch by id")

    def create_item():
        m = Message(account=acct, folder=acct.inbox, subject="interop created", body="hello from exchangelib")
        m.save()
        expect(m.id, "no id after CreateItem")
        state["created"] = m
        subjects = [i.subject for i in acct.inbox.all().only("subject")]
        expect("interop created" in subjects, f"created item not found: {subjects}")

    def update_item():
        m = state["created"]
        m.subject = "interop updated"
        m.save(update_fields=["subject"])
        again = acct.inbox.get(id=m.id)
        expect(again.subject == "interop updated", f"subject after UpdateItem {again.subject!r}")

    def get_delegate():
        got = sorted(d.user_id.primary_smtp_address.lower() for d in acct.delegates)
        expect(got == exp["delegates"], f"delegates {got} != {exp['delegates']}")

    def get_user_config():
        uc = acct.calendar.get_user_configuration(name="Calendar")
        d = {str(k): v for k, v in (uc.dictionary or {}).items()}
        for k, v in exp["calendar_config"].items():
            expect(k in d, f"key {k} missing from {d}")
            expect(str(d[k]).lower() == v.lower(), f"{k}: {d[k]!r} != {v!r}")

    def update_user_config():
        uc = acct.calendar.get_user_configuration(name="Calendar")
        d = dict(uc.dictionary or {})
        d["piRemindDefault"] = 30
        acct.calendar.update_user_configuration(name="Calendar", dictionary=d)
        d2 = acct.calendar.get_user_configuration(name="Calendar").dictionary
        expect(d2.get("piRemindDefault") == 30, f"after update: {d2}")

    def resolve_names():
        other = exp["others"][0]
        res = acct.protocol.resolve_names([other.split("@")[0]])
        addrs = [getattr(x, "email_address", "") or "" for x in res]
        expect(other.lower() in [x.lower() for x in addrs], f"ResolveNames({other}): {res}")

    def sim(path, query=""):
        """POST (or GET stats) on the instance behind --url (loopback only)."""
        import json
        import ssl
        import urllib.request
        from urllib.parse import urlparse
        u = urlparse(a.url)
        assert u.hostname == "127.0.0.1"
        ctx = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE")) \
            if u.scheme == "https" else None
        get = path == "/_sim/stats"
        req = urllib.request.Request(f"{u.scheme}://{u.netloc}{path}{'?' + query if query else ''}",
                                     data=None if get else b"", method="GET" if get else "POST")
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            expect(resp.status == 200, f"{path}: HTTP {resp.status}")
            return json.loads(resp.read()) if get else None

    def fresh_account(**cfg):
        # exchangelib caches one Protocol (version, session pool) per endpoint
        # and credentials: drop it so this account really starts afresh.
        from exchangelib.protocol import Protocol
        Protocol.clear_cache()
        c = Configuration(service_endpoint=a.url, credentials=Credentials(exp["user"], exp["password"]),
                          auth_type=BASIC, **cfg)
        return Account(primary_smtp_address=a.mailbox, config=c, autodiscover=False, access_type=DELEGATE)

    def version_probe():
        # No version given: exchangelib probes with Exchange2019, which the
        # 2016-level schema does not know, and must step down on our answer.
        sim("/_sim/reset-stats")
        probed = fresh_account()
        expect(probed.inbox.name == "Inbox", "inbox after the version probe")
        v = probed.version
        expect((v.build.major_version, v.build.minor_version, v.build.major_build) == (15, 1, 2507),
               f"server build {v.build}")
        expect(v.api_version == "Exchange2016", f"api version {v.api_version}")
        probes = sim("/_sim/stats")["requests"].get("ConvertId", 0)
        expect(probes >= 1, f"no version probe reached the server ({probes})")

    def server_busy():
        import threading
        from exchangelib.errors import ErrorServerBusy
        busy_acct = fresh_account(max_connections=2, version=Version(build=Build(15, 1, 2507, 6)))
        busy_acct.inbox  # noqa: B018 — warm up outside the throttled window
        sim("/_sim/config", "max_concurrency=1&rtt_ms=700&backoff_ms=3000")
        errors, done = [], []

        def one():
            try:
                busy_acct.inbox.refresh()
                done.append(1)
            except ErrorServerBusy as e:
                errors.append(e)
        try:
            threads = [threading.Thread(target=one) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            sim("/_sim/config", "reset=1")
        expect(len(errors) == 1 and len(done) == 1, f"busy {errors}, served {len(done)}")
        expect(errors[0].back_off == 3.0, f"back_off {errors[0].back_off}")

    def autodiscover():
        from exchangelib.autodiscover import clear_cache
        clear_cache()
        other = Account(primary_smtp_address=a.ad_address,
                        credentials=Credentials(exp["user"], exp["password"]),
                        autodiscover=True, access_type=DELEGATE)
        expect(other.primary_smtp_address.lower() == a.ad_expect_address.lower(),
               f"autodiscovered address {other.primary_smtp_address}")
        expect(other.protocol.service_endpoint.lower() == a.ad_expect_ews.lower(),
               f"autodiscovered EWS URL {other.protocol.service_endpoint}")
        expect(other.inbox.name == "Inbox", "inbox through the autodiscovered endpoint")

    if a.map:
        install_host_map({k.lower(): int(v) for k, v in (m.split("=", 1) for m in a.map)})
        r.check("Autodiscover (POX, redirectAddr across orgs)", autodiscover)
    for name, fn in (("GetFolder", get_folder), ("FindFolder", find_folder), ("FindItem", find_item),
                     ("GetItem", get_item), ("CreateItem", create_item), ("UpdateItem", update_item),
                     ("GetDelegate", get_delegate), ("GetUserConfiguration", get_user_config),
                     ("UpdateUserConfiguration", update_user_config), ("ResolveNames", resolve_names),
                     ("Version probe (ErrorInvalidServerVersion step-down)", version_probe),
                     ("ErrorServerBusy with BackOffMilliseconds", server_busy)):
        if a.only and name not in a.only.split(","):
            continue
        r.check(name, fn)
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
