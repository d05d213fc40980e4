"""Training objectives: Eq. (2) for ConvLSTM-AE, the plain Euclidean loss for Conv-AE."""

from __future__ import annotations

from torch import Tensor


def reconstruction_loss(clip: Tensor, current: Tensor, previous: Tensor) -> Tensor:
    """Eq. (2): 1/2 sum_t ||X_t - X^R_{t,t}||^2 + ||X_{t-1} - X^R_{t,t-1}||^2, per clip.

    At t = 1 only the current frame is rebuilt. Summed over pixels and time, averaged
    over the batch (Caffe's EuclideanLoss convention).

    Args:
        clip: normalised frames X_1..X_T, (B, T, C, H, W).
        current: X^R_{t,t}, (B, T, C, H, W).
        previous: X^R_{t,t-1}, (B, T, C, H, W); its first step is ignored.
    """
    current_term = (clip - current).square().sum()
    previous_term = (clip[:, :-1] - previous[:, 1:]).square().sum()
    return 0.5 * (current_term + previous_term) / clip.shape[0]


def clip_reconstruction_loss(clip: Tensor, reconstruction: Tensor) -> Tensor:
    """Conv-AE [9]: 1/2 ||X - X^R||^2 over the whole cuboid, averaged over the batch."""
    return 0.5 * (clip - reconstruction).square().sum() / clip.shape[0]
