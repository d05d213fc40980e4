"""Tests of the synthetic anomalies inserted into normal video (data/synthetic.py)."""

import numpy as np
import pytest

from convlstm_ae.data.synthetic import (
    DURATION,
    KINDS,
    MIN_FOREGROUND,
    MIN_WARMUP,
    WARMUP_FRACTION,
    insert_anomaly,
    synthetic_set,
)
from convlstm_ae.errors import ConfigError

SHAPES = ((64, 64), (240, 360))
FRAMES = 60


def walking_blobs(shape: tuple[int, int], seed: int = 0, frames: int = FRAMES) -> np.ndarray:
    """Bright discs about a person high walking horizontally at Ped2 speed (2 px/frame at a
    240 px side, both ways) with a vertical random walk, over a static noisy background."""
    rng = np.random.default_rng(seed)
    height, width = shape
    scale = min(shape) / 240
    background = rng.integers(40, 90, shape)
    yy, xx = np.mgrid[:height, :width]
    y = rng.uniform(0, height, 4)
    x = rng.uniform(0, width, 4)
    vx = 2 * scale * rng.choice([-1, 1], 4)
    video = np.empty((frames, height, width), np.uint8)
    for t in range(frames):
        frame = background.copy()
        for cy, cx in zip(y, x, strict=True):
            frame[(yy - cy) ** 2 + (xx - cx) ** 2 < (15 * scale) ** 2] = 200
        video[t] = frame
        x = (x + vx) % width
        y = np.clip(y + 0.5 * scale * rng.standard_normal(4), 0, height - 1)
    return video


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def videos(request) -> list[np.ndarray]:
    return [walking_blobs(request.param, seed) for seed in range(2)]


@pytest.fixture(scope="module")
def anomalies(videos):
    return synthetic_set(videos, seed=3)


def speed(anomaly, step: int = 4) -> float:
    """Mean pixels per frame travelled by the anomaly's box, over ``step`` frames (rounding
    to whole pixels inflates a slow box's steps of one frame)."""
    corners = anomaly.boxes[:, :2]
    return float(np.linalg.norm(corners[step:] - corners[:-step], axis=1).mean() / step)


def test_one_copy_per_video_and_kind(videos, anomalies):
    assert [a.kind for a in anomalies] == list(KINDS) * len(videos)
    for a in anomalies:
        assert a.frames.shape == a.masks.shape == videos[0].shape
        assert a.frames.dtype == np.uint8


def test_deterministic_by_seed(videos, anomalies):
    again = synthetic_set(videos, seed=3)
    other = synthetic_set(videos, seed=4)
    for a, b, c in zip(anomalies, again, other, strict=True):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.masks, b.masks)
        assert (a.start, a.stop) == (b.start, b.stop)
        assert not np.array_equal(a.frames, c.frames)


def test_copy_does_not_depend_on_other_kinds(videos, anomalies):
    alone = synthetic_set(videos, seed=3, kinds=("freeze",))
    np.testing.assert_array_equal(alone[1].frames, anomalies[KINDS.index("freeze") + 4].frames)


def test_input_not_modified(videos):
    before = [v.copy() for v in videos]
    synthetic_set(videos, seed=5)
    for v, b in zip(videos, before, strict=True):
        np.testing.assert_array_equal(v, b)


def test_pixels_outside_the_mask_unchanged(videos, anomalies):
    for i, a in enumerate(anomalies):
        video = videos[i // len(KINDS)]
        np.testing.assert_array_equal(a.frames[~a.masks], video[~a.masks])


def test_labels_mark_the_frames_with_a_mask(anomalies):
    for a in anomalies:
        np.testing.assert_array_equal(a.labels, a.masks.any(axis=(1, 2)))
        assert a.labels.sum() == a.stop - a.start == len(a.boxes)
        assert a.labels[a.start:a.stop].all()


def test_boxes_inside_the_frame(anomalies):
    for a in anomalies:
        height, width = a.frames.shape[1:]
        top, left, h, w = a.boxes.T
        assert (top >= 0).all() and (left >= 0).all()
        assert (top + h <= height).all() and (left + w <= width).all()


def test_starts_after_the_warm_up_by_default(anomalies):
    warm_up = max(MIN_WARMUP, round(WARMUP_FRACTION * FRAMES))
    for a in anomalies:
        assert a.start >= warm_up
        assert not a.labels[:warm_up].any()
        assert DURATION[0] <= a.stop - a.start <= DURATION[1]


def test_from_the_first_frame_means_there_all_along(videos):
    for a, video in zip(synthetic_set(videos, seed=3, from_first_frame=True),
                        [v for v in videos for _ in KINDS], strict=True):
        assert a.start == 0 and a.stop == len(video) and a.labels.all()


def test_duration_clipped_to_the_video():
    video = walking_blobs((64, 64), frames=20)
    for kind in KINDS:
        a = insert_anomaly(video, kind, np.random.default_rng(0), start=0)
        assert a.stop - a.start <= 20 and a.labels.sum() == a.stop - a.start


def test_explicit_start_and_length(videos):
    a = insert_anomaly(videos[0], "fast", np.random.default_rng(0), start=7, length=9)
    assert (a.start, a.stop) == (7, 16)
    np.testing.assert_array_equal(np.flatnonzero(a.labels), np.arange(7, 16))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_pixels_inside_its_mask(videos, anomalies, kind):
    for i, a in enumerate(anomalies):
        if a.kind == kind:
            video = videos[i // len(KINDS)]
            change = np.abs(a.frames.astype(int) - video)[a.masks].mean()
            assert change > 20, f"{kind}: mean change {change:.1f} grey levels in the mask"


def test_fast_moves_at_least_three_times_the_normal_speed(videos):
    many = synthetic_set(videos * 4, seed=11)
    speeds = {kind: np.mean([speed(a) for a in many if a.kind == kind]) for kind in KINDS}
    assert speeds["freeze"] == 0
    assert speeds["fast"] >= 3 * max(speeds["against"], speeds["foreign"]), speeds


def test_normal_speed_scales_with_the_frame(videos, anomalies):
    side = min(videos[0].shape[1:])
    for a in anomalies:
        if a.kind in ("against", "foreign"):
            assert 0.5 * side / 240 < speed(a) <= 3 * side / 240 + 0.5, speed(a)


def test_against_moves_across_the_dominant_flow(videos, anomalies):
    for a in anomalies:
        if a.kind == "against":
            dy, dx = np.abs(np.diff(a.boxes[:, :2], axis=0)).sum(axis=0)
            assert dy > 3 * dx, (dy, dx)  # the blobs walk horizontally


@pytest.mark.parametrize("kind", KINDS)
def test_box_is_person_sized(videos, anomalies, kind):
    side = min(videos[0].shape[1:])
    for a in anomalies:
        if a.kind == kind:
            h = a.boxes[0, 2]
            assert max(4, 20 * side / 240 - 1) <= h <= max(4, 40 * side / 240 + 1)


@pytest.mark.parametrize(("frames", "kind", "start", "length", "problem"), [
    (np.zeros((60, 64, 64), np.float32), "fast", None, None, "float32"),
    (np.zeros((60, 64), np.uint8), "fast", None, None, "uint8"),
    (np.zeros((60, 64, 64, 1), np.uint8), "fast", None, None, "uint8"),
    ([[[0]]], "fast", None, None, "list"),
    (np.zeros((60, 8, 64), np.uint8), "fast", None, None, "at least 16"),
    (np.zeros((60, 64, 64), np.uint8), "slow", None, None, "unknown anomaly kind 'slow'"),
    (np.zeros((24, 64, 64), np.uint8), "fast", None, None, "too short"),
    (np.zeros((14, 64, 64), np.uint8), "freeze", 0, None, "too short"),
    (np.zeros((60, 64, 64), np.uint8), "fast", 60, None, "start 60 outside"),
    (np.zeros((60, 64, 64), np.uint8), "fast", 50, 11, "length 11"),
    (np.zeros((60, 64, 64), np.uint8), "fast", 0, 0, "length 0"),
])
def test_bad_input_raises_config_error(frames, kind, start, length, problem):
    with pytest.raises(ConfigError, match=problem) as info:
        insert_anomaly(frames, kind, np.random.default_rng(0), start, length)
    assert "\n" not in str(info.value)


def test_synthetic_set_rejects_unknown_kind(videos):
    with pytest.raises(ConfigError, match="'slow'"):
        synthetic_set(videos, seed=0, kinds=("fast", "slow"))


@pytest.mark.parametrize("kind", ["fast", "against"])
def test_a_cut_person_is_pasted_without_its_background(kind):
    video = np.random.default_rng(0).integers(40, 90, (40, 240, 360)).astype(np.uint8)
    for t in range(40):  # a thin bright person, 6 x 36 px, walking right
        video[t, 100:136, 50 + 2 * t:56 + 2 * t] = 200
    a = insert_anomaly(video, kind, np.random.default_rng(0), start=10, length=20)
    top, left, h, w = a.boxes[0]
    footprint = a.masks[10, top:top + h, left:left + w]
    assert MIN_FOREGROUND <= footprint.mean() < 0.9, footprint.mean()
    pasted = a.frames[10][a.masks[10]]  # mostly the bright person, the rest its soft edge
    assert (pasted > 150).mean() > 0.3, (pasted > 150).mean()


def test_a_scene_without_people_pastes_the_whole_box():
    rng = np.random.default_rng(0)
    video = (rng.integers(40, 90, (64, 64)) + rng.integers(0, 4, (30, 64, 64))).astype(np.uint8)
    a = insert_anomaly(video, "fast", np.random.default_rng(0), start=5, length=10)
    for t, (top, left, h, w) in zip(range(5, 15), a.boxes, strict=True):
        assert a.masks[t].sum() == h * w and a.masks[t, top:top + h, left:left + w].all()
