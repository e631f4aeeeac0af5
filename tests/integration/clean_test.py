#!/usr/bin/env python3
"""tp clean with real processes (issue 13.8): in one base directory, a live
driver + producer (namespace "default") and the leftovers of a driver +
producer killed with SIGKILL (namespace "deadns"). --dry-run removes nothing
and reports what it would do; tp clean removes the dead namespace entirely and
leaves every file of the live one (which keeps publishing); once those are
killed too, tp clean leaves the base directory empty. Planted symlinks are
removed as links or skipped, never followed: a victim directory outside the
base is untouched, byte for byte.

usage: clean_test.py TP_BINARY DRIVER_HELPER
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILED.append(what)
    return cond


def tree(root):
    """{relative path: (is_dir, size)} of everything under root, symlinks as themselves."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (os.path.isdir(p) and not os.path.islink(p), st.st_size)
    return out


def wait_for(cond, seconds=20.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def epoch_rings(ns_dir):
    """header.ring paths under ns_dir/<stream>/<epoch>/."""
    rings = []
    if os.path.isdir(ns_dir):
        for s in os.listdir(ns_dir):
            sd = os.path.join(ns_dir, s)
            if s.isdigit() and os.path.isdir(sd):
                for e in os.listdir(sd):
                    r = os.path.join(sd, e, "header.ring")
                    if e.isdigit() and os.path.isfile(r):
                        rings.append(r)
    return rings


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    tp, helper = sys.argv[1], sys.argv[2]
    procs = []
    base = tempfile.mkdtemp(prefix="tp-clean-test-", dir="/dev/shm")
    victim = tempfile.mkdtemp(prefix="tp-clean-victim-")
    os.chmod(base, 0o770)
    try:
        with open(os.path.join(victim, "precious"), "w") as f:
            f.write("do not touch\n")
        cfg = os.path.join(victim, "driver.toml")  # outside the base: not part of what is cleaned
        with open(cfg, "w") as f:
            f.write('[driver]\ninstance_id = "clean-test"\n[policies]\nannounce_period_ms = 100\n'
                    '[profiles.small]\nheader_nslots = 64\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n'
                    '[streams.cam]\nstream_id = 10000\nprofile = "small"\n')
        victim_before = tree(victim)
        env = dict(os.environ, TP_DIR=base, POLICIES_LEASE_KEEPALIVE_INTERVAL_MS="100",
                   POLICIES_LEASE_EXPIRY_GRACE_INTERVALS="10", TP_CLIENT_BACKOFF_MAX_MS="200")
        env.pop("SHM_NAMESPACE", None)

        def start(args, ns):
            e = dict(env, SHM_NAMESPACE=ns)
            p = subprocess.Popen(args, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            return p

        # the dead one: driver + producer in "deadns", killed once their files exist
        dd = start([tp, "driver", "-c", cfg, "-n", "deadns"], "deadns")
        time.sleep(0.2)
        dp = start([helper, "producer", "10000", "4096", "60"], "deadns")
        users = lambda: [u for u in os.listdir(base) if u.startswith("tensorpool-")]
        check(wait_for(lambda: len(users()) == 1), "the dead driver made its user directory")
        udir = os.path.join(base, users()[0])
        dead_ns = os.path.join(udir, "deadns")
        check(wait_for(lambda: len(epoch_rings(dead_ns)) >= 1), "the dead producer's epoch exists")
        time.sleep(0.3)
        for p in (dp, dd):
            p.send_signal(signal.SIGKILL)
            p.wait()
        # planted symlinks: inside a dead epoch (to a file outside) and as a namespace
        dead_epoch = os.path.dirname(epoch_rings(dead_ns)[0])
        os.symlink(os.path.join(victim, "precious"), os.path.join(dead_epoch, "evil.pool"))
        os.symlink(victim, os.path.join(udir, "trap"))
        # join traces (tensorpool/join_trace.h): a gone process's goes, a live one's stays
        dead_trace = os.path.join(dead_ns, "join-100-%d.trace" % dp.pid)
        open(dead_trace, "wb").close()

        # the live one: driver + producer in "default"
        live_ns = os.path.join(udir, "default")
        ld = start([tp, "driver", "-c", cfg], "default")
        time.sleep(0.2)
        lp = start([helper, "producer", "10000", "4096", "60"], "default")
        check(wait_for(lambda: len(epoch_rings(live_ns)) >= 1), "the live producer's epoch exists")
        live_ring = epoch_rings(live_ns)[0]
        live_trace = os.path.join(live_ns, "join-100-%d.trace" % os.getpid())
        open(live_trace, "wb").close()
        time.sleep(0.5)

        before = tree(base)
        live_before = {k: v for k, v in before.items() if k.startswith(os.path.relpath(live_ns, base))}
        r = subprocess.run([tp, "clean", base, "--dry-run", "--json"], capture_output=True, text=True)
        check(r.returncode == 0, "tp clean --dry-run exits 0 (%d: %s)" % (r.returncode, r.stderr.strip()))
        rep = json.loads(r.stdout)
        check(rep["dry_run"] is True and rep["errors"] == [], "dry run, no errors")
        removed = [x["path"] for x in rep["removed"]]
        dead_epoch_rel = os.path.relpath(dead_epoch, base)
        check(dead_epoch_rel in removed, "the dead epoch would be removed")
        check(all("/default/" not in p and not p.endswith("/default") for p in removed),
              "nothing of the live namespace would be removed: %s" % [p for p in removed if "default" in p])
        kept = {x["path"]: x["why"] for x in rep["kept"]}
        live_epoch_rel = os.path.relpath(os.path.dirname(live_ring), base)
        check(live_epoch_rel in kept and ("alive" in kept[live_epoch_rel] or "mapped" in kept[live_epoch_rel]),
              "the live epoch is kept, with its reason: %r" % kept.get(live_epoch_rel))
        check(rep["bytes_freed"] > 0, "it would free bytes")
        after_dry = tree(base)
        check(set(after_dry) == set(before), "--dry-run removed nothing")

        r = subprocess.run([tp, "clean", base, "--json"], capture_output=True, text=True)
        check(r.returncode == 0, "tp clean exits 0 (%d: %s)" % (r.returncode, r.stderr.strip()))
        rep = json.loads(r.stdout)
        check(not os.path.exists(dead_ns), "the dead namespace is gone entirely")
        check(os.path.relpath(dead_trace, base) in [x["path"] for x in rep["removed"]],
              "the join trace of the gone process was removed")
        check(os.path.exists(live_trace), "the join trace of a live process is kept")
        check(rep["bytes_freed"] > 0 and rep["dry_run"] is False, "bytes freed reported")
        live_after = {k: v for k, v in tree(base).items() if k.startswith(os.path.relpath(live_ns, base))}
        check(set(live_before) <= set(live_after), "every file of the live namespace is still there")
        os.unlink(live_trace)
        check(lp.poll() is None and ld.poll() is None, "the live driver and producer still run")
        # the live producer keeps writing: its ring's activity is fresh
        time.sleep(0.3)
        r = subprocess.run([tp, "inspect", "--json", "--max-slots", "0", live_ring], capture_output=True, text=True)
        check(r.returncode == 0 and json.loads(r.stdout)["stale"] is False, "the live ring is still being written")
        check(tree(victim) == victim_before, "the victim outside the base is untouched")
        check(os.path.islink(os.path.join(udir, "trap")), "a symlinked namespace is skipped, not followed")

        # the producer dies; the live driver moves the stream to a new epoch. Files the
        # driver created and nobody maps any more stay while the driver (their creator) runs.
        n_epochs = len(epoch_rings(live_ns))
        lp.send_signal(signal.SIGKILL)
        lp.wait()
        check(wait_for(lambda: len(epoch_rings(live_ns)) > n_epochs), "the driver made a new epoch")
        time.sleep(0.3)
        r = subprocess.run([tp, "clean", base, "--json"], capture_output=True, text=True)
        rep = json.loads(r.stdout)
        kept = {x["path"]: x["why"] for x in rep["kept"] if x["kind"] == "epoch"}
        live_epochs = [os.path.relpath(os.path.dirname(x), base) for x in epoch_rings(live_ns)]
        check(len(live_epochs) > n_epochs and all(e in kept for e in live_epochs),
              "every epoch of the running driver is kept: %s" % kept)
        check(any(("creator, pid %d," % ld.pid) in w for w in kept.values()),
              "kept because their creator, the driver, is alive: %s" % sorted(set(kept.values())))
        check(not any("/default/" in x["path"] and x["kind"] != "log" for x in rep["removed"]),
              "nothing of the running driver removed (the dead producer's logs may go)")
        ld.send_signal(signal.SIGKILL)
        ld.wait()
        os.unlink(os.path.join(udir, "trap"))
        # closed logs linger 5 s for their readers: clean again until they are past it
        runs = []
        for _ in range(30):
            runs.append(subprocess.run([tp, "clean", base], capture_output=True, text=True))
            if not tree(base):
                break
            time.sleep(0.5)
        r = runs[0]
        check(all(x.returncode == 0 for x in runs), "tp clean after the live ones died exits 0")
        check("tp clean: %s: removed" % base in r.stdout, "text summary printed")
        check(all("lingers" in l for x in runs[:-1] for l in x.stdout.splitlines() if l.startswith("kept") and l.split()[1] == "log"),
              "the only logs kept meanwhile are lingering closed ones")
        left = tree(base)
        check(left == {}, "the base directory is left empty: %s" % sorted(left)[:8])
        check(tree(victim) == victim_before, "the victim is still untouched")

        # names planted by a neighbour (another process) reach the terminal only
        # without their control characters: no escape sequence, no forged line
        hostile_ipc = os.path.join(udir, "hostile", "ipc")
        os.makedirs(hostile_ipc)
        subprocess.run([sys.executable, "-c",
                        "import os,sys\n"
                        "for n in (b'\\x1b[31mred\\x1b[0m', b'zz\\nremoved      epoch   99.0 GiB  forged',\n"
                        "          b'c1\\xc2\\x9b31m', b'1000-1-1-1.log\\r\\x07'):\n"
                        "    open(os.path.join(os.fsencode(sys.argv[1]), n), 'wb').close()\n",
                        hostile_ipc], check=True)
        r = subprocess.run([tp, "clean", base, "--dry-run"], capture_output=True)
        out = r.stdout.decode("utf-8", "replace")
        lines = out.splitlines()
        check(r.returncode == 0 and len(lines) == 5, "one line per planted file and the summary: %r" % out)
        check(not any(c in r.stdout for c in (b"\x1b", b"\r", b"\x07", b"\xc2\x9b")),
              "no control character printed: %r" % r.stdout)
        check(all(l.split()[0] in ("kept", "would", "tp") for l in lines), "no forged line: %r" % lines)
        subprocess.run(["rm", "-rf", os.path.join(udir, "hostile")])

        r = subprocess.run([tp, "clean", "relative/dir"], capture_output=True, text=True)
        check(r.returncode == 2, "a relative DIR is refused (2)")
        r = subprocess.run([tp, "clean", os.path.join(base, "missing")], capture_output=True, text=True)
        check(r.returncode == 2, "a missing DIR is refused (2)")
        r = subprocess.run([tp, "clean", "--bogus"], capture_output=True, text=True)
        check(r.returncode == 2, "an unknown option is refused (2)")
        r = subprocess.run([tp, "clean", "--help"], capture_output=True, text=True)
        check(r.returncode == 0 and all(w in r.stdout for w in ("SYNOPSIS", "--dry-run", "EXIT STATUS")),
              "--help documents the command")
        r = subprocess.run([tp, "--help"], capture_output=True, text=True)
        check(" clean " in r.stdout, "tp --help lists clean")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", base, victim])
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
