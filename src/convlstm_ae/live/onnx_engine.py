"""The ONNX Runtime backend of the live engine, without PyTorch.

It runs the scoring graph of :func:`convlstm_ae.export.onnx.export_score_graph` (the
traced step of :class:`~convlstm_ae.scoring.stream.StreamScorer`, Eq. 3 included), once
per stream and frame, and keeps each stream's (h, c), last normalised frame and memory
clock here. Everything it reads is ``config.json`` and the ``.onnx`` file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convlstm_ae.errors import CheckpointError
from convlstm_ae.export.paths import ONNX_SCORE, onnx_path
from convlstm_ae.export.session import open_session
from convlstm_ae.live.engine import EngineOutput, check_frames
from convlstm_ae.release_files import load_model_config, load_scoring_config


def score_graph(model_dir: Path) -> Path:
    """The scoring graph of a released model, exported first if PyTorch is here.

    Raises:
        CheckpointError: no graph and no PyTorch to export one.
    """
    path = onnx_path(model_dir, ONNX_SCORE)
    if path.is_file():
        return path
    try:
        from convlstm_ae.export.onnx import export_score_graph
        from convlstm_ae.release import load_model
    except ImportError:
        raise CheckpointError(f"{path}: not found, and no PyTorch here to export it; run "
                              f"'convlstm-ae export {model_dir}' where PyTorch is") from None
    return export_score_graph(load_model(model_dir), path,
                              load_scoring_config(model_dir).patch_size)


class OnnxEngine:
    """Live scoring under ONNX Runtime on the CPU, one stream at a time.

    Args:
        session: an ONNX Runtime session of the scoring graph.
        streams: B, the number of streams.
        t_prime: T', frames between memory resets of a stream; None never resets.
        maps: also return each frame's per-pixel error map.
    """

    def __init__(self, session, streams: int, t_prime: int | None, maps: bool = False) -> None:
        self.session = session
        inputs = {i.name: i.shape for i in session.get_inputs()}
        self.streams = streams
        self.frame_size = inputs["frame"][-1]
        self.t_prime = t_prime
        self.maps = maps
        self.h = np.zeros((streams, *inputs["h"][1:]), np.float32)
        self.c = np.zeros_like(self.h)
        self.last = np.zeros((streams, *inputs["last"][1:]), np.float32)
        self.position = np.zeros(streams, np.int64)  # frames seen since each reset

    @classmethod
    def open(cls, model_dir: Path, streams: int, *, maps: bool = False,
             threads: int | None = None) -> OnnxEngine:
        """The released model in ``model_dir`` with its stored T' (and patch size)."""
        load_model_config(model_dir)  # a model folder of ours, before any export
        t_prime = load_scoring_config(model_dir).t_prime
        return cls(open_session(score_graph(model_dir), threads), streams, t_prime, maps)

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the memory of the given streams (all by default)."""
        self.position[slice(None) if streams is None else list(streams)] = 0

    def __call__(self, frames: np.ndarray) -> EngineOutput:
        """Score uint8 gray frames (B, S, S), one per stream."""
        frames = check_frames(frames, self.streams, self.frame_size)
        keep = (self.position > 0).astype(np.float32)
        terms = np.zeros((3, self.streams), np.float32)
        maps = np.zeros(frames.shape, np.float32) if self.maps else None
        for i in range(self.streams):
            current, previous, patch, error_map, h, c, x = self.session.run(None, {
                "frame": frames[i, None, None], "last": self.last[i : i + 1],
                "keep": keep[i : i + 1], "h": self.h[i : i + 1], "c": self.c[i : i + 1]})
            terms[:, i] = current[0], previous[0], patch[0]
            self.h[i], self.c[i], self.last[i] = h[0], c[0], x[0]
            if maps is not None:
                maps[i] = error_map[0]
        history = self.position.copy()
        self.position += 1
        if self.t_prime is not None:
            self.position %= self.t_prime
        return EngineOutput(*terms, history, maps)
