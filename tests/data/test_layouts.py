"""Tests of the dataset layouts (data/layouts.py).

Two kinds: tiny datasets written into ``tmp_path`` in each real layout (file names as
the real distributions have them; ``.mat`` through scipy, cell arrays as object arrays;
MJPG ``.avi`` and ``.jpg``/``.tif`` frames through OpenCV, 24x16 pixels), and the real
label files in ``../shared/data`` beside the repository (skipped where absent).
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from convlstm_ae.data import layouts
from convlstm_ae.data.labels import parse_ucsd_m, read_labels
from convlstm_ae.data.layouts import open_dataset, scan_dataset
from convlstm_ae.data.records import Dataset
from convlstm_ae.errors import ConfigError, DatasetLayoutError
from media import lying_npy, write_avi, write_frames

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PED2, PED1, AVENUE = SHARED / "ucsd_ped2", SHARED / "ucsd_ped1", SHARED / "cuhk_avenue"
needs = {name: pytest.mark.skipif(not path.is_dir(), reason=f"{path} absent")
         for name, path in (("ped2", PED2), ("ped1", PED1), ("avenue", AVENUE))}

WIDTH, HEIGHT = 24, 16
TRAIN_FRAMES = (4, 5)
TEST_FRAMES = (6, 5)
# 1-based inclusive ranges of the two test clips; the second has two, as Ped1's clips do
TEST_RANGES = ([(3, 5)], [(1, 1), (4, 5)])
TEST_LABELS = (np.array([0, 0, 1, 1, 1, 0], np.uint8), np.array([1, 0, 0, 1, 1], np.uint8))


# ---------------------------------------------------------------------------------------
# Writers of tiny datasets in the real layouts


def frame(index: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    """A grey (H, W) frame with a bright column that moves with ``index``."""
    image = np.full((size[1], size[0]), 60, np.uint8)
    image[:, (3 * index) % size[0]] = 220
    return image


def write_images(folder: Path, count: int, pattern: str = "{:03d}.jpg", first: int = 0) -> Path:
    return write_frames(folder, [frame(index) for index in range(count)], pattern, first)


def write_video(path: Path, count: int, fps: float = 25) -> Path:
    return write_avi(path, [frame(index) for index in range(count)], fps)


def cell(entries: list[np.ndarray]) -> np.ndarray:
    """A MATLAB 1xK cell array, as scipy.io.savemat writes an object array."""
    array = np.empty((1, len(entries)), dtype=object)
    for k, entry in enumerate(entries):
        array[0, k] = entry
    return array


def gt_cell(ranges: tuple[list[tuple[int, int]], ...] = TEST_RANGES) -> np.ndarray:
    """ano_pred's ``gt``: per clip a 2xR array [starts; ends]."""
    return cell([np.array(r, dtype=np.uint8).T for r in ranges])


def ucsd_m_text(ranges: tuple[list[tuple[int, int]], ...] = TEST_RANGES) -> str:
    lines = ["TestVideoFile = {};"]
    for clip in ranges:
        inner = ", ".join(f"{a}:{b}" for a, b in clip)
        lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{inner}];")
    return "\n".join(lines) + "\n"


def write_frame_labels(root: Path, kind: str) -> None:
    """Test labels of a frames-layout tree, as ``labels.json``, ``.mat``, ``.npy`` or ``.m``."""
    originals = root / "original_labels"
    originals.mkdir(exist_ok=True)
    if kind == "json":
        (root / "labels.json").write_text(
            json.dumps({f"{k + 1:02d}": y.tolist() for k, y in enumerate(TEST_LABELS)}))
    elif kind == "mat":
        scipy.io.savemat(originals / "ped2.mat", {"gt": gt_cell()})
    elif kind == "npy":
        np.save(originals / "frame_labels_ped2.npy", np.concatenate(TEST_LABELS)[None])
    elif kind == "m":
        (originals / "UCSDped2.m").write_text(ucsd_m_text())


def make_frames(root: Path, labels: str = "json") -> Path:
    """ano_pred / MNAD: training/frames/NN/NNN.jpg, testing/frames/NN/NNN.jpg."""
    for k, n in enumerate(TRAIN_FRAMES):
        write_images(root / "training" / "frames" / f"{k + 1:02d}", n)
    for k, n in enumerate(TEST_FRAMES):
        write_images(root / "testing" / "frames" / f"{k + 1:02d}", n)
    write_frame_labels(root, labels)
    return root


def make_ucsd(root: Path, labels: str = "m") -> Path:
    """UCSD v1p2: UCSDped2/Train/Train001/001.tif, Test/Test001/, Test/Test001_gt/*.bmp."""
    root = root / "UCSDped2"
    for k, n in enumerate(TRAIN_FRAMES):
        write_images(root / "Train" / f"Train{k + 1:03d}", n, "{:03d}.tif", first=1)
    for k, n in enumerate(TEST_FRAMES):
        write_images(root / "Test" / f"Test{k + 1:03d}", n, "{:03d}.tif", first=1)
    (root / "Train" / "._Train001").write_bytes(b"\0\5\26\7")  # macOS resource fork
    (root / "Test" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    if labels == "m":
        (root / "Test" / "UCSDped2.m").write_text(ucsd_m_text())
    for k, y in enumerate(TEST_LABELS):  # pixel masks: 0/255, non-empty on abnormal frames
        folder = root / "Test" / f"Test{k + 1:03d}_gt"
        folder.mkdir()
        for index, abnormal in enumerate(y):
            mask = np.zeros((HEIGHT, WIDTH), np.uint8)
            mask[4:8, 5:9] = 255 * abnormal
            assert cv2.imwrite(str(folder / f"{index + 1:03d}.bmp"), mask)
    return root


def make_avenue(root: Path, labels: str = "masks") -> Path:
    """CUHK Avenue: training_videos/NN.avi, testing_videos/NN.avi, testing_label_mask/."""
    for k, n in enumerate(TRAIN_FRAMES):
        write_video(root / "training_videos" / f"{k + 1:02d}.avi", n)
    for k, n in enumerate(TEST_FRAMES):
        write_video(root / "testing_videos" / f"{k + 1:02d}.avi", n)
    if labels == "masks":
        folder = root / "testing_label_mask"
        folder.mkdir()
        for k, y in enumerate(TEST_LABELS):
            masks = [np.full((HEIGHT, WIDTH), a, np.uint8) * np.eye(HEIGHT, WIDTH, dtype=np.uint8)
                     for a in y]
            scipy.io.savemat(folder / f"{k + 1}_label.mat", {"volLabel": cell(masks)})
    elif labels == "gt":
        scipy.io.savemat(root / "avenue.mat", {"gt": gt_cell()})
    return root


def make_shanghaitech(root: Path) -> Path:
    """ShanghaiTech: training/videos/*.avi, testing/frames/NN_NNNN/, test_frame_mask/*.npy."""
    for k, n in enumerate(TRAIN_FRAMES):
        write_video(root / "training" / "videos" / f"01_{k + 1:03d}.avi", n)
    masks = root / "testing" / "test_frame_mask"
    masks.mkdir(parents=True)
    for k, (n, y) in enumerate(zip(TEST_FRAMES, TEST_LABELS, strict=True)):
        write_images(root / "testing" / "frames" / f"01_{k + 14:04d}", n)
        np.save(masks / f"01_{k + 14:04d}.npy", y)
    return root


SUBWAY_FRAMES = 40
SUBWAY_TRAIN = 30  # frames in the patched training minutes, at 25 fps
SUBWAY_RANGES = [(10, 12), (31, 33), (38, 40)]  # whole-video frame numbers, 1-based


def make_subway(root: Path, stem: str = "subway_entrance_turnstiles", kind: str = "txt") -> Path:
    """Subway: one long video and <stem>_labels.txt (or .json) of abnormal frame ranges."""
    write_video(root / f"{stem}.AVI", SUBWAY_FRAMES)
    if kind == "txt":
        lines = ["# abnormal events, start end (1-based, inclusive)"]
        lines += [f"{a} {b}  # event {i}" for i, (a, b) in enumerate(SUBWAY_RANGES, 1)]
        (root / f"{stem}_labels.txt").write_text("\n".join(lines) + "\n")
    else:
        (root / f"{stem}_labels.json").write_text(json.dumps([list(r) for r in SUBWAY_RANGES]))
    return root


def make_folder(root: Path) -> Path:
    """Own footage: videos and a frame folder, side by side."""
    write_video(root / "cam_a.avi", 5, fps=15)
    write_video(root / "cam_b.avi", 4, fps=15)
    write_images(root / "cam_c", 3)
    (root / "notes.txt").write_text("not a video")
    return root


@pytest.fixture
def short_subway(monkeypatch):
    """Training minutes short enough for a 40-frame video: 30 frames at 25 fps."""
    minutes = SUBWAY_TRAIN / 25 / 60
    monkeypatch.setitem(layouts.SUBWAY_TRAIN_MINUTES, "entrance", minutes)
    monkeypatch.setitem(layouts.SUBWAY_TRAIN_MINUTES, "exit", minutes / 2)
    monkeypatch.setattr(layouts, "SUBWAY_OTHER_TRAIN_MINUTES", minutes * 2 / 3)


def assert_test_labels(dataset: Dataset) -> None:
    assert len(dataset.test) == len(TEST_LABELS)
    for record, expected in zip(dataset.test, TEST_LABELS, strict=True):
        assert record.labels is not None and record.labels.dtype == np.uint8
        np.testing.assert_array_equal(record.labels, expected)


# ---------------------------------------------------------------------------------------
# Tiny datasets


@pytest.mark.parametrize("labels", ["json", "mat", "npy", "m"])
def test_frames_layout_reads_every_label_format(tmp_path, labels):
    dataset = open_dataset(make_frames(tmp_path, labels))
    assert dataset.layout == "frames"
    assert [r.name for r in dataset.train] == ["01", "02"]
    assert [r.name for r in dataset.test] == ["01", "02"]
    assert all(r.labels is None for r in dataset.train)
    assert_test_labels(dataset)
    assert dataset.t_prime == 10 and dataset.fps == 25  # 24x16 frames are no known dataset
    suffix = {"json": "labels.json", "mat": ".mat", "npy": ".npy", "m": ".m"}[labels]
    assert dataset.label_convention.split(":")[0].endswith(suffix)


def test_frames_layout_prefers_labels_json(tmp_path):
    root = make_frames(tmp_path, "mat")
    (root / "labels.json").write_text(json.dumps({"01": [1] * 6, "02": [0] * 5}))
    dataset = open_dataset(root)
    assert dataset.label_convention.startswith("labels.json")
    assert dataset.test[0].labels.tolist() == [1] * 6


def test_frames_layout_without_labels(tmp_path):
    root = make_frames(tmp_path, "none")
    dataset = open_dataset(root)
    assert all(r.labels is None for r in dataset.test)
    assert dataset.label_convention == "no labels found"


def test_frames_layout_fps_from_frame_size(tmp_path):
    root = make_frames(tmp_path)
    assert cv2.imwrite(str(root / "testing" / "frames" / "01" / "000.jpg"),
                       np.zeros((240, 360), np.uint8))  # UCSD Ped2's size
    assert open_dataset(root).fps == 10


def test_one_video_knows_its_frame_rate_from_its_header_or_its_layout(tmp_path):
    ucsd = make_ucsd(tmp_path / "u", "m")
    assert layouts.frame_rate(ucsd / "Test" / "Test001") == 10
    assert layouts.frame_rate(ucsd / "Train" / "Train002") == 10
    frames = make_frames(tmp_path / "f")
    assert layouts.frame_rate(frames / "testing" / "frames" / "01") is None  # 24x16: unknown
    assert cv2.imwrite(str(frames / "testing" / "frames" / "01" / "000.jpg"),
                       np.zeros((240, 360), np.uint8))  # UCSD Ped2's size
    assert layouts.frame_rate(frames / "testing" / "frames" / "01") == 10
    shanghaitech = make_shanghaitech(tmp_path / "s")
    assert layouts.frame_rate(shanghaitech / "testing" / "frames" / "01_0014") == 24
    assert layouts.frame_rate(write_images(tmp_path / "own" / "cam", 3)) is None
    video = write_avi(tmp_path / "v.avi", [frame(i) for i in range(3)], fps=15)
    assert layouts.frame_rate(video) == 15


@pytest.mark.parametrize("labels", ["m", "masks"])
def test_ucsd_layout(tmp_path, labels):
    dataset = open_dataset(make_ucsd(tmp_path, labels))
    assert dataset.layout == "ucsd"
    assert [r.name for r in dataset.train] == ["Train001", "Train002"]
    assert [r.name for r in dataset.test] == ["Test001", "Test002"]  # no _gt, no dot-files
    assert_test_labels(dataset)
    assert dataset.fps == 10 and dataset.t_prime == 10
    expected = "UCSDped2.m" if labels == "m" else "Test/: pixel masks"
    assert dataset.label_convention.startswith(expected)


def test_ucsd_m_parser_reads_two_ranges_and_empty_clips(tmp_path):
    path = tmp_path / "UCSDped1.m"
    path.write_text("TestVideoFile = {};\n"
                    "TestVideoFile{end+1}.gt_frame = [5:90, 140:200];\n"
                    "TestVideoFile{end+1}.gt_frame = [];  % no anomaly\n"
                    "TestVideoFile{end+1}.gt_frame = [7];\n")
    clips = parse_ucsd_m(path)
    assert [c.tolist() for c in clips] == [[[5, 140], [90, 200]], [[], []], [[7], [7]]]


@pytest.mark.parametrize("labels", ["masks", "gt", "json"])
def test_avenue_layout_names_its_label_convention(tmp_path, labels):
    root = make_avenue(tmp_path, labels)
    override = None
    if labels == "json":
        override = tmp_path / "avenue_labels.json"
        override.write_text(json.dumps({str(k + 1): y.tolist() for k, y in enumerate(TEST_LABELS)}))
    dataset = open_dataset(root, labels=override)
    assert dataset.layout == "avenue"
    assert [r.name for r in dataset.test] == ["01", "02"]
    assert all(r.source.suffix == ".avi" for r in dataset.train + dataset.test)
    assert_test_labels(dataset)  # "1_label.mat" and key "1" match clip "01"
    assert dataset.fps == 25 and dataset.t_prime == 10
    expected = {"masks": "pixel masks (volLabel)", "gt": "frame ranges (gt",
                "json": "per-clip frame 0/1 lists (JSON)"}[labels]
    assert expected in dataset.label_convention


def test_shanghaitech_layout(tmp_path):
    dataset = open_dataset(make_shanghaitech(tmp_path))
    assert dataset.layout == "shanghaitech"
    assert [r.name for r in dataset.train] == ["01_001", "01_002"]
    assert [r.name for r in dataset.test] == ["01_0014", "01_0015"]
    assert_test_labels(dataset)
    assert dataset.fps == 24 and dataset.t_prime == 10
    assert dataset.label_convention.startswith("test_frame_mask/")


@pytest.mark.parametrize("kind", ["txt", "json"])
def test_subway_layout_splits_by_time(tmp_path, short_subway, kind):
    dataset = open_dataset(make_subway(tmp_path, kind=kind))
    assert dataset.layout == "subway"
    assert dataset.t_prime is None and dataset.fps == 25
    (train,), (test,) = dataset.train, dataset.test
    assert (train.name, train.start, train.stop) == ("entrance", 0, SUBWAY_TRAIN)
    assert train.labels is None
    assert (test.name, test.start, test.stop) == ("entrance", SUBWAY_TRAIN, None)
    # test labels start at frame 31 (1-based); the range 10-12 lies in the training part
    assert test.labels.tolist() == [1, 1, 1, 0, 0, 0, 0, 1, 1, 1]
    assert "test video starts at frame 31" in dataset.label_convention


@pytest.mark.parametrize(("stem", "name", "train"), [
    ("subway_exit_turnstiles", "exit", SUBWAY_TRAIN // 2),
    ("platform", "platform", SUBWAY_TRAIN * 2 // 3),
])
def test_subway_training_minutes_per_scene(tmp_path, short_subway, stem, name, train):
    dataset = open_dataset(make_subway(tmp_path, stem))
    assert dataset.train[0].name == name
    assert abs(dataset.train[0].stop - train) <= 1
    assert dataset.test[0].start == dataset.train[0].stop


def test_subway_video_shorter_than_training_minutes(tmp_path):
    root = make_subway(tmp_path)  # 40 frames, far less than 20 minutes
    with pytest.raises(DatasetLayoutError, match="20 training minutes"):
        open_dataset(root)


def test_folder_layout(tmp_path):
    dataset = open_dataset(make_folder(tmp_path))
    assert dataset.layout == "folder"
    assert [r.name for r in dataset.train] == ["cam_a", "cam_b", "cam_c"]
    assert dataset.test == () and all(r.labels is None for r in dataset.train)
    assert dataset.fps == 15  # from the first video's header


def test_layout_can_be_forced(tmp_path):
    root = make_frames(tmp_path)
    assert open_dataset(root, layout="frames").layout == "frames"
    with pytest.raises(DatasetLayoutError, match="Train") as error:
        open_dataset(root, layout="ucsd")
    assert str(root) in str(error.value) and "UCSD layout" in str(error.value)


def test_unknown_layout_and_missing_root(tmp_path):
    with pytest.raises(ConfigError, match="'ped3'"):
        open_dataset(tmp_path, layout="ped3")
    with pytest.raises(DatasetLayoutError, match="no such folder"):
        open_dataset(tmp_path / "missing")


# ---------------------------------------------------------------------------------------
# Bad label files: one clear line, never a KeyError or IndexError


def mat_problem(tmp_path, variables: dict) -> str:
    root = make_frames(tmp_path, "none")
    scipy.io.savemat(root / "ped2.mat", variables)
    with pytest.raises(DatasetLayoutError) as error:
        open_dataset(root)
    message = str(error.value)
    assert message.startswith(str(root / "ped2.mat")) and "\n" not in message
    return message


def test_mat_without_gt(tmp_path):
    assert "no variable 'gt' (found: labels)" in mat_problem(tmp_path, {"labels": np.ones(3)})


def test_mat_gt_not_a_cell(tmp_path):
    message = mat_problem(tmp_path, {"gt": np.ones((2, 2))})
    assert "gt is a float64 array of shape (2, 2)" in message


def test_mat_gt_entry_of_wrong_shape(tmp_path):
    message = mat_problem(tmp_path, {"gt": cell([np.ones((3, 1)), np.ones((2, 1))])})
    assert "gt entry 1" in message and "(3, 1)" in message


def test_mat_gt_for_too_few_clips(tmp_path):
    message = mat_problem(tmp_path, {"gt": gt_cell(TEST_RANGES[:1])})
    assert "ranges for 1 clips but there are 2 test clips" in message


def test_mat_range_past_the_clip_end(tmp_path):
    message = mat_problem(tmp_path, {"gt": gt_cell(([(3, 7)], [(1, 1)]))})
    assert "range 3:7 of clip 01 is outside its frames 1..6" in message


def test_corrupt_mat(tmp_path):
    root = make_frames(tmp_path, "none")
    (root / "ped2.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(50))
    with pytest.raises(DatasetLayoutError, match="ped2.mat: not a readable .mat file"):
        open_dataset(root)


def test_concatenated_labels_of_the_wrong_total(tmp_path):
    root = make_frames(tmp_path, "none")
    np.save(root / "frame_labels_ped2.npy", np.zeros((1, 10), np.int64))
    with pytest.raises(DatasetLayoutError, match="10 labels but the 2 test clips hold 11 frames"):
        open_dataset(root)


def test_npy_labels_whose_header_lies_are_one_error_naming_the_file(tmp_path):
    """Concatenated labels and a per-clip label file claiming 4 PB: refused from the
    header, not allocated."""
    concatenated, folder = tmp_path / "labels.npy", tmp_path / "masks"
    concatenated.write_bytes(lying_npy())
    folder.mkdir()
    (folder / "01.npy").write_bytes(lying_npy(dtype="|u1", version=2))
    for path, problem in ((concatenated, concatenated), (folder, folder / "01.npy")):
        with pytest.raises(DatasetLayoutError, match=f"^{problem}: not a readable .npy array "
                                                     r"\(header promises \(10+,\)"):
            read_labels(path, ["01"], [6])


def test_labels_json_of_the_wrong_length(tmp_path):
    root = make_frames(tmp_path, "none")
    (root / "labels.json").write_text(json.dumps({"01": [0] * 5, "02": [0] * 5}))
    clip = root / "testing" / "frames" / "01"
    with pytest.raises(DatasetLayoutError, match=f"^{clip}: 5 labels but 6 frames$"):
        open_dataset(root)
    dataset, problems = scan_dataset(root)  # the lenient twin keeps the labels
    assert problems == [f"{clip}: 5 labels but 6 frames"]
    assert len(dataset.test[0].labels) == 5


@pytest.mark.parametrize(("content", "expected"), [
    ({"01": [0, 2, 0, 0, 0, 0]}, "labels of clip 01 hold values other than 0 and 1"),
    ({"01": [[0, 1]] * 6}, "labels of clip 01 have shape (6, 2)"),
    ({"07": [0]}, "no key names a test clip"),
    ([[1, 2]], "holds a list; expected"),
])
def test_bad_labels_json(tmp_path, content, expected):
    root = make_frames(tmp_path, "none")
    (root / "labels.json").write_text(json.dumps(content))
    with pytest.raises(DatasetLayoutError, match="labels.json: ") as error:
        open_dataset(root)
    assert expected in str(error.value)


def test_bad_ucsd_m(tmp_path):
    path = tmp_path / "UCSDped2.m"
    path.write_text("TestVideoFile{end+1}.gt_frame = [61:end];\n")
    with pytest.raises(DatasetLayoutError, match="line 1: cannot read '61:end'"):
        parse_ucsd_m(path)


def test_bad_subway_labels(tmp_path, short_subway):
    root = make_subway(tmp_path)
    (root / "subway_entrance_turnstiles_labels.txt").write_text("31 33\n38 41\n")
    with pytest.raises(DatasetLayoutError, match="range 38-41 .* outside the video's frames 1..40"):
        open_dataset(root)


# ---------------------------------------------------------------------------------------
# The real label files in ../shared/data


@needs["ped2"]
def test_real_ped2_frames_layout():
    dataset = open_dataset(PED2)
    assert dataset.layout == "frames"
    assert (len(dataset.train), len(dataset.test)) == (16, 12)
    frames = [sum(len(list(r.source.glob("*.jpg"))) for r in split)
              for split in (dataset.train, dataset.test)]
    assert frames == [2550, 2010]
    assert sum(len(r.labels) for r in dataset.test) == 2010
    assert sum(int(r.labels.sum()) for r in dataset.test) == 1648
    assert dataset.label_convention.startswith("labels.json")
    assert dataset.fps == 10 and dataset.t_prime == 10


@needs["ped2"]
def test_real_ped2_label_sources_agree_frame_by_frame():
    reference = open_dataset(PED2)
    for source in ("ped2.mat", "frame_labels_ped2.npy", "UCSDped2.m"):
        other = open_dataset(PED2, labels=PED2 / "original_labels" / source)
        assert other.label_convention.startswith(source)
        for a, b in zip(reference.test, other.test, strict=True):
            np.testing.assert_array_equal(a.labels, b.labels, err_msg=f"{source}, clip {a.name}")
    for record in reference.test:
        masks = np.load(PED2 / "pixel_masks" / f"{record.name}.npz")["masks"]
        np.testing.assert_array_equal(masks.any(axis=(1, 2)).astype(np.uint8), record.labels)


@needs["ped1"]
def test_real_ped1_m_equals_json_and_mat():
    names = [f"{k:02d}" for k in range(1, 37)]
    lengths = [200] * 36
    from_m, _ = read_labels(PED1 / "original_labels" / "UCSDped1.m", names, lengths)
    from_json, _ = read_labels(PED1 / "labels.json", names, lengths)
    from_mat, _ = read_labels(PED1 / "original_labels" / "ped1.mat", names, lengths)
    for name in names:
        np.testing.assert_array_equal(from_m[name], from_json[name], err_msg=name)
        np.testing.assert_array_equal(from_m[name], from_mat[name], err_msg=name)
    assert sum(int(y.sum()) for y in from_m.values()) == 4045
    runs = {name: int((np.diff(y.astype(int)) == 1).sum() + y[0]) for name, y in from_m.items()}
    assert [name for name, r in runs.items() if r == 2] == ["05", "06", "29", "32"]


@needs["avenue"]
def test_real_avenue_conventions_differ_and_are_named(tmp_path):
    lengths = [1439, 1211, 923, 947, 1007, 1283, 605, 36, 1175, 841, 472, 1271, 549, 507, 1001,
               740, 426, 294, 248, 273, 76]
    for k in range(21):  # the videos are not here: tiny stand-ins; labels are not decoded
        write_video(tmp_path / "testing_videos" / f"{k + 1:02d}.avi", 1)
    write_video(tmp_path / "training_videos" / "01.avi", 1)
    paper = open_dataset(tmp_path, labels=AVENUE / "labels.json")
    pixel = open_dataset(tmp_path, labels=AVENUE / "labels_pixelmask_convention.json")
    from_mat = open_dataset(tmp_path, labels=AVENUE / "original_labels" / "avenue.mat")
    assert [len(r.labels) for r in paper.test] == lengths
    differing = sum(int((a.labels != b.labels).sum())
                    for a, b in zip(paper.test, pixel.test, strict=True))
    assert differing == 441
    assert sum(int(r.labels.sum()) for r in paper.test) == 3867
    assert sum(int(r.labels.sum()) for r in pixel.test) == 3712
    assert paper.label_convention.startswith("labels.json:")
    assert pixel.label_convention.startswith("labels_pixelmask_convention.json:")
    assert from_mat.label_convention == "avenue.mat: per-clip frame 0/1 arrays (.mat)"
    for a, b in zip(pixel.test, from_mat.test, strict=True):
        np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.skipif(not (SHARED / "shanghaitech").is_dir(), reason="shanghaitech labels absent")
def test_real_shanghaitech_concatenation_needs_matching_counts():
    path = SHARED / "shanghaitech" / "original_labels" / "frame_labels_shanghai.npy"
    with pytest.raises(DatasetLayoutError, match="40791 labels but the 2 test clips hold 500"):
        read_labels(path, ["01_0014", "01_0015"], [200, 300])
    labels, _ = read_labels(path, ["all"], [40791])
    assert int(labels["all"].sum()) == 17326
