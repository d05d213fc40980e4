"""The models of a ``convlstm-ae watch``: how each one turns errors into scores and
alarms (:class:`Scoring`, read from a released model by :func:`model_scoring`), which of
the watch's sources it scores (:class:`Group`), how the watch opens sources and engines
(:class:`Opener`), and a group at work, one batched engine step and its located score's
state (:class:`GroupScorer`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlstm_ae.config import default_patch_size
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.clips import HeatStyle
from convlstm_ae.live.engine import Engine, open_engine
from convlstm_ae.live.sources import QUEUE_FRAMES, Source, open_source
from convlstm_ae.release_files import LOCATED, load_calibration, load_scoring_config, scoring_rate
from convlstm_ae.rows import grown
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.located import LocatedCalibration
from convlstm_ae.viz.overlay import heat_limit


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

    def heat(self, frame_size: int) -> HeatStyle | None:
        """The scale of its heat maps on ``frame_size`` frames; None without a patch
        calibration."""
        if self.heat_limit is None:
            return None
        return HeatStyle(self.heat_limit, self.patch_size or default_patch_size(frame_size))

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


@dataclass(frozen=True)
class Group:
    """One model's engine and scoring, and the sources it scores (by their number in the
    watch, ascending): one batched engine call per step."""

    engine: Engine  # of len(streams) streams
    scoring: Scoring
    streams: tuple[int, ...]

    @classmethod
    def of_all(cls, engine: Engine, scoring: Scoring) -> Group:
        """The one model of a watch: it scores every source, 0 to ``engine.streams`` - 1."""
        return cls(engine, scoring, tuple(range(engine.streams)))


@dataclass(frozen=True)
class Opener:
    """How a watch opens its sources and its models' engines (watch's flags), the same
    for the sources it starts with and for a camera added while it runs."""

    backend: str | None = None  # torch or onnx; None: torch where installed
    device: str | None = None  # torch: cpu or cuda; None: CUDA if there is one
    threads: int | None = None  # CPU threads of the backend; None: its own
    maps: bool = False  # keep error maps for every model (the overlays draw them)
    publish: bool = False  # the page: keep error maps of models with a heat scale
    realtime: bool = True  # play files at their frame rate (else: every frame scored)
    backoff: float = 0.5  # seconds before a dropped camera or stream is reopened, doubling
    max_backoff: float = 10.0  # up to this
    queue_frames: int = QUEUE_FRAMES  # frames held per source
    fps: float | None = None  # the frame rate of files; None: their own
    # frames per second each source is scored at, at most; None: its model's frame rate;
    # 0: every frame
    rate: float | None = None

    def source(self, argument: str, frame_size: int, model: Path) -> Source:
        """The source a SOURCE argument names (see :func:`open_source`), scored by
        ``model`` at most at :attr:`rate`, else at the rate ``model`` was trained at
        (:func:`~convlstm_ae.release_files.scoring_rate`)."""
        return open_source(argument, frame_size, realtime=self.realtime, backoff=self.backoff,
                           max_backoff=self.max_backoff, queue_frames=self.queue_frames,
                           fps=self.fps, rate=scoring_rate(model, self.rate))

    def model(self, model: Path, streams: int, threshold: float | None,
              frame_size: int | None = None) -> tuple[Engine, Scoring]:
        """A released ``model``'s engine of ``streams`` streams and its scoring
        (``threshold`` where given, see :func:`model_scoring`).

        Raises:
            ConvLSTMAEError: a model that does not open; ConfigError: one that scores
                another frame size than ``frame_size`` (the watch's), or has no threshold.
        """
        scoring = model_scoring(model, threshold)
        engine = open_engine(model, streams, backend=self.backend, device=self.device,
                             threads=self.threads, maps=self.maps or (
                                 self.publish and scoring.heat_limit is not None))
        if frame_size is not None and engine.frame_size != frame_size:
            raise ConfigError(f"{model}: scores {engine.frame_size}x{engine.frame_size} "
                              f"frames, the watch's first model {frame_size}x{frame_size}; "
                              "one watch's models share a frame size")
        return engine, scoring


class GroupScorer:
    """A :class:`Group` at work: its engine's step, and its located score's state."""

    def __init__(self, group: Group) -> None:
        self.engine, self.scoring = group.engine, group.scoring
        self.streams = np.asarray(group.streams, np.int64)
        located = group.scoring.located
        self.located = located.scorer(len(self.streams)) if located else None
        # of each step launched and not yet collected: the streams it restarted, and
        # those it scored
        self._launched: deque[tuple[list[int], np.ndarray]] = deque()

    def add(self, stream: int) -> None:
        """Score the watch's stream ``stream`` too (numbered after the group's others), with
        a fresh memory; the others' memory is kept."""
        self.engine.add_streams(1)
        self.streams = grown(self.streams, 1, stream)
        if self.located is not None:
            self.located.add_streams(1)

    def local(self, stream: int) -> int:
        """The group's own number of the watch's stream ``stream``."""
        return int(np.searchsorted(self.streams, stream))

    def launch(self, frames: np.ndarray, restart: np.ndarray, scored: np.ndarray) -> None:
        """Start the group's step on its frames of ``frames`` (B, S, S), first forgetting
        the memory of its streams where ``restart`` (B,) is set; its streams where
        ``scored`` (B,) is not set keep their memory and running level."""
        scored = scored[self.streams]
        again = np.flatnonzero(restart[self.streams]).tolist()
        if again:
            self.engine.reset(again)
        self._launched.append((again, scored))
        if frames is not self.engine.batch:  # the watch's own: the group's rows copied in
            streams = self.streams  # a run of streams is copied once, without a temporary
            run = len(streams) == streams[-1] - streams[0] + 1
            self.engine.batch[:] = frames[streams[0]:streams[-1] + 1] if run else frames[streams]
        self.engine.launch(self.engine.batch, scored)

    def collect(self) -> tuple[np.ndarray, ...]:
        """The oldest launched step's errors, patch errors, histories and scores (k,) and
        its score maps (k, h, w), None if not kept."""
        again, scored = self._launched.popleft()
        if again and self.located is not None:
            self.located.reset(again)
        output = self.engine.collect()
        error = self.scoring.error
        errors, patches, history = (np.asarray(values) for values in (
            output.select("frame", error), output.select("patch", error), output.history))
        if self.located is not None:  # the located live score, all streams at once
            scores, maps = self.located(np.asarray(output.cells), history, scored)
        else:
            scores = np.asarray(self.scoring.score(errors, history))
            maps = None if self.engine.maps is None else np.asarray(self.engine.maps)
        return errors, patches, history, scores, maps



def check_groups(groups: Sequence[Group], streams: int) -> None:
    """Groups that score each of ``streams`` sources once, at one frame size."""
    covered = sorted(stream for group in groups for stream in group.streams)
    if covered != list(range(streams)):
        raise ConfigError(f"the engines score streams {covered}, not each of {streams} once")
    for group in groups:
        if group.engine.streams != len(group.streams):
            raise ConfigError(f"an engine scores {group.engine.streams} streams, not "
                              f"{len(group.streams)}")
        if group.engine.frame_size != groups[0].engine.frame_size:
            raise ConfigError(f"the engines score {groups[0].engine.frame_size} and "
                              f"{group.engine.frame_size} px frames: one watch takes one size")

