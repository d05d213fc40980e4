"""What a report is made from: score tables of ``convlstm-ae score``, or the output folder of
``watch`` (one CSV per source with time, frame, error, calibrated_score, alarm, and
``events.jsonl``), plus optional events and a model folder."""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlstm_ae.errors import ConfigError
from convlstm_ae.pipeline.score import read_score_table
from convlstm_ae.release import MODEL_DIR
from convlstm_ae.release_files import CONFIG
from convlstm_ae.scoring.regularity import regularity_score

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
SCORE_TABLE_COLUMNS = {"video", "frame", "error", "patch_error"}
WATCH_COLUMNS = {"time", "video", "frame", "error", "score", "alarm"}  # FrameLog's
WATCH_PREFIX = "frames-"  # watch writes frames-SOURCE.csv
# watch column -> the score table's name for the same quantity
WATCH_RENAMES = {"score": "calibrated_error"}


@dataclass(frozen=True)
class Event:
    """One alarm event of ``watch``: a run of alarm frames of one source."""

    source: str
    start_frame: int
    end_frame: int
    start_time: float | None = None
    end_time: float | None = None
    peak_score: float | None = None
    peak_frame: int | None = None
    snapshot: Path | None = None
    video: str | None = None  # the file of a folder source the event happened in


@dataclass(frozen=True)
class ReportInput:
    """Per video its columns (always ``frame``), the events and the model folder, if any."""

    videos: dict[str, dict[str, np.ndarray]]
    events: list[Event]
    model_dir: Path | None
    tables: list[Path]


def read_report_input(path: Path, events: Path | None = None,
                      model: Path | None = None) -> ReportInput:
    """Reads a score table, a watch table, or a folder of either (with ``events.jsonl``
    and a model's ``config.json`` in it or in ``model/``).

    Raises:
        ConfigError: missing input, a CSV of neither shape, no table in a folder, a
            video in two tables, or a bad events file.
    """
    if path.is_dir():
        tables = sorted(path.glob("*.csv"))
        if not tables:
            raise ConfigError(f"{path}: no *.csv score or watch tables in this folder")
        if events is None and (path / EVENTS_FILE).is_file():
            events = path / EVENTS_FILE
        if model is None:
            model = next((d for d in (path, path / MODEL_DIR) if (d / CONFIG).is_file()), None)
    elif path.is_file():
        tables = [path]
    else:
        raise ConfigError(f"{path}: not found; expected a score table (.csv) or a watch folder")
    videos: dict[str, dict[str, np.ndarray]] = {}
    for table in tables:
        for name, columns in read_table(table).items():
            if name in videos:
                raise ConfigError(f"{table}: video {name!r} is also in another table")
            videos[name] = columns
    return ReportInput(videos, read_events(events) if events else [], model, tables)


def read_table(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per video, the columns of a score table or of one watch table (video = file stem).

    Raises:
        ConfigError: unreadable, or a CSV of neither shape.
    """
    header = _header(path)
    if WATCH_COLUMNS <= header:
        try:
            return _read_watch_table(path)
        except (UnicodeDecodeError, csv.Error) as error:
            raise ConfigError(f"{path}: not a readable CSV ({type(error).__name__})") from None
    if SCORE_TABLE_COLUMNS <= header:
        videos = read_score_table(path)
        return {name: {"frame": np.arange(len(c["error"])), **c} for name, c in videos.items()}
    raise ConfigError(f"{path}: neither a score table (video, frame, error, patch_error) nor a "
                      "watch table (time, video, frame, error, score, alarm)")


def watch_video_name(source_label: str, video: str) -> str:
    """How the report names one video of a watch source: ``LABEL: VIDEO``."""
    return f"{source_label}: {video}"


def _header(path: Path) -> set[str]:
    try:
        with open(path, newline="") as handle:
            return set(next(csv.reader(handle), []))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ConfigError(f"{path}: not a readable CSV ({type(error).__name__})") from None


def _read_watch_table(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per video of one watch source's table (``frames-LABEL.csv``), its columns."""
    label = path.stem.removeprefix(WATCH_PREFIX)
    rows: dict[str, dict[str, list[float]]] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        names = [c for c in reader.fieldnames or [] if c and c != "video"]
        for line, row in enumerate(reader, start=2):
            values = rows.setdefault(row["video"] or "", {c: [] for c in names})
            try:
                for column in names:
                    values[column].append(float(row[column]))
            except (TypeError, ValueError):
                raise ConfigError(f"{path}: line {line}: values are not numbers") from None
    if not rows:
        raise ConfigError(f"{path}: no rows")
    videos = {}
    for video, values in rows.items():
        columns = {WATCH_RENAMES.get(c, c): np.asarray(v) for c, v in values.items()}
        columns["frame"] = columns["frame"].astype(np.int64)
        columns["regularity"] = regularity_score(columns["error"])
        videos[watch_video_name(label, video)] = columns
    return videos


def read_events(path: Path) -> list[Event]:
    """Events of a JSON-lines file; snapshots relative to its folder are resolved, and
    only those inside that folder are kept.

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
            events.append(_event(data, path, number))
    return events


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
    snapshot = data.get("snapshot")
    if snapshot is not None and not isinstance(snapshot, str):
        raise ConfigError(f"{where}: 'snapshot' must be a path")
    if snapshot and (path.parent / snapshot).resolve().is_relative_to(path.parent.resolve()):
        fields["snapshot"] = path.parent / snapshot
    elif snapshot:  # a planted ../../etc/passwd or an image elsewhere: never embedded
        log.warning("%s: snapshot %r lies outside %s; not embedded", where, snapshot,
                    path.parent)
    if isinstance(data.get("video"), str):
        fields["video"] = data["video"]
    return Event(data["source"], **fields)
