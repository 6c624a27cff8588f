#!/usr/bin/python3
"""Run a command and report its memory: the peak RSS of the command itself
(VmHWM, exact) and the peak of the summed PSS of its whole process tree
(proportional set size from smaps_rollup: shared library pages counted once
across the tree, not once per process as a sum of RSS would; sampled every
100 ms, so a lower bound), and the CPU time (user + sys) of the command and
every descendant it waited for.  Prints "SELF_KB TREE_KB CPU_MS" on stdout
and exits with the command's exit status (124 on --timeout).

    rss_tree.py [--timeout S] [--output FILE] -- COMMAND ARG...
"""
import argparse
import os
import resource
import subprocess
import sys
import time


def status_kb(pid, key, name="status"):
    try:
        with open(f"/proc/{pid}/{name}", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="ascii", errors="replace") as f:
                # the command name may hold spaces: ppid follows the last ')'
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_kb(root):
    kids = children_map()
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += status_kb(p, "Pss", "smaps_rollup")
        todo.extend(kids.get(p, []))
    return total


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--output", default=os.devnull, help="the command's stdout+stderr")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command")
    with open(a.output, "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    self_kb = tree = 0
    deadline = time.monotonic() + a.timeout
    rc = None
    while rc is None:
        self_kb = max(self_kb, status_kb(p.pid, "VmHWM"))
        tree = max(tree, tree_kb(p.pid))
        if time.monotonic() > deadline:
            p.kill()
            p.wait()
            rc = 124
            break
        time.sleep(0.1)
        rc = p.poll()
    # the command is this script's only child: RUSAGE_CHILDREN is its tree
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(self_kb, tree, round((ru.ru_utime + ru.ru_stime) * 1000))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
