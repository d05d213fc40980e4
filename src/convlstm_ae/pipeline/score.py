"""Score videos into a score table: per frame, e(t), Eq. 4, both terms of Eq. 3, the
frames of memory, and (with a calibration) the deployment score and alarms."""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convlstm_ae.atomic import atomic_path, writable_file
from convlstm_ae.config import ScoringConfig, default_cell_size
from convlstm_ae.data.layouts import DEFAULT_FPS, frame_rate
from convlstm_ae.data.moving_mnist import MovingMNIST
from convlstm_ae.data.rate import faster
from convlstm_ae.data.video_io import list_videos, read_frames
from convlstm_ae.errors import ConfigError, DatasetLayoutError, VideoReadError
from convlstm_ae.export.onnx_stream import OnnxStreamScorer
from convlstm_ae.export.paths import ONNX_SCORE, onnx_path
from convlstm_ae.release import default_device, export_scoring_graph, load_model, ready_model
from convlstm_ae.release_files import LOCATED, load_calibration, load_scoring_config
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.frame_errors import FrameErrors
from convlstm_ae.scoring.located import located_scores
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from convlstm_ae.scoring.regularity import reference_frames, regularity_score
from convlstm_ae.scoring.windows import plan_minimum, plan_promise, plan_windows

log = logging.getLogger(__name__)
COLUMNS = ("error", "patch_error", "regularity", "patch_regularity", "current_term",
           "previous_term", "history")
CALIBRATED_COLUMNS = ("calibrated_error", "calibrated_patch_error", "alarm", "threshold")
LIVE_COLUMNS = ("live_score", "live_alarm", "live_threshold")  # the located live score


@dataclass(frozen=True)
class Scorer:
    """A released model ready to score, with the settings and calibration it uses."""

    model: nn.Module
    scoring: ScoringConfig
    calibration: dict[str, DeploymentCalibration] | None
    stream: OnnxStreamScorer | None = None  # backend onnx: the scoring graph runs the plan

    @property
    def cell_size(self) -> int:
        return self.scoring.cell_size or default_cell_size(self.model.config.frame_size)

    def errors(self, frames: np.ndarray, windows: str | None = None) -> FrameErrors:
        """Errors of one video's uint8 frames (N, S, S) under the scoring settings (or
        other ``windows``), cell means included for a ConvLSTM-AE."""
        scoring = self.scoring
        windows = windows or scoring.windows
        if self.stream is not None:
            return self.stream.score_video(frames, plan_windows(len(frames), scoring.t_prime,
                                                                windows))
        video = torch.from_numpy(frames).unsqueeze(1).to(self.device)  # (N, 1, S, S)
        return reconstruction_errors(self.model, video, t_prime=scoring.t_prime,
                                     patch_size=scoring.patch_size, windows=windows,
                                     cell_size=self.cell_size)

    def live_errors(self, frames: np.ndarray, errors: FrameErrors) -> FrameErrors:
        """The errors ``watch`` would give the video (reset windows, what the located
        score reads): ``errors`` themselves when the scoring scheme is already that one,
        else a second pass."""
        return errors if self.scoring.windows == "reset" else self.errors(frames, "reset")

    @property
    def device(self) -> torch.device:
        return self.model.mean_frame.device


def open_scorer(model_dir: Path, *, device: str | None = None, backend: str = "torch",
                plain: bool = False, t_prime: int | None | str = "model",
                windows: str | None = None, error: str | None = None,
                explain: bool = True, model: nn.Module | None = None) -> Scorer:
    """Load a released model; T', windows and error default to the ones stored with it.

    The calibrated columns need the scheme the model was calibrated with: with another
    one the scorer carries no calibration (and says so, if ``explain``). ``model``: the
    released model still in memory (just trained), used instead of reading its weights.
    """
    stored = load_scoring_config(model_dir)
    try:
        scoring = dataclasses.replace(
            stored, t_prime=stored.t_prime if t_prime == "model" else t_prime,
            windows=windows or stored.windows, error=error or stored.error)
    except ConfigError as problem:
        raise ConfigError(f"{model_dir}: {problem}") from None
    device, plain = default_device(device), plain or backend == "onnx"
    model = (load_model(model_dir, device, plain=plain) if model is None
             else ready_model(model, model_dir, device, plain=plain))
    stream = None
    if backend == "onnx":
        if not onnx_path(Path(model_dir), ONNX_SCORE).is_file():
            export_scoring_graph(model_dir)
        stream = OnnxStreamScorer.open(Path(model_dir), 1)
    calibration = load_calibration(model_dir)
    fitted = calibration["frame"].scheme() if calibration else None
    if fitted and (scoring.windows, scoring.error) != fitted:
        if explain:
            log.info("no calibrated columns: the model was calibrated with %s windows and %s "
                     "errors, not %s and %s", *fitted, scoring.windows, scoring.error)
        calibration = None
    return Scorer(model, scoring, calibration, stream)


def read_inputs(path: Path, frame_size: int, skip_bad: bool = False, strict: bool = False,
                min_frames: int = 1, fps: float | None = None,
                scoring: ScoringConfig | None = None
                ) -> Iterator[tuple[str, np.ndarray, float | None]]:
    """(name, frames (N, S, S) uint8, frame rate) of every video under ``path``: a video,
    a frame folder, a folder of either, or a Moving-MNIST ``.npz``. With ``skip_bad`` an
    unreadable video is logged (``skipped: FILE: problem``) and left out; ``strict`` turns a
    truncated video into an error. A single frame is an error (Eq. 3 compares a frame
    with the one before); a video shorter than ``min_frames`` (T) is scored with a
    warning: no window of the training length fits it. So is, with ``scoring``, a video
    too short for two frames to have the history its windows promise
    (:func:`~convlstm_ae.scoring.windows.plan_minimum`): Eq. 4's range is then all of it.

    The frame rate is ``fps`` if given, else the video's own (:func:`frame_rate`: its
    header, or its dataset layout; a Moving-MNIST sequence's is :data:`DEFAULT_FPS`), else
    None: nothing states it (a frame folder or array of one's own), and the caller takes
    :data:`DEFAULT_FPS`, where it matters saying so.
    """
    if path.suffix == ".npz":
        recipes = MovingMNIST.load(path)
        if recipes.frame_size != frame_size:
            raise ConfigError(
                f"{path}: frames are {recipes.frame_size} px; the model takes {frame_size}")
        for index in range(len(recipes)):
            yield f"{index:05d}", recipes.render(index), fps or DEFAULT_FPS
        return
    for video in list_videos(path):
        try:
            frames = read_frames(video, frame_size, strict)
            if len(frames) < 2:
                raise VideoReadError(f"{video}: a single frame; a video needs at least 2 "
                                     "(Eq. 3 compares each frame with the one before)")
        except (VideoReadError, DatasetLayoutError) as error:
            if not skip_bad:
                raise
            log.warning("skipped: %s", error)
            continue
        if len(frames) < min_frames:
            log.warning("%s: %d frame(s), fewer than the %d of a training clip; its scores "
                        "have little history", video, len(frames), min_frames)
        needed = plan_minimum(scoring.windows, scoring.t_prime) if scoring else 0
        if len(frames) < needed:
            log.warning("%s: %d frame(s), fewer than the %d that %s windows of T' %d need "
                        "for the first-frame rule; Eq. 4's min and max come from all its "
                        "frames", video, len(frames), needed, scoring.windows, scoring.t_prime)
        name = video.stem if video.is_file() else video.name
        yield name, frames, fps or frame_rate(video)


def warn_if_faster(name: str, fps: float, rate: float | None) -> None:
    """Warn that video ``name`` at ``fps`` is faster than ``rate``, its model's frame rate
    (None: unknown): ``score`` scores every frame (a table row per frame), while ``watch``
    and ``calibrate`` leave frames out to score at most ``rate`` frames a second."""
    if faster(fps, rate):
        log.warning("%s: %g fps, scored at every frame; watch and calibrate score it at most "
                    "at the model's %g fps", name, fps, rate)


@dataclass(frozen=True)
class VideoScores:
    """One scored video: its score-table columns, the errors they came from and, with a
    located calibration, the maps of how unusual each cell was (N, H / cell, W / cell),
    what the live score and the overlay's heat map are made of."""

    columns: dict[str, np.ndarray]
    errors: FrameErrors
    maps: np.ndarray | None = None


def score_video(scorer: Scorer, frames: np.ndarray, fps: float | None = None) -> VideoScores:
    """Score one video's uint8 frames (N, S, S) in one pass of the model (two when the
    model's windows are not the live ones and a located calibration asks for them); with
    ``fps``, its frame rate as the ``fps`` column, the rate ``evaluate`` and ``report``
    count time by."""
    scoring = scorer.scoring
    errors = scorer.errors(frames)
    frame, patch, current, previous, history = (np.asarray(values[0]) for values in (
        errors.select("frame", scoring.error), errors.select("patch", scoring.error),
        errors.current, errors.previous, errors.history))
    reference = reference_frames(history, plan_promise(scoring.windows, scoring.t_prime))
    columns = dict(zip(COLUMNS, (
        frame, patch, regularity_score(frame, reference), regularity_score(patch, reference),
        current, previous, history), strict=True))
    if fps is not None:
        columns["fps"] = np.full(len(frame), float(fps))
    if scorer.calibration:  # beyond the paper: no statistic of the scored video needed
        calibrated = scorer.calibration["frame"].score(frame, history)
        columns["calibrated_error"] = calibrated
        columns["calibrated_patch_error"] = scorer.calibration["patch"].score(patch, history)
        threshold = scorer.calibration["frame"].threshold
        columns["alarm"] = calibrated > threshold
        columns["threshold"] = np.full(len(frame), threshold)
        located = scorer.calibration.get(LOCATED)
        if located is not None:  # the live score: reset windows, as watch scores
            live = scorer.live_errors(frames, errors)
            scores, maps = located_scores(np.asarray(live.cells[0]),
                                          np.asarray(live.history[0]), located.statistics,
                                          located.design)
            columns.update(zip(LIVE_COLUMNS, (scores, scores > located.threshold,
                                              np.full(len(frame), located.threshold)),
                               strict=True))
            return VideoScores(columns, errors, maps)
    return VideoScores(columns, errors)


def score_summary(columns: dict[str, np.ndarray], scoring: ScoringConfig) -> str:
    """One line on a scored video, naming its scheme: the lowest s(t) among the frames
    the first-frame rule keeps (those scored with the history the scheme promises; under
    reset windows, where none is promised, that minimum tends to sit just after a reset,
    where the memory is shortest), and, with a calibration, which has no such artefact,
    the frame of the highest calibrated score and the alarm count."""
    promise = plan_promise(scoring.windows, scoring.t_prime)
    reference = reference_frames(columns["history"], promise)
    lowest = int(np.argmin(np.where(reference, columns["regularity"], np.inf)))
    t_prime = "video" if scoring.t_prime is None else scoring.t_prime
    rate = f" at {columns['fps'][0]:g} fps" if "fps" in columns else ""
    parts = [f"{len(columns['error'])} frames{rate}", f"{scoring.windows} windows "
             f"(T' {t_prime}): min regularity at frame {lowest}"]
    if "calibrated_error" in columns:
        peak = int(np.argmax(columns["calibrated_error"]))
        parts.append(f"highest calibrated score {columns['calibrated_error'][peak]:.3g} at "
                     f"frame {peak}, {int(columns['alarm'].sum())} alarm frame(s)")
    if "live_score" in columns:
        peak = int(np.argmax(columns["live_score"]))
        parts.append(f"live score: highest {columns['live_score'][peak]:.3g} at frame {peak}, "
                     f"{int(columns['live_alarm'].sum())} alarm frame(s)")
    return "; ".join(parts)


def write_score_table(path: Path, videos: Iterable[tuple[str, dict[str, np.ndarray]]],
                      source: Path) -> int:
    """Write ``(name, columns)`` per video of ``source`` as CSV rows; returns the number
    of frames. Written atomically: a failed run leaves no CSV that looks complete.

    Raises:
        VideoReadError: ``source`` held no readable video (no file is written).
    """
    writable_file(path)
    rows = 0
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        for name, columns in videos:
            if rows == 0:
                writer.writerow(["video", "frame", *columns])
            for index, row in enumerate(zip(*columns.values(), strict=True)):
                writer.writerow([name, index, *(f"{float(v):.6g}" for v in row)])
            rows += len(columns["error"])
        if rows == 0:
            raise VideoReadError(f"{source}: no readable video to score")
    return rows


def read_score_table(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per video, the columns of a score table written by :func:`write_score_table`."""
    if not path.is_file():
        raise ConfigError(f"{path}: scores file not found")
    try:
        return _read_score_csv(path)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ConfigError(f"{path}: not a readable CSV ({type(error).__name__})") from None


def _read_score_csv(path: Path) -> dict[str, dict[str, np.ndarray]]:
    videos: dict[str, dict[str, list[float]]] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"video", "frame", "error", "patch_error"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                              "expected the CSV written by 'convlstm-ae score'")
        columns = [c for c in reader.fieldnames if c not in ("video", "frame")]
        for line, row in enumerate(reader, start=2):
            entry = videos.setdefault(row["video"], {c: [] for c in columns})
            try:
                for column in columns:
                    entry[column].append(float(row[column]))
            except (TypeError, ValueError):
                raise ConfigError(f"{path}: line {line}: values are not numbers") from None
            if not all(math.isfinite(entry[column][-1]) for column in columns):
                raise ConfigError(f"{path}: line {line}: NaN or infinite values")
    if not videos:
        raise ConfigError(f"{path}: holds no scored frames")
    return {name: {c: np.asarray(v) for c, v in entry.items()} for name, entry in videos.items()}
