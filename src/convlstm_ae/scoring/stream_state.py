"""The state of B live streams, the one memory clock of every streaming backend.

Each stream keeps the ConvLSTM's (h, c), its last normalised frame and how many of its
frames the memory has seen; the memory is forgotten every T' frames (Sec. 3.3) or when
a stream restarts. A stream left out of a step (``scored`` False) keeps its memory and
clock as they were, so a stream may skip steps without restarting. The PyTorch step
(:class:`~convlstm_ae.scoring.stream.StreamScorer`, CPU, CUDA or CUDA graph) and the ONNX
Runtime step
(:class:`~convlstm_ae.export.onnx_stream.OnnxStreamScorer`) both hold one of these, so
the clock is written once. Torch-free: the buffers are the backend's arrays.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from convlstm_ae.errors import ConfigError
from convlstm_ae.rows import grown


class StreamState:
    """Memory of ``streams`` streams, reset every ``t_prime`` frames (None: never).

    ``h``, ``c`` and ``last`` are (B, ...) buffers of the backend (tensors on the device,
    or numpy arrays), set by :meth:`store`; None until the first frame.
    """

    def __init__(self, streams: int, t_prime: int | None) -> None:
        if streams < 1:
            raise ConfigError(f"streams must be positive, got {streams}")
        if t_prime is not None and t_prime < 1:
            raise ConfigError(f"t_prime must be a positive number of frames or None, got {t_prime}")
        self.streams = streams
        self.t_prime = t_prime
        self.position = np.zeros(streams, dtype=np.int64)  # frames seen since each reset
        self.h: Any = None
        self.c: Any = None
        self.last: Any = None

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the memory of the given streams (all by default), e.g. a new camera."""
        self.position[slice(None) if streams is None else list(streams)] = 0

    def add_streams(self, count: int) -> None:
        """``count`` more streams, after the others, their memory fresh; the backend grows
        ``h``, ``c`` and ``last``."""
        self.streams += count
        self.position = grown(self.position, count, 0)

    def keep(self) -> np.ndarray:
        """(B,) float32: 0 for a stream whose memory starts at this frame, else 1."""
        return (self.position > 0).astype(np.float32)

    def store(self, h: Any, c: Any, last: Any, scored: Any = None) -> None:
        """Write the next state into the buffers (in place, so a captured graph sees it);
        where ``scored`` ((B, 1, 1, 1) of 1s and 0s, a backend array) is 0, the stream's
        buffers keep their values."""
        for buffer, new in ((self.h, h), (self.c, c), (self.last, last)):
            buffer[...] = new if scored is None else new * scored + buffer * (1 - scored)

    def tick(self, scored: np.ndarray | None = None) -> np.ndarray:
        """The frames of memory this frame had, (B,); then the clock of the ``scored``
        streams (B,) bool (all by default) moves on one frame."""
        history = self.position.copy()
        self.position += 1 if scored is None else scored
        if self.t_prime is not None:
            self.position %= self.t_prime
        return history


IN_FLIGHT = 2  # steps launched and not yet collected, at most: a step on the device
# while the caller reads the one before


class StreamBackend:
    """What every streaming backend shares: its :class:`StreamState` (``self.state``), the
    stream count, T' and resets read from it, and a step as :meth:`launch` then
    :meth:`collect`. A backend's ``_launch`` starts one step and returns a callable that
    finishes it, its results in step order."""

    state: StreamState
    _launched: deque

    def launch(self, frames: Any, scored: np.ndarray | None = None) -> None:
        """Start scoring one frame of every stream; :meth:`collect` gives its errors. Up to
        :data:`IN_FLIGHT` steps may be launched before the first is collected, so the caller
        can read one step's results while the device runs the next.

        Args:
            frames: uint8 (B, S, S) gray frames at the model's frame size, one per stream.
            scored: (B,) bool, the streams this step scores (all by default); the others
                keep their memory and clock, and their results are to be discarded.
        """
        if len(self._launched) >= IN_FLIGHT:
            raise RuntimeError(f"{IN_FLIGHT} steps launched and none collected")
        self._launched.append(self._launch(frames, scored))

    def _check_idle(self) -> None:
        """No step launched and not collected (before the streams change)."""
        if self._launched:
            raise RuntimeError("collect the steps launched before adding streams")

    def collect(self) -> Any:
        """The errors of the oldest step launched and not yet collected."""
        return self._launched.popleft()()

    def __call__(self, frames: Any, scored: np.ndarray | None = None) -> Any:
        """Score one frame of every stream: :meth:`launch`, then :meth:`collect`."""
        self.launch(frames, scored)
        return self.collect()

    @property
    def streams(self) -> int:
        return self.state.streams

    @property
    def t_prime(self) -> int | None:
        return self.state.t_prime

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Forget the memory of the given streams (all by default), e.g. a new camera."""
        self.state.reset(streams)


def check_frames(frames: Any, streams: int, frame_size: int) -> np.ndarray:
    """``frames`` as a uint8 (B, S, S) array, one gray frame per stream.

    Raises:
        ConfigError: another shape or dtype.
    """
    frames = np.asarray(frames)
    if frames.ndim == 4 and frames.shape[1] == 1:
        frames = frames[:, 0]
    expected = (streams, frame_size, frame_size)
    if frames.shape != expected:
        raise ConfigError(f"expected frames of shape {expected}, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ConfigError(f"expected uint8 frames, got {frames.dtype}")
    return frames
