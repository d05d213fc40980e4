"""Live scoring: one frame per stream per call, explicit ConvLSTM state, Eq. (3).

A :class:`StreamScorer` keeps the (h, c) memory and the previous frame of each of B
streams on the device, forgets a stream's memory every T' of its frames (or when
:meth:`StreamScorer.reset` says a stream restarted), and returns each stream's
whole-frame and patch errors (and, if asked, its per-pixel error map). On a CUDA
device the whole step (normalisation, model, errors) is compiled by ``torch.compile``,
captured once as a CUDA graph and replayed for every frame, so one stream costs a few
fused kernels and one launch.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from torch import Tensor

from convlstm_ae.config import DEFAULT_T_PRIME, default_patch_size
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.model.acceleration import accelerate, is_accelerated, use_fast_path
from convlstm_ae.model.convlstm_ae import ConvLSTMAE
from convlstm_ae.scoring.reconstruction import (
    FrameErrors,
    eq3_maps,
    reduce_maps,
)

WARMUP_STEPS = 3  # uncaptured steps first: cuDNN autotuning and torch.compile


class StreamScorer:
    """Per-frame errors of ``streams`` live videos, fed one frame of each per call.

    Args:
        model: a ConvLSTM-AE on the device to score on.
        streams: B, the number of streams scored together.
        t_prime: T', frames between memory resets of a stream; None never resets.
        patch_size: patch side of the localized error; default 1/28 of the frame.
        plain: on CUDA, skip the fast path (channels-last, fused gates, CUDA graph).
        maps: keep the per-pixel Eq. 3 error of each call's frames in :attr:`maps`.
    """

    def __init__(
        self,
        model: ConvLSTMAE,
        streams: int,
        *,
        t_prime: int | None = DEFAULT_T_PRIME,
        patch_size: int | None = None,
        plain: bool = False,
        maps: bool = False,
    ) -> None:
        if not isinstance(model, ConvLSTMAE):
            raise ConfigError("live scoring needs a ConvLSTM-AE; Conv-AE scores whole clips")
        if streams < 1:
            raise ConfigError(f"streams must be positive, got {streams}")
        if t_prime is not None and t_prime < 1:
            raise ConfigError(f"t_prime must be a positive number of frames or None, got {t_prime}")
        self.model = model.eval()
        self.device = model.mean_frame.device
        self.fast = use_fast_path(self.device, plain)
        if self.fast and not is_accelerated(model):
            accelerate(model)
        self.t_prime = t_prime
        self.patch = patch_size or default_patch_size(model.config.frame_size)
        config = model.config
        size = config.frame_size
        self.frame_shape = (streams, config.in_channels, size, size)
        self.frames = torch.zeros(self.frame_shape, dtype=torch.uint8, device=self.device)
        self.keep = torch.zeros(streams, device=self.device)  # 0: memory reset at this frame
        self.position = np.zeros(streams, dtype=np.int64)  # frames seen since each reset
        self._state: tuple[Tensor, Tensor] | None = None
        self._last: Tensor | None = None
        self.keep_maps = maps
        self.maps: Tensor | None = None  # (B, H, W) on the CPU, the last call's, if kept
        self._outputs: tuple[Tensor, Tensor, Tensor, Tensor] | None = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._compute_fn = self._compute
        if self.fast:
            self._compute_fn = torch.compile(self._compute, dynamic=False)
        self._uncaptured_steps = 0

    @property
    def streams(self) -> int:
        return self.frame_shape[0]

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the memory of the given streams (all by default), e.g. a new camera."""
        self.position[slice(None) if streams is None else list(streams)] = 0

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _compute(self, frames: Tensor, h: Tensor, c: Tensor, last: Tensor, keep: Tensor):
        """Eq. (3) for one frame of every stream, a pure function of its inputs.

        ``keep`` is 0 for a stream whose memory resets at this frame: its state is
        zeroed and its previous-frame term dropped, as at t = 1 of Eq. (2).
        """
        x = self.model.normalize(frames)  # (B, C, H, W)
        keep = keep.view(-1, 1, 1, 1)
        state = (h * keep.to(h.dtype), c * keep.to(c.dtype))
        with self._autocast():
            current, previous, (h, c) = self.model.step(x, state)
        maps = eq3_maps(x, current, last, previous, keep.view(-1))
        current_term, previous_term, patch = reduce_maps(*(m.unsqueeze(1) for m in maps),
                                                         self.patch)
        return current_term[:, 0], previous_term[:, 0], patch[:, 0], maps[0] + maps[1], h, c, x

    @torch.no_grad()
    def _step(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One frame of every stream, from and into the persistent buffers."""
        if self._state is None:  # first call: shapes and dtypes come from the model
            x = self.model.normalize(self.frames)
            with self._autocast():
                h, c = self.model.step(x, None)[2]
            self._state, self._last = (torch.zeros_like(h), torch.zeros_like(c)), x.clone()
        *terms, h, c, x = self._compute_fn(self.frames, *self._state, self._last, self.keep)
        self._state[0].copy_(h)
        self._state[1].copy_(c)
        self._last.copy_(x)
        return tuple(terms)

    def _run(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if not self.fast or self._uncaptured_steps < WARMUP_STEPS:
            self._uncaptured_steps += 1
            return self._step()
        if self._graph is None:
            self._capture()
        self._graph.replay()
        return self._outputs

    def _capture(self) -> None:
        """Record :meth:`_step` as a CUDA graph, after one untimed run on a side stream
        (the allocations the capture reuses) whose state changes are rolled back."""
        saved = [t.clone() for t in (*self._state, self._last)]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self._step()
        torch.cuda.current_stream().wait_stream(side)
        for buffer, value in zip((*self._state, self._last), saved, strict=True):
            buffer.copy_(value)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._outputs = self._step()  # recorded, not run: the replay runs it

    def __call__(self, frames: Tensor | np.ndarray) -> FrameErrors:
        """Score one frame of every stream.

        Args:
            frames: uint8 (B, C, H, W) or (B, H, W) at the model's frame size, on any
                device.
        Returns:
            :class:`FrameErrors` with (B,) terms of Eq. 3, patch errors and history on
            the CPU; ``.frame`` is Eq. 3.
        """
        frames = torch.as_tensor(frames)
        if frames.dim() == 3:
            frames = frames.unsqueeze(1)
        if tuple(frames.shape) != self.frame_shape:
            raise ConfigError(f"expected frames of shape {self.frame_shape}, got "
                              f"{tuple(frames.shape)}")
        if frames.is_floating_point() and not torch.isfinite(frames).all():
            raise VideoReadError("frames contain NaN or infinite values")
        self.frames.copy_(frames, non_blocking=True)
        self.keep.copy_(torch.from_numpy(self.position > 0).float(), non_blocking=True)
        *terms, maps = self._run()
        current, previous, patch = (v.float().cpu() for v in terms)
        if self.keep_maps:
            self.maps = maps.float().cpu()
        history = torch.from_numpy(self.position.copy())
        self.position += 1
        if self.t_prime is not None:
            self.position %= self.t_prime
        return FrameErrors(current, previous, patch, history)
