"""From per-frame errors and labels to the paper's AUC (Eq. 4 per video) and the
leak-free deployment figures.

A *reading* fixes how raw errors become a score: which window scheme scored them,
e(t) as Eq. 3 or its square root, and an optional temporal smoothing (beyond the
paper). The paper's text and the authors' released test code are two readings.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from convlstm_ae.data.labels import read_labels
from convlstm_ae.data.moving_mnist import MovingMNIST
from convlstm_ae.errors import ConfigError
from convlstm_ae.metrics import (
    DeploymentMetrics,
    FrameMetrics,
    evaluate_deployment,
    evaluate_frames,
)
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.records import ErrorRecord
from convlstm_ae.scoring.regularity import regularity_score

# score kind -> how tables name it
SCORE_KINDS = {
    "frame": "whole frame, Eq. 3 (paper)",
    "patch": "patch max (beyond the paper)",
}
# score kind -> the score table's Eq. 4 column
TABLE_COLUMNS = {"frame": "regularity", "patch": "patch_regularity"}
# Temporal Gaussian of the smoothed readings, in frames: fixed a priori at T'/2 for the
# paper's T' = 10, the period of the overlap scheme's half-windows. Beyond the paper.
SMOOTHING_SIGMA = 5.0


@dataclass(frozen=True)
class Reading:
    """How raw errors become a score."""

    windows: str  # the window scheme the errors were scored with
    error: str  # "sum": Eq. 3; "sqrt": its square root
    sigma: float = 0.0  # temporal Gaussian before Eq. 4, in frames; 0: none
    title: str = ""


READINGS = {
    "paper": Reading("reset", "sum", title="paper's text: reset windows, Eq. 3"),
    "released": Reading("overlap", "sqrt", title="authors' code: overlap windows, sqrt Eq. 3"),
    "released_smoothed": Reading("overlap", "sqrt", SMOOTHING_SIGMA,
                                 title=f"authors' code + Gaussian {SMOOTHING_SIGMA:g} (beyond)"),
    "sliding": Reading("sliding", "sum", title="sliding windows, Eq. 3 (beyond)"),
}


def smooth(errors: Sequence[np.ndarray], sigma: float) -> list[np.ndarray]:
    """Temporal Gaussian of ``sigma`` frames over each video (edges repeated)."""
    if sigma <= 0:
        return [np.asarray(e, dtype=np.float64) for e in errors]
    return [gaussian_filter1d(np.asarray(e, dtype=np.float64), sigma, mode="nearest")
            for e in errors]


def regularity_scores(errors: Sequence[np.ndarray],
                      references: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """s(t) of every video, Eq. (4), each normalised over its own reference frames."""
    references = references or [None] * len(errors)
    return [regularity_score(np.asarray(e, dtype=np.float64), r)
            for e, r in zip(errors, references, strict=True)]


def evaluate_errors(
    errors: Mapping[str, Sequence[np.ndarray]], labels: Sequence[np.ndarray],
    references: Sequence[np.ndarray] | None = None,
) -> dict[str, FrameMetrics]:
    """Frame-level AUC (micro, macro) and EER of each score kind.

    Args:
        errors: score kind -> per-video reconstruction errors l(t).
        labels: per-video 0/1 frame labels (1 = abnormal).
        references: per video, the frames that may set Eq. 4's min and max.
    Returns:
        score kind -> metrics of the anomaly score 1 - s(t).
    """
    return {
        kind: evaluate_frames([1 - s for s in regularity_scores(per_video, references)], labels)
        for kind, per_video in errors.items()
    }


def reading_scores(record: ErrorRecord, reading: Reading, kind: str = "frame"
                   ) -> list[np.ndarray]:
    """Per-video anomaly scores 1 - s(t) of a record under a reading (paper protocol)."""
    errors = smooth(record.errors(kind, reading.error), reading.sigma)
    return [1 - s for s in regularity_scores(errors, record.references())]


def evaluate_record(
    test: ErrorRecord, reading: Reading, holdout: ErrorRecord | None = None,
    quantile: float = 0.99, fps: float = 25.0,
) -> dict[str, dict[str, FrameMetrics | DeploymentMetrics]]:
    """Both protocols for each score kind of a labelled test record.

    - ``paper``: Eq. 4 per test video (min and max over its reference frames), AUC.
    - ``deployment`` (with a ``holdout`` record of normal frames scored the same way):
      errors standardised per history position on the held-out frames, an alarm
      threshold at their ``quantile``; no statistic of any test video, no smoothing.
    """
    labels = test.video_labels()
    results: dict[str, dict[str, FrameMetrics | DeploymentMetrics]] = {}
    for kind in SCORE_KINDS:
        results[kind] = {"paper": evaluate_frames(reading_scores(test, reading, kind), labels)}
        if holdout is not None:
            calibration = DeploymentCalibration.fit(
                holdout.errors(kind, reading.error), test.meta.get("t_prime"), quantile,
                holdout.histories(), windows=reading.windows, error=reading.error)
            scores = [calibration.score(e, h) for e, h in
                      zip(test.errors(kind, reading.error), test.histories(), strict=True)]
            results[kind]["deployment"] = evaluate_deployment(
                scores, labels, calibration.threshold, fps)
    return results


def read_label_file(path: Path, names: Sequence[str], lengths: Sequence[int]
                    ) -> dict[str, np.ndarray]:
    """Per-video 0/1 labels: CSV (video,frame,label), a Moving-MNIST .npz (videos named by
    sequence number), or any label file the dataset readers know (.json, .mat, .npy, .m)."""
    if not path.exists():
        raise ConfigError(f"{path}: labels file not found")
    if path.suffix == ".npz":
        labels = MovingMNIST.load(path).labels
        return {f"{i:05d}": labels[i] for i in range(len(labels))}
    if path.suffix == ".csv":
        try:
            return _read_label_csv(path)
        except (UnicodeDecodeError, csv.Error) as error:
            raise ConfigError(f"{path}: not a readable CSV ({type(error).__name__})") from None
    return read_labels(path, names, lengths)[0]


def _read_label_csv(path: Path) -> dict[str, np.ndarray]:
    by_video: dict[str, dict[int, int]] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if {"video", "frame", "label"} - set(reader.fieldnames or []):
            raise ConfigError(f"{path}: expected columns video, frame, label")
        for line, row in enumerate(reader, start=2):
            try:
                by_video.setdefault(row["video"], {})[int(row["frame"])] = int(row["label"])
            except (TypeError, ValueError):
                raise ConfigError(f"{path}: line {line}: frame and label must be whole "
                                  "numbers") from None
    return {k: np.array([v[i] for i in sorted(v)]) for k, v in by_video.items()}


def frame_labels(videos: Mapping[str, Mapping[str, np.ndarray]], labels_path: Path,
                 keys: Sequence[str] | None = None, exact: bool = True,
                 scores_path: Path | None = None) -> list[np.ndarray]:
    """Per video, the 0/1 label of each of its scored frames, from a label file
    (:func:`read_label_file`) that names the videos ``keys`` (default: their names).

    A video's frames are its ``frame`` column (a watch table may start late), else
    0..N-1. With ``exact`` (a score table) a video has as many labels as scored frames;
    without, its labels may run past its last frame.

    Raises:
        ConfigError: a video without labels, or with too few (or, ``exact``, too many).
    """
    keys = list(keys or videos)
    frames = [np.asarray(v["frame"]) if "frame" in v else np.arange(len(v["error"]))
              for v in videos.values()]
    lengths = [int(f.max()) + 1 for f in frames]
    by_video = read_label_file(labels_path, keys, lengths)
    of = f" of {scores_path}" if scores_path else ""
    labels = []
    for key, frame, length in zip(keys, frames, lengths, strict=True):
        if key not in by_video:
            raise ConfigError(f"{labels_path}: no labels for video {key!r}{of}")
        truth = np.asarray(by_video[key])
        if exact and len(truth) != length:
            raise ConfigError(f"{labels_path}: video {key!r} has {len(truth)} labels "
                              f"but {length} scored frames")
        if frame.min() < 0 or frame.max() >= len(truth):
            raise ConfigError(f"{labels_path}: video {key!r} has {len(truth)} labels "
                              f"but frames up to {frame.max()}")
        labels.append(truth[frame])
    return labels


def evaluate_score_table(scores: Mapping[str, Mapping[str, np.ndarray]], labels_path: Path,
                         scores_path: Path) -> tuple[dict[str, FrameMetrics], list[np.ndarray]]:
    """Frame-level AUC and EER of a score table's Eq. 4 columns against a label file.

    Returns:
        (score kind -> metrics, per-video labels in the table's order).
    """
    labels = frame_labels(scores, labels_path, scores_path=scores_path)
    try:  # the labels and scores are checked, so what is left is the labels' classes
        metrics = {kind: evaluate_frames([1 - s for s in table_regularity(scores, kind)],
                                         labels) for kind in TABLE_COLUMNS}
    except ConfigError as error:
        raise ConfigError(f"{labels_path}: {error}") from None
    return metrics, labels


def table_fps(scores: Mapping[str, Mapping[str, np.ndarray]], path: Path,
              fps: float | None = None) -> list[float]:
    """Per video of a score table, its frame rate: ``fps`` if given, else its ``fps``
    column (written by ``score`` from the video header, the dataset layout or ``--fps``).

    Raises:
        ConfigError: no ``fps`` given and a video without the column.
    """
    if fps is not None:
        return [fps] * len(scores)
    missing = [name for name, video in scores.items() if "fps" not in video]
    if missing:
        raise ConfigError(f"{path}: no fps column for video {missing[0]!r} (a table of an "
                          "older 'score'); pass --fps")
    return [float(video["fps"][0]) for video in scores.values()]


# score column: its threshold column (the calibrated whole-frame score, the live score)
ALARM_SCORES = {"calibrated_error": "threshold", "live_score": "live_threshold"}


def evaluate_table_alarms(scores: Mapping[str, Mapping[str, np.ndarray]],
                          labels: Sequence[np.ndarray], path: Path, fps: float | None = None,
                          column: str = "calibrated_error") -> DeploymentMetrics | None:
    """The deployment figures of a score table's calibrated (``calibrated_error``) or
    located live (``live_score``) score at the model's threshold (its threshold column),
    false alarms counted per minute at each video's frame rate (:func:`table_fps`),
    events alarmed within a second; None when the model had no such calibration.

    Raises:
        ConfigError: as :func:`table_fps`.
    """
    videos = list(scores.values())
    threshold = ALARM_SCORES[column]
    if not all(column in v and threshold in v for v in videos):
        return None
    return evaluate_deployment([v[column] for v in videos], labels,
                               stored_threshold(videos, threshold), table_fps(scores, path, fps))


def stored_threshold(videos: Iterable[Mapping[str, np.ndarray]], column: str = "threshold"
                     ) -> float | None:
    """The threshold a score table's alarms were raised at (its first video's ``column``),
    None if no video has that column."""
    return next((float(v[column][0]) for v in videos if column in v), None)


def table_regularity(scores: Mapping[str, Mapping[str, np.ndarray]], kind: str
                     ) -> list[np.ndarray]:
    """Per-video s(t) of a score table: its Eq. 4 column (first-frame rule included), or
    Eq. 4 of its error column for a table that has none."""
    column = TABLE_COLUMNS[kind]
    errors = {"frame": "error", "patch": "patch_error"}[kind]
    return [video[column] if column in video else regularity_score(video[errors])
            for video in scores.values()]
