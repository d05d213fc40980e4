"""The located live score chosen on validation, then measured once on the test videos.

Beyond the paper. The recipe, fixed before any test label is read:

1. Whole training videos are held out (never trained on): the model's calibration
   footage, and the validation footage.
2. Validation, leave one held-out video out: per-cell statistics from the others score
   the left-out video, and copies of it with synthetic anomalies
   (:mod:`convlstm_ae.data.synthetic`, all kinds, starting after a warm-up and from the
   first frame), each also as a new recording would show it (:data:`RECORDINGS`: its
   errors at half and twice the level, and with busy and quiet places moved). Every
   design of :data:`DESIGNS` at every cell size of :data:`CELL_FACTORS` gets a pooled
   AUC and false alarms per minute of the left-out normal videos (as recorded and
   shifted) at each of :data:`QUANTILES`. Of the designs with at most
   :data:`MAX_FALSE_ALARMS` at some quantile, the best AUC is chosen, with the lowest
   such quantile.
3. The chosen score, with statistics and threshold from all held-out videos, is measured
   on the test videos: pooled AUC, alarms at the threshold, events; Eq. 4 beside it.

The model is needed only for the errors (:mod:`convlstm_ae.experiments.live_records`);
every figure is made from the records, so ``convlstm-ae tables`` rebuilds them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import atomic_path, write_json
from convlstm_ae.errors import ConfigError
from convlstm_ae.experiments.live_records import (
    RECORDS,
    SEED,
    LiveRecords,
    Video,
    authors_reading,
    live_videos,
    load_records,
    save_records,
    validation_copies,
)
from convlstm_ae.metrics import evaluate_deployment, frame_auc
from convlstm_ae.model.convlstm_ae import ConvLSTMAE
from convlstm_ae.scoring.calibration import PositionCalibration
from convlstm_ae.scoring.located import (
    LocatedCalibration,
    LocatedDesign,
    fit_located,
    fit_statistics,
    held_out_scores,
    located_scores,
    smooth,
)
from convlstm_ae.scoring.regularity import regularity_score

CELL_FACTORS = (2, 4, 8, 16)  # cell sides, in base cells
QUANTILES = (0.99, 0.995, 0.999, 1.0)
MAX_FALSE_ALARMS = 1.0  # false-alarm runs per minute of normal validation video
SMOOTHINGS = (1.0, 0.5, 0.25)
DESIGNS = tuple(
    LocatedDesign(unusual, aggregate, adapt, smoothing, stream_frames=50,
                  spread_floor=spread_floor)
    for unusual, aggregate, adapt, spread_floor, smoothing in itertools.product(
        ("excess", "z"), ("sum", "max", "top"), ("none", "frame", "stream", "cells"),
        (0.05, 0.5), SMOOTHINGS)
    if not (unusual == "z" and aggregate == "sum")  # a sum of z-scores is the whole frame
)
# How a new recording may differ from the calibration footage, applied to the left-out
# video's errors: (gain of every error, log-spread of a smooth per-place gain). The gains
# are the measurement on another dataset (held-out tails at twice the typical
# whole-frame error), fixed before the score's test figures were read.
RECORDINGS = {"as recorded": (1.0, 0.0), "half": (0.5, 0.0), "double": (2.0, 0.0),
              "places": (1.0, 0.5)}
PLACES_GRID = 4  # the per-place gain varies smoothly over a 4 x 4 grid of the frame


def recording_gain(shape: tuple[int, int], gain: float, spread: float, seed: int
                   ) -> np.ndarray:
    """A recording's gain on each base cell (H, W): ``gain`` times a smooth log-normal
    field of log-spread ``spread`` (1 everywhere when 0)."""
    if spread == 0:
        return np.full(shape, gain)
    import cv2

    coarse = np.random.default_rng(seed).normal(0, spread, (PLACES_GRID, PLACES_GRID))
    field = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return gain * np.exp(field)


@dataclass(frozen=True)
class Validation:
    """Validation figures of one design at one cell size."""

    cell_size: int
    design: LocatedDesign
    auc: float  # pooled over every fold's normal video and its synthetic copies
    auc_by_kind: dict[str, float]
    auc_by_recording: dict[str, float]  # of :data:`RECORDINGS`
    false_alarms: dict[float, float]  # per minute of normal video, by alarm quantile
    events_alarmed: dict[float, float]  # within 1 s of their start, by alarm quantile


def pool_cells(cells: np.ndarray, factor: int) -> np.ndarray:
    """(N, H, W) cell means -> means over ``factor`` x ``factor`` blocks, whole blocks only:
    the cells of ``factor`` times the side, as
    :func:`convlstm_ae.scoring.reconstruction.reduce_maps` makes them."""
    if factor == 1:
        return cells
    n, h, w = cells.shape
    rows, columns = h // factor, w // factor
    blocks = cells[:, :rows * factor, :columns * factor].reshape(n, rows, factor, columns, factor)
    return blocks.mean(axis=(2, 4))


def validate(normal: Sequence[Video], copies: Sequence[Sequence[Video]], base_cell: int,
             fps: float) -> list[Validation]:
    """Every design at every cell size, leave one held-out video out (see module)."""
    rows = []
    histories = [v.history for v in normal]
    shape = normal[0].cells.shape[1:]
    gains = {name: recording_gain(shape, gain, spread, SEED + index)
             for index, (name, (gain, spread)) in enumerate(RECORDINGS.items())}
    fitting = [f for f in CELL_FACTORS if min(shape) // f >= 1]  # a cell within the frame
    for factor in fitting:  # each video pooled once per cell size, not per design
        cells = [pool_cells(v.cells, factor) for v in normal]
        folds = [[(name, [pool_cells(v.cells * gain, factor)
                          for v in (normal[left], *copies[left])])
                  for name, gain in gains.items()] for left in range(len(normal))]
        for design in (d for d in DESIGNS if d.smoothing == 1.0):  # smoothed ones below
            per_smoothing = {a: ([], [], [], {q: [] for q in QUANTILES}) for a in SMOOTHINGS}
            for left, fold in enumerate(folds):
                others = [i for i in range(len(normal)) if i != left]
                statistics = fit_statistics([cells[i] for i in others],
                                            [histories[i] for i in others], design)
                held = held_out_scores([cells[i] for i in others],
                                       [histories[i] for i in others], design)
                videos = [normal[left], *copies[left]]
                # every recording of every video of the fold (of one length) as one batch
                # of streams, then back to (recording, [video scores])
                together = np.stack([c for _, shifted in fold for c in shifted])
                history = np.broadcast_to(histories[left], together.shape[:2])
                batch = iter(located_scores(together, history, statistics, design)[0])
                raw = [(name, [next(batch) for _ in shifted]) for name, shifted in fold]
                for alpha, (scores, labels, kinds, thresholds) in per_smoothing.items():
                    smoothed = np.concatenate([smooth(h, alpha) for h in held])
                    for name, recording in raw:
                        for q in QUANTILES:  # from the other videos' held-out scores
                            thresholds[q].append(float(np.quantile(smoothed, q)))
                        scores.append([smooth(r, alpha) for r in recording])
                        labels.append([v.labels for v in videos])
                        kinds.append([(v.kind, name) for v in videos])
            for alpha, (scores, labels, kinds, thresholds) in per_smoothing.items():
                rows.append(_figures(scores, labels, kinds, thresholds, base_cell * factor,
                                     replace(design, smoothing=alpha), fps))
    return rows


def _figures(scores, labels, kinds, thresholds, cell_size, design, fps) -> Validation:
    flat_scores = [s for fold in scores for s in fold]
    flat_labels = [lab for fold in labels for lab in fold]
    flat_kinds = [k for fold in kinds for k in fold]
    auc = frame_auc(flat_scores, flat_labels)[0]

    def auc_of(keep) -> float:
        chosen = [i for i, k in enumerate(flat_kinds) if keep(k)]
        return frame_auc([flat_scores[i] for i in chosen], [flat_labels[i] for i in chosen])[0]

    anomaly_kinds = sorted({kind for kind, _ in flat_kinds} - {"normal"})
    by_kind = {kind: auc_of(lambda k, kind=kind: k[0] in (kind, "normal"))
               for kind in anomaly_kinds}
    by_recording = {name: auc_of(lambda k, name=name: k[1] == name) for name in RECORDINGS}
    false_alarms, alarmed = {}, {}
    for q, per_fold in thresholds.items():  # each fold's scores less its own threshold
        relative = [s - t for fold, t in zip(scores, per_fold, strict=True) for s in fold]
        metrics = evaluate_deployment(relative, flat_labels, 0.0, fps)
        false_alarms[q], alarmed[q] = metrics.false_alarms_per_minute, metrics.events_alarmed
    return Validation(cell_size, design, auc, by_kind, by_recording, false_alarms, alarmed)


def choose(rows: Sequence[Validation]) -> tuple[Validation, float]:
    """The design with the best validation AUC among those within the alarm budget
    (:data:`MAX_FALSE_ALARMS` per minute at one of :data:`QUANTILES`; all designs when
    none is), and its alarm quantile: the lowest within the budget (else the highest)."""
    within = [row for row in rows if min(row.false_alarms.values()) <= MAX_FALSE_ALARMS]
    best = max(within or rows, key=lambda row: row.auc)
    allowed = [q for q in QUANTILES if best.false_alarms[q] <= MAX_FALSE_ALARMS]
    return best, min(allowed) if allowed else max(QUANTILES)


def whole_frame_baseline(normal: Sequence[Video], test: Sequence[Video]
                         ) -> list[np.ndarray]:
    """Today's deployment score: the whole-frame Eq. 3, standardised per window position
    on the held-out videos."""
    calibration = PositionCalibration.fit([e.frame for e in normal], None,
                                          [e.history for e in normal])
    return [calibration.standardize(e.frame, e.history) for e in test]


def eq4_aucs(test: Sequence[Video], labels: Sequence[np.ndarray]) -> tuple[float, float]:
    """Eq. 4 (min-max per test video) of the same live errors: micro and macro AUC."""
    scores = [1 - regularity_score(e.frame) for e in test]
    return frame_auc(scores, labels)


def _write(path: Path, value) -> None:
    """``value`` as stable JSON (see :func:`convlstm_ae.atomic.write_json`)."""
    write_json(path, json.loads(json.dumps(value, default=_plain)))


def _plain(value):
    if isinstance(value, LocatedDesign):
        return asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))


def base_cell_size(frame_size: int) -> int:
    """The finest cell validated: 1/32 of the frame (2 px at 64 px, 7 px at 225 px)."""
    return max(1, round(frame_size / 32))


def held_out_names(model_dir: Path, given: str | None) -> list[str]:
    """The training videos the model never saw: ``given`` (comma-separated), else the
    model's own record of them (``train --holdout-videos``).

    Raises:
        ConfigError: neither names them.
    """
    from convlstm_ae.pipeline.train import HELD_OUT_VIDEOS
    from convlstm_ae.release_files import read_model_config

    if given:
        return [name.strip() for name in given.split(",") if name.strip()]
    recorded = read_model_config(model_dir).get(HELD_OUT_VIDEOS)
    if not recorded:
        raise ConfigError(f"{model_dir}: the model records no held-out videos (trained with "
                          "tails); name them with --held-out")
    return list(recorded)


def record_live_errors(model_dir: Path, root: Path, held_out: Sequence[str], out: Path,
                       layout: str | None = None, device: str | None = None) -> Path:
    """Score the held-out videos, their synthetic copies and the labelled test videos with
    the model, and write the records (``out/records.npz``) every figure is made from.

    Raises:
        ConfigError: not a ConvLSTM-AE, or a held-out video the dataset lacks.
    """
    from convlstm_ae.data.layouts import open_dataset
    from convlstm_ae.data.video_io import read_frames
    from convlstm_ae.release import default_device, load_model
    from convlstm_ae.release_files import load_scoring_config

    model = load_model(model_dir, default_device(device))
    if not isinstance(model, ConvLSTMAE):
        raise ConfigError(f"{model_dir}: the located live score reads a ConvLSTM-AE's error "
                          "maps; Conv-AE scores whole clips")
    t_prime = load_scoring_config(model_dir).t_prime
    size = model.config.frame_size
    dataset = open_dataset(root, layout=layout)
    train = {r.name: r for r in dataset.train}
    missing = [name for name in held_out if name not in train]
    if missing:
        raise ConfigError(f"{root}: no training video {missing[0]!r} to hold out")
    base = base_cell_size(size)
    held_frames = [read_frames(train[name].source, size) for name in held_out]
    normal = live_videos(model, held_frames, held_out, [None] * len(held_out),
                         ["normal"] * len(held_out), t_prime, base, "held-out")
    copies = [live_videos(model, [c.frames for c in video], [name] * len(video),
                          [c.labels for c in video], [c.kind for c in video], t_prime, base,
                          "synthetic")
              for name, video in zip(held_out, validation_copies(held_frames), strict=True)]
    tests = [r for r in dataset.test if r.labels is not None]
    test_frames = [read_frames(r.source, size)[r.start:r.stop] for r in tests]
    test = live_videos(model, test_frames, [r.name for r in tests], [r.labels for r in tests],
                       ["test"] * len(tests), t_prime, base, "test")
    out.mkdir(parents=True, exist_ok=True)
    save_records(out / RECORDS, LiveRecords(normal, copies, test,
                                            authors_reading(model, test_frames, t_prime),
                                            base, dataset.fps))
    return out / RECORDS


def fit_held_out(records: LiveRecords, design: LocatedDesign, cell_size: int,
                 quantile: float) -> LocatedCalibration:
    """``design`` at ``cell_size`` fitted on all of ``records``' held-out videos, its
    threshold their ``quantile`` (see :func:`~convlstm_ae.scoring.located.fit_located`)."""
    factor = cell_size // records.base_cell
    return fit_located([pool_cells(v.cells, factor) for v in records.held_out],
                       [v.history for v in records.held_out], design, cell_size, quantile,
                       [v.name for v in records.held_out])


def score_video(video: Video, calibration: LocatedCalibration, base_cell: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """A recorded video's live scores (N,) and unusualness maps (N, H, W) under
    ``calibration``, from its cells of ``base_cell`` px."""
    return located_scores(pool_cells(video.cells, calibration.cell_size // base_cell),
                          video.history, calibration.statistics, calibration.design)


def live_score_results(out: Path) -> tuple[dict, LocatedCalibration]:
    """The recipe's figures from ``out/records.npz``: writes ``validation.json``,
    ``results.json``, ``calibration.json`` (the chosen score fitted on all held-out
    videos) and ``test_scores.npz`` (the live score of every test frame) into ``out``.

    Returns:
        The results and the chosen calibration.
    """
    records = load_records(out / RECORDS)
    normal, base, fps = records.held_out, records.base_cell, records.fps
    held_out = [v.name for v in normal]
    rows = validate(normal, records.copies, base, fps)
    best, quantile = choose(rows)
    calibration = fit_held_out(records, best.design, best.cell_size, quantile)
    test, labels = records.test, [v.labels for v in records.test]
    live = [score_video(v, calibration, base)[0] for v in test]
    deployment = evaluate_deployment(live, labels, calibration.threshold, fps)
    baseline = whole_frame_baseline(normal, test)
    results = {
        "recipe": {"held_out": held_out, "seed": SEED, "base_cell_size": base, "fps": fps,
                   "recordings": RECORDINGS,
                   "quantiles": QUANTILES, "max_false_alarms_per_minute": MAX_FALSE_ALARMS},
        "chosen": {"cell_size": best.cell_size, "design": best.design, "quantile": quantile,
                   "validation_auc": best.auc, "validation_auc_by_kind": best.auc_by_kind,
                   "validation_auc_by_recording": best.auc_by_recording,
                   "validation_false_alarms_per_minute": best.false_alarms[quantile],
                   "validation_events_alarmed": best.events_alarmed[quantile]},
        "test": {"live": deployment.as_dict(),
                 "whole_frame_calibrated_auc": frame_auc(baseline, labels)[0],
                 "eq4_reset_micro_macro": eq4_aucs(test, labels),
                 "eq4_authors_reading_micro_macro": frame_auc(records.authors_scores,
                                                              labels)},
        "calibration": {"threshold": calibration.threshold, "spread": calibration.spread},
    }
    _write(out / "validation.json", [
        {"cell_size": r.cell_size, "design": r.design, "auc": r.auc,
         "auc_by_kind": r.auc_by_kind, "auc_by_recording": r.auc_by_recording,
         "false_alarms_per_minute": r.false_alarms,
         "events_alarmed": r.events_alarmed} for r in rows])
    _write(out / "results.json", results)
    _write(out / "calibration.json", calibration.to_dict())
    with atomic_path(out / "test_scores.npz") as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, names=[v.name for v in test],
                            lengths=[len(s) for s in live], live=np.concatenate(live),
                            labels=np.concatenate(labels))
    return results, calibration


def run_live_score(model_dir: Path, root: Path, held_out: Sequence[str], out: Path,
                   layout: str | None = None, device: str | None = None,
                   install: bool = False) -> dict:
    """The whole recipe of the module docstring on one dataset; writes ``out``.

    Args:
        model_dir: a released ConvLSTM-AE trained without the ``held_out`` videos.
        root: the dataset folder (training videos, labelled test videos).
        held_out: names of the training videos the model never saw.
        device: where the model runs (default: cuda if present).
        install: make the chosen score, fitted on all held-out videos, the model's live
            score (what ``score`` and ``watch`` then give).
    Returns:
        The results written to ``out/results.json``.
    """
    from convlstm_ae.pipeline.calibrate import install_located

    record_live_errors(model_dir, root, held_out, out, layout, device)
    results, calibration = live_score_results(out)
    if install:
        install_located(model_dir, calibration)
    return results
