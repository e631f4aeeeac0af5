"""Frame lineage from Python (docs/spec/tracelink.md): trace ids from a
traced Python producer to a Python consumer, tracing off, a 1->1 trace id
passed through (by commit and by offer), and a Python join stage whose output, committed with its
inputs' trace ids as parents, is walked back to them by the C side
(`tp trace record` + `tp trace --json`)."""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

import tensorpool as tp
from conftest import BIG, SMALL, SMALL_B, pattern, program, wait_for


def read_frames(c, n, timeout=30):
    """(seq, trace_id) of the next n frames a consumer accepts."""
    got = []
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        f = c.poll(0.5)
        if f is not None:
            with f:
                got.append((f.seq, f.trace_id))
    assert len(got) == n, "only %d of %d frames" % (len(got), n)
    return got


def publish_until_read(p, c, n, commit):
    """Publish with commit(p) until the consumer took n frames; returns
    {seq: trace id as the producer reported it} and the frames read."""
    sent, got = {}, []
    end = time.monotonic() + 30
    while len(got) < n and time.monotonic() < end:
        seq = commit(p)
        sent[seq] = p.last_trace_id
        f = c.poll(0.01)
        if f is not None:
            with f:
                got.append((f.seq, f.trace_id))
    assert len(got) == n, "only %d of %d frames" % (len(got), n)
    return sent, got


def claim_commit(p, **kw):
    a = p.claim((4, 8), np.uint32)
    a[:] = pattern(p.next_seq)
    return p.commit(**kw)


@pytest.fixture
def pair(driver):
    c = tp.Consumer(SMALL)
    yield c
    c.close()


def test_traced_producer_frames_carry_increasing_trace_ids(pair):
    c = pair
    with tp.Producer(SMALL, tracing="per-frame", trace_node=5) as p:
        assert p.tracing == "per-frame" and p.last_trace_id == 0
        assert p.wait_active(20) and c.wait_mapped(20)
        sent, got = publish_until_read(p, c, 20, claim_commit)
        ids = [t for _, t in got]
        assert all(t != 0 for t in ids), ids
        assert all(a < b for a, b in zip(ids, ids[1:])), "trace ids must strictly increase: %s" % ids
        for seq, t in got:  # the consumer sees exactly the id the producer minted for that frame
            assert sent[seq] == t
        assert (ids[0] >> 12) & 0x3FF == 5, "node id 5 in bits 12..21 (TL-D1)"
        # offer() traces too
        sent, got = publish_until_read(p, c, 5, lambda p: p.offer(pattern(p.next_seq)))
        assert all(t != 0 and sent[s] == t for s, t in got) and got[0][1] > ids[-1]


def test_tracing_off_gives_zero_and_trace_id_passes_through(pair):
    c = pair
    with tp.Producer(SMALL, tracing="off") as p:
        assert p.tracing == "off"
        assert p.wait_active(20) and c.wait_mapped(20)
        _, got = publish_until_read(p, c, 10, claim_commit)
        assert [t for _, t in got] == [0] * 10
        assert p.last_trace_id == 0
        # a 1->1 stage passes an input's id on, traced or not
        _, got = publish_until_read(p, c, 3, lambda p: claim_commit(p, trace_id=0xABCDEF))
        assert [t for _, t in got] == [0xABCDEF] * 3
        # offer() takes the same keywords as commit()
        _, got = publish_until_read(p, c, 3, lambda p: p.offer(pattern(p.next_seq), trace_id=0x123456))
        assert [t for _, t in got] == [0x123456] * 3
        sent, got = publish_until_read(p, c, 3, lambda p: p.offer(pattern(p.next_seq), parents=[7, 9]))
        assert all(t not in (0, 0x123456) and sent[s] == t for s, t in got), got
        p.set_tracing("per-frame")
        assert p.tracing == "per-frame"
        _, got = publish_until_read(p, c, 3, claim_commit)
        assert all(t not in (0, 0xABCDEF) for _, t in got)
        p.set_tracing("off")
        _, got = publish_until_read(p, c, 3, claim_commit)
        assert [t for _, t in got] == [0] * 3


def test_bad_tracing_arguments_raise(driver):
    with pytest.raises(ValueError):
        tp.Producer(SMALL, tracing="sometimes")
    with pytest.raises(ValueError):
        tp.Producer(SMALL, tracing="per-frame", trace_node=1024)
    with tp.Producer(SMALL) as p:
        with pytest.raises(ValueError):
            p.set_tracing("on")
        assert p.wait_active(20)
        with pytest.raises(tp.Error):
            p.offer(pattern(p.next_seq), trace_id=1, parents=[2])
        p.claim((4, 8), np.uint32)
        with pytest.raises(tp.Error):
            p.commit(trace_id=1, parents=[2])
        with pytest.raises(ValueError):
            p.commit(parents=list(range(1, 258)))
        p.commit()  # the bad calls left the claim in place


def test_join_output_committed_with_parents_links_back_to_inputs(driver, procs, tmp_path):
    """Two traced Python producers, a Python sequence join, its outputs
    committed with commit(parents=out.trace_parents()) on a third stream; the
    C recorder and `tp trace` walk an output back to exactly those inputs."""
    tp_cmd = program("TP_TP")
    rec = procs.start([tp_cmd, "trace", "record", "--dir", str(tmp_path), "--duration", "120"],
                      env=dict(os.environ))
    a = tp.Producer(SMALL, tracing="per-frame", trace_node=1)
    b = tp.Producer(SMALL_B, tracing="per-frame", trace_node=2)
    out_p = tp.Producer(BIG, tracing="off")  # derived outputs are traced whatever the mode
    out_c = tp.Consumer(BIG)
    try:
        assert a.wait_active(20) and b.wait_active(20) and out_p.wait_active(20) and out_c.wait_mapped(20)
        with tp.JoinStage("sequence", [tp.offset(SMALL, 0), tp.window(SMALL_B, 2)], out_stream_id=BIG) as stage:
            derived = {}  # output trace id -> its parents
            seen = {}     # output trace id as the Python consumer got it -> seq

            def query(tid):
                r = subprocess.run([tp_cmd, "trace", "--json", "--dir", str(tmp_path), str(tid)],
                                   capture_output=True, text=True, timeout=30)
                return json.loads(r.stdout) if r.returncode == 0 else None

            walked = None
            end = time.monotonic() + 60
            while walked is None and time.monotonic() < end:
                s = a.next_seq
                a.offer(pattern(s))
                b.offer(pattern(s))
                out = stage.poll(0.02)
                if out is None or not all(i.frames for i in out):
                    continue
                with out:
                    parents = out.trace_parents()
                    inputs = [f.trace_id for f in out.frames]
                    o = out_p.claim((4,), np.uint64)
                    o[:] = (parents + [0] * 4)[:4]
                    out_p.commit(parents=parents)
                assert parents and all(parents) and parents == list(dict.fromkeys(inputs))
                tid = out_p.last_trace_id
                assert tid != 0 and tid not in parents
                derived[tid] = parents
                f = out_c.poll(0)
                if f is not None:
                    with f:
                        seen[f.trace_id] = f.seq
                if len(derived) % 20 == 0:  # the recorder flushes every 100 ms
                    # the output's TraceLinkSet comes after it, on a publication the
                    # recorder may not have found yet: ask again until its links are in
                    w = query(tid)
                    if w is not None and w["frames"] and w["frames"][0]["parent_count"] > 0:
                        walked = w
            assert walked is not None, "tp trace never found an output: %s" % out_p.trace_stats()
            frames = walked["frames"]
            root = frames[0]
            assert root["depth"] == 0 and int(root["trace_id"]) == tid and root["parent_count"] == len(derived[tid])
            assert sorted(int(f["trace_id"]) for f in frames if f["depth"] == 1) == sorted(derived[tid])
            assert {f["stream_id"] for f in frames if f["depth"] == 1 and f["recorded"]} <= {SMALL, SMALL_B}
            assert out_p.trace_stats()["links_sent"] >= len(derived)

            def drain():
                f = out_c.poll(0)
                if f is not None:
                    with f:
                        seen[f.trace_id] = f.seq
                return bool(seen)
            wait_for(drain, 30, "an output frame at the Python consumer")
            assert all(t in derived for t in seen), "consumer saw ids the producer did not mint"
    finally:
        rec.send_signal(signal.SIGTERM)
        rec.communicate(timeout=30)
        out_c.close()
        out_p.close()
        a.close()
        b.close()
