"""Synthetic anomalies inserted into normal video (beyond the paper).

The live score's design choices are validated on held-out normal videos with
these anomalies inserted, not on test labels; so every kind and parameter is
fixed here, before anyone looks at a test AUC. Sizes and speeds are quoted in
pixels of a :data:`REFERENCE_SIDE` = 240 px frame side (UCSD Ped2: 240x360, people
20-40 px tall walking at 1-3 px/frame) and scaled by ``min(H, W) / 240``; boxes
keep :data:`MIN_BOX_SIDE` px and speeds :data:`MIN_SPEED_SCALE` of Ped2's on tiny
frames (a 64x64 frame is scaled as is: people 5-11 px walking at 0.27-0.8 px/frame).
The kinds:

- ``fast``: a person cut from the video moves in a random direction at
  :data:`FAST_FACTOR` (3-5) times the typical walking speed. The cut is the
  person-sized box at the most foreground place of a random frame, but only its
  foreground pixels (those :data:`FOREGROUND_LEVEL` grey levels off the video's median
  background, grown by a pixel and with a soft edge) are pasted, as a person moved, not
  a rectangle of another place's background with sharp edges; a box with fewer than
  :data:`MIN_FOREGROUND` of its pixels in the foreground (a scene without people) is
  pasted whole.
- ``foreign``: a square high-contrast texture (checkerboard, stripes or binary
  noise; hard or soft edge), about a person high, moves in a random direction
  at walking speed.
- ``against``: a person cut as for ``fast`` moves at walking speed across the
  video's dominant axis of motion (vertically when people walk horizontally).
  The axis is the main eigenvector of the motion tensor sum(I_t^2 g g^T / |g|^2)
  over consecutive frame pairs, g the spatial gradient; a video without motion
  gives an arbitrary, deterministic axis.
- ``freeze``: the person-sized region that changes most during the anomaly stops
  updating: it shows its content of the first anomalous frame until ``stop``,
  then jumps back to the live video.

Moving boxes start at a random place and bounce off the frame edges, so each
lies wholly inside the frame. An anomaly lasts :data:`DURATION` frames (clipped
to the video) and starts at random after a warm-up of :data:`WARMUP_FRACTION`
of the video (at least :data:`MIN_WARMUP` frames), or where and for as long as the
caller says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from convlstm_ae.errors import ConfigError

KINDS = ("fast", "foreign", "against", "freeze")
REFERENCE_SIDE = 240  # px; the sizes and speeds below are px at this frame side (Ped2 height)
PERSON_HEIGHT = (20.0, 40.0)  # height of a person-sized box, drawn uniformly
PERSON_ASPECT = 0.5  # width / height of a person-sized box
WALK_SPEED = (1.0, 3.0)  # px/frame of the normal-speed kinds (foreign, against), drawn uniformly
TYPICAL_WALK = 2.0  # px/frame that FAST_FACTOR multiplies
FAST_FACTOR = (3.0, 5.0)  # fast speed / TYPICAL_WALK, drawn uniformly: 6-10 px/frame
MIN_BOX_SIDE = 4  # px at any frame size
MIN_SPEED_SCALE = 0.25  # speeds scale by max(min(H, W) / 240, this); 0.25 is a 60 px side
MIN_FRAME_SIDE = 16  # px; smaller frames are refused
DURATION = (15, 40)  # frames, both ends included, drawn uniformly, clipped to the video
WARMUP_FRACTION = 0.2  # default start: not before this fraction of the video...
MIN_WARMUP = 10  # ...nor before this frame
TEXTURES = ("checker", "stripes", "noise")  # foreign textures, drawn uniformly
TEXTURE_CELLS = 4  # checker cells or stripes across a foreign patch; noise cells are half
SOFT_EDGE = 0.25  # soft edge: alpha ramps over this fraction of the patch side
MOTION_PAIRS = 32  # frame pairs sampled for the background median and the dominant axis
FOREGROUND_LEVEL = 25  # grey levels off the median background: a cut person's pixels
MIN_FOREGROUND = 0.1  # a cut with less of its box in the foreground is pasted whole


@dataclass(frozen=True, eq=False)
class AnomalousVideo:
    """A normal video with one synthetic anomaly inserted.

    Attributes:
        frames: the video with the anomaly, (N, H, W) uint8.
        labels: True on anomalous frames, (N,) bool; equals ``masks.any(axis=(1, 2))``.
        masks: the anomaly's pixels, (N, H, W) bool: its footprint in its box (a cut
            person's silhouette, or the whole box); outside them ``frames`` is the input.
        kind: one of :data:`KINDS`.
        start: first anomalous frame.
        stop: one past the last anomalous frame.
        boxes: (top, left, height, width) of frames start..stop-1, (stop - start, 4) int.
    """

    frames: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    kind: str
    start: int
    stop: int
    boxes: np.ndarray


def insert_anomaly(
    frames: np.ndarray,
    kind: str,
    rng: np.random.Generator,
    start: int | None = None,
    length: int | None = None,
) -> AnomalousVideo:
    """Insert one synthetic anomaly of ``kind`` into a copy of ``frames``.

    Args:
        frames: a normal video, (N, H, W) uint8; not modified.
        kind: one of :data:`KINDS`.
        rng: the source of every random choice.
        start: first anomalous frame; ``None`` draws it after the warm-up.
        length: anomalous frames; ``None`` draws it from :data:`DURATION`.
    Returns:
        The video with the anomaly, its labels, masks and boxes.
    Raises:
        ConfigError: bad frames, unknown kind, or no room for the anomaly.
    """
    _check(frames, kind)
    n = len(frames)
    first = _warmup(n) if start is None else start
    if not 0 <= first < n:
        raise ConfigError(f"start {first} outside a video of {n} frames")
    room = n - first
    if length is None:
        if room < DURATION[0]:
            raise ConfigError(f"video of {n} frames too short: {kind} needs {DURATION[0]} "
                              f"frames from frame {first}")
        length = min(int(rng.integers(DURATION[0], DURATION[1] + 1)), room)
    elif not 1 <= length <= room:
        raise ConfigError(f"length {length} does not fit {room} frames from frame {first}")
    if start is None:
        start = int(rng.integers(first, n - length + 1))
    stop = start + length
    out = frames.copy()
    boxes, footprint = _INSERT[kind](frames, out, start, stop, rng)
    masks = np.zeros(frames.shape, bool)
    for t, (top, left, h, w) in zip(range(start, stop), boxes, strict=True):
        masks[t, top:top + h, left:left + w] = footprint
    return AnomalousVideo(out, masks.any(axis=(1, 2)), masks, kind, start, stop, boxes)


def synthetic_set(
    videos: Sequence[np.ndarray],
    seed: int,
    kinds: Sequence[str] = KINDS,
    from_first_frame: bool = False,
) -> list[AnomalousVideo]:
    """One anomalous copy of each video for each kind.

    Args:
        videos: normal videos, each (N, H, W) uint8; not modified.
        seed: fixes every copy; copy (video i, kind k) is the same whichever
            other videos and kinds are asked for.
        kinds: kinds to insert, from :data:`KINDS`.
        from_first_frame: every anomaly present from frame 0 to the last frame, instead
            of :data:`DURATION` frames after the warm-up: the hard case for a score
            that adapts to its stream, which must not learn the anomaly as normal.
    Returns:
        Copies ordered video by video, kind by kind.
    Raises:
        ConfigError: as :func:`insert_anomaly`.
    """
    for kind in kinds:
        _check_kind(kind)
    return [insert_anomaly(video, kind, np.random.default_rng([seed, i, KINDS.index(kind)]),
                           start=0 if from_first_frame else None,
                           length=len(video) if from_first_frame else None)
            for i, video in enumerate(videos) for kind in kinds]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown anomaly kind {kind!r}; expected one of {', '.join(KINDS)}")


def _check(frames: np.ndarray, kind: str) -> None:
    _check_kind(kind)
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 3:
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames)
        raise ConfigError(f"frames are {got}; expected a uint8 (N, H, W) array")
    if min(frames.shape[1:]) < MIN_FRAME_SIDE:
        raise ConfigError(f"frames of {frames.shape[1:]} px; expected sides of at least "
                          f"{MIN_FRAME_SIDE}")


def _warmup(n: int) -> int:
    return max(MIN_WARMUP, round(WARMUP_FRACTION * n))


def _px(frames: np.ndarray, reference_px: float) -> float:
    """``reference_px`` pixels at the reference side, in pixels of ``frames``."""
    return reference_px * min(frames.shape[1:]) / REFERENCE_SIDE


def _person_box(frames: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    h = max(MIN_BOX_SIDE, round(_px(frames, rng.uniform(*PERSON_HEIGHT))))
    return h, max(MIN_BOX_SIDE, round(h * PERSON_ASPECT))


def _speed(frames: np.ndarray, reference_speed: float) -> float:
    """``reference_speed`` px/frame at the reference side, in px/frame of ``frames``."""
    return reference_speed * max(min(frames.shape[1:]) / REFERENCE_SIDE, MIN_SPEED_SCALE)


def _random_direction(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    return np.array([np.sin(angle), np.cos(angle)])  # (dy, dx)


def _busiest(energy: np.ndarray, h: int, w: int) -> tuple[int, int]:
    """Top-left corner of the (h, w) box of ``energy`` (H, W) with the largest sum."""
    c = np.pad(energy.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = c[h:, w:] - c[:-h, w:] - c[h:, :-w] + c[:-h, :-w]  # (H - h + 1, W - w + 1)
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(top), int(left)


def _pairs(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 2, MOTION_PAIRS).round().astype(int))


def _cut_person(frames: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A person-sized patch at the most foreground place of a random frame, and its alpha:
    the foreground pixels grown by one, with a soft edge (or 1 everywhere, too little
    foreground)."""
    import cv2

    h, w = _person_box(frames, rng)
    background = np.median(frames[_pairs(len(frames))], axis=0)
    frame = frames[rng.integers(len(frames))]
    foreground = np.abs(frame - background)
    top, left = _busiest(foreground, h, w)
    person = foreground[top:top + h, left:left + w] > FOREGROUND_LEVEL
    if person.mean() < MIN_FOREGROUND:
        return frame[top:top + h, left:left + w], np.ones((h, w))
    grown = cv2.dilate(person.astype(np.uint8), np.ones((3, 3), np.uint8))
    alpha = cv2.blur(grown.astype(np.float64), (3, 3), borderType=cv2.BORDER_CONSTANT)
    return frame[top:top + h, left:left + w], alpha


def _dominant_axis(frames: np.ndarray) -> np.ndarray:
    """Unit (dy, dx) of the video's dominant axis of motion (sign-free)."""
    t = _pairs(len(frames))
    a, b = frames[t].astype(np.float32), frames[t + 1].astype(np.float32)
    gy, gx = np.gradient((a + b) / 2, axis=(1, 2))
    weight = (b - a) ** 2 / (gy**2 + gx**2 + 1.0)
    tensor = np.array([[np.sum(weight * gy * gy), np.sum(weight * gy * gx)],
                       [np.sum(weight * gy * gx), np.sum(weight * gx * gx)]])
    return np.linalg.eigh(tensor)[1][:, -1]


def _reflect(x: np.ndarray, hi: int) -> np.ndarray:
    """Positions ``x`` bounced into [0, hi]."""
    if hi == 0:
        return np.zeros_like(x)
    x = np.mod(x, 2 * hi)
    return np.where(x > hi, 2 * hi - x, x)


def _move(out: np.ndarray, start: int, stop: int, rng: np.random.Generator, patch: np.ndarray,
          alpha: np.ndarray, velocity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blend ``patch`` into ``out`` on frames start..stop-1 along a bouncing straight path;
    its boxes and footprint (where ``alpha`` > 0)."""
    (big_h, big_w), (h, w) = out.shape[1:], patch.shape
    origin = rng.uniform([0, 0], [big_h - h, big_w - w])
    path = origin + np.arange(stop - start)[:, None] * velocity  # (length, 2)
    tops = _reflect(path[:, 0], big_h - h).round().astype(int)
    lefts = _reflect(path[:, 1], big_w - w).round().astype(int)
    for t, top, left in zip(range(start, stop), tops, lefts, strict=True):
        region = out[t, top:top + h, left:left + w]
        region[:] = np.rint(alpha * patch + (1 - alpha) * region)
    boxes = np.stack([tops, lefts, np.full_like(tops, h), np.full_like(tops, w)], axis=1)
    return boxes, alpha > 0


def _fast(frames: np.ndarray, out: np.ndarray, start: int, stop: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    patch, alpha = _cut_person(frames, rng)
    speed = _speed(frames, rng.uniform(*FAST_FACTOR) * TYPICAL_WALK)
    return _move(out, start, stop, rng, patch, alpha, speed * _random_direction(rng))


def _against(frames: np.ndarray, out: np.ndarray, start: int, stop: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    patch, alpha = _cut_person(frames, rng)
    dy, dx = _dominant_axis(frames)
    across = np.array([-dx, dy]) * rng.choice([-1, 1])
    return _move(out, start, stop, rng, patch, alpha,
                 _speed(frames, rng.uniform(*WALK_SPEED)) * across)


def _foreign(frames: np.ndarray, out: np.ndarray, start: int, stop: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    side = _person_box(frames, rng)[0]
    cell = max(1, side // TEXTURE_CELLS)
    yy, xx = np.mgrid[:side, :side]
    texture = TEXTURES[rng.integers(len(TEXTURES))]
    if texture == "checker":
        on = (yy // cell + xx // cell) % 2
    elif texture == "stripes":
        on = ((yy if rng.random() < 0.5 else xx) // cell) % 2
    else:
        noise_cell = max(1, cell // 2)
        on = rng.integers(0, 2, (side // noise_cell + 1,) * 2)[yy // noise_cell, xx // noise_cell]
    alpha = np.ones((side, side))
    if rng.random() < 0.5:  # soft edge
        ramp = max(1, round(SOFT_EDGE * side))
        edge = np.minimum.reduce([yy, xx, side - 1 - yy, side - 1 - xx])
        alpha = np.minimum(1.0, (edge + 1) / (ramp + 1))
    return _move(out, start, stop, rng, 255.0 * on, alpha,
                 _speed(frames, rng.uniform(*WALK_SPEED)) * _random_direction(rng))


def _freeze(frames: np.ndarray, out: np.ndarray, start: int, stop: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = _person_box(frames, rng)
    change = np.abs(frames[start:stop].astype(np.float32) - frames[start]).sum(axis=0)
    top, left = _busiest(change, h, w)
    out[start:stop, top:top + h, left:left + w] = frames[start, top:top + h, left:left + w]
    return np.tile([top, left, h, w], (stop - start, 1)), np.ones((h, w), bool)


_INSERT: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "fast": _fast, "foreign": _foreign, "against": _against, "freeze": _freeze}
