"""The results of a run folder, rebuilt from its error records alone: Table 1 of the paper
for Moving-MNIST (Sec. 4.3), Table 2 for a real dataset, both protocols beside the paper.

A run folder holds one subfolder per preset, its records under ``records/`` (see
:func:`records_folder`); the records say which dataset they score, and that picks the
table. Nothing here needs a GPU, the model or the videos.

- Table 1: the paper's and the authors' reading of the last weights, fixed, and the
  reading (window scheme, T', sum or sqrt, whole frame or patch, smoothing, snapshot)
  with the best mean micro AUC on the validation scenarios, each read on every set; and
  the located live score where the run has one (``PRESET/located.npz``, beyond the
  paper, :mod:`convlstm_ae.experiments.located_mnist`).
- Table 2: every reading of ``pipeline/evaluate.READINGS``, both score kinds, for the
  last weights and for every snapshot.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convlstm_ae.config import ERRORS
from convlstm_ae.errors import ConfigError
from convlstm_ae.experiments.common import FINAL, family
from convlstm_ae.experiments.located_mnist import LOCATED, LocatedStudy
from convlstm_ae.metrics import evaluate_frames
from convlstm_ae.pipeline.evaluate import (
    READINGS,
    SCORE_KINDS,
    Reading,
    evaluate_record,
    reading_scores,
)
from convlstm_ae.pipeline.records import CLIPS, record_path
from convlstm_ae.pipeline.train import train_seconds
from convlstm_ae.release import MODEL_DIR
from convlstm_ae.release_files import read_model_config
from convlstm_ae.scoring.records import ErrorRecord

MOVING_MNIST = "moving-mnist"

# Table 1: the sets of Sec. 4.3, and ours beside them
TEST_SCENARIOS = ("appearance", "motion")
VALIDATION = {"val_appearance": "appearance", "val_motion": "motion"}
BOX_SIZES = (7, 15, 28)  # larger occluders than the paper's 3x3 (28: a digit), for the gap
BOX_SETS = tuple(f"appearance_box{b}" for b in BOX_SIZES)
# (scheme, T') the ConvLSTM-AE is scored with; T' = 20 keeps the memory all sequence long
WINDOW_GRID = (("reset", 10), ("overlap", 10), ("reset", 20))
CONV_AE_GRID = ((CLIPS, 10),)
SIGMAS = (0.0, 1.0, 2.0)  # temporal Gaussians tried on validation (beyond the paper)
FIXED = {  # readings of the last weights reported whatever validation prefers
    "paper": (FINAL, "reset", 10, "sum", "frame", 0.0),
    "released": (FINAL, "overlap", 10, "sqrt", "frame", 0.0),
}
PAPER_TABLE_1 = {
    "Conv-AE": {"appearance": 0.743, "motion": 0.940},
    "ConvLSTM-AE": {"appearance": 0.999, "motion": 0.949},
}

# Table 2 of the paper: frame-level AUC
PAPER_TABLE_2 = {
    "avenue": {"Conv-AE": 0.745, "ConvLSTM-AE": 0.770},
    "ped1": {"Conv-AE": 0.681, "ConvLSTM-AE": 0.755},
    "ped2": {"Conv-AE": 0.811, "ConvLSTM-AE": 0.881},
    "entrance": {"Conv-AE": 0.910, "ConvLSTM-AE": 0.933},
    "exit": {"Conv-AE": 0.802, "ConvLSTM-AE": 0.877},
}

# Conv-AE has no memory windows: each Table 2 reading keeps only its e(t) and smoothing
CONV_AE_TITLES = {
    "paper": "Hasan et al.: sliding-clip error",
    "released": "sliding-clip error, sqrt",
    "released_smoothed": "sliding-clip error, sqrt + Gaussian (beyond)",
}


def records_folder(run_dir: Path, model: str = FINAL, t_prime: int | None = None) -> Path:
    """Where the records of one released model of a preset run are: ``records/MODEL/``.

    Args:
        t_prime: Moving-MNIST keeps its records per T', ``records/[MODEL/]tT'/``, the
            last weights' without the model folder, as the committed results have them.
    """
    if t_prime is None:
        return run_dir / "records" / model
    folder = run_dir / "records" if model == FINAL else run_dir / "records" / model
    return folder / f"t{t_prime}"


def window_grid(preset: str) -> tuple[tuple[str, int], ...]:
    """(scheme, T') a preset is scored with on Moving-MNIST: Conv-AE has its clips only."""
    return CONV_AE_GRID if family(preset) == "Conv-AE" else WINDOW_GRID


def presets_in(out_dir: Path) -> list[str]:
    """Presets of a run folder: the subfolders holding error records."""
    return sorted(p.name for p in out_dir.iterdir() if (p / "records").is_dir())


def dataset_of(out_dir: Path, presets: Sequence[str]) -> str | None:
    """The dataset the records of a run folder score, as the records say."""
    for preset in presets:
        for path in sorted((out_dir / preset / "records").rglob("*.npz")):
            return ErrorRecord.load(path).meta.get("dataset")
    return None


def _metrics(test: ErrorRecord, reading: Reading, holdout: ErrorRecord | None,
             quantile: float) -> dict[str, dict[str, dict]]:
    """Both protocols for each score kind, as plain dicts."""
    metrics = evaluate_record(test, reading, holdout, quantile, test.meta.get("fps", 25.0))
    return {kind: {protocol: m.as_dict() for protocol, m in by_protocol.items()}
            for kind, by_protocol in metrics.items()}


def _model_entry(run_dir: Path, model_family: str, steps: int | None) -> dict[str, Any]:
    """What both tables say of a preset's run: its family, length, settings and time."""
    released = run_dir / MODEL_DIR
    return {"family": model_family, "steps": steps,
            "train_config": read_model_config(released).get("train") if released.is_dir() else None,
            "train_seconds": train_seconds(run_dir)}


def build_results(out_dir: Path, dataset: str | None = None,
                  presets: Sequence[str] | None = None, settings: dict | None = None,
                  quantile: float = 0.99) -> dict[str, Any]:
    """Table 1 (``moving-mnist``) or Table 2 (a real dataset) from a run folder's records.

    Args:
        dataset: default: as the records say.
        presets: default: every preset with records, by name.
        settings: the run's, stored with the results; default: what the rebuild used.
        quantile: alarm threshold of the deployment protocol, a quantile of the
            held-out normal errors.
    """
    out_dir = Path(out_dir)
    presets = list(presets or presets_in(out_dir))
    if not presets:
        raise ConfigError(f"{out_dir}: no error records (PRESET/records/...) found")
    dataset = dataset or dataset_of(out_dir, presets)
    if dataset == MOVING_MNIST:
        return {"settings": settings or {"records": str(out_dir)},
                "paper_table_1": PAPER_TABLE_1,
                "models": {p: _table_1_model(out_dir, p, quantile) for p in presets}}
    return {"dataset": dataset, "settings": settings or {"quantile": quantile},
            "readings": {k: r.title for k, r in READINGS.items()},
            "paper_table_2": PAPER_TABLE_2.get(dataset or ""),
            "models": {p: _table_2_model(out_dir / p, quantile) for p in presets}}


def reading_titles(results: dict[str, Any], model_family: str) -> dict[str, str]:
    """How Table 2 names the readings of a model family."""
    return CONV_AE_TITLES if model_family == "Conv-AE" else results["readings"]


def scored_models(run_dir: Path) -> list[str]:
    """The released models of a Moving-MNIST preset run with records: the last weights,
    then the snapshots by step."""
    return [FINAL, *sorted(p.name for p in (run_dir / "records").glob("step_*"))]


def _candidates(run_dir: Path, preset: str) -> Iterator[tuple]:
    """Every reading validation chooses among: (model, scheme, T', error, kind, sigma)."""
    for model, (scheme, t_prime), error, kind, sigma in itertools.product(
            scored_models(run_dir), window_grid(preset), ERRORS, SCORE_KINDS, SIGMAS):
        yield model, scheme, t_prime, error, kind, sigma


def choose_reading(out_dir: Path, preset: str) -> tuple[tuple, dict[str, float]]:
    """The Moving-MNIST reading (released model included) with the best mean micro AUC
    over the two validation scenarios; on a tie the last weights, then the earlier
    candidate. Returns it and every candidate's mean AUC."""
    run_dir = out_dir / preset
    scores, records = {}, {}
    for candidate in _candidates(run_dir, preset):
        model, scheme, t_prime, error, kind, sigma = candidate
        aucs = []
        for name in VALIDATION:
            path = record_path(records_folder(run_dir, model, t_prime), scheme, name)
            if path not in records:
                records[path] = ErrorRecord.load(path)
            scores_ = reading_scores(records[path], Reading(scheme, error, sigma), kind)
            aucs.append(evaluate_frames(scores_, records[path].video_labels()).micro_auc)
        scores[candidate] = float(np.mean(aucs))
    best = max(scores, key=scores.get)
    return best, {"/".join(map(str, k)): v for k, v in scores.items()}


def table_1_record(run_dir: Path, reading: dict[str, Any], split: str) -> ErrorRecord:
    """The record of one set that a Table 1 reading (as ``results.json`` has it) reads."""
    folder = records_folder(run_dir, reading["model"], reading["t_prime"])
    return ErrorRecord.load(record_path(folder, reading["scheme"], split))


def _table_1_reading(run_dir: Path, preset: str, choice: tuple, quantile: float) -> dict:
    model, scheme, t_prime, error, kind, sigma = choice
    if family(preset) == "Conv-AE":
        scheme, t_prime = CONV_AE_GRID[0]
    folder = records_folder(run_dir, model, t_prime)
    normal = ErrorRecord.load(record_path(folder, scheme, "normal"))
    result = {"model": model, "steps": normal.meta.get("steps"), "scheme": scheme,
              "t_prime": t_prime, "error": error, "kind": kind, "sigma": sigma}
    for name in (*TEST_SCENARIOS, *VALIDATION, *BOX_SETS):
        record = ErrorRecord.load(record_path(folder, scheme, name))
        result[name] = _metrics(record, Reading(scheme, error, sigma), normal, quantile)[kind]
    return result


def _table_1_model(out_dir: Path, preset: str, quantile: float) -> dict[str, Any]:
    run_dir = out_dir / preset
    choice, validation = choose_reading(out_dir, preset)
    released = run_dir / MODEL_DIR
    steps = read_model_config(released).get("steps") if released.is_dir() else None
    readings = {name: _table_1_reading(run_dir, preset, reading, quantile)
                for name, reading in {**FIXED, "validated": choice}.items()}
    located = run_dir / LOCATED  # absent from runs made before it existed
    return {**_model_entry(run_dir, family(preset), steps), "readings": readings,
            "validation_mean_auc": validation,
            **({"located": LocatedStudy.load(located).figures()} if located.is_file() else {})}


def table_2_records(run_dir: Path, model: str, reading: Reading
                    ) -> tuple[ErrorRecord, ErrorRecord | None] | None:
    """(test, held-out) records a Table 2 reading is evaluated on; Conv-AE's one scheme
    (its sliding clips) serves every reading but the sliding one. None if not scored."""
    folder = records_folder(run_dir, model)
    for scheme in (reading.windows, CLIPS):
        test = record_path(folder, scheme, "test")
        if test.is_file() and not (scheme == CLIPS and reading.windows == "sliding"):
            holdout = record_path(folder, scheme, "holdout")
            return ErrorRecord.load(test), ErrorRecord.load(holdout) if holdout.is_file() else None
    return None


def _table_2_readings(run_dir: Path, model: str, quantile: float) -> dict[str, Any]:
    readings = {}
    for name, reading in READINGS.items():
        records = table_2_records(run_dir, model, reading)
        if records is not None:
            test, holdout = records
            readings[name] = _metrics(test, reading, holdout, quantile)
    return readings


def _table_2_model(run_dir: Path, quantile: float) -> dict[str, Any]:
    final = ErrorRecord.load(next(records_folder(run_dir).glob("*_test.npz"))).meta
    model_family = "Conv-AE" if final["scheme"] == CLIPS else "ConvLSTM-AE"
    entry = {**_model_entry(run_dir, model_family, final.get("steps")),
             "readings": _table_2_readings(run_dir, FINAL, quantile), "snapshots": {}}
    for snapshot in sorted((run_dir / "records").glob("step_*")):
        meta = ErrorRecord.load(next(snapshot.glob("*_test.npz"))).meta
        entry["snapshots"][snapshot.name] = {
            "steps": meta.get("steps"),
            "readings": _table_2_readings(run_dir, snapshot.name, quantile),
        }
    if entry["steps"] is not None:  # the last weights as the last point of the curve
        entry["snapshots"][f"step_{entry['steps']:06d}"] = {
            "steps": entry["steps"], "readings": entry["readings"]}
    return entry
