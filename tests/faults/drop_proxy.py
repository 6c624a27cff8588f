#!/usr/bin/python3
"""drop_proxy.py — a TCP proxy on 127.0.0.1 that loses connections, to test
what a client does when its server goes away mid-run (issue 11).

    drop_proxy.py --target 127.0.0.1:PORT --port-file F [--max-age-ms N]
                  [--down-file D]

Listens on a free port of 127.0.0.1 (written to F) and forwards every
connection to the target.  A connection older than N ms is closed on both
sides (a DC that restarted, a NAT that forgot it).  While the file D exists
new connections are refused (closed at once): the server is "stopped".
Never connects anywhere but the given 127.0.0.1 target.  Stop it by PID."""
import argparse
import os
import selectors
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--max-age-ms", type=int, default=0)
    ap.add_argument("--down-file")
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    if host != "127.0.0.1":
        raise SystemExit("drop_proxy: the target must be on 127.0.0.1")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, a.port_file)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    pairs = {}  # socket -> (peer, born)

    def close(s):
        peer, _ = pairs.pop(s, (None, 0))
        for x in (s, peer):
            if x is not None:
                try:
                    sel.unregister(x)
                except (KeyError, ValueError):
                    pass
                pairs.pop(x, None)
                x.close()

    while True:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            if s is ls:
                c, _ = ls.accept()
                if a.down_file and os.path.exists(a.down_file):
                    c.close()
                    continue
                try:
                    u = socket.create_connection((host, int(port)), timeout=5)
                except OSError:
                    c.close()
                    continue
                now = time.monotonic()
                pairs[c] = (u, now)
                pairs[u] = (c, now)
                sel.register(c, selectors.EVENT_READ, None)
                sel.register(u, selectors.EVENT_READ, None)
                continue
            if s not in pairs:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                close(s)
                continue
            try:
                pairs[s][0].sendall(data)
            except OSError:
                close(s)
        if a.max_age_ms:
            now = time.monotonic()
            for s in [s for s, (_, born) in pairs.items() if now - born > a.max_age_ms / 1000]:
                if s in pairs:
                    close(s)


if __name__ == "__main__":
    main()
