"""What training reads (pipeline/train.py, ``training_source``): the footage and its frame
rate, which the released model records."""

import numpy as np
import pytest

from convlstm_ae.data.moving_mnist import generate
from convlstm_ae.pipeline.train import training_source
from media import random_frames, write_avi, write_frames


def ucsd(root):
    """UCSD Ped2's layout, whose videos are frame folders: the layout says 10 fps."""
    for folder in ("Train/Train001", "Test/Test001"):
        write_frames(root / folder, random_frames((12, 24, 32)), "{:03d}.tif", first=1)
    return root


def shanghaitech(root):
    """ShanghaiTech's layout: 24 fps, whatever its training video's header says (25)."""
    write_avi(root / "training/videos/01_001.avi", random_frames((12, 24, 32)), fps=25)
    write_frames(root / "testing/frames/01_0014", random_frames((12, 24, 32)))
    return root


def moving_mnist(root):
    digits = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    path = root / "train.npz"
    root.mkdir()
    generate("train", 2, digits, frame_size=64).save(path)
    return path


@pytest.mark.parametrize(("make", "rate"), [(ucsd, 10.0), (shanghaitech, 24.0),
                                            (moving_mnist, 25.0)])
def test_training_footage_comes_with_its_frame_rate(tmp_path, make, rate):
    source, frame_rate = training_source(make(tmp_path / "data"), 64, tmp_path / "cache")
    assert frame_rate == rate and len(source) >= 1


def ucsd_training_folder(root):
    """The folder of UCSD's training clips alone (``Train/``), trained on as a plain folder:
    its clips still say 10 fps."""
    return ucsd(root) / "Train"


def videos_of_their_own(root):
    """A folder of one's own holding a 15 fps video and a frame folder (which states no
    rate): the video's rate."""
    write_frames(root / "a_frames", random_frames((12, 24, 32)))
    write_avi(root / "b.avi", random_frames((12, 24, 32)), fps=15)
    return root


@pytest.mark.parametrize(("make", "rate"), [(ucsd_training_folder, 10.0),
                                            (videos_of_their_own, 15.0)])
def test_a_plain_folder_takes_the_rate_its_videos_state(tmp_path, make, rate, caplog):
    source, frame_rate = training_source(make(tmp_path / "data"), 64, tmp_path / "cache")
    assert frame_rate == rate and len(source) >= 1
    assert "states no frame rate" not in caplog.text and "--fps" not in caplog.text


def test_frame_folders_of_ones_own_are_taken_as_25_fps_and_warned_of(tmp_path, caplog):
    for name in ("monday", "tuesday"):
        write_frames(tmp_path / "data" / name, random_frames((12, 24, 32)))
    source, frame_rate = training_source(tmp_path / "data", 64, tmp_path / "cache")
    assert frame_rate == 25.0
    assert "state no frame rate, so they are taken as 25 fps" in caplog.text
    assert "--fps" in caplog.text
    caplog.clear()
    source, frame_rate = training_source(tmp_path / "data", 64, tmp_path / "cache", fps=12.5)
    assert frame_rate == 12.5 and "--fps" not in caplog.text


def test_a_frame_array_states_no_rate_and_is_warned_of(tmp_path, caplog):
    path = tmp_path / "frames.npy"
    np.save(path, random_frames((12, 24, 32)))
    source, frame_rate = training_source(path, 64, tmp_path / "cache")
    assert frame_rate is None and "--fps" in caplog.text
    caplog.clear()
    assert training_source(path, 64, tmp_path / "cache", fps=8)[1] == 8
    assert "--fps" not in caplog.text
