"""Tests of the decoded-frame cache (data/cache.py).

Sources are written into ``tmp_path``: a folder of PNG frames, an MJPG ``.avi`` and a
``.npy`` array, each of random pixels. A decode is detected by wrapping
``video_io.read_frames``, which the cache calls through the module.
"""

import os
import pickle
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from tqdm import tqdm

from convlstm_ae import progress
from convlstm_ae.data import video_io
from convlstm_ae.data.cache import CachedVideos, cache_key, cached_frames
from convlstm_ae.data.clips import ClipDataset
from convlstm_ae.errors import ConfigError, VideoReadError
from media import random_frames, write_avi, write_frames

NUM_FRAMES = 10
WIDTH, HEIGHT = 40, 30
SIZE = 32  # cached frame size
FRAMES = random_frames((NUM_FRAMES, HEIGHT, WIDTH))


def write_npy(path: Path, frames: np.ndarray) -> Path:
    np.save(path, frames)
    return path


WRITERS = {"folder": (write_frames, "frames"), "avi": (write_avi, "v.avi"),
           "npy": (write_npy, "v.npy")}


@pytest.fixture(params=sorted(WRITERS))
def source(request, tmp_path) -> Path:
    write, name = WRITERS[request.param]
    return write(tmp_path / name, FRAMES)


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_frames(tmp_path / "frames", FRAMES)


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def decodes(monkeypatch) -> list[Path]:
    """The sources read_frames is called on, in order."""
    calls = []
    read_frames = video_io.read_frames

    def counting(path, frame_size):
        calls.append(Path(path))
        return read_frames(path, frame_size)

    monkeypatch.setattr(video_io, "read_frames", counting)
    return calls


def forbid_decoding(monkeypatch) -> None:
    def boom(path, frame_size):
        raise AssertionError(f"decoded {path} although it is cached")

    monkeypatch.setattr(video_io, "read_frames", boom)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def touch_later(path: Path) -> None:
    """Move the mtime 10 s ahead: no dependence on the clock's granularity."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))


def test_first_call_writes_one_file_with_the_frames_read_frames_gives(source, cache_dir):
    frames = cached_frames(source, SIZE, cache_dir)
    assert files(cache_dir) == [f"{cache_key(source, SIZE)}.npy"]
    assert isinstance(frames, np.memmap) and not frames.flags.writeable
    assert frames.dtype == np.uint8 and frames.shape == (NUM_FRAMES, SIZE, SIZE)
    np.testing.assert_array_equal(frames, video_io.read_frames(source, SIZE))


def test_second_call_maps_the_cache_without_decoding(source, cache_dir, monkeypatch):
    first = np.array(cached_frames(source, SIZE, cache_dir))
    before = files(cache_dir)
    forbid_decoding(monkeypatch)
    second = cached_frames(source, SIZE, cache_dir)
    assert files(cache_dir) == before
    np.testing.assert_array_equal(second, first)


def test_touching_the_source_changes_the_key_and_decodes_again(source, cache_dir, decodes):
    cached_frames(source, SIZE, cache_dir)
    key = cache_key(source, SIZE)
    touch_later(next(source.iterdir()) if source.is_dir() else source)
    assert cache_key(source, SIZE) != key
    cached_frames(source, SIZE, cache_dir)
    assert decodes == [source, source]
    assert len(files(cache_dir)) == 2


def test_a_changed_frame_is_decoded_again(folder, cache_dir):
    old = np.array(cached_frames(folder, SIZE, cache_dir))
    frame = folder / "003.png"
    assert cv2.imwrite(str(frame), 255 - FRAMES[3])
    touch_later(frame)
    new = cached_frames(folder, SIZE, cache_dir)
    np.testing.assert_array_equal(new, video_io.read_frames(folder, SIZE))
    assert not np.array_equal(new[3], old[3])
    np.testing.assert_array_equal(new[:3], old[:3])


def test_removing_a_frame_changes_the_key(folder):
    key = cache_key(folder, SIZE)
    (folder / "009.png").unlink()
    assert cache_key(folder, SIZE) != key


def test_swapping_two_frames_changes_the_key(folder):
    """Same count, sizes and file mtimes: only the folder's own mtime tells."""
    past = folder.stat().st_mtime_ns - 10**11
    os.utime(folder, ns=(past, past))
    key = cache_key(folder, SIZE)
    (folder / "001.png").rename(folder / "tmp.png")
    (folder / "002.png").rename(folder / "001.png")
    (folder / "tmp.png").rename(folder / "002.png")
    assert cache_key(folder, SIZE) != key


def test_key_is_stable_and_depends_on_frame_size_and_slice(folder):
    keys = {cache_key(folder, SIZE), cache_key(folder, SIZE + 1), cache_key(folder, SIZE, 1),
            cache_key(folder, SIZE, 0, 5), cache_key(folder, SIZE, 1, 5)}
    assert len(keys) == 5
    assert cache_key(folder, SIZE) == cache_key(folder / ".." / folder.name, SIZE)


@pytest.mark.parametrize(("start", "stop"), [(2, 7), (3, None), (0, NUM_FRAMES), (9, 10)])
def test_slices_cache_frames_start_to_stop(source, cache_dir, start, stop):
    frames = cached_frames(source, SIZE, cache_dir, start=start, stop=stop)
    np.testing.assert_array_equal(frames, video_io.read_frames(source, SIZE)[start:stop])
    assert files(cache_dir) == [f"{cache_key(source, SIZE, start, stop)}.npy"]


def test_stop_past_the_end_names_the_source_and_both_numbers(folder, cache_dir):
    with pytest.raises(VideoReadError) as error:
        cached_frames(folder, SIZE, cache_dir, start=2, stop=NUM_FRAMES + 1)
    message = str(error.value)
    assert message.startswith(str(folder)) and "\n" not in message
    assert str(NUM_FRAMES + 1) in message and f"{NUM_FRAMES} frames" in message
    assert not cache_dir.exists() or files(cache_dir) == []


def test_start_past_the_end_is_a_video_read_error(folder, cache_dir):
    with pytest.raises(VideoReadError, match=f"starts at {NUM_FRAMES}"):
        cached_frames(folder, SIZE, cache_dir, start=NUM_FRAMES)


@pytest.mark.parametrize(("start", "stop"), [(-1, None), (4, 4), (5, 2)])
def test_empty_or_negative_slice_is_a_config_error(folder, cache_dir, start, stop):
    with pytest.raises(ConfigError, match=str(folder)):
        cached_frames(folder, SIZE, cache_dir, start=start, stop=stop)


def test_a_crash_while_writing_leaves_neither_final_nor_temporary_file(
    folder, cache_dir, monkeypatch
):
    def crash_midway(file, array, *args, **kwargs):
        file.write(b"\x93NUMPY" + bytes(100))  # a partial header and some data
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(np, "save", crash_midway)
        with pytest.raises(KeyboardInterrupt):
            cached_frames(folder, SIZE, cache_dir)
    assert not (cache_dir / f"{cache_key(folder, SIZE)}.npy").exists()
    assert files(cache_dir) == []
    np.testing.assert_array_equal(cached_frames(folder, SIZE, cache_dir),
                                  video_io.read_frames(folder, SIZE))


@pytest.fixture
def three_videos(tmp_path) -> list:
    """A folder, an .avi and frames 2..8 of a .npy array."""
    return [write_frames(tmp_path / "frames", FRAMES), write_avi(tmp_path / "v.avi", FRAMES),
            (write_npy(tmp_path / "v.npy", FRAMES), 2, 9)]


def test_cached_videos_is_a_frame_source_for_clip_dataset(three_videos, cache_dir):
    videos = CachedVideos(three_videos, SIZE, cache_dir, progress=False)
    assert len(videos) == 3
    assert [videos.num_frames(v) for v in range(3)] == [NUM_FRAMES, NUM_FRAMES, 7]
    npy = video_io.read_frames(three_videos[2][0], SIZE)
    np.testing.assert_array_equal(videos.video(2), npy[2:9])
    frames = videos.frames(2, np.array([0, 3, 6]))
    assert type(frames) is np.ndarray and frames.flags.writeable
    np.testing.assert_array_equal(frames, npy[[2, 5, 8]])

    dataset = ClipDataset(videos, clip_length=4, strides=(1, 2), frame_size=SIZE)
    for g in range(0, len(dataset), 7):
        item = dataset[g]
        assert item.shape == (4, 1, SIZE, SIZE) and item.dtype == torch.uint8
        video, indices = dataset.clip_indices(g)
        np.testing.assert_array_equal(item[:, 0].numpy(), videos.video(video)[indices])


def test_cached_videos_skips_cached_sources(three_videos, cache_dir, monkeypatch, decodes):
    CachedVideos(three_videos[:2], SIZE, cache_dir, progress=False)
    CachedVideos(three_videos, SIZE, cache_dir, progress=False)
    assert decodes == [three_videos[0], three_videos[1], three_videos[2][0]]
    forbid_decoding(monkeypatch)
    assert len(CachedVideos(three_videos, SIZE, cache_dir, progress=False)) == 3


def test_cached_videos_pickles_by_path_and_maps_again(three_videos, cache_dir):
    videos = CachedVideos(three_videos, SIZE, cache_dir, progress=False)
    indices = np.array([1, 2, 4])
    expected = [videos.frames(v, indices) for v in range(3)]
    data = pickle.dumps(videos)
    assert len(data) < sum(e.nbytes for e in expected)  # no frames in the pickle
    clone = pickle.loads(data)
    assert clone._videos == [None, None, None]
    for v in range(3):
        np.testing.assert_array_equal(clone.frames(v, indices), expected[v])
    assert all(isinstance(m, np.memmap) for m in clone._videos)


def test_cached_videos_in_spawned_dataloader_workers(three_videos, cache_dir):
    videos = CachedVideos(three_videos, SIZE, cache_dir, progress=False)
    dataset = ClipDataset(videos, clip_length=4, strides=(1,), frame_size=SIZE)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=1,
                                         multiprocessing_context="spawn")
    batch = next(iter(loader))
    torch.testing.assert_close(batch, torch.stack([dataset[g] for g in range(4)]))


def test_progress_bar_shows_frames_per_second_only_while_decoding(
    three_videos, cache_dir, capsys, monkeypatch
):
    CachedVideos(three_videos[:1], SIZE, cache_dir, progress=True)
    assert capsys.readouterr().err == ""  # the library is silent until asked for progress
    monkeypatch.setattr(progress, "_factory", partial(tqdm, file=sys.stderr, mininterval=0))
    CachedVideos(three_videos[1:2], SIZE, cache_dir, progress=False)
    assert capsys.readouterr().err == ""
    CachedVideos(three_videos, SIZE, cache_dir, progress=True)
    err = capsys.readouterr().err
    assert "frame/s" in err and f"{7}frame" in err
    forbid_decoding(monkeypatch)
    CachedVideos(three_videos, SIZE, cache_dir, progress=True)
    assert capsys.readouterr().err == ""


def test_sigkill_while_caching_leaves_nothing_corrupt(tmp_path):
    """A process killed (SIGKILL: no cleanup runs) at several moments of writing a cache:
    every file under a final name loads whole, and the next run finishes the cache."""
    video = tmp_path / "long.npy"
    np.save(video, random_frames((1500, 120, 160)))
    expected = video_io.read_frames(video, 48)
    script = ("import sys; from convlstm_ae.data.cache import CachedVideos; "
              "CachedVideos([sys.argv[1]], 48, sys.argv[2], progress=False)")
    for trial, delay in enumerate((0.3, 0.8, 1.5, 3.0)):
        cache = tmp_path / f"cache{trial}"
        child = subprocess.Popen([sys.executable, "-c", script, str(video), str(cache)])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        for path in cache.glob("*.npy"):  # temporary files end in .tmp and are never read
            np.testing.assert_array_equal(np.load(path), expected)
        videos = CachedVideos([video], 48, cache, progress=False)
        np.testing.assert_array_equal(videos.video(0), expected)
