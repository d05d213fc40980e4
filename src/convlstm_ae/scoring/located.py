"""The located live score (beyond the paper): where in the frame the error is unusual.

Eq. 4 rescales each test video by its own minimum and maximum, which no camera can do,
and the whole-frame error rises and falls with how many people a scene holds. This score
reads the Eq. 3 error map averaged over square cells (``FrameErrors.cells``) and asks, per
cell, how unusual that error is *for that place*, against statistics of normal videos the
model never trained on:

1. the window-position effect of the memory resets is divided out (a frame right after a
   reset has no previous-frame term);
2. optionally, the recording's own level is divided out (``adapt``): ``frame`` by the
   median over cells of each cell's error relative to its normal mean, in the frame
   itself; ``stream`` by a causal running mean of that median (state per stream);
   ``cells`` by a causal running mean of each cell's own error relative to its normal
   mean, over past frames only (a busy place today is judged against today). The running
   levels start from the first frame's median and remember about ``stream_frames``
   frames (at the model's frame rate, which ``watch`` scores a faster camera at: 5 s at
   Ped2's 10 fps): that is the warm-up, during which a camera is judged against
   calibration.
   A stream's ignored cells (its mask) do not enter its level;
3. each cell's unusualness: its excess over its normal ``CELL_QUANTILE`` in units of its
   normal spread (``excess``), or its z-score (``z``);
4. the frame's score aggregates the cells (``sum`` of excesses, ``max``, or the mean of
   the top ``TOP_FRACTION`` of cells), then a causal exponential smoothing. Cells a
   stream ignores (a camera's mask, :meth:`LocatedScorer.ignore`) read 0 first: no
   excess, or a z-score at the normal mean, however unusual they are.

Everything is causal: a frame's score depends on its own and earlier frames only, so
:class:`LocatedScorer` gives live (``watch``) and offline (``score``) the same numbers.
Which variant is used is a :class:`LocatedDesign`, chosen on validation videos with
synthetic anomalies (``convlstm_ae.experiments.live_score``), never on test labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from convlstm_ae.errors import ConfigError
from convlstm_ae.rows import grown

CELL_QUANTILE = 0.99  # a cell's normal level: this quantile of its normal errors
TOP_FRACTION = 0.02  # aggregate "top": mean of this fraction of the cells
LOWEST_CELL_LEVEL = 0.5  # adapt "cells": a cell's level is at least half its frame's
HEAT_LIMITS = {"excess": 3.0, "z": 6.0}  # full red: 3 spreads above the cell's quantile
ADAPTS = ("none", "frame", "stream", "cells")
UNUSUAL = ("excess", "z")
AGGREGATES = ("sum", "max", "top")
# how a model gets its located score, as error messages name it
HOW_TO_FIT = ("convlstm-ae calibrate MODEL on two or more normal videos, or convlstm-ae "
              "experiment live-score MODEL ROOT --install")


@dataclass(frozen=True)
class LocatedDesign:
    """One variant of the located score; see the module docstring."""

    unusual: str = "excess"
    aggregate: str = "sum"
    adapt: str = "frame"
    smoothing: float = 1.0  # weight of the new frame in the running score; 1: none
    stream_frames: int = 50  # adapt "stream", "cells": frames of the running level's memory
    spread_floor: float = 0.05  # a cell's spread is at least this share of the mean error

    def __post_init__(self) -> None:
        for name, choices in (("unusual", UNUSUAL), ("aggregate", AGGREGATES),
                              ("adapt", ADAPTS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"located score: {name} {getattr(self, name)!r} is unknown; "
                                  f"expected one of {', '.join(choices)}")
        if not 0 < self.smoothing <= 1:
            raise ConfigError(f"located score: smoothing must lie in (0, 1], got {self.smoothing}")
        if self.stream_frames < 1:
            raise ConfigError("located score: stream_frames must be positive")
        if not self.spread_floor > 0:
            raise ConfigError("located score: spread_floor must be positive")

    def warming_up(self, frames: np.ndarray) -> np.ndarray:
        """Whether streams that scored ``frames`` frames since their start or memory reset
        are in the warm-up: their running level (``adapt`` ``stream`` or ``cells``) rests
        on fewer than ``stream_frames`` frames. A design without one has none."""
        return (np.asarray(frames) < self.stream_frames) & (self.adapt in ("stream", "cells"))


# the design calibrations use where the model has none installed, on validation alone
# (convlstm_ae.experiments.live_score): z-scores, their maximum over the cells, smoothing
# 0.25, and the stream's running level, which both later validations chose (Ped2's fresh
# model, docs/results/ped2-h100-fresh/validation.json, and Moving-MNIST's). There, at this
# design's default cells (28 px of 225), the running level raises validation AUC from 0.803
# to 0.809 and halves the false alarms (0.45 to 0.22 a minute at the 0.99 quantile); it
# does at every cell size. Its cell size is config.default_cell_size's
DEFAULT_DESIGN = LocatedDesign(unusual="z", aggregate="max", adapt="stream", smoothing=0.25)


@dataclass(frozen=True, eq=False)
class CellStatistics:
    """Per-cell statistics of normal footage, after the position and level corrections."""

    position_gain: np.ndarray  # (P,) mean error at each window position / over all frames
    reference: np.ndarray  # (H, W) mean cell error before the level correction
    mean: np.ndarray  # (H, W)
    std: np.ndarray  # (H, W)
    quantile: np.ndarray  # (H, W), CELL_QUANTILE of each cell

    def to_dict(self) -> dict[str, Any]:
        return {name: value.tolist() for name, value in vars(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellStatistics:
        return cls(**{name: np.asarray(data[name], dtype=np.float64)
                      for name in ("position_gain", "reference", "mean", "std", "quantile")})


def _positions(history: np.ndarray, count: int) -> np.ndarray:
    return np.minimum(np.asarray(history, dtype=np.int64), count - 1)


class _Adaptation:
    """The causal division by the recording's level of step 2 (module docstring), for
    ``streams`` streams, one frame of each per call."""

    def __init__(self, design: LocatedDesign, reference: np.ndarray, streams: int) -> None:
        self.design = design
        self.reference = np.maximum(reference, 1e-12)
        shape = (streams, 1, 1) if design.adapt == "stream" else (streams, *reference.shape)
        self.level = np.full(shape, np.nan)  # running level; NaN before a stream's first frame

    def reset(self, index: slice | list[int]) -> None:
        self.level[index] = np.nan

    def add_streams(self, count: int) -> None:
        self.level = grown(self.level, count, np.nan)

    def __call__(self, values: np.ndarray, ignored: np.ndarray | None = None) -> np.ndarray:
        """``values`` (B, H, W) divided by each stream's level; cells where ``ignored``
        (B, H, W) is True (a mask) do not enter the frame's level, unless all are."""
        adapt = self.design.adapt
        if adapt == "none":
            return values
        ratio = values / self.reference
        frame = _median_level(ratio, ignored)[:, None, None]
        if adapt == "frame":
            return values / np.maximum(frame, 1e-12)
        rate = 1.0 / self.design.stream_frames
        if adapt == "stream":
            self.level = np.where(np.isnan(self.level), frame,
                                  (1 - rate) * self.level + rate * frame)
            return values / np.maximum(self.level, 1e-12)
        past = np.where(np.isnan(self.level), frame, self.level)  # "cells": past frames only
        past = np.maximum(past, LOWEST_CELL_LEVEL * frame)
        self.level = (1 - rate) * past + rate * ratio
        return values / np.maximum(past, 1e-12)


def _median_level(ratio: np.ndarray, ignored: np.ndarray | None) -> np.ndarray:
    """Each stream's median over cells of ``ratio`` (B, H, W), its ignored cells left out
    (all of them kept where a stream ignores every cell)."""
    flat = ratio.reshape(len(ratio), -1)
    if ignored is None or not ignored.any():
        return np.median(flat, axis=1)
    mask = ignored.reshape(len(ratio), -1)
    left_out = mask & ~mask.all(axis=1, keepdims=True)
    return np.nanmedian(np.where(left_out, np.nan, flat), axis=1)


def _adapted(videos: Sequence[np.ndarray], design: LocatedDesign, reference: np.ndarray
             ) -> list[np.ndarray]:
    """Videos' frames (N, H, W) as streams' adaptation gives them, in order; videos of
    equal length adapted together, one stream each."""
    adapted: list[np.ndarray] = [np.empty(0)] * len(videos)
    for length in sorted({len(v) for v in videos}):
        index = [i for i, v in enumerate(videos) if len(v) == length]
        group = np.stack([videos[i] for i in index])  # (S, N, H, W)
        adaptation = _Adaptation(design, reference, len(index))
        frames = np.stack([adaptation(group[:, t]) for t in range(length)], axis=1)
        for i, video in zip(index, frames, strict=True):
            adapted[i] = video
    return adapted


def fit_statistics(cells: Sequence[np.ndarray], histories: Sequence[np.ndarray],
                   design: LocatedDesign) -> CellStatistics:
    """Per-cell statistics of normal videos' cell errors (N, H, W) and their histories (N,).

    Raises:
        ConfigError: no frames, mismatched shapes, or non-finite errors.
    """
    if not cells:
        raise ConfigError("located calibration needs the cell errors of one or more videos")
    shapes = {c.shape[1:] for c in cells}
    if len(shapes) != 1 or any(c.ndim != 3 or len(c) != len(h)
                               for c, h in zip(cells, histories, strict=True)):
        raise ConfigError("located calibration: cell errors must be (N, H, W) of one grid, "
                          "with one history per frame")
    values = np.concatenate(cells).astype(np.float64)
    history = np.concatenate(histories)
    if not np.isfinite(values).all():
        raise ConfigError("located calibration: cell errors contain NaN or infinite values")
    count = int(history.max()) + 1
    frame_means = values.mean(axis=(1, 2))
    overall = max(float(frame_means.mean()), 1e-12)
    gain = np.array([frame_means[history == p].mean() / overall if (history == p).any()
                     else 1.0 for p in range(count)])
    values = values / gain[_positions(history, count), None, None]
    reference = values.mean(axis=0)
    if design.adapt != "none":  # each video adapted as a stream would adapt to it
        videos = np.split(values, np.cumsum([len(c) for c in cells])[:-1])
        values = np.concatenate(_adapted(videos, design, reference))
    floor = design.spread_floor * max(float(values.mean()), 1e-12)
    return CellStatistics(gain, reference, values.mean(axis=0),
                          np.maximum(values.std(axis=0), floor),
                          np.quantile(values, CELL_QUANTILE, axis=0))


def _smoothing_step(previous: np.ndarray, new: np.ndarray, alpha: float) -> np.ndarray:
    """The causal exponential smoothing of step 4 (NaN: no previous frame)."""
    return np.where(np.isnan(previous), new, alpha * new + (1 - alpha) * previous)


def smooth(scores: np.ndarray, alpha: float) -> np.ndarray:
    """Unsmoothed frame scores (N,) of one stream smoothed as a design of smoothing
    ``alpha`` smooths them live."""
    out, previous = np.empty(len(scores)), np.full(1, np.nan)
    for i, score in enumerate(scores):
        previous = _smoothing_step(previous, score, alpha)
        out[i] = previous[0]
    return out


class LocatedScorer:
    """The located score of ``streams`` streams, one frame of each per call, causally.

    Args:
        statistics: per-cell statistics of normal footage.
        design: the variant.
        streams: B.
    """

    def __init__(self, statistics: CellStatistics, design: LocatedDesign, streams: int = 1
                 ) -> None:
        self.statistics = statistics
        self.design = design
        self.adaptation = _Adaptation(design, statistics.reference, streams)
        self.score = np.full(streams, np.nan)  # running smoothed score
        self.ignored = np.zeros((streams, *statistics.mean.shape), bool)  # masked cells

    def ignore(self, stream: int, cells: np.ndarray | None) -> None:
        """From the next frame on, stream ``stream``'s cells where ``cells`` (H, W) is
        True read 0 (a mask); None: none."""
        if cells is not None and cells.shape != self.ignored.shape[1:]:
            raise ConfigError(f"located score: a mask of {cells.shape} cells, but the "
                              f"calibration has {self.ignored.shape[1:]}")
        self.ignored[stream] = False if cells is None else cells

    def add_streams(self, count: int) -> None:
        """``count`` more streams after the others, fresh and unmasked."""
        self.adaptation.add_streams(count)
        self.score = grown(self.score, count, np.nan)
        self.ignored = grown(self.ignored, count, False)

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the running levels and score of the given streams (all by default)."""
        index = slice(None) if streams is None else list(streams)
        self.adaptation.reset(index)
        self.score[index] = np.nan

    def __call__(self, cells: np.ndarray, history: np.ndarray,
                 scored: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores (B,) and unusualness maps (B, H, W) of one frame of each stream.

        Args:
            cells: the frames' cell errors, (B, H, W).
            history: their frames of memory, (B,).
            scored: (B,) bool, the streams this frame belongs to (all by default); the
                others keep their running level and score (their results are discarded).
        """
        if scored is not None and not scored.all():
            held = ~scored
            level, score = self.adaptation.level[held], self.score[held]
            result = self(cells, history)
            self.adaptation.level[held], self.score[held] = level, score
            return result
        stats, design = self.statistics, self.design
        cells = np.asarray(cells, dtype=np.float64)
        if cells.shape[1:] != stats.mean.shape:
            raise ConfigError(f"located score: cells of shape {cells.shape[1:]}, but the "
                              f"calibration has {stats.mean.shape}")
        gain = stats.position_gain[_positions(history, len(stats.position_gain))]
        values = self.adaptation(cells / gain[:, None, None], self.ignored)
        if design.unusual == "excess":
            unusual = np.maximum(values - stats.quantile, 0) / stats.std
        else:
            unusual = (values - stats.mean) / stats.std
        unusual[self.ignored] = 0.0
        flat = unusual.reshape(len(unusual), -1)
        if design.aggregate == "sum":
            frame = flat.sum(axis=1)
        elif design.aggregate == "max":
            frame = flat.max(axis=1)
        else:
            top = max(1, round(TOP_FRACTION * flat.shape[1]))
            frame = np.sort(flat, axis=1)[:, -top:].mean(axis=1)
        self.score = _smoothing_step(self.score, frame, design.smoothing)
        return self.score.copy(), unusual


def located_scores(cells: np.ndarray, history: np.ndarray, statistics: CellStatistics,
                   design: LocatedDesign) -> tuple[np.ndarray, np.ndarray]:
    """Scores (N,) and unusualness maps (N, H, W) of one video's cell errors (N, H, W) and
    history (N,), frame by frame as :class:`LocatedScorer` gives them live; or of B
    equal-length videos, (B, N, H, W) and (B, N), as B streams: (B, N) and (B, N, H, W)."""
    one = cells.ndim == 3
    cells = np.asarray(cells)[None] if one else np.asarray(cells)  # (B, N, H, W)
    history = np.asarray(history).reshape(cells.shape[:2])  # (B, N)
    scorer = LocatedScorer(statistics, design, len(cells))
    scores, maps = zip(*(scorer(cells[:, i], history[:, i]) for i in range(cells.shape[1])),
                       strict=True)
    scores, maps = np.stack(scores, axis=1), np.stack(maps, axis=1)
    return (scores[0], maps[0]) if one else (scores, maps)


@dataclass(frozen=True, eq=False)
class LocatedCalibration:
    """A located score ready for alarms: statistics, design and threshold, and the
    normal videos they came from."""

    statistics: CellStatistics
    design: LocatedDesign
    threshold: float
    quantile: float
    cell_size: int
    videos: tuple[str, ...]
    spread: float  # largest / smallest per-video ``quantile`` of the held-out scores

    def scorer(self, streams: int = 1) -> LocatedScorer:
        return LocatedScorer(self.statistics, self.design, streams)

    @property
    def heat_limit(self) -> float:
        """The top of a heat map's colour scale, in the map's units: a cell this unusual
        is full red."""
        return HEAT_LIMITS[self.design.unusual]

    def to_dict(self) -> dict[str, Any]:
        return {"statistics": self.statistics.to_dict(), "design": asdict(self.design),
                "threshold": self.threshold, "quantile": self.quantile,
                "cell_size": self.cell_size, "videos": list(self.videos),
                "spread": self.spread}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocatedCalibration:
        try:
            return cls(CellStatistics.from_dict(data["statistics"]),
                       LocatedDesign(**data["design"]), float(data["threshold"]),
                       float(data["quantile"]), int(data["cell_size"]),
                       tuple(data["videos"]), float(data["spread"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"located calibration: missing or bad field ({error})") from None


def held_out_scores(cells: Sequence[np.ndarray], histories: Sequence[np.ndarray],
                    design: LocatedDesign) -> list[np.ndarray]:
    """Each video's scores under statistics fitted on the *other* videos (leave one video
    out), so each is scored as footage the statistics never saw; needs two videos."""
    if len(cells) < 2:
        raise ConfigError("located calibration: leave-one-video-out needs at least 2 videos")
    scores = []
    for i in range(len(cells)):
        others = [j for j in range(len(cells)) if j != i]
        statistics = fit_statistics([cells[j] for j in others],
                                    [histories[j] for j in others], design)
        scores.append(located_scores(cells[i], histories[i], statistics, design)[0])
    return scores


def fit_located(cells: Sequence[np.ndarray], histories: Sequence[np.ndarray],
                design: LocatedDesign, cell_size: int, quantile: float,
                videos: Sequence[str]) -> LocatedCalibration:
    """Statistics from all normal videos; the threshold is ``quantile`` of their
    leave-one-video-out scores (each video scored as new footage).

    Raises:
        ConfigError: fewer than 2 videos, a quantile outside (0, 1], bad cell errors.
    """
    if not 0 < quantile <= 1:
        raise ConfigError(f"quantile must lie in (0, 1], got {quantile}")
    scores = held_out_scores(cells, histories, design)
    per_video = [float(np.quantile(s, quantile)) for s in scores]
    return LocatedCalibration(fit_statistics(cells, histories, design), design,
                              float(np.quantile(np.concatenate(scores), quantile)), quantile,
                              cell_size, tuple(videos),
                              max(per_video) / max(min(per_video), 1e-12))
