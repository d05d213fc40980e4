"""Errors standardised with statistics of normal footage (beyond the paper).

With the memory reset every T' frames, a frame's error depends on where it sits in
the memory window: the first frame after a reset has no previous-frame term (Eq. 3,
as t = 1 in Eq. 2) and the next ones rebuild from a short history. Eq. 4 then reads
that sawtooth as (ir)regularity. Standardising each frame's error with the mean and
spread of normal frames at the same window position removes it, using nothing of the
test videos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convlstm_ae.errors import ConfigError


def window_positions(num_frames: int, t_prime: int | None) -> np.ndarray:
    """Position of each frame in its memory window: t mod T' (t itself for T' = None)."""
    frames = np.arange(num_frames)
    return frames if t_prime is None else frames % t_prime


@dataclass(frozen=True)
class PositionCalibration:
    """Mean and standard deviation of normal errors at each memory-window position."""

    mean: np.ndarray  # (P,)
    std: np.ndarray  # (P,)
    t_prime: int | None

    @classmethod
    def fit(cls, errors: np.ndarray, t_prime: int | None) -> PositionCalibration:
        """Fit on per-frame errors (N, L) of N normal videos of L frames each."""
        errors = np.asarray(errors, dtype=np.float64)
        if errors.ndim != 2 or errors.size == 0:
            raise ConfigError(
                f"calibration needs errors of shape (videos, frames), got {errors.shape}"
            )
        if not np.isfinite(errors).all():
            raise ConfigError("calibration errors contain NaN or infinite values")
        positions = window_positions(errors.shape[1], t_prime)
        count = positions.max() + 1
        mean = np.array([errors[:, positions == p].mean() for p in range(count)])
        std = np.array([errors[:, positions == p].std() for p in range(count)])
        return cls(mean, np.maximum(std, 1e-12 * max(1.0, np.abs(mean).max())), t_prime)

    def standardize(self, errors: np.ndarray) -> np.ndarray:
        """(error - mean) / std at each frame's window position; errors (..., L)."""
        errors = np.asarray(errors, dtype=np.float64)
        positions = np.minimum(window_positions(errors.shape[-1], self.t_prime), len(self.mean) - 1)
        return (errors - self.mean[positions]) / self.std[positions]
