"""Fixtures shared by the test suite.

Plain helpers that module-level code needs (random frames, writers of frame folders, MJPG
videos and IDX files) live in ``tests/media.py``: ``tests/`` has no ``__init__.py``, so
pytest's default import mode puts it on ``sys.path`` and test modules ``import media``.
"""

import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from convlstm_ae.config import ScoringConfig
from convlstm_ae.model.presets import create_model
from convlstm_ae.release import save_model


class ArrayVideos:
    """A FrameSource over in-memory videos, each a uint8 (N, H, W) array."""

    def __init__(self, videos: Sequence[np.ndarray]) -> None:
        self.videos = list(videos)

    def __len__(self) -> int:
        return len(self.videos)

    def num_frames(self, video: int) -> int:
        return len(self.videos[video])

    def frames(self, video: int, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices)
        assert np.all((indices >= 0) & (indices < self.num_frames(video))), "index out of video"
        return self.videos[video][indices]


@pytest.fixture(scope="session")
def array_videos() -> type[ArrayVideos]:
    """Makes in-memory FrameSources: ``array_videos(videos)``, one (N, H, W) array each."""
    return ArrayVideos


def _release_tiny(folder: Path, t_prime: int | None = 10, patch_size: int | None = None,
                  **overrides) -> Path:
    torch.manual_seed(0)
    model = create_model("tiny", **overrides).eval()
    if model.config.normalization == "mean_frame":
        model.mean_frame.copy_(torch.rand_like(model.mean_frame) * 0.5)
    return save_model(model, folder, ScoringConfig(t_prime=t_prime, patch_size=patch_size))


@pytest.fixture(scope="session")
def release_tiny() -> Callable[..., Path]:
    """Releases an untrained tiny model (seed 0) into a folder and returns it:
    ``release_tiny(folder, t_prime=10, patch_size=None, **model_overrides)``; with
    ``normalization="mean_frame"`` its mean frame is random in [0, 0.5)."""
    return _release_tiny


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in this test, as in a terminal, also where the suite
    was started in the background (``make test &``), where Python inherits SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def few_normal_sequences(monkeypatch) -> None:
    """``experiment moving-mnist`` (no flag sets it) holds out 8 normal sequences, not 500:
    scoring those was most of a tiny run's time."""
    from convlstm_ae.experiments import moving_mnist

    @dataclass(frozen=True)
    class FewNormal(moving_mnist.MovingMNISTExperiment):
        num_normal: int = 8

    monkeypatch.setattr(moving_mnist, "MovingMNISTExperiment", FewNormal)
