"""Whole-video hold-out: the held-out videos calibrate and never reach training."""

import numpy as np
import pytest

from convlstm_ae.data.cache import CachedVideos
from convlstm_ae.data.clips import ClipDataset, held_out_videos
from convlstm_ae.errors import ConfigError
from convlstm_ae.pipeline.train import default_holdout_videos, split_videos
from media import write_frames


def test_held_out_videos_are_spread_over_the_footage():
    assert held_out_videos(16, 4) == [3, 7, 11, 15]
    assert held_out_videos(5, 1) == [4]
    assert [default_holdout_videos(n) for n in (1, 3, 4, 12, 16)] == [0, 0, 1, 3, 4]
    with pytest.raises(ConfigError, match=r"--holdout-videos must lie in \[1, 3\]"):
        held_out_videos(4, 4)


def test_no_training_clip_holds_a_frame_of_a_held_out_video(tmp_path):
    rng = np.random.default_rng(0)
    folders = []
    for index in range(8):  # held out: videos 4 and 8, whose frames are all 255
        value = 255 if index in (3, 7) else None
        frames = [np.full((32, 32), value, np.uint8) if value else
                  rng.integers(0, 200, (32, 32), dtype=np.uint8) for _ in range(30)]
        folders.append(write_frames(tmp_path / f"v{index + 1}", frames))
    videos = CachedVideos(folders, 32, tmp_path / "cache", progress=False)
    training, held, names = split_videos(videos, 2)
    assert names == ["v4", "v8"] and len(training) == 6
    assert all((frames == 255).all() for frames in held)
    dataset = ClipDataset(training, clip_length=4, strides=(1, 2, 3), frame_size=32)
    videos_seen = {dataset.clip_indices(g)[0] for g in range(4 * dataset.num_clips)}
    assert videos_seen == set(range(6))  # every training video, through the subset
    seen = np.stack([dataset[g].numpy() for g in range(4 * dataset.num_clips)])
    assert seen.max() < 255
