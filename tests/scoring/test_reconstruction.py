"""Eq. (3): per-frame errors, memory resets every T' frames, the localized score."""

import pytest
import torch
from torch import nn

from convlstm_ae.config import ModelConfig
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.model.presets import create_model
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from convlstm_ae.scoring.stream import StreamScorer


class ConstantModel(nn.Module):
    """Reconstructs every current frame as 0 and every previous frame as 1."""

    def __init__(self) -> None:
        super().__init__()
        self.config = ModelConfig(frame_size=2)
        self.anchor = nn.Parameter(torch.zeros(()))

    def normalize(self, frames):
        return frames.float()

    def forward(self, clip, state=None):
        return torch.zeros_like(clip), torch.ones_like(clip), state


def test_eq3_hand_computed_with_resets():
    # 4 frames of 2x2 pixels, values 0, 1, 2, 3; T' = 2
    video = torch.arange(4).view(4, 1, 1, 1).expand(4, 1, 2, 2).to(torch.uint8)
    errors = reconstruction_errors(ConstantModel(), video, t_prime=2, patch_size=2)
    # frame t: 4 * t^2 (current) + 4 * (t-1 - 1)^2 (previous), previous term absent at resets
    expected = [0, 4 * 1 + 4 * 1, 4 * 4, 4 * 9 + 4 * 1]
    torch.testing.assert_close(errors.frame[0], torch.tensor(expected, dtype=torch.float32))
    # one 2x2 patch covers the whole frame: mean error = frame error / 4
    torch.testing.assert_close(errors.patch[0], errors.frame[0] / 4)


def test_without_resets_every_frame_but_the_first_has_the_previous_term():
    video = torch.arange(4).view(4, 1, 1, 1).expand(4, 1, 2, 2).to(torch.uint8)
    errors = reconstruction_errors(ConstantModel(), video, t_prime=None, patch_size=2, chunk=3)
    expected = [0, 8, 4 * 4 + 4 * 0, 4 * 9 + 4 * 1]
    torch.testing.assert_close(errors.frame[0], torch.tensor(expected, dtype=torch.float32))


def test_reset_forgets_history():
    torch.manual_seed(0)
    model = create_model("tiny", frame_size=32)
    video = torch.randint(0, 256, (12, 1, 32, 32), dtype=torch.uint8)
    perturbed = video.clone()
    perturbed[:4] = 255 - perturbed[:4]
    a = reconstruction_errors(model, video, t_prime=4).frame[0]
    b = reconstruction_errors(model, perturbed, t_prime=4).frame[0]
    torch.testing.assert_close(a[4:], b[4:])
    assert not torch.allclose(a[:4], b[:4])
    # without resets the perturbation reaches later frames
    c = reconstruction_errors(model, video, t_prime=None).frame[0]
    d = reconstruction_errors(model, perturbed, t_prime=None).frame[0]
    assert not torch.allclose(c[4:], d[4:])


def test_chunked_streaming_equals_one_pass():
    torch.manual_seed(0)
    model = create_model("tiny", frame_size=32)
    video = torch.randint(0, 256, (2, 11, 1, 32, 32), dtype=torch.uint8)
    one = reconstruction_errors(model, video, t_prime=None, chunk=64)
    chunked = reconstruction_errors(model, video, t_prime=None, chunk=3)
    torch.testing.assert_close(one.frame, chunked.frame, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(one.patch, chunked.patch, rtol=1e-4, atol=1e-3)
    single = reconstruction_errors(model, video[1], t_prime=None)
    torch.testing.assert_close(single.frame[0], one.frame[1], rtol=1e-4, atol=1e-3)


def test_patch_score_sees_a_local_error_the_frame_sum_dilutes():
    video = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    video[0, 0, 4:6, 4:6] = 255
    model = ConstantModel()
    model.config = ModelConfig(frame_size=32)
    errors = reconstruction_errors(model, video, patch_size=2)
    assert errors.frame[0, 0].item() == pytest.approx(4 * 255**2)
    assert errors.patch[0, 0].item() == pytest.approx(255**2)  # one 2x2 patch fully covered


def test_conv_ae_averages_the_clips_covering_a_frame():
    torch.manual_seed(0)
    model = create_model("conv-ae-tiny", frame_size=32, clip_length=3)
    video = torch.randint(0, 256, (5, 1, 32, 32), dtype=torch.uint8)
    errors = reconstruction_errors(model, video).frame[0]
    clip_errors = []
    with torch.no_grad():
        for start in range(3):
            clip = model.normalize(video[start : start + 3]).unsqueeze(0)
            clip_errors.append((clip - model(clip)).square().sum(dim=(0, 2, 3, 4)))
    frame2 = (clip_errors[0][2] + clip_errors[1][1] + clip_errors[2][0]) / 3
    frame0 = clip_errors[0][0]
    torch.testing.assert_close(errors[2], frame2, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(errors[0], frame0, rtol=1e-4, atol=1e-3)


def test_bad_inputs():
    model = create_model("tiny", frame_size=32)
    with pytest.raises(ConfigError, match="expected frames"):
        reconstruction_errors(model, torch.zeros(32, 32))
    with pytest.raises(ConfigError, match="channel"):
        reconstruction_errors(model, torch.zeros(4, 3, 32, 32, dtype=torch.uint8))
    nan = torch.zeros(4, 1, 32, 32)
    nan[1, 0, 0, 0] = float("nan")
    with pytest.raises(VideoReadError, match="NaN"):
        reconstruction_errors(model, nan)
    with pytest.raises(ConfigError, match="t_prime"):
        reconstruction_errors(model, torch.zeros(4, 1, 32, 32, dtype=torch.uint8), t_prime=0)


@pytest.mark.parametrize("t_prime", [4, 1, 30])
def test_sliding_windows_score_each_frame_at_the_end_of_its_own_window(t_prime):
    torch.manual_seed(0)
    model = create_model("tiny", frame_size=33).eval()
    video = torch.randint(0, 256, (2, 11, 1, 33, 33), dtype=torch.uint8)
    sliding = reconstruction_errors(model, video, t_prime=t_prime, windows="sliding", chunk=9)
    assert sliding.frame.shape == sliding.patch.shape == (2, 11)
    for t in range(11):
        start = max(0, t - t_prime + 1)
        alone = reconstruction_errors(model, video[:, start : t + 1], t_prime=None)
        torch.testing.assert_close(sliding.frame[:, t], alone.frame[:, -1], rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(sliding.patch[:, t], alone.patch[:, -1], rtol=1e-5, atol=1e-6)


def test_sliding_windows_need_a_finite_t_prime():
    model = create_model("tiny", frame_size=33).eval()
    video = torch.zeros(5, 1, 33, 33, dtype=torch.uint8)
    with pytest.raises(ConfigError, match="sliding windows need a finite T'"):
        reconstruction_errors(model, video, t_prime=None, windows="sliding")
    with pytest.raises(ConfigError, match="windows 'tumbling' is unknown"):
        reconstruction_errors(model, video, windows="tumbling")


def _plain_eq3(model, clip):
    """Eq. 3 of every frame of one memory run from a zero state, written out directly:
    (B, L) current and previous terms, the previous one 0 at the run's first frame."""
    x = model.normalize(clip)
    current, previous, _ = model(x)
    current_term = (x - current).square().sum(dim=(2, 3, 4))
    previous_term = torch.zeros_like(current_term)
    previous_term[:, 1:] = (x[:, :-1] - previous[:, 1:]).square().sum(dim=(2, 3, 4))
    return current_term, previous_term


@pytest.mark.parametrize(("t_prime", "length"), [(10, 37), (10, 25), (10, 6), (7, 20), (1, 4)])
def test_overlap_windows_match_a_plain_loop_over_the_authors_windows(t_prime, length):
    torch.manual_seed(0)
    model = create_model("tiny", frame_size=33).eval()
    video = torch.randint(0, 256, (2, length, 1, 33, 33), dtype=torch.uint8)
    errors = reconstruction_errors(model, video, t_prime=t_prime, windows="overlap", chunk=9)
    # the released test loop: a window of T' frames every T' - T'//2 frames, memory reset
    # at its start, the positions from T'//2 on scored; frames before T'//2 copy theirs
    window = min(t_prime, length)
    half = window // 2
    stride = t_prime - t_prime // 2 if length >= t_prime else window - half
    expected = torch.full((2, length), float("nan"))
    expected_history = torch.full((length,), -1)
    with torch.no_grad():
        for start in range(0, length, stride):
            if start + half >= length:
                break
            current, previous = _plain_eq3(model, video[:, start : start + window])
            for position in range(half, current.shape[1]):
                expected[:, start + position] = current[:, position] + previous[:, position]
                expected_history[start + position] = position
    expected[:, :half] = expected[:, half : 2 * half]
    expected_history[:half] = expected_history[half : 2 * half]
    torch.testing.assert_close(errors.frame, expected, rtol=1e-5, atol=1e-3)
    assert errors.history[0].tolist() == expected_history.tolist()
    assert errors.history.min() >= half


def test_every_scoring_path_computes_the_same_eq3():
    """reset, sliding, overlap and the live stream score the same window alike: the
    terms of one 6-frame memory run from a zero state, written out by hand."""
    torch.manual_seed(0)
    model = create_model("tiny", frame_size=33).eval()
    video = torch.randint(0, 256, (2, 6, 1, 33, 33), dtype=torch.uint8)
    with torch.no_grad():
        current, previous = _plain_eq3(model, video)
    reset = reconstruction_errors(model, video, t_prime=6, windows="reset")
    sliding = reconstruction_errors(model, video, t_prime=6, windows="sliding")
    overlap = reconstruction_errors(model, video, t_prime=6, windows="overlap")
    scorer = StreamScorer(model, 2, t_prime=6)
    live = [scorer(video[:, t]) for t in range(6)]
    for name, errors in (("reset", reset), ("sliding", sliding)):
        torch.testing.assert_close(errors.current, current, rtol=1e-5, atol=1e-3, msg=name)
        torch.testing.assert_close(errors.previous, previous, rtol=1e-5, atol=1e-3, msg=name)
    torch.testing.assert_close(torch.stack([r.current for r in live], 1), current,
                               rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(torch.stack([r.previous for r in live], 1), previous,
                               rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(overlap.current[:, 3:], current[:, 3:], rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(overlap.current[:, :3], current[:, 3:], rtol=1e-5, atol=1e-3)


def test_sqrt_error_is_the_square_root_of_eq3():
    video = torch.arange(4).view(4, 1, 1, 1).expand(4, 1, 2, 2).to(torch.uint8)
    errors = reconstruction_errors(ConstantModel(), video, t_prime=2, patch_size=2)
    torch.testing.assert_close(errors.select("frame", "sqrt"), errors.frame.sqrt())
    torch.testing.assert_close(errors.select("patch", "sum"), errors.patch)
    with pytest.raises(ConfigError, match="error 'cube' is unknown"):
        errors.select("frame", "cube")
