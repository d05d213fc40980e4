"""Deployment calibration of a released model (beyond the paper): normal footage scored
with the model's own scheme gives, per memory-window position, the mean and spread of
its errors and an alarm threshold. ``train`` fits it on held-out tails; ``calibrate``
refits it on new footage of a camera without retraining."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from convlstm_ae.atomic import atomic_path, writable_folder
from convlstm_ae.data.layouts import DEFAULT_FPS
from convlstm_ae.data.rate import kept_frames
from convlstm_ae.errors import CheckpointError, ConfigError, VideoReadError
from convlstm_ae.model.convlstm_ae import ConvLSTMAE
from convlstm_ae.pipeline.score import Scorer, open_scorer, read_inputs, score_video
from convlstm_ae.release_files import (
    CALIBRATION,
    LOCATED,
    WEIGHTS,
    Calibrations,
    load_calibration,
    load_scoring_config,
    read_model_config,
    save_calibration,
    save_scoring_config,
    scoring_rate,
)
from convlstm_ae.scoring.calibration import WARMUP_POSITIONS, DeploymentCalibration
from convlstm_ae.scoring.located import (
    DEFAULT_DESIGN,
    LocatedCalibration,
    LocatedDesign,
    fit_located,
)

log = logging.getLogger(__name__)
PREVIOUS_CALIBRATION = "calibration.previous.json"
KINDS = {"frame": "error", "patch": "patch_error"}  # score kind: its score-table column


@dataclass(frozen=True)
class CalibrationSummary:
    """What a recalibration used and changed."""

    model_dir: Path  # where the new calibration.json was written
    videos: int
    frames: int  # the frames scored: those kept at ``rate``
    footage_frames: int  # the frames of the videos, all of them
    rate: float | None  # at most this many frames a second scored (None: every frame)
    position_counts: dict[int, int]  # frames at each memory-window position
    pooled: bool  # too few frames at some position: one mean and spread for all
    threshold: float
    old_threshold: float | None  # None: the model had no calibration
    above_old: float | None  # fraction of the footage above the old threshold (None: no
    # old calibration, or one for other windows or errors)
    above_new: float  # ... and above the new one
    changed: bool  # False: calibration.json already held this calibration
    scheme: tuple[str, str]  # (windows, error) the footage was scored with
    previous_scheme: tuple[str, str] | None  # the model's before, if the scheme changed
    located: LocatedCalibration | None  # the located live score's (two videos or more)


def fit_calibrations(scorer: Scorer, videos: Sequence[np.ndarray], quantile: float = 0.99,
                     names: Sequence[str] | None = None
                     ) -> tuple[Calibrations, list[dict[str, np.ndarray]]]:
    """Score normal videos (uint8 (N, S, S) each) as ``scorer`` scores, and fit the
    whole-frame and patch calibrations on their errors, per frames of history; with two
    videos or more, also the located live score's (beyond the paper), on their live
    errors (reset windows), each video's threshold scores from statistics of the others.

    Returns:
        The calibrations by score kind, and the score-table columns of each video.
    """
    scored = [score_video(scorer, frames) for frames in videos]
    tables = [video.columns for video in scored]
    histories = [table["history"].astype(int) for table in tables]
    scoring = scorer.scoring
    calibrations = {
        kind: DeploymentCalibration.fit([table[column] for table in tables], scoring.t_prime,
                                        quantile, histories, windows=scoring.windows,
                                        error=scoring.error)
        for kind, column in KINDS.items()}
    if len(videos) >= 2 and isinstance(scorer.model, ConvLSTMAE):
        live = [scorer.live_errors(frames, video.errors)  # no second pass under reset
                for frames, video in zip(videos, scored, strict=True)]
        calibrations[LOCATED] = fit_located(
            [np.asarray(e.cells[0]) for e in live], [np.asarray(e.history[0]) for e in live],
            located_design(scorer.calibration), scorer.cell_size, quantile,
            names or [f"video {i + 1}" for i in range(len(videos))])
    return calibrations, tables


def located_design(calibrations: Calibrations | None) -> LocatedDesign:
    """The design a model's located live score is refitted with: the one of its stored
    calibration (chosen on validation, see :func:`install_located`), else
    :data:`DEFAULT_DESIGN`."""
    located = (calibrations or {}).get(LOCATED)
    return located.design if located else DEFAULT_DESIGN


def install_located(model_dir: Path, located: LocatedCalibration) -> None:
    """Make ``located`` a released model's live score: its calibration (the old file
    kept as ``calibration.previous.json``) and, if the cell size changes, its scoring
    settings and ONNX scoring graph, which bakes the cell size in."""
    from convlstm_ae.export.paths import ONNX_SCORE, onnx_path
    from convlstm_ae.release import export_scoring_graph

    _store(model_dir, {**(load_calibration(model_dir) or {}), LOCATED: located})
    scoring = load_scoring_config(model_dir)
    if scoring.cell_size != located.cell_size:
        save_scoring_config(model_dir, dataclasses.replace(scoring, cell_size=located.cell_size))
        if onnx_path(model_dir, ONNX_SCORE).is_file():
            export_scoring_graph(model_dir)


def calibrate_model(model_dir: Path, normal_videos: Sequence[np.ndarray],
                    quantile: float = 0.99, names: Sequence[str] | None = None,
                    model: nn.Module | None = None) -> Calibrations:
    """Fit the calibration of a released model on normal videos it did not train on
    (named ``names``) and store it beside the model (``calibration.json``); ``model``:
    the released model still in memory (training's), else its weights are read."""
    scorer = open_scorer(model_dir, model=model)
    calibrations, _ = fit_calibrations(scorer, normal_videos, quantile, names)
    save_calibration(model_dir, calibrations)
    return calibrations


def min_calibration_frames(quantile: float, clip_length: int) -> int:
    """Fewest normal frames a calibration takes: a training clip, and enough frames that
    the ``quantile`` is not simply the largest error."""
    return max(clip_length, math.ceil(1 / (1 - quantile)))


def check_arguments(model_dir: Path, footage: Sequence[Path], quantile: float,
                    out: Path | None) -> Path:
    """Validate a recalibration before any work; returns the folder to write.

    Raises:
        CheckpointError: ``model_dir`` is not a released model.
        ConfigError: a quantile outside (0, 1), an ``--out`` folder holding files, or
            (in place) a model folder that cannot be written.
        DatasetLayoutError: a footage path that does not exist.
    """
    if not 0 < quantile < 1:
        raise ConfigError(f"--quantile must lie in (0, 1), got {quantile}")
    read_model_config(model_dir)
    if not (model_dir / WEIGHTS).is_file():
        raise CheckpointError(f"{model_dir / WEIGHTS}: not found")
    missing = [path for path in footage if not path.exists()]
    if missing:
        raise ConfigError(f"{missing[0]}: no such file or folder; expected normal footage")
    if out is None or (out.exists() and out.resolve() == model_dir.resolve()):
        if not os.access(model_dir, os.W_OK | os.X_OK):  # a read-only folder or mount
            raise ConfigError(f"{model_dir}: the model folder is not writable; calibrating "
                              f"in place writes {CALIBRATION} there (--out FOLDER writes a "
                              "calibrated copy)")
        return model_dir
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"{out}: exists and is not empty; --out takes a new or empty folder")
    return writable_folder(out)


def read_footage(footage: Sequence[Path], frame_size: int, clip_length: int, needed: int,
                 rate: float | None = None, fps: float | None = None
                 ) -> tuple[list[np.ndarray], list[str], int]:
    """Every video under the footage paths, as ``score`` reads them (at ``fps``, else its
    own frame rate), with only the frames ``watch`` scores at ``rate`` (None: all,
    :func:`~convlstm_ae.data.rate.kept_frames`): consecutive once the others are left out.
    A video left with fewer frames than a training clip (``clip_length``) is kept, with a
    warning that counts its frames kept; one whose rate nothing states, read at
    :data:`DEFAULT_FPS` and thinned, is warned of, naming ``--fps``.

    Returns:
        The videos' frames kept, their names and how many frames they had in all.

    Raises:
        VideoReadError: no readable video, or fewer than ``needed`` frames kept in all.
    """
    videos, names, total, assumed = [], [], 0, False
    warnings: list[str] = []  # logged unless the footage is refused (one line then)
    for path in footage:
        for name, video, stated in read_inputs(path, frame_size, fps=fps):
            video_fps = stated or DEFAULT_FPS
            kept = video[kept_frames(len(video), video_fps, rate)]
            if stated is None and len(kept) < len(video):
                assumed = True
                warnings.append(f"{name}: states no frame rate, so it is taken as "
                                f"{video_fps:g} fps and {len(kept)} of its {len(video)} "
                                f"frames are kept at {rate:g} fps; --fps gives its rate")
            if len(kept) < clip_length:
                thinned = f" of {len(video)} at {video_fps:g} fps" if len(kept) < len(video) else ""
                warnings.append(f"{name}: {len(kept)} frame(s) kept{thinned}, fewer than the "
                                f"{clip_length} of a training clip; its scores have little "
                                "history")
            videos.append(kept)
            names.append(name)
            total += len(video)
    paths = ", ".join(map(str, footage))
    if not videos:
        raise VideoReadError(f"{paths}: no readable video")
    frames = sum(len(video) for video in videos)
    if frames < needed:
        fps_flag = (f"; --fps gives the rate of footage that states none, taken as "
                    f"{DEFAULT_FPS:g} fps" if assumed else "")
        left_out = (f" of {total} kept at most at {rate:g} fps, as watch scores them (--rate "
                    f"0 keeps every frame{fps_flag})" if frames < total else "")
        raise VideoReadError(f"{paths}: {frames} frames{left_out}; calibrating takes at "
                             f"least {needed}")
    for warning in warnings:
        log.warning("%s", warning)
    return videos, names, total


def copy_model(model_dir: Path, out: Path) -> Path:
    """Copy the files of a model folder into ``out``, each atomically."""
    for path in model_dir.iterdir():
        if path.is_file():
            with atomic_path(out / path.name) as temporary:
                shutil.copyfile(path, temporary)
    return out


def recalibrate(model_dir: Path, footage: Sequence[Path], quantile: float = 0.99,
                out: Path | None = None, device: str | None = None,
                windows: str | None = None, error: str | None = None,
                rate: float | None = None, fps: float | None = None) -> CalibrationSummary:
    """Refit a released model's calibration on new normal footage, without retraining.

    The footage is scored as ``watch`` scores it: each video at most at ``rate`` frames a
    second (0: every frame), by default the rate the model was trained at
    (:func:`~convlstm_ae.release_files.scoring_rate`), its frames at ``fps`` (default: its
    own rate); the frames kept are scored as consecutive, as ``watch`` scores them.

    The new ``calibration.json`` replaces the old one atomically, which is kept as
    ``calibration.previous.json`` (in ``model_dir``, or in ``out``: a copy of the model
    folder). A calibration equal to the stored one is not written again. ``windows``
    and ``error`` (default: the model's) score the footage; a new scheme is then stored
    as the model's default too, after the calibration, which records its own scheme.
    """
    target = check_arguments(model_dir, footage, quantile, out)
    scorer = open_scorer(model_dir, device=device, windows=windows, error=error, explain=False)
    old = (load_calibration(model_dir) or {}).get("frame")  # before it is replaced
    stored = load_scoring_config(model_dir)
    scheme = (scorer.scoring.windows, scorer.scoring.error)
    model_scheme = (stored.windows, stored.error)
    previous_scheme = model_scheme if model_scheme != scheme else None
    config = scorer.model.config
    rate = scoring_rate(model_dir, rate)
    videos, names, footage_frames = read_footage(
        footage, config.frame_size, config.clip_length,
        min_calibration_frames(quantile, config.clip_length), rate, fps)
    calibrations, tables = fit_calibrations(scorer, videos, quantile, names)
    if target != model_dir:
        copy_model(model_dir, target)
    changed = _store(target, calibrations)
    if previous_scheme:  # after the calibration, which records its own scheme
        save_scoring_config(target, dataclasses.replace(stored, windows=scheme[0],
                                                        error=scheme[1]))
    new = calibrations["frame"]
    histories = [table["history"].astype(int) for table in tables]
    new_scores = np.concatenate([new.score(table["error"], history)
                                 for table, history in zip(tables, histories, strict=True)])
    positions, counts = np.unique(np.minimum(np.concatenate(histories), WARMUP_POSITIONS - 1),
                                  return_counts=True)
    return CalibrationSummary(
        model_dir=target, videos=len(videos), frames=len(new_scores),
        footage_frames=footage_frames, rate=rate,
        position_counts=dict(zip(positions.tolist(), counts.tolist(), strict=True)),
        pooled=len(new.position.mean) == 1 and len(positions) > 1,
        threshold=new.threshold, old_threshold=old.threshold if old else None,
        above_old=float(np.mean(np.concatenate([t["alarm"] for t in tables])))
        if scorer.calibration else None,
        above_new=float(np.mean(new_scores > new.threshold)), changed=changed,
        scheme=scheme, previous_scheme=previous_scheme, located=calibrations.get(LOCATED))


def _store(model_dir: Path, calibrations: Calibrations) -> bool:
    """Write the calibration, keeping the old file as ``calibration.previous.json``;
    False (nothing written) when the stored calibration is the same."""
    current = model_dir / CALIBRATION
    if current.is_file():
        old = current.read_bytes()
        if json.loads(old) == {kind: c.to_dict() for kind, c in calibrations.items()}:
            return False
        with atomic_path(model_dir / PREVIOUS_CALIBRATION) as temporary:
            temporary.write_bytes(old)
    save_calibration(model_dir, calibrations)
    return True
