"""What ``convlstm-ae watch`` writes: a per-frame CSV per source and an events JSONL from one
writer thread, flushed at least every :data:`FLUSH_EVERY` seconds (a crash loses at most
the rows of that time), a PNG snapshot per event, written atomically, and what it hands
to its :class:`Sink` s: each event record once it is on disk (a start and an end per
event), and the cameras' status. :class:`Notifier` runs a command and posts a webhook
per record from a background thread, so that a slow receiver never holds up scoring."""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import shlex
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data.video_io import encode_png
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.sources import redact
from convlstm_ae.rows import put

log = logging.getLogger(__name__)
FRAME_COLUMNS = ("time", "video", "frame", "history", "error", "patch_error", "score", "alarm")
NOTIFY_TIMEOUT = 10.0
FLUSH_EVERY = 0.1  # seconds: the longest a written row waits for its flush
QUEUED_STEPS = 256  # steps the writer may fall behind before the scorer waits
EVENT_SNAPSHOTS = "snapshots"  # the output folder's: the peak frame of each event
EVENT_CLIPS = "clips"  # watch --clips: an MP4 per event


@dataclass(frozen=True)
class Rows:
    """The per-frame rows of one step: one per scored stream, as arrays (n,)."""

    streams: np.ndarray
    time: np.ndarray
    video: np.ndarray  # the video's number in its source
    frame: np.ndarray
    history: np.ndarray
    error: np.ndarray
    patch_error: np.ndarray
    score: np.ndarray
    alarm: np.ndarray


class Sink:
    """Where ``watch`` delivers what happens, besides its files: each event record (a
    start, then an end; see :mod:`convlstm_ae.pipeline.event_file`) once it is on disk,
    and every camera's status at most once a second. Calls come from ``watch``'s threads
    and must not block. This base ignores all of them."""

    def send(self, record: dict) -> None:
        """One event record, as written to ``events.jsonl``."""

    def status(self, cameras: list[dict]) -> None:
        """Per camera: ``camera`` (its label), ``fps_in``, ``fps_out``, ``latency_ms``,
        ``drops``, ``skipped`` (frames left out to score at the model's frame rate),
        ``reconnects``, ``connected``, ``score``, ``alarm`` (ON or OFF), and
        watch's counts so far: ``frames``, ``events``, ``finished``, ``error`` (redacted);
        once more at the end, every event closed and the rates 0."""

    def close(self) -> None:
        """Deliver what is queued (boundedly), then stop."""


class OutputWriter:
    """Everything ``watch`` writes, from one background thread: per stream a CSV of
    :data:`FRAME_COLUMNS` (``frames-LABEL.csv``), the events as JSON lines, and a
    snapshot per event. Rows are flushed at least every ``flush_every`` seconds, never
    one by one; an event record is written after its snapshot, flushed at once, and only
    then handed to each of ``sinks``. A write that fails (a full disk) stops the thread
    and is raised by the next :meth:`rows` or by :meth:`close`.

    Args:
        out: the output folder.
        labels: each stream's file label.
        videos: each stream's video names, by their number in :class:`Rows`.
        events: the events file.
    """

    def __init__(self, out: Path, labels: Sequence[str], videos: Sequence[Sequence[str]],
                 events: Path, sinks: Sequence[Sink], flush_every: float = FLUSH_EVERY) -> None:
        self.out = out
        self.sinks = list(sinks)
        self.flush_every = flush_every
        self.error: BaseException | None = None
        self._videos: list[list[str]] = []
        self._frames: list[io.TextIOWrapper] = []
        for stream, (label, names) in enumerate(zip(labels, videos, strict=True)):
            self._add(stream, label, names)
        self._events = open(events, "a")
        self._work: queue.Queue[tuple | None] = queue.Queue(maxsize=QUEUED_STEPS)
        self._thread = threading.Thread(target=self._run, name="watch writer", daemon=True)
        self._thread.start()

    def add(self, stream: int, label: str, videos: Sequence[str]) -> None:
        """A new source at ``stream`` (one more, after the others, or a removed one's,
        whose CSV is closed after the rows queued before this): its CSV is opened
        (appended to) before the rows queued after this."""
        self._raise()
        self._work.put(("add", stream, label, videos))

    def _add(self, stream: int, label: str, videos: Sequence[str]) -> None:
        if stream < len(self._frames):
            self._frames[stream].close()
        put(self._videos, stream, [_csv_field(name) for name in videos])
        # appended, as events.jsonl is: a second watch into the same folder loses nothing
        handle = open(self.out / f"frames-{label}.csv", "a", newline="")
        if handle.tell() == 0:
            handle.write(",".join(FRAME_COLUMNS) + "\r\n")
            handle.flush()
        put(self._frames, stream, handle)

    def rows(self, rows: Rows) -> None:
        """Queue one step's rows (waits if the writer is :data:`QUEUED_STEPS` behind)."""
        self._raise()
        self._work.put(("rows", rows))

    def event(self, record: dict, snapshot: Path | None = None,
              image: np.ndarray | None = None) -> None:
        """Queue one event record: its snapshot (``image``) at ``snapshot`` if given, its
        JSON line, then its delivery to the sinks."""
        self._raise()
        self._work.put(("event", record, snapshot, None if image is None else image.copy()))

    def close(self) -> None:
        """Write what is queued, flush and close every file; raise a failed write."""
        if self._thread.is_alive():
            self._work.put(None)
            self._thread.join()
        for handle in [*self._frames, self._events]:
            handle.close()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _run(self) -> None:
        flushed, dirty = time.monotonic(), False
        try:
            while True:
                try:
                    item = self._work.get(timeout=self.flush_every)
                except queue.Empty:
                    item = ()
                if item is None:
                    break
                if item and item[0] == "rows":
                    self._write_rows(item[1])
                    dirty = True
                elif item and item[0] == "add":
                    self._add(*item[1:])
                elif item:
                    self._write_event(*item[1:])
                if dirty and (not item or time.monotonic() - flushed >= self.flush_every):
                    for handle in self._frames:
                        handle.flush()
                    flushed, dirty = time.monotonic(), False
            for handle in self._frames:
                handle.flush()
        except Exception as error:  # handed to the scorer's thread, which raises it
            self.error = error
            while self._work.get() is not None:  # let the scorer finish; it raises then
                pass

    def _write_rows(self, rows: Rows) -> None:
        videos = self._videos
        columns = zip(*(getattr(rows, name).tolist() for name in (
            "streams", "time", "video", "frame", "history", "error", "patch_error", "score",
            "alarm")), strict=True)
        for stream, seconds, video, frame, history, error, patch, score, alarm in columns:
            self._frames[stream].write(
                f"{seconds:.3f},{videos[stream][video]},{frame},{history},{error:.6g},"
                f"{patch:.6g},{score:.6g},{int(alarm)}\r\n")

    def _write_event(self, record: dict, snapshot: Path | None, image: np.ndarray | None
                     ) -> None:
        if snapshot is not None:
            write_snapshot(snapshot, image)
        self._events.write(json.dumps(record) + "\n")
        self._events.flush()
        for sink in self.sinks:
            sink.send(record)


def _csv_field(text: str) -> str:
    """``text`` as one CSV field, quoted where it needs to be."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([text])
    return buffer.getvalue().rstrip("\r\n")


def write_snapshot(path: Path, image: np.ndarray) -> Path:
    """Write ``image`` as a PNG, atomically, never over an earlier file.

    Raises:
        OutputExistsError: ``path`` exists.
    """
    data = encode_png(image)
    with atomic_path(path, replace=False) as temporary:
        temporary.write_bytes(data)
    return path


def _command(command: str) -> list[str]:
    """``--on-event``'s command line, split as a shell would.

    Raises:
        ConfigError: an unclosed quote, or nothing to run.
    """
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise ConfigError(f"--on-event {command!r}: not a command line ({error})") from None
    if not words:
        raise ConfigError("--on-event: empty command")
    return words


def _webhook(url: str) -> str:
    """``--webhook``, an http:// or https:// URL with a host and no spaces.

    Raises:
        ConfigError: any other scheme (``file://`` would send nothing), no host, spaces.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() for c in url):
        raise ConfigError(f"--webhook {redact(url)}: expected an http:// or https:// URL "
                          "with a host and no spaces")
    return url


class Notifier(Sink):
    """Sends each event record's JSON (the start and the end of each event, told apart
    by ``type``) to ``command`` (on its stdin) and to ``webhook`` (HTTP POST), one after
    another in a background thread; failures are logged."""

    def __init__(self, command: str | None = None, webhook: str | None = None,
                 timeout: float = NOTIFY_TIMEOUT) -> None:
        self.command = _command(command) if command is not None else None
        self.webhook = _webhook(webhook) if webhook is not None else None
        self.timeout = timeout
        self.failures = 0
        self._events: queue.Queue[dict | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="event notifier", daemon=True)
        if self.command or self.webhook:
            self._thread.start()

    def send(self, record: dict) -> None:
        """Queue ``record`` for the command and the webhook (if any)."""
        if self._thread.is_alive():
            self._events.put(record)

    def close(self, wait: float = 2 * NOTIFY_TIMEOUT) -> None:
        """Send what is queued (waiting at most ``wait`` seconds), then stop."""
        if self._thread.is_alive():
            self._events.put(None)
            self._thread.join(timeout=wait)

    def _run(self) -> None:
        while (event := self._events.get()) is not None:
            payload = json.dumps(event).encode()
            if self.command:
                self._call(payload)
            if self.webhook:
                self._post(payload)

    def _call(self, payload: bytes) -> None:
        try:
            result = subprocess.run(self.command, input=payload, timeout=self.timeout,
                                    capture_output=True, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            self._failed("--on-event", str(error))
            return
        if result.returncode != 0:
            self._failed("--on-event", f"exit code {result.returncode}: "
                         f"{result.stderr.decode(errors='replace').strip()[-200:]}")

    def _post(self, payload: bytes) -> None:
        request = urllib.request.Request(self.webhook, data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (OSError, ValueError) as error:
            self._failed(f"--webhook {redact(self.webhook)}", str(error))

    def _failed(self, what: str, why: str) -> None:
        self.failures += 1
        log.warning("%s failed: %s", what, redact(why))
