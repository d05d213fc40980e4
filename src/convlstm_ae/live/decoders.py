"""The decoders of ``convlstm-ae watch``: worker processes that run the sources' grab loops
(decode, gray, resize) into the shared frame rings, off the scorer's interpreter lock.

Sources are dealt round-robin to ``workers`` processes (forkserver where there is one,
else spawn: never a fork of a process running PyTorch's threads); each runs one thread
per source, so a source blocked on a network read or reconnecting holds up none of the
others. Each source's decoding (FFmpeg's and OpenCV's threads) gets its share of the
cores (:func:`decode_threads`). Their log records come back to this process's loggers.
``workers=0``, and any source whose frames live in this process (:attr:`Source.local`),
grab in threads here.
"""

from __future__ import annotations

import ctypes
import logging
import logging.handlers
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

import cv2

from convlstm_ae.live.ring import FrameRings, RingSpec
from convlstm_ae.live.sources import Source

log = logging.getLogger(__name__)
JOIN_SECONDS = 2.0  # waited for a decoder to end before it is terminated
PARENT_CHECK = 0.5  # seconds between a decoder's looks at whether the scorer still runs
STOP_POLL = 0.05  # seconds between a waiting grab loop's looks at the stop flag
RELAY_POLL = 0.1  # seconds between the log relay's looks at whether it should stop


def _cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 2


def default_workers(sources: int) -> int:
    """Decoder processes for ``sources`` sources: one per core but the scorer's, at most
    one per source."""
    return max(1, min(sources, _cores() - 1))


def decode_threads(sources: int) -> int:
    """Threads one source's decoding (FFmpeg's and OpenCV's) may use: the cores shared
    among ``sources`` sources, at least one. Left alone, FFmpeg gives every capture a
    thread per core plus one: thousands of threads for hundreds of cameras."""
    return max(1, _cores() // max(1, sources))


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload([__name__])
    return context


class StopFlag:
    """Tells decoder processes to stop: a flag in shared memory, read and written without
    a lock, its :meth:`wait` polling. A multiprocessing Event would not do: a process
    killed while waiting on one (the out-of-memory killer) stays counted as a sleeper,
    and every later ``set`` then waits for it to wake, forever."""

    def __init__(self, context: Any) -> None:
        self._value = context.RawValue(ctypes.c_bool, False)

    def set(self) -> None:
        self._value.value = True

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout: float) -> bool:
        """Whether the flag was set within ``timeout`` seconds (looked at every
        :data:`STOP_POLL` s)."""
        end = time.monotonic() + timeout
        while not self.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, STOP_POLL))
        return True


def _grab_all(rings: FrameRings, work: Sequence[tuple[int, Source]], stop: Any,
              taken: Any) -> None:
    """Run each source's grab loop in its own thread until all end or ``stop`` is set.
    This thread wakes the loops waiting for room whenever the scorer signals ``taken``,
    and sets ``stop`` if the scoring process dies (killed: nothing else would stop them)."""
    room = threading.Condition()
    threads = [threading.Thread(target=source.run, args=(rings, stream, stop, room),
                                daemon=True, name=f"source {source.name}")
               for stream, source in work]
    for thread in threads:
        thread.start()
    scorer = multiprocessing.parent_process()
    while any(thread.is_alive() for thread in threads):
        if not scorer.is_alive():
            stop.set()
            return
        taken.acquire(timeout=PARENT_CHECK)
        with room:
            room.notify_all()


def _worker(spec: RingSpec, work: list[tuple[int, Source]], stop: Any, taken: Any,
            records: Any, level: int, threads: int) -> None:
    """A decoder process: attach to the rings, grab with ``threads`` decoding threads per
    source, send log records home. Ctrl-C is the scorer's to handle: it stops the
    decoders."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["OPENCV_FFMPEG_THREADS"] = str(threads)  # read as each capture opens
    cv2.setNumThreads(threads)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    rings = FrameRings.attach(spec)
    try:
        _grab_all(rings, work, stop, taken)
    finally:
        rings.close()


class Decoders:
    """The grab loops of ``sources`` (ring i is source i), started by :meth:`start`."""

    def __init__(self, sources: Sequence[Source], rings: FrameRings, workers: int) -> None:
        self.rings = rings
        here = [(i, s) for i, s in enumerate(sources) if s.local or workers == 0]
        away = [(i, s) for i, s in enumerate(sources) if not (s.local or workers == 0)]
        self._processes: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._stop_here = threading.Event()
        self._room_here = threading.Condition()
        self._taken: list[Any] = []  # a semaphore per decoder process
        self._listener: _LogRelay | None = None
        self._here = here
        self._away = [away[k::workers] for k in range(min(workers, len(away)))]

    def start(self) -> None:
        """Start every grab loop."""
        self._threads = [threading.Thread(target=source.run, daemon=True,
                                          args=(self.rings, stream, self._stop_here,
                                                self._room_here),
                                          name=f"source {source.name}")
                         for stream, source in self._here]
        for thread in self._threads:
            thread.start()
        if not self._away:
            return
        context = _context()
        self._stop_away = StopFlag(context)
        records = context.Queue()
        self._listener = _LogRelay(records)
        level = logging.getLogger("convlstm_ae").getEffectiveLevel()
        threads = decode_threads(sum(len(work) for work in self._away))
        self._taken = [context.Semaphore(0) for _ in self._away]
        self._processes = [context.Process(target=_worker, daemon=True, name=f"decoder {k}",
                                           args=(self.rings.spec, work, self._stop_away,
                                                 self._taken[k], records, level, threads))
                           for k, work in enumerate(self._away)]
        for process in self._processes:
            process.start()

    def taken(self) -> None:
        """The scorer took frames: wake the grab loops waiting for room in a ring."""
        with self._room_here:
            self._room_here.notify_all()
        for taken in self._taken:
            taken.release()

    def reap(self) -> None:
        """Mark the rings of a decoder process that died (killed, out of memory) as
        finished, with the reason, so that the scorer does not wait for them."""
        for process, work in zip(self._processes, self._away, strict=True):
            if process.exitcode not in (None, 0):
                for stream, _ in work:
                    if not self.rings.finished[stream]:
                        self.rings.fail(stream, f"its decoder process ended with exit code "
                                        f"{process.exitcode}")
                        self.rings.finished[stream] = 1

    def stop(self) -> None:
        """Stop grabbing; wait briefly for each loop, then end the processes left (a
        thread stuck in a read may outlive it: see :attr:`ended`)."""
        self._stop_here.set()
        if self._processes:
            self._stop_away.set()
        for thread in self._threads:
            thread.join(timeout=JOIN_SECONDS)
        for process in self._processes:
            process.join(timeout=JOIN_SECONDS)
            if process.is_alive():
                process.terminate()
                process.join()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    @property
    def pids(self) -> list[int]:
        """The process ids of the decoder processes started (none for grab threads here)."""
        return [process.pid for process in self._processes]

    @property
    def ended(self) -> bool:
        """Whether every grab loop has ended: none writes into the rings any more."""
        return not any(loop.is_alive() for loop in [*self._threads, *self._processes])


class _LogRelay:
    """Hands the decoders' log records to the loggers of their names here, from a thread
    that polls their queue. Not logging's ``QueueListener``: its ``stop`` puts a sentinel
    on the queue, and a decoder process killed while writing to it would leave the
    queue's shared write lock held, so the sentinel, and the watch's end, would wait
    forever. This process only reads, and stops within :data:`RELAY_POLL` seconds."""

    def __init__(self, records: Any) -> None:
        self._records = records
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="decoder logs")
        self._thread.start()

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()  # then relay what is queued, and end
            try:
                record = self._records.get(timeout=0 if stopping else RELAY_POLL)
            except queue.Empty:
                if stopping:
                    return
                continue
            logging.getLogger(record.name).handle(record)

    def stop(self) -> None:
        """Stop relaying (the records still queued are relayed first, unless the queue is
        stuck); wait for the thread at most :data:`JOIN_SECONDS`."""
        self._stop.set()
        self._thread.join(timeout=JOIN_SECONDS)
