"""The loop of ``convlstm-ae watch``: frames of every source, scored together, into
per-frame logs, events, snapshots and notifications.

All sources share one engine of B streams, one frame per source per step. A step runs
once every source that can deliver has a frame: finished sources and live sources that
are reconnecting are skipped at once; a live source that delivers nothing for
``max_wait`` seconds is skipped for that step. Files are never skipped (their next
frame is only a decode away), so a file is scored exactly as ``convlstm-ae score
--windows reset`` scores it. A skipped stream's slot gets a blank frame whose result is
discarded, and its memory restarts with its next frame. This keeps one batched call
per step; the price is that sources pace each other (a slow camera slows the step, a
faster one drops frames), which is why live sources drop their oldest frames.

Frames come from the sources' shared-memory rings (:mod:`convlstm_ae.live.ring`), filled
by decoder processes (:mod:`convlstm_ae.live.decoders`); a step gathers them into the
engine's input buffer with one numpy operation, and its scores, events and status are
arrays over the B streams: no Python work per frame but for events (rare) and overlays.
Rows and events go to one writer thread (:class:`~convlstm_ae.live.outputs.OutputWriter`).
"""

from __future__ import annotations

import glob
import logging
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from convlstm_ae import progress
from convlstm_ae.atomic import file_label, writable_folder
from convlstm_ae.config import default_patch_size
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.clips import ClipRules, Clips, HeatStyle
from convlstm_ae.live.decoders import Decoders, default_workers
from convlstm_ae.live.engine import Engine
from convlstm_ae.live.events import EventMachine, EventRules
from convlstm_ae.live.live_state import LiveState
from convlstm_ae.live.outputs import EVENT_CLIPS, EVENT_SNAPSHOTS, OutputWriter, Rows, Sink
from convlstm_ae.live.ring import FrameRings, Taken
from convlstm_ae.live.sources import Source
from convlstm_ae.pipeline.event_file import EVENTS_FILE, Event
from convlstm_ae.release_files import LOCATED, load_calibration, load_scoring_config
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.located import LocatedCalibration
from convlstm_ae.viz.overlay import (
    CURVE_FRAMES,
    OVERLAY_FPS,
    OverlayVideo,
    draw_overlay,
    heat_limit,
    overlay_path,
    upscale,
)

log = logging.getLogger(__name__)
MAX_WAIT = 1.0
POLL = 0.001  # seconds between looks at the rings while a step waits for frames
STATUS_EVERY = 1.0  # seconds between status-line refreshes


@dataclass(frozen=True)
class Scoring:
    """How errors become scores, and the alarm threshold: the located live score where
    the model has one (beyond the paper), else e(t) standardised by its calibration
    (None: the raw error)."""

    error: str
    calibration: DeploymentCalibration | None
    threshold: float
    heat_limit: float | None = None  # top of the overlay's colour scale, in the map's units
    patch_size: int | None = None  # None: the default for the model's frame size
    located: LocatedCalibration | None = None

    def score(self, errors: np.ndarray, history: np.ndarray) -> np.ndarray:
        """The whole-frame score of B frames: e(t) standardised, or e(t) itself."""
        if self.calibration is None:
            return errors
        return self.calibration.score(errors, history)


def model_scoring(model_dir: Path, threshold: float | None = None, live: bool = True
                  ) -> Scoring:
    """The scoring stored with a released model: its located live score if calibrated,
    else its e(t) and frame calibration; the threshold is the calibrated one unless
    given. ``live``: the errors come from the stream, whose memory resets every T' (reset
    windows), so a whole-frame calibration must too.

    Raises:
        ConfigError: no calibration and no ``threshold``; a live whole-frame calibration
            fitted with other windows or errors.
    """
    stored = load_scoring_config(model_dir)
    calibrations = load_calibration(model_dir) or {}
    located = calibrations.get(LOCATED)
    if located is not None:
        return Scoring(stored.error, None, located.threshold if threshold is None else threshold,
                       located.heat_limit, 1, located)
    calibration = calibrations.get("frame")
    if calibration is None and threshold is None:
        raise ConfigError(f"{model_dir}: no calibration.json (train with a hold-out to "
                          "calibrate); pass --threshold on the raw error e(t)")
    fitted = calibration.scheme() if calibration else None
    if live and fitted and fitted != ("reset", stored.error):
        raise ConfigError(
            f"{model_dir}: calibrated with {fitted[0]} windows and {fitted[1]} errors, but "
            f"watch scores reset windows with {stored.error} errors; calibrate a copy for "
            f"it: convlstm-ae calibrate MODEL NORMAL_FOOTAGE --windows reset --error "
            f"{stored.error} --out MODEL-live")
    limit = None
    if "patch" in calibrations:  # the patch score's alarm level, back to squared errors
        patch = calibrations["patch"]
        limit = heat_limit(patch.position.mean, patch.position.std, patch.threshold)
        limit = limit**2 if stored.error == "sqrt" else limit
    return Scoring(stored.error, calibration,
                   calibration.threshold if threshold is None else threshold, limit,
                   stored.patch_size)


@dataclass
class SourceReport:
    """What happened to one source; ``frames`` counts the scored ones."""

    name: str
    frames: int = 0
    events: int = 0
    drops: int = 0
    reconnects: int = 0
    error: str | None = None
    connected: bool = True  # False while a live source is reconnecting
    finished: bool = False  # it delivers no more frames


class Watch:
    """Scores ``sources`` through ``engine`` (one stream each) until they all end,
    :meth:`stop` is called, or Ctrl-C; writes into ``out``.

    Args:
        engine: an engine of ``len(sources)`` streams.
        sources: not started yet; :meth:`run` starts and stops their decoders.
        out: output folder: ``frames-NAME.csv`` per source, ``events.jsonl``,
            ``snapshots/``, ``clips/``.
        scoring: e(t), calibration and threshold.
        rules: event hysteresis, the same for every source or one per source; its
            threshold is the alarm level too.
        masks: each source's ignored cells of the located live score ((h, w) bool, see
            :mod:`convlstm_ae.live.cameras`; None: none), zeroed before the frame's score
            and hatched in the pictures; needs the located score.
        sinks: where event records (a start and an end per event) and the status are
            delivered, besides ``events.jsonl`` (:class:`~convlstm_ae.live.outputs.Sink`).
        max_wait: seconds a step waits for a live source that has no frame.
        overlay: write each source's overlay video here (``NAME-SOURCE.mp4`` beside it
            when there are several); needs an engine that returns error maps.
        decoders: decoder processes (:mod:`convlstm_ae.live.decoders`); 0 decodes in
            threads of this process; default :func:`default_workers`.
        clips: write an MP4 per event (:mod:`convlstm_ae.live.clips`); its overlay needs
            an engine that returns error maps.
        publish: keep :attr:`live_state` up to date for the web page (``--serve``): it
            is one more of the sinks (events, status), and gets each step's frames,
            scores and maps.
    """

    def __init__(self, engine: Engine, sources: Sequence[Source], out: Path, *,
                 scoring: Scoring, rules: EventRules | Sequence[EventRules],
                 masks: Sequence[np.ndarray | None] = (), sinks: Sequence[Sink] = (),
                 max_wait: float = MAX_WAIT, overlay: Path | None = None,
                 decoders: int | None = None, clips: ClipRules | None = None,
                 publish: bool = False) -> None:
        if engine.streams != len(sources):
            raise ConfigError(f"the engine scores {engine.streams} streams, not "
                              f"{len(sources)}")
        if overlay and scoring.heat_limit is None:
            raise ConfigError(f"{overlay}: the overlay's colour scale needs the model's patch "
                              "calibration (convlstm-ae calibrate MODEL NORMAL_FOOTAGE)")
        if clips and clips.overlay and scoring.heat_limit is None:
            raise ConfigError("--clip-overlay: the overlay's colour scale needs the model's "
                              "patch calibration (convlstm-ae calibrate MODEL NORMAL_FOOTAGE)")
        if decoders is not None and decoders < 0:
            raise ConfigError(f"--decoders must be 0 or more, got {decoders}")
        if any(mask is not None for mask in masks) and scoring.located is None:
            raise ConfigError("a mask needs the model's located live score (convlstm-ae "
                              "calibrate MODEL NORMAL_FOOTAGE --located)")
        self.engine = engine
        self.sources = list(sources)
        self.out = writable_folder(out)
        self.scoring = scoring
        self.sinks = list(sinks)
        self.max_wait = max_wait
        self.decoders = default_workers(len(sources)) if decoders is None else decoders
        self.reports = [SourceReport(s.name) for s in self.sources]
        self._stop = threading.Event()
        streams = len(self.sources)
        self._labels = _unique([file_label(s.name) for s in self.sources])
        self._videos = [s.video_names for s in self.sources]
        self._live = np.array([s.live for s in self.sources])
        self._events = EventMachine([s.name for s in self.sources], self._videos, rules)
        self._ids: list[str | None] = [None] * streams  # of each stream's open event
        self._clip_paths: list[Path | None] = [None] * streams  # and its clip
        self._tags: set[str] = set()  # of the ids given so far (see _new_id)
        size = engine.frame_size
        self._peaks = np.zeros((streams, size, size), np.uint8)
        self._epoch = np.full(streams, -1, np.int64)  # the video or connection scored last
        self._stale = np.zeros(streams, bool)  # skipped last step: the memory restarts
        self._frames = np.zeros(streams, np.int64)
        self._overlays = [OverlayVideo(overlay_path(overlay, label, len(self._labels) > 1),
                                       OVERLAY_FPS) for label in self._labels] if overlay else []
        self._curves = [deque(maxlen=CURVE_FRAMES) for _ in self.sources]
        self._patch = scoring.patch_size or default_patch_size(size)
        self._located = scoring.located.scorer(streams) if scoring.located else None
        self._masks: list[np.ndarray | None] = [None] * streams
        self._changes: queue.SimpleQueue[tuple[int, EventRules, np.ndarray | None]] = (
            queue.SimpleQueue())  # update_camera's, applied by the loop between steps
        self._clip_rules = clips
        self._clips: Clips | None = None
        self.live_state = LiveState(
            [s.name for s in self.sources], float(self._events.threshold[0]), self.out,
            frame_size=size, heat_limit=scoring.heat_limit, patch_size=self._patch
        ) if publish else None
        if self.live_state is not None:
            self.sinks.append(self.live_state)
        for stream, mask in enumerate(masks):
            self._apply(stream, self._events.rules[stream], mask)
        self._rings: FrameRings | None = None
        self._decoders: Decoders | None = None
        self._writer: OutputWriter | None = None
        self._status: _Status | None = None

    def stop(self) -> None:
        """End :meth:`run` after the current step (from another thread)."""
        self._stop.set()

    @property
    def rules(self) -> list[EventRules]:
        """Each source's event rules now."""
        return list(self._events.rules)

    def update_camera(self, stream: int, rules: EventRules, mask: np.ndarray | None) -> None:
        """Give source ``stream`` new event rules and mask (ignored cells, see ``masks``),
        from any thread; the loop applies them before its next step, the other sources
        untouched."""
        if mask is not None and self._located is None:
            raise ConfigError("a mask needs the model's located live score")
        self._changes.put((stream, rules, mask))

    def _apply(self, stream: int, rules: EventRules, mask: np.ndarray | None) -> None:
        self._events.set_rules(stream, rules)
        self._masks[stream] = mask
        if self._located is not None:
            self._located.ignore(stream, mask)
        if self.live_state is not None:
            self.live_state.set_camera(stream, rules.threshold, mask)

    def report(self) -> list[SourceReport]:
        """What happened to each source so far; callable from another thread while
        :meth:`run` runs, and after it."""
        rings = self._rings
        if rings is not None and rings.written is not None:
            drops, available = rings.drops(), rings.available()
            for stream, report in enumerate(self.reports):
                report.frames = int(self._frames[stream])
                report.drops = int(drops[stream])
                report.reconnects = int(rings.reconnects[stream])
                report.error = rings.error_of(stream)
                report.connected = bool(rings.connected[stream])
                report.finished = bool(rings.finished[stream]) and not available[stream]
        return [replace(r) for r in self.reports]

    def run(self) -> list[SourceReport]:
        """Score until every source ends, :meth:`stop`, or Ctrl-C (a normal end here).
        Everything scored is written and open events are closed before it returns."""
        (self.out / EVENT_SNAPSHOTS).mkdir(exist_ok=True)
        if self._clip_rules:
            heat = HeatStyle(self.scoring.heat_limit, self._patch
                             ) if self._clip_rules.overlay else None
            self._clips = Clips(self._labels, self.engine.frame_size, self._clip_rules, heat)
        self._rings = FrameRings.create([s.queue_frames for s in self.sources],
                                        [s.drop_oldest for s in self.sources],
                                        self.engine.frame_size)
        # a live source counts as connected from its first frame on: a camera still
        # opening (an RTSP open can take seconds) holds up no step
        self._rings.connected[self._live] = 0
        try:
            self._writer = OutputWriter(self.out, self._labels, self._videos,
                                        self.out / EVENTS_FILE, self.sinks)
            self._status = _Status(self.sources, self._rings)
            self._decoders = Decoders(self.sources, self._rings, self.decoders)
            self._decoders.start()
            try:
                self._loop()
            except KeyboardInterrupt:
                log.info("interrupted: closing the outputs")
            finally:
                self._finish()
        finally:
            self._rings.close()
        return self.reports

    def _loop(self) -> None:
        rings, waiting_since = self._rings, None
        while not self._stop.is_set():
            while not self._changes.empty():
                self._apply(*self._changes.get())
            cameras = self._status.refresh(self._labels, self._events.active)
            if cameras is not None:  # once a second
                self._decoders.reap()
                self._send_status(cameras)
            finished = rings.finished.astype(bool)  # read before the counts: no frame after
            ready = rings.available() > 0
            if not ready.any():
                if finished.all():
                    return
                time.sleep(POLL)
                continue
            missing = ~ready & ~finished & (rings.connected.astype(bool) | ~self._live)
            if missing.any():
                waiting_since = waiting_since or time.monotonic()
                overdue = time.monotonic() - waiting_since > self.max_wait
                if not (overdue and self._live[missing].all()):
                    time.sleep(POLL)
                    continue
            waiting_since = None
            self.step(ready)

    def step(self, ready: np.ndarray) -> Taken:
        """One engine call over every stream: the next frame of each ``ready`` one, blank
        frames elsewhere; scores, events, rows and status as arrays over the streams.
        Returns the frames scored."""
        batch = self.engine.batch  # (B, S, S) uint8, pinned on CUDA
        taken = self._rings.take(ready, batch)
        self._decoders.taken()
        rows = taken.rows
        scored = np.zeros(len(self.sources), bool)
        scored[rows] = True
        batch[~scored] = 0
        new_video = taken.epoch != self._epoch[rows]
        self._epoch[rows] = taken.epoch
        restart = rows[new_video | self._stale[rows]]
        if restart.size:
            self.engine.reset(restart.tolist())
            if self._located is not None:
                self._located.reset(restart.tolist())
        output = self.engine(batch)
        errors, patches, history = (np.asarray(values) for values in (
            output.select("frame", self.scoring.error), output.select("patch", self.scoring.error),
            output.history))
        maps = None
        if self._located is not None:  # the located live score, all streams at once
            scores, maps = self._located(np.asarray(output.cells), history)
        else:
            scores = np.asarray(self.scoring.score(errors, history))
            maps = None if self.engine.maps is None else np.asarray(self.engine.maps)
        self._stale = ~scored
        self._frames[rows] += 1
        self._writer.rows(Rows(rows, taken.time, taken.video, taken.index, history[rows],
                               errors[rows], patches[rows], scores[rows],
                               scores[rows] > self._events.threshold[rows]))
        self._status.scored(rows, taken.grabbed, scores[rows])
        events = self._events
        ended = events.close(rows[new_video])
        was_active = events.active[rows]
        ended += events.update(rows, taken.index, taken.time, scores[rows], taken.video)
        started = rows[events.active[rows] & ~was_active]
        if self._clips:
            self._clips.cut(rows[new_video])
        for stream, event in ended:
            self._end(stream, event)
        if self._clips:  # after the ends (their post-rolls take this frame), before the starts
            self._clips.add(rows, batch[rows], taken.time, scores[rows], events.active[rows],
                            None if maps is None else maps[rows])
        for stream in started.tolist():
            self._start(stream)
        peaked = rows[events.open[rows] & (events.peak_frame[rows] == taken.index)]
        self._peaks[peaked] = batch[peaked]
        if self.live_state is not None:
            self.live_state.update(rows, scores[rows], events.active[rows], batch, maps)
        if self._overlays and maps is not None:
            for k, stream in enumerate(rows.tolist()):
                self._draw(stream, batch[stream], float(taken.time[k]), float(scores[stream]),
                           maps[stream])
        return taken

    def _draw(self, stream: int, image: np.ndarray, seconds: float, score: float,
              error_map: np.ndarray) -> None:
        """The frame's overlay: the score's map on the calibrated scale, score curve, event."""
        self._curves[stream].append(score)
        drawn = draw_overlay(upscale(image), error_map, limit=self.scoring.heat_limit,
                             patch_size=self._patch, scores=self._curves[stream],
                             threshold=float(self._events.threshold[stream]),
                             alarm=bool(self._events.active[stream]),
                             label=f"{self.sources[stream].name} {seconds:.1f}s",
                             mask=self._masks[stream])
        self._overlays[stream].write(drawn)

    def _file_name(self, stream: int, event: Event, frame: int, suffix: str) -> str:
        """An event's snapshot or clip name, ``CAMERA-VIDEO-FRAME-TAG.png``: its frame
        number restarts with each video and connection, so the tag of the event's id
        (:meth:`_new_id`) keeps names of events of the same frame apart."""
        video = file_label(Path(event.video).stem)
        return f"{self._labels[stream]}-{video}-{frame:06d}-{_tag(self._ids[stream])}{suffix}"

    def _new_id(self, stream: int, event: Event) -> str:
        """A new event's id whose tag no earlier snapshot or clip of this camera and video
        holds, in this run or in files of the output folder (a run before)."""
        prefix = f"{self._labels[stream]}-{file_label(Path(event.video).stem)}-"
        while True:
            new = event_id()
            tag = _tag(new)
            if tag not in self._tags and not any(
                    next((self.out / folder).glob(f"{glob.escape(prefix)}*-{tag}.*"), None)
                    for folder in (EVENT_SNAPSHOTS, EVENT_CLIPS)):
                self._tags.add(tag)
                return new

    def _record(self, kind: str, stream: int, event: Event) -> dict:
        """The JSON record of an event's start or end (see ``pipeline/event_file.py``)."""
        event = replace(event, id=self._ids[stream], camera=self._labels[stream])
        clip = self._clip_paths[stream]
        return {"type": kind} | event.as_dict() | {
            "clip": str(clip.relative_to(self.out)) if clip else None}

    def _start(self, stream: int) -> None:
        """Stream ``stream``'s run has just become an event: its start record, now, and
        its clip."""
        event = self._events.event(stream)
        self._ids[stream] = self._new_id(stream, event)
        if self._clips:
            path = self.out / EVENT_CLIPS / self._file_name(stream, event, event.start_frame,
                                                            ".mp4")
            self._clip_paths[stream] = path
            self._clips.start(stream, path, event.start_time,
                              float(self._events.threshold[stream]), self._masks[stream])
        record = self._record("start", stream, event)
        self._writer.event(record | {"end_frame": None, "end_time": None})

    def _end(self, stream: int, event: Event) -> None:
        snapshot = self.out / EVENT_SNAPSHOTS / self._file_name(stream, event,
                                                                event.peak_frame, ".png")
        record = self._record("end", stream, event) | {
            "snapshot": str(snapshot.relative_to(self.out))}
        self._writer.event(record, snapshot, self._peaks[stream])
        if self._clips:
            self._clips.end(stream, event.end_time)
        self.reports[stream].events += 1
        log.info("%s: event in %s, frames %d-%d, peak score %.2f at frame %d", event.source,
                 event.video, event.start_frame, event.end_frame, event.peak_score,
                 event.peak_frame)

    def _finish(self) -> None:
        self._decoders.stop()
        try:
            for stream, event in self._events.close(np.arange(len(self.sources))):
                self._end(stream, event)
        finally:
            try:
                self._writer.close()
            finally:
                try:
                    if self._clips:
                        self._clips.close()
                finally:
                    for video in self._overlays:
                        video.close()
                    # the last status (every event closed, nothing scored any more), then
                    # the sinks stop
                    self._send_status(self._status.refresh(self._labels, self._events.active,
                                                           final=True))
                    for sink in self.sinks:
                        sink.close()
                    self._status.close()
                    self.report()

    def _send_status(self, cameras: list[dict]) -> None:
        """Hand each camera's status, with its counts so far (``frames``, ``events``,
        ``finished``, ``error``), to every sink."""
        for camera, report in zip(cameras, self.report(), strict=True):
            camera |= {"frames": report.frames, "events": report.events,
                       "finished": report.finished, "error": report.error}
        for sink in self.sinks:
            sink.status(cameras)


def event_id() -> str:
    """A new event's id: its wall-clock start and a random tag, ``1718000000.123456-3fa9c2``
    (as Frigate's ids), so ids sort by start and never repeat across runs."""
    return f"{time.time():.6f}-{secrets.token_hex(3)}"


def _tag(event: str) -> str:
    """The random tag of an event id (:func:`event_id`)."""
    return event.rsplit("-", 1)[1]


def _unique(labels: list[str]) -> list[str]:
    """``labels`` with repeats numbered: a, a -> a, a-2."""
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label}-{seen[label]}")
    return unique


class _Status:
    """One status line per source (fps in and out, latency, drops, score), refreshed at
    most every :data:`STATUS_EVERY` seconds through :mod:`convlstm_ae.progress`, and the
    same numbers for the sinks; the counts are kept as arrays over the streams."""

    def __init__(self, sources: Sequence[Source], rings: FrameRings) -> None:
        self.sources, self.rings = sources, rings
        self._bars = [progress.bar(desc=s.name, unit="frame", position=i, leave=True)
                      for i, s in enumerate(sources)]
        self._last = time.monotonic()
        streams = len(sources)
        self._written = np.zeros(streams, np.int64)
        self._scored = np.zeros(streams, np.int64)
        self._latency = np.zeros(streams)
        self._score = np.full(streams, np.nan)

    def scored(self, rows: np.ndarray, grabbed: np.ndarray, scores: np.ndarray) -> None:
        self._scored[rows] += 1
        self._latency[rows] = time.monotonic() - grabbed
        self._score[rows] = scores

    def refresh(self, labels: Sequence[str], alarm: np.ndarray, final: bool = False
                ) -> list[dict] | None:
        """Refresh the lines if :data:`STATUS_EVERY` has passed, and return each camera's
        status (see :meth:`Sink.status`, ``alarm``: its event is under way); else None.
        ``final``: now, with the rates 0, as nothing is scored any more."""
        now = time.monotonic()
        elapsed = now - self._last
        if elapsed < STATUS_EVERY and not final:
            return None
        written, drops = self.rings.written.copy(), self.rings.drops()
        if final:
            fps_in = fps_out = np.zeros(len(labels))
        else:
            fps_in, fps_out = (written - self._written) / elapsed, self._scored / elapsed
        for i, bar in enumerate(self._bars):
            state = ("" if self.rings.connected[i] else ", reconnecting"
                     if self.rings.reconnects[i] else ", connecting")
            bar.update(int(self._scored[i]))
            bar.set_postfix_str(
                f"in {fps_in[i]:.1f} fps, out {fps_out[i]:.1f} fps, latency "
                f"{1000 * self._latency[i]:.0f} ms, drops {drops[i]}, score "
                f"{self._score[i]:.2f}{state}")
        cameras = [{"camera": labels[i], "fps_in": round(float(fps_in[i]), 2),
                    "fps_out": round(float(fps_out[i]), 2),
                    "latency_ms": round(1000 * float(self._latency[i]), 1),
                    "drops": int(drops[i]), "reconnects": int(self.rings.reconnects[i]),
                    "connected": bool(self.rings.connected[i]),
                    "score": None if np.isnan(self._score[i]) else round(float(self._score[i]), 4),
                    "alarm": "ON" if alarm[i] else "OFF"} for i in range(len(labels))]
        self._written, self._scored[:] = written, 0
        self._last = now
        return cameras

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
