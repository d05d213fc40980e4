"""What several command groups of the console script share: argument checks, quiet Lightning."""

from __future__ import annotations

import logging
import math
import warnings

from convlstm_ae.errors import ConfigError


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (accelerator lines, tips) off the console."""
    import pytorch_lightning  # noqa: F401  (it sets its own log level on import)

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


def check_fps(fps: float | None) -> None:
    """Reject an ``--fps`` that is not positive and finite (None: not given)."""
    if fps is not None and not 0 < fps < math.inf:
        raise ConfigError(f"--fps must be positive and finite, got {fps}")


def check_rate(rate: float | None) -> None:
    """Reject a ``--rate`` (watch's, calibrate's) that is neither 0 nor positive and finite
    (None: not given)."""
    if rate is not None and not 0 <= rate < math.inf:
        raise ConfigError(f"--rate must be 0 (every frame) or a positive, finite number of "
                          f"frames per second, got {rate}")


def check_devices(devices: int) -> None:
    """Reject a ``--devices`` below 1."""
    if devices < 1:
        raise ConfigError(f"--devices must be at least 1, got {devices}")
