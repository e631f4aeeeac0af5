#!/usr/bin/env python3
"""tp view in a real browser: starts `tp demo` and `tp view` on its directory,
loads the page in headless Chromium (driven over the DevTools protocol on a
pipe, --remote-debugging-pipe: no extra packages), waits for live data and
asserts on the DOM: the three streams listed with non-zero rates, camera
thumbnails decoded at 160x120 (640x480 frames), the sequence join's timeline
with camera 2 at offset -2 and camera 1 at 0, the timestamp join's timeline.
Saves a screenshot as view_browser_test.png in the working directory (the
build's test directory). Then `tp demo --view` serves the same page and
prints its address, and `tp view` refuses a non-loopback address.

usage: view_browser_test.py TP [CHROMIUM]
Chromium is Debian's `chromium` (scripts/deps.sh installs it for the tests);
without it the test is skipped (exit 77) with a message.
"""
import base64
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77


class Chrome:
    """Minimal DevTools client over --remote-debugging-pipe (fd 3 in, fd 4 out,
    messages separated by NUL)."""

    def __init__(self, exe, profile):
        self.to_r, self.to_w = os.pipe()
        self.from_r, self.from_w = os.pipe()
        to_r, from_w = self.to_r, self.from_w
        # the shell puts the pipe ends on fds 3 and 4, where chromium expects them
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&%d 4>&%d' % (to_r, from_w), exe, "--headless", "--no-sandbox",
             "--disable-gpu", "--remote-debugging-pipe", "--user-data-dir=" + profile, "--window-size=1280,1400",
             "--no-first-run", "--disable-dev-shm-usage", "about:blank"],
            pass_fds=(to_r, from_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0

    def call(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                m = json.loads(raw)
                if m.get("id") == self.next_id:
                    if "error" in m:
                        raise RuntimeError("%s: %s" % (method, m["error"]))
                    return m.get("result", {})
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        raise RuntimeError("%s: no answer in %d s" % (method, timeout))

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_traces(work, timeout=30):
    """The join stages' trace files (join-<out>-<pid>.trace in the namespace directory)."""
    deadline = time.time() + timeout
    found = []
    while time.time() < deadline:
        found = sorted(glob.glob(os.path.join(work, "tensorpool-*", "default", "join-*.trace")))
        if len(found) >= 2:
            time.sleep(1.0)  # outputs flow meanwhile
            break
        time.sleep(0.2)
    return found


def shm_mapped(pid, work):
    """SHM regions (not transport logs) of `work` that process pid maps."""
    with open("/proc/%d/maps" % pid) as f:
        return [l.split()[-1] for l in f if work in l and "/ipc/" not in l]


def trace_records(path):
    """Outputs recorded so far: the u64 at offset 72 (src/join/join_trace.c's layout)."""
    with open(path, "rb") as f:
        f.seek(72)
        return struct.unpack("<Q", f.read(8))[0]


def start(cmd, pattern, timeout=30):
    """Start a process, return (proc, URL) once it printed one."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return p, m.group(1)
    p.kill()
    p.wait()
    raise RuntimeError("no address from %s:\n%s" % (cmd, "".join(lines)))


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


DOM_QUERY = r"""
(() => {
  const q = s => [...document.querySelectorAll(s)];
  return JSON.stringify({
    events: Number(document.getElementById("status").getAttribute("data-events")),
    streams: q("#streams tr.stream").map(tr => ({id: tr.getAttribute("data-stream-id"),
      name: tr.querySelector(".name").textContent, rate: Number(tr.querySelector(".rate").getAttribute("data-rate"))})),
    thumbs: q("canvas.thumb[data-decoded='1']").map(c => {
      const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let distinct = new Set(); for (let i = 0; i < px.length; i += 4 * 97) distinct.add(px[i] + "," + px[i+1] + "," + px[i+2]);
      return {id: c.getAttribute("data-stream-id"), w: c.width, h: c.height, colours: distinct.size};
    }),
    seq: q(".join[data-out='100'] tr.out").map(tr => ({out: tr.getAttribute("data-out-seq"),
      inputs: [...tr.querySelectorAll("td.in")].map(td => ({id: td.getAttribute("data-stream-id"),
        off: td.getAttribute("data-offset")}))})),
    ts: q(".join[data-out='200'] tr.out").length,
    explain: q(".join .explain").length,
    subs: q("#publications td.subs").map(t => t.textContent).filter(t => t !== "-").length,
    charts: q("canvas.joinchart").map(c => Number(c.getAttribute("data-outputs"))),
    states: q(".join .state").map(e => e.textContent),
  });
})()
"""


def check_page(chrome, url, shot):
    target = chrome.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = chrome.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    chrome.call("Page.enable", session=session)
    chrome.call("Page.navigate", {"url": url}, session=session)
    deadline = time.time() + 60
    dom = None
    why = "page never loaded"
    while time.time() < deadline:
        time.sleep(0.5)
        r = chrome.call("Runtime.evaluate", {"expression": DOM_QUERY, "returnByValue": True}, session=session)
        if "value" not in r.get("result", {}):
            continue
        dom = json.loads(r["result"]["value"])
        seq_ok = [o for o in dom["seq"] if {i["id"]: i["off"] for i in o["inputs"]} == {"1": "0", "2": "-2"}]
        rates = {s["name"]: s["rate"] for s in dom["streams"]}
        cams = [t for t in dom["thumbs"] if t["id"] in ("1", "2")]
        why = "waiting: %d pictures, rates %s, %d camera thumbnails, %d seq entries at -2, %d ts entries" % (
            dom["events"], rates, len(cams), len(seq_ok), dom["ts"])
        if (dom["events"] >= 2 and set(rates) >= {"cam1", "cam2", "imu"} and all(v > 0 for v in rates.values())
                and len(cams) == 2 and len(seq_ok) >= 5 and dom["ts"] >= 5):
            break
    else:
        print("FAIL page: " + why)
        print(json.dumps(dom)[:2000] if dom else "")
        return 1
    fails = 0
    for t in dom["thumbs"]:
        if t["id"] in ("1", "2") and (t["w"], t["h"]) != (160, 120):
            print("FAIL thumbnail of stream %s is %dx%d, want 160x120" % (t["id"], t["w"], t["h"]))
            fails += 1
        if t["id"] in ("1", "2") and t["colours"] < 5:
            print("FAIL thumbnail of stream %s has %d colours: not the demo's picture" % (t["id"], t["colours"]))
            fails += 1
    bad = [o for o in dom["seq"] if {i["id"]: i["off"] for i in o["inputs"]} != {"1": "0", "2": "-2"}]
    if bad:
        print("FAIL sequence join entries not at camera 2 offset -2: %s" % bad[:3])
        fails += 1
    if len(dom["charts"]) != 2 or min(dom["charts"]) < 5:
        print("FAIL join charts: %s (want 2, each with >= 5 outputs)" % dom["charts"])
        fails += 1
    if dom["subs"] < 3:
        print("FAIL transport: subscribers shown for %d streams, want the control, descriptor and QoS streams" % dom["subs"])
        fails += 1
    if dom["explain"] < 2:
        print("FAIL no explain lines shown")
        fails += 1
    print("ok   page: %d pictures, streams %s, thumbnails %s, %d sequence entries (cam2 at -2), %d timestamp "
          "entries, join states %s" % (dom["events"], [(s["name"], s["rate"]) for s in dom["streams"]],
                                       [(t["id"], t["w"], t["h"]) for t in dom["thumbs"]], len(dom["seq"]),
                                       dom["ts"], dom["states"]))
    png = chrome.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png["data"]))
    print("ok   screenshot %s (%d bytes)" % (shot, os.path.getsize(shot)))
    chrome.call("Target.closeTarget", {"targetId": target})
    return fails


def main():
    tp = os.path.abspath(sys.argv[1])
    exe = sys.argv[2] if len(sys.argv) > 2 else (shutil.which("chromium") or shutil.which("chromium-browser"))
    if not exe or not os.access(exe, os.X_OK):
        print("SKIP: no chromium (Debian package chromium; scripts/deps.sh installs it as root)")
        return SKIP
    fails = 0
    # a non-loopback address is refused without --allow-remote
    r = subprocess.run([tp, "view", "/tmp", "--listen", "192.0.2.1:8470"], capture_output=True, text=True)
    if r.returncode != 2 or "loopback" not in r.stderr:
        print("FAIL tp view on 192.0.2.1: exit %d, %r" % (r.returncode, r.stderr))
        fails += 1
    else:
        print("ok   tp view refuses a non-loopback address without --allow-remote")
    for args, what in ((["/tmp", "--listen", "127.0.0.1"], "no port"), (["/tmp", "--listen", "127.0.0.1:99999"], "bad port"),
                       (["/tmp", "--listen", "example.org:80"], "a host name"), (["relative"], "a relative DIR"),
                       (["/nonexistent-tp-view"], "a missing DIR"), (["/tmp", "--bogus"], "an unknown option")):
        r = subprocess.run([tp, "view"] + args, capture_output=True, text=True, timeout=30)
        if r.returncode != 2 or not r.stderr.startswith("tp view: "):
            print("FAIL tp view with %s: exit %d, %r (want 2 and a message)" % (what, r.returncode, r.stderr))
            fails += 1
    print("ok   tp view exits 2 with a message on bad usage")
    work = tempfile.mkdtemp(prefix="tp-view-test-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    profile = tempfile.mkdtemp(prefix="tp-view-chromium-")
    procs = []
    chrome = None
    try:
        demo, _ = start([tp, "demo", "--duration", "120", "--dir", work], r"(processes:)")
        procs.append(demo)
        view, url = start([tp, "view", work, "--listen", "127.0.0.1:0"], r"serving .* at (http://\S+)")
        procs.append(view)
        print("ok   tp view serving at " + url)
        with urllib.request.urlopen(url, timeout=10) as resp:
            page = resp.read().decode()
            if "EventSource" not in page or resp.headers.get("Content-Type", "").find("text/html") < 0:
                print("FAIL / is not the page")
                fails += 1
        req = urllib.request.Request(url + "state.json", headers={"Host": "attacker.example:80"})
        try:
            urllib.request.urlopen(req, timeout=10)
            print("FAIL a request naming another Host was answered (DNS rebinding)")
            fails += 1
        except urllib.error.HTTPError as e:
            print("ok   a request naming another Host is refused: %d" % e.code)
        # nobody watching yet: tp view maps no frame (only the transport's logs) ...
        frames_mapped = shm_mapped(view.pid, work)
        if frames_mapped:
            print("FAIL before any page tp view maps SHM regions: %s" % frames_mapped[:3])
            fails += 1
        else:
            print("ok   before any page tp view maps no SHM region")
        # ... and the stages have written no trace entry
        traces = wait_traces(work)
        unwatched = {os.path.basename(t): trace_records(t) for t in traces}
        if len(traces) != 2 or any(unwatched.values()):
            print("FAIL before any page: traces %s (want 2 files, 0 records each)" % unwatched)
            fails += 1
        else:
            print("ok   before any page the join stages recorded nothing: %s" % unwatched)
        chrome = Chrome(exe, profile)
        fails += check_page(chrome, url, os.path.abspath("view_browser_test.png"))
        watched = {os.path.basename(t): trace_records(t) for t in traces}
        if not all(watched.values()):
            print("FAIL while watched the stages recorded nothing: %s" % watched)
            fails += 1
        stop(view)
        procs.remove(view)
        stop(demo)
        procs.remove(demo)
        # tp demo --view: the same page, from inside the demo
        demo, url = start([tp, "demo", "--duration", "60", "--view", "--listen", "127.0.0.1:0"],
                          r"view at (http://\S+)")
        procs.append(demo)
        deadline = time.time() + 30
        state = {}
        while time.time() < deadline:
            with urllib.request.urlopen(url + "state.json", timeout=10) as resp:
                state = json.loads(resp.read())
            if state.get("stages") and any(s.get("timeline") for s in state["stages"]) and state.get("thumbnails"):
                break
            time.sleep(0.5)
        if not (state.get("stages") and state.get("thumbnails")):
            print("FAIL tp demo --view: no stages or thumbnails in /state.json: %s" % json.dumps(state)[:500])
            fails += 1
        else:
            print("ok   tp demo --view serves %s: %d streams, %d stages" % (url, len(state["streams"]),
                                                                           len(state["stages"])))
    finally:
        if chrome:
            chrome.close()
        for p in procs:
            stop(p)
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
