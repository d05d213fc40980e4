"""Overlay frames: heat map on a fixed calibrated scale, score strip, alarm border, video."""

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.viz.overlay import (
    CURVE_HEIGHT,
    OverlayVideo,
    draw_overlay,
    heat_limit,
    heat_map,
)


def test_heat_limit_is_the_most_lenient_patch_alarm_level():
    assert heat_limit([1.0, 2.0], [0.5, 0.1], threshold=3.0) == pytest.approx(2.5)
    with pytest.raises(ConfigError, match="colour scale"):
        heat_limit([0.0], [0.0], threshold=0.0)


def test_heat_map_scale_is_fixed_by_the_limit_not_by_the_frame():
    quiet = np.full((16, 16), 0.1, np.float32)
    loud = np.full((16, 16), 0.1, np.float32)
    loud[4:8, 4:8] = 10.0  # far above the limit: saturates
    _, alpha_quiet = heat_map(quiet, 3, limit=1.0, size=(32, 32))
    _, alpha_loud = heat_map(loud, 3, limit=1.0, size=(32, 32))
    # the quiet map stays faint (its own maximum is not stretched to full colour)
    assert alpha_quiet.max() == pytest.approx(0.1 * 0.65, rel=1e-3)
    assert alpha_loud.max() == pytest.approx(0.65)
    assert alpha_loud[12, 12] > alpha_loud[28, 28]  # hot where the error is


def test_overlay_frame_has_the_strip_and_a_red_border_only_in_alarm():
    frame = np.full((48, 64), 128, np.uint8)
    error = np.zeros((16, 16), np.float32)
    kwargs = dict(limit=1.0, patch_size=3, scores=[0.0, 1.0, 5.0], threshold=2.0)
    calm = draw_overlay(frame, error, alarm=False, **kwargs)
    alarm = draw_overlay(frame, error, alarm=True, **kwargs)
    assert calm.shape == (48 + CURVE_HEIGHT, 64, 3) and calm.dtype == np.uint8
    border = alarm[47, 30]  # bottom edge of the frame, away from the text
    assert border[2] > 200 and border[0] < 80  # red in BGR
    assert tuple(calm[47, 30]) == (128, 128, 128)
    assert (calm[48:] != 24).any()  # the curve or the threshold is drawn


def test_overlay_video_is_written_and_readable(tmp_path):
    from convlstm_ae.data.video_io import read_frames

    path = tmp_path / "overlay.avi"
    with OverlayVideo(path, fps=10) as video:
        for i in range(5):
            image = draw_overlay(np.full((48, 64), 40 * i, np.uint8),
                                 np.zeros((16, 16), np.float32), limit=1.0, patch_size=3,
                                 scores=[float(i)], threshold=2.0, alarm=i > 2)
            video.write(image)
    assert read_frames(path, 32).shape[0] == 5
    with pytest.raises(ConfigError, match=r"\.mp4 or \.avi"):
        OverlayVideo(tmp_path / "x.gif", fps=10)
