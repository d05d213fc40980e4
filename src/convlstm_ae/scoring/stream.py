"""Live scoring: one frame per stream per call, explicit ConvLSTM state, Eq. (3).

A :class:`StreamScorer` keeps a :class:`~convlstm_ae.scoring.stream_state.StreamState`
of B streams on the device (their (h, c) memory, previous frame and memory clock) and
returns each stream's whole-frame and patch errors and its error map's cell means (and,
if asked, the per-pixel error map). Its :meth:`StreamScorer.compute` is the one live
scoring step: ONNX export traces it for the light runtime. On a CUDA
device the whole step (normalisation, model, errors) is compiled by ``torch.compile``,
captured once as a CUDA graph and replayed for every frame, so one stream costs a few
fused kernels and one launch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import torch
from torch import Tensor

from convlstm_ae.config import DEFAULT_T_PRIME, default_cell_size, default_patch_size
from convlstm_ae.errors import ConfigError
from convlstm_ae.model.acceleration import accelerate, is_accelerated, use_fast_path
from convlstm_ae.model.convlstm_ae import ConvLSTMAE
from convlstm_ae.scoring.frame_errors import FrameErrors
from convlstm_ae.scoring.reconstruction import eq3_maps, reduce_maps
from convlstm_ae.scoring.stream_state import IN_FLIGHT, StreamBackend, StreamState

WARMUP_STEPS = 3  # uncaptured steps first: cuDNN autotuning and torch.compile


class StreamScorer(StreamBackend):
    """Per-frame errors of ``streams`` live videos, fed one frame of each per call.

    Args:
        model: a ConvLSTM-AE on the device to score on.
        streams: B, the number of streams scored together.
        t_prime: T', frames between memory resets of a stream; None never resets.
        patch_size: patch side of the localized error; default 1/28 of the frame.
        cell_size: cell side of the error map's cell means; default 1/8 of the frame.
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
        cell_size: int | None = None,
        plain: bool = False,
        maps: bool = False,
    ) -> None:
        if not isinstance(model, ConvLSTMAE):
            raise ConfigError("live scoring needs a ConvLSTM-AE; Conv-AE scores whole clips")
        self.state = StreamState(streams, t_prime)
        self._launched: deque[Callable[[], FrameErrors]] = deque()
        self.model = model.eval()
        self.device = model.mean_frame.device
        self.fast = use_fast_path(self.device, plain)
        if self.fast and not is_accelerated(model):
            accelerate(model)
        config = model.config
        size = config.frame_size
        self.frame_size = size
        self.patch = patch_size or default_patch_size(size)
        self.cell = cell_size or default_cell_size(size)
        self.in_channels = config.in_channels
        self.keep_maps = maps
        self.maps: Tensor | None = None  # (B, H, W) on the CPU, the last call's, if kept
        self._compute_fn = self.compute
        if self.fast:
            self._compute_fn = torch.compile(self.compute, dynamic=False)
        self._buffers()

    def _buffers(self) -> None:
        """The step's buffers for B streams, and no CUDA graph yet (captured for B)."""
        streams, size = self.streams, self.frame_size
        self.frame_shape = (streams, self.in_channels, size, size)
        self.frames = torch.zeros(self.frame_shape, dtype=torch.uint8, device=self.device)
        self.keep = torch.zeros(streams, device=self.device)  # 0: memory reset at this frame
        self.scored = torch.ones(streams, device=self.device)  # 0: memory held at this frame
        # (B, S, S) uint8 on the host, pinned on CUDA: a caller that fills it and passes it
        # to each call has its frames copied to the device once, without blocking. Two,
        # taking turns: the caller fills one while the other is still copied, or read
        pinned = self.device.type == "cuda"
        self._hosts = [torch.zeros((streams, size, size), dtype=torch.uint8, pin_memory=pinned)
                       for _ in range(IN_FLIGHT)]
        self.host = self._hosts[0]
        self.batch = self.host.numpy()
        self._results: list[list[Tensor]] = []  # pinned host copies of the outputs, by turn
        self._turn = 0
        self._outputs: tuple[Tensor, ...] | None = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._uncaptured_steps = 0

    def add_streams(self, count: int) -> None:
        """``count`` more streams with a fresh memory; the others' memory is kept. On CUDA
        the step is compiled and captured again for the new B."""
        self._check_idle()
        state = self.state
        state.add_streams(count)
        if state.h is not None:
            state.h, state.c, state.last = (
                torch.cat([buffer, buffer.new_zeros((count, *buffer.shape[1:]))])
                for buffer in (state.h, state.c, state.last))
        self._buffers()

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def compute(self, frames: Tensor, last: Tensor, keep: Tensor, h: Tensor, c: Tensor
                ) -> tuple[Tensor, ...]:
        """Eq. (3) for one frame of every stream, a pure function of its inputs: the one
        live scoring step (exported as the ONNX scoring graph).

        ``keep`` is 0 for a stream whose memory resets at this frame: its state is
        zeroed and its previous-frame term dropped, as at t = 1 of Eq. (2).

        Returns:
            (current, previous, patch) (B,), the error map (B, H, W), its cell means
            (B, H / cell, W / cell), the next h and c, and the normalised frame.
        """
        x = self.model.normalize(frames)  # (B, C, H, W)
        keep = keep.view(-1, 1, 1, 1)
        state = (h * keep.to(h.dtype), c * keep.to(c.dtype))
        with self._autocast():
            current, previous, (h, c) = self.model.step(x, state)
        maps = eq3_maps(x, current, last, previous, keep.view(-1))
        current_term, previous_term, patch, cells = reduce_maps(
            *(m.unsqueeze(1) for m in maps), self.patch, self.cell)
        return (current_term[:, 0], previous_term[:, 0], patch[:, 0], maps[0] + maps[1],
                cells[:, 0], h, c, x)

    @torch.no_grad()
    def _step(self) -> tuple[Tensor, ...]:
        """One frame of every stream, from and into the persistent buffers."""
        state = self.state
        if state.h is None:  # first call: shapes and dtypes come from the model
            x = self.model.normalize(self.frames)
            with self._autocast():
                h, c = self.model.step(x, None)[2]
            state.h, state.c, state.last = torch.zeros_like(h), torch.zeros_like(c), x.clone()
        *terms, h, c, x = self._compute_fn(self.frames, state.last, self.keep, state.h, state.c)
        state.store(h, c, x, self.scored.view(-1, 1, 1, 1))
        return tuple(terms)

    def _run(self) -> tuple[Tensor, ...]:
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
        buffers = (self.state.h, self.state.c, self.state.last)
        saved = [t.clone() for t in buffers]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self._step()
        torch.cuda.current_stream().wait_stream(side)
        for buffer, value in zip(buffers, saved, strict=True):
            buffer.copy_(value)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._outputs = self._step()  # recorded, not run: the replay runs it

    def _launch(self, frames: Tensor | np.ndarray, scored: np.ndarray | None
                ) -> Callable[[], FrameErrors]:
        """Start one step (see :meth:`StreamBackend.launch`). On CUDA it runs on the
        device while the caller goes on; collecting it waits for it.

        ``frames``: uint8 (B, C, H, W) or (B, H, W) at the model's frame size, on any
        device, or a numpy array; :attr:`batch` is copied to the device without blocking.
        When collected: :class:`FrameErrors` with (B,) terms of Eq. 3, patch errors and
        history and the (B, H / cell, W / cell) cell means, tensors on the CPU (``.frame``
        is Eq. 3), and the map in :attr:`maps` if kept.
        """
        batch = frames is self.batch
        frames = self.host if batch else torch.as_tensor(frames)
        if frames.dim() == 3:
            frames = frames.unsqueeze(1)
        if tuple(frames.shape) != self.frame_shape:
            raise ConfigError(f"expected frames of shape {self.frame_shape}, got "
                              f"{tuple(frames.shape)}")
        if frames.dtype != torch.uint8:
            raise ConfigError(f"expected uint8 frames, got {frames.dtype}")
        self.frames.copy_(frames, non_blocking=True)
        self.keep.copy_(torch.from_numpy(self.state.keep()), non_blocking=True)
        self.scored.copy_(torch.from_numpy(np.ones(self.streams, np.float32) if scored is None
                                           else scored.astype(np.float32)), non_blocking=True)
        *terms, maps, cells = self._run()
        outputs = [*terms, cells] + ([maps] if self.keep_maps else [])
        history = torch.from_numpy(self.state.tick(scored))
        if self.device.type != "cuda":
            results, done = [v.float() for v in outputs], None
        else:  # copied to pinned host memory in turn, behind the step on the device
            results, done = self._copy_back(outputs), torch.cuda.Event()
            done.record()
        if batch:  # the caller fills the other one next
            self._hosts.reverse()
            self.host = self._hosts[0]
            self.batch = self.host.numpy()

        def collected() -> FrameErrors:
            values = results
            if done is not None:
                done.synchronize()
                values = [v.clone() for v in results]
            current, previous, patch, cells, *kept = values
            if self.keep_maps:
                self.maps = kept[0]
            return FrameErrors(current, previous, patch, history, cells)
        return collected

    def _copy_back(self, outputs: list[Tensor]) -> list[Tensor]:
        """Copy a step's outputs into this turn's pinned host buffers without blocking,
        and take the next turn."""
        if not self._results:
            self._results = [[torch.empty(v.shape, dtype=torch.float32, pin_memory=True)
                              for v in outputs] for _ in range(IN_FLIGHT)]
        results = self._results[self._turn]
        for result, value in zip(results, outputs, strict=True):
            result.copy_(value, non_blocking=True)
        self._turn = (self._turn + 1) % IN_FLIGHT
        return results
