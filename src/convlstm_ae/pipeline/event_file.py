"""Events of ``watch`` as a file: :class:`Event`, one JSON object a line in
``events.jsonl`` (:data:`EVENTS_FILE`), written by ``live`` and read back by the report.

``watch`` writes two lines per event, both with its ``id``: ``"type": "start"`` once the
run holds its minimum of alarmed frames (end frame and time still null, the peak so
far), and ``"type": "end"`` with every field when it closes. A reader keeps the end
lines; a line with no ``type`` (files of older versions) is a whole event too."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from convlstm_ae.errors import ConfigError

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"


@dataclass(frozen=True, kw_only=True)
class Event:
    """A stretch of anomalous frames of one source (of one video of it).

    ``live/events.py`` fills the frames, times and scores; ``watch`` adds the ``id``, the
    ``camera`` (the source's file label, as in MQTT topics), the ``snapshot`` and the
    ``clip``. A file read back may leave out all but the source and the frames; its
    ``snapshot`` and ``clip`` are resolved against the file's folder.
    """

    id: str | None = None
    source: str
    camera: str | None = None
    video: str | None = None  # the file of a folder source the event happened in
    start_frame: int
    end_frame: int
    start_time: float | None = None
    end_time: float | None = None
    peak_score: float | None = None
    peak_frame: int | None = None
    alarm_frames: int | None = None
    snapshot: Path | None = None
    clip: Path | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def read_events(path: Path) -> list[Event]:
    """The events of a JSON-lines file, one per end line (start lines are skipped);
    snapshots and clips relative to its folder are resolved, and only those inside that
    folder are kept.

    Raises:
        ConfigError: missing file, a line that is no JSON object, or a missing or
            mistyped field.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: events file not found")
    events = []
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; expected JSON lines of events") from None
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            if _kind(data, path, number) == "end":
                events.append(_event(data, path, number))
    return events


def _kind(data: object, path: Path, number: int) -> str:
    """A line's ``type``: start or end (no type: end)."""
    kind = data.get("type", "end") if isinstance(data, dict) else "end"
    if kind not in ("start", "end"):
        raise ConfigError(f"{path}: line {number}: 'type' must be 'start' or 'end'")
    return kind


def _event(data: object, path: Path, number: int) -> Event:
    where = f"{path}: line {number}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: not a JSON object")
    if not isinstance(data.get("source"), str):
        raise ConfigError(f"{where}: 'source' must be a string")
    fields = {}
    for name, kind, required in (("start_frame", int, True), ("end_frame", int, True),
                                 ("peak_frame", int, False), ("start_time", float, False),
                                 ("end_time", float, False), ("peak_score", float, False)):
        value = data.get(name)
        if value is None and not required:
            continue
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value) or (kind is int and value != int(value)):
            expected = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{where}: {name!r} must be {expected}")
        fields[name] = kind(value)
    for name in ("snapshot", "clip"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: {name!r} must be a path")
        if value and (path.parent / value).resolve().is_relative_to(path.parent.resolve()):
            fields[name] = path.parent / value
        elif value:  # a planted ../../etc/passwd or a file elsewhere: never shown
            log.warning("%s: %s %r lies outside %s; not shown", where, name, value,
                        path.parent)
    for name in ("video", "id", "camera"):
        if isinstance(data.get(name), str):
            fields[name] = data[name]
    return Event(source=data["source"], **fields)
