#!/usr/bin/python3
"""Drive an interactive program through a pseudo-terminal, as an admin at a
terminal (or over SSH) would: wait for each expected prompt, type the answer.

usage: pty_drive.py TRANSCRIPT ANSWERS.json -- COMMAND [ARGS...]

ANSWERS.json is a list of [expected text, line to type]; the text must appear
in the output (after what earlier steps consumed) within 10 s; a null line
types nothing (just wait for the text).  The whole
terminal output goes to TRANSCRIPT.  With PTY_REPORT_ECHO=1 the terminal's
echo mode after the program ended is printed on stderr ("pty_drive: echo=on").  Exit status: the program's, or 100 when
a prompt did not come (the transcript tail is printed), 101 on a timeout at
exit.  Every wait is bounded."""
import json
import os
import pty
import select
import sys
import time


def read_some(fd, buf, deadline):
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        buf.extend(data)
        return True
    return False


def main():
    transcript, answers_file = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    answers = json.load(open(answers_file))
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = bytearray()
    pos = 0
    status = None
    for want, send in answers:
        deadline = time.monotonic() + 10
        w = want.encode()
        while out.find(w, pos) < 0 and time.monotonic() < deadline:
            if not read_some(fd, out, deadline):
                break
        at = out.find(w, pos)
        if at < 0:
            open(transcript, "wb").write(bytes(out))
            sys.stderr.write("pty_drive: no prompt %r; output ends with:\n%s\n"
                             % (want, bytes(out[-600:]).decode(errors="replace")))
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return 100
        pos = at + len(w)
        time.sleep(0.02)  # let the program switch echo off before typing a secret
        if send is not None:
            os.write(fd, send.encode() + b"\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        read_some(fd, out, min(deadline, time.monotonic() + 0.2))
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    while read_some(fd, out, time.monotonic() + 0.2):
        pass
    open(transcript, "wb").write(bytes(out))
    if os.environ.get("PTY_REPORT_ECHO"):
        # the terminal as the program left it (the master sees the slave's modes)
        import termios
        try:
            lflag = termios.tcgetattr(fd)[3]
            sys.stderr.write("pty_drive: echo=%s\n" % ("on" if lflag & termios.ECHO else "off"))
        except termios.error as e:
            sys.stderr.write("pty_drive: echo=unknown (%s)\n" % e)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return 101
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
