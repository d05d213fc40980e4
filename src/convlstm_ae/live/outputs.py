"""What ``convlstm-ae watch`` writes: a per-frame CSV per source and an events JSONL, both
flushed line by line (a crash loses at most the line being written), a PNG snapshot per
event, written atomically, and event notifications (a command, a webhook) sent from a
background thread so that a slow receiver never holds up scoring."""

from __future__ import annotations

import csv
import json
import logging
import queue
import shlex
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data.video_io import encode_png
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.sources import redact

log = logging.getLogger(__name__)
FRAME_COLUMNS = ("time", "video", "frame", "history", "error", "patch_error", "score", "alarm")
NOTIFY_TIMEOUT = 10.0


class FrameLog:
    """Per-frame rows of one source as CSV (:data:`FRAME_COLUMNS`), flushed per row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "w", newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(FRAME_COLUMNS)
        self._handle.flush()

    def write(self, seconds: float, video: str, frame: int, history: int, error: float,
              patch_error: float, score: float, alarm: bool) -> None:
        self._writer.writerow([f"{seconds:.3f}", video, frame, history, f"{error:.6g}",
                               f"{patch_error:.6g}", f"{score:.6g}", int(alarm)])
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class EventLog:
    """Events as JSON lines, flushed per event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "a")

    def write(self, event: dict) -> None:
        self._handle.write(json.dumps(event) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def write_snapshot(path: Path, image: np.ndarray) -> Path:
    """Write ``image`` as a PNG, atomically."""
    data = encode_png(image)
    with atomic_path(path) as temporary:
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


class Notifier:
    """Sends each event's JSON to ``command`` (on its stdin) and to ``webhook`` (HTTP
    POST), one event after another in a background thread; failures are logged."""

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

    def send(self, event: dict) -> None:
        """Queue ``event`` for the command and the webhook (if any)."""
        if self._thread.is_alive():
            self._events.put(event)

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
