"""Golden errors: a fixed tiny model on fixed frames must give the same per-frame errors
through every scoring path, before and after any refactoring."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from convlstm_ae.model.presets import create_model
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from convlstm_ae.scoring.stream import StreamScorer

GOLDEN = Path(__file__).with_name("errors.json")


def golden_errors() -> dict[str, list[float]]:
    torch.manual_seed(0)
    convlstm = create_model("tiny", frame_size=33).eval()
    conv_ae = create_model("conv-ae-tiny", frame_size=33).eval()
    frames = np.random.default_rng(0).integers(0, 256, (2, 23, 1, 33, 33), dtype=np.uint8)
    video = torch.from_numpy(frames)
    errors = {}
    for windows in ("reset", "overlap", "sliding"):
        result = reconstruction_errors(convlstm, video, t_prime=10, windows=windows, chunk=7)
        errors[f"{windows}_current"] = result.current.flatten().tolist()
        errors[f"{windows}_previous"] = result.previous.flatten().tolist()
        errors[f"{windows}_patch"] = result.patch.flatten().tolist()
    errors["conv_ae"] = reconstruction_errors(conv_ae, video).frame.flatten().tolist()
    scorer = StreamScorer(convlstm, 2, t_prime=10)
    errors["stream"] = torch.stack([scorer(video[:, t]).frame for t in range(23)], 1
                                   ).flatten().tolist()
    return errors


def test_errors_match_the_golden_file():
    expected = json.loads(GOLDEN.read_text())
    actual = golden_errors()
    assert set(actual) == set(expected)
    for key, values in expected.items():
        np.testing.assert_allclose(actual[key], values, rtol=1e-5, atol=1e-4, err_msg=key)


@pytest.mark.parametrize("windows", ["reset", "overlap", "sliding"])
def test_golden_errors_are_not_trivial(windows):
    expected = json.loads(GOLDEN.read_text())
    assert np.std(expected[f"{windows}_current"]) > 0
    assert len(expected[f"{windows}_current"]) == 2 * 23
