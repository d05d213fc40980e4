"""Real datasets, Table 2 of the paper: the paper's protocol and a leak-free one beside it.

Each preset is trained on the normal training videos, except the last
``holdout_fraction`` of every training video, which is held out. The last weights
score the test videos (Eq. 3, memory reset every T' frames, or with ``windows =
"sliding"`` every frame at the end of its own T'-frame window; Conv-AE always slides
its clips) and are evaluated twice:

- paper protocol: Eq. 4 min-max per test video, frame-level ROC AUC (micro, the
  paper's; macro) and EER;
- leak-free deployment protocol (beyond the paper): errors standardised with the
  held-out normal frames, an alarm threshold at a high quantile of them, and AUC,
  precision, recall, F1 and false alarms per minute at that threshold. No statistic
  of any test video enters.

Both use the whole-frame score (Eq. 3) and the localized patch-max score. Stages
whose outputs exist are skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from convlstm_ae.config import ScoringConfig
from convlstm_ae.data.cache import CachedVideos, default_cache_dir
from convlstm_ae.data.clips import VideoHeads, held_out_tails, holdout_split
from convlstm_ae.data.layouts import Dataset, open_dataset
from convlstm_ae.evaluation import SCORE_KINDS, evaluate_errors, regularity_scores
from convlstm_ae.experiments.common import (
    Schedule,
    check_devices,
    family,
    method_name,
    plot_preset_rocs,
    plot_training_losses,
    train_preset,
    train_seconds,
)
from convlstm_ae.metrics import evaluate_deployment
from convlstm_ae.model.io import load_model, read_model_config, save_calibration
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.scoring.calibration import fit_calibrations
from convlstm_ae.scoring.reconstruction import score_videos
from convlstm_ae.training.fit import MODEL_DIR
from convlstm_ae.viz.plots import plot_score_grid

# Table 2 of the paper: frame-level AUC
PAPER_TABLE_2 = {
    "avenue": {"Conv-AE": 0.745, "ConvLSTM-AE": 0.770},
    "ped1": {"Conv-AE": 0.681, "ConvLSTM-AE": 0.755},
    "ped2": {"Conv-AE": 0.811, "ConvLSTM-AE": 0.881},
    "entrance": {"Conv-AE": 0.910, "ConvLSTM-AE": 0.933},
    "exit": {"Conv-AE": 0.802, "ConvLSTM-AE": 0.877},
}


@dataclass(frozen=True)
class RealVideoExperiment:
    """Settings of one run on a real dataset."""

    root: Path
    name: str = "ped2"  # the Table 2 row printed beside ours
    out_dir: Path = Path("runs/ped2")
    presets: tuple[str, ...] = ("paper", "conv-ae")
    schedule: Schedule = Schedule()  # the presets' own schedules unless overridden
    holdout_fraction: float = 0.15  # tail of each training video kept for calibration
    quantile: float = 0.99  # alarm threshold: this quantile of held-out normal scores
    cache_dir: Path | None = None
    layout: str | None = None
    labels: Path | None = None
    stage: str = "all"  # "train": train only (test videos may be absent); "all"
    windows: str = "reset"  # T' windows of Eq. 3: "reset" (consecutive) or "sliding"

    @property
    def eval_dir(self) -> Path:
        """Where results and figures go: ``out_dir``, or a subfolder per window scheme."""
        return self.out_dir if self.windows == "reset" else self.out_dir / self.windows


def _cached(records, frame_size: int, cache_dir: Path) -> CachedVideos:
    return CachedVideos([(r.source, r.start, r.stop) for r in records], frame_size, cache_dir)


def _save_errors(path: Path, errors: dict[str, list[np.ndarray]]) -> None:
    arrays = {f"{kind}_{i:04d}": e for kind, per in errors.items() for i, e in enumerate(per)}
    np.savez(path, **arrays)


def _load_errors(path: Path, count: int) -> dict[str, list[np.ndarray]]:
    with np.load(path) as data:
        return {kind: [data[f"{kind}_{i:04d}"] for i in range(count)] for kind in SCORE_KINDS}


def _train(experiment: RealVideoExperiment, preset: str, dataset: Dataset,
           train_videos: CachedVideos) -> Path:
    """Train on the training videos minus their held-out tails."""
    clip_length = preset_configs(preset)[0].clip_length
    lengths = holdout_split(train_videos, experiment.holdout_fraction, clip_length)
    note = (f" on {sum(lengths)} frames ({len(train_videos)} videos, last "
            f"{experiment.holdout_fraction:.0%} of each held out)")
    return train_preset(preset, VideoHeads(train_videos, lengths), experiment.out_dir / preset,
                        experiment.schedule, ScoringConfig(t_prime=dataset.t_prime), note)


def evaluate_preset(experiment: RealVideoExperiment, preset: str, dataset: Dataset,
                    train_videos: CachedVideos, test_videos: CachedVideos) -> dict:
    """Both protocols for one trained preset; errors cached in the run folder."""
    run_dir = experiment.out_dir / preset
    model_config, _ = preset_configs(preset)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # Conv-AE always scores sliding clips: its errors are the same under either scheme
    windows = experiment.windows if family(preset) == "ConvLSTM-AE" else "reset"
    suffix = "" if windows == "reset" else f"_{windows}"
    holdout_path = run_dir / f"errors_holdout{suffix}.npz"
    test_path = run_dir / f"errors_test{suffix}.npz"
    if not (holdout_path.is_file() and test_path.is_file()):
        model = load_model(run_dir / MODEL_DIR, device)
        clip_length = model_config.clip_length
        lengths = holdout_split(train_videos, experiment.holdout_fraction, clip_length)
        tails = held_out_tails(train_videos, lengths, clip_length)
        _save_errors(holdout_path, score_videos(model, tails, dataset.t_prime, "held-out",
                                                windows))
        test = [test_videos.video(i) for i in range(len(test_videos))]
        _save_errors(test_path, score_videos(model, test, dataset.t_prime, "test", windows))
    with np.load(holdout_path) as data:
        num_tails = len([k for k in data.files if k.startswith("frame_")])
    holdout = _load_errors(holdout_path, num_tails)
    test = _load_errors(test_path, len(test_videos))
    labels = [record.labels for record in dataset.test]
    paper = evaluate_errors(test, labels)
    deployment = {}
    calibrations = fit_calibrations(holdout, dataset.t_prime, experiment.quantile)
    for kind, calibration in calibrations.items():
        scores = [calibration.score(e) for e in test[kind]]
        deployment[kind] = evaluate_deployment(scores, labels, calibration.threshold, dataset.fps)
    if windows == "reset":  # the scheme `score` uses with the released model
        save_calibration(run_dir / MODEL_DIR, calibrations)
    return {"paper": paper, "deployment": deployment, "errors": test}


def run(experiment: RealVideoExperiment) -> dict:
    """Train (and unless ``stage == "train"``, evaluate) every preset; returns results."""
    check_devices(experiment.schedule, experiment.presets)
    dataset = open_dataset(experiment.root, layout=experiment.layout, labels=experiment.labels)
    cache_dir = experiment.cache_dir or default_cache_dir()
    experiment.out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "dataset": {"name": experiment.name, "layout": dataset.layout, "root": str(dataset.root),
                    "label_convention": dataset.label_convention, "t_prime": dataset.t_prime,
                    "train_videos": len(dataset.train), "test_videos": len(dataset.test)},
        "settings": {k: (str(v) if isinstance(v, Path) else v)
                     for k, v in dataclasses.asdict(experiment).items()},
        "paper_table_2": PAPER_TABLE_2.get(experiment.name),
        "models": {},
    }
    sizes = {preset_configs(p)[0].frame_size for p in experiment.presets}
    train_by_size = {size: _cached(dataset.train, size, cache_dir) for size in sizes}
    trained = {}
    for preset in experiment.presets:
        train_videos = train_by_size[preset_configs(preset)[0].frame_size]
        trained[preset] = (_train(experiment, preset, dataset, train_videos), train_videos)
    if experiment.stage == "train":
        return results
    test_by_size = {size: _cached(dataset.test, size, cache_dir) for size in sizes}
    all_errors = {}
    for preset, (model_dir, train_videos) in trained.items():
        size = preset_configs(preset)[0].frame_size
        evaluation = evaluate_preset(experiment, preset, dataset, train_videos, test_by_size[size])
        all_errors[preset] = evaluation["errors"]
        released = read_model_config(model_dir)
        results["models"][preset] = {
            "family": family(preset),
            "steps": released.get("steps"),
            "train_config": released.get("train"),
            "train_seconds": train_seconds(experiment.out_dir / preset),
            "paper_protocol": {k: m.as_dict() for k, m in evaluation["paper"].items()},
            "deployment_protocol": {k: m.as_dict() for k, m in evaluation["deployment"].items()},
        }
    eval_dir = experiment.eval_dir
    eval_dir.mkdir(parents=True, exist_ok=True)
    (eval_dir / "results.json").write_text(json.dumps(results, indent=2))
    write_figures(experiment, dataset, all_errors)
    print(format_table(results))
    print(f"results: {eval_dir / 'results.json'}; figures: {eval_dir}/*.png")
    return results


def format_table(results: dict) -> str:
    """Table 2's row beside ours, both protocols."""
    name = results["dataset"]["name"]
    header = (f"{'model':<26}{'score':<30}{'micro':>7}{'macro':>7}{'EER':>7}"
              f" | {'AUC':>6}{'prec':>7}{'recall':>7}{'F1':>7}{'FA/min':>8}")
    lines = [
        f"Table 2 ({name}, {results['settings']['windows']} T' windows): frame-level ROC "
        "AUC. Left: paper protocol (Eq. 4 per test video). "
        "Right: leak-free deployment (calibrated on held-out normal training frames, "
        f"threshold = q{results['settings']['quantile']} of them)",
        header, "-" * len(header),
    ]
    for method, paper_auc in (results["paper_table_2"] or {}).items():
        lines.append(f"{method + ' [paper]':<26}{'whole frame (paper)':<30}{paper_auc:>7.3f}")
    for preset, model in results["models"].items():
        for kind, label in SCORE_KINDS.items():
            p = model["paper_protocol"][kind]
            d = model["deployment_protocol"][kind]
            lines.append(
                f"{model['family'] + ' [' + preset + ']':<26}{label:<30}"
                f"{p['micro_auc']:>7.3f}{p['macro_auc']:>7.3f}{p['eer']:>7.3f}"
                f" | {d['auc']:>6.3f}{d['precision']:>7.3f}{d['recall']:>7.3f}{d['f1']:>7.3f}"
                f"{d['false_alarms_per_minute']:>8.2f}"
            )
    return "\n".join(lines)


def write_figures(experiment: RealVideoExperiment, dataset: Dataset, all_errors: dict) -> None:
    """Score over time per test video (like Fig. 5), ROC curves, training loss."""
    out = experiment.eval_dir
    labels = [record.labels for record in dataset.test]
    for kind in SCORE_KINDS:
        panels = []
        for index, record in enumerate(dataset.test):
            curves = {method_name(p): regularity_scores([errors[kind][index]])[0]
                      for p, errors in all_errors.items()}
            panels.append((f"test video {record.name}", curves, labels[index]))
        plot_score_grid(panels, out / f"scores_{kind}.png", ncols=3)
        plot_preset_rocs({p: errors[kind] for p, errors in all_errors.items()}, labels,
                         out / f"roc_{kind}.png")
    plot_training_losses(experiment.out_dir, list(all_errors), out / "training_loss.png")
