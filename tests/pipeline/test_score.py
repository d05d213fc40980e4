"""The score table: written whole or not at all, read back as written."""

import logging
from pathlib import Path

import numpy as np
import pytest

from convlstm_ae.atomic import atomic_path
from convlstm_ae.config import ScoringConfig
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.pipeline.score import (
    open_scorer,
    read_inputs,
    read_score_table,
    score_summary,
    score_video,
    write_score_table,
)
from media import clip, random_frames, with_frame_rate, write_avi
from test_cli import read_scores, run_cli

MODEL = Path(__file__).resolve().parents[2] / "docs" / "results" / "ped2-cpu-live" / "model"


def _columns(n: int, offset: float = 0.0) -> dict[str, np.ndarray]:
    return {"error": np.arange(n) + offset, "patch_error": np.arange(n) / 2,
            "history": np.arange(n) % 10}


def test_score_table_round_trip(tmp_path):
    path = tmp_path / "out" / "scores.csv"
    rows = write_score_table(path, [("a", _columns(3)), ("b", _columns(2, 0.5))], Path("in"))
    assert rows == 5
    table = read_score_table(path)
    assert list(table) == ["a", "b"]
    np.testing.assert_allclose(table["b"]["error"], [0.5, 1.5])
    np.testing.assert_allclose(table["a"]["history"], [0, 1, 2])


def test_a_failed_or_empty_table_leaves_no_file(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("an older table\n")

    def failing():
        yield "a", _columns(3)
        raise VideoReadError("clip.avi: corrupt")

    with pytest.raises(VideoReadError, match="corrupt"):
        write_score_table(path, failing(), Path("in"))
    assert path.read_text() == "an older table\n"
    with pytest.raises(VideoReadError, match="in: no readable video"):
        write_score_table(path, [], Path("in"))
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


@pytest.mark.parametrize(("text", "problem"), [
    ("video,frame,error,patch_error\na,0,x,1\n", "scores.csv: line 2: values are not numbers"),
    ("video,frame,error\n", "scores.csv: missing column"),
    ("video,frame,error,patch_error\na,0,nan,1\n", "scores.csv: line 2: NaN or infinite values"),
    ("video,frame,error,patch_error\n", "scores.csv: holds no scored frames"),
])
def test_bad_tables_name_the_file(tmp_path, text, problem):
    path = tmp_path / "scores.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        read_score_table(path)


def test_atomic_path_renames_on_success_and_cleans_up_on_error(tmp_path):
    with atomic_path(tmp_path / "f.txt") as temporary:
        temporary.write_text("whole")
    assert (tmp_path / "f.txt").read_text() == "whole"
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "g.txt") as temporary:
        temporary.write_text("half")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_the_summary_names_the_scheme_and_skips_frames_short_of_its_promised_history():
    history = np.array([0, 1, 2, 5, 6, 7, 5, 6])  # overlap, T' = 10: 5 frames promised
    columns = {"error": np.zeros(8), "history": history, "fps": np.full(8, 10.0),
               "regularity": np.array([0.9, 0.0, 0.1, 0.8, 0.3, 0.9, 0.7, 0.6]),
               "calibrated_error": np.array([0, 0, 0, 1, 3, 0.5, 0, 0.0]),
               "alarm": np.array([0, 0, 0, 0, 1, 0, 0, 0])}
    line = score_summary(columns, ScoringConfig(t_prime=10, windows="overlap"))
    assert line == ("8 frames at 10 fps; overlap windows (T' 10): min regularity at frame 4; "
                    "highest calibrated score 3 at frame 4, 1 alarm frame(s)")
    reset = score_summary({k: v for k, v in columns.items() if k != "alarm"
                           and k != "calibrated_error"}, ScoringConfig(t_prime=10))
    assert reset == "8 frames at 10 fps; reset windows (T' 10): min regularity at frame 1"


def test_a_video_no_longer_than_its_sliding_window_warns_and_scores_as_reset(tmp_path,
                                                                            caplog):
    """10 frames under sliding windows of T' = 10 score as one reset window would; Eq. 4's
    range comes from all of them (not from the one frame with 9 frames of history, which
    made every s(t) 1), and a warning names the video and the frames the scheme needs."""
    video = tmp_path / "ten.npy"
    np.save(video, random_frames((10, 64, 64)))
    sliding = open_scorer(MODEL, device="cpu", backend="torch", t_prime=10, windows="sliding")
    with caplog.at_level(logging.WARNING):
        (_, frames, _), = read_inputs(video, 64, scoring=sliding.scoring)
    assert f"{video}: 10 frame(s), fewer than the 11 that sliding windows of T' 10" \
        in caplog.text
    regularity = score_video(sliding, frames).columns["regularity"]
    assert regularity.min() == 0 and regularity.max() == 1
    reset = open_scorer(MODEL, device="cpu", t_prime=10, windows="reset", explain=False)
    np.testing.assert_allclose(regularity, score_video(reset, frames).columns["regularity"],
                               rtol=1e-5, atol=1e-6)
    caplog.clear()
    np.save(video, random_frames((11, 64, 64)))
    with caplog.at_level(logging.WARNING):
        list(read_inputs(video, 64, scoring=sliding.scoring))
        list(read_inputs(video, 64, scoring=reset.scoring))
    assert caplog.text == ""


@pytest.mark.parametrize(("fps", "warned"), [(25, True), (10, False)])
def test_score_scores_every_frame_of_a_video_faster_than_its_model_and_says_so(
        tmp_path, release_tiny, fps, warned):
    """A 25 fps video on a 10 fps model: every frame in the table, and one line saying
    that watch and calibrate score at most 10 a second of it; a 10 fps one: no line."""
    model = with_frame_rate(release_tiny(tmp_path / "tiny"), tmp_path / "model", 10.0)
    video = write_avi(tmp_path / "cam.avi", clip(30, noisy=()), fps=fps)
    code, _, err = run_cli("score", model, video, "--out", tmp_path / "scores.csv")
    assert code == 0, err
    assert len(read_scores(tmp_path / "scores.csv")[1]) == 30
    line = ("cam: 25 fps, scored at every frame; watch and calibrate score it at most at the "
            "model's 10 fps")
    assert err.splitlines() == ([line] if warned else [])
