"""``score --overlay``: a scored video drawn with the map of its live score and the score's
curve, from the one scoring pass.

The heat map is the located live score's map (how unusual each cell's error is for that
place, :mod:`convlstm_ae.scoring.located`): exactly what the score and its alarms are
made of, and what ``watch`` draws.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from convlstm_ae.errors import ConfigError
from convlstm_ae.pipeline.score import VideoScores
from convlstm_ae.scoring.located import LocatedCalibration
from convlstm_ae.viz.overlay import CURVE_FRAMES, OVERLAY_FPS, OverlayVideo, draw_overlay, upscale


def write_score_overlay(frames: np.ndarray, scores: VideoScores,
                        calibration: LocatedCalibration | None, path: Path) -> Path:
    """Draw one scored video (uint8 frames (N, S, S)) with its live-score maps and curve.

    Raises:
        ConfigError: the video was scored without a located calibration (no maps).
    """
    if calibration is None or scores.maps is None:
        raise ConfigError(f"{path}: --overlay needs the model's located calibration "
                          "(convlstm-ae calibrate MODEL NORMAL_FOOTAGE, two videos or more)")
    curve: deque[float] = deque(maxlen=CURVE_FRAMES)
    with OverlayVideo(path, OVERLAY_FPS) as video:
        for index, frame in enumerate(frames):
            curve.append(float(scores.columns["live_score"][index]))
            video.write(draw_overlay(upscale(frame), scores.maps[index],
                                     limit=calibration.heat_limit, patch_size=1, scores=curve,
                                     threshold=calibration.threshold,
                                     alarm=bool(scores.columns["live_alarm"][index]),
                                     label=f"frame {index}"))
    return path
