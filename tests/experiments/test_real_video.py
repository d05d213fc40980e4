"""Real-video experiment: a CPU run on a few Ped2 clips, and a leak-free protocol."""

import json
import shutil
from pathlib import Path

import pytest

from convlstm_ae.experiments.real_video import RealVideoExperiment, run
from convlstm_ae.experiments.results import build_results
from convlstm_ae.scoring.records import ErrorRecord

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
        train={"max_steps": 30, "num_workers": 0, "snapshot_steps": (10,)},
        cache_dir=tmp_path / "cache",
    ))
    assert results["dataset"] == "ped2"
    assert results["paper_table_2"] == {"Conv-AE": 0.811, "ConvLSTM-AE": 0.881}
    model = results["models"]["tiny"]
    assert set(model["readings"]) == {"paper", "released", "released_smoothed", "sliding"}
    released = model["readings"]["released"]["frame"]["paper"]
    assert released["num_frames"] == 180 + 180 and 0 <= released["micro_auc"] <= 1
    deployment = model["readings"]["paper"]["patch"]["deployment"]
    assert set(deployment) >= {"auc", "precision", "recall", "f1", "false_alarms_per_minute"}
    assert deployment["normal_minutes"] > 0
    assert sorted(s["steps"] for s in model["snapshots"].values()) == [10, 30]
    calibration = json.loads((tmp_path / "run/tiny/model/calibration.json").read_text())
    assert len(calibration["frame"]["mean"]) == 1  # 24 held-out frames: positions pooled
    for figure in ("scores_released.png", "roc_paper.png", "auc_by_steps.png",
                   "training_loss.png"):
        assert (tmp_path / "run" / figure).stat().st_size > 1000
    holdout = ErrorRecord.load(tmp_path / "run/tiny/records/final/overlap_holdout.npz")
    # held out: the last 15% of each of the 3 training clips (120, 150, 150 frames) after
    # a gap of T = 10 frames: 8 (shorter than a clip: dropped), 12 and 12
    assert sorted(holdout.lengths.tolist()) == [12, 12]
    assert holdout.history.min() == 5  # overlap windows: at least T'/2 frames of memory
    rebuilt = build_results(tmp_path / "run")
    assert rebuilt["models"]["tiny"]["readings"] == model["readings"]
