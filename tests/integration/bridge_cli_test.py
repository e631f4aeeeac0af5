#!/usr/bin/env python3
"""tp bridge from outside: --help, --check of a good and of bad files (exit 2
with the line and key named), a missing -c, and SIGTERM stopping a running
bridge cleanly (exit 0, status file gone) -- docs/configuration.md.

usage: bridge_cli_test.py TP_BINARY
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

TP = sys.argv[1]
results = []

GOOD = """[bridge]
instance_id = "cli"
payload_channel = "aeron:udp?endpoint=127.0.0.1:%d|mtu=8192"
control_channel = "aeron:udp?endpoint=127.0.0.1:%d|mtu=8192"
mtu_bytes = 8192
dest_stream_id_range = [30000, 30009]

[[mappings]]
direction = "receive"
source_stream_id = 10001
dest_stream_id = 0
""" % (44000 + os.getpid() % 20000, 44000 + os.getpid() % 20000)


def test(fn):
    try:
        fn()
        results.append((fn.__name__, None))
    except AssertionError as e:
        results.append((fn.__name__, str(e) or "assertion failed"))


def write(d, text):
    path = os.path.join(d, "bridge.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def help_has_the_sections():
    r = subprocess.run([TP, "bridge", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION", "EXIT STATUS", "SEE ALSO"):
        assert "\n" + s + "\n" in "\n" + r.stdout, s


def check_good_file():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([TP, "bridge", "--check", "-c", write(d, GOOD)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "chunk payload 7835 bytes" in r.stdout and "configuration ok" in r.stdout, r.stdout
        assert "receive 10001 -> 0 (from the range)" in r.stdout, r.stdout
        # BR-9.b, BR-P9: QoS forwarding and the busy timeout are accepted and shown
        text = GOOD.replace("instance_id", "forward_qos = true\ndest_busy_timeout_ms = 7000\ninstance_id")
        r = subprocess.run([TP, "bridge", "--check", "-c", write(d, text)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "forward_qos = true" in r.stdout and "dest_busy_timeout_ms = 7000" in r.stdout, r.stdout
        # BR-9.a, BR-P11: FrameProgress forwarding is accepted and shown
        text = GOOD.replace("instance_id", "forward_progress = true\ninstance_id")
        r = subprocess.run([TP, "bridge", "--check", "-c", write(d, text)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "forward_progress = true" in r.stdout, r.stdout


def check_bad_files():
    bad = [
        (GOOD + "bogus = 1\n", "unknown key"),
        (GOOD.replace("mtu_bytes = 8192", "mtu_bytes = \"big\""), "must be an integer"),
        (GOOD.replace("[30000, 30009]", "[49990, 50010]"), "overlaps the bridge's own stream ids"),
        (GOOD + "[other]\nk = 1\n", "unknown key other.k"),
        (GOOD.replace("instance_id", "forward_metadata = true\ninstance_id"), "need metadata_channel"),  # BR-7.1.a
        (GOOD.replace("instance_id", "forward_progress = 1\ninstance_id"), "forward_progress"),
        (GOOD.replace("instance_id", "forward_qos = 1\ninstance_id"), "forward_qos"),
    ]
    with tempfile.TemporaryDirectory() as d:
        for text, why in bad:
            r = subprocess.run([TP, "bridge", "--check", "-c", write(d, text)], capture_output=True, text=True)
            assert r.returncode == 2, (r.returncode, why)
            assert why in r.stderr, (why, r.stderr)
    r = subprocess.run([TP, "bridge"], capture_output=True, text=True)
    assert r.returncode == 2 and "-c FILE is required" in r.stderr, r.stderr
    r = subprocess.run([TP, "bridge", "-c", "/nonexistent/x.toml", "--check"], capture_output=True, text=True)
    assert r.returncode == 2 and "/nonexistent/x.toml" in r.stderr, r.stderr


def sigterm_stops_cleanly():
    """A receive-only bridge with no driver: it runs (its producer keeps trying
    to attach), writes its status file, and SIGTERM ends it with exit 0 and
    the file removed."""
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        env = dict(os.environ, DRIVER_CONTROL_CHANNEL="tp:ipc")
        env.pop("AERON_DIR", None)
        drv = os.path.join(d, "driver.toml")
        with open(drv, "w") as f:
            f.write('[driver]\nembedded_media_driver = true\n[profiles.p]\nheader_nslots = 16\n'
                    'payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n'
                    '[streams.s]\nstream_id = 30000\nprofile = "p"\n')
        md = subprocess.Popen([TP, "driver", "-c", drv, "-d", d],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not any("cnc.dat" in f for _, _, f in os.walk(d)):
                time.sleep(0.1)
            p = subprocess.Popen([TP, "bridge", "-c", write(d, GOOD), "-d", d], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
            status = None
            deadline = time.time() + 20
            while time.time() < deadline and p.poll() is None:
                for root, _, files in os.walk(d):
                    if "cli.status" in files:
                        status = os.path.join(root, "cli.status")
                if status:
                    break
                time.sleep(0.1)
            if status is None:
                p.kill()
                assert False, "no status file (bridge exited %r: %s)" % (p.poll(), p.communicate()[1])
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=20)
            assert p.returncode == 0, (p.returncode, err)
            assert "receive 10001 -> 30000" in err, err
            assert not os.path.exists(status)
        finally:
            md.send_signal(signal.SIGTERM)
            try:
                md.wait(timeout=20)
            except subprocess.TimeoutExpired:
                md.kill()
                md.wait()


for t in (help_has_the_sections, check_good_file, check_bad_files, sigterm_stops_cleanly):
    test(t)
for name, err in results:
    print(("ok   %s" % name) if err is None else ("FAIL %s: %s" % (name, err)))
failed = sum(1 for _, e in results if e)
print("%d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
