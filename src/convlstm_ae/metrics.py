"""Frame-level ROC AUC and equal error rate (Sec. 4.1).

Following Hasan et al. [9], the paper scores every test frame, sweeps a
threshold over the scores and reports the area under the ROC curve with the
frames of all test videos pooled (``micro_auc``). The mean AUC over videos
(``macro_auc``) and the equal error rate are not in the paper; they are
reported because later work often quotes them.

All functions here take ANOMALY scores, higher meaning more abnormal. The
paper's regularity score s(t) of Eq. (4) is high for normal frames, so pass
``1 - s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score, roc_curve

from convlstm_ae.errors import ConfigError


@dataclass(frozen=True)
class FrameMetrics:
    """Frame-level results over a set of test videos."""

    micro_auc: float  # frames of all videos pooled (the paper's protocol)
    macro_auc: float  # mean AUC over videos holding both classes (nan if none)
    eer: float  # equal error rate of the pooled ROC
    num_videos: int
    num_frames: int
    num_abnormal: int

    def as_dict(self) -> dict[str, float | int]:
        """Returns the fields as a plain dict, e.g. for JSON or a CSV row."""
        return asdict(self)


def frame_auc(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> tuple[float, float]:
    """Frame-level ROC AUC, pooled over videos and averaged over videos.

    Args:
        scores: one 1-D array of anomaly scores per video (higher = more
            abnormal, e.g. ``1 - s(t)`` of Eq. 4).
        labels: one array of 0/1 ground truth per video (1 = abnormal), each
            as long as the matching score array.

    Returns:
        ``(micro, macro)``: the AUC of all frames pooled (the paper's protocol)
        and the mean AUC over the videos holding both classes (nan if none).

    Raises:
        ConfigError: mismatched lengths, non-finite scores, labels other than
            0/1, or pooled labels of a single class.
    """
    scores, labels = _validated(scores, labels)
    return _micro_macro_auc(scores, labels)


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """Equal error rate: where the false positive rate equals the miss rate.

    The miss rate is the false negative rate ``1 - tpr``. The ROC is taken as
    piecewise linear between its points, as for the AUC, and the crossing is
    interpolated on it.

    Args:
        scores: 1-D anomaly scores of pooled frames (higher = more abnormal).
        labels: 0/1 ground truth of the same frames (1 = abnormal).

    Returns:
        The EER in [0, 1]; 0 for perfectly separated scores.

    Raises:
        ConfigError: mismatched lengths, non-finite scores, labels other than
            0/1, or labels of a single class.
    """
    scores, labels = _validated([scores], [labels], single=True)
    fpr, tpr = _pooled_roc(scores, labels)
    return _eer(fpr, tpr)


def evaluate_frames(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> FrameMetrics:
    """Micro and macro AUC, EER and frame counts of a set of test videos.

    Args:
        scores: one 1-D array of anomaly scores per video (higher = more
            abnormal, e.g. ``1 - s(t)`` of Eq. 4).
        labels: one array of 0/1 ground truth per video (1 = abnormal).

    Returns:
        The metrics; see :class:`FrameMetrics`.

    Raises:
        ConfigError: as :func:`frame_auc`.
    """
    scores, labels = _validated(scores, labels)
    micro, macro = _micro_macro_auc(scores, labels)
    fpr, tpr = _pooled_roc(scores, labels)
    pooled = np.concatenate(labels)
    return FrameMetrics(
        micro_auc=micro,
        macro_auc=macro,
        eer=_eer(fpr, tpr),
        num_videos=len(labels),
        num_frames=int(pooled.size),
        num_abnormal=int(pooled.sum()),
    )


def roc_points(
    scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve of all frames pooled, for plotting.

    Args:
        scores: one 1-D array of anomaly scores per video (higher = more abnormal).
        labels: one array of 0/1 ground truth per video (1 = abnormal).

    Returns:
        ``(fpr, tpr)``, both starting at 0 and ending at 1.

    Raises:
        ConfigError: as :func:`frame_auc`.
    """
    return _pooled_roc(*_validated(scores, labels))


@dataclass(frozen=True)
class DeploymentMetrics:
    """Alarms of a calibrated score at a fixed threshold (beyond the paper).

    No statistic of the test videos enters: the score and threshold come from normal
    training footage, so these are the figures a deployed detector would show.
    """

    auc: float  # pooled ROC AUC of the calibrated score (no per-video normalisation)
    threshold: float
    precision: float
    recall: float
    f1: float
    false_alarms: int  # runs of alarm frames that touch no abnormal frame
    false_alarms_per_minute: float  # per minute of normal test video
    normal_minutes: float
    alarmed_normal: float  # share of normal frames alarmed
    events: int  # anomalous events: runs of abnormal frames
    events_alarmed: float  # share of them alarmed within ``within`` seconds of their start
    median_delay: float  # seconds from an alarmed event's start to its first alarm
    within: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def abnormal_runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of 1s in a 0/1 array, ``stop`` exclusive."""
    padded = np.concatenate([[0], np.asarray(labels, dtype=np.int64) != 0, [0]])
    edges = np.flatnonzero(np.diff(padded))  # alternately a run's start and stop
    return [(int(start), int(stop)) for start, stop in zip(edges[::2], edges[1::2], strict=True)]


def evaluate_deployment(
    scores: Sequence[np.ndarray], labels: Sequence[np.ndarray], threshold: float,
    fps: float | Sequence[float], within: float = 1.0,
) -> DeploymentMetrics:
    """Frame-level precision, recall and F1 of ``score > threshold``, false alarms, and
    event-level figures.

    Args:
        scores: per-video calibrated anomaly scores (higher = more abnormal).
        labels: per-video 0/1 ground truth.
        threshold: alarm threshold, fixed beforehand on normal footage.
        fps: frame rate (one, or one per video), for false alarms per minute of normal
            video and delays.
        within: an anomalous event counts as alarmed when an alarm falls on one of its
            frames within this many seconds of its start.
    """
    checked_scores, checked_labels = _validated(scores, labels)
    pooled_scores = np.concatenate(checked_scores)
    pooled_labels = np.concatenate(checked_labels)
    alarms = pooled_scores > threshold
    true_positives = int((alarms & (pooled_labels == 1)).sum())
    precision = true_positives / max(1, int(alarms.sum()))
    recall = true_positives / max(1, int(pooled_labels.sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    false_alarms = sum(
        1
        for video_scores, video_labels in zip(checked_scores, checked_labels, strict=True)
        for start, stop in abnormal_runs(video_scores > threshold)
        if not video_labels[start:stop].any()
    )
    rates = np.broadcast_to(np.asarray(fps, dtype=np.float64), (len(checked_labels),))
    normal_minutes = float(sum((video_labels == 0).sum() / rate for video_labels, rate
                               in zip(checked_labels, rates, strict=True))) / 60
    delays = []  # seconds to the first alarm of each event, inf without one
    for video_scores, video_labels, rate in zip(checked_scores, checked_labels, rates,
                                                strict=True):
        for start, stop in abnormal_runs(video_labels):
            hits = np.flatnonzero(video_scores[start:stop] > threshold)
            delays.append(hits[0] / rate if len(hits) else np.inf)
    delays = np.asarray(delays)
    alarmed = delays[np.isfinite(delays)]
    return DeploymentMetrics(
        auc=float(roc_auc_score(pooled_labels, pooled_scores)),
        threshold=float(threshold),
        precision=precision,
        recall=recall,
        f1=f1,
        false_alarms=false_alarms,
        false_alarms_per_minute=false_alarms / normal_minutes if normal_minutes else float("nan"),
        normal_minutes=normal_minutes,
        alarmed_normal=float(alarms[pooled_labels == 0].mean()),
        events=len(delays),
        events_alarmed=float((delays <= within).mean()) if len(delays) else float("nan"),
        median_delay=float(np.median(alarmed)) if len(alarmed) else float("nan"),
        within=within,
    )


def _validated(
    scores: Sequence[np.ndarray], labels: Sequence[np.ndarray], *, single: bool = False
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Checks per-video scores and labels; returns them as float and int arrays."""
    if len(scores) != len(labels):
        raise ConfigError(f"{len(scores)} score arrays but {len(labels)} label arrays")
    checked_scores, checked_labels = [], []
    for index, (video_scores, video_labels) in enumerate(zip(scores, labels, strict=True)):
        name = "frames" if single else f"video {index}"
        video_scores = np.asarray(video_scores, dtype=np.float64)
        video_labels = np.asarray(video_labels)
        if video_scores.ndim != 1 or video_labels.ndim != 1:
            raise ConfigError(
                f"{name}: scores and labels must be 1-D, got shapes "
                f"{video_scores.shape} and {video_labels.shape}"
            )
        if video_scores.size != video_labels.size:
            raise ConfigError(f"{name}: {video_scores.size} scores but {video_labels.size} labels")
        if np.isnan(video_scores).any():
            raise ConfigError(f"{name}: scores contain NaN")
        if not np.isfinite(video_scores).all():
            raise ConfigError(f"{name}: scores contain inf")
        bad = np.unique(video_labels[~np.isin(video_labels, (0, 1))])
        if bad.size:
            raise ConfigError(f"{name}: labels must be 0 or 1, found {bad.tolist()}")
        checked_scores.append(video_scores)
        checked_labels.append(video_labels.astype(np.int64))
    pooled = np.concatenate(checked_labels) if checked_labels else np.zeros(0, np.int64)
    if pooled.size == 0:
        raise ConfigError("labels hold no frames; AUC needs both classes")
    if pooled.min() == pooled.max():
        kind = "abnormal" if pooled[0] else "normal"
        raise ConfigError(f"labels hold only {kind} frames; AUC needs both classes")
    return checked_scores, checked_labels


def _micro_macro_auc(scores: list[np.ndarray], labels: list[np.ndarray]) -> tuple[float, float]:
    """(pooled AUC, mean per-video AUC) of validated arrays."""
    micro = float(roc_auc_score(np.concatenate(labels), np.concatenate(scores)))
    per_video = [
        _rank_auc(video_scores, video_labels)
        for video_scores, video_labels in zip(scores, labels, strict=True)
        if 0 < video_labels.sum() < video_labels.size
    ]
    macro = float(np.mean(per_video)) if per_video else float("nan")
    return micro, macro


def _rank_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of one video holding both classes, by the Mann-Whitney rank sum (ties count
    one half, as in ``roc_auc_score``): the same number without its per-call input
    checks, which cost milliseconds a video, minutes over thousands of sequences."""
    positive = labels.astype(bool)
    num_positive = int(positive.sum())
    num_negative = positive.size - num_positive
    rank_sum = float(rankdata(scores)[positive].sum())
    return (rank_sum - num_positive * (num_positive + 1) / 2) / (num_positive * num_negative)


def _pooled_roc(
    scores: list[np.ndarray], labels: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """ROC points of validated arrays, all frames pooled, no point dropped."""
    fpr, tpr, _ = roc_curve(np.concatenate(labels), np.concatenate(scores), drop_intermediate=False)
    return fpr, tpr


def _eer(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Linearly interpolated crossing of fpr and 1 - tpr along the ROC."""
    # fpr - (1 - tpr) rises strictly from -1 at (0, 0) to 1 at (1, 1): every ROC
    # point moves fpr or tpr up, so it can serve as the interpolation axis.
    gap = fpr - (1.0 - tpr)
    return float(np.interp(0.0, gap, fpr))
