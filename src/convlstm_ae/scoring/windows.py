"""Which memory windows score which frames of a test video (Sec. 3.3).

The paper makes the network "forget all history every T' frames" and repeats this
"for all clips from the whole testing video", without saying whether the clips
overlap. Three readings, each a :class:`WindowPlan`:

- ``reset`` (the paper's text, read literally): consecutive windows of T' frames,
  every frame scored in its own window. The first frame of a window has no history.
- ``sliding``: every frame t scored at the end of the window [t - T' + 1, t], so every
  frame from T' - 1 on has T' - 1 frames of history (T' times the work).
- ``overlap`` (the authors' released test code): windows of T' frames starting every
  T' - T'//2 frames, the memory reset at each start; only positions T'//2 .. T' - 1
  are scored, so every scored frame has at least T'//2 frames of history. The first
  T'//2 frames of a video take the errors of frames T'//2 .. 2(T'//2) - 1.

:func:`plan_promise` says how much history a scheme promises: Eq. 4's min and max are
taken over the frames that have it (see
:func:`convlstm_ae.scoring.regularity.regularity_score`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convlstm_ae.config import WINDOWS
from convlstm_ae.errors import ConfigError


@dataclass(frozen=True, eq=False)
class WindowPlan:
    """Memory runs over one video of ``num_frames`` frames.

    Window ``w`` runs frames ``starts[w] .. stops[w] - 1`` from a zero state and scores
    frames ``scored_from[w] .. stops[w] - 1``; frame ``t`` finally takes the errors of
    frame ``source[t]`` (itself, except under the authors' first-frame rule).
    """

    starts: np.ndarray
    stops: np.ndarray
    scored_from: np.ndarray
    source: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.source)


def plan_windows(num_frames: int, t_prime: int | None, scheme: str = "reset") -> WindowPlan:
    """The windows of ``scheme`` over a video of ``num_frames`` frames.

    Args:
        num_frames: N >= 1.
        t_prime: T', the window length; None is one window over the whole video
            (``reset`` only).
        scheme: one of :data:`convlstm_ae.config.WINDOWS`.
    """
    if scheme not in WINDOWS:
        raise ConfigError(f"windows {scheme!r} is unknown; expected one of {', '.join(WINDOWS)}")
    if num_frames < 1:
        raise ConfigError("a video needs at least one frame")
    if t_prime is None and scheme != "reset":
        raise ConfigError(f"{scheme} windows need a finite T' (t_prime), not the whole video")
    if t_prime is not None and t_prime < 1:
        raise ConfigError(f"t_prime must be a positive number of frames or None, got {t_prime}")
    n = num_frames
    frames = np.arange(n)
    if scheme == "reset":
        length = n if t_prime is None else t_prime
        starts = np.arange(0, n, length)
        return WindowPlan(starts, np.minimum(starts + length, n), starts, frames)
    if scheme == "sliding":
        starts = np.maximum(frames - t_prime + 1, 0)
        return WindowPlan(starts, frames + 1, frames, frames)
    length = min(t_prime, n)
    history = length // 2
    stride = t_prime - t_prime // 2 if n >= t_prime else length - history
    starts = np.arange(0, max(1, n - history), stride)
    source = frames.copy()
    source[:history] += history  # the first frames take the errors of the next ones
    return WindowPlan(starts, np.minimum(starts + length, n), starts + history, source)


def plan_promise(scheme: str, t_prime: int | None) -> int:
    """Frames of history ``scheme`` promises every frame of a video longer than T'."""
    if scheme == "reset" or t_prime is None:
        return 0
    return t_prime - 1 if scheme == "sliding" else t_prime // 2


def plan_minimum(scheme: str, t_prime: int | None) -> int:
    """Frames a video needs for two of them to have the history ``scheme`` promises
    (the first-frame rule's range for Eq. 4): ``sliding`` T' + 1, ``overlap`` T', else 2."""
    if scheme == "reset" or t_prime is None:
        return 2
    return t_prime + 1 if scheme == "sliding" else max(t_prime, 2)
