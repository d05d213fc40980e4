"""From per-frame errors and labels to the paper's AUC (Eq. 4 per video) and plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from convlstm_ae.metrics import FrameMetrics, evaluate_frames
from convlstm_ae.scoring.regularity import regularity_score

# score kind -> how tables name it
SCORE_KINDS = {
    "frame": "whole frame, Eq. 3 (paper)",
    "patch": "patch max (beyond the paper)",
}


def regularity_scores(errors: Sequence[np.ndarray]) -> list[np.ndarray]:
    """s(t) of every video, Eq. (4), each normalised over its own frames."""
    return [regularity_score(np.asarray(e, dtype=np.float64)) for e in errors]


def evaluate_errors(
    errors: Mapping[str, Sequence[np.ndarray]], labels: Sequence[np.ndarray]
) -> dict[str, FrameMetrics]:
    """Frame-level AUC (micro, macro) and EER of each score kind.

    Args:
        errors: score kind -> per-video reconstruction errors l(t).
        labels: per-video 0/1 frame labels (1 = abnormal).
    Returns:
        score kind -> metrics of the anomaly score 1 - s(t).
    """
    return {
        kind: evaluate_frames([1 - s for s in regularity_scores(per_video)], labels)
        for kind, per_video in errors.items()
    }
