#!/usr/bin/python3
"""Dependent round trips on one clock, from the simulators' request logs
(EXSIM_REQUEST_LOG: mailbox, chain step, operation, start µs, end µs, ...).

    chain.py SRC-REQUESTS TGT-REQUESTS LOCAL-PART   the chain of that mailbox
    chain.py SRC-REQUESTS TGT-REQUESTS              the mean over the rooms (room-*)

A request extends a mailbox's chain only when it starts after an earlier
request of that mailbox, on either side, has ended: what the mailbox waits
for when both sides go out together (the sum of the sides' own counts
overstates it).  Used by round_trips.sh and the benches (benchlab.sh).
"""
import sys


def depth(rows):
    rows = sorted(rows)
    d = []
    for i, (b, _) in enumerate(rows):
        d.append(1 + max((d[j] for j in range(i) if rows[j][1] <= b), default=0))
    return max(d, default=0)


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    want = argv[2].lower() if len(argv) == 3 else None
    by = {}
    for f in argv[:2]:
        for line in open(f, encoding="utf-8"):
            r = line.rstrip("\n").split("\t")
            if len(r) < 5:
                continue
            who = r[0].lower().split("@")[0]
            if (want is None and who.startswith("room-")) or who == want:
                by.setdefault(who, []).append((int(r[3]), int(r[4])))
    if want is not None:
        print(depth(by.get(want, [])))
    else:
        chains = [depth(v) for v in by.values()]
        print("%.1f" % (sum(chains) / len(chains) if chains else 0))


if __name__ == "__main__":
    main(sys.argv[1:])
