"""The shipped demo model and the demo video with anomalies in its second half."""

import numpy as np
import pytest

from convlstm_ae.data.video_io import read_frames
from convlstm_ae.demo import demo_model_dir, write_demo_video
from convlstm_ae.demo.video import demo_frames
from convlstm_ae.errors import ConfigError
from convlstm_ae.pipeline.score import open_scorer, score_video
from convlstm_ae.release_files import load_calibration, read_model_config

FPS = 25


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.avi"
    events = write_demo_video(path, seconds=8, fps=FPS)
    return path, events


def test_the_shipped_model_is_a_small_calibrated_tiny_model():
    folder = demo_model_dir()
    assert read_model_config(folder)["model"]["preset"] == "tiny"
    assert load_calibration(folder)["frame"].quantile == 0.99
    assert sum(f.stat().st_size for f in folder.iterdir()) < 5_000_000


def test_the_demo_video_holds_a_motion_and_an_appearance_event_in_its_second_half(demo):
    path, events = demo
    frames = read_frames(path, 64)
    assert frames.shape == (200, 64, 64)
    assert sorted(e.kind for e in events) == ["appearance", "motion"]
    assert all(100 <= e.first < e.stop <= 200 for e in events)
    written, _ = demo_frames(10)
    assert np.abs(frames.astype(int) - written).mean() < 3  # MJPG, read back at 64 px


def test_the_calibrated_score_is_higher_on_the_anomalous_half(demo):
    path, events = demo
    scorer = open_scorer(demo_model_dir(), device="cpu")
    columns = score_video(scorer, read_frames(path, 64)).columns
    calibrated = columns["calibrated_error"]
    abnormal = np.concatenate([np.arange(e.first, e.stop) for e in events])
    normal_half = calibrated[:100].mean()
    assert calibrated[100:].mean() > normal_half
    assert calibrated[abnormal].mean() > normal_half + 1


def test_a_demo_video_too_short_for_both_events(tmp_path):
    with pytest.raises(ConfigError, match="at least 4 sequences"):
        write_demo_video(tmp_path / "short.avi", seconds=2)
