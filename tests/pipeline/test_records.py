"""Scoring a released model over named video sets into error records."""

import numpy as np

from convlstm_ae.pipeline.records import VideoSet, record_path, score_records
from convlstm_ae.scoring.records import ErrorRecord
from media import random_frames


def test_one_record_per_scheme_and_set_with_its_meta_resized_and_kept(tmp_path, release_tiny):
    model_dir = release_tiny(tmp_path / "model", t_prime=4)
    labels = [np.zeros(12, np.uint8), np.ones(9, np.uint8)]
    sets = {
        "test": VideoSet(["a", "b"], [random_frames((12, 48, 48)), random_frames((9, 48, 48), 1)],
                         labels, {"dataset": "toy", "fps": 10.0}),
        "holdout": VideoSet(["c"], [random_frames((8, 32, 32), 2)]),
    }
    folder = tmp_path / "records"
    score_records(model_dir, folder, sets, ("overlap", "clips"), 4, preset="tiny", model="final")
    record = ErrorRecord.load(record_path(folder, "overlap", "test"))
    assert record.names == ["a", "b"] and record.lengths.tolist() == [12, 9]
    assert record.labels.tolist() == [0] * 12 + [1] * 9
    assert record.meta == {"scheme": "overlap", "t_prime": 4, "promised_history": 2,
                           "preset": "tiny", "model": "final", "steps": None, "split": "test",
                           "dataset": "toy", "fps": 10.0}
    clips = ErrorRecord.load(record_path(folder, "clips", "holdout"))
    assert clips.meta["promised_history"] == 0 and clips.labels is None
    assert clips.history.max() == 3  # reset windows of T' = 4
    # existing records are kept: no model is loaded for them
    (model_dir / "model.safetensors").unlink()
    score_records(model_dir, folder, sets, ("overlap", "clips"), 4)
    assert ErrorRecord.load(record_path(folder, "overlap", "test")).meta["preset"] == "tiny"
