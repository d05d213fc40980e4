"""Tests of frame-level AUC and EER on cases computed by hand."""

import math
import re

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.metrics import (
    FrameMetrics,
    abnormal_runs,
    equal_error_rate,
    evaluate_deployment,
    evaluate_frames,
    frame_auc,
    roc_points,
)


def _arrays(*rows):
    return [np.array(row, dtype=float) for row in rows]


def test_auc_of_hand_case():
    # Abnormal {0.35, 0.8} against normal {0.1, 0.4}: of the 4 (abnormal, normal)
    # pairs, 0.35 > 0.1, 0.35 < 0.4, 0.8 > 0.1, 0.8 > 0.4, so AUC = 3/4.
    micro, macro = frame_auc(_arrays([0.1, 0.4, 0.35, 0.8]), _arrays([0, 0, 1, 1]))
    assert micro == pytest.approx(0.75)
    assert macro == pytest.approx(0.75)


def test_auc_of_perfect_and_reversed_scores():
    labels = _arrays([0, 0, 1, 1])
    assert frame_auc(_arrays([0.1, 0.2, 0.8, 0.9]), labels) == (1.0, 1.0)
    assert frame_auc(_arrays([0.9, 0.8, 0.2, 0.1]), labels) == (0.0, 0.0)


def test_micro_pools_frames_and_macro_averages_videos():
    # Video 0: normal {0.1, 0.2}, abnormal {0.3, 0.4}: 4 of 4 pairs right, AUC 1.
    # Video 1 (a higher scale): normal {0.6, 0.9}, abnormal {0.7, 0.8}:
    #   0.7 > 0.6, 0.8 > 0.6 right; 0.7 < 0.9, 0.8 < 0.9 wrong: AUC 2/4.
    # Macro = (1 + 0.5) / 2 = 0.75.
    # Pooled, normal {0.1, 0.2, 0.6, 0.9}: 0.3 and 0.4 beat 2 each, 0.7 and 0.8
    #   beat 3 each, so 10 of 16 pairs: micro = 0.625.
    scores = _arrays([0.1, 0.2, 0.3, 0.4], [0.6, 0.9, 0.7, 0.8])
    labels = _arrays([0, 0, 1, 1], [0, 0, 1, 1])
    micro, macro = frame_auc(scores, labels)
    assert micro == pytest.approx(0.625)
    assert macro == pytest.approx(0.75)


def test_macro_skips_videos_of_one_class():
    # Video 1 holds only normal frames, so macro is video 0's AUC: 0.3 > 0.1,
    # 0.3 < 0.5, 0.6 > 0.1, 0.6 > 0.5 -> 3 of 4 pairs. Micro also sees
    # video 1's normal 0.2 and 0.9: 0.3 beats 0.1, 0.2; 0.6 beats 0.1, 0.5, 0.2
    # -> 5 of 8 pairs.
    scores = _arrays([0.1, 0.5, 0.3, 0.6], [0.2, 0.9])
    labels = _arrays([0, 0, 1, 1], [0, 0])
    micro, macro = frame_auc(scores, labels)
    assert macro == pytest.approx(0.75)
    assert micro == pytest.approx(5 / 8)


@pytest.mark.parametrize("seed", range(5))
def test_macro_equals_sklearn_per_video_auc_with_ties(seed):
    # Scores rounded to one decimal tie often, within and across classes; the
    # per-video AUC must still be sklearn's (a tied pair counts one half).
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    scores = [np.round(rng.random(n), 1) for n in rng.integers(2, 40, size=30)]
    labels = [rng.permutation(np.arange(s.size) < rng.integers(1, s.size)) for s in scores]
    labels = [lab.astype(float) for lab in labels]
    _, macro = frame_auc(scores, labels)
    expected = np.mean([roc_auc_score(lab, s) for s, lab in zip(scores, labels, strict=True)])
    assert macro == pytest.approx(expected, abs=1e-12)


def test_macro_is_nan_when_no_video_holds_both_classes():
    micro, macro = frame_auc(_arrays([0.1, 0.2], [0.8]), _arrays([0, 0], [1]))
    assert micro == 1.0
    assert math.isnan(macro)


def test_eer_of_perfect_and_reversed_scores():
    labels = np.array([0, 0, 1, 1])
    assert equal_error_rate(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 0.0
    assert equal_error_rate(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 1.0


def test_eer_at_a_roc_point():
    # ROC of [0.1, 0.4, 0.35, 0.8] / [0, 0, 1, 1]: (0, 0), (0, .5), (.5, .5), (.5, 1),
    # (1, 1). At (.5, .5) the false positive and miss rates are both 0.5.
    assert equal_error_rate(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.5


def test_eer_interpolates_between_roc_points():
    # A normal and an abnormal frame tie at 0.5, so the ROC goes straight from
    # (0, .5) to (.5, 1). Along it fpr = u / 2 and the miss rate = (1 - u) / 2,
    # equal at u = 1/2: EER = 0.25, a point between the ROC's points.
    eer = equal_error_rate(np.array([0.2, 0.5, 0.5, 0.9]), np.array([0, 0, 1, 1]))
    assert eer == pytest.approx(0.25)


def test_evaluate_frames_counts_and_agrees_with_parts():
    scores = _arrays([0.1, 0.2, 0.3, 0.4], [0.6, 0.9, 0.7, 0.8], [0.5])
    labels = _arrays([0, 0, 1, 1], [0, 0, 1, 1], [0])
    metrics = evaluate_frames(scores, labels)
    micro, macro = frame_auc(scores, labels)
    pooled_eer = equal_error_rate(np.concatenate(scores), np.concatenate(labels))
    assert metrics == FrameMetrics(micro, macro, pooled_eer, 3, 9, 4)
    assert metrics.as_dict() == {
        "micro_auc": micro,
        "macro_auc": macro,
        "eer": pooled_eer,
        "num_videos": 3,
        "num_frames": 9,
        "num_abnormal": 4,
    }


def test_roc_points_pool_videos():
    fpr, tpr = roc_points(_arrays([0.9], [0.1, 0.4, 0.35]), _arrays([1], [0, 0, 1]))
    # Pooled as in test_eer_at_a_roc_point, the thresholds visit every point.
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([[0.1, 0.2]], [[0, 1], [0, 1]], "1 score arrays but 2 label arrays"),
        ([[0.1, 0.2], [0.1, 0.2, 0.3]], [[0, 1], [0, 1]], "video 1: 3 scores but 2 labels"),
        ([[0.1, np.nan]], [[0, 1]], "video 0: scores contain NaN"),
        ([[0.1, np.inf]], [[0, 1]], "video 0: scores contain inf"),
        ([[0.1, 0.2, 0.3]], [[0, 1, 2]], "video 0: labels must be 0 or 1, found [2]"),
        ([[0.1, 0.2], [0.3]], [[0, 0], [0]], "labels hold only normal frames; AUC needs both"),
        ([[0.1, 0.2]], [[1, 1]], "labels hold only abnormal frames; AUC needs both"),
        ([], [], "labels hold no frames"),
        ([[[0.1, 0.2]]], [[[0, 1]]], "video 0: scores and labels must be 1-D"),
    ],
)
def test_bad_input_raises_config_error(scores, labels, message):
    arrays = [np.array(row, dtype=float) for row in scores]
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        frame_auc(arrays, [np.array(row) for row in labels])
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        evaluate_frames(arrays, [np.array(row) for row in labels])


def test_eer_names_pooled_frames_in_errors():
    with pytest.raises(ConfigError, match="^frames: 3 scores but 2 labels$"):
        equal_error_rate(np.array([0.1, 0.2, 0.3]), np.array([0, 1]))


def test_abnormal_runs():
    assert abnormal_runs(np.array([1, 1, 0, 0, 1, 1, 1, 0, 1])) == [(0, 2), (4, 7), (8, 9)]
    assert abnormal_runs(np.zeros(5)) == []


def test_deployment_metrics_hand_computed():
    # video 0: frames 0-9 normal, 10-14 abnormal; video 1: 10 normal frames
    labels = [np.r_[np.zeros(10), np.ones(5)], np.zeros(10)]
    scores = [np.zeros(15), np.zeros(10)]
    scores[0][[2, 3]] = 5  # one false-alarm run of 2 frames
    scores[0][11:15] = 5  # 4 of 5 abnormal frames caught, the run touches the anomaly
    scores[1][7] = 5  # a second false alarm
    metrics = evaluate_deployment(scores, labels, threshold=1.0, fps=10)
    # alarms: 2 + 4 + 1 = 7 frames, 4 true -> precision 4/7, recall 4/5
    assert metrics.precision == pytest.approx(4 / 7)
    assert metrics.recall == pytest.approx(4 / 5)
    assert metrics.f1 == pytest.approx(2 * (4 / 7) * (4 / 5) / (4 / 7 + 4 / 5))
    assert metrics.false_alarms == 2
    # 20 normal frames at 10 fps = 2 s = 1/30 min -> 60 false alarms per minute
    assert metrics.normal_minutes == pytest.approx(1 / 30)
    assert metrics.false_alarms_per_minute == pytest.approx(60)
    # normal: 3 at 5, 17 at 0; abnormal: 4 at 5, 1 at 0 -> (4*17 + (4*3 + 1*17) / 2) / 100
    assert metrics.auc == pytest.approx(0.825)
