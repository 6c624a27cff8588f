#!/usr/bin/python3
"""smtp_sink.py: a small SMTP server on 127.0.0.1 for the notification tests.

Every message received is written to OUTDIR as NNN.eml (the bytes as
received) and NNN.txt (headers, then every MIME part decoded, so a test in C
can look for text inside base64 parts).  Optional STARTTLS (--cert/--key) or
implicit TLS (--implicit-tls), and
AUTH LOGIN/PLAIN against one user and a password read from a file (never from
argv).  Exits on SIGTERM.  Writes the port to --port-file once listening.
"""
import argparse
import email
import email.policy
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            base = os.path.join(self.outdir, "%03d" % self.n)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        lines = ["MAIL FROM: %s" % envelope.mail_from,
                 "RCPT TO: %s" % " ".join(envelope.rcpt_tos),
                 "AUTH: %s" % (session.authenticated and "yes" or "no")]
        for k, v in msg.items():
            lines.append("%s: %s" % (k, v))
        for part in msg.walk():
            if part.is_multipart():
                continue
            lines.append("--- part %s %s" % (part.get_content_type(), part.get_filename() or ""))
            lines.append(part.get_content() if part.get_content_maintype() == "text"
                         else repr(part.get_payload(decode=True)))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        with open(base + ".txt.tmp", "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        # the .txt appears last: a test waiting for it sees a whole message
        os.rename(base + ".eml.tmp", base + ".eml")
        os.rename(base + ".txt.tmp", base + ".txt")
        return "250 OK stored"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--implicit-tls", action="store_true",
                    help="TLS from the first byte (smtps) instead of STARTTLS")
    ap.add_argument("--user")
    ap.add_argument("--password-file")
    ap.add_argument("--port-file")
    a = ap.parse_args()

    kw = {}
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.implicit_tls:
            kw.update(ssl_context=ctx)
        else:
            kw.update(tls_context=ctx, require_starttls=True)
    if a.user:
        with open(a.password_file, encoding="utf-8") as f:
            password = f.read().strip()

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login.decode() == a.user
                  and data.password.decode() == password)
            return AuthResult(success=ok, handled=False)
        kw.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=bool(a.cert))

    ctl = Controller(Sink(a.outdir), hostname="127.0.0.1", port=a.port, **kw)
    ctl.start()
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % a.port)
        os.rename(a.port_file + ".tmp", a.port_file)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
