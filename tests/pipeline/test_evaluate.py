"""Readings of error records: Eq. 4 with the first-frame rule, and a deployment
protocol that sees no statistic of the test videos."""

import json

import numpy as np
import pytest
import torch

from convlstm_ae.errors import ConfigError
from convlstm_ae.pipeline.evaluate import (
    READINGS,
    Reading,
    evaluate_record,
    evaluate_score_table,
    reading_scores,
    smooth,
)
from convlstm_ae.scoring.reconstruction import FrameErrors
from convlstm_ae.scoring.records import ErrorRecord


def _record(errors, labels=None, histories=None, promised=0):
    frame_errors = [
        FrameErrors(torch.tensor(e, dtype=torch.float32)[None], torch.zeros(1, len(e)),
                    torch.tensor(e, dtype=torch.float32)[None] / 10,
                    torch.tensor(h if h is not None else np.full(len(e), 5))[None])
        for e, h in zip(errors, histories or [None] * len(errors), strict=True)
    ]
    names = [f"{i:02d}" for i in range(len(errors))]
    return ErrorRecord.from_errors(names, frame_errors, labels, scheme="overlap", t_prime=10,
                                   promised_history=promised, fps=10.0)


def test_deployment_protocol_uses_no_test_statistic():
    """Changing a test video's errors must not move the threshold; Eq. 4 cannot see a
    rescaled video, the deployment score does."""
    rng = np.random.default_rng(0)
    holdout = _record([rng.normal(10, 1, 30) for _ in range(3)])
    labels = [np.r_[np.zeros(90), np.ones(90)], np.r_[np.zeros(120), np.ones(60)]]
    test = [rng.normal(10, 1, 180) + 3 * label for label in labels]
    shifted = [test[0], test[1] * 50 + 1000]
    first = evaluate_record(_record(test, labels), READINGS["paper"], holdout)["frame"]
    second = evaluate_record(_record(shifted, labels), READINGS["paper"], holdout)["frame"]
    assert first["deployment"].threshold == second["deployment"].threshold
    assert first["paper"].macro_auc == pytest.approx(second["paper"].macro_auc)
    assert first["deployment"].auc != second["deployment"].auc


def test_short_history_frames_never_set_eq4_range():
    errors = [np.array([0.0, 4.0, 6.0, 8.0, 10.0])]
    record = _record(errors, [np.array([0, 0, 0, 1, 1])], [np.array([0, 1, 2, 2, 2])], 2)
    score = reading_scores(record, Reading("overlap", "sum"))[0]
    np.testing.assert_allclose(score, [0.0, 0.0, 0.0, 0.5, 1.0])  # range 6..10, clipped


def test_record_round_trip_and_readings(tmp_path):
    record = _record([np.arange(1.0, 6.0), np.arange(1.0, 9.0)], [np.zeros(5), np.ones(8)])
    path = record.save(tmp_path / "r.npz")
    loaded = ErrorRecord.load(path)
    assert loaded.names == ["00", "01"] and loaded.lengths.tolist() == [5, 8]
    assert loaded.meta["scheme"] == "overlap" and loaded.meta["fps"] == 10.0
    np.testing.assert_allclose(loaded.errors("frame", "sqrt")[1], np.sqrt(np.arange(1.0, 9.0)))
    np.testing.assert_allclose(loaded.errors("patch")[0], np.arange(1.0, 6.0) / 10, rtol=1e-6)
    assert [v.tolist() for v in loaded.video_labels()] == [[0] * 5, [1] * 8]


def test_smoothing_keeps_a_constant_and_spreads_a_spike():
    assert smooth([np.full(7, 3.0)], 2.0)[0] == pytest.approx(np.full(7, 3.0))
    spike = smooth([np.eye(1, 21, 10)[0]], 2.0)[0]
    assert spike.argmax() == 10 and spike.sum() == pytest.approx(1.0) and spike[10] < 0.3


def test_labels_of_one_class_name_the_label_file(tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"a": [0] * 4}))
    columns = {"error": np.arange(4.0), "patch_error": np.arange(4.0)}
    with pytest.raises(ConfigError, match="labels.json: labels hold only normal frames"):
        evaluate_score_table({"a": columns}, labels, tmp_path / "scores.csv")
