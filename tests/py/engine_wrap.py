#!/usr/bin/python3
"""engine_wrap.py -- stands as cpuu between switchresmb and the real engine
($ENGINE_WRAP_REAL), for the one-process-per-mailbox tests.

Every start appends its arguments as one line to $ENGINE_WRAP_LOG (the exec
count: one line per engine process).  With $ENGINE_WRAP_FAULT, an update
started with a command socket (CPUU_COMMAND_FD, cpuu_invoke.h) is hurt right
after it answered ("exit <bits>" forwarded), while it waits for its command:
    kill        SIGKILL the engine, then this wrapper: the engine died
    hang        SIGSTOP the engine and wait (at most 600 s): it hangs; the
                parent's watchdog must stop the process group
    kill-group  SIGKILL switchresmb's process group (a crash in that window;
                only for a run started with setsid, as tests/faults does)
    kill-command  pass the commands on; when the $ENGINE_WRAP_COMMAND-th
                (default 1) command of kind $ENGINE_WRAP_KIND (default "update";
                "switchmsg": a switch message the worker has the engine write)
                has been passed on, SIGKILL the engine, then this wrapper: a kept
                engine dies mid-batch (once per $ENGINE_WRAP_LOG)
$ENGINE_WRAP_EVERY=N hurts only every Nth update (default 1); kill-group
hurts once per $ENGINE_WRAP_LOG.  Anything else is the real engine, exec'ed.
"""
import os
import signal
import socket
import subprocess
import sys
import time


def log_start(log):
    if log:
        with open(log, "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\n")


def updates_so_far(log):
    with open(log) as f:
        return sum(1 for line in f if "-Cleanup" not in line.split())


def chosen(fault, log):
    if not fault or "CPUU_COMMAND_FD" not in os.environ or "-Cleanup" in sys.argv[1:]:
        return False
    if fault == "kill-group":
        try:
            os.close(os.open(log + ".hurt", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return True
        except FileExistsError:
            return False
    every = int(os.environ.get("ENGINE_WRAP_EVERY", "1"))
    return updates_so_far(log) % every == 0


def hurt(fault, pid):
    if fault == "kill":
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "hang":
        os.kill(pid, signal.SIGSTOP)
        time.sleep(600)
        os._exit(1)
    elif fault == "kill-group":
        os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)


def kill_on_command(real, log):
    """The engine gets its commands through us; the chosen update kills it."""
    theirs = int(os.environ["CPUU_COMMAND_FD"])
    ours, child_end = socket.socketpair()
    keep = [int(os.environ["CPUU_PROGRESS_FD"]), child_end.fileno()]
    if "CPUU_SECRET_FD" in os.environ:
        keep.append(int(os.environ["CPUU_SECRET_FD"]))
    env = dict(os.environ, CPUU_COMMAND_FD=str(child_end.fileno()))
    child = subprocess.Popen([real] + sys.argv[1:], env=env, pass_fds=keep)
    for fd in keep:
        if fd != child_end.fileno():
            os.close(fd)
    child_end.close()
    want = int(os.environ.get("ENGINE_WRAP_COMMAND", "1"))
    kind = os.environ.get("ENGINE_WRAP_KIND", "update").encode() + b" "
    updates, buf = 0, b""
    while True:
        data = os.read(theirs, 4096)
        if not data:
            break
        ours.sendall(data)
        buf += data
        while b"\n" in buf:
            one, buf = buf.split(b"\n", 1)
            updates += one.startswith(kind)
            if updates == want and one.startswith(kind) and once(log):
                # at once: it cannot have answered (an update takes
                # milliseconds); the parent has sent it and waits
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
                os.kill(os.getpid(), signal.SIGKILL)
    ours.close()
    rc = child.wait()
    sys.exit(rc if rc >= 0 else 128 - rc)


def once(log):
    try:
        os.close(os.open(log + ".hurt", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        return False


def main():
    real = os.environ["ENGINE_WRAP_REAL"]
    log = os.environ.get("ENGINE_WRAP_LOG", "")
    fault = os.environ.get("ENGINE_WRAP_FAULT", "")
    log_start(log)
    if fault == "kill-command" and "CPUU_COMMAND_FD" in os.environ:
        kill_on_command(real, log)
    if fault == "kill-command":
        os.execv(real, [real] + sys.argv[1:])
    if not chosen(fault, log):
        os.execv(real, [real] + sys.argv[1:])
    # the engine writes its progress to us; we forward every byte at once
    progress = int(os.environ["CPUU_PROGRESS_FD"])
    r, w = os.pipe()
    keep = [w, int(os.environ["CPUU_COMMAND_FD"])]
    if "CPUU_SECRET_FD" in os.environ:
        keep.append(int(os.environ["CPUU_SECRET_FD"]))
    env = dict(os.environ, CPUU_PROGRESS_FD=str(w))
    child = subprocess.Popen([real] + sys.argv[1:], env=env, pass_fds=keep)
    for fd in keep:
        os.close(fd)
    line = b""
    while True:
        data = os.read(r, 4096)
        if not data:
            break
        os.write(progress, data)
        line += data
        while b"\n" in line:
            one, line = line.split(b"\n", 1)
            if one.startswith(b"exit "):
                hurt(fault, child.pid)
    rc = child.wait()
    if rc < 0:   # ended by a signal: so do we, for the parent to see it
        os.kill(os.getpid(), -rc)
    sys.exit(rc)


if __name__ == "__main__":
    main()
