"""Tests of reading videos, frame folders and frame arrays (data/video_io.py).

Every input is written into ``tmp_path`` with OpenCV or NumPy: an MJPG ``.avi`` with a
moving square, folders of PNG/JPG frames, ``.npy`` arrays; then broken ones.
"""

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from convlstm_ae.data.video_io import (
    _reduction,
    list_videos,
    read_frames,
    resize_frames,
    video_frames,
)
from convlstm_ae.errors import DatasetLayoutError, VideoReadError
from media import random_frames, write_avi, write_frames, write_plots

WIDTH, HEIGHT = 40, 30  # the test video, deliberately not square
NUM_FRAMES = 12
SQUARE = 10  # side of the moving white square
SQUARE_TOP = 10
BACKGROUND_BGR = (100, 0, 0)  # dark blue: grey 0.114 * 100 = 11
BACKGROUND_GRAY = 11


def square_left(frame: int) -> int:
    return 2 + 2 * frame


def write_video(path: Path, num_frames: int = NUM_FRAMES) -> Path:
    """An MJPG .avi of a white square moving right over a blue background."""
    frames = np.empty((num_frames, HEIGHT, WIDTH, 3), np.uint8)
    frames[:] = BACKGROUND_BGR
    for index, frame in enumerate(frames):
        left = square_left(index)
        frame[SQUARE_TOP:SQUARE_TOP + SQUARE, left:left + SQUARE] = 255
    return write_avi(path, frames)


def centroid(frame: np.ndarray) -> tuple[float, float]:
    """Brightness-weighted centre (row, column) above the background, in pixel units
    where pixel i covers [i, i + 1)."""
    weight = np.clip(frame.astype(float) - frame.min() - 20, 0, None)
    rows, cols = np.indices(frame.shape) + 0.5
    return float((weight * rows).sum() / weight.sum()), float((weight * cols).sum() / weight.sum())


def assert_one_line_naming(error: pytest.ExceptionInfo, path: Path) -> None:
    message = str(error.value)
    assert str(path) in message
    assert "\n" not in message


# ----------------------------------------------------------------------------- video files


def test_read_video_file_is_grayscale_square_uint8_with_every_frame(tmp_path):
    frames = read_frames(write_video(tmp_path / "walk.avi"), 32)
    assert frames.shape == (NUM_FRAMES, 32, 32)
    assert frames.dtype == np.uint8


def test_read_video_file_converts_colour_to_gray(tmp_path):
    frames = read_frames(write_video(tmp_path / "walk.avi"), 32)
    # blue background -> grey 11 (BT.601 weights), white square -> 255; MJPG is lossy
    assert abs(int(np.median(frames)) - BACKGROUND_GRAY) <= 4
    assert frames.max(axis=(1, 2)).min() >= 230


def test_read_video_file_moving_square_lands_where_resizing_puts_it(tmp_path):
    size = 32
    frames = read_frames(write_video(tmp_path / "walk.avi"), size)
    for index, frame in enumerate(frames):
        row, col = centroid(frame)
        expected_row = (SQUARE_TOP + SQUARE / 2) * size / HEIGHT
        expected_col = (square_left(index) + SQUARE / 2) * size / WIDTH
        assert row == pytest.approx(expected_row, abs=0.75), f"frame {index}"
        assert col == pytest.approx(expected_col, abs=0.75), f"frame {index}"


def jpeg_packets(path: Path) -> list[np.ndarray]:
    """The JPEG of each frame of an MJPG video, as the file holds it."""
    capture = cv2.VideoCapture(str(path))
    assert capture.set(cv2.CAP_PROP_FORMAT, -1)
    packets = []
    while (read := capture.read())[0]:
        packets.append(read[1])
    capture.release()
    return packets


def test_an_mjpg_video_decodes_to_the_luma_of_its_jpegs_as_a_jpeg_folder_does(tmp_path):
    """libjpeg-turbo's luma of each JPEG, within a level of the same JPEGs in a frame
    folder; FFmpeg's colour decoding then BGR2GRAY is a level brighter on most pixels."""
    video = write_avi(tmp_path / "walk.avi", random_frames((6, 48, 48)))
    packets = jpeg_packets(video)
    frames = np.stack(list(video_frames(video)))
    np.testing.assert_array_equal(frames, [cv2.imdecode(p, cv2.IMREAD_GRAYSCALE) for p in packets])
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, packet in enumerate(packets):
        (folder / f"{index:03d}.jpg").write_bytes(packet.tobytes())
    difference = read_frames(folder, 48).astype(int) - read_frames(video, 48)
    assert np.abs(difference).max() <= 1 and np.mean(difference != 0) < 0.05


def test_a_video_of_another_codec_is_decoded_in_colour_then_gray(tmp_path):
    colour = random_frames((4, 30, 40, 3))
    video = write_avi(tmp_path / "lossless.avi", colour, fourcc="FFV1")
    np.testing.assert_array_equal(list(video_frames(video)),
                                  [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in colour])


def test_an_mjpg_frame_that_does_not_decode_ends_the_video_there(tmp_path):
    """Skipping it would shift every later frame against its label."""
    frames = random_frames((6, 48, 48))
    video = write_avi(tmp_path / "walk.avi", frames)
    data = bytearray(video.read_bytes())
    size = data.index(b"\xff\xc0", data.index(b"\xff\xd9")) + 5  # frame 1's height, width
    data[size:size + 4] = bytes(4)  # 0 x 0: no decoder takes it
    video.write_bytes(bytes(data))
    decoded = list(video_frames(video))
    assert len(decoded) == 1
    assert np.abs(decoded[0].astype(int) - frames[0]).mean() < 20  # frame 0, not garbage


# ---------------------------------------------------------------------------- frame folders


def test_read_png_folder_at_model_size_is_exact(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (5, 16, 16), dtype=np.uint8)
    read = read_frames(write_frames(tmp_path / "clip", frames), 16)
    np.testing.assert_array_equal(read, frames)


def test_read_png_folder_keeps_name_order_and_converts_colour(tmp_path):
    # frame i is a flat colour whose grey level is 20 * i (pure green: grey = 0.587 G)
    greens = [round(20 * i / 0.587) for i in range(6)]
    frames = [np.full((24, 20, 3), (0, g, 0), np.uint8) for g in greens]
    read = read_frames(write_frames(tmp_path / "clip", frames), 8)
    assert read.shape == (6, 8, 8)
    assert read.dtype == np.uint8
    for index, frame in enumerate(read):
        assert np.all(np.abs(frame.astype(int) - 20 * index) <= 1), f"frame {index}"


def test_read_jpg_folder(tmp_path):
    frames = [np.full((12, 12), 40 * i, np.uint8) for i in range(5)]
    read = read_frames(write_frames(tmp_path / "clip", frames, "{:03d}.jpg"), 6)
    assert read.shape == (5, 6, 6)
    np.testing.assert_allclose(read.mean(axis=(1, 2)), [0, 40, 80, 120, 160], atol=2)


def test_read_frame_folder_ignores_files_that_are_not_images(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    folder = write_frames(tmp_path / "clip", frames)
    (folder / "labels.txt").write_text("0 0 1\n")
    (folder / "Thumbs.db").write_bytes(b"\x00\x01garbage")
    np.testing.assert_array_equal(read_frames(folder, 8), frames)


# ------------------------------------------------------------------------------ .npy arrays


def test_read_uint8_array_at_model_size_is_exact(tmp_path):
    frames = np.random.default_rng(2).integers(0, 256, (4, 16, 16), dtype=np.uint8)
    np.save(tmp_path / "clip.npy", frames)
    np.testing.assert_array_equal(read_frames(tmp_path / "clip.npy", 16), frames)


def test_read_uint8_array_is_resized(tmp_path):
    frames = np.stack([np.full((20, 30), 10 * i, np.uint8) for i in range(7)])
    np.save(tmp_path / "clip.npy", frames)
    read = read_frames(tmp_path / "clip.npy", 10)
    assert read.shape == (7, 10, 10)
    np.testing.assert_array_equal(read[:, 0, 0], 10 * np.arange(7))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_float_array_in_unit_range_scales_to_255(tmp_path, dtype):
    values = np.array([0.0, 0.2, 0.4, 1.0], dtype=dtype)
    frames = np.broadcast_to(values[:, None, None], (4, 8, 8)).astype(dtype)
    np.save(tmp_path / "clip.npy", frames)
    read = read_frames(tmp_path / "clip.npy", 8)
    assert read.dtype == np.uint8
    np.testing.assert_array_equal(read[:, 3, 3], [0, 51, 102, 255])


def test_read_float_array_in_255_range_keeps_values(tmp_path):
    values = np.array([0.0, 17.2, 254.6], dtype=np.float32)
    np.save(tmp_path / "clip.npy", np.broadcast_to(values[:, None, None], (3, 8, 8)))
    np.testing.assert_array_equal(read_frames(tmp_path / "clip.npy", 8)[:, 0, 0], [0, 17, 255])


# ------------------------------------------------------------------------------ list_videos


@pytest.fixture
def video_tree(tmp_path) -> Path:
    """A folder of videos: b.avi, a_frames/, c.npy, plus things that are not videos."""
    root = tmp_path / "videos"
    root.mkdir()
    write_video(root / "b.avi", num_frames=5)
    write_frames(root / "a_frames", [np.full((8, 8), 9, np.uint8)] * 4)
    np.save(root / "c.npy", np.zeros((6, 8, 8), np.uint8))
    write_video(root / ".hidden.avi", num_frames=3)
    write_frames(root / ".thumbnails", [np.zeros((8, 8), np.uint8)])
    (root / "notes.txt").write_text("not a video")
    (root / "empty").mkdir()
    return root


def test_list_videos_of_a_folder_is_sorted_and_skips_hidden_and_non_videos(video_tree):
    assert list_videos(video_tree) == [video_tree / "a_frames", video_tree / "b.avi",
                                       video_tree / "c.npy"]


@pytest.mark.parametrize("name", ["b.avi", "c.npy", "a_frames"])
def test_list_videos_of_one_video_is_itself(video_tree, name):
    assert list_videos(video_tree / name) == [video_tree / name]


def test_list_videos_accepts_str(video_tree):
    assert list_videos(str(video_tree / "b.avi")) == [video_tree / "b.avi"]


def test_list_videos_of_missing_path(tmp_path):
    with pytest.raises(DatasetLayoutError) as error:
        list_videos(tmp_path / "nowhere")
    assert_one_line_naming(error, tmp_path / "nowhere")


def test_list_videos_of_folder_holding_no_video(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    write_frames(tmp_path / ".hidden", [np.zeros((8, 8), np.uint8)])
    with pytest.raises(DatasetLayoutError) as error:
        list_videos(tmp_path)
    assert_one_line_naming(error, tmp_path)


def test_list_videos_of_unsupported_file_type(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    with pytest.raises(VideoReadError, match="unsupported file type") as error:
        list_videos(path)
    assert_one_line_naming(error, path)


@pytest.mark.parametrize("name", ["pipe", "pipe.avi", "pipe.npy"])
def test_list_videos_of_a_named_pipe_is_one_error_naming_it(tmp_path, name):
    """A FIFO is neither a file nor a folder: refused before anything opens (or blocks)."""
    path = tmp_path / name
    os.mkfifo(path)
    with pytest.raises(VideoReadError, match="named pipe") as error:
        list_videos(path)
    assert_one_line_naming(error, path)


# ------------------------------------------------------------------------------- bad inputs


def test_read_missing_path(tmp_path):
    with pytest.raises(DatasetLayoutError) as error:
        read_frames(tmp_path / "missing.avi", 8)
    assert_one_line_naming(error, tmp_path / "missing.avi")


@pytest.mark.parametrize(
    "name, content",
    [
        ("empty.avi", b""),
        ("garbage.avi", np.random.default_rng(0).bytes(5000)),
        ("notes.txt", b"hello"),  # an unsupported file type
    ],
)
def test_read_bad_video_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VideoReadError) as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
def test_an_npy_header_promising_more_than_the_file_holds_is_refused_before_allocating(
        tmp_path, version):
    """4 KB claiming 10^12 frames of 60x60 (3.6 PB): one line, nothing allocated."""
    path = tmp_path / "huge.npy"
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**12, 60, 60)}
    write_header = (np.lib.format.write_array_header_1_0 if version == (1, 0)
                    else np.lib.format.write_array_header_2_0)
    with open(path, "wb") as handle:
        write_header(handle, header)
        handle.write(bytes(4000))
    with pytest.raises(VideoReadError, match="header promises") as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


def test_read_folder_without_images(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(VideoReadError) as error:
        read_frames(tmp_path, 8)
    assert_one_line_naming(error, tmp_path)


def test_read_folder_with_garbage_image_names_that_image(tmp_path):
    folder = write_frames(tmp_path / "clip", [np.zeros((8, 8), np.uint8)] * 2)
    bad = folder / "001.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(VideoReadError) as error:
        read_frames(folder, 8)
    assert_one_line_naming(error, bad)


def test_read_folder_with_frames_of_mixed_sizes(tmp_path):
    folder = write_frames(tmp_path / "clip", [np.zeros((8, 8), np.uint8),
                                              np.zeros((8, 8), np.uint8),
                                              np.zeros((9, 8), np.uint8)])
    with pytest.raises(VideoReadError, match="image is 8x9 but the folder's first image "
                                             "000.png is 8x8") as error:
        read_frames(folder, 8)
    assert_one_line_naming(error, folder / "002.png")


def test_read_a_folder_of_matplotlib_plots_names_the_plot_of_another_size(tmp_path):
    plots = write_plots(tmp_path / "plots")
    with pytest.raises(VideoReadError, match="must share one size") as error:
        read_frames(plots, 8)
    assert_one_line_naming(error, plots / "scores.png")
    assert "800x300" in str(error.value) and "roc.png is 400x400" in str(error.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_read_array_with_non_finite_values(tmp_path, bad):
    frames = np.zeros((3, 8, 8), np.float32)
    frames[1, 2, 3] = bad
    path = tmp_path / "clip.npy"
    np.save(path, frames)
    with pytest.raises(VideoReadError, match="NaN or infinite") as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


@pytest.mark.parametrize("shape", [(8, 8), (2, 8, 8, 3), (64,)])
def test_read_array_of_wrong_ndim(tmp_path, shape):
    path = tmp_path / "clip.npy"
    np.save(path, np.zeros(shape, np.uint8))
    with pytest.raises(VideoReadError, match="expected \\(N, H, W\\)") as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


@pytest.mark.parametrize("low, high", [(-0.5, 0.5), (0.0, 300.0), (-1.0, 200.0)])
def test_read_array_out_of_range(tmp_path, low, high):
    path = tmp_path / "clip.npy"
    np.save(path, np.linspace(low, high, 3 * 8 * 8).reshape(3, 8, 8))
    with pytest.raises(VideoReadError, match="outside") as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


def test_read_array_that_is_not_npy(tmp_path):
    path = tmp_path / "clip.npy"
    path.write_bytes(b"\x93NUMPY garbage that is no header" * 4)
    with pytest.raises(VideoReadError) as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


def test_read_array_of_non_numbers(tmp_path):
    path = tmp_path / "clip.npy"
    np.save(path, np.zeros((3, 8, 8), bool))
    with pytest.raises(VideoReadError, match="dtype bool") as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


def _write_degenerate(path: Path, kind: str) -> None:
    if kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "no_frames_uint8":
        np.save(path, np.zeros((0, 8, 8), np.uint8))
    elif kind == "no_frames_float":
        np.save(path, np.zeros((0, 8, 8), np.float32))
    elif kind == "empty_frames":
        np.save(path, np.zeros((3, 0, 0), np.uint8))


@pytest.mark.parametrize("kind", ["zero_bytes", "no_frames_uint8", "no_frames_float",
                                  "empty_frames"])
def test_read_degenerate_array_is_a_video_read_error(tmp_path, kind):
    path = tmp_path / "clip.npy"
    _write_degenerate(path, kind)
    with pytest.raises(VideoReadError) as error:
        read_frames(path, 8)
    assert_one_line_naming(error, path)


def test_read_frame_folder_skips_hidden_files(tmp_path):
    frames = np.random.default_rng(3).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    folder = write_frames(tmp_path / "clip", frames)
    (folder / "._000.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")
    np.testing.assert_array_equal(read_frames(folder, 8), frames)


def test_read_16_bit_frames_keep_their_relative_brightness(tmp_path):
    frames = [np.full((8, 8), 1000, np.uint16), np.full((8, 8), 60000, np.uint16)]
    read = read_frames(write_frames(tmp_path / "clip", frames), 8)
    dark, bright = int(read[0, 0, 0]), int(read[1, 0, 0])
    assert dark < bright
    assert bright == pytest.approx(60000 / 65535 * 255, abs=2)
    assert dark == pytest.approx(1000 / 65535 * 255, abs=2)


def test_a_truncated_video_warns_and_strict_refuses(tmp_path, caplog):
    path = write_avi(tmp_path / "cut.avi", random_frames((40, 48, 64)))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING):
        frames = read_frames(path, 32)
    assert 0 < len(frames) < 40 and frames.shape[1:] == (32, 32)
    assert f"{path}: decoded {len(frames)} of the 40 frames" in caplog.text
    with pytest.raises(VideoReadError, match=r"cut.avi: decoded \d+ of the 40 frames"):
        read_frames(path, 32, strict=True)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        intact = read_frames(write_avi(tmp_path / "whole.avi", random_frames((40, 48, 64))), 32)
    assert len(intact) == 40 and caplog.text == ""


def _write_video_of(kind: str, path: Path, frames: np.ndarray) -> Path:
    """``frames`` as a ``.npy`` array, an MJPG ``.avi`` or a folder of PNG frames."""
    if kind == "npy":
        np.save(path.with_suffix(".npy"), frames)
        return path.with_suffix(".npy")
    if kind == "avi":
        return write_avi(path.with_suffix(".avi"), frames)
    return write_frames(path, frames)


@pytest.mark.parametrize("kind", ["npy", "avi", "folder"])
def test_frames_far_from_square_warn_and_absurd_ones_are_refused(tmp_path, caplog, kind):
    """Resizing to the model's square squashes them: 5:1 warns naming the file and the
    aspect, 21:1 (a transposed or flattened array, not a camera's frame) is an error."""
    with caplog.at_level(logging.WARNING):
        read_frames(_write_video_of(kind, tmp_path / "ok", random_frames((3, 48, 160))), 32)
    assert caplog.text == ""  # 10:3, an ultrawide camera
    wide = _write_video_of(kind, tmp_path / "wide", random_frames((3, 32, 160)))
    with caplog.at_level(logging.WARNING):
        assert read_frames(wide, 32).shape == (3, 32, 32)
    assert f"{wide}: frames are 160x32 (5:1)" in caplog.text
    tall = _write_video_of(kind, tmp_path / "tall", random_frames((3, 504, 24)))
    with pytest.raises(VideoReadError) as error:
        read_frames(tall, 32)
    assert_one_line_naming(error, tall)
    assert "24x504 (21:1)" in str(error.value)


@pytest.mark.parametrize(("height", "width", "size", "factor"), [
    (720, 1280, 225, 2), (1080, 1920, 225, 2), (720, 1280, 64, 4), (1080, 1920, 64, 8),
    (721, 1280, 64, 1), (480, 640, 64, 1), (240, 360, 64, 1), (225, 225, 225, 1)])
def test_a_large_frame_is_reduced_by_a_whole_factor_that_keeps_the_gap(
        height: int, width: int, size: int, factor: int) -> None:
    assert _reduction(height, width, size) == factor


def _area(frames: np.ndarray, size: int) -> np.ndarray:
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])


def test_frames_of_640x480_or_fewer_pixels_get_one_area_resize() -> None:
    for shape in ((240, 360), (480, 640)):
        frames = np.random.default_rng(0).integers(0, 256, (3, *shape), dtype=np.uint8)
        for size in (225, 64):
            assert np.array_equal(resize_frames(frames, size), _area(frames, size))


def test_resizing_a_large_frame_in_two_steps_stays_within_a_gray_level_of_one() -> None:
    noise = np.random.default_rng(1).normal(128, 40, (2, 720, 1280)).astype(np.float32)
    frames = np.stack([np.clip(cv2.GaussianBlur(f, (0, 0), 3), 0, 255) for f in noise])
    frames = frames.astype(np.uint8)
    for size in (225, 64):
        difference = np.abs(resize_frames(frames, size).astype(int) - _area(frames, size))
        assert difference.max() <= 1
