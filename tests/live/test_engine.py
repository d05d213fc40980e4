"""The live engine gives the errors of offline Eq. (3) scoring, under either backend."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from convlstm_ae.config import ScoringConfig
from convlstm_ae.errors import CheckpointError, ConfigError
from convlstm_ae.export.paths import ONNX_SCORE
from convlstm_ae.live.engine import open_engine
from convlstm_ae.release_files import load_scoring_config, save_scoring_config
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from media import random_frames

T_PRIME = 4


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, release_tiny):
    """A tiny 64 px model subtracting a mean frame, released with T' = 4."""
    return release_tiny(tmp_path_factory.mktemp("live") / "model", T_PRIME, 6,
                        normalization="mean_frame")


def feed(engine, video: np.ndarray) -> list:
    """Feed (B, N, S, S) frame by frame; one FrameErrors per frame."""
    return [engine(video[:, t]) for t in range(video.shape[1])]


def stacked(outputs: list, name: str) -> np.ndarray:
    return np.stack([np.asarray(getattr(o, name)) for o in outputs], 1)


def test_torch_engine_matches_offline_scoring_with_reset_windows(model_dir):
    from convlstm_ae.release import load_model

    video = random_frames((2, 9, 64, 64))
    outputs = feed(open_engine(model_dir, 2, device="cpu"), video)
    offline = reconstruction_errors(load_model(model_dir), torch.from_numpy(video)[:, :, None],
                                    t_prime=T_PRIME, patch_size=6, windows="reset")
    for name in ("current", "previous", "patch"):
        np.testing.assert_allclose(stacked(outputs, name), getattr(offline, name).numpy(),
                                   rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(stacked(outputs, "history"), offline.history.numpy())
    frame = stacked(outputs, "frame")
    np.testing.assert_allclose(frame, offline.frame.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.stack([o.select("frame", "sqrt") for o in outputs], 1),
                               np.sqrt(frame), rtol=1e-6)


def test_maps_add_up_to_the_frame_terms(model_dir):
    engine = open_engine(model_dir, 2, device="cpu", maps=True)
    for frames in random_frames((3, 2, 64, 64), seed=1):
        output = engine(frames)
        maps = np.asarray(engine.maps)
        assert maps.shape == (2, 64, 64) and maps.dtype == np.float32
        np.testing.assert_allclose(maps.sum(axis=(1, 2)), output.frame, rtol=1e-5)
        cells = np.asarray(output.cells)  # default cell side: 64 / 8 = 8 px
        assert cells.shape == (2, 8, 8)
        np.testing.assert_allclose(cells[:, 0, 0], maps[:, :8, :8].mean(axis=(1, 2)), rtol=1e-5)
        np.testing.assert_allclose(cells[:, -1, -1], maps[:, -8:, -8:].mean(axis=(1, 2)),
                                   rtol=1e-5)


def test_cells_are_whole_and_the_sliver_past_the_last_is_left_out(model_dir, tmp_path):
    other = shutil.copytree(model_dir, tmp_path / "model", ignore=shutil.ignore_patterns("*.onnx"))
    save_scoring_config(other, ScoringConfig(**{**vars(load_scoring_config(model_dir)),
                                                "cell_size": 5}))
    for backend in ("torch", "onnx"):  # 64 = 12 cells of 5 px and 4 px left out
        engine = open_engine(other, 1, backend=backend, device="cpu", maps=True)
        cells = np.asarray(engine(random_frames((1, 64, 64), seed=3)).cells)
        assert cells.shape == (1, 12, 12)
        np.testing.assert_allclose(cells[0, -1, -1], np.asarray(engine.maps)[0, 55:60, 55:60]
                                   .mean(), rtol=1e-5, err_msg=backend)
    assert open_engine(model_dir, 1, device="cpu").maps is None


def test_reset_zeroes_the_history_of_the_given_streams(model_dir):
    engine = open_engine(model_dir, 3, device="cpu")
    feed(engine, random_frames((3, 2, 64, 64), seed=2))
    engine.reset([1])
    output = engine(random_frames((3, 64, 64), seed=3))
    np.testing.assert_array_equal(output.history, [2, 0, 2])
    assert output.previous[1] == 0 and output.previous[0] > 0
    engine.reset()
    np.testing.assert_array_equal(engine(random_frames((3, 64, 64))).history, [0, 0, 0])


@pytest.mark.parametrize("backend, device", [("torch", "cpu"), ("onnx", "cpu")] + (
    [("torch", "cuda")] if torch.cuda.is_available() else []))
def test_a_stream_added_mid_run_starts_fresh_and_the_others_keep_their_memory(model_dir,
                                                                               backend, device):
    """Two streams run 5 frames (past a T' reset), a third joins: the two go on as an
    engine that never grew, the third as a fresh engine of its own (on CUDA, the step
    captured again for three streams)."""
    if backend == "onnx":
        pytest.importorskip("onnxruntime", reason="--backend onnx needs onnxruntime")
    video = random_frames((3, 9, 64, 64), seed=5)
    grown, kept, fresh = (open_engine(model_dir, streams, backend=backend, device=device)
                          for streams in (2, 2, 1))
    before = [grown(video[:2, t]) for t in range(5)]
    feed(kept, video[:2, :5])
    grown.add_streams(1)
    assert grown.streams == 3 and grown.batch.shape == (3, 64, 64)
    after = feed(grown, video[:, 5:])
    expected = feed(kept, video[:2, 5:]), feed(fresh, video[2:, 5:])
    for name in ("current", "previous", "patch", "history", "cells"):
        np.testing.assert_allclose(stacked(after, name), np.concatenate(
            [stacked(outputs, name) for outputs in expected]), rtol=1e-4, atol=1e-4)
    assert stacked(before, "history")[0].tolist() == [0, 1, 2, 3, 0]
    assert stacked(after, "history")[2].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("backend, device", [("torch", "cpu"), ("onnx", "cpu")] + (
    [("torch", "cuda")] if torch.cuda.is_available() else []))
def test_a_stream_left_out_of_steps_keeps_its_memory_and_clock(model_dir, backend, device):
    """Stream 1 sits out 4 of 11 steps (given garbage frames there): its own 7 frames score
    as a one-stream engine fed only them, through a T' reset; stream 0, in every step,
    as if stream 1 had never been held."""
    if backend == "onnx":
        pytest.importorskip("onnxruntime", reason="--backend onnx needs onnxruntime")
    video = random_frames((2, 11, 64, 64), seed=7)
    noise = random_frames((11, 64, 64), seed=8)
    held = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0], bool)  # steps where stream 1 sits out
    engine, alone, full = (open_engine(model_dir, streams, backend=backend, device=device)
                           for streams in (2, 1, 2))
    outputs = []
    for t in range(11):
        frames = video[:, t].copy()
        if held[t]:
            frames[1] = noise[t]
        outputs.append(engine(frames, np.array([True, not held[t]])))
    expected = feed(alone, video[1:, ~held])
    reference = feed(full, video)
    for name in ("current", "previous", "patch", "history", "cells"):
        np.testing.assert_allclose(stacked(outputs, name)[1:, ~held], stacked(expected, name),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(stacked(outputs, name)[:1], stacked(reference, name)[:1],
                                   rtol=1e-4, atol=1e-4)
    assert stacked(outputs, "history")[1, ~held].tolist() == [0, 1, 2, 3, 0, 1, 2]


@pytest.mark.parametrize("backend, device", [("torch", "cpu"), ("onnx", "cpu")] + (
    [("torch", "cuda")] if torch.cuda.is_available() else []))
def test_a_step_launched_before_the_last_is_collected_scores_as_one_at_a_time(model_dir,
                                                                            backend, device):
    """Each step is launched from the engine's own batch, filled while the step before is
    still uncollected (on CUDA, still on the device): errors, histories and maps are those
    of one call at a time, through a T' reset and a held stream. The batch is one of two
    taking turns: a step's frames stay as they were while the next step's are filled."""
    if backend == "onnx":
        pytest.importorskip("onnxruntime", reason="--backend onnx needs onnxruntime")
    video = random_frames((2, 9, 64, 64), seed=9)
    held = np.array([0, 1, 0, 0, 1, 1, 0, 0, 0], bool)
    piped, plain = (open_engine(model_dir, 2, backend=backend, device=device, maps=True)
                    for _ in range(2))
    expected, expected_maps = [], []
    for t in range(9):
        expected.append(plain(video[:, t], np.array([True, not held[t]])))
        expected_maps.append(np.array(plain.maps))
    outputs, maps, filled = [], [], []
    for t in range(10):
        if t < 9:
            filled.append(piped.batch)
            filled[-1][:] = video[:, t]
            piped.launch(filled[-1], np.array([True, not held[t]]))
            assert piped.batch is not filled[-1]
        if t:
            np.testing.assert_array_equal(filled[t - 1], video[:, t - 1])
            outputs.append(piped.collect())
            maps.append(np.array(piped.maps))
    for name in ("current", "previous", "patch", "history", "cells"):
        np.testing.assert_allclose(stacked(outputs, name), stacked(expected, name),
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.stack(maps), np.stack(expected_maps), rtol=1e-5, atol=1e-5)
    piped.launch(piped.batch)
    with pytest.raises(RuntimeError, match="adding streams"):
        piped.add_streams(1)
    piped.launch(piped.batch)
    with pytest.raises(RuntimeError, match="none collected"):
        piped.launch(piped.batch)


def test_bad_frames_and_options_are_one_line_errors(model_dir):
    engine = open_engine(model_dir, 2, device="cpu")
    with pytest.raises(ConfigError, match=r"expected frames of shape \(2, 1, 64, 64\)"):
        engine(np.zeros((2, 1, 32, 32), np.uint8))
    with pytest.raises(ConfigError, match="expected uint8"):
        engine(np.zeros((2, 64, 64), np.float32))
    with pytest.raises(ConfigError, match="backend"):
        open_engine(model_dir, 1, backend="tensorrt")
    with pytest.raises(ConfigError, match="streams"):
        open_engine(model_dir, 0)


def test_onnx_engine_matches_the_torch_engine_through_resets(model_dir):
    video = random_frames((2, 7, 64, 64), seed=4)
    engines = [open_engine(model_dir, 2, backend=backend, device="cpu", maps=True)
               for backend in ("torch", "onnx")]
    assert (model_dir / ONNX_SCORE).is_file()
    for t in range(video.shape[1]):
        if t == 3:
            for engine in engines:
                engine.reset([0])
        expected, actual = (engine(video[:, t]) for engine in engines)
        for name in ("current", "previous", "patch", "cells"):
            np.testing.assert_allclose(getattr(actual, name), getattr(expected, name),
                                       rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(*(engine.maps for engine in engines), rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(actual.history, expected.history)
    assert engines[1].t_prime == T_PRIME and engines[1].frame_size == 64


NO_TORCH = """
import json, sys
sys.modules["torch"] = None  # any import of torch now fails
from pathlib import Path
import numpy as np
from convlstm_ae.live.engine import open_engine
frames = np.load(sys.argv[2])
engine = open_engine(Path(sys.argv[1]), frames.shape[0], backend="onnx")
print(json.dumps([engine(frames[:, t]).frame.tolist() for t in range(frames.shape[1])]))
"""


def run_without_torch(model: Path, frames: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    return subprocess.run([sys.executable, "-c", NO_TORCH, str(model), str(frames)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_onnx_engine_scores_without_torch(model_dir, tmp_path):
    video = random_frames((2, 5, 64, 64), seed=5)
    np.save(tmp_path / "frames.npy", video)
    open_engine(model_dir, 1, backend="onnx")  # exports the scoring graph (torch is here)
    result = run_without_torch(model_dir, tmp_path / "frames.npy")
    assert result.returncode == 0, result.stderr
    expected = np.stack([o.frame for o in feed(open_engine(model_dir, 2, device="cpu"),
                                               video)])
    np.testing.assert_allclose(json.loads(result.stdout), expected, rtol=1e-4, atol=1e-4)
    bare = tmp_path / "bare"
    shutil.copytree(model_dir, bare, ignore=shutil.ignore_patterns("*.onnx"))
    result = run_without_torch(bare, tmp_path / "frames.npy")
    assert result.returncode != 0
    assert "CheckpointError" in result.stderr and "convlstm-ae export" in result.stderr


def test_the_onnx_engine_runs_on_the_cpu_only(model_dir):
    with pytest.raises(ConfigError, match="CPU"):
        open_engine(model_dir, 1, backend="onnx", device="cuda")
    with pytest.raises(CheckpointError, match="config.json"):
        open_engine(model_dir.parent / "missing", 1, backend="onnx")
