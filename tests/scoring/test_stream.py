"""Live scoring with explicit state gives the errors of offline Eq. (3) scoring."""

import numpy as np
import pytest
import torch

from convlstm_ae.errors import ConfigError
from convlstm_ae.model.presets import create_model
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from convlstm_ae.scoring.stream import StreamScorer


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("tiny", frame_size=33).eval()


def videos(count: int, length: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, length, 1, 33, 33), dtype=torch.uint8,
                         generator=generator)


def stream(scorer: StreamScorer, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Feed (B, N, C, H, W) frame by frame; (B, N) frame and patch errors."""
    results = [scorer(video[:, t]) for t in range(video.shape[1])]
    return (torch.stack([r.frame for r in results], 1),
            torch.stack([r.patch for r in results], 1))


@pytest.mark.parametrize("t_prime", [5, 1, None])
def test_streaming_matches_offline_scoring_over_a_long_video(model, t_prime):
    video = videos(3, 23)
    offline = reconstruction_errors(model, video, t_prime=t_prime, chunk=7)
    frame, patch = stream(StreamScorer(model, 3, t_prime=t_prime), video)
    torch.testing.assert_close(frame, offline.frame, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(patch, offline.patch, rtol=1e-5, atol=1e-6)


def test_a_reset_stream_starts_afresh_while_the_others_keep_memory(model):
    video = videos(2, 9, seed=1)
    scorer = StreamScorer(model, 2, t_prime=None)
    stream(scorer, video[:, :4])
    scorer.reset([1])
    frame, _ = stream(scorer, video[:, 4:])
    kept = reconstruction_errors(model, video[0], t_prime=None).frame[0, 4:]
    fresh = reconstruction_errors(model, video[1, 4:], t_prime=None).frame[0]
    torch.testing.assert_close(frame[0], kept, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(frame[1], fresh, rtol=1e-5, atol=1e-4)


def test_frames_as_numpy_without_channel_axis(model):
    video = videos(2, 3, seed=2)
    scorer = StreamScorer(model, 2)
    frame = torch.stack([scorer(video[:, t, 0].numpy()).frame for t in range(3)], 1)
    torch.testing.assert_close(frame, reconstruction_errors(model, video).frame,
                               rtol=1e-5, atol=1e-4)


def test_bad_inputs_are_one_line_errors(model):
    scorer = StreamScorer(model, 2)
    with pytest.raises(ConfigError, match=r"expected frames of shape \(2, 1, 33, 33\)"):
        scorer(np.zeros((3, 33, 33), dtype=np.uint8))
    with pytest.raises(ConfigError, match="expected uint8 frames, got torch.float32"):
        scorer(torch.full((2, 1, 33, 33), float("nan")))
    with pytest.raises(ConfigError, match="Conv-AE"):
        StreamScorer(create_model("conv-ae-tiny"), 1)
    with pytest.raises(ConfigError, match="t_prime"):
        StreamScorer(model, 1, t_prime=0)


def test_the_compiled_step_of_the_gpu_path_gives_the_same_errors(model):
    video = videos(2, 12, seed=3)
    scorer = StreamScorer(model, 2, t_prime=5)
    scorer._compute_fn = torch.compile(scorer.compute, dynamic=False)  # as on a GPU
    frame, patch = stream(scorer, video)
    offline = reconstruction_errors(model, video, t_prime=5)
    torch.testing.assert_close(frame, offline.frame, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(patch, offline.patch, rtol=1e-5, atol=1e-6)
