"""Scores calibrated on normal footage, needing no test statistic (beyond the paper).

With the memory reset every T' frames, a frame's error depends on where it sits in
the memory window: the first frame after a reset has no previous-frame term (Eq. 3,
as t = 1 in Eq. 2) and the next ones rebuild from a short history. Eq. 4 then reads
that sawtooth as (ir)regularity. Standardising each frame's error with the mean and
spread of normal frames at the same window position removes it.

:class:`DeploymentCalibration` adds an alarm threshold, a high quantile of the
standardised errors of held-out normal clips: a score for live use, where no
min and max over the whole test video (Eq. 4) exist.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convlstm_ae.errors import ConfigError

WARMUP_POSITIONS = 16  # with T' = None, frames from here on share one position
MIN_FRAMES_PER_POSITION = 20  # fewer at any position: all positions share one mean and spread
MIN_RELATIVE_SPREAD = 0.01  # the spread is at least 1 % of the mean error

log = logging.getLogger(__name__)


def window_positions(num_frames: int, t_prime: int | None) -> np.ndarray:
    """Position of each frame in its memory window: t mod T' (with T' = None, t up to
    the warm-up length)."""
    frames = np.arange(num_frames)
    if t_prime is None:
        return np.minimum(frames, WARMUP_POSITIONS - 1)
    return frames % t_prime


def _as_videos(errors: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    videos = [np.asarray(e, dtype=np.float64) for e in errors]
    if not videos or any(v.ndim != 1 or v.size == 0 for v in videos):
        raise ConfigError("calibration needs per-frame errors of one or more non-empty videos")
    if not all(np.isfinite(v).all() for v in videos):
        raise ConfigError("calibration errors contain NaN or infinite values")
    return videos


@dataclass(frozen=True)
class PositionCalibration:
    """Mean and standard deviation of normal errors at each memory-window position."""

    mean: np.ndarray  # (P,)
    std: np.ndarray  # (P,)
    t_prime: int | None

    @classmethod
    def fit(
        cls, errors: Sequence[np.ndarray] | np.ndarray, t_prime: int | None,
        histories: Sequence[np.ndarray] | None = None,
    ) -> PositionCalibration:
        """Fit on the per-frame errors of normal videos (a list of 1-D arrays, or (N, L)).

        ``histories`` (frames of memory of each frame, from the scoring) give the
        positions; by default they are those of consecutive T'-frame windows.
        """
        videos = _as_videos(errors)
        if histories is None:
            histories = [window_positions(len(v), t_prime) for v in videos]
        positions = np.minimum(np.concatenate(histories), WARMUP_POSITIONS - 1)
        values = np.concatenate(videos)
        count = positions.max() + 1
        fewest = min(int((positions == p).sum()) for p in np.unique(positions))
        if fewest < MIN_FRAMES_PER_POSITION:
            log.warning("calibration: %d normal frames, %d at the rarest window position "
                        "(fewer than %d): one mean and spread for all positions", len(values),
                        fewest, MIN_FRAMES_PER_POSITION)
            positions = np.zeros_like(positions)
            count = 1
        mean = np.array([values[positions == p].mean() if (positions == p).any() else np.nan
                         for p in range(count)])
        std = np.array([values[positions == p].std() if (positions == p).any() else np.nan
                        for p in range(count)])
        seen = ~np.isnan(mean)  # positions a scheme never scores take the next one seen
        fill = np.maximum.accumulate(np.where(seen, np.arange(count), 0))
        first = int(np.argmax(seen))
        fill[:first] = first
        mean, std = mean[fill], std[fill]
        floor = np.maximum(MIN_RELATIVE_SPREAD * np.abs(mean), 1e-12)
        return cls(mean, np.maximum(std, floor), t_prime)

    def standardize(self, errors: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """(error - mean) / std at each frame's window position; errors (..., L).

        ``history``: the frames of memory of each frame, as in :meth:`fit`.
        """
        errors = np.asarray(errors, dtype=np.float64)
        if history is None:
            history = window_positions(errors.shape[-1], self.t_prime)
        positions = np.minimum(np.asarray(history), len(self.mean) - 1)
        return (errors - self.mean[positions]) / self.std[positions]


@dataclass(frozen=True)
class DeploymentCalibration:
    """Standardised error plus an alarm threshold, both from held-out normal clips."""

    position: PositionCalibration
    threshold: float
    quantile: float
    windows: str  # the window scheme the normal errors were scored with
    error: str  # and their e(t): "sum" (Eq. 3) or "sqrt"

    @classmethod
    def fit(
        cls, errors: Sequence[np.ndarray], t_prime: int | None, quantile: float = 0.99,
        histories: Sequence[np.ndarray] | None = None, *, windows: str, error: str,
    ) -> DeploymentCalibration:
        """Threshold = ``quantile`` of the standardised errors of the normal clips, scored
        with ``windows`` and ``error``."""
        if not 0 < quantile < 1:
            raise ConfigError(f"quantile must lie in (0, 1), got {quantile}")
        position = PositionCalibration.fit(errors, t_prime, histories)
        videos = _as_videos(errors)
        scores = np.concatenate([
            position.standardize(e, None if histories is None else histories[i])
            for i, e in enumerate(videos)
        ])
        return cls(position, float(np.quantile(scores, quantile)), quantile, windows, error)

    def score(self, errors: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Deployment anomaly score of one video's per-frame errors (higher = worse)."""
        return self.position.standardize(errors, history)

    def scheme(self) -> tuple[str, str]:
        """(windows, error) the calibration was fitted with."""
        return self.windows, self.error

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.position.mean.tolist(), "std": self.position.std.tolist(),
            "t_prime": self.position.t_prime, "threshold": self.threshold,
            "quantile": self.quantile, "windows": self.windows, "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentCalibration:
        try:
            position = PositionCalibration(
                np.asarray(data["mean"], float), np.asarray(data["std"], float), data["t_prime"]
            )
            return cls(position, float(data["threshold"]), float(data["quantile"]),
                       data["windows"], data["error"])
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"calibration: missing or bad field ({error})") from None

