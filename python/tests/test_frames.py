"""One process: a driver thread, a Python producer and a Python consumer.
Zero-copy claim/commit, views, copies, DLPack, errors, overwrite detection
and the GIL during waits."""
import threading
import time

import numpy as np
import pytest

import tensorpool as tp
from conftest import SMALL, other_thread_progress, pattern


@pytest.fixture
def pair(driver):
    p = tp.Producer(SMALL, name="pytest")
    c = tp.Consumer(SMALL)
    assert p.wait_active(20), "producer did not attach"
    assert c.wait_mapped(20), "consumer did not map"
    yield p, c
    c.close()
    p.close()


def test_claim_is_the_slot_and_consumer_views_it(pair):
    p, c = pair
    a = p.claim((4, 8), np.uint32)
    assert a.flags.writeable and a.shape == (4, 8) and a.dtype == np.uint32
    a[:] = pattern(p.next_seq)
    seq = p.commit(timestamp_ns=12345)
    assert not a.flags.writeable  # the slot is the consumers' now
    with pytest.raises(ValueError):
        a[0, 0] = 1
    f = c.poll(10)
    assert f is not None and f.seq == seq and f.stream_id == SMALL
    assert f.shape == (4, 8) and f.dtype == np.uint32 and f.nbytes == 128 and f.timestamp_ns == 12345
    with f:
        v = f.array
        assert not v.flags.writeable
        assert not v.flags.owndata  # a view: the memory is the shared pool
        np.testing.assert_array_equal(v, pattern(seq))
        with pytest.raises(ValueError):
            v[0, 0] = 1
    assert f.closed
    with pytest.raises(tp.Error) as e:
        f.array
    assert e.value.code_name == "state" and "closed" in e.value.message


def test_publish_timestamp_can_be_left_out(pair):
    """W-10.2.1.e: the FrameDescriptor's publish time is there by default, null once turned off."""
    p, c = pair
    for on in (True, False, True):
        p.set_publish_timestamp(on)
        before = time.monotonic_ns()
        p.offer(np.arange(8, dtype=np.uint8), timestamp_ns=7)
        f = c.poll(10)
        assert f is not None and f.timestamp_ns == 7  # the capture time is the slot's, either way
        if on:
            assert f.publish_timestamp_ns is not None and f.publish_timestamp_ns >= before
        else:
            assert f.publish_timestamp_ns is None
        f.close()


def test_a_claimed_array_keeps_the_mapping_past_close(driver):
    p = tp.Producer(SMALL)
    assert p.wait_active(20)
    a = p.claim((4, 8), np.uint32)
    a[:] = pattern(0)
    p.commit()
    p.close()
    assert int(a[0, 1]) == 1  # stale but mapped: no crash
    with pytest.raises(tp.Error):
        p.claim((1,), np.uint8)
    del a  # releases the mapping


def test_offer_dtypes_and_copy(pair):
    p, c = pair
    for dt in (np.uint8, np.int16, np.float32, np.float64, np.int64, np.bool_):
        x = (np.arange(12) % 3).astype(dt).reshape(3, 4)
        seq = p.offer(x)
        f = c.poll(10)
        assert f is not None and f.seq == seq
        with f:
            k = f.copy()
        assert k.dtype == np.dtype(dt) and k.flags.owndata
        np.testing.assert_array_equal(k, x)
    cnt = c.counters()
    assert cnt["accepted"] == 6 and cnt["drops_gap"] == 0 and cnt["drops_late"] == 0


def test_iteration_yields_frames(pair):
    p, c = pair
    for i in range(3):
        p.offer(pattern(i))
    seen = []
    for f in c:
        with f:
            seen.append(int(f.array[0, 0]) // 1000)
        if len(seen) == 3:
            break
    assert seen == [0, 1, 2]


def test_dlpack_round_trip(pair):
    p, c = pair
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    p.offer(x)
    f = c.poll(10)
    assert f.__dlpack_device__() == (1, 0)
    with f:
        y = np.from_dlpack(f)
        assert y.shape == x.shape and y.dtype == x.dtype
        np.testing.assert_array_equal(y, x)
        # zero copy: the same bytes as the frame's view of the pool
        assert y.__array_interface__["data"][0] == f.array.__array_interface__["data"][0]
        assert np.shares_memory(y, f.array)
        # what a frame cannot give is refused as the protocol says
        with pytest.raises(BufferError):
            f.__dlpack__(copy=True)
        with pytest.raises(BufferError):
            f.__dlpack__(dl_device=(2, 0))
        assert f.__dlpack__(max_version=(1, 0), dl_device=(1, 0), copy=False) is not None


def test_dlpack_capsule_not_consumed_is_released(pair):
    import sys
    p, c = pair
    p.offer(np.ones(4, np.int32))
    f = c.poll(10)
    before = sys.getrefcount(f)
    cap = f.__dlpack__()
    assert sys.getrefcount(f) == before + 1  # the tensor keeps the frame object
    del cap
    assert sys.getrefcount(f) == before


def test_overwritten_while_held_is_detected(pair):
    p, c = pair
    p.offer(pattern(0))
    held = c.poll(10)
    assert held is not None and held.seq == 0
    with pytest.raises(tp.FrameOverwritten) as e:
        with held:
            first = held.array.copy()
            np.testing.assert_array_equal(first, pattern(0))
            for s in range(1, 17):  # 16 slots: seq 16 reuses seq 0's slot
                p.offer(pattern(s))
            assert not held.intact()
    assert e.value.code_name == "state" and "overwritten" in e.value.message
    assert isinstance(e.value, tp.Error)
    # a copy of an overwritten frame is refused too
    p.offer(pattern(17))
    f = c.poll(10)
    for s in range(18, 35):
        p.offer(pattern(s))
    with pytest.raises(tp.FrameOverwritten):
        f.copy()


def test_frames_of_a_closed_consumer_refuse_their_memory(driver):
    p = tp.Producer(SMALL)
    c = tp.Consumer(SMALL)
    assert p.wait_active(20) and c.wait_mapped(20)
    p.offer(pattern(0))
    f = c.poll(10)
    with f:
        view = f.array  # kept past the block and the close, as a traceback would
    p.offer(pattern(1))
    g = c.poll(10)
    c.close()
    assert not g.intact()
    with pytest.raises(tp.FrameOverwritten):
        g.array
    # the mapping stays while views of it live: reading one is safe (stale, not a crash)
    assert view.shape == (4, 8) and int(view[0, 1]) == 1
    del f, g, view  # the last one releases the mapping and the lease
    p.close()


def test_an_array_kept_past_an_epoch_change_reads_zeros_not_a_crash(driver):
    """The producer restarts (new epoch): the consumer drops its old mapping
    while an array of an old frame is still referenced. Reading that array
    must not fault (it used to kill the interpreter with SIGSEGV); it reads
    zeros, the frame reports it overwritten, and the kept range is unmapped
    when the last frame object goes."""
    p = tp.Producer(SMALL)
    c = tp.Consumer(SMALL)
    assert p.wait_active(20) and c.wait_mapped(20)
    import gc
    gc.collect()  # frames of earlier tests kept by pytest's tracebacks
    assert tp.retained_mappings() == 0
    p.offer(pattern(0))
    f = c.poll(10)
    with f:
        view = f.array
        np.testing.assert_array_equal(view, pattern(0))
    first_epoch = f.epoch
    p.close()
    p = tp.Producer(SMALL)
    assert p.wait_active(20)
    g = None
    for i in range(200):  # the consumer remaps when it reads the new epoch
        p.offer(pattern(i))
        g = c.poll(0.1)
        if g is not None:
            break
    assert g is not None and g.epoch != first_epoch
    assert tp.retained_mappings() >= 2  # the old ring and pool
    assert int(view.sum()) == 0  # readable, stale: zeros
    assert not f.intact()
    del f, g, view
    assert tp.retained_mappings() == 0
    p.close()
    c.close()


def test_an_error_on_torn_data_becomes_frame_overwritten(pair):
    p, c = pair
    p.offer(pattern(0))
    f = c.poll(10)
    with pytest.raises(tp.FrameOverwritten) as e:
        with f:
            for s in range(1, 17):
                p.offer(pattern(s))
            np.testing.assert_array_equal(f.array, pattern(0))  # fails: the slot holds seq 16
    assert isinstance(e.value.__context__, AssertionError)
    # an error unrelated to the frame's data, on an intact frame, passes through
    p.offer(pattern(17))
    g = c.poll(10)
    with pytest.raises(KeyError):
        with g:
            {}["x"]


def test_errors_carry_code_and_message(pair):
    p, c = pair
    with pytest.raises(tp.Error) as e:
        p.commit()
    assert e.value.code_name == "state" and e.value.code > 0 and "nothing claimed" in e.value.message
    with pytest.raises(tp.Error) as e:
        p.claim((1 << 20,), np.uint8)  # larger than the 4 KiB pool
    assert e.value.code_name in ("capacity", "invalid_arg") and e.value.message
    with pytest.raises(ValueError):
        p.claim((), np.uint8)
    with pytest.raises(tp.Error) as e:
        tp.Driver("[profiles.x]\nheader_nslots = 3\n")
    assert e.value.message


def test_gil_released_while_waiting(driver):
    c = tp.Consumer(SMALL)  # nothing is produced: every wait times out
    waited = []

    def wait():
        t0 = time.monotonic()
        assert c.poll(timeout=0.5) is None
        waited.append(time.monotonic() - t0)
    try:
        during = other_thread_progress(wait)
    finally:
        c.close()
    assert waited[0] >= 0.45
    # a thread starved by a held GIL would not move at all in 0.5 s
    assert during > 10000, "the other thread ran %d iterations during the wait" % during


def test_second_thread_cannot_enter_a_waiting_consumer(driver):
    c = tp.Consumer(SMALL)
    t = threading.Thread(target=c.poll, kwargs={"timeout": 1.0})
    t.start()
    time.sleep(0.2)
    try:
        with pytest.raises(RuntimeError):
            c.poll(0)
        with pytest.raises(RuntimeError):
            c.close()
    finally:
        t.join()
        c.close()


def test_asyncio_loop_runs_while_a_frame_is_awaited(pair):
    import asyncio
    p, c = pair

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)
        t = asyncio.ensure_future(ticker())
        waiting = asyncio.ensure_future(tp.apoll(c, 10.0))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # nothing published yet
        p.offer(pattern(5))
        f = await waiting
        t.cancel()
        return ticks, f

    ticks, f = asyncio.run(main())
    assert ticks >= 3, ticks  # the loop ran while the consumer waited (~30 unloaded)
    with f:
        np.testing.assert_array_equal(f.array, pattern(5))


def test_stubs_and_docstrings_cover_the_api():
    """Every public name has a docstring and a stub, and every stub names something real."""
    import ast
    import os
    stub = os.path.join(os.path.dirname(tp.__file__), "__init__.pyi")
    tree = ast.parse(open(stub).read())
    stubbed = {n.name: n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}
    stubbed.update({n.target.id: n for n in tree.body if isinstance(n, ast.AnnAssign)})
    for name in tp.__all__:
        obj = getattr(tp, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name + " has no docstring"
        assert name in stubbed, name + " is not in __init__.pyi"
        if isinstance(stubbed[name], ast.ClassDef) and isinstance(obj, type):
            for item in stubbed[name].body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                    assert hasattr(obj, item.name), "%s.%s is stubbed but does not exist" % (name, item.name)
                    assert getattr(obj, item.name).__doc__, "%s.%s has no docstring" % (name, item.name)
    for name in stubbed:
        assert hasattr(tp, name) or name == "Rule", name + " is stubbed but not in the package"


def test_a_view_allocates_no_payload_memory(driver):
    """Reading 1 MiB frames as views allocates only small objects (tracemalloc
    sees numpy's data allocations too); a copy allocates the megabyte."""
    import tracemalloc
    from conftest import BIG
    p, c = tp.Producer(BIG), tp.Consumer(BIG)
    assert p.wait_active(20) and c.wait_mapped(20)
    try:
        def one(read):
            a = p.claim((1 << 20,), np.uint8)
            a[0] = 7
            del a
            p.commit()
            f = c.poll(10)
            with f:
                return read(f)

        one(lambda f: f.array[0])  # warm up: first-call caches
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            for _ in range(20):
                assert one(lambda f: int(f.array[0]) + int(np.from_dlpack(f)[-1])) == 7
            view_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            one(lambda f: f.copy())
            copy_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        c.close()
        p.close()
    print("tracemalloc peak: 20 views %d bytes, one copy %d bytes" % (view_peak, copy_peak))
    assert view_peak < 64 * 1024, "views of 20 frames peaked at %d bytes" % view_peak
    assert copy_peak >= 1 << 20
