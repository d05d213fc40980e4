"""Anomaly events of one source from its per-frame score, with hysteresis.

A generic state machine over (score, threshold), whatever the score is. A frame is
*alarmed* when its score lies above ``threshold``, *quiet* when below the release level
``threshold - release_margin * |threshold|``. An alarmed frame starts a run; the run
ends after ``release_frames`` quiet frames in a row, its last frame being the last one
at or above the release level. A run becomes an event once it holds ``min_frames``
alarmed frames (not necessarily consecutive); a run that ends with fewer is flicker and
dropped. A new video or connection ends the open run: the caller calls
:meth:`EventMachine.close` then. :class:`EventMachine` runs this for B streams at once.

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
from convlstm_ae.rows import placed, put

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


class EventMachine:
    """The hysteresis of the module over B streams at once, as numpy: feed each step's
    scored streams (:meth:`update`); finished events come back.

    Args:
        sources: each stream's source name, for its events.
        videos: each stream's video names, by the video number given to :meth:`update`.
        rules: when events start and end: the same for every stream, or one per stream
            (:meth:`set_rules` changes a stream's).
    """

    def __init__(self, sources: Sequence[str], videos: Sequence[Sequence[str]],
                 rules: EventRules | Sequence[EventRules]) -> None:
        streams = len(sources)
        self.sources, self.videos = list(sources), list(videos)
        self.rules = [rules] * streams if isinstance(rules, EventRules) else list(rules)
        if len(self.rules) != streams:
            raise ConfigError(f"{len(self.rules)} event rules for {streams} streams")
        self.threshold, self.release = np.zeros(streams), np.zeros(streams)
        self.release_frames, self.min_frames = (np.zeros(streams, np.int64) for _ in range(2))
        for stream, stream_rules in enumerate(self.rules):
            self.set_rules(stream, stream_rules)
        self.open = np.zeros(streams, bool)  # a run is under way
        self.alarms = np.zeros(streams, np.int64)  # alarmed frames of the run
        self.quiet = np.zeros(streams, np.int64)  # quiet frames in a row
        self.video = np.zeros(streams, np.int64)
        self.start_frame, self.end_frame, self.peak_frame = (
            np.zeros(streams, np.int64) for _ in range(3))
        self.start_time, self.end_time, self.peak_score = (
            np.zeros(streams) for _ in range(3))

    def add(self, stream: int, source: str, videos: Sequence[str], rules: EventRules
            ) -> None:
        """A new source at ``stream`` (one more, after the others, or a removed one's,
        its run closed), with no run under way."""
        put(self.sources, stream, source)
        put(self.videos, stream, videos)
        put(self.rules, stream, rules)
        for name in ("threshold", "release", "release_frames", "min_frames", "open", "alarms",
                     "quiet", "video", "start_frame", "end_frame", "peak_frame", "start_time",
                     "end_time", "peak_score"):
            setattr(self, name, placed(getattr(self, name), stream, 0))
        self.set_rules(stream, rules)

    def set_rules(self, stream: int, rules: EventRules) -> None:
        """Stream ``stream``'s rules from its next frame on; a run under way goes on
        under them."""
        self.rules[stream] = rules
        self.threshold[stream], self.release[stream] = rules.threshold, rules.release
        self.release_frames[stream] = rules.release_frames
        self.min_frames[stream] = rules.min_frames

    @property
    def active(self) -> np.ndarray:
        """(B,) an event is under way: a run holding ``min_frames`` alarmed frames."""
        return self.open & (self.alarms >= self.min_frames)

    def update(self, rows: np.ndarray, frames: np.ndarray, times: np.ndarray,
               scores: np.ndarray, videos: np.ndarray) -> list[tuple[int, Event]]:
        """Take one frame's score of each stream in ``rows`` (distinct); returns the
        events this ends, with their stream."""
        alarmed = scores > self.threshold[rows]
        was_open = self.open[rows]
        start = rows[~was_open & alarmed]
        picked = ~was_open & alarmed
        self.open[start] = True
        self.video[start] = videos[picked]
        self.start_frame[start] = self.end_frame[start] = self.peak_frame[start] = frames[picked]
        self.start_time[start] = self.end_time[start] = times[picked]
        self.peak_score[start] = scores[picked]
        self.alarms[start], self.quiet[start] = 1, 0
        held = was_open & (scores >= self.release[rows])
        going = rows[held]
        self.end_frame[going], self.end_time[going] = frames[held], times[held]
        self.alarms[going] += alarmed[held]
        self.quiet[going] = 0
        higher = scores[held] > self.peak_score[going]
        self.peak_score[going[higher]] = scores[held][higher]
        self.peak_frame[going[higher]] = frames[held][higher]
        calm = rows[was_open & ~held]
        self.quiet[calm] += 1
        return self.close(calm[self.quiet[calm] >= self.release_frames[calm]])

    def close(self, rows: np.ndarray) -> list[tuple[int, Event]]:
        """End the open runs of ``rows`` now (their videos ended); the events among them
        (runs with ``min_frames`` alarms)."""
        ended = [(int(i), self.event(int(i))) for i in rows[self.active[rows]]]
        self.open[rows], self.quiet[rows] = False, 0
        return ended

    def event(self, i: int) -> Event:
        """Stream ``i``'s run as it stands: its frames and times so far, its peak so far."""
        return Event(source=self.sources[i], video=self.videos[i][self.video[i]],
                     start_frame=int(self.start_frame[i]), end_frame=int(self.end_frame[i]),
                     start_time=float(self.start_time[i]), end_time=float(self.end_time[i]),
                     peak_score=float(self.peak_score[i]), peak_frame=int(self.peak_frame[i]),
                     alarm_frames=int(self.alarms[i]))


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
    (each video a stream of its own): how the defaults are chosen."""
    machine = EventMachine(["normal"] * len(scores), [[""]] * len(scores), rules)
    lengths = np.array([len(video) for video in scores])
    found = []
    for index in range(int(lengths.max(initial=0))):
        rows = np.flatnonzero(lengths > index)
        step = np.array([scores[i][index] for i in rows], dtype=float)
        found += machine.update(rows, np.full(rows.size, index), np.zeros(rows.size), step,
                                np.zeros(rows.size, np.int64))
    found += machine.close(np.arange(len(scores)))
    found.sort(key=lambda ended: (ended[0], ended[1].start_frame))
    return NormalEvents(len(scores), int(lengths.sum()),
                        tuple(e.end_frame - e.start_frame + 1 for _, e in found))
