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
