"""Table 1 (Moving-MNIST) and Table 2 (a real dataset) as text, from the results
:func:`convlstm_ae.experiments.results.build_results` returns: the paper's rows, then
ours; and the results published: ``results.json``, the figures and the table."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convlstm_ae.atomic import write_json
from convlstm_ae.experiments.common import FINAL
from convlstm_ae.experiments.figures import write_figures
from convlstm_ae.experiments.results import (
    BOX_SIZES,
    TEST_SCENARIOS,
    VALIDATION,
    build_results,
    reading_titles,
)

log = logging.getLogger(__name__)


def publish_run(out_dir: Path, dataset: str, presets: Sequence[str], settings: Any,
                quantile: float = 0.99) -> dict[str, Any]:
    """The end of an experiment: Table 1 or 2 of ``dataset`` from the records in
    ``out_dir``, with the run's ``settings`` (its settings dataclass) stored beside them,
    published (:func:`publish`) and logged; returns the results."""
    stored = {k: (str(v) if isinstance(v, Path) else v)
              for k, v in dataclasses.asdict(settings).items()}
    results = build_results(out_dir, dataset, presets, stored, quantile)
    publish(out_dir, results)
    log.info("%s\nresults: %s; figures: %s/*.png", format_table(results),
             out_dir / "results.json", out_dir)
    return results


def publish(out_dir: Path, results: dict[str, Any]) -> bool:
    """Write ``results.json`` (only when its rounded content changed, so rebuilding a
    committed folder leaves it as it is) and the figures into ``out_dir``; whether
    ``results.json`` was written."""
    written = write_json(out_dir / "results.json", results)
    write_figures(out_dir, results)
    return written


def format_table(results: dict[str, Any], kinds: Sequence[str] = ("frame",)) -> str:
    """The paper's table beside ours, frame-level ROC AUC; Table 2 shows the score
    ``kinds`` (``frame``, ``patch``) asked for."""
    if "paper_table_1" in results:
        return _table_1(results)
    return _table_2(results, kinds)


def _method(model: dict[str, Any], preset: str) -> str:
    return f"{model['family']} [{preset}]"


def _reading_title(reading: dict) -> str:
    sigma = f", Gaussian {reading['sigma']:g}" if reading["sigma"] else ""
    steps = "" if reading["model"] == FINAL else f"{reading['steps']} steps, "
    return (f"{steps}{reading['scheme']} T'={reading['t_prime']}, {reading['error']}, "
            f"{reading['kind']}{sigma}")


def _table_1(results: dict[str, Any]) -> str:
    """Micro AUC, macro and the leak-free deployment AUC after; then the appearance
    AUC against the occluder's side."""
    header = (f"{'model':<24}{'reading':<12}{'how':<36}{'appearance':>11}{'motion':>9}"
              f"{'val (mean)':>11}   macro (app/mot)   deployment AUC (app/mot)")
    lines = ["Table 1: frame-level ROC AUC on Moving-MNIST (micro; Eq. 4 per sequence). "
             "'validated': the reading (and snapshot, if any) with the best mean AUC on the "
             "validation scenarios",
             header, "-" * len(header)]
    for name, row in results["paper_table_1"].items():
        lines.append(f"{name + ' [paper]':<24}{'published':<12}{'':<36}"
                     f"{row['appearance']:>11.3f}{row['motion']:>9.3f}")
    for preset, model in results["models"].items():
        for name, reading in model["readings"].items():
            test = {s: reading[s]["paper"] for s in TEST_SCENARIOS}
            deployment = {s: reading[s]["deployment"]["auc"] for s in TEST_SCENARIOS}
            validation = np.mean([reading[v]["paper"]["micro_auc"] for v in VALIDATION])
            lines.append(
                f"{_method(model, preset):<24}{name:<12}{_reading_title(reading):<36}"
                f"{test['appearance']['micro_auc']:>11.3f}{test['motion']['micro_auc']:>9.3f}"
                f"{validation:>11.3f}   {test['appearance']['macro_auc']:.3f} / "
                f"{test['motion']['macro_auc']:.3f}     "
                f"{deployment['appearance']:.3f} / {deployment['motion']:.3f}")
    boxes = []
    for preset, model in results["models"].items():
        reading = model["readings"]["validated"]
        aucs = ", ".join(f"{box} px {reading[f'appearance_box{box}']['paper']['micro_auc']:.3f}"
                         for box in BOX_SIZES)
        boxes.append(f"  {_method(model, preset)}: 3 px (test) "
                     f"{reading['appearance']['paper']['micro_auc']:.3f}, {aucs}")
    lines += ["", "Appearance AUC against the occluder's side (validated reading):", *boxes]
    located = {preset: model for preset, model in results["models"].items()
               if "located" in model}
    if located:
        lines += ["", *_located_lines(located)]
    return "\n".join(lines)


def _located_lines(models: dict[str, Any]) -> list[str]:
    """The located live score (beyond the paper) beside the validated reading's Eq. 4
    and whole-frame live (deployment) AUC."""
    lines = ["Located live score (beyond the paper): pooled AUC, no per-sequence min-max, of "
             "the last weights' live errors; cell size and design chosen by the mean AUC on "
             "the validation scenarios. Beside it, the validated reading's Eq. 4 and "
             "whole-frame live AUC (app/mot)"]
    for preset, model in models.items():
        found, validated = model["located"], model["readings"]["validated"]
        auc, design = found["auc"], found["design"]
        eq4 = " / ".join(f"{validated[s]['paper']['micro_auc']:.3f}" for s in TEST_SCENARIOS)
        live = " / ".join(f"{validated[s]['deployment']['auc']:.3f}" for s in TEST_SCENARIOS)
        lines.append(
            f"  {_method(model, preset)}: appearance {auc['appearance']:.3f}, motion "
            f"{auc['motion']:.3f} (validation {np.mean([auc[v] for v in VALIDATION]):.3f}; "
            f"{design['unusual']}, {design['aggregate']}, adapt {design['adapt']}, smoothing "
            f"{design['smoothing']:g}, spread floor {design['spread_floor']:g}, cells of "
            f"{found['cell_size']} px, {found['windows']} T'={found['t_prime']}); "
            f"Eq. 4 {eq4}, whole-frame live {live}")
    return lines


def _table_2(results: dict[str, Any], kinds: Sequence[str]) -> str:
    """Every reading of the last weights, both protocols; then the micro AUC against
    training steps."""
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
        titles = reading_titles(results, model["family"])
        for reading, by_kind in model["readings"].items():
            for kind in kinds:
                p = by_kind[kind]["paper"]
                title = titles[reading] + ("" if kind == "frame" else ", patch max")
                line = (f"{_method(model, preset):<24}{title:<58}"
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
