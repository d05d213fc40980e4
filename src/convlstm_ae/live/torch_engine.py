"""The PyTorch backend of the live engine: a :class:`StreamScorer` behind :class:`Engine`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from convlstm_ae.live.engine import EngineOutput, check_frames
from convlstm_ae.pipeline.score import check_device
from convlstm_ae.release import load_model
from convlstm_ae.release_files import load_scoring_config
from convlstm_ae.scoring.stream import StreamScorer


class TorchEngine:
    """Live scoring on the CPU or a CUDA device (fast path and CUDA graph there).

    Args:
        scorer: the stream scorer holding the model, T', patch size and memory.
    """

    def __init__(self, scorer: StreamScorer) -> None:
        self.scorer = scorer
        self.streams = scorer.streams
        self.frame_size = scorer.frame_shape[-1]
        self.t_prime = scorer.t_prime

    @classmethod
    def open(cls, model_dir: Path, streams: int, *, device: str | None = None,
             maps: bool = False, threads: int | None = None) -> TorchEngine:
        """The released model in ``model_dir`` with its stored T' and patch size."""
        device = check_device(device) if device else ("cuda" if torch.cuda.is_available()
                                                      else "cpu")
        if threads:
            torch.set_num_threads(threads)
        scoring = load_scoring_config(model_dir)
        model = load_model(model_dir, device)
        return cls(StreamScorer(model, streams, t_prime=scoring.t_prime,
                                patch_size=scoring.patch_size, maps=maps))

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the memory of the given streams (all by default)."""
        self.scorer.reset(streams)

    def __call__(self, frames: np.ndarray) -> EngineOutput:
        """Score uint8 gray frames (B, S, S), one per stream."""
        errors = self.scorer(check_frames(frames, self.streams, self.frame_size))
        maps = self.scorer.maps.numpy() if self.scorer.keep_maps else None
        return EngineOutput(errors.current.numpy(), errors.previous.numpy(),
                            errors.patch.numpy(), errors.history.numpy(), maps)
