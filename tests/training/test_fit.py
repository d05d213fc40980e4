"""The training loop: resume equals an uninterrupted run; checkpoints are atomic."""

import dataclasses
import errno
import functools
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from tqdm import tqdm

from convlstm_ae import progress
from convlstm_ae.errors import CheckpointError
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.release import load_model
from convlstm_ae.release_files import load_frame_rate, read_model_config
from convlstm_ae.training import fit as fit_module
from convlstm_ae.training.fit import TrainingClock, fit
from media import random_frames


@pytest.fixture
def videos(array_videos):
    """A FrameSource of 3 random videos of 9 frames, 32x32."""
    return array_videos(random_frames((3, 9, 32, 32)))


def _configs(preset="tiny", **train):
    model_config, train_config = preset_configs(preset, frame_size=32, clip_length=3)
    fields = dict(batch_size=2, checkpoint_every=2, num_workers=0, log_every=1) | train
    return model_config, dataclasses.replace(train_config, **fields)


def _weights(folder):
    return {k: v.clone() for k, v in load_model(folder).state_dict().items()}


@pytest.mark.parametrize("preset", ["tiny", "caffe"])
def test_resume_matches_uninterrupted_run(tmp_path, preset, videos):
    overrides = dict(encoder_channels=(4, 8, 8), lstm_channels=8) if preset == "caffe" else {}
    model_config, train_config = _configs(preset)
    model_config = dataclasses.replace(model_config, **overrides)
    full = fit(videos, model_config, dataclasses.replace(train_config, max_steps=4),
               tmp_path / "full", progress=False).model_dir
    fit(videos, model_config, dataclasses.replace(train_config, max_steps=2),
        tmp_path / "split", progress=False)
    resumed = fit(videos, model_config, dataclasses.replace(train_config, max_steps=4),
                  tmp_path / "split", resume=True, progress=False).model_dir
    assert read_model_config(full)["steps"] == read_model_config(resumed)["steps"] == 4
    a, b = _weights(full), _weights(resumed)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    # and training did change the weights
    fresh = fit(videos, model_config, dataclasses.replace(train_config, max_steps=1),
                tmp_path / "one", progress=False).model_dir
    assert any(not torch.equal(a[n], _weights(fresh)[n]) for n in a if "weight" in n)


def test_checkpoints_are_written_atomically(tmp_path, videos):
    model_config, train_config = _configs(max_steps=2)
    fit(videos, model_config, train_config, tmp_path, progress=False)
    assert (tmp_path / "checkpoints/last.ckpt").is_file()
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))
    assert (tmp_path / "logs/version_0/metrics.csv").is_file()


def test_resume_needs_a_checkpoint_and_a_run_is_not_overwritten(tmp_path, videos):
    model_config, train_config = _configs(max_steps=1)
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        fit(videos, model_config, train_config, tmp_path, resume=True, progress=False)
    fit(videos, model_config, train_config, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="holds a training run already"):
        fit(videos, model_config, train_config, tmp_path, progress=False)


def test_caffe_preset_subtracts_the_training_mean_frame(tmp_path, videos):
    model_config, train_config = _configs("caffe", max_steps=1)
    model_config = dataclasses.replace(model_config, encoder_channels=(4, 8, 8), lstm_channels=8)
    trained = fit(videos, model_config, train_config, tmp_path, progress=False)
    mean = load_model(trained.model_dir).mean_frame
    torch.testing.assert_close(trained.model.mean_frame, mean, rtol=0, atol=0)  # in memory
    assert mean.shape == (1, 32, 32)
    assert abs(mean.mean().item() - 0.5) < 0.05  # uniform random pixels


def test_snapshots_release_the_weights_of_their_step(tmp_path, videos):
    model_config, train_config = _configs(max_steps=3, snapshot_steps=(1, 3))
    final = fit(videos, model_config, train_config, tmp_path / "run", progress=False).model_dir
    one = fit(videos, model_config, dataclasses.replace(train_config, max_steps=1),
              tmp_path / "one", progress=False).model_dir
    snapshots = tmp_path / "run/snapshots"
    assert sorted(p.name for p in snapshots.iterdir()) == ["step_000001", "step_000003"]
    assert read_model_config(snapshots / "step_000001")["steps"] == 1
    for name, value in _weights(snapshots / "step_000001").items():
        torch.testing.assert_close(value, _weights(one)[name], rtol=0, atol=0, msg=name)
    for name, value in _weights(snapshots / "step_000003").items():
        torch.testing.assert_close(value, _weights(final)[name], rtol=0, atol=0, msg=name)


def test_the_released_models_record_the_training_footages_frame_rate(tmp_path, videos):
    model_config, train_config = _configs(max_steps=1, snapshot_steps=(1,))
    model = fit(videos, model_config, train_config, tmp_path, frame_rate=10.0,
                progress=False).model_dir
    assert load_frame_rate(model) == load_frame_rate(tmp_path / "snapshots/step_000001") == 10.0


class _SignalAt(pl.Callback):
    """Sends ``signum`` to this process when the given step starts, as Ctrl-C would."""

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


class _StepTimer(pl.Callback):
    """A fake clock for TrainingClock that each training step moves ``seconds`` ahead."""

    def __init__(self, seconds: float) -> None:
        self.now, self.seconds = 0.0, seconds

    def __call__(self) -> float:
        return self.now

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.now += self.seconds


class _DiskFullAt(pl.Callback):
    """Raises ``OSError(ENOSPC)`` when the given step starts, as a full disk would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_training_clears_its_progress_bar(tmp_path, videos, monkeypatch):
    """The step bar of a run that fails is cleared, so the CLI's error is the only line."""
    stream = io.StringIO()
    monkeypatch.setattr(progress, "_factory", functools.partial(tqdm, file=stream))
    model_config, train_config = _configs(max_steps=4)
    with pytest.raises(OSError):
        fit(videos, model_config, train_config, tmp_path, callbacks=[_DiskFullAt(2)])
    assert "train:" in stream.getvalue()
    assert stream.getvalue().split("\n")[-1].rsplit("\r", 1)[-1].strip() == ""


def test_training_seconds_add_up_over_a_stop_and_resume(tmp_path, videos, ctrl_c_raises,
                                                        monkeypatch):
    """The released model's train_seconds counts the stopped start too (it travels in the
    checkpoint), not only the start that finished: 10 s a step, 3 steps then 1."""
    timer = _StepTimer(10.0)
    monkeypatch.setattr(fit_module, "TrainingClock", functools.partial(TrainingClock, timer))
    model_config, train_config = _configs(max_steps=4)
    with pytest.raises(KeyboardInterrupt, match="stopped at step 3"):
        fit(videos, model_config, train_config, tmp_path, progress=False,
            callbacks=[timer, _SignalAt(2, signal.SIGTERM)])
    trained = fit(videos, model_config, train_config, tmp_path, resume=True, progress=False,
                  callbacks=[timer])
    assert read_model_config(trained.model_dir)["train_seconds"] == 40.0


def test_interrupts_save_the_step_and_resume_bit_identical(tmp_path, videos, ctrl_c_raises):
    """SIGINT or SIGTERM at random steps: the run stops after the current step with its
    checkpoint saved, and --resume ends with the weights of an uninterrupted run."""
    model_config, train_config = _configs(checkpoint_every=100, max_steps=6)
    reference = _weights(fit(videos, model_config, train_config, tmp_path / "full",
                             progress=False).model_dir)
    rng = np.random.default_rng(0)
    for trial in range(10):
        step = int(rng.integers(0, 6))
        signum = (signal.SIGINT, signal.SIGTERM)[trial % 2]
        run = tmp_path / f"trial{trial}"
        with pytest.raises(KeyboardInterrupt, match=f"stopped at step {step + 1}"):
            fit(videos, model_config, train_config, run, progress=False,
                callbacks=[_SignalAt(step, signum)])
        assert not (run / "model").exists()  # nothing released as if finished
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        resumed = _weights(fit(videos, model_config, train_config, run, resume=True,
                               progress=False).model_dir)
        for name, value in reference.items():
            torch.testing.assert_close(resumed[name], value, rtol=0, atol=0, msg=name)


TRAIN_FOREVER = """
import sys, dataclasses, numpy as np
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.training import fit as fit_module
from convlstm_ae.training.fit import TrainingClock, fit

class Videos:
    videos = np.random.default_rng(0).integers(0, 256, (3, 9, 32, 32), dtype=np.uint8)
    def __len__(self): return 3
    def num_frames(self, video): return 9
    def frames(self, video, indices): return self.videos[video][indices]

model_config, train_config = preset_configs("tiny", frame_size=32, clip_length=3)
train_config = dataclasses.replace(train_config, batch_size=2, num_workers=0, log_every=1,
                                   checkpoint_every=1, max_steps=10**6)
fit(Videos(), model_config, train_config, sys.argv[1], progress=False)
"""


@pytest.mark.slow
def test_sigkill_while_checkpointing_leaves_a_checkpoint_to_resume(tmp_path, videos):
    """A checkpoint after every step, the process killed (no cleanup) at several moments:
    last.ckpt always loads whole, and training resumes from it."""
    model_config, train_config = _configs(checkpoint_every=1)
    for trial, delay in enumerate((6.0, 7.5)):
        run = tmp_path / f"run{trial}"
        child = subprocess.Popen([sys.executable, "-c", TRAIN_FOREVER, str(run)])
        deadline = time.monotonic() + 60
        while not (run / "checkpoints/last.ckpt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay - 6.0)
        child.send_signal(signal.SIGKILL)
        child.wait()
        checkpoint = torch.load(run / "checkpoints/last.ckpt", weights_only=True)
        step = checkpoint["global_step"]
        assert step >= 1
        resumed = fit(videos, model_config,
                      dataclasses.replace(train_config, max_steps=step + 2), run, resume=True,
                      progress=False).model_dir
        assert read_model_config(resumed)["steps"] == step + 2


def test_train_seconds_reads_the_released_model(tmp_path):
    from convlstm_ae.pipeline.train import train_seconds

    committed = Path(__file__).resolve().parents[2] / "docs/results/moving-mnist-h100/paper"
    assert train_seconds(committed) == 672.8
    config = json.loads((committed / "model/config.json").read_text())
    (tmp_path / "model").mkdir()
    (tmp_path / "model/config.json").write_text(json.dumps(config | {"train_seconds": 12.5}))
    assert train_seconds(tmp_path) == 12.5
    config.pop("train_seconds")
    (tmp_path / "model/config.json").write_text(json.dumps(config))
    assert train_seconds(tmp_path) is None
    assert train_seconds(tmp_path / "absent") is None
