"""Real-video experiment: a CPU run on a few Ped2 clips, and a leak-free protocol."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from convlstm_ae.data.layouts import open_dataset
from convlstm_ae.experiments.common import Schedule
from convlstm_ae.experiments.real_video import RealVideoExperiment, evaluate_preset, run

PED2 = Path(__file__).resolve().parents[3] / "shared" / "data" / "ucsd_ped2"


@pytest.fixture(scope="module")
def small_ped2(tmp_path_factory):
    """Three training and two test clips of the real UCSD Ped2, in its frames layout."""
    if not PED2.is_dir():
        pytest.skip("../shared/data/ucsd_ped2 is not here")
    root = tmp_path_factory.mktemp("ped2")
    for split, clips in (("training", ["01", "02", "03"]), ("testing", ["01", "04"])):
        for clip in clips:
            shutil.copytree(PED2 / split / "frames" / clip, root / split / "frames" / clip)
    labels = json.loads((PED2 / "labels.json").read_text())
    (root / "labels.json").write_text(json.dumps({"01": labels["01"], "04": labels["04"]}))
    return root


@pytest.mark.slow
def test_tiny_run_on_ped2_clips(small_ped2, tmp_path):
    results = run(RealVideoExperiment(
        root=small_ped2, name="ped2", out_dir=tmp_path / "run", presets=("tiny",),
        schedule=Schedule(max_steps=30, num_workers=0), cache_dir=tmp_path / "cache",
    ))
    assert results["dataset"]["layout"] == "frames" and results["dataset"]["t_prime"] == 10
    assert results["paper_table_2"] == {"Conv-AE": 0.811, "ConvLSTM-AE": 0.881}
    model = results["models"]["tiny"]
    paper = model["paper_protocol"]["frame"]
    assert paper["num_frames"] == 180 + 180 and 0 <= paper["micro_auc"] <= 1
    deployment = model["deployment_protocol"]["patch"]
    assert set(deployment) >= {"auc", "precision", "recall", "f1", "false_alarms_per_minute"}
    assert deployment["normal_minutes"] > 0
    calibration = json.loads((tmp_path / "run/tiny/model/calibration.json").read_text())
    assert len(calibration["frame"]["mean"]) == 10  # one per position in the T' window
    for figure in ("scores_frame.png", "roc_patch.png", "training_loss.png"):
        assert (tmp_path / "run" / figure).stat().st_size > 1000
    with np.load(tmp_path / "run/tiny/errors_holdout.npz") as holdout:
        # held out: the last 15% of each of the 3 training clips (120, 150, 150 frames)
        assert sorted(len(holdout[f"frame_{i:04d}"]) for i in range(3)) == [18, 22, 22]


class _Count:
    def __init__(self, count):
        self.count = count

    def __len__(self):
        return self.count


def test_deployment_protocol_uses_no_test_statistic(small_ped2, tmp_path):
    """Changing the test videos' errors must not move the calibration or the threshold."""
    dataset = open_dataset(small_ped2)
    rng = np.random.default_rng(0)
    holdout = {f"{k}_{i:04d}": rng.normal(10, 1, 30) for k in ("frame", "patch") for i in range(3)}
    test = {f"{k}_{i:04d}": rng.normal(10, 1, 180) for k in ("frame", "patch") for i in range(2)}
    experiment = RealVideoExperiment(root=small_ped2, out_dir=tmp_path, presets=("tiny",))

    def evaluate(test_errors):
        (tmp_path / "tiny/model").mkdir(parents=True, exist_ok=True)
        np.savez(tmp_path / "tiny/errors_holdout.npz", **holdout)
        np.savez(tmp_path / "tiny/errors_test.npz", **test_errors)
        result = evaluate_preset(experiment, "tiny", dataset, _Count(3), _Count(2))
        return result, json.loads((tmp_path / "tiny/model/calibration.json").read_text())

    first, calibration = evaluate(test)
    shifted = {k: v * 50 + 1000 if k.endswith("0001") else v for k, v in test.items()}
    second, calibration_again = evaluate(shifted)
    assert calibration == calibration_again
    assert first["deployment"]["frame"].threshold == second["deployment"]["frame"].threshold
    # Eq. 4 rescales each test video by its own min and max, so it cannot see the shift;
    # the deployment score is not rescaled by any test statistic, so it does
    assert first["paper"]["frame"].micro_auc == pytest.approx(second["paper"]["frame"].micro_auc)
    assert first["deployment"]["frame"].auc != second["deployment"]["frame"].auc
