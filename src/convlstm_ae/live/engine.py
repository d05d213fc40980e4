"""The live scoring engine: what ``convlstm-ae watch`` calls once per frame of B streams.

An :class:`Engine` keeps each stream's ConvLSTM memory, forgets it every T' frames of the
stream (or on :meth:`Engine.reset`) and returns the terms of Eq. 3 per stream. Two
backends share this interface: ``torch`` (:class:`~convlstm_ae.live.torch_engine.TorchEngine`,
CPU or CUDA) and ``onnx`` (:class:`~convlstm_ae.live.onnx_engine.OnnxEngine`, ONNX Runtime
on the CPU, without PyTorch). This module imports neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from convlstm_ae.config import ERRORS
from convlstm_ae.errors import ConfigError
from convlstm_ae.release_files import load_model_config

BACKENDS = ("torch", "onnx")


@dataclass(frozen=True)
class EngineOutput:
    """The errors of one frame of each of B streams, on the CPU."""

    current: np.ndarray  # (B,) float, current-frame term of Eq. 3
    previous: np.ndarray  # (B,) float, previous-frame term; 0 right after a reset
    patch: np.ndarray  # (B,) float, worst-patch error
    history: np.ndarray  # (B,) int, frames of memory each frame had (0 right after a reset)
    maps: np.ndarray | None  # (B, S, S) float32 per-pixel Eq. 3 error, if asked

    def frame(self, error: str = "sum") -> np.ndarray:
        """Eq. 3 per stream, as the sum of its terms (``sum``) or its square root (``sqrt``,
        as ``ScoringConfig.error``)."""
        if error not in ERRORS:
            raise ConfigError(f"error {error!r} is unknown; expected one of {', '.join(ERRORS)}")
        values = self.current + self.previous
        return np.sqrt(values) if error == "sqrt" else values


class Engine(Protocol):
    """Scores one frame of each of ``streams`` live videos per call."""

    streams: int
    frame_size: int
    t_prime: int | None  # frames between memory resets of a stream; None never resets

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the memory of the given streams (all by default), e.g. a new camera."""

    def __call__(self, frames: np.ndarray) -> EngineOutput:
        """Score uint8 gray frames (B, S, S) at ``frame_size``, one per stream."""


def check_frames(frames: np.ndarray, streams: int, frame_size: int) -> np.ndarray:
    """``frames`` as a uint8 (B, S, S) array.

    Raises:
        ConfigError: another shape or dtype.
    """
    frames = np.asarray(frames)
    expected = (streams, frame_size, frame_size)
    if frames.shape != expected:
        raise ConfigError(f"expected frames of shape {expected}, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ConfigError(f"expected uint8 frames, got {frames.dtype}")
    return frames


def open_engine(model_dir: Path, streams: int, *, backend: str = "torch",
                device: str | None = None, maps: bool = False,
                threads: int | None = None) -> Engine:
    """Open a released model folder for live scoring of ``streams`` streams.

    T' and the patch size are the ones stored with the model.

    Args:
        model_dir: a released model folder (``config.json`` and weights or ONNX graph).
        streams: B, the number of streams scored together.
        backend: ``torch`` or ``onnx`` (CPU, needs no PyTorch once exported).
        device: ``cpu`` or ``cuda`` for ``torch``; default CUDA if there is one.
            ``onnx`` runs on the CPU.
        maps: also return each frame's per-pixel error map.
        threads: CPU threads of the backend; default its own.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is unknown; expected one of {', '.join(BACKENDS)}")
    if streams < 1:
        raise ConfigError(f"streams must be positive, got {streams}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be positive, got {threads}")
    channels = load_model_config(model_dir).in_channels
    if channels != 1:
        raise ConfigError(f"{model_dir}: live engines score gray frames; the model takes "
                          f"{channels} channels")
    if backend == "onnx":
        from convlstm_ae.live.onnx_engine import OnnxEngine

        if device not in (None, "cpu"):
            raise ConfigError(f"device {device!r}: the onnx backend runs on the CPU")
        return OnnxEngine.open(Path(model_dir), streams, maps=maps, threads=threads)
    from convlstm_ae.live.torch_engine import TorchEngine

    return TorchEngine.open(Path(model_dir), streams, device=device, maps=maps, threads=threads)
