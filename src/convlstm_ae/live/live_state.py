"""What the web page of ``watch --serve`` shows, handed over by the scoring loop.

The loop calls :meth:`LiveState.update` once per step with its arrays over the streams
(a ring write and two array copies, no Python work per stream). Everything else comes
as to any other :class:`~convlstm_ae.live.outputs.Sink` of ``watch``: each event's end
record (:meth:`LiveState.send`, once its snapshot is on disk) and every camera's status
once a second (:meth:`LiveState.status`). The page's server thread reads copies under
the same lock. Pictures are drawn and encoded only when the page asks, at most once per
:data:`PICTURE_EVERY` seconds per camera, however many look; snapshots and clips are
read from the output folder. Every string handed out has gone through
:func:`~convlstm_ae.live.sources.redact`.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convlstm_ae.data.video_io import encode_jpeg
from convlstm_ae.live.clips import HeatStyle
from convlstm_ae.live.outputs import EVENT_CLIPS, EVENT_SNAPSHOTS, Sink
from convlstm_ae.live.sources import redact
from convlstm_ae.rows import placed, put
from convlstm_ae.viz.overlay import heat_frame, upscale

CURVE_POINTS = 8192  # scores kept per camera: 5 minutes at 27 fps
CURVE_SECONDS = 300.0  # the page's score curve: the scores of the last 5 minutes
CURVE_WIDTH = 300  # the curve is pooled to at most this many points (each a bin's maximum)
EVENTS_KEPT = 100  # the newest events shown
PICTURE_EVERY = 0.25  # seconds: a camera's picture is drawn at most 4 times a second


class LiveState(Sink):
    """The latest frame, heat map, scores and status of each camera, and the recent
    events, shared between the scoring loop and the page's server (thread-safe).

    Args:
        names: each camera's source name (redacted here again).
        threshold: the alarm threshold of the score, every camera's until
            :meth:`set_camera` gives one its own.
        out: watch's output folder, which the event records' snapshots and clips are in.
        frame_size: the models' frame side S.
        heat: each camera's heat map scale (its model's); None: no heat map.
    """

    def __init__(self, names: Sequence[str], threshold: float, out: Path, *,
                 frame_size: int, heat: Sequence[HeatStyle | None]) -> None:
        streams = len(names)
        self.names = [redact(name) for name in names]
        self.thresholds = [threshold] * streams
        self.masks: list[np.ndarray | None] = [None] * streams  # ignored cells, shown hatched
        self.out = out
        self.heat = list(heat)
        self.running = True
        self._lock = threading.Lock()
        self._scores = np.full((streams, CURVE_POINTS), np.nan, np.float32)
        self._times = np.zeros((streams, CURVE_POINTS))  # time.time() of each score
        self._count = np.zeros(streams, np.int64)  # scores seen per camera
        self._frames = np.zeros((streams, frame_size, frame_size), np.uint8)
        self._maps: list[np.ndarray | None] = [None] * streams  # the latest, per camera
        self._alarm = np.zeros(streams, bool)
        self._shown = list(range(streams))  # the cameras listed: not removed
        self._status: dict[int, dict] = {}  # each listed camera's, by its id
        # each shown event, and its snapshot and clip (paths in the output folder)
        self._events: deque[tuple[dict, str | None, str | None]] = deque(maxlen=EVENTS_KEPT)
        self._next_event = 1
        self._pictures: list[tuple[float, int, bytes] | None] = [None] * streams

    def add_camera(self, camera: int, name: str, threshold: float, heat: HeatStyle | None
                   ) -> None:
        """A new camera of id ``camera``: one more, after the others (their count), or a
        removed camera's id, given to this one; with no score yet."""
        with self._lock:
            put(self.names, camera, redact(name))
            put(self.thresholds, camera, threshold)
            put(self.masks, camera, None)
            put(self.heat, camera, heat)
            self._scores = placed(self._scores, camera, np.nan)
            self._times = placed(self._times, camera, 0)
            self._count = placed(self._count, camera, 0)
            self._frames = placed(self._frames, camera, 0)
            put(self._maps, camera, None)
            self._alarm = placed(self._alarm, camera, False)
            put(self._pictures, camera, None)
            bisect.insort(self._shown, camera)

    def remove_camera(self, camera: int) -> None:
        """Camera ``camera`` is no longer listed (its events stay)."""
        with self._lock:
            self._shown.remove(camera)
            self._status.pop(camera, None)

    def set_camera(self, camera: int, threshold: float, mask: np.ndarray | None) -> None:
        """Camera ``camera``'s threshold and mask (its ignored cells, (h, w) bool) from now."""
        with self._lock:
            self.thresholds[camera], self.masks[camera] = threshold, mask
            self._pictures[camera] = None

    def update(self, rows: np.ndarray, scores: np.ndarray, alarm: np.ndarray,
               frames: np.ndarray, maps: Sequence[np.ndarray] | None) -> None:
        """One step: the scores (n,) and open events (n,) of streams ``rows`` (n,), and
        their frames of ``frames`` (B, S, S) and their score maps (n of them, (h, w)
        each: at the model's size or the located score's cells)."""
        now = time.time()
        with self._lock:
            at = self._count[rows] % CURVE_POINTS
            self._scores[rows, at] = scores
            self._times[rows, at] = now
            self._count[rows] += 1
            self._alarm[rows] = alarm
            self._frames[rows] = frames[rows]
            if maps is not None:
                for camera, error_map in zip(rows.tolist(), maps, strict=True):
                    if self.heat[camera] is not None:
                        self._maps[camera] = np.array(error_map, np.float32)

    def status(self, cameras: Sequence[dict]) -> None:
        """The status of each listed camera, in the order of their ids, as
        :meth:`Sink.status`'s, with watch's counts so far (frames, events, finished, error)."""
        cleaned = [{key: _clean(value) for key, value in camera.items() if key != "alarm"}
                   for camera in cameras]
        with self._lock:
            self._status = dict(zip(self._shown, cleaned, strict=True))

    def send(self, record: dict) -> None:
        """An event record (as in ``events.jsonl``): the end record is shown (the start
        only lights the camera's alarm, which :meth:`update` does already). The page's
        ``id`` counts events in the order they end; the record's own is ``event_id``."""
        if record.get("type", "end") != "end":
            return
        shown = {key: _clean(value) for key, value in record.items()
                 if key not in ("id", "type", "snapshot")}
        shown["event_id"] = _clean(record.get("id"))
        if record.get("start_time") is not None and record.get("end_time") is not None:
            shown["duration_s"] = record["end_time"] - record["start_time"]
        shown["frames"] = record["end_frame"] - record["start_frame"] + 1
        with self._lock:
            shown = {"id": self._next_event, "time": time.time(), **shown}
            self._next_event += 1
            self._events.append((shown, record.get("snapshot"), record.get("clip")))

    def close(self) -> None:
        """The loop has ended, its open events closed: the page says so."""
        with self._lock:
            self.running = False
            self._alarm[:] = False
            self._pictures = [None] * len(self.names)  # drawn again, without the red border

    def cameras(self) -> list[dict]:
        """Each listed camera's id (its index) and name."""
        with self._lock:
            return [{"id": i, "name": self.names[i]} for i in self._shown]

    def page_status(self) -> dict:
        """Whether the loop runs, the threshold (None where cameras have their own), and per
        listed camera its name, status, threshold, latest score and whether an event is
        open."""
        with self._lock:
            shown = list(self._shown)
            thresholds = [self.thresholds[i] for i in shown]
            status = [dict(self._status.get(i, {})) for i in shown]
            last = self._scores[shown, (self._count[shown] - 1) % CURVE_POINTS]
            seen = self._count[shown] > 0
            alarm = self._alarm[shown]
        for k, (i, camera) in enumerate(zip(shown, status, strict=True)):
            camera |= {"id": i, "name": self.names[i],
                       "score": _clean(float(last[k])) if seen[k] else None,
                       "alarm": bool(alarm[k]), "threshold": thresholds[k]}
        common = thresholds[0] if len(set(thresholds)) == 1 else None
        return {"running": self.running, "threshold": common, "cameras": status}

    def curve(self, camera: int) -> dict:
        """The scores of the last :data:`CURVE_SECONDS`, oldest first, pooled to at most
        :data:`CURVE_WIDTH` points (each the maximum of its bin, so no peak is lost),
        with the seconds they span and the threshold."""
        with self._lock:
            count = int(self._count[camera])
            kept = min(count, CURVE_POINTS)
            at = (count - kept + np.arange(kept)) % CURVE_POINTS
            scores, times = self._scores[camera, at], self._times[camera, at]
            threshold = self.thresholds[camera]
        recent = times >= time.time() - CURVE_SECONDS
        scores, times = scores[recent], times[recent]
        if scores.size > CURVE_WIDTH:
            starts = np.linspace(0, scores.size, CURVE_WIDTH, endpoint=False).astype(int)
            scores = np.maximum.reduceat(scores, starts)
        span = float(times[-1] - times[0]) if times.size else 0.0
        return {"threshold": threshold, "seconds": span,
                "scores": [_clean(float(f"{s:.4g}")) for s in scores]}

    def picture(self, camera: int) -> bytes:
        """The camera's latest frame with its heat map and a red border while an event is
        open (the overlay's colours and scale), as JPEG; drawn anew at most every
        :data:`PICTURE_EVERY` seconds, and only when a new frame has come."""
        now = time.monotonic()
        cached = self._pictures[camera]
        count = int(self._count[camera])
        if cached and (now - cached[0] < PICTURE_EVERY or cached[1] == count):
            return cached[2]
        with self._lock:
            frame = self._frames[camera].copy()
            error_map = self._maps[camera]
            alarm = bool(self._alarm[camera])
            mask = self.masks[camera]
        heat = self.heat[camera]
        image = heat_frame(upscale(frame), error_map, limit=None if heat is None else heat.limit,
                           patch_size=1 if heat is None else heat.patch_size, alarm=alarm,
                           mask=mask)
        data = encode_jpeg(image)
        self._pictures[camera] = (now, count, data)
        return data

    def events(self, since: int = 0) -> list[dict]:
        """The kept events with an id above ``since``, newest first."""
        with self._lock:
            return [dict(shown) for shown, _, _ in reversed(self._events)
                    if shown["id"] > since]

    def snapshot(self, event: int) -> Path | None:
        """The PNG of event ``event``'s peak frame; None if the event is not kept."""
        return self._file(event, 1, EVENT_SNAPSHOTS)

    def clip(self, event: int) -> Path | None:
        """The MP4 of event ``event``; None if it has none, is not kept, or its file is
        not written yet (the post-roll is not over)."""
        return self._file(event, 2, EVENT_CLIPS)

    def _file(self, event: int, which: int, folder: str) -> Path | None:
        """The file a kept event's record names, if it is one in ``folder`` of the output
        folder, else None."""
        with self._lock:
            name = next((kept[which] for kept in self._events if kept[0]["id"] == event),
                        None)
        if name is None:
            return None
        path = (self.out / name).resolve()
        inside = path.parent == (self.out / folder).resolve()
        return path if inside and path.is_file() else None


def _clean(value: object) -> object:
    """A value fit for JSON on the page: numbers as they are (NaN and infinity as None),
    anything else as a redacted string."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int):
        return value
    return redact(str(value))
