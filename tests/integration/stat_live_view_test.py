#!/usr/bin/env python3
"""tp stat's live view (issue 13.9): on a terminal it redraws in place on the
alternate screen (home + clear to end of screen before each refresh) and gives
the screen back on exit; piped, or with --json, it prints plain lines with no
escape sequence at all.

usage: stat_live_view_test.py TP_BINARY
"""
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import time

ENTER_ALT = b"\x1b[?1049h"
LEAVE_ALT = b"\x1b[?1049l"
REDRAW = b"\x1b[H\x1b[J"
FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILED.append(what)


def run_on_pty(args, enough, limit=30.0):
    """Run args with a pty as stdout until enough(bytes so far) holds (or `limit`
    seconds pass: a loaded machine refreshes late), then SIGINT; (exit status,
    bytes written)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    data = b""
    end = time.monotonic() + limit
    interrupted = False
    while True:
        if not interrupted and (time.monotonic() >= end or enough(data)):
            proc.send_signal(signal.SIGINT)
            interrupted = True
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
        elif interrupted and proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=10), data


def run_piped(args, enough, limit=30.0):
    """The same with stdout a pipe, read as it comes."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    data = b""
    end = time.monotonic() + limit
    while time.monotonic() < end and not enough(data):
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            data += chunk
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    return proc.returncode, data + out


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tp = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="tp-stat-live-", dir="/dev/shm") as d:
        # the first refresh comes after 1.5 s, then one every 0.2 s
        rc, data = run_on_pty([tp, "stat", d, "--interval", "0.2"], lambda b: b.count(REDRAW) >= 3)
        check(rc == 0, "stat on a terminal exits 0 on SIGINT (got %d)" % rc)
        check(data.startswith(ENTER_ALT), "it switches to the alternate screen first")
        check(data.count(REDRAW) >= 3, "each refresh homes the cursor and clears to the end (%d redraws)" % data.count(REDRAW))
        check(data.count(b"tp stat ") == data.count(REDRAW), "every snapshot is preceded by a redraw")
        check(LEAVE_ALT in data and data.rstrip().endswith(LEAVE_ALT), "it gives the main screen back on exit")

        rc, data = run_piped([tp, "stat", d, "--interval", "0.2"], lambda b: b.count(b"tp stat ") >= 3)
        check(rc == 0, "piped stat exits 0 on SIGINT")
        check(data.count(b"tp stat ") >= 3, "piped stat prints one block per refresh")
        check(b"\x1b" not in data, "piped stat writes no escape sequence")

        rc, data = run_on_pty([tp, "stat", d, "--interval", "0.2", "--json"], lambda b: b.count(b"\n") >= 3)
        check(rc == 0, "--json on a terminal exits 0")
        lines = [l for l in data.replace(b"\r\n", b"\n").split(b"\n") if l]
        check(len(lines) >= 3 and all(l.startswith(b"{") for l in lines), "--json on a terminal prints JSON lines")
        check(b"\x1b" not in data, "--json on a terminal writes no escape sequence")

        rc, data = run_on_pty([tp, "stat", d, "--once"], lambda b: False, 10.0)
        check(rc == 0 and b"\x1b" not in data and b"tp stat " in data, "--once on a terminal prints one plain snapshot")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
