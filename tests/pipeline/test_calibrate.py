"""`convlstm-ae calibrate`: refit a released model's calibration on new normal footage."""

import csv
import json
import logging

import numpy as np
import pytest

from convlstm_ae.pipeline.calibrate import calibrate_model, read_footage
from convlstm_ae.pipeline.score import read_inputs
from media import with_frame_rate, write_avi, write_frames
from test_cli import assert_user_error, run_cli


def rolling_footage(folder, seed: int, videos: int = 2, frames: int = 60, noise: int = 0):
    """Frame folders of a random texture scrolling sideways, plus pixel noise."""
    rng = np.random.default_rng(seed)
    for index in range(videos):
        base = rng.integers(0, 200, (64, 64), dtype=np.uint8)
        write_frames(folder / f"cam_{index}", [
            np.clip(np.roll(base, t, axis=1) + rng.integers(0, noise + 1, (64, 64)), 0, 255)
            .astype(np.uint8) for t in range(frames)])
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory, release_tiny):
    """A tiny untrained model, calibrated on one camera's footage."""
    root = tmp_path_factory.mktemp("calibrate")
    model_dir = release_tiny(root / "model")
    first = rolling_footage(root / "first", seed=1)
    calibrate_model(model_dir, [f for _, f, _ in read_inputs(first, 64)])
    return {"dir": model_dir, "root": root, "new": rolling_footage(root / "new", 2, noise=60)}


def test_calibrate_replaces_the_calibration_keeps_the_old_and_is_idempotent(model, tmp_path):
    model_dir = tmp_path / "model"
    run_cli("calibrate", model["dir"], model["new"], "--out", model_dir)  # a fresh copy
    old = (model["dir"] / "calibration.json").read_bytes()
    assert (model_dir / "calibration.json").read_bytes() != old
    assert (model_dir / "calibration.previous.json").read_bytes() == old
    assert (model["dir"] / "calibration.json").read_bytes() == old  # --out left it alone
    assert not (model["dir"] / "calibration.previous.json").exists()
    new = (model_dir / "calibration.json").read_bytes()
    code, out, err = run_cli("calibrate", model_dir, model["new"])
    assert code == 0, err
    assert "120 normal frames from 2 video(s)" in out and "0: 12, 1: 12" in out
    assert "above the old threshold" in out and "unchanged in" in out
    assert (model_dir / "calibration.json").read_bytes() == new
    assert (model_dir / "calibration.previous.json").read_bytes() == old


def test_calibrate_in_place_then_score_uses_the_new_threshold(model, tmp_path):
    model_dir = tmp_path / "model"
    run_cli("calibrate", model["dir"], model["new"], "--out", model_dir)
    (model_dir / "calibration.json").write_bytes((model["dir"] / "calibration.json").read_bytes())
    (model_dir / "calibration.previous.json").unlink()
    code, out, err = run_cli("calibrate", model_dir, model["new"], "--quantile", 0.95)
    assert code == 0, err
    assert "written to" in out and "quantile 0.95" in out
    calibration = json.loads((model_dir / "calibration.json").read_text())["frame"]
    assert calibration["quantile"] == 0.95
    assert (model_dir / "calibration.previous.json").is_file()
    scores = tmp_path / "scores.csv"
    code, _, err = run_cli("score", model_dir, model["new"] / "cam_0", "--out", scores)
    assert code == 0, err
    with open(scores, newline="") as handle:
        rows = list(csv.DictReader(handle))
    calibrated = np.array([float(r["calibrated_error"]) for r in rows])
    alarms = np.array([r["alarm"] == "1" for r in rows])
    np.testing.assert_array_equal(alarms, calibrated > calibration["threshold"] + 1e-5 * abs(
        calibration["threshold"]))
    assert abs(calibrated.mean()) < 1  # standardised on this very footage
    assert alarms.mean() <= 0.1


def test_bad_arguments_are_one_line_errors(model, tmp_path, release_tiny):
    short = write_frames(tmp_path / "short", [np.zeros((64, 64), np.uint8)] * 30)
    (tmp_path / "empty").mkdir()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("x")
    unbounded = release_tiny(tmp_path / "unbounded", t_prime=None)
    cases = [
        (("calibrate", tmp_path / "nomodel", model["new"]), "nomodel"),
        (("calibrate", model["dir"], tmp_path / "absent"), "absent"),
        (("calibrate", model["dir"], tmp_path / "empty"), "empty"),
        (("calibrate", model["dir"], short), "30 frames"),
        (("calibrate", model["dir"], model["new"], "--quantile", 1.5), "--quantile"),
        (("calibrate", model["dir"], model["new"], "--quantile", 0), "--quantile"),
        (("calibrate", model["dir"], model["new"], "--out", busy), "busy"),
        (("calibrate", unbounded, model["new"], "--windows", "overlap"),
         "unbounded: overlap windows need a finite T'"),  # its T' is the whole video
        (("calibrate", model["dir"], model["new"], "--rate", -1), "--rate must be 0"),
        (("calibrate", model["dir"], model["new"], "--rate", "nan"), "--rate must be 0"),
        (("calibrate", model["dir"], model["new"], "--fps", 0), "--fps"),
    ]
    before = (model["dir"] / "calibration.json").read_bytes()
    for args, name in cases:
        code, _, err = run_cli(*args)
        assert_user_error(code, err, name)
    assert (model["dir"] / "calibration.json").read_bytes() == before


def test_calibrate_in_place_on_a_read_only_folder_is_refused_before_scoring(model, monkeypatch):
    """A read-only folder or mount (root writes through file modes, so it is simulated)."""
    import convlstm_ae.pipeline.calibrate as calibrate

    before = {p.name: p.read_bytes() for p in model["dir"].iterdir()}
    monkeypatch.setattr(calibrate.os, "access", lambda path, mode: path != model["dir"])
    monkeypatch.setattr(calibrate, "open_scorer", None)  # scoring would be a TypeError
    code, _, err = run_cli("calibrate", model["dir"], model["new"])
    assert_user_error(code, err, model["dir"], "not writable", "--out")
    assert {p.name: p.read_bytes() for p in model["dir"].iterdir()} == before


def test_calibrate_a_model_that_had_no_calibration(model, tmp_path, release_tiny):
    model_dir = release_tiny(tmp_path / "model")
    code, out, err = run_cli("calibrate", model_dir, model["new"] / "cam_0", model["new"] / "cam_1")
    assert code == 0, err
    assert "no previous calibration" in out and "written to" in out
    assert (model_dir / "calibration.json").is_file()
    assert not (model_dir / "calibration.previous.json").exists()


def test_calibrate_for_the_authors_reading_makes_it_the_default_and_watch_refuses_it(
        model, tmp_path):
    authors = tmp_path / "authors"
    code, out, err = run_cli("calibrate", model["dir"], model["new"], "--windows", "overlap",
                             "--error", "sqrt", "--out", authors)
    assert code == 0, err
    assert "scored with overlap windows and sqrt errors (the model's were reset and sum" in out
    assert "was for other windows or errors" in out and "written to" in out
    assert "no calibrated columns" not in out  # that is score's message
    scoring = json.loads((authors / "config.json").read_text())["scoring"]
    assert (scoring["windows"], scoring["error"], scoring["t_prime"]) == ("overlap", "sqrt", 10)
    frame = json.loads((authors / "calibration.json").read_text())["frame"]
    assert (frame["windows"], frame["error"]) == ("overlap", "sqrt")
    scores = tmp_path / "scores.csv"
    # the model's default is now the calibrated scheme: calibrated columns, sqrt errors
    code, _, err = run_cli("score", authors, model["new"] / "cam_0", "--out", scores)
    assert code == 0, err
    with open(scores, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "alarm" in rows[0]
    for row in rows:
        total = float(row["current_term"]) + float(row["previous_term"])
        assert float(row["error"]) == pytest.approx(total**0.5, rel=1e-4)
    code, out, err = run_cli("score", authors, model["new"] / "cam_0", "--out", scores,
                             "--windows", "reset", "--error", "sum")
    assert code == 0 and "no calibrated columns" in out, err
    # watch alarms on the located score, fitted on reset windows whatever the model's
    code, _, err = run_cli("watch", authors, model["new"] / "cam_0", "--out", tmp_path / "l",
                           "--no-realtime")
    assert code == 0, err
    # without it, watch scores reset windows: one line that says how to calibrate a copy
    calibration = json.loads((authors / "calibration.json").read_text())
    del calibration["located"]
    (authors / "calibration.json").write_text(json.dumps(calibration))
    code, _, err = run_cli("watch", authors, model["new"] / "cam_0", "--out", tmp_path / "w")
    assert_user_error(code, err, authors, "calibrated with overlap windows", "--windows reset")
    live = tmp_path / "live"
    code, out, err = run_cli("calibrate", authors, model["new"], "--windows", "reset",
                             "--error", "sum", "--out", live)
    assert code == 0, err
    code, _, err = run_cli("watch", live, model["new"] / "cam_0", "--out", tmp_path / "w",
                           "--no-realtime")
    assert code == 0, err


def test_a_calibration_written_without_its_scheme_change_gives_no_calibrated_columns(
        model, tmp_path):
    """Calibrate writes the calibration, then the model's default scheme: stopped between
    the two, the model must not read an overlap calibration as a reset one."""
    authors = tmp_path / "authors"
    run_cli("calibrate", model["dir"], model["new"], "--windows", "overlap", "--out", authors)
    (authors / "config.json").write_bytes((model["dir"] / "config.json").read_bytes())
    scores = tmp_path / "scores.csv"
    code, out, err = run_cli("score", authors, model["new"] / "cam_0", "--out", scores)
    assert code == 0, err
    assert "no calibrated columns: the model was calibrated with overlap windows" in out
    with open(scores, newline="") as handle:
        assert "alarm" not in next(csv.DictReader(handle))


def test_an_installed_design_and_cell_size_stay_the_models_through_recalibration(
        model, tmp_path):
    from convlstm_ae.export.paths import ONNX_SCORE, onnx_path
    from convlstm_ae.pipeline.calibrate import install_located
    from convlstm_ae.release import export_scoring_graph
    from convlstm_ae.release_files import load_calibration, load_scoring_config
    from convlstm_ae.scoring.located import DEFAULT_DESIGN, LocatedDesign, fit_located

    model_dir = tmp_path / "model"
    run_cli("calibrate", model["dir"], model["new"], "--out", model_dir)
    export_scoring_graph(model_dir)
    graph = onnx_path(model_dir, ONNX_SCORE).read_bytes()
    chosen = LocatedDesign("excess", "sum", "frame", 0.5)
    assert chosen != DEFAULT_DESIGN
    rng = np.random.default_rng(0)
    cells = [rng.random((40, 4, 4)) for _ in range(2)]  # 16 px cells of 64 px frames
    histories = [np.minimum(np.arange(40), 9) for _ in range(2)]
    install_located(model_dir, fit_located(cells, histories, chosen, 16, 0.99, ("a", "b")))
    assert load_scoring_config(model_dir).cell_size == 16
    assert onnx_path(model_dir, ONNX_SCORE).read_bytes() != graph  # re-exported: 16 px cells
    assert load_calibration(model_dir)["frame"] is not None  # the others kept
    code, _, err = run_cli("calibrate", model_dir, model["new"])
    assert code == 0, err
    located = load_calibration(model_dir)["located"]
    assert located.design == chosen and located.cell_size == 16
    assert located.statistics.mean.shape[-2:] == (4, 4)
    for backend in ("torch", "onnx"):
        code, _, err = run_cli("score", model_dir, model["new"] / "cam_0", "--backend", backend,
                               "--out", tmp_path / f"{backend}.csv")
        assert code == 0, err
    rows = [list(csv.DictReader(open(tmp_path / f"{b}.csv"))) for b in ("torch", "onnx")]
    np.testing.assert_allclose([float(r["live_score"]) for r in rows[0]],
                               [float(r["live_score"]) for r in rows[1]], rtol=1e-3, atol=1e-4)


def test_the_model_in_memory_calibrates_as_its_released_files(tmp_path, release_tiny):
    """train calibrates with the model it has just trained, not a reload: the same file."""
    import torch

    from convlstm_ae.errors import CheckpointError
    from convlstm_ae.release import load_model

    model_dir = release_tiny(tmp_path / "model")
    videos = [f for _, f, _ in read_inputs(rolling_footage(tmp_path / "normal", seed=3), 64)]
    calibrate_model(model_dir, videos)
    from_files = (model_dir / "calibration.json").read_bytes()
    in_memory = load_model(model_dir)  # stands for training's model
    calibrate_model(model_dir, videos, model=in_memory)
    assert (model_dir / "calibration.json").read_bytes() == from_files
    with torch.no_grad():
        next(in_memory.parameters()).fill_(float("nan"))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        calibrate_model(model_dir, videos, model=in_memory)


def scrolling(frames: int, seed: int = 3) -> np.ndarray:
    """A random texture scrolling sideways, one pixel a frame: uint8 (frames, 64, 64)."""
    base = np.random.default_rng(seed).integers(0, 200, (64, 64), dtype=np.uint8)
    return np.stack([np.roll(base, t, axis=1) for t in range(frames)])


FAST = [k + offset for k in range(0, 50, 5) for offset in (0, 2)]  # 10 of every 25


@pytest.mark.parametrize(("flags", "frames", "line"), [
    ((), 20, "at most at the model's 10 fps, as watch scores it: 20 of 50 frames"),
    (("--rate", 0), 50, None),
    (("--rate", 12.5), 25, "at most at --rate's 12.5 fps, as watch scores it: 25 of 50"),
    (("--fps", 10), 50, None),  # the footage is at the model's rate after all
])
def test_calibrate_scores_the_footage_at_the_models_rate_as_watch_does(
        tmp_path, release_tiny, flags, frames, line):
    """A 10 fps model calibrated on a 25 fps video scores 10 of every 25 frames, those
    watch scores (FAST), as one video of consecutive frames: the calibration is the one
    of a 10 fps video of those frames alone."""
    model = with_frame_rate(release_tiny(tmp_path / "tiny"), tmp_path / "model", 10.0)
    video = scrolling(50)
    fast = write_avi(tmp_path / "fast.avi", video, fps=25)
    code, out, err = run_cli("calibrate", model, fast, "--quantile", 0.95,
                             "--out", tmp_path / "fitted", *flags)
    assert code == 0, err
    assert f"{frames} normal frames from 1 video(s)" in out
    assert (line is None and "footage scored" not in out) or f"footage scored {line}" in out
    if not flags:
        kept = write_avi(tmp_path / "kept.avi", video[FAST], fps=10)
        code, out, err = run_cli("calibrate", model, kept, "--quantile", 0.95,
                                 "--out", tmp_path / "alone")
        assert code == 0, err
        assert "footage scored" not in out
        assert (json.loads((tmp_path / "fitted/calibration.json").read_text())
                == json.loads((tmp_path / "alone/calibration.json").read_text()))


def test_footage_too_short_at_the_models_rate_is_a_one_line_error_naming_rate_0(
        tmp_path, release_tiny):
    model = with_frame_rate(release_tiny(tmp_path / "tiny"), tmp_path / "model", 10.0)
    fast = write_avi(tmp_path / "fast.avi", scrolling(40), fps=25)
    code, _, err = run_cli("calibrate", model, fast, "--quantile", 0.95)
    assert_user_error(code, err, "16 frames of 40 kept at most at 10 fps", "--rate 0",
                      "at least 20")
    assert run_cli("calibrate", model, fast, "--quantile", 0.95, "--rate", 0)[0] == 0


def test_a_video_short_once_thinned_to_the_models_rate_is_warned_of_by_its_frames_kept(
        tmp_path, caplog):
    """A 25 fps video of 20 frames keeps 8 at 10 fps, fewer than a training clip of 10:
    the warning counts the 8 (not the 20, which would be enough); at every frame it has
    enough, and no warning."""
    write_avi(tmp_path / "short.avi", scrolling(20), fps=25)
    with caplog.at_level(logging.WARNING):
        (kept,), names, total = read_footage([tmp_path], 64, clip_length=10, needed=1, rate=10)
    assert (len(kept), names, total) == (8, ["short"], 20)
    assert "short: 8 frame(s) kept of 20 at 25 fps, fewer than the 10 of a training clip" \
        in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        (every,), _, _ = read_footage([tmp_path], 64, clip_length=10, needed=1, rate=None)
    assert len(every) == 20 and "fewer than" not in caplog.text


def test_a_frame_folder_that_states_no_rate_is_taken_as_25_fps_and_named_with_fps(
        tmp_path, release_tiny):
    """Frame folders of one's own state no frame rate: read at 25 fps, a 10 fps model keeps
    10 of every 25 frames. Too few left: one line naming --fps as well as --rate 0;
    enough: a warning per folder naming it and --fps; with --fps 10, every frame and no
    warning."""
    model = with_frame_rate(release_tiny(tmp_path / "tiny"), tmp_path / "model", 10.0)
    for name in ("a", "b"):
        write_frames(tmp_path / "own" / name, scrolling(40))
    code, _, err = run_cli("calibrate", model, tmp_path / "own/a", "--quantile", 0.95)
    assert_user_error(code, err, "16 frames of 40 kept at most at 10 fps", "--rate 0",
                      "--fps gives the rate of footage that states none, taken as 25 fps")
    code, out, err = run_cli("calibrate", model, tmp_path / "own", "--quantile", 0.95,
                             "--out", tmp_path / "assumed")
    assert code == 0, err
    assert "32 normal frames from 2 video(s)" in out
    for name in ("a", "b"):
        assert (f"{name}: states no frame rate, so it is taken as 25 fps and 16 of its 40 "
                "frames are kept at 10 fps; --fps gives its rate") in err
    code, out, err = run_cli("calibrate", model, tmp_path / "own", "--quantile", 0.95,
                             "--fps", 10, "--out", tmp_path / "stated")
    assert code == 0, err
    assert "80 normal frames from 2 video(s)" in out and "states no frame rate" not in err
