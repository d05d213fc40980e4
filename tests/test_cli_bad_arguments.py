"""Every bad argument is checked before any work starts: exit code 1, one line naming the
flag or the file, no traceback, and nothing trained or written."""

import os
import shutil

import pytest
import torch

from test_cli import assert_user_error, chain, run_cli  # noqa: F401 (chain is a fixture)


def _train(paths, out, *extra):
    return ["train", "--data", paths["data"] / "train.npz", "--out", out, "--preset", "tiny",
            "--max-steps", 2, "--num-workers", 0, "--batch-size", 2, *extra]


BAD_TRAINING = {
    "--batch-size 0": (["--batch-size", 0], "batch_size"),
    "--batch-size -2": (["--batch-size", -2], "batch_size"),
    "--learning-rate -1": (["--learning-rate", -1], "learning_rate"),
    "--learning-rate inf": (["--learning-rate", "inf"], "learning_rate"),
    "--seed -1": (["--seed", -1], "seed"),
    "--devices 0": (["--devices", 0], "--devices"),
    "--devices -1": (["--devices", -1], "--devices"),
    "--num-workers -1": (["--num-workers", -1], "num_workers"),
    "--max-steps 0": (["--max-steps", 0], "max_steps"),
    "--max-steps -1": (["--max-steps", -1], "max_steps"),
    "--checkpoint-every 0": (["--checkpoint-every", 0], "checkpoint_every"),
    "--quantile 2": (["--quantile", 2], "quantile"),
    "--holdout-fraction 1.5": (["--holdout-fraction", 1.5], "holdout fraction"),
    "--holdout-fraction nan": (["--holdout-fraction", "nan"], "holdout fraction"),
    "--max-steps 10**23": (["--max-steps", 10**23], "max_steps"),
    "--t-prime 10**20": (["--t-prime", 10**20], "--t-prime: must be in [1, 1,000,000]"),
    "--t-prime 0": (["--t-prime", 0], "--t-prime"),  # argparse's error, on one line too
    "--seed abc": (["--seed", "abc"], "argument --seed: invalid int value"),
    "--fps 0": (["--fps", 0], "--fps"),
    "--fps inf": (["--fps", "inf"], "--fps"),
}


@pytest.mark.parametrize("case", list(BAD_TRAINING))
def test_bad_training_arguments_fail_before_training(chain, tmp_path, case):  # noqa: F811
    extra, named = BAD_TRAINING[case]
    code, _, err = run_cli(*_train(chain, tmp_path / "run", *[str(v) for v in extra]))
    assert_user_error(code, err, named)
    assert not (tmp_path / "run" / "model").exists()
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_output_paths_that_cannot_be_written(chain, tmp_path):  # noqa: F811
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    code, _, err = run_cli(*_train(chain, a_file))
    assert_user_error(code, err, a_file, "not a folder")
    code, _, err = run_cli("score", chain["model"], chain["data"] / "appearance.npz",
                           "--out", tmp_path, "--device", "cpu")
    assert_user_error(code, err, tmp_path, "is a folder")
    code, _, err = run_cli("evaluate", chain["scores"], "--labels",
                           chain["data"] / "appearance.npz", "--out", a_file)
    assert_user_error(code, err, a_file)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = run_cli(*_train(chain, locked / "run"))
        assert_user_error(code, err, "locked")


@pytest.mark.parametrize("device", ["tpu", "cuda:x"] + ([] if torch.cuda.is_available()
                                                       else ["cuda"]))
def test_unknown_or_missing_devices(chain, tmp_path, device):  # noqa: F811
    code, _, err = run_cli("score", chain["model"], chain["data"] / "appearance.npz",
                           "--out", tmp_path / "s.csv", "--device", device)
    assert_user_error(code, err, "--device")
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other preset"])
def test_resume_from_a_bad_checkpoint(chain, tmp_path, damage):  # noqa: F811
    run = tmp_path / "run"
    shutil.copytree(chain["run"] / "checkpoints", run / "checkpoints")
    last = run / "checkpoints" / "last.ckpt"
    if damage == "truncated":
        last.write_bytes(last.read_bytes()[:1000])
    elif damage == "garbage":
        last.write_bytes(os.urandom(5000))
    args = _train(chain, run, "--resume")
    if damage == "other preset":
        args[args.index("tiny")] = "conv-ae-tiny"
    code, _, err = run_cli(*args)
    assert_user_error(code, err, last)


@pytest.mark.parametrize("extra, named", [(["--fps", 0], "--fps"), (["--fps", "nan"], "--fps"),
                                          (["--plot-videos", -1], "--plot-videos")])
def test_bad_evaluation_arguments(chain, tmp_path, extra, named):  # noqa: F811
    code, _, err = run_cli("evaluate", chain["scores"], "--labels",
                           chain["data"] / "appearance.npz", "--out", tmp_path / "ev", *extra)
    assert_user_error(code, err, named)
    assert not (tmp_path / "ev" / "metrics.json").exists()
