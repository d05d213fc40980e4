"""Anomaly events of one source from its per-frame score, with hysteresis.

A generic state machine over (score, threshold), whatever the score is. A frame is
*alarmed* when its score lies above ``threshold``, *quiet* when below the release level
``threshold - release_margin * |threshold|``. An alarmed frame starts a run; the run
ends after ``release_frames`` quiet frames in a row, its last frame being the last one
at or above the release level. A run becomes an event once it holds ``min_frames``
alarmed frames (not necessarily consecutive); a run that ends with fewer is flicker and
dropped. A new video or connection ends the open run: the caller calls
:meth:`EventDetector.close` then.

The defaults (:data:`MIN_FRAMES`, :data:`RELEASE_MARGIN`, :data:`RELEASE_FRAMES`) were
chosen with :func:`normal_events` on held-out normal footage, never on test labels;
``docs/scripts/event_defaults.py`` reruns the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from convlstm_ae.errors import ConfigError
from convlstm_ae.pipeline.event_file import Event

# Event defaults, decided on normal footage (see the module docstring).
MIN_FRAMES = 3  # alarmed frames a run needs to be an event
RELEASE_MARGIN = 0.05  # the release level lies this fraction of |threshold| below it
RELEASE_FRAMES = 5  # quiet frames in a row that end a run


@dataclass(frozen=True)
class EventRules:
    """When an event starts and ends (see the module)."""

    threshold: float
    release_margin: float = RELEASE_MARGIN
    release_frames: int = RELEASE_FRAMES
    min_frames: int = MIN_FRAMES

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold):
            raise ConfigError(f"--threshold must be a finite number, got {self.threshold:g}")
        if not 0 <= self.release_margin <= 1:
            raise ConfigError(f"--release-margin must lie in [0, 1] (a fraction of the "
                              f"threshold), got {self.release_margin:g}")
        if self.release_frames < 1 or self.min_frames < 1:
            raise ConfigError("--release-frames and --min-frames must be at least 1")

    @property
    def release(self) -> float:
        """The release level: scores below it are quiet."""
        return self.threshold - self.release_margin * abs(self.threshold)


class EventDetector:
    """Feed one source's frames in order (:meth:`update`); finished events come back."""

    def __init__(self, source: str, rules: EventRules) -> None:
        self.source = source
        self.rules = rules
        self._run: dict | None = None
        self._quiet = 0

    @property
    def active(self) -> bool:
        """An event is under way: a run holding ``min_frames`` alarmed frames."""
        return self._run is not None and self._run["alarm_frames"] >= self.rules.min_frames

    @property
    def peak_frame(self) -> int | None:
        """The frame of the open run's highest score so far."""
        return self._run["peak_frame"] if self._run else None

    def update(self, video: str, frame: int, seconds: float, score: float) -> Event | None:
        """Take one frame's score; returns the event it ends, if any."""
        alarmed = score > self.rules.threshold
        if self._run is None:
            if alarmed:
                self._run = dict(video=video, start_frame=frame, start_time=seconds,
                                 end_frame=frame, end_time=seconds, peak_score=score,
                                 peak_frame=frame, alarm_frames=1)
                self._quiet = 0
            return None
        if score >= self.rules.release:
            self._run.update(end_frame=frame, end_time=seconds)
            self._run["alarm_frames"] += alarmed
            self._quiet = 0
            if score > self._run["peak_score"]:
                self._run.update(peak_score=score, peak_frame=frame)
            return None
        self._quiet += 1
        return self.close() if self._quiet >= self.rules.release_frames else None

    def close(self) -> Event | None:
        """End the open run now (the stream ended); None if none, or too few alarms."""
        found, self._run, self._quiet = self._run, None, 0
        if found is None or found["alarm_frames"] < self.rules.min_frames:
            return None
        return Event(source=self.source, **found)


@dataclass(frozen=True)
class NormalEvents:
    """The events that rules raise on normal footage: every one a false alarm."""

    videos: int
    frames: int
    lengths: tuple[int, ...]  # frames per event, first to last

    def per_minute(self, fps: float) -> float:
        """False events per minute of footage at ``fps``."""
        return len(self.lengths) / (self.frames / fps / 60)


def normal_events(scores: Sequence[np.ndarray], rules: EventRules) -> NormalEvents:
    """Event count and lengths that ``rules`` give on normal videos' per-frame scores
    (each video from a fresh detector): how the defaults are chosen."""
    lengths = []
    for video in scores:
        detector = EventDetector("normal", rules)
        found = [detector.update("", index, 0.0, float(score))
                 for index, score in enumerate(video)] + [detector.close()]
        lengths += [e.end_frame - e.start_frame + 1 for e in found if e is not None]
    return NormalEvents(len(scores), int(sum(len(v) for v in scores)), tuple(lengths))
