"""Per-frame reconstruction error, Eq. (3), over the memory windows of a scheme.

Besides the paper's whole-frame error, every frame also gets a localized error
(beyond the paper): the maximum over patches of the mean of the per-pixel error map
of Eq. (3). A small anomaly (a 3x3 box, a bike) moves the whole-frame sum little
but stands out in its patch.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convlstm_ae import progress
from convlstm_ae.config import DEFAULT_T_PRIME, ScoringConfig, default_patch_size
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.model.conv_ae import ConvAE
from convlstm_ae.scoring.frame_errors import FrameErrors
from convlstm_ae.scoring.windows import WindowPlan, plan_windows


def eq3_maps(frames: Tensor, current: Tensor, previous_frames: Tensor, previous: Tensor,
             has_previous: Tensor) -> tuple[Tensor, Tensor]:
    """The two per-pixel terms of Eq. (3), the one place every scoring path computes them.

    Args:
        frames: normalised I_t, (..., C, H, W).
        current: I^R_{t,t}, same shape.
        previous_frames: normalised I_{t-1}, same shape (any value where there is none).
        previous: I^R_{t,t-1}, same shape.
        has_previous: 1 where I_{t-1} is in the memory, 0 where the memory starts at t
            (as t = 1 in Eq. 2); shape (...).
    Returns:
        (current term, previous term), each (..., H, W), summed over channels.
    """
    current_term = (frames - current.float()).square().sum(dim=-3)
    previous_term = (previous_frames - previous.float()).square().sum(dim=-3)
    return current_term, previous_term * has_previous[..., None, None].to(previous_term.dtype)


def reduce_maps(current_term: Tensor, previous_term: Tensor, patch_size: int,
                cell_size: int | None = None) -> tuple[Tensor, ...]:
    """(B, N, H, W) terms -> whole-frame current and previous terms and patch maxima, (B, N),
    and with ``cell_size`` the error map's cell means, (B, N, H // cell, W // cell): whole
    cells only, the last H mod cell rows (and columns) left out, since a sliver of a cell
    a pixel wide is noise, not a place.

    Raises:
        ConfigError: a cell larger than the frame.
    """
    error_map = current_term + previous_term
    flat = error_map.flatten(0, 1).unsqueeze(1)
    pooled = F.avg_pool2d(flat, patch_size, max(1, patch_size // 2))
    patch = pooled.flatten(1).amax(dim=1).view(error_map.shape[:2])
    reduced = (current_term.sum(dim=(-2, -1)), previous_term.sum(dim=(-2, -1)), patch)
    if cell_size is None:
        return reduced
    if cell_size > min(error_map.shape[-2:]):
        raise ConfigError(f"cells of {cell_size} px do not fit in frames of "
                          f"{tuple(error_map.shape[-2:])} px")
    cells = F.avg_pool2d(flat, cell_size, cell_size)
    return (*reduced, cells.view(*error_map.shape[:2], *cells.shape[-2:]))


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _memory_runs(model: nn.Module, clips: Tensor, patch: int, chunk: int,
                 cell: int | None) -> tuple[Tensor, ...]:
    """Run normalised clips (G, L, C, H, W) through the ConvLSTM from a zero state, at
    most ``chunk`` frames at a time; per-frame terms and patch maxima, (G, L) each, and
    with ``cell`` the cell means (G, L, H / cell, W / cell)."""
    g, length = clips.shape[:2]
    step = max(1, chunk // g)
    state, last = None, None
    outputs = []
    for start in range(0, length, step):
        part = clips[:, start : start + step]
        with _autocast(part.device):
            current, previous, state = model(part, state)
        before = part[:, :1] if last is None else last
        has_previous = torch.ones(part.shape[:2], device=part.device)
        if last is None:
            has_previous[:, 0] = 0
        maps = eq3_maps(part, current, torch.cat([before, part[:, :-1]], 1), previous,
                        has_previous)
        outputs.append(reduce_maps(*maps, patch, cell))
        last = part[:, -1:]
    return tuple(torch.cat(values, 1) for values in zip(*outputs, strict=True))


def _window_errors(model: nn.Module, video: Tensor, plan: WindowPlan, patch: int, chunk: int,
                   cell: int | None) -> FrameErrors:
    """Errors of every frame under ``plan``: windows of equal length run together,
    about ``chunk`` frames per forward pass."""
    b, n = video.shape[:2]
    values = torch.zeros((3, b, n), device=video.device)
    cells = None
    history = torch.zeros(n, dtype=torch.int64)
    lengths = plan.stops - plan.starts
    for length in np.unique(lengths).tolist():
        group = np.flatnonzero(lengths == length)
        per_call = max(1, chunk // (length * b))
        for first in range(0, len(group), per_call):
            windows = group[first : first + per_call]
            indices = plan.starts[windows, None] + np.arange(length)  # (G, L)
            clips = model.normalize(video[:, torch.from_numpy(indices).to(video.device)])
            terms = _memory_runs(model, clips.flatten(0, 1), patch, chunk, cell)
            scored = indices >= plan.scored_from[windows, None]
            frames = torch.from_numpy(indices[scored]).to(video.device)
            mask = torch.from_numpy(scored).to(video.device)
            for row, term in zip(values, terms[:3], strict=True):
                row[:, frames] = term.view(b, len(windows), length)[:, mask]
            if cell is not None:
                grid = terms[3].shape[-2:]
                if cells is None:
                    cells = torch.zeros((b, n, *grid), device=video.device)
                cells[:, frames] = terms[3].view(b, len(windows), length, *grid)[:, mask]
            history[torch.from_numpy(indices[scored])] = torch.from_numpy(
                (indices - plan.starts[windows, None])[scored])
    source = torch.from_numpy(plan.source)
    current, previous, patch_max = values[:, :, source.to(video.device)].float().cpu()
    if cells is not None:
        cells = cells[:, source.to(video.device)].float().cpu()
    return FrameErrors(current, previous, patch_max, history[source].expand(b, n).clone(),
                       cells)


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
    current, _, patch_max = reduce_maps(
        totals / counts.view(1, n, 1, 1), torch.zeros_like(totals), patch)
    full = torch.full((b, n), t - 1, dtype=torch.int64)
    return FrameErrors(current.cpu(), torch.zeros_like(current).cpu(), patch_max.cpu(), full)


@torch.no_grad()
def reconstruction_errors(
    model: nn.Module,
    video: Tensor,
    *,
    t_prime: int | None = DEFAULT_T_PRIME,
    patch_size: int | None = None,
    chunk: int = 64,
    windows: str = "reset",
    cell_size: int | None = None,
) -> FrameErrors:
    """Per-frame reconstruction errors of one or a batch of equal-length videos.

    Args:
        model: a ConvLSTM-AE (Eq. 3) or Conv-AE (sliding clips, as in [9]).
        video: uint8 frames (N, C, H, W) or (B, N, C, H, W), at the model's frame size,
            on the device the model should run on.
        t_prime: T', the memory window; None keeps memory for the whole video.
        patch_size: patch side of the localized error; default 1/28 of the frame.
        chunk: frames pushed through the network at once.
        windows: which windows score which frames, one of
            :data:`~convlstm_ae.scoring.windows.SCHEMES` (see that module).
        cell_size: also keep each frame's error map averaged over cells of this side
            (``FrameErrors.cells``, for the located live score); ConvLSTM-AE only.
    Returns:
        :class:`FrameErrors` with (B, N) tensors, or (1, N) for a single video.
    """
    if isinstance(video, np.ndarray):
        video = torch.from_numpy(video)
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
    ScoringConfig(t_prime=t_prime, windows=windows)  # checks the combination
    plan = plan_windows(video.shape[1], t_prime, windows)
    patch = patch_size or default_patch_size(config.frame_size)
    model.eval()
    if isinstance(model, ConvAE):
        return _conv_ae_errors(model, video, patch)
    return _window_errors(model, video, plan, patch, chunk, cell_size)


def score_videos(
    model: nn.Module, videos: Iterable[np.ndarray], t_prime: int | None, desc: str = "score",
    windows: str = "reset", batch: int = 1, total: int | None = None,
    cell_size: int | None = None,
) -> list[FrameErrors]:
    """Per-frame errors of videos of any lengths on the model's device, up to ``batch``
    consecutive videos of equal length at once.

    Args:
        videos: uint8 frames (N, S, S) each, at the model's frame size.
        total: how many videos there are, for the progress bar of an iterator.
        cell_size: also keep the cell means of the error maps (see
            :func:`reconstruction_errors`).
    Returns:
        One :class:`FrameErrors` of shape (1, N) per video.
    """
    device = model.mean_frame.device  # every FrameModel has it, ONNX twins included
    results: list[FrameErrors] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        video = torch.from_numpy(np.stack(pending)).unsqueeze(2).to(device)  # (B, N, 1, S, S)
        errors = reconstruction_errors(model, video, t_prime=t_prime, windows=windows,
                                       cell_size=cell_size)
        for i in range(len(pending)):
            values = (getattr(errors, f.name) for f in fields(FrameErrors))
            results.append(FrameErrors(*(None if v is None else v[i : i + 1] for v in values)))
        pending.clear()

    for frames in progress.bar(videos, desc=desc, unit="video", leave=False, total=total):
        if pending and (len(pending) == batch or len(frames) != len(pending[0])):
            flush()
        pending.append(np.asarray(frames))
    if pending:
        flush()
    return results
