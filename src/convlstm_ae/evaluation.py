"""From per-frame errors and labels to the paper's AUC (Eq. 4 per video) and the
leak-free deployment figures.

A *reading* fixes how raw errors become a score: which window scheme scored them,
e(t) as Eq. 3 or its square root, and an optional temporal smoothing (beyond the
paper). The paper's text and the authors' released test code are two readings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

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
                holdout.histories())
            scores = [calibration.score(e, h) for e, h in
                      zip(test.errors(kind, reading.error), test.histories(), strict=True)]
            results[kind]["deployment"] = evaluate_deployment(
                scores, labels, calibration.threshold, fps)
    return results
