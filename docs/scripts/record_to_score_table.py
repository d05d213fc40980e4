"""Turn a committed error record into the score table ``convlstm-ae score`` would write.

Usage: ``PYTHONPATH=src python docs/scripts/record_to_score_table.py RECORD MODEL_DIR OUT.csv``

The record must be scored with the model's windows and error (see its config.json); the
calibrated columns come from the model's calibration.json, as in ``score``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from convlstm_ae.pipeline.score import COLUMNS, write_score_table
from convlstm_ae.release import load_calibration, load_scoring_config
from convlstm_ae.scoring.records import ErrorRecord
from convlstm_ae.scoring.regularity import regularity_score


def score_columns(record: ErrorRecord, model_dir: Path):
    """(name, columns) per video, as :func:`convlstm_ae.pipeline.score.score_video`."""
    error = load_scoring_config(model_dir).error
    calibration = load_calibration(model_dir)
    videos = zip(record.names, record.errors("frame", error), record.errors("patch", error),
                 record.histories(), record.references(),
                 *(record._split(getattr(record, key)) for key in ("current", "previous")),
                 strict=True)
    for name, frame, patch, history, reference, current, previous in videos:
        columns = dict(zip(COLUMNS, (
            frame, patch, regularity_score(frame, reference), regularity_score(patch, reference),
            current, previous, history), strict=True))
        if calibration:
            columns["calibrated_error"] = calibration["frame"].score(frame, history)
            columns["calibrated_patch_error"] = calibration["patch"].score(patch, history)
            columns["alarm"] = columns["calibrated_error"] > calibration["frame"].threshold
        yield name, columns


if __name__ == "__main__":
    record_path, model_dir, out = map(Path, sys.argv[1:4])
    rows = write_score_table(out, score_columns(ErrorRecord.load(record_path), model_dir),
                             record_path)
    print(f"{rows} frames -> {out}")
