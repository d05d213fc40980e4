"""The cameras file of ``convlstm-ae watch --config cameras.yaml``: named sources, each
with its own event rules and mask, and the outputs, one-to-one onto :class:`CamerasConfig`
and :class:`Camera` (unknown keys and values of the wrong type are errors naming the
file and the key).

```yaml
model: models/ped2            # every camera's model, unless a camera names its own
out: watch-out
serve: 127.0.0.1:8080
cameras:
  - name: door
    source: rtsp://user:pass@10.0.0.5/stream1
    threshold: 4.0
    source_size: [1280, 720]   # the stream's frame size, which the mask's points are in
    mask:                      # regions to ignore: polygons of [x, y] points
      - [[900, 0], [1280, 0], [1280, 300], [900, 300]]
  - name: yard
    source: videos/yard.avi
```

Relative paths (``model``, ``out``, ``serve_token_file``, a file source) are taken from
the cameras file's folder, so a service finds them whatever its working directory.

A mask's points are pixels of the *source's* frame, (0, 0) its top-left corner and
(width, height) its bottom-right one, before the frame is resized to the model's square.
Its polygons are filled, scaled to the model's frame and read per cell of the located
live score: a cell is *masked* when more than half of its area lies inside the polygons
(:func:`cell_mask`); masked cells' unusualness reads 0 before the frame's score
aggregates the cells (:class:`~convlstm_ae.scoring.located.LocatedScorer`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.config import config_from_dict, is_whole, read_mapping, typed_values
from convlstm_ae.data.video_io import is_video, read_header
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.events import MIN_FRAMES, RELEASE_FRAMES, RELEASE_MARGIN, EventRules

CAMERA_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # a source label (live/sources.py)
RASTER = 4  # a model pixel is rasterized as RASTER x RASTER points: area fractions to 1/16


@dataclass(frozen=True)
class Camera:
    """One named source and its own event rules (live/events.py) and mask."""

    name: str  # letters, digits, '_', '-', '.': file names and MQTT topics use it
    source: str  # a video file, a folder of videos, a webcam index or a stream URL
    threshold: float | None = None  # None: the model's calibrated threshold
    release_margin: float = RELEASE_MARGIN  # release level: this fraction of |threshold| below
    release_frames: int = RELEASE_FRAMES  # quiet frames in a row that end an event
    min_frames: int = MIN_FRAMES  # alarmed frames a run needs to be an event
    model: Path | None = None  # a released model folder; None: the file's ``model``
    # regions to ignore: polygons of (x, y) points in the source frame's pixels
    mask: tuple[tuple[tuple[float, float], ...], ...] = ()
    # (width, height) of the source's frames, which the mask's points are in; None: read
    # from a video file's header (a camera or stream URL with a mask must give it)
    source_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not CAMERA_NAME.match(self.name):
            raise ConfigError(f"name {self.name!r} must be letters, digits, '_', '-' or '.'")
        if not self.source:
            raise ConfigError("source must not be empty")
        if self.source_size is not None and not all(
                is_whole(v) and 1 <= v <= 100_000 for v in self.source_size):
            raise ConfigError(f"source_size must be [width, height] in pixels, got "
                              f"{list(self.source_size)}")
        for polygon in self.mask:
            if len(polygon) < 3:
                raise ConfigError(f"a mask polygon needs 3 or more [x, y] points, got "
                                  f"{len(polygon)}")
            if not all(math.isfinite(v) for point in polygon for v in point):
                raise ConfigError("mask points must be finite numbers")
        self.rules(self.threshold if self.threshold is not None else 1.0)  # checks them

    def rules(self, threshold: float) -> EventRules:
        """The camera's event rules, ``threshold`` where it sets none."""
        return EventRules(threshold if self.threshold is None else self.threshold,
                          self.release_margin, self.release_frames, self.min_frames)

    @property
    def argument(self) -> str:
        """The camera as watch's SOURCE argument: ``NAME=SOURCE``."""
        return f"{self.name}={self.source}"


@dataclass(frozen=True)
class CamerasConfig:
    """A cameras file: the cameras and where their events go (the flags of the same
    names; see ``convlstm-ae watch --help``)."""

    cameras: tuple[Camera, ...]
    model: Path | None = None  # the cameras' model, where a camera names none
    out: Path = Path("watch-out")  # frames-NAME.csv, events.jsonl, snapshots/, clips/
    serve: str | None = None  # HOST:PORT of the live page
    serve_token_file: Path | None = None  # the page's token, needed beyond 127.0.0.1
    mqtt: str | None = None  # mqtt://[user:pass@]host[:port][/prefix]
    webhook: str | None = None  # POST each event record here
    on_event: str | None = None  # run this command with each event record on stdin
    clips: bool = False  # an MP4 per event
    pre_seconds: float = 5.0  # clips: seconds before the event's start
    post_seconds: float = 5.0  # clips: seconds after its end

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ConfigError("cameras must list one camera or more")
        names = [camera.name for camera in self.cameras]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError(f"camera name {twice[0]!r} is used twice")
        missing = [camera.name for camera in self.cameras if (camera.model or self.model) is None]
        if missing:
            raise ConfigError(f"camera {missing[0]!r} has no model: set 'model' at the top "
                              "or on the camera")
        models = {self.model_of(camera) for camera in self.cameras}
        if len(models) > 1:
            first, other = (next(c for c in self.cameras if self.model_of(c) == m)
                            for m in sorted(models)[:2])
            raise ConfigError(
                f"camera {other.name!r} uses model {self.model_of(other)} and camera "
                f"{first.name!r} {self.model_of(first)}: one watch runs one model (its "
                "cameras share one engine); run a watch per model, each with its own file")

    def model_of(self, camera: Camera) -> Path:
        """The model folder ``camera`` is scored with."""
        return camera.model or self.model

    @property
    def model_dir(self) -> Path:
        """The one model every camera is scored with."""
        return self.model_of(self.cameras[0])


def read_cameras(path: str | Path) -> CamerasConfig:
    """The cameras file at ``path``, its relative paths taken from its folder.

    Raises:
        ConfigError: one line naming the file (and the camera) and the key or value.
    """
    path = Path(path)
    values = read_mapping(path, "cameras")
    entries = values.get("cameras")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: 'cameras' must be a list of cameras (mappings with "
                          "'name' and 'source')")
    cameras = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}: camera {entry.get('name', number)!r}"
        camera = config_from_dict(Camera, typed_values(Camera, entry, where), where)
        cameras.append(replace(camera, model=_near(path, camera.model),
                               source=_near_source(path, camera.source)))
    top = typed_values(CamerasConfig, {k: v for k, v in values.items() if k != "cameras"},
                       str(path))
    for name in ("model", "out", "serve_token_file"):
        if top.get(name) is not None:
            top[name] = _near(path, top[name])
    if "out" not in top:
        top["out"] = _near(path, CamerasConfig.out)
    return config_from_dict(CamerasConfig, top | {"cameras": tuple(cameras)}, str(path))


def _near(path: Path, target: Path | None) -> Path | None:
    """``target`` relative to the cameras file's folder (absolute as it is)."""
    return None if target is None else path.parent / target.expanduser()


def _near_source(path: Path, source: str) -> str:
    """A file source relative to the cameras file's folder; URLs and webcams as they are."""
    if "://" in source or source.isdigit():
        return source
    return str(path.parent / Path(source).expanduser())


def source_size(camera: Camera) -> tuple[int, int]:
    """(width, height) of the camera's frames, which its mask's points are in.

    Raises:
        ConfigError: a camera or stream, or a source whose header gives no size, without
            ``source_size``.
    """
    if camera.source_size is not None:
        return camera.source_size
    target = Path(camera.source)
    header = read_header(target) if is_video(target) and target.is_file() else None
    if header is None or min(header.size) < 1:
        raise ConfigError(f"camera {camera.name!r}: its mask needs source_size: [width, "
                          "height], the size of the source's frames (its points are in them)")
    return header.size


def cell_mask(camera: Camera, frame_size: int, cell_size: int, grid: tuple[int, int]
              ) -> np.ndarray | None:
    """The cells of the located live score that ``camera``'s mask covers: (h, w) bool,
    a cell masked when more than half of its area lies inside the polygons; None
    without a mask.

    The polygons are in the source frame's pixels (:func:`source_size`); the frame is
    resized to the model's ``frame_size`` square, and the cells are ``cell_size`` squares
    of that from its top-left corner, ``grid`` = (h, w) of them.

    Raises:
        ConfigError: a point outside the source's frame, or no size to place them in.
    """
    if not camera.mask:
        return None
    width, height = source_size(camera)
    for polygon in camera.mask:
        for x, y in polygon:
            if not (0 <= x <= width and 0 <= y <= height):
                raise ConfigError(f"camera {camera.name!r}: mask point [{x:g}, {y:g}] lies "
                                  f"outside its {width}x{height} frame")
    side = frame_size * RASTER
    scale = np.array([side / width, side / height])
    canvas = np.zeros((side, side), np.uint8)
    shift = 4  # fillPoly's fixed point: sixteenths of a raster point
    points = [np.round(np.asarray(p, np.float64) * scale * 2**shift).astype(np.int32)
              for p in camera.mask]
    cv2.fillPoly(canvas, points, 1, lineType=cv2.LINE_8, shift=shift)
    h, w = grid
    block = cell_size * RASTER
    covered = canvas[:h * block, :w * block].reshape(h, block, w, block).mean(axis=(1, 3))
    return covered > 0.5

