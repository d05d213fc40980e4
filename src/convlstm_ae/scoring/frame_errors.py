"""The per-frame errors every scoring path returns; torch-free, so the light runtime
(ONNX Runtime, no PyTorch) returns the same record as offline and CUDA scoring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convlstm_ae.config import ERRORS
from convlstm_ae.errors import ConfigError


def apply_error(values: Any, error: str) -> Any:
    """Eq. 3 as the sum of its terms (``sum``) or their square root (``sqrt``, as the
    authors' released test code); ``values`` a tensor or an array. The one place the
    choice of ``ScoringConfig.error`` is applied."""
    if error not in ERRORS:
        raise ConfigError(f"error {error!r} is unknown; expected one of {', '.join(ERRORS)}")
    return values**0.5 if error == "sqrt" else values


@dataclass(frozen=True)
class FrameErrors:
    """Per-frame errors: (B, N) tensors offline, (B,) tensors or arrays for one live step.

    ``current`` and ``previous`` are the two terms of Eq. (3) summed over the frame;
    ``patch`` (beyond the paper) is the maximum over patches of the mean of their
    per-pixel sum; ``history`` counts the frames of memory each frame was scored with;
    ``cells`` (beyond the paper), when asked for, is the per-pixel Eq. 3 error averaged
    over square cells, (..., H / cell, W / cell): what the located live score reads.
    """

    current: Any  # ||I_t - I^R_{t,t}||^2
    previous: Any  # ||I_{t-1} - I^R_{t,t-1}||^2; 0 where the frame had no history
    patch: Any
    history: Any
    cells: Any = None

    @property
    def frame(self) -> Any:
        """Eq. (3): both terms, summed over the whole frame."""
        return self.current + self.previous

    def select(self, kind: str = "frame", error: str = "sum") -> Any:
        """The whole-frame (``frame``) or patch (``patch``) error under ``error``
        (see :func:`apply_error`)."""
        return apply_error({"frame": self.frame, "patch": self.patch}[kind], error)
