"""Table 1's validated reading: the training length is chosen with the rest, on the
validation scenarios alone, and a chosen snapshot is then scored on the test sets."""

import json
from pathlib import Path

import numpy as np
import pytest

from convlstm_ae.cli import main
from convlstm_ae.experiments.common import FINAL
from convlstm_ae.experiments.results import (
    VALIDATION,
    WINDOW_GRID,
    choose_reading,
    records_folder,
)
from convlstm_ae.pipeline.records import record_path
from convlstm_ae.scoring.records import ErrorRecord

SNAPSHOT = "step_000002"
FRAMES = 20


def write_validation(out: Path, model: str, separation: float, seed: int) -> None:
    """Validation records of the tiny preset under every scheme: abnormal frames (the
    second half of each sequence) lifted by ``separation`` above noise."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.repeat([0, 1], FRAMES // 2), 8).astype(np.uint8)
    for (scheme, t_prime), name in [(g, n) for g in WINDOW_GRID for n in VALIDATION]:
        current = rng.random(labels.size) + separation * labels
        ErrorRecord([f"{i:05d}" for i in range(8)], np.full(8, FRAMES), current,
                    np.zeros(labels.size), current, np.full(labels.size, 9), labels,
                    meta={"promised_history": 0}).save(
                        record_path(records_folder(out / "tiny", model, t_prime), scheme, name))


def test_validation_alone_chooses_a_better_snapshot(tmp_path):
    # only validation records exist: choosing cannot read a test record
    write_validation(tmp_path, FINAL, separation=0.0, seed=0)
    write_validation(tmp_path, SNAPSHOT, separation=2.0, seed=1)
    choice, scores = choose_reading(tmp_path, "tiny")
    assert choice[0] == SNAPSHOT
    assert max(scores.values()) == 1.0  # separable: its AUC, not a stored number


def test_a_tie_keeps_the_last_weights(tmp_path):
    write_validation(tmp_path, FINAL, separation=2.0, seed=0)
    write_validation(tmp_path, SNAPSHOT, separation=2.0, seed=1)
    assert choose_reading(tmp_path, "tiny")[0][0] == FINAL


@pytest.mark.usefixtures("few_normal_sequences")
def test_snapshots_enter_the_choice_and_the_chosen_one_is_scored_on_the_tests(
        tmp_path, idx_file, capsys):
    out = tmp_path / "experiment"
    code = main(["experiment", "moving-mnist", "--out", str(out), "--presets", "tiny",
                 "--num-train", "40", "--num-test", "4", "--max-steps", "3",
                 "--snapshots", "2", "--num-workers", "0", "--batch-size", "2",
                 "--idx-path", str(idx_file)])
    assert code == 0, capsys.readouterr().err
    snapshot = out / "tiny" / "records" / SNAPSHOT
    assert {p.stem for p in (snapshot / "t10").glob("reset_*")} >= {
        "reset_normal", "reset_val_appearance", "reset_val_motion"}
    results = json.loads((out / "results.json").read_text())
    readings = results["models"]["tiny"]["readings"]
    assert readings["paper"]["model"] == readings["released"]["model"] == FINAL
    validated = readings["validated"]
    assert validated["model"] in (FINAL, SNAPSHOT)
    assert validated["steps"] == (3 if validated["model"] == FINAL else 2)
    scores = results["models"]["tiny"]["validation_mean_auc"]
    assert any(key.startswith(SNAPSHOT) for key in scores)
    assert max(scores, key=scores.get).startswith(validated["model"])
    tested = record_path(records_folder(out / "tiny", validated["model"], validated["t_prime"]),
                         validated["scheme"], "motion")
    assert tested.is_file()
    if validated["model"] == FINAL:  # an unchosen snapshot never sees the test sets
        assert not (snapshot / "t10" / "reset_motion.npz").exists()


@pytest.mark.parametrize("model, parts", [(FINAL, ("records", "t10")),
                                           (SNAPSHOT, ("records", SNAPSHOT, "t10"))])
def test_record_paths_keep_the_last_weights_where_committed_results_have_them(model, parts):
    path = record_path(records_folder(Path("run", "paper"), model, 10), "overlap", "motion")
    assert path == Path("run", "paper", *parts, "overlap_motion.npz")
