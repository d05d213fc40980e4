"""Shared-memory frame rings of ``convlstm-ae watch``: decoders write, the scorer reads.

One ring per source (stream), all in one :mod:`multiprocessing.shared_memory` block, so a
decoder in another process writes model-size uint8 frames that the scorer gathers for a
whole step with one numpy operation: no per-frame Python object crosses.

Each ring has one writer (its source's grab loop) and one reader (the scorer), and holds
the newest ``capacity`` frames. The writer counts the frames it starts (``started``) and
finishes (``written``); the reader counts the frames it took or lost (``read``). A ring
that drops (``drop_oldest``, live sources) overwrites its oldest frame when full; the
reader counts what was overwritten before it could take it as dropped. A ring that does
not drop (files with ``--no-realtime``) makes the writer wait for room, so every frame is
scored. A frame the writer overwrites while the reader copies it is seen through
``started`` (a sequence lock) and counted as dropped, never scored torn. Frames the
writer leaves out to keep to the model's frame rate are counted apart (``skipped``).
The writer stores a frame, then its count; x86-64 and ARM64 numpy stores of separate
calls reach other processes in program order for these aligned 8-byte counters.

Every frame carries the ``epoch`` of its video or connection: a new video or a reconnection
raises it, so the reader sees a restart even if the restarting frame itself was dropped.

A watch's rings are a :class:`RingSet`: one block per batch of sources started together
(those of the start, then each batch of cameras added while it runs), read as one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

WAIT = 0.05  # seconds a writer waits at most between looks at a full ring that does not drop
ERROR_BYTES = 400  # room for one error message per ring


@dataclass(frozen=True)
class RingSpec:
    """What a process needs to attach to the rings (picklable)."""

    name: str  # the shared-memory block
    streams: int  # B rings
    slots: int  # room of the largest ring
    size: int  # S, frames are (S, S) uint8


def _layout(spec: RingSpec) -> list[tuple[str, tuple[int, ...], type]]:
    rings, slots, size = spec.streams, spec.slots, spec.size
    per_slot = [(name, (rings, slots), dtype) for name, dtype in (
        ("index", np.int64), ("time", np.float64), ("grabbed", np.float64),
        ("video", np.int64), ("epoch", np.int64))]
    per_ring = [(name, (rings,), np.int64) for name in (
        "capacity", "drop_oldest", "started", "written", "read", "dropped", "skipped",
        "epoch_now", "reconnects", "connected", "finished", "halted")]
    return [("frames", (rings, slots, size, size), np.uint8), *per_slot, *per_ring,
            ("error", (rings, ERROR_BYTES), np.uint8)]


@dataclass(frozen=True)
class Taken:
    """The frames one :meth:`FrameRings.take` copied: one per stream in ``rows``."""

    rows: np.ndarray  # (n,) stream numbers, ascending
    index: np.ndarray  # (n,) frame number in its video or connection
    time: np.ndarray  # (n,) seconds into the video, or Unix time of live frames
    grabbed: np.ndarray  # (n,) time.monotonic() when decoded (the same clock in every process)
    video: np.ndarray  # (n,) which video of the source (0 for live sources)
    epoch: np.ndarray  # (n,) video or connection number: a change is a restart


class FrameRings:
    """B frame rings in one shared-memory block (see the module).

    Create them with :meth:`create` in the scorer's process (which unlinks them in
    :meth:`close`), attach to them with :meth:`attach` in a decoder process.
    """

    def __init__(self, spec: RingSpec, memory: shared_memory.SharedMemory, owner: bool) -> None:
        self.spec = spec
        self._memory = memory
        self._owner = owner
        offset = 0
        for name, shape, dtype in _layout(spec):
            array = np.ndarray(shape, dtype, buffer=memory.buf, offset=offset)
            setattr(self, name, array)
            offset += array.nbytes

    @classmethod
    def create(cls, capacities: Sequence[int], drop_oldest: Sequence[bool], size: int
               ) -> FrameRings:
        """Rings of ``capacities[i]`` frames of (size, size) for each stream i."""
        spec = RingSpec("", len(capacities), max(capacities), size)
        nbytes = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize
                     for _, shape, dtype in _layout(spec))
        memory = shared_memory.SharedMemory(create=True, size=nbytes)
        rings = cls(RingSpec(memory.name, spec.streams, spec.slots, size), memory, owner=True)
        rings.capacity[:] = capacities
        rings.drop_oldest[:] = drop_oldest
        rings.connected[:] = 1
        rings.epoch_now[:] = -1
        return rings

    @classmethod
    def attach(cls, spec: RingSpec) -> FrameRings:
        """The rings ``spec`` names, created by another process."""
        return cls(spec, shared_memory.SharedMemory(spec.name), owner=False)

    def close(self) -> None:
        """Detach; the creator also frees the block."""
        for name, _, _ in _layout(self.spec):
            setattr(self, name, None)  # no view may outlive the buffer
        self._memory.close()
        if self._owner:
            self._memory.unlink()

    # the writer's side, one ring

    def put(self, stream: int, image: np.ndarray, index: int, seconds: float, grabbed: float,
            video: int, stop: threading.Event, room: threading.Condition) -> bool:
        """Write one frame into ring ``stream``: over its oldest frame if it drops, else
        after waiting for room (``room`` is notified after the reader takes frames). False
        if ``stop`` was set while waiting (frame not written)."""
        written = int(self.written[stream])
        capacity = int(self.capacity[stream])
        if not self.drop_oldest[stream]:
            with room:
                while written - int(self.read[stream]) >= capacity:
                    if stop.is_set() or self.halted[stream]:
                        return False
                    room.wait(WAIT)
        slot = written % capacity
        self.started[stream] = written + 1
        self.frames[stream, slot] = image
        self.index[stream, slot] = index
        self.time[stream, slot] = seconds
        self.grabbed[stream, slot] = grabbed
        self.video[stream, slot] = video
        self.epoch[stream, slot] = self.epoch_now[stream]
        self.written[stream] = written + 1
        return True

    def skip(self, stream: int) -> None:
        """Count a frame of ``stream`` left out to score at its model's frame rate (see
        :mod:`convlstm_ae.data.rate`): never written, and not dropped."""
        self.skipped[stream] += 1

    def halt(self, stream: int) -> None:
        """Ask ``stream``'s writer to stop at its next frame (its camera was removed)."""
        self.halted[stream] = 1

    def restart(self, stream: int) -> None:
        """The next frames of ``stream`` begin a new video or connection."""
        self.epoch_now[stream] += 1

    def fail(self, stream: int, message: str) -> None:
        """Keep the (redacted) reason ``stream`` stopped."""
        data = message.encode()[:ERROR_BYTES - 1]
        self.error[stream, :len(data)] = np.frombuffer(data, np.uint8)
        self.error[stream, len(data)] = 0

    # the reader's side, every ring at once

    def available(self) -> np.ndarray:
        """(B,) frames each ring holds unread, dropped ones excluded."""
        written = self.written.copy()
        return np.minimum(written - self.read, self.capacity)

    def take(self, wanted: np.ndarray, out: np.ndarray, at: np.ndarray | None = None
             ) -> Taken:
        """Copy the oldest unread frame of every ``wanted`` ring that has one into
        ``out[at[ring]]`` (``at``: each ring's row of ``out``; None: the ring's own
        number); frames overwritten before they could be read are counted as dropped."""
        at = np.arange(self.spec.streams) if at is None else at
        rows = np.flatnonzero(wanted)
        parts = []
        while rows.size:
            written = self.written[rows]
            lost = np.maximum(written - self.capacity[rows] - self.read[rows], 0)
            self.dropped[rows] += lost
            self.read[rows] += lost
            rows = rows[written > self.read[rows]]
            position = self.read[rows]
            slots = position % self.capacity[rows]
            targets = zip(rows.tolist(), slots.tolist(), at[rows].tolist(), strict=True)
            for ring, slot, row in targets:  # one copy each, no gathered temporary
                out[row] = self.frames[ring, slot]
            meta = [getattr(self, name)[rows, slots] for name in
                    ("index", "time", "grabbed", "video", "epoch")]
            # a writer that started frame position + capacity wrote into the slot copied
            torn = self.started[rows] - self.capacity[rows] > position
            good = ~torn
            self.read[rows[good]] += 1
            parts.append((rows[good], *(m[good] for m in meta)))
            rows = rows[torn]  # their frame is being overwritten: lost; the next one
            self.dropped[rows] += 1
            self.read[rows] += 1
        if not parts:
            empty = np.zeros(0, np.int64)
            return Taken(empty, empty, np.zeros(0), np.zeros(0), empty, empty)
        columns = [np.concatenate(c) for c in zip(*parts, strict=True)]
        order = np.argsort(columns[0], kind="stable")
        return Taken(*(c[order] for c in columns))

    def drops(self) -> np.ndarray:
        """(B,) frames lost per ring so far, including those overwritten but not yet seen."""
        pending = np.maximum(self.written - self.capacity - self.read, 0)
        return self.dropped + pending

    def error_of(self, stream: int) -> str | None:
        """Why ``stream`` stopped, if it stopped on an error."""
        data = self.error[stream].tobytes().split(b"\0", 1)[0]
        return data.decode(errors="replace") or None


class RingSet:
    """The rings of every stream of a watch, in :class:`FrameRings` blocks: a block per
    batch of sources started together. The reader's side of :class:`FrameRings`, over
    all of them, by the watch's stream numbers: each block maps its rings to streams, so
    a removed stream's number can be given to a camera added later, in a block of its
    own. A block is never resized, so a decoder attached to one never sees it move; a
    block none of whose rings is in use any more is closed once its writers have ended
    (:meth:`retire`)."""

    def __init__(self) -> None:
        self.blocks: list[FrameRings] = []
        self._streams: list[np.ndarray] = []  # each block's stream of each ring; -1: none
        self.streams = 0  # B: one more than the highest stream number given
        self.closed = False

    def create(self, streams: Sequence[int], capacities: Sequence[int],
               drop_oldest: Sequence[bool], size: int) -> FrameRings:
        """A new block for ``streams`` (new numbers, or removed streams' numbers: see
        :meth:`retire`), their rings as :meth:`FrameRings.create` makes them."""
        block = FrameRings.create(capacities, drop_oldest, size)
        self.blocks.append(block)
        self._streams.append(np.array(streams, np.int64))
        self.streams = max(self.streams, max(streams) + 1)
        return block

    def _where(self, stream: int) -> tuple[int, int]:
        """The block of ``stream`` and its ring there."""
        for k, streams in enumerate(self._streams):
            rings = np.flatnonzero(streams == stream)
            if rings.size:
                return k, int(rings[0])
        raise KeyError(stream)

    def _gathered(self, per_block: list[np.ndarray], empty: int | float = 0) -> np.ndarray:
        """(B,) the values of every block's rings at their streams; ``empty`` elsewhere."""
        values = np.full(self.streams, empty, per_block[0].dtype if per_block else np.int64)
        for streams, part in zip(self._streams, per_block, strict=True):
            used = streams >= 0
            values[streams[used]] = part[used]
        return values

    def counts(self, name: str) -> np.ndarray:
        """(B,) a per-ring counter of :class:`FrameRings` (``finished``, ``connected``,
        ``reconnects``, ``written``, ``skipped``), copied; 0 for a stream without a ring."""
        return self._gathered([getattr(block, name) for block in self.blocks])

    def available(self) -> np.ndarray:
        """(B,) frames each ring holds unread (see :meth:`FrameRings.available`)."""
        return self._gathered([block.available() for block in self.blocks])

    def drops(self) -> np.ndarray:
        """(B,) frames lost per ring so far (see :meth:`FrameRings.drops`)."""
        return self._gathered([block.drops() for block in self.blocks])

    def take(self, wanted: np.ndarray, out: np.ndarray) -> Taken:
        """:meth:`FrameRings.take` over every block: ``wanted`` (B,), ``out`` (B, S, S)."""
        parts = []
        for block, streams in zip(self.blocks, self._streams, strict=True):
            used = streams >= 0
            mine = np.zeros(len(streams), bool)
            mine[used] = wanted[streams[used]]
            taken = block.take(mine, out, streams)
            parts.append(Taken(streams[taken.rows], taken.index, taken.time, taken.grabbed,
                               taken.video, taken.epoch))
        columns = [np.concatenate([getattr(part, name) for part in parts]) for name in (
            "rows", "index", "time", "grabbed", "video", "epoch")]
        order = np.argsort(columns[0], kind="stable")
        return Taken(*(c[order] for c in columns))

    def retire(self, stream: int) -> FrameRings | None:
        """Halt ``stream``'s ring (:meth:`FrameRings.halt`: its camera was removed) and
        unmap it: its counts read 0 from now on, and its number may be given to a new
        block. Returns its block if none of that block's rings is in use any more: the
        caller stops its decoders, then :meth:`close_block` (blocks come and go
        meanwhile: a block, not its position, names it)."""
        k, ring = self._where(stream)
        self.blocks[k].halt(ring)
        self._streams[k][ring] = -1
        return self.blocks[k] if (self._streams[k] < 0).all() else None

    def close_block(self, block: FrameRings) -> None:
        """Close ``block`` (see :meth:`retire`), whose writers have stopped."""
        k = self.blocks.index(block)
        self.blocks.pop(k).close()
        self._streams.pop(k)

    def error_of(self, stream: int) -> str | None:
        """See :meth:`FrameRings.error_of`."""
        k, ring = self._where(stream)
        return self.blocks[k].error_of(ring)

    def close(self) -> None:
        """Close every block (the creator frees them)."""
        self.closed = True
        for block in self.blocks:
            block.close()
