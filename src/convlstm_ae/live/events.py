"""Anomaly events of one source from its calibrated per-frame score, with hysteresis.

An event starts at a frame scoring above ``threshold``; it ends once the score stays
below ``release`` (at most ``threshold``) for ``release_frames`` frames in a row, its
last frame being the last one at or above ``release``. Events shorter than
``min_frames`` are dropped as flicker. A new video or connection ends the open event:
the caller calls :meth:`EventDetector.close` then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from convlstm_ae.errors import ConfigError

RELEASE_BELOW = 1.0  # default release level: this far below the threshold (score units)
RELEASE_FRAMES = 5
MIN_FRAMES = 3


@dataclass(frozen=True)
class Event:
    """A stretch of anomalous frames of one source (of one video of it)."""

    source: str
    video: str
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    peak_score: float
    peak_frame: int
    snapshot: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EventRules:
    """When an event starts and ends (see the module)."""

    threshold: float
    release: float
    release_frames: int = RELEASE_FRAMES
    min_frames: int = MIN_FRAMES

    def __post_init__(self) -> None:
        if self.release > self.threshold:
            raise ConfigError(f"--release {self.release:g} lies above the threshold "
                              f"{self.threshold:g}; it must not")
        if self.release_frames < 1 or self.min_frames < 1:
            raise ConfigError("--release-frames and --min-frames must be at least 1")


class EventDetector:
    """Feed one source's frames in order (:meth:`update`); finished events come back."""

    def __init__(self, source: str, rules: EventRules) -> None:
        self.source = source
        self.rules = rules
        self._open: dict | None = None
        self._quiet = 0

    @property
    def active(self) -> bool:
        """An event is under way."""
        return self._open is not None

    @property
    def peak_frame(self) -> int | None:
        """The frame of the open event's highest score so far."""
        return self._open["peak_frame"] if self._open else None

    def update(self, video: str, frame: int, seconds: float, score: float) -> Event | None:
        """Take one frame's score; returns the event it ends, if any."""
        if self._open is None:
            if score > self.rules.threshold:
                self._open = dict(video=video, start_frame=frame, start_time=seconds,
                                  end_frame=frame, end_time=seconds, peak_score=score,
                                  peak_frame=frame)
                self._quiet = 0
            return None
        if score >= self.rules.release:
            self._open.update(end_frame=frame, end_time=seconds)
            self._quiet = 0
            if score > self._open["peak_score"]:
                self._open.update(peak_score=score, peak_frame=frame)
            return None
        self._quiet += 1
        return self.close() if self._quiet >= self.rules.release_frames else None

    def close(self) -> Event | None:
        """End the open event now (the stream ended); None if none, or too short."""
        found, self._open, self._quiet = self._open, None, 0
        if found is None or found["end_frame"] - found["start_frame"] + 1 < self.rules.min_frames:
            return None
        return Event(source=self.source, **found)
