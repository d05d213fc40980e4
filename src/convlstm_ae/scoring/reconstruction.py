"""Per-frame reconstruction error, Eq. (3), with the memory reset every T' frames.

Besides the paper's whole-frame error, every frame also gets a localized error
(beyond the paper): the maximum over patches of the mean of the per-pixel error map
of Eq. (3). A small anomaly (a 3x3 box, a bike) moves the whole-frame sum little
but stands out in its patch.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from convlstm_ae.config import ScoringConfig
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.model.conv_ae import ConvAE


@dataclass(frozen=True)
class FrameErrors:
    """Per-frame errors of a batch of videos, each (B, N) on the CPU."""

    frame: Tensor  # Eq. (3): squared error summed over the whole frame
    patch: Tensor  # beyond the paper: max over patches of the mean error map


def default_patch_size(frame_size: int) -> int:
    """Patch side of the localized score: 1/28 of the frame, 8 px at 225 px, about
    the image area one ConvLSTM cell of the paper model sees (encoder stride 8)."""
    return max(3, round(frame_size / 28))


def _reduce(error_map: Tensor, patch_size: int) -> tuple[Tensor, Tensor]:
    """(B, N, H, W) per-pixel errors -> whole-frame sums and patch maxima, (B, N) each."""
    frame = error_map.sum(dim=(-2, -1))
    pooled = F.avg_pool2d(error_map.flatten(0, 1).unsqueeze(1), patch_size, max(1, patch_size // 2))
    return frame, pooled.flatten(1).amax(dim=1).view(frame.shape)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _convlstm_errors(model: nn.Module, video: Tensor, t_prime: int | None, patch: int, chunk: int):
    """Stream the video through the ConvLSTM, forgetting all history every T' frames.

    The first frame after a reset has only the current-frame term, like t = 1 in Eq. (2).
    """
    n = video.shape[1]
    frames, patches = [], []
    state, last_frame = None, None
    start = 0
    while start < n:
        reset = t_prime is not None and start % t_prime == 0
        if reset:
            state, last_frame = None, None
        stop = min(n, start + chunk)
        if t_prime is not None:
            stop = min(stop, (start // t_prime + 1) * t_prime)
        clip = model.normalize(video[:, start:stop])  # (B, L, C, H, W)
        with _autocast(video.device):
            current, previous, state = model(clip, state)
        error = (clip - current.float()).square().sum(dim=2)  # (B, L, H, W)
        targets = clip[:, :-1] if last_frame is None else torch.cat([last_frame, clip[:, :-1]], 1)
        offset = 1 if last_frame is None else 0
        previous_error = (targets - previous[:, offset:].float()).square().sum(dim=2)
        error[:, offset:] += previous_error
        frame, patch_max = _reduce(error, patch)
        frames.append(frame)
        patches.append(patch_max)
        last_frame = clip[:, -1:]
        start = stop
    return torch.cat(frames, 1), torch.cat(patches, 1)


def _sliding_errors(model: nn.Module, video: Tensor, t_prime: int, patch: int, chunk: int):
    """Score every frame at the end of its own window of T' frames (T' - 1 frames of
    history, fewer at the video's start), so no frame sits right after a reset.

    Costs T' times the frames of the reset scheme; about ``chunk`` frames run at once.
    """
    b, n = video.shape[:2]
    length = min(t_prime, n)
    frames, patches = [], []
    if length > 1:  # frames 0..length-2 end windows that start at frame 0: one memory run
        prefix = _convlstm_errors(model, video[:, : length - 1], None, patch, chunk)
        frames.append(prefix[0])
        patches.append(prefix[1])
    offsets = torch.arange(length, device=video.device)
    per_call = max(1, chunk // (length * b))
    for first in range(0, n - length + 1, per_call):
        starts = torch.arange(first, min(n - length + 1, first + per_call), device=video.device)
        clip = model.normalize(video[:, starts[:, None] + offsets].flatten(0, 1))  # (B*G, L, ..)
        with _autocast(video.device):
            current, previous, _ = model(clip)
        error = (clip[:, -1] - current[:, -1].float()).square().sum(dim=1)
        if length > 1:
            error += (clip[:, -2] - previous[:, -1].float()).square().sum(dim=1)
        frame, patch_max = _reduce(error.view(b, len(starts), *error.shape[1:]), patch)
        frames.append(frame)
        patches.append(patch_max)
    return torch.cat(frames, 1), torch.cat(patches, 1)


def _conv_ae_errors(model: ConvAE, video: Tensor, patch: int):
    """Hasan et al. [9]: reconstruct every sliding clip of T frames (stride 1); a frame's
    error map is the mean of its error maps over the clips that cover it."""
    t = model.config.clip_length
    b, n = video.shape[:2]
    if n < t:
        raise ConfigError(f"Conv-AE needs videos of at least {t} frames, got {n}")
    totals = video.new_zeros((b, n, *video.shape[-2:]), dtype=torch.float32)
    counts = video.new_zeros(n, dtype=torch.float32)
    for start in range(n - t + 1):
        clip = model.normalize(video[:, start : start + t])
        with _autocast(video.device):
            reconstruction = model(clip)
        totals[:, start : start + t] += (clip - reconstruction.float()).square().sum(dim=2)
        counts[start : start + t] += 1
    return _reduce(totals / counts.view(1, n, 1, 1), patch)


@torch.no_grad()
def reconstruction_errors(
    model: nn.Module,
    video: Tensor,
    *,
    t_prime: int | None = 10,
    patch_size: int | None = None,
    chunk: int = 64,
    windows: str = "reset",
) -> FrameErrors:
    """Per-frame reconstruction errors of one or a batch of equal-length videos.

    Args:
        model: a ConvLSTM-AE (Eq. 3) or Conv-AE (sliding clips, as in [9]).
        video: uint8 frames (N, C, H, W) or (B, N, C, H, W), at the model's frame size,
            on the device the model should run on.
        t_prime: T', frames between memory resets; None keeps memory for the whole video.
        patch_size: patch side of the localized error; default 1/28 of the frame.
        chunk: frames pushed through the network at once when T' is long or None.
        windows: "reset" forgets the memory at the start of every T'-frame window (the
            first frame of a window then has no previous-frame term, as t = 1 of
            Eq. 2); "sliding" scores every frame at the end of its own T'-frame window.
    Returns:
        :class:`FrameErrors` with (B, N) tensors, or (1, N) for a single video.
    """
    if video.dim() == 4:
        video = video.unsqueeze(0)
    if video.dim() != 5:
        raise ConfigError(
            f"expected frames (N, C, H, W) or (B, N, C, H, W), got {tuple(video.shape)}"
        )
    config = model.config
    if video.shape[2] != config.in_channels:
        raise ConfigError(f"model expects {config.in_channels} channel(s), got {video.shape[2]}")
    if video.is_floating_point() and not torch.isfinite(video).all():
        raise VideoReadError("frames contain NaN or infinite values")
    if t_prime is not None and t_prime < 1:
        raise ConfigError(f"t_prime must be a positive number of frames or None, got {t_prime}")
    ScoringConfig(t_prime=t_prime, windows=windows)  # checks the combination
    patch = patch_size or default_patch_size(config.frame_size)
    model.eval()
    if isinstance(model, ConvAE):
        frame, patch_max = _conv_ae_errors(model, video, patch)
    elif windows == "sliding":
        frame, patch_max = _sliding_errors(model, video, t_prime, patch, chunk)
    else:
        frame, patch_max = _convlstm_errors(model, video, t_prime, patch, chunk)
    return FrameErrors(frame.float().cpu(), patch_max.float().cpu())


def score_videos(
    model: nn.Module, videos: Sequence[np.ndarray], t_prime: int | None, desc: str = "score",
    windows: str = "reset",
) -> dict[str, list[np.ndarray]]:
    """Per-frame errors of videos of any lengths, one at a time on the model's device.

    Args:
        videos: uint8 frames (N, S, S) each, at the model's frame size.
    Returns:
        ``{"frame": [...], "patch": [...]}``, one (N,) array per video.
    """
    device = model.mean_frame.device  # every FrameModel has it, ONNX twins included
    errors: dict[str, list[np.ndarray]] = {"frame": [], "patch": []}
    for frames in tqdm(videos, desc=desc, unit="video", leave=False):
        video = torch.from_numpy(np.array(frames)).unsqueeze(1).to(device)  # (N, 1, S, S)
        result = reconstruction_errors(model, video, t_prime=t_prime, windows=windows)
        errors["frame"].append(result.frame[0].numpy())
        errors["patch"].append(result.patch[0].numpy())
    return errors
