"""Generate -> train -> score -> evaluate on tiny Moving-MNIST, through the public API."""

import json

import pytest

from convlstm_ae.experiments.moving_mnist import MovingMNISTExperiment, run
from convlstm_ae.pipeline.train import training_history


@pytest.mark.slow
def test_tiny_model_detects_appearance_anomalies(tmp_path):
    experiment = MovingMNISTExperiment(
        out_dir=tmp_path, presets=("tiny",), num_train=300, num_test=60, box_size=5,
        num_normal=20, num_val=20,  # not 500 and 60: scoring them was half the test's time
        train={"max_steps": 150, "num_workers": 0},
    )
    results = run(experiment)
    appearance = results["models"]["tiny"]["readings"]["paper"]["appearance"]["paper"]
    assert appearance["micro_auc"] > 0.7, appearance
    assert appearance["num_frames"] == 60 * 20
    assert appearance["num_abnormal"] == 60 * 5
    steps, losses = training_history(tmp_path / "tiny")
    assert steps[-1] >= 125 and losses[-1] < 0.8 * losses[0]  # it did learn
    assert json.loads((tmp_path / "results.json").read_text())["models"]["tiny"]["steps"] == 150
    for figure in ("fig2_scores.png", "fig3_training_loss.png", "roc_motion.png"):
        assert (tmp_path / figure).stat().st_size > 1000
