"""tensorpool for Python: tensors between processes through shared memory.

Producers write frames in place (``Producer.claim`` returns a numpy array that
*is* the slot), consumers read them in place (``Frame.array`` is a read-only
numpy view, ``Frame.__dlpack__`` hands the same memory to numpy/PyTorch), and
``JoinStage`` pairs frames of several streams by sequence, timestamp or latest
value. Every blocking call releases the GIL.

Settings come from the environment as for the C clients: ``TP_DIR`` (the
directory of the SHM files and the transport), ``SHM_NAMESPACE``,
``DRIVER_CONTROL_STREAM_ID``, ... (docs/configuration.md). Set
``os.environ["TP_DIR"]`` before creating objects to choose the directory.

A frame's bytes are trustworthy only if its slot was not reused while you read
them: read inside ``with frame:``, which re-checks the slot's seqlock on exit
and raises ``FrameOverwritten`` otherwise, or keep ``frame.copy()``.
"""
import asyncio
from typing import List, NamedTuple, Optional, Tuple

from ._tensorpool import (  # noqa: F401  (re-exported)
    Consumer,
    Driver,
    Error,
    Frame,
    FrameOverwritten,
    Producer,
    dtype_name,
    library_version,
    monotonic_ns,
    retained_mappings,
)
from ._tensorpool import JoinStage as _JoinStage

__version__ = library_version

__all__ = [
    "Consumer", "Driver", "apoll", "Error", "Frame", "FrameOverwritten", "JoinInput", "JoinOutput", "JoinStage",
    "Producer", "dtype_name", "library_version", "monotonic_ns", "offset", "offset_ns", "retained_mappings",
    "window", "window_ns",
]


# ---- MergeMap rules -----------------------------------------------------------

def offset(stream_id: int, offset: int = 0) -> tuple:
    """Sequence rule: frame ``out_seq + offset`` of ``stream_id``."""
    return ("offset", stream_id, offset)


def window(stream_id: int, size: int) -> tuple:
    """Sequence rule: the ``size`` frames up to ``out_seq`` of ``stream_id``."""
    return ("window", stream_id, size)


def offset_ns(stream_id: int, offset_ns: int = 0, source: str = "slot_header") -> tuple:
    """Timestamp rule: the newest frame at or before ``out_time + offset_ns``.

    source: where the frame's time is read, ``"slot_header"`` (the capture time
    the producer committed) or ``"descriptor"`` (the FrameDescriptor's)."""
    return ("offset_ns", stream_id, offset_ns, source)


def window_ns(stream_id: int, window_ns: int, source: str = "slot_header") -> tuple:
    """Timestamp rule: the frames timed in ``[out_time - window_ns, out_time]``."""
    return ("window_ns", stream_id, window_ns, source)


# ---- join outputs --------------------------------------------------------------

class JoinInput(NamedTuple):
    """One rule's input in an output: its frames, oldest first (empty when
    stale or absent), and how many in range failed their read (``dropped``)."""
    stream_id: int
    status: str  # "ready", "stale", "absent"
    epoch: int
    dropped: int
    frames: Tuple[Frame, ...]


class JoinOutput:
    """One output of a join: a tuple of input frames per rule.

    ``out[i]`` is rule i's ``JoinInput``; ``out.frames`` the frames of every
    input, flattened. Use ``with out:`` to read them: on exit every frame is
    re-checked and ``FrameOverwritten`` raised if any was overwritten."""

    __slots__ = ("out_stream_id", "epoch", "out_seq", "out_time", "now_ns", "inputs")

    def __init__(self, raw):
        self.out_stream_id, self.epoch, self.out_seq, self.out_time, self.now_ns, inputs = raw
        self.inputs: Tuple[JoinInput, ...] = tuple(JoinInput(*i) for i in inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> JoinInput:
        return self.inputs[i]

    def __iter__(self):
        return iter(self.inputs)

    @property
    def frames(self) -> Tuple[Frame, ...]:
        """The frames of every input, in rule order, oldest first within an input."""
        return tuple(f for i in self.inputs for f in i.frames)

    def trace_parents(self) -> List[int]:
        """Trace ids of the frames this output was made of, for
        ``Producer.commit(parents=...)``: every frame of every input, in rule
        order and oldest first within an input, zeros and repeats left out
        (as the C ``tp_join_output_trace_parents``; docs/spec/tracelink.md
        TL-D4), at most 256 (what one TraceLinkSet carries, TL-D6; the
        oldest are kept). Empty when no input frame was traced."""
        seen, out = set(), []
        for f in self.frames:
            t = f.trace_id
            if t and t not in seen and len(out) < 256:
                seen.add(t)
                out.append(t)
        return out

    def intact(self) -> bool:
        """True if every frame with a view still holds its data."""
        return all(f.intact() for f in self.frames if f.has_view)

    def close(self) -> None:
        """Close every frame without checking them."""
        for f in self.frames:
            f.close()

    def __enter__(self) -> "JoinOutput":
        return self

    def __exit__(self, et, ev, tb) -> bool:
        bad = [f for f in self.frames if f.has_view and not f.intact()]
        self.close()
        if bad and (et is None or issubclass(et, Exception)):  # torn data explains an error inside
            raise FrameOverwritten("join output %d: %d frame(s) overwritten while in use (first: stream %d seq %d)"
                                   % (self.out_seq, len(bad), bad[0].stream_id, bad[0].seq))
        return False

    def __repr__(self) -> str:
        parts = ", ".join("%d:%s/%d" % (i.stream_id, i.status, len(i.frames)) for i in self.inputs)
        return "<tensorpool.JoinOutput out %d seq %d time %s [%s]>" % (self.out_stream_id, self.out_seq,
                                                                      self.out_time, parts)


class JoinStage(_JoinStage):
    """JoinStage(mode, rules, out_stream_id, *, epoch=1, lateness_ns=0,
    stale_timeout_ns=None, authority=True, attach_via_driver=True,
    trigger_stream_id=0, max_frames_per_input=0)

    A join stage (the C join agent) delivering one ``JoinOutput`` per output.

    mode: ``"sequence"``, ``"timestamp"`` or ``"latest"``. rules: the MergeMap
    rules in order, made with ``offset``/``window`` (sequence, latest) or
    ``offset_ns``/``window_ns`` (timestamp). With ``authority=True`` (default)
    the stage itself announces the rules for ``out_stream_id`` as the MergeMap
    authority; ``authority=False`` waits for another process's announce.
    ``lateness_ns`` is the timestamp join's lateness budget; an input silent
    for ``stale_timeout_ns`` is reported stale. Inputs are attached through
    the driver (consumer leases) and read in place.

    ``poll(timeout)`` waits (GIL released) for the next output, ``None`` on
    timeout; iterating blocks for each. From asyncio: ``await tensorpool.apoll(stage, 1.0)``.
    """

    def poll(self, timeout: Optional[float] = 0) -> Optional[JoinOutput]:
        """The next output, waiting up to timeout seconds (None: forever) with
        the GIL released; None on timeout. Also runs the stage's authority."""
        raw = super().poll(timeout)
        return None if raw is None else JoinOutput(raw)

    def __iter__(self):
        return self

    def __next__(self) -> JoinOutput:
        return self.poll(None)

    def __enter__(self) -> "JoinStage":
        return self


async def apoll(source, timeout: Optional[float] = None):
    """``await tensorpool.apoll(consumer_or_stage, timeout)``: ``source.poll(timeout)``
    in the event loop's default executor, so the loop keeps running while it
    waits (the wait itself releases the GIL). Returns the Frame / JoinOutput,
    or None on timeout. One wait per source at a time."""
    return await asyncio.get_running_loop().run_in_executor(None, source.poll, timeout)
