"""Join stages in one process: a driver thread, two Python producers on
streams 7 and 8, and a JoinStage announcing its own rules. Sequence and
latest-value joins, explain before any data, and the GIL while waiting."""
import time

import numpy as np
import pytest

import tensorpool as tp
from conftest import SMALL, SMALL_B, other_thread_progress, pattern


@pytest.fixture
def producers(driver):
    a, b = tp.Producer(SMALL), tp.Producer(SMALL_B)
    assert a.wait_active(20) and b.wait_active(20)
    yield a, b
    a.close()
    b.close()


def next_output(stage, feed, timeout=30):
    """Poll, feeding frames, until an output whose frames all have views."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        feed()
        out = stage.poll(0.02)
        if out is not None and all(i.frames and all(f.has_view for f in i.frames) for i in out):
            return out
    raise AssertionError("no complete output: %s %s %s" % (stage.status(), stage.explain(), stage.stats()))


def test_sequence_join_delivers_a_tuple_of_frames_per_output(producers):
    a, b = producers
    with tp.JoinStage("sequence", [tp.offset(SMALL, 0), tp.window(SMALL_B, 2)], out_stream_id=70) as stage:
        def feed():
            s = a.next_seq
            a.offer(pattern(s))
            b.offer(pattern(s))
        for _ in range(5):
            out = next_output(stage, feed)
            assert isinstance(out, tp.JoinOutput) and len(out) == 2
            first, second = out
            assert first.stream_id == SMALL and second.stream_id == SMALL_B and first.status == "ready"
            assert len(first.frames) == 1 and 1 <= len(second.frames) <= 2
            assert first.frames[0].seq == out.out_seq and second.frames[-1].seq == out.out_seq
            with out:
                for f in out.frames:
                    np.testing.assert_array_equal(f.array, pattern(f.seq))
            assert all(f.closed for f in out.frames)
        assert stage.stats()["outputs"] >= 5
        assert stage.status()["state"] in ("flowing", "degraded")


def test_latest_value_join(producers):
    a, b = producers
    with tp.JoinStage("latest", [tp.offset(SMALL, 0), tp.offset(SMALL_B, 0)], out_stream_id=71) as stage:
        calls = [0]

        def feed():  # b publishes at a tenth of a's rate
            if calls[0] % 10 == 0:
                b.offer(pattern(b.next_seq))
            a.offer(pattern(a.next_seq))
            calls[0] += 1
        xs, ys = set(), set()
        for _ in range(12):
            out = next_output(stage, feed)
            with out:
                (x,), (y,) = out[0].frames, out[1].frames
                assert x.seq < a.next_seq and y.seq < b.next_seq
                np.testing.assert_array_equal(x.array, pattern(x.seq))
                np.testing.assert_array_equal(y.array, pattern(y.seq))
            xs.add(x.seq)
            ys.add(y.seq)
        # the slow input's latest value is offered again while the fast one moves
        assert len(xs) > len(ys)


def test_explain_names_the_missing_input(producers):
    a, _ = producers  # stream 8 never publishes
    # latest: a sequence join with first_out_seq AUTO has no candidate output until every input was seen
    with tp.JoinStage("latest", [tp.offset(SMALL, 0), tp.offset(SMALL_B, 0)], out_stream_id=72) as stage:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            a.offer(pattern(a.next_seq))
            assert stage.poll(0.02) is None
            st = stage.status()
            if st["state"] == "blocked" and st["stream_id"] == SMALL_B:
                break
        assert st["state"] == "blocked" and st["stream_id"] == SMALL_B and "missing" in st["reason"], st
        ex = stage.explain()
        assert [e["stream_id"] for e in ex] == [SMALL, SMALL_B]
        assert ex[0]["status"] == "SATISFIED" and ex[1]["status"] == "NEVER_OBSERVED"
        assert "input 8" in ex[1]["text"]


def test_join_wait_releases_the_gil(driver):
    with tp.JoinStage("timestamp", [tp.offset_ns(SMALL, 0), tp.window_ns(SMALL_B, 10_000_000)],
                      out_stream_id=73) as stage:
        during = other_thread_progress(lambda: stage.poll(0.5))
        assert during > 10000


def test_bad_rules_raise(driver):
    with pytest.raises(ValueError):
        tp.JoinStage("sideways", [tp.offset(SMALL, 0)], out_stream_id=74)
    with pytest.raises(ValueError):
        tp.JoinStage("sequence", [("nearest", SMALL, 0)], out_stream_id=74)
    with pytest.raises(tp.Error) as e:
        tp.JoinStage("sequence", [tp.offset(SMALL, 0), tp.offset_ns(SMALL_B, 0)], out_stream_id=74)
    assert e.value.message


def test_join_frames_carry_their_inputs_metadata(producers):
    """W-10.3.2.b through a join stage: each frame names the meta_version its
    producer stamped, meta_current says whether the stage holds it, and
    stage.meta(stream) gives that input's attributes."""
    a, b = producers
    a.set_meta({"units": "mm"})
    v = a.meta_version
    assert v >= 1 and b.meta_version == 0
    with tp.JoinStage("latest", [tp.offset(SMALL, 0), tp.offset(SMALL_B, 0)], out_stream_id=75) as stage:
        def feed():
            s = a.next_seq
            a.offer(pattern(s))
            b.offer(pattern(s))
        end = time.monotonic() + 60
        while True:
            assert time.monotonic() < end, "no output with input %d's metadata held: %s" % (SMALL, stage.meta(SMALL))
            first, second = next_output(stage, feed)
            fa, fb = first.frames[-1], second.frames[-1]
            assert fa.meta_version == v and fb.meta_version == 0 and fb.meta_current is True
            if fa.meta_current:
                break
        m = stage.meta(SMALL)
        assert m["meta_version"] == v and m["attributes"] == {"units": "mm"} and m["formats"] == {"units": "text"}
        with pytest.raises(tp.Error):
            stage.meta(999)
