"""The live engine gives the errors of offline Eq. (3) scoring, under either backend."""

import numpy as np
import pytest
import torch

from convlstm_ae.config import ScoringConfig
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.engine import open_engine
from convlstm_ae.model.presets import create_model
from convlstm_ae.release import save_model
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from media import random_frames

T_PRIME = 4


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny 64 px model subtracting a mean frame, released with T' = 4."""
    torch.manual_seed(0)
    model = create_model("tiny", normalization="mean_frame").eval()
    model.mean_frame.copy_(torch.rand_like(model.mean_frame) * 0.5)
    return save_model(model, tmp_path_factory.mktemp("live") / "model",
                      ScoringConfig(t_prime=T_PRIME, patch_size=6))


def feed(engine, video: np.ndarray) -> list:
    """Feed (B, N, S, S) frame by frame; one EngineOutput per frame."""
    return [engine(video[:, t]) for t in range(video.shape[1])]


def stacked(outputs: list, name: str) -> np.ndarray:
    return np.stack([getattr(o, name) for o in outputs], 1)


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
    frame = np.stack([o.frame() for o in outputs], 1)
    np.testing.assert_allclose(frame, offline.frame.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.stack([o.frame("sqrt") for o in outputs], 1),
                               np.sqrt(frame), rtol=1e-6)


def test_maps_add_up_to_the_frame_terms(model_dir):
    engine = open_engine(model_dir, 2, device="cpu", maps=True)
    for output in feed(engine, random_frames((2, 3, 64, 64), seed=1)):
        assert output.maps.shape == (2, 64, 64) and output.maps.dtype == np.float32
        np.testing.assert_allclose(output.maps.sum(axis=(1, 2)), output.frame(), rtol=1e-5)
    assert open_engine(model_dir, 1, device="cpu")(random_frames((1, 64, 64))).maps is None


def test_reset_zeroes_the_history_of_the_given_streams(model_dir):
    engine = open_engine(model_dir, 3, device="cpu")
    feed(engine, random_frames((3, 2, 64, 64), seed=2))
    engine.reset([1])
    output = engine(random_frames((3, 64, 64), seed=3))
    np.testing.assert_array_equal(output.history, [2, 0, 2])
    assert output.previous[1] == 0 and output.previous[0] > 0
    engine.reset()
    np.testing.assert_array_equal(engine(random_frames((3, 64, 64))).history, [0, 0, 0])


def test_bad_frames_and_options_are_one_line_errors(model_dir):
    engine = open_engine(model_dir, 2, device="cpu")
    with pytest.raises(ConfigError, match=r"expected frames of shape \(2, 64, 64\)"):
        engine(np.zeros((2, 1, 64, 64), np.uint8))
    with pytest.raises(ConfigError, match="expected uint8"):
        engine(np.zeros((2, 64, 64), np.float32))
    with pytest.raises(ConfigError, match="backend"):
        open_engine(model_dir, 1, backend="tensorrt")
    with pytest.raises(ConfigError, match="streams"):
        open_engine(model_dir, 0)
