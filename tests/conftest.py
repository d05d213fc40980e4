"""Fixtures shared by the test suite.

Plain helpers that module-level code needs (random frames, writers of frame folders, MJPG
videos and IDX files) live in ``tests/media.py``: ``tests/`` has no ``__init__.py``, so
pytest's default import mode puts it on ``sys.path`` and test modules ``import media``.
"""

import signal
from collections.abc import Iterator, Sequence

import numpy as np
import pytest


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


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in this test, as in a terminal, also where the suite
    was started in the background (``make test &``), where Python inherits SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
