"""The figures of Table 1 (Moving-MNIST) and Table 2 (a real dataset), from a run
folder's records and the results :func:`convlstm_ae.experiments.results.build_results`
returns: score curves (the paper's Fig. 2 and 5), ROC curves, the training loss (Fig. 3
and 4), and ours beyond: the appearance gap, AUC against training steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import auc

from convlstm_ae.experiments.common import FINAL, method_name, plot_training_losses
from convlstm_ae.experiments.located_mnist import LOCATED, LocatedStudy
from convlstm_ae.experiments.results import (
    BOX_SETS,
    BOX_SIZES,
    TEST_SCENARIOS,
    reading_titles,
    table_1_record,
    table_2_records,
)
from convlstm_ae.metrics import roc_points
from convlstm_ae.pipeline.evaluate import READINGS, Reading, reading_scores
from convlstm_ae.scoring.records import ErrorRecord
from convlstm_ae.viz.plots import (
    plot_appearance_gap,
    plot_auc_by_steps,
    plot_roc,
    plot_score_grid,
)

HEADLINE = "released"  # the Table 2 reading that produced the paper's numbers


def write_figures(out_dir: Path, results: dict[str, Any]) -> None:
    """Every figure of the table ``results`` holds, into ``out_dir``."""
    out_dir = Path(out_dir)
    if "paper_table_1" in results:
        _table_1_figures(out_dir, results)
    else:
        _table_2_figures(out_dir, results)


def _roc(scored: Mapping[str, tuple[Sequence[np.ndarray], Sequence[np.ndarray]]],
         path: Path) -> None:
    """ROC curves of the methods' (scores, labels), frames pooled."""
    curves = {}
    for method, (scores, labels) in scored.items():
        fpr, tpr = roc_points(scores, labels)
        curves[method] = (fpr, tpr, float(auc(fpr, tpr)))
    plot_roc(curves, path)


def _table_1_figures(out_dir: Path, results: dict[str, Any]) -> None:
    """Fig. 2 (score curves), Fig. 3 (training loss), ROC curves and the appearance gap,
    of each preset's validated reading; the ROC curves also of each located live score
    (beyond the paper) a run holds."""
    presets = list(results["models"])
    records, readings = {}, {}
    for preset in presets:
        chosen = results["models"][preset]["readings"]["validated"]
        readings[preset] = (Reading(chosen["scheme"], chosen["error"], chosen["sigma"]),
                            chosen["kind"])
        records[preset] = {name: table_1_record(out_dir / preset, chosen, name)
                           for name in (*TEST_SCENARIOS, "normal", *BOX_SETS)}
    scores = {preset: {name: reading_scores(records[preset][name], *readings[preset])
                       for name in TEST_SCENARIOS} for preset in presets}
    panels = []
    for scenario in TEST_SCENARIOS:
        for index in range(2):
            curves = {method_name(p): 1 - scores[p][scenario][index] for p in presets}
            labels = records[presets[-1]][scenario].video_labels()[index]
            panels.append((f"{scenario}, sequence {index}", curves, labels))
    plot_score_grid(panels, out_dir / "fig2_scores.png")
    located = {p: LocatedStudy.load(out_dir / p / LOCATED) for p in presets
               if (out_dir / p / LOCATED).is_file()}
    for scenario in TEST_SCENARIOS:
        _roc({**{method_name(p): (scores[p][scenario], records[p][scenario].video_labels())
                 for p in presets},
              **{f"{method_name(p)}, located live": (list(study.scores[scenario]),
                                                     list(study.labels[scenario]))
                 for p, study in located.items()}}, out_dir / f"roc_{scenario}.png")
    gaps = {}
    for preset in presets:
        reading, kind = readings[preset]
        sets = {3: records[preset]["appearance"],
                **{b: records[preset][f"appearance_box{b}"] for b in BOX_SIZES}}
        gaps[method_name(preset)] = appearance_gap(records[preset]["normal"], sets, kind,
                                                   reading.error)
    plot_appearance_gap(gaps, out_dir / "appearance_gap.png")
    plot_training_losses(out_dir, presets, out_dir / "fig3_training_loss.png")


def appearance_gap(normal: ErrorRecord, sets: dict[int, ErrorRecord], kind: str, error: str
                   ) -> dict[int, np.ndarray]:
    """How far an occluder lifts a frame's error, in units of the spread of normal
    errors: per box size, (e(t) on a boxed frame - mean e on the sequence's other
    frames) / std of e over all normal frames."""
    spread = np.concatenate(normal.errors(kind, error)).std()
    gaps = {}
    for box, record in sets.items():
        values = []
        for errors, labels in zip(record.errors(kind, error), record.video_labels(), strict=True):
            if labels.any() and not labels.all():
                values.append((errors[labels == 1] - errors[labels == 0].mean()) / spread)
        gaps[box] = np.concatenate(values)
    return gaps


def _table_2_figures(out_dir: Path, results: dict[str, Any]) -> None:
    """Score over time per test video (like Fig. 5) and ROC curves for the paper's and
    the released reading of the last weights, AUC against training steps, and the
    training loss."""
    presets = list(results["models"])
    for reading_name in ("paper", HEADLINE):
        reading = READINGS[reading_name]
        scored = {p: table_2_records(out_dir / p, FINAL, reading) for p in presets}
        scored = {p: r[0] for p, r in scored.items() if r is not None}
        if not scored:
            continue
        anomaly = {p: reading_scores(r, reading) for p, r in scored.items()}
        first = next(iter(scored.values()))
        labels = first.video_labels()
        panels = [(f"test video {video}", {method_name(p): 1 - a[i] for p, a in anomaly.items()},
                   labels[i]) for i, video in enumerate(first.names)]
        plot_score_grid(panels, out_dir / f"scores_{reading_name}.png", ncols=3)
        _roc({method_name(p): (a, labels) for p, a in anomaly.items()},
             out_dir / f"roc_{reading_name}.png")
    by_steps = {}
    for preset, model in results["models"].items():
        titles = reading_titles(results, model["family"])
        for reading in ("paper", HEADLINE):
            points = sorted((s["steps"], s["readings"][reading]["frame"]["paper"]["micro_auc"])
                            for s in model["snapshots"].values() if reading in s["readings"])
            if len(points) > 1:
                by_steps[f"{method_name(preset)}, {titles[reading]}"] = np.array(points)
    if by_steps:
        plot_auc_by_steps(by_steps, out_dir / "auc_by_steps.png")
    plot_training_losses(out_dir, presets, out_dir / "training_loss.png")
