"""Overlay video: each frame with its per-pixel Eq. (3) error as a heat map, the score
as a running curve under it, and a red frame while an event is open.

The heat map's colour scale is fixed by the deployment calibration, so that a colour
means the same error in every video of a camera: a pixel is coloured by the mean error
of the patch around it (the patch score's pooling), and full red is the level at which
the patch score would alarm (:func:`heat_limit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.errors import ConfigError, VideoReadError

CURVE_HEIGHT = 48  # pixels of the score strip under the frame
MAX_ALPHA = 0.65  # opacity of the heat map where the error reaches the limit
ALARM_BGR = (40, 40, 230)
CURVE_BGR = (80, 220, 255)
THRESHOLD_BGR = (160, 160, 160)
DISPLAY_SIDE = 320  # model-size frames are shown at least this large
OVERLAY_FPS = 25.0
CURVE_FRAMES = 200  # scores shown in the overlay's running curve
MASK_DIM = 0.4  # a masked (ignored) region is shown this bright, hatched
MASK_BGR = (150, 150, 150)  # colour of its hatching
HATCH = 8  # pixels between hatch lines


def heat_limit(patch_mean: Sequence[float], patch_std: Sequence[float], threshold: float
               ) -> float:
    """The patch error that the patch calibration calls an alarm, at its most lenient
    window position: the top of the colour scale."""
    limit = float(np.max(np.asarray(patch_mean) + threshold * np.asarray(patch_std)))
    if not np.isfinite(limit) or limit <= 0:
        raise ConfigError(f"calibration gives no usable colour scale (limit {limit})")
    return limit


def heat_map(error_map: np.ndarray, patch_size: int, limit: float, size: tuple[int, int]
             ) -> tuple[np.ndarray, np.ndarray]:
    """BGR heat colours and their opacity (H, W) for an (S, S) Eq. 3 error map.

    Each pixel takes the mean error of the ``patch_size`` square around it, divided by
    ``limit`` and clipped to [0, 1]; the map is resized to ``size`` = (width, height).
    """
    pooled = cv2.blur(np.asarray(error_map, np.float32), (patch_size, patch_size))
    level = np.clip(pooled / limit, 0.0, 1.0)
    level = cv2.resize(level, size, interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return colours, level * MAX_ALPHA


def draw_overlay(frame: np.ndarray, error_map: np.ndarray, *, limit: float, patch_size: int,
                 scores: Sequence[float], threshold: float, alarm: bool, label: str = "",
                 mask: np.ndarray | None = None) -> np.ndarray:
    """One overlay frame, BGR uint8 (H + CURVE_HEIGHT, W, 3).

    Args:
        frame: the frame as shown, gray (H, W) or BGR (H, W, 3) uint8, any size.
        error_map: its per-pixel Eq. 3 error at the model's size (S, S).
        limit: top of the colour scale (:func:`heat_limit`).
        patch_size: side of the patch score's pooling, at the model's size.
        scores: the recent calibrated scores, oldest first; the last is this frame's.
        threshold: the alarm threshold of the calibrated score.
        alarm: an event is open: the frame gets a red border.
        label: text drawn in the top-left corner (e.g. the source and the time).
        mask: the regions the score ignores, any (h, w) bool grid over the frame (a
            camera's masked cells): dimmed and hatched.
    """
    image = heat_frame(frame, error_map, limit=limit, patch_size=patch_size, alarm=alarm,
                       mask=mask)
    width = image.shape[1]
    text = f"{label}  score {scores[-1]:.2f}" if scores else label
    cv2.putText(image, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.vstack([image, _score_strip(scores, threshold, width, alarm)])


def heat_frame(frame: np.ndarray, error_map: np.ndarray | None, *, limit: float | None,
               patch_size: int, alarm: bool, mask: np.ndarray | None = None) -> np.ndarray:
    """The frame with its heat map blended in (:func:`heat_map`), BGR uint8 (H, W, 3), the
    ignored regions of ``mask`` (see :func:`draw_overlay`) dimmed and hatched, and a red
    border while an event is open: the picture of :func:`draw_overlay` without its label
    and score strip. No map or no ``limit``: the frame as it is."""
    image = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame.copy()
    height, width = image.shape[:2]
    if error_map is not None and limit is not None:
        colours, alpha = heat_map(error_map, patch_size, limit, (width, height))
        alpha = alpha[..., None]
        image = (image * (1 - alpha) + colours * alpha).astype(np.uint8)
    if mask is not None and mask.any():
        shown = cv2.resize(mask.astype(np.uint8), (width, height),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
        image[shown] = (image[shown] * MASK_DIM).astype(np.uint8)
        rows, columns = np.indices((height, width))
        image[shown & ((rows + columns) % HATCH == 0)] = MASK_BGR
    if alarm:
        cv2.rectangle(image, (0, 0), (width - 1, height - 1), ALARM_BGR, max(2, width // 80))
    return image


def upscale(frame: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """A small (model-size) frame enlarged so its shorter side is at least ``side``."""
    height, width = frame.shape[:2]
    factor = side / min(height, width)
    if factor <= 1:
        return frame
    return cv2.resize(frame, (round(width * factor), round(height * factor)),
                      interpolation=cv2.INTER_LINEAR)


def _score_strip(scores: Sequence[float], threshold: float, width: int, alarm: bool
                 ) -> np.ndarray:
    """The running score curve, its threshold dashed, on a dark strip ``width`` wide."""
    strip = np.full((CURVE_HEIGHT, width, 3), 24, np.uint8)
    values = np.asarray(scores, float)[-width:]
    top = max(2 * threshold, float(np.nanmax(values)) if values.size else 0.0, 1e-6)
    bottom = min(0.0, float(np.nanmin(values)) if values.size else 0.0)

    def row(value: float) -> int:
        return int(round((CURVE_HEIGHT - 3) * (top - value) / (top - bottom))) + 1

    y = row(threshold)
    for x in range(0, width, 8):
        cv2.line(strip, (x, y), (min(x + 3, width - 1), y), THRESHOLD_BGR, 1)
    if values.size > 1:
        xs = np.linspace(0, width - 1, len(values)) if len(values) < width else np.arange(width)
        points = np.stack([xs, [row(v) for v in np.nan_to_num(values)]], axis=1)
        cv2.polylines(strip, [points.astype(np.int32)], False,
                      ALARM_BGR if alarm else CURVE_BGR, 1, cv2.LINE_AA)
    return strip


def overlay_path(path: Path, name: str, several: bool) -> Path:
    """Where one video's overlay goes: ``path`` itself, or with several videos (sources
    or files of a folder) ``path``'s stem with ``name`` added, as a safe file name."""
    if not several:
        return path
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return path.with_name(f"{path.stem}-{safe}{path.suffix}")


def check_overlay_path(path: Path) -> Path:
    """``path`` if OpenCV can write an overlay video there by its suffix.

    Raises:
        ConfigError: not ``.mp4`` or ``.avi``.
    """
    if path.suffix.lower() not in (".mp4", ".avi"):
        raise ConfigError(f"{path}: the overlay video must end in .mp4 or .avi")
    return path


class OverlayVideo:
    """An overlay video file written frame by frame (OpenCV's writer; ``.mp4`` or
    ``.avi``), opened on the first frame, when its size is known."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = check_overlay_path(Path(path))
        self.fps = fps if fps and fps > 0 else 25.0
        self._writer: cv2.VideoWriter | None = None

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            codec = "mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"
            height, width = image.shape[:2]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec),
                                           self.fps, (width, height))
            if not self._writer.isOpened():
                raise VideoReadError(f"{self.path}: OpenCV cannot write a video here")
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> OverlayVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
