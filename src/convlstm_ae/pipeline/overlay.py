"""``score --overlay``: a scored video drawn with its error heat map and score curve.

The scores and alarms are the score table's (the model's window scheme); the per-pixel
error maps come from the live scoring step (memory reset every T'), the one ``watch``
draws, since the offline schemes keep only per-frame errors.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from convlstm_ae.config import default_patch_size
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.watch import model_scoring
from convlstm_ae.viz.overlay import CURVE_FRAMES, OVERLAY_FPS, OverlayVideo, draw_overlay, upscale


def write_score_overlay(model_dir: Path, frames: np.ndarray, columns: dict[str, np.ndarray],
                        path: Path, device: str | None = None) -> Path:
    """Draw one scored video (uint8 frames (N, S, S) and its score-table columns).

    Raises:
        ConfigError: the model has no calibration (no fixed colour scale, no score).
    """
    scoring = model_scoring(model_dir, live=False)  # scores: the table's
    if scoring.heat_limit is None or "calibrated_error" not in columns:
        raise ConfigError(f"{model_dir}: --overlay needs the model's calibration "
                          "(convlstm-ae calibrate MODEL NORMAL_FOOTAGE)")
    engine = open_engine(model_dir, 1, device=device, maps=True)
    patch = scoring.patch_size or default_patch_size(engine.frame_size)
    curve: deque[float] = deque(maxlen=CURVE_FRAMES)
    with OverlayVideo(path, OVERLAY_FPS) as video:
        for index, frame in enumerate(frames):
            error_map = engine(frame[None]).maps[0]
            curve.append(float(columns["calibrated_error"][index]))
            video.write(draw_overlay(upscale(frame), error_map, limit=scoring.heat_limit,
                                     patch_size=patch, scores=curve,
                                     threshold=scoring.threshold,
                                     alarm=bool(columns["alarm"][index]),
                                     label=f"frame {index}"))
    return path
