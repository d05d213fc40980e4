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
aggregates the cells (:class:`~convlstm_ae.scoring.located.LocatedScorer`). A mask
needs the located score: on a model with a whole-frame score only it is an error naming
the camera (the whole-frame error is summed inside the engine, before any mask).

Cameras are scored by their own model where they name one: one engine per distinct
model (:meth:`CamerasConfig.by_model`), every model at one frame size.

On SIGHUP, :class:`Reloader` reads the file again: changed thresholds, event rules and
masks apply to their running cameras from their next frame, the others untouched; a
camera deleted from the file is stopped, its open event closed; a camera added to it is
started with a fresh memory (in the engine slot of a removed camera of its model, else
its model's engine grown by one stream, or its model opened if no camera runs it yet),
the others' memory untouched. A camera whose source or model
changed (its own, or the file's that it uses) is both: stopped, then started again under
its name. A camera that does not start (its source or model does not open, another
frame size) is one error line, and the others run on. Changed outputs need a restart:
one warning line says so, and the rest of the file still applies. A file that does not
load keeps the running configuration and logs one error line.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from convlstm_ae.config import config_from_dict, is_whole, read_mapping, typed_values
from convlstm_ae.data.video_io import is_video, read_header
from convlstm_ae.errors import ConfigError, ConvLSTMAEError
from convlstm_ae.live.events import MIN_FRAMES, RELEASE_FRAMES, RELEASE_MARGIN, EventRules
from convlstm_ae.scoring.located import HOW_TO_FIT, LocatedCalibration

if TYPE_CHECKING:
    from convlstm_ae.live.models import Opener
    from convlstm_ae.live.watch import Watch

log = logging.getLogger(__name__)
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

    def model_of(self, camera: Camera) -> Path:
        """The model folder ``camera`` is scored with."""
        return camera.model or self.model

    def by_model(self) -> dict[Path, list[int]]:
        """The cameras' numbers by the model they are scored with, models in the order
        of their first camera: one engine each."""
        groups: dict[Path, list[int]] = {}
        for number, camera in enumerate(self.cameras):
            groups.setdefault(self.model_of(camera), []).append(number)
        return groups


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



def camera_masks(path: Path, cameras: Sequence[Camera], frame_size: int,
                 located: Sequence[LocatedCalibration | None]) -> list[np.ndarray | None]:
    """Each camera's masked cells (:func:`cell_mask`) on the grid of its model's located
    score (``located``, one per camera).

    Raises:
        ConfigError: ``PATH: camera 'NAME': ...``: a mask on a model without the located
            live score, a point outside the frame, no frame size.
    """
    masks = []
    for camera, calibration in zip(cameras, located, strict=True):
        if camera.mask and calibration is None:
            raise ConfigError(f"{path}: camera {camera.name!r}: a mask needs its model's "
                              f"located live score ({HOW_TO_FIT}); its model has a "
                              "whole-frame score only")
        try:
            masks.append(None if calibration is None else cell_mask(
                camera, frame_size, calibration.cell_size, calibration.statistics.mean.shape))
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    return masks


def _restart_needs(running: CamerasConfig, new: CamerasConfig) -> list[str]:
    """The outputs ``new`` changes: only a restart applies them."""
    return [key for key in (f.name for f in fields(CamerasConfig))
            if key not in ("cameras", "model") and getattr(new, key) != getattr(running, key)]


class Reloader:
    """Re-reads a cameras file when asked (:meth:`request`, e.g. from a SIGHUP handler)
    and hands the watch the changed rules and masks of the running cameras, the cameras
    removed and the cameras added (a camera whose source or model changed is removed,
    then added), in a thread of its own so a slow file read, or an added camera's model
    and source opening, never holds up a step.

    Args:
        path: the cameras file.
        running: the configuration the watch was opened with.
        watch: its streams are ``running``'s cameras, in order; each camera's model
            gives its calibrated threshold (where it sets none) and located calibration
            (masks need it).
        opener: how the watch opened its sources and engines: an added camera's are
            opened the same way.
    """

    def __init__(self, path: Path, running: CamerasConfig, watch: Watch, opener: Opener
                 ) -> None:
        self.path, self.watch, self.opener = path, watch, opener
        self.streams = {camera.name: k for k, camera in enumerate(running.cameras)}
        self.cameras = {camera.name: camera for camera in running.cameras}  # as applied
        # each model's engine and scoring: an added camera of a running model joins it
        self.models = {running.model_of(camera): (watch.engine_of(k), watch.scoring_of(k))
                       for k, camera in enumerate(running.cameras)}
        self.applied = running  # the file as last applied
        self.masks = dict(zip(self.streams, camera_masks(
            path, running.cameras, watch.frame_size,
            [watch.scoring_of(k).located for k in self.streams.values()]), strict=True))
        self.reloads = 0  # files read, applied or not
        self._wanted, self._stopped = threading.Event(), False
        self._thread = threading.Thread(target=self._run, name="cameras reload", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Read the file again soon (safe in a signal handler: it only sets an event)."""
        self._wanted.set()

    def stop(self) -> None:
        self._stopped = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopped:
                return
            self.reload()

    def reload(self) -> None:
        """Read the file and apply what changed: rules and masks of the running cameras,
        cameras removed and added (and those of another source or model, removed and
        added again); log one line per change, one error line for a file that does not
        load (the old one runs on) or a camera that does not start (the others run on)."""
        self.reloads += 1
        try:
            new = read_cameras(self.path)
            moved = {c.name: " and ".join(keys) for c in new.cameras if c.name in self.streams
                     if (keys := [k for k in ("source", "model") if self._changed(new, c, k)])}
            running = [c for c in new.cameras if c.name in self.streams and c.name not in moved]
            masks = camera_masks(self.path, running, self.watch.frame_size,
                                 [self.watch.scoring_of(self.streams[c.name]).located
                                  for c in running])
        except ConfigError as error:
            log.error("%s; the running cameras keep their configuration", error)
            return
        for name in sorted(set(self.streams) - {c.name for c in new.cameras}):
            self._remove(name, "removed")
        for name, keys in sorted(moved.items()):  # added again below, as a new camera
            self._remove(name, f"replaced (its {keys} changed)")
        needs = _restart_needs(self.applied, new)
        if needs:
            log.warning("%s: %s: a restart applies that (the rest of the file is applied "
                        "now)", self.path, ", ".join(needs))
        for camera, mask in zip(running, masks, strict=True):
            stream, before = self.streams[camera.name], self.cameras[camera.name]
            threshold = self.watch.scoring_of(stream).threshold
            rules = camera.rules(threshold)
            self.cameras[camera.name] = camera
            if before.rules(threshold) == rules and _same(mask, self.masks[camera.name]):
                continue
            self.masks[camera.name] = mask
            self.watch.update_camera(stream, rules, mask)
            log.info("%s: camera %r now: threshold %.3g, release margin %g, release frames "
                     "%d, min frames %d, %d masked cell(s)", self.path, camera.name,
                     rules.threshold, rules.release_margin, rules.release_frames,
                     rules.min_frames, 0 if mask is None else int(mask.sum()))
        for camera in new.cameras:
            if camera.name not in self.streams:
                self._add(new, camera)
        self.applied = new

    def _changed(self, new: CamerasConfig, camera: Camera, key: str) -> bool:
        """Whether running ``camera``'s ``key`` (source or model) is another in ``new``."""
        before = self.cameras[camera.name]
        if key == "source":
            return camera.source != before.source
        return new.model_of(camera) != self.applied.model_of(before)

    def _remove(self, name: str, why: str) -> None:
        """Stop camera ``name``: its source, its open event and clip closed; ``why``
        for the log line."""
        self.watch.remove_camera(self.streams.pop(name))
        del self.cameras[name], self.masks[name]
        log.info("%s: camera %r %s: its source stopped, its open event closed", self.path,
                 name, why)

    def _add(self, config: CamerasConfig, camera: Camera) -> None:
        """Start ``camera`` of ``config``: its source and its model (a running one, else
        opened now); one error line if either does not open or fit."""
        size, model = self.watch.frame_size, config.model_of(camera)
        try:
            try:
                source = self.opener.source(camera.argument, size, model)
                engine, scoring = self.models.get(model) or self.opener.model(
                    model, 1, camera.threshold, size)
                self.models[model] = engine, scoring
            except ConvLSTMAEError as error:
                raise ConfigError(f"{self.path}: camera {camera.name!r}: {error}") from None
            (mask,) = camera_masks(self.path, [camera], size, [scoring.located])
            rules = camera.rules(scoring.threshold)
            try:
                stream = self.watch.add_camera(source, engine, scoring, rules, mask)
            except ConfigError as error:
                raise ConfigError(f"{self.path}: camera {camera.name!r}: {error}") from None
        except ConfigError as error:
            log.error("%s; not added, the other cameras run on", error)
            return
        self.streams[camera.name], self.cameras[camera.name] = stream, camera
        self.masks[camera.name] = mask
        log.info("%s: camera %r added: threshold %.3g, model %s", self.path, camera.name,
                 rules.threshold, model)


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None
                                         and np.array_equal(a, b))
