"""Tests of ``convlstm-ae data check`` (data/check.py).

The tiny datasets of ``test_layouts.py`` are checked clean, then broken one way at a
time: each break must give exactly one problem line, naming the broken file.
"""

import json
import sys
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from test_layouts import (
    PED2,
    SUBWAY_FRAMES,
    SUBWAY_TRAIN,
    TEST_FRAMES,
    TRAIN_FRAMES,
    cell,
    make_avenue,
    make_folder,
    make_frames,
    make_shanghaitech,
    make_subway,
    make_ucsd,
    needs,
    short_subway,  # noqa: F401  (a fixture)
    write_images,
    write_video,
)
from tqdm import tqdm

from convlstm_ae import progress
from convlstm_ae.data.check import check_dataset
from convlstm_ae.errors import ConfigError
from media import write_plots

MAKERS = {
    "frames": make_frames,
    "ucsd": make_ucsd,
    "avenue": make_avenue,
    "shanghaitech": make_shanghaitech,
}


@pytest.mark.parametrize("layout", list(MAKERS))
def test_clean_dataset_has_no_problems(tmp_path, layout, capsys, monkeypatch):
    monkeypatch.setattr(progress, "_factory", partial(tqdm, file=sys.stderr))
    report = check_dataset(MAKERS[layout](tmp_path))
    assert report.problems == []
    assert report.dataset.layout == layout
    summary = "\n".join(report.summary)
    assert f"layout: {layout} (" in summary
    assert f"train: 2 videos, {sum(TRAIN_FRAMES)} frames" in summary
    assert f"test: 2 videos, {sum(TEST_FRAMES)} frames" in summary
    assert "resolution: 24x16 (4 videos)" in summary
    assert "label coverage: 2/2 test videos labelled; 6/11 abnormal frames (54.5%)" in summary
    assert "frame/s" in capsys.readouterr().err  # the progress bar the CLI asks for


def test_clean_subway(tmp_path, short_subway):  # noqa: F811
    report = check_dataset(make_subway(tmp_path))
    assert report.problems == []
    summary = "\n".join(report.summary)
    assert f"train: 1 videos, {SUBWAY_TRAIN} frames" in summary
    assert f"test: 1 videos, {SUBWAY_FRAMES - SUBWAY_TRAIN} frames" in summary
    assert "resolution: 24x16 (1 videos)" in summary  # one source, decoded once
    assert "T': whole video" in summary
    assert "label coverage: 1/1 test videos labelled; 6/10 abnormal frames" in summary


def test_clean_folder(tmp_path):
    report = check_dataset(make_folder(tmp_path))
    assert report.problems == []
    assert "train: 3 videos, 12 frames" in "\n".join(report.summary)
    assert not any(line.startswith("label coverage") for line in report.summary)


def test_without_decoding_counts_files_and_headers(tmp_path):
    report = check_dataset(make_avenue(tmp_path), decode=False)
    assert report.problems == []
    assert f"test: 2 videos, {sum(TEST_FRAMES)} frames" in "\n".join(report.summary)


# ---------------------------------------------------------------------------------------
# One break at a time


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def one_problem(root: Path, **kwargs) -> str:
    report = check_dataset(root, **kwargs)
    assert len(report.problems) == 1, report.problems
    return report.problems[0]


def test_truncated_video(tmp_path):
    video = write_video(make_avenue(tmp_path) / "training_videos" / "01.avi", 40)
    truncate(video)  # the header survives, half the frames do not
    problem = one_problem(tmp_path)
    assert problem.startswith(f"{video}: decoded ")
    assert problem.endswith("of the 40 frames its header announces (truncated or corrupt)")


def test_garbage_video(tmp_path):
    video = make_avenue(tmp_path) / "training_videos" / "02.avi"
    video.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes())
    assert one_problem(tmp_path) == f"{video}: cannot open video (corrupt, or a codec OpenCV lacks)"


def test_empty_video(tmp_path):
    video = make_avenue(tmp_path) / "training_videos" / "01.avi"
    video.write_bytes(b"")
    assert one_problem(tmp_path) == f"{video}: empty file (0 bytes)"


def test_folder_without_frames(tmp_path):
    root = make_frames(tmp_path)
    empty = root / "training" / "frames" / "03"
    empty.mkdir()
    assert one_problem(root) == f"{empty}: folder holds no image frames"


def test_labels_of_the_wrong_length(tmp_path):
    root = make_frames(tmp_path, "none")
    (root / "labels.json").write_text(json.dumps({"01": [0] * 5, "02": [1] * 5}))
    clip = root / "testing" / "frames" / "01"
    assert one_problem(root) == f"{clip}: 5 labels but 6 frames"


def test_video_labels_of_the_wrong_length(tmp_path):
    root = make_avenue(tmp_path, "none")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"01": [0] * 7, "02": [0] * 5}))
    video = root / "testing_videos" / "01.avi"
    assert one_problem(root, labels=labels) == f"{video}: 7 labels but 6 frames"


def test_frame_of_another_size(tmp_path):
    root = make_ucsd(tmp_path)
    odd = root / "Train" / "Train002" / "003.tif"
    assert cv2.imwrite(str(odd), np.zeros((20, 30), np.uint8))
    problem = one_problem(root)
    assert problem.startswith(f"{odd}: image is 30x20 but the folder's first image 001.tif "
                              "is 24x16")


def test_a_folder_of_matplotlib_plots_is_not_a_frame_video(tmp_path):
    plots = write_plots(tmp_path / "plots")
    report = check_dataset(plots)
    assert report.problems == [
        f"{plots / 'scores.png'}: image is 800x300 but the folder's first image roc.png is "
        "400x400; a frame folder's images must share one size (is this a folder of frames?)"]


def test_corrupt_and_truncated_images(tmp_path):
    root = make_shanghaitech(tmp_path)
    folder = root / "testing" / "frames" / "01_0015"
    truncate(folder / "001.jpg")
    (folder / "003.jpg").write_bytes(b"not a jpeg")
    problem = one_problem(root)
    assert problem.startswith(f"{folder / '001.jpg'}: ")
    assert problem.endswith("(and 1 more in this folder)")


def test_truncated_jpeg_that_decodes(tmp_path, monkeypatch):
    """OpenCV 4 decodes a truncated JPEG with only a warning: the missing end marker tells."""
    root = make_frames(tmp_path)
    cut = truncate(root / "testing" / "frames" / "02" / "004.jpg")
    monkeypatch.setattr(cv2, "imdecode", lambda data, flags: np.zeros((16, 24), np.uint8))
    assert one_problem(root) == f"{cut}: truncated JPEG (no end-of-image marker)"


@pytest.mark.parametrize(("variables", "expected"), [
    ({"labels": np.ones(3)}, "no variable 'gt' (found: labels)"),
    ({"gt": np.ones((2, 2))}, "gt is a float64 array of shape (2, 2)"),
    ({"gt": cell([np.ones((3, 1)), np.ones((2, 1))])}, "gt entry 1 is a float64 array of shape"),
])
def test_mat_of_unexpected_structure(tmp_path, variables, expected):
    root = make_frames(tmp_path, "none")
    scipy.io.savemat(root / "original_labels" / "ped2.mat", variables)
    report = check_dataset(root)
    assert report.problems == [report.problems[0]]  # no "without labels" line per clip
    assert report.problems[0].startswith(f"{root / 'original_labels' / 'ped2.mat'}: {expected}")
    assert all(r.labels is None for r in report.dataset.test)
    assert "labels: ped2.mat: unreadable" in report.summary


def test_test_video_without_labels(tmp_path):
    root = make_frames(tmp_path, "none")
    (root / "labels.json").write_text(json.dumps({"01": [0, 0, 1, 1, 1, 0]}))
    clip = root / "testing" / "frames" / "02"
    assert one_problem(root) == f"{clip}: test video without labels"
    report = check_dataset(root)
    assert "label coverage: 1/2 test videos labelled; 3/6 abnormal frames (50.0%)" in report.summary


def test_problems_add_up(tmp_path):
    root = make_frames(tmp_path, "none")  # no label file at all, and a corrupt frame
    corrupt = root / "training" / "frames" / "02" / "000.jpg"
    corrupt.write_bytes(b"")
    clips = [root / "testing" / "frames" / name for name in ("01", "02")]
    assert check_dataset(root).problems == [f"{corrupt}: empty file (0 bytes)"] + [
        f"{clip}: test video without labels" for clip in clips]


def test_unparsable_folder_reports_one_line(tmp_path):
    root = make_frames(tmp_path)
    report = check_dataset(root, layout="ucsd")
    assert report.dataset is None and report.summary == []
    assert report.problems == [f"{root / 'Train'}: no such folder; expected the UCSD layout "
                               "Train/Train001/001.tif, Test/Test001/001.tif"]
    with pytest.raises(ConfigError):
        check_dataset(root, layout="ped3")


@needs["ped2"]
def test_real_ped2_is_clean():
    report = check_dataset(PED2)
    assert report.problems == []
    assert report.summary[3:] == [
        "train: 16 videos, 2,550 frames (4.2 min)",
        "test: 12 videos, 2,010 frames (3.4 min)",
        "resolution: 360x240 (28 videos)",
        "label coverage: 12/12 test videos labelled; 1,648/2,010 abnormal frames (82.0%)",
    ]


def test_single_frame_videos_short_videos_and_labels_nothing_can_use(tmp_path):
    root = make_folder(tmp_path / "own")
    write_images(root / "cam_single", 1)
    labels = tmp_path / "labels.json"
    labels.write_text("{}")
    report = check_dataset(root, labels=labels, decode=False)
    assert any("cam_single: a single frame" in p for p in report.problems)
    assert any(f"{labels}: labels given, but the folder layout has no test" in p
               for p in report.problems)
    assert any(line.startswith("short videos: 3 of fewer than T = 10") for line in
               report.summary), report.summary
