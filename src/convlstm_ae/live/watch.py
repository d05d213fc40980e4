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
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlstm_ae import progress
from convlstm_ae.atomic import file_label, writable_folder
from convlstm_ae.config import default_patch_size
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.engine import Engine
from convlstm_ae.live.events import EventDetector, EventRules
from convlstm_ae.live.outputs import EventLog, FrameLog, Notifier, write_snapshot
from convlstm_ae.live.sources import Frame, Source
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
STATUS_EVERY = 1.0  # seconds between status-line refreshes
EVENT_SNAPSHOTS = "snapshots"  # watch: the peak frame of each event


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

    def score(self, error: float, history: int) -> float:
        if self.calibration is None:
            return error
        return float(self.calibration.score(np.array([error]), np.array([history]))[0])


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


class Watch:
    """Scores ``sources`` through ``engine`` (one stream each) until they all end,
    :meth:`stop` is called, or Ctrl-C; writes into ``out``.

    Args:
        engine: an engine of ``len(sources)`` streams.
        sources: not started yet; :meth:`run` starts and stops them.
        out: output folder: ``frames-NAME.csv`` per source, ``events.jsonl``,
            ``snapshots/``.
        scoring: e(t), calibration and threshold.
        rules: event hysteresis; its threshold is the alarm level too.
        notifier: where events are sent, besides ``events.jsonl``.
        max_wait: seconds a step waits for a live source that has no frame.
        overlay: write each source's overlay video here (``NAME-SOURCE.mp4`` beside it
            when there are several); needs an engine that returns error maps.
    """

    def __init__(self, engine: Engine, sources: Sequence[Source], out: Path, *,
                 scoring: Scoring, rules: EventRules, notifier: Notifier | None = None,
                 max_wait: float = MAX_WAIT, overlay: Path | None = None) -> None:
        if engine.streams != len(sources):
            raise ConfigError(f"the engine scores {engine.streams} streams, not "
                              f"{len(sources)}")
        if overlay and scoring.heat_limit is None:
            raise ConfigError(f"{overlay}: the overlay's colour scale needs the model's patch "
                              "calibration (convlstm-ae calibrate MODEL NORMAL_FOOTAGE)")
        self.engine = engine
        self.sources = list(sources)
        self.out = writable_folder(out)
        self.scoring = scoring
        self.rules = rules
        self.notifier = notifier or Notifier()
        self.max_wait = max_wait
        self.reports = [SourceReport(s.name) for s in self.sources]
        self._stop = threading.Event()
        self._wake = threading.Event()
        labels = _unique([file_label(s.name) for s in self.sources])
        self._labels = labels
        self._detectors = [EventDetector(s.name, rules) for s in self.sources]
        self._peaks: list[np.ndarray | None] = [None] * len(self.sources)
        self._stale = [False] * len(self.sources)
        self._logs: list[FrameLog] = []
        self._events: EventLog | None = None
        self._videos = [OverlayVideo(overlay_path(overlay, label, len(labels) > 1), OVERLAY_FPS)
                        for label in labels] if overlay else []
        self._curves = [deque(maxlen=CURVE_FRAMES) for _ in self.sources]
        self._patch = scoring.patch_size or default_patch_size(engine.frame_size)
        self._located = scoring.located.scorer(len(self.sources)) if scoring.located else None
        self._status = _Status(self.sources)

    def stop(self) -> None:
        """End :meth:`run` after the current step (from another thread)."""
        self._stop.set()
        self._wake.set()

    def run(self) -> list[SourceReport]:
        """Score until every source ends, :meth:`stop`, or Ctrl-C (a normal end here).
        Everything scored is written and open events are closed before it returns."""
        (self.out / EVENT_SNAPSHOTS).mkdir(exist_ok=True)
        self._logs = [FrameLog(self.out / f"frames-{label}.csv") for label in self._labels]
        self._events = EventLog(self.out / EVENTS_FILE)
        for source in self.sources:
            source.start(self._wake)
        try:
            self._loop()
        except KeyboardInterrupt:
            log.info("interrupted: closing the outputs")
        finally:
            self._finish()
        return self.reports

    def _loop(self) -> None:
        pending: list[Frame | None] = [None] * len(self.sources)
        waiting_since = None
        while not self._stop.is_set():
            self._wake.clear()
            pending = [f or s.get() for f, s in zip(pending, self.sources, strict=True)]
            missing = [s for f, s in zip(pending, self.sources, strict=True)
                       if f is None and not s.finished and (s.connected or not s.live)]
            self._status.refresh(self.reports)
            if not any(pending):
                if all(s.finished for s in self.sources):
                    return
                self._wake.wait(0.1)
                continue
            if missing:
                waiting_since = waiting_since or time.monotonic()
                overdue = time.monotonic() - waiting_since > self.max_wait
                if not (overdue and all(s.live for s in missing)):
                    self._wake.wait(0.05)
                    continue
            waiting_since = None
            self._step(pending)
            pending = [None] * len(self.sources)

    def _step(self, frames: list[Frame | None]) -> None:
        """One engine call over every stream; blank frames where none came."""
        restart = [i for i, f in enumerate(frames) if f and (f.reset or self._stale[i])]
        if restart:
            self.engine.reset(restart)
            if self._located is not None:
                self._located.reset(restart)
        size = self.engine.frame_size
        batch = np.zeros((len(frames), size, size), dtype=np.uint8)
        for index, frame in enumerate(frames):
            if frame is not None:
                batch[index] = frame.image
        output = self.engine(batch)
        errors, patches, history = (np.asarray(values) for values in (
            output.select("frame", self.scoring.error), output.select("patch", self.scoring.error),
            output.history))
        if self._located is not None:  # the located live score, all streams at once
            scores, maps = self._located(np.asarray(output.cells), history)
        else:
            scores = [self.scoring.score(e, h) for e, h in zip(errors, history, strict=True)]
            maps = None if self.engine.maps is None else np.asarray(self.engine.maps)
        for index, frame in enumerate(frames):
            self._stale[index] = frame is None
            if frame is not None:
                self._record(index, frame, float(errors[index]), float(patches[index]),
                             int(history[index]), float(scores[index]))
                if self._videos and maps is not None:
                    self._draw(index, frame, maps[index])

    def _draw(self, index: int, frame: Frame, error_map: np.ndarray) -> None:
        """The frame's overlay: the score's map on the calibrated scale, score curve, event."""
        image = draw_overlay(upscale(frame.image), error_map, limit=self.scoring.heat_limit,
                             patch_size=self._patch, scores=self._curves[index],
                             threshold=self.rules.threshold,
                             alarm=self._detectors[index].active,
                             label=f"{self.sources[index].name} {frame.time:.1f}s")
        self._videos[index].write(image)

    def _record(self, index: int, frame: Frame, error: float, patch: float,
                history: int, score: float) -> None:
        self._logs[index].write(frame.time, frame.video, frame.index, history, error, patch,
                                score, score > self.rules.threshold)
        self.reports[index].frames += 1
        self._curves[index].append(score)
        self._status.scored(index, frame, score)
        detector = self._detectors[index]
        if frame.reset and detector.active:
            self._emit(index, detector.close())
        self._emit(index, detector.update(frame.video, frame.index, frame.time, score))
        if detector.peak_frame == frame.index:
            self._peaks[index] = frame.image

    def _emit(self, index: int, event: Event | None) -> None:
        if event is None:
            return
        video = file_label(Path(event.video).stem)
        name = f"{self._labels[index]}-{video}-{event.peak_frame:06d}.png"
        path = write_snapshot(self.out / EVENT_SNAPSHOTS / name, self._peaks[index])
        record = event.as_dict() | {"snapshot": str(path.relative_to(self.out))}
        self._events.write(record)
        self.notifier.send(record)
        self.reports[index].events += 1
        log.info("%s: event in %s, frames %d-%d, peak score %.2f at frame %d", event.source,
                 event.video, event.start_frame, event.end_frame, event.peak_score,
                 event.peak_frame)

    def _finish(self) -> None:
        for source in self.sources:
            source.stop()
        try:
            for index, detector in enumerate(self._detectors):
                self._emit(index, detector.close())
        finally:
            for handle in [*self._logs, self._events, *self._videos]:
                handle.close()
            self.notifier.close()
            self._status.close()
            for report, source in zip(self.reports, self.sources, strict=True):
                report.drops, report.reconnects = source.drops, source.reconnects
                report.error = source.error


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
    most every :data:`STATUS_EVERY` seconds through :mod:`convlstm_ae.progress`."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = sources
        self._bars = [progress.bar(desc=s.name, unit="frame", position=i, leave=True)
                      for i, s in enumerate(sources)]
        self._last = time.monotonic()
        self._grabbed = [0] * len(sources)
        self._scored = [0] * len(sources)
        self._latency = [0.0] * len(sources)
        self._score = [float("nan")] * len(sources)

    def scored(self, index: int, frame: Frame, score: float) -> None:
        self._scored[index] += 1
        self._latency[index] = time.monotonic() - frame.grabbed
        self._score[index] = score
        self._bars[index].update(1)

    def refresh(self, reports: Sequence[SourceReport]) -> None:
        now = time.monotonic()
        elapsed = now - self._last
        if elapsed < STATUS_EVERY:
            return
        for index, source in enumerate(self.sources):
            fps_in = (source.grabbed - self._grabbed[index]) / elapsed
            state = "" if source.connected else ", reconnecting"
            self._bars[index].set_postfix_str(
                f"in {fps_in:.1f} fps, out {self._scored[index] / elapsed:.1f} fps, latency "
                f"{1000 * self._latency[index]:.0f} ms, drops {source.drops}, score "
                f"{self._score[index]:.2f}{state}")
            self._grabbed[index], self._scored[index] = source.grabbed, 0
        self._last = now

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
