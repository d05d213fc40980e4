"""The live scoring engine: what ``convlstm-ae watch`` calls once per frame of B streams.

An engine is the one streaming step of :mod:`convlstm_ae.scoring`, on one of two
backends: ``torch`` (:class:`~convlstm_ae.scoring.stream.StreamScorer`, CPU or CUDA) or
``onnx`` (:class:`~convlstm_ae.export.onnx_stream.OnnxStreamScorer`, ONNX Runtime on
the CPU, without PyTorch). Both keep a :class:`~convlstm_ae.scoring.stream_state.StreamState`
and return :class:`~convlstm_ae.scoring.frame_errors.FrameErrors`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from convlstm_ae.errors import ConfigError
from convlstm_ae.export.onnx_stream import OnnxStreamScorer
from convlstm_ae.export.paths import ONNX_SCORE, onnx_path
from convlstm_ae.release_files import load_model_config, load_scoring_config
from convlstm_ae.scoring.frame_errors import FrameErrors

BACKENDS = ("torch", "onnx")


class Engine(Protocol):
    """Scores one frame of each of ``streams`` live videos per call."""

    streams: int
    frame_size: int
    t_prime: int | None  # frames between memory resets of a stream; None never resets
    maps: Any  # (B, S, S) per-pixel Eq. 3 error of the last call, if kept
    # (B, S, S) uint8 host buffer to fill and pass in (pinned on CUDA); one of two taking
    # turns at each launch from it, so a step's frames stay as they were until the step
    # after next is launched
    batch: np.ndarray

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the memory of the given streams (all by default), e.g. a new camera."""

    def add_streams(self, count: int) -> None:
        """``count`` more streams after the others, with a fresh memory (a camera added);
        the others' memory is kept. ``batch`` is a new, larger buffer then."""

    def launch(self, frames: np.ndarray, scored: np.ndarray | None = None) -> None:
        """Start scoring uint8 gray frames (B, S, S) at ``frame_size``, one per stream;
        streams where ``scored`` (B,) bool is False keep their memory and clock (results
        discarded). Up to two steps may be launched before the first is collected."""

    def collect(self) -> FrameErrors:
        """The oldest launched step's (B,) errors and (B, S / cell, S / cell) cell means,
        on the CPU."""

    def __call__(self, frames: np.ndarray, scored: np.ndarray | None = None) -> FrameErrors:
        """:meth:`launch`, then :meth:`collect`."""


def open_engine(model_dir: Path, streams: int, *, backend: str | None = None,
                device: str | None = None, maps: bool = False,
                threads: int | None = None) -> Engine:
    """Open a released model folder for live scoring of ``streams`` streams.

    T', the patch size and the cell size are the ones stored with the model.

    Args:
        model_dir: a released model folder (``config.json`` and weights or ONNX graph).
        streams: B, the number of streams scored together.
        backend: ``torch`` or ``onnx`` (CPU, needs no PyTorch once exported); default
            ``torch`` where PyTorch is installed, else ``onnx``.
        device: ``cpu`` or ``cuda`` for ``torch``; default CUDA if there is one.
            ``onnx`` runs on the CPU.
        maps: also keep each frame's per-pixel error map (``engine.maps``).
        threads: CPU threads of the backend; None (the default) leaves its own. ONNX
            Runtime takes them per session; PyTorch has one thread pool per process, so
            for ``torch`` a number here calls ``torch.set_num_threads`` and holds for the
            whole process, not this engine alone: pass it only where the process is the
            caller's to configure (``watch --threads``).

    On CUDA, cuDNN is set to time its algorithms once and keep the fastest for each
    convolution (``torch.backends.cudnn.benchmark``, process-wide): the step's shapes never
    change, and it runs eagerly a few times before it is captured as a CUDA graph, so the
    timing is paid then.
    """
    backend = backend or ("torch" if importlib.util.find_spec("torch") else "onnx")
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is unknown; expected one of {', '.join(BACKENDS)}")
    if streams < 1:
        raise ConfigError(f"streams must be positive, got {streams}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be positive, got {threads}")
    model_dir = Path(model_dir)
    channels = load_model_config(model_dir).in_channels
    if channels != 1:
        raise ConfigError(f"{model_dir}: live engines score gray frames; the model takes "
                          f"{channels} channels")
    if backend == "onnx":
        if device not in (None, "cpu"):
            raise ConfigError(f"device {device!r}: the onnx backend runs on the CPU")
        if not onnx_path(model_dir, ONNX_SCORE).is_file():
            _export_with_torch(model_dir)
        return OnnxStreamScorer.open(model_dir, streams, maps=maps, threads=threads)
    import torch

    from convlstm_ae.release import default_device, load_model
    from convlstm_ae.scoring.stream import StreamScorer

    if threads:
        torch.set_num_threads(threads)
    scoring = load_scoring_config(model_dir)
    target = torch.device(default_device(device))
    model = load_model(model_dir, target)
    if target.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return StreamScorer(model, streams, t_prime=scoring.t_prime, patch_size=scoring.patch_size,
                        cell_size=scoring.cell_size, maps=maps)


def _export_with_torch(model_dir: Path) -> None:
    """Export a model's missing scoring graph where PyTorch is; else the graph is an error
    :meth:`OnnxStreamScorer.open` reports."""
    try:
        from convlstm_ae.release import export_scoring_graph
    except ImportError:
        return
    export_scoring_graph(model_dir)
