"""Table 2 and its figures, rebuilt from the error records of a run folder alone.

A run folder holds one subfolder per preset; each has ``records/<model>/<scheme>_<split>
.npz`` (``scoring/records.py``) for its last weights (``final``) and its snapshots
(``step_005000`` ...). Nothing here needs a GPU, the model or the videos.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import auc

from convlstm_ae.experiments.common import method_name, plot_training_losses
from convlstm_ae.metrics import roc_points
from convlstm_ae.pipeline.evaluate import READINGS, Reading, evaluate_record, reading_scores
from convlstm_ae.pipeline.train import train_seconds
from convlstm_ae.release import MODEL_DIR, read_model_config
from convlstm_ae.scoring.records import ErrorRecord
from convlstm_ae.viz.plots import plot_auc_by_steps, plot_roc, plot_score_grid

# Table 2 of the paper: frame-level AUC
PAPER_TABLE_2 = {
    "avenue": {"Conv-AE": 0.745, "ConvLSTM-AE": 0.770},
    "ped1": {"Conv-AE": 0.681, "ConvLSTM-AE": 0.755},
    "ped2": {"Conv-AE": 0.811, "ConvLSTM-AE": 0.881},
    "entrance": {"Conv-AE": 0.910, "ConvLSTM-AE": 0.933},
    "exit": {"Conv-AE": 0.802, "ConvLSTM-AE": 0.877},
}
HEADLINE = "released"  # the reading that produced the paper's numbers
# Conv-AE has no memory windows: each reading keeps only its e(t) and smoothing
CONV_AE_TITLES = {
    "paper": "Hasan et al.: sliding-clip error",
    "released": "sliding-clip error, sqrt",
    "released_smoothed": "sliding-clip error, sqrt + Gaussian (beyond)",
}


def record_path(run_dir: Path, model: str, scheme: str, split: str) -> Path:
    return run_dir / "records" / model / f"{scheme}_{split}.npz"


def reading_records(run_dir: Path, model: str, reading: Reading
                    ) -> tuple[ErrorRecord, ErrorRecord | None] | None:
    """(test, held-out) records a reading is evaluated on; Conv-AE's one scheme (its
    sliding clips) serves every reading but the sliding one. None if not scored."""
    for scheme in (reading.windows, "clips"):
        test = record_path(run_dir, model, scheme, "test")
        if test.is_file() and not (scheme == "clips" and reading.windows == "sliding"):
            holdout = record_path(run_dir, model, scheme, "holdout")
            return ErrorRecord.load(test), ErrorRecord.load(holdout) if holdout.is_file() else None
    return None


def _evaluate_model(run_dir: Path, model: str, quantile: float) -> dict[str, Any]:
    readings = {}
    for name, reading in READINGS.items():
        records = reading_records(run_dir, model, reading)
        if records is None:
            continue
        test, holdout = records
        metrics = evaluate_record(test, reading, holdout, quantile, test.meta.get("fps", 25.0))
        readings[name] = {kind: {protocol: m.as_dict() for protocol, m in by_protocol.items()}
                          for kind, by_protocol in metrics.items()}
    return readings


def presets_in(out_dir: Path) -> list[str]:
    """Presets of a run folder: the subfolders holding error records."""
    return sorted(p.name for p in out_dir.iterdir() if (p / "records" / "final").is_dir())


def build_results(out_dir: Path, presets: Sequence[str] | None = None, name: str | None = None,
                  quantile: float = 0.99, settings: dict | None = None) -> dict[str, Any]:
    """Every reading of every preset's last weights (both protocols) and snapshots."""
    out_dir = Path(out_dir)
    presets = list(presets or presets_in(out_dir))
    results: dict[str, Any] = {"dataset": name, "settings": settings or {"quantile": quantile},
                               "readings": {k: r.title for k, r in READINGS.items()},
                               "paper_table_2": PAPER_TABLE_2.get(name or ""), "models": {}}
    for preset in presets:
        run_dir = out_dir / preset
        final = ErrorRecord.load(next((run_dir / "records" / "final").glob("*_test.npz"))).meta
        name = name or final.get("dataset")
        released = run_dir / MODEL_DIR
        entry: dict[str, Any] = {
            "family": "Conv-AE" if final["scheme"] == "clips" else "ConvLSTM-AE",
            "steps": final.get("steps"),
            "train_config": read_model_config(released).get("train") if released.is_dir() else None,
            "train_seconds": train_seconds(run_dir),
            "readings": _evaluate_model(run_dir, "final", quantile),
            "snapshots": {},
        }
        for snapshot in sorted((run_dir / "records").glob("step_*")):
            meta = ErrorRecord.load(next(snapshot.glob("*_test.npz"))).meta
            entry["snapshots"][snapshot.name] = {
                "steps": meta.get("steps"),
                "readings": _evaluate_model(run_dir, snapshot.name, quantile),
            }
        if entry["steps"] is not None:  # the last weights as the last point of the curve
            entry["snapshots"][f"step_{entry['steps']:06d}"] = {
                "steps": entry["steps"], "readings": entry["readings"]}
        results["models"][preset] = entry
    results["dataset"] = name
    results["paper_table_2"] = PAPER_TABLE_2.get(name or "")
    return results


def format_table(results: dict[str, Any], kinds: Sequence[str] = ("frame",)) -> str:
    """Table 2's row beside ours: every reading, both protocols."""
    header = (f"{'model':<24}{'reading':<58}{'micro':>7}{'macro':>7}{'EER':>7}"
              f" | {'AUC':>6}{'prec':>7}{'recall':>7}{'F1':>7}{'FA/min':>8}")
    lines = [
        f"Table 2 ({results['dataset']}): frame-level ROC AUC of the last weights. Left: paper "
        "protocol (Eq. 4 per test video). Right: leak-free deployment (calibrated on held-out "
        "normal training frames, threshold = q"
        f"{results['settings'].get('quantile', 0.99)} of them)",
        header, "-" * len(header),
    ]
    for method, paper_auc in (results["paper_table_2"] or {}).items():
        lines.append(f"{method + ' [paper]':<24}{'as published':<58}{paper_auc:>7.3f}")
    for preset, model in results["models"].items():
        for reading, by_kind in model["readings"].items():
            for kind in kinds:
                p = by_kind[kind]["paper"]
                titles = CONV_AE_TITLES if model["family"] == "Conv-AE" else results["readings"]
                title = titles[reading] + ("" if kind == "frame" else ", patch max")
                line = (f"{model['family'] + ' [' + preset + ']':<24}{title:<58}"
                        f"{p['micro_auc']:>7.3f}{p['macro_auc']:>7.3f}{p['eer']:>7.3f}")
                d = by_kind[kind].get("deployment")
                if d is not None and "smoothed" not in reading:
                    line += (f" | {d['auc']:>6.3f}{d['precision']:>7.3f}{d['recall']:>7.3f}"
                             f"{d['f1']:>7.3f}{d['false_alarms_per_minute']:>8.2f}")
                lines.append(line)
    steps_lines = []
    for preset, model in results["models"].items():
        for snapshot in model["snapshots"].values():
            aucs = "  ".join(
                f"{reading} {by_kind['frame']['paper']['micro_auc']:.3f}"
                for reading, by_kind in snapshot["readings"].items())
            steps_lines.append(f"  {preset:<10}{snapshot['steps']:>7} steps: {aucs}")
    if steps_lines:
        lines += ["", "Micro AUC (whole frame) against training steps; the headline is the "
                  "last weights, never a snapshot picked by these numbers:", *steps_lines]
    return "\n".join(lines)


def write_figures(out_dir: Path, results: dict[str, Any]) -> None:
    """Score over time per test video (like Fig. 5) and ROC curves for the paper's and
    the released reading, AUC against training steps, and the training loss."""
    out_dir = Path(out_dir)
    presets = list(results["models"])
    for reading_name in ("paper", HEADLINE):
        reading = READINGS[reading_name]
        scored = {p: reading_records(out_dir / p, "final", reading) for p in presets}
        scored = {p: r[0] for p, r in scored.items() if r is not None}
        if not scored:
            continue
        anomaly = {p: reading_scores(r, reading) for p, r in scored.items()}
        first = next(iter(scored.values()))
        labels = first.video_labels()
        panels = [(f"test video {video}", {method_name(p): 1 - a[i] for p, a in anomaly.items()},
                   labels[i]) for i, video in enumerate(first.names)]
        plot_score_grid(panels, out_dir / f"scores_{reading_name}.png", ncols=3)
        curves = {}
        for preset, scores in anomaly.items():
            fpr, tpr = roc_points(scores, labels)
            curves[method_name(preset)] = (fpr, tpr, float(auc(fpr, tpr)))
        plot_roc(curves, out_dir / f"roc_{reading_name}.png")
    by_steps = {}
    for preset, model in results["models"].items():
        for reading in ("paper", HEADLINE):
            points = sorted((s["steps"], s["readings"][reading]["frame"]["paper"]["micro_auc"])
                            for s in model["snapshots"].values() if reading in s["readings"])
            titles = CONV_AE_TITLES if model["family"] == "Conv-AE" else results["readings"]
            if len(points) > 1:
                by_steps[f"{method_name(preset)}, {titles[reading]}"] = np.array(points)
    if by_steps:
        plot_auc_by_steps(by_steps, out_dir / "auc_by_steps.png")
    plot_training_losses(out_dir, presets, out_dir / "training_loss.png")
