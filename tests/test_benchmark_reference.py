"""The benchmarks' plain reference computes our model's function, so ratios compare
like with like."""

import sys
from pathlib import Path

import pytest
import torch

from convlstm_ae.model.presets import create_model
from convlstm_ae.training.loss import reconstruction_loss

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from reference import ReferenceConvLSTMAE, reference_loss  # noqa: E402


@pytest.mark.parametrize("preset", ["tiny", "caffe"])
def test_reference_matches_our_model(preset):
    torch.manual_seed(0)
    frame_size = 33 if preset == "tiny" else 61
    ours = create_model(preset, frame_size=frame_size).eval()
    reference = ReferenceConvLSTMAE(ours.config).copy_from(ours).eval()
    clip = torch.rand(2, 4, 1, frame_size, frame_size)
    with torch.no_grad():
        current, previous, _ = ours(clip)
        ref_current, ref_previous = reference(clip)
    torch.testing.assert_close(ref_current, current, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ref_previous, previous, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(reference_loss(clip, ref_current, ref_previous),
                               reconstruction_loss(clip, current, previous))
