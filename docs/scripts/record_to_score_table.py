"""Turn a committed error record into the score table ``convlstm-ae score`` would write.

Usage: ``PYTHONPATH=src python docs/scripts/record_to_score_table.py RECORD MODEL_DIR OUT.csv
[FRAMES_ROOT]``

The record must be scored with the model's windows and error (see its config.json); the
calibrated columns come from the model's calibration.json, as in ``score``. With
FRAMES_ROOT (one folder of frames per video), runs of at least ``MIN_EVENT`` alarm
frames also become ``events.jsonl`` beside OUT, each with its peak frame as a snapshot,
in the shape ``watch`` writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.metrics import abnormal_runs
from convlstm_ae.pipeline.score import COLUMNS, write_score_table
from convlstm_ae.release_files import load_calibration, load_scoring_config
from convlstm_ae.scoring.records import ErrorRecord
from convlstm_ae.scoring.regularity import regularity_score

MIN_EVENT = 5  # alarm frames


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
        columns["fps"] = np.full(len(frame), float(record.meta["fps"]))
        if calibration:
            threshold = calibration["frame"].threshold
            columns["calibrated_error"] = calibration["frame"].score(frame, history)
            columns["calibrated_patch_error"] = calibration["patch"].score(patch, history)
            columns["alarm"] = columns["calibrated_error"] > threshold
            columns["threshold"] = np.full(len(frame), threshold)
        yield name, columns


def write_events(videos, frames_root: Path, folder: Path, fps: float) -> int:
    """events.jsonl and snapshots/ in ``folder`` from the alarm runs; returns the count."""
    (folder / "snapshots").mkdir(parents=True, exist_ok=True)
    lines = []
    for name, columns in videos:
        frames = sorted((frames_root / name).iterdir())
        score = columns["calibrated_error"]
        for start, stop in abnormal_runs(columns["alarm"]):
            if stop - start >= MIN_EVENT:
                peak = start + int(np.argmax(score[start:stop]))
                snapshot = f"snapshots/{name}_{peak:04d}.png"
                cv2.imwrite(str(folder / snapshot), cv2.imread(str(frames[peak])))
                lines.append(json.dumps({
                    "source": name, "start_frame": start, "end_frame": stop - 1,
                    "start_time": start / fps, "end_time": (stop - 1) / fps,
                    "peak_score": float(score[peak]), "peak_frame": peak,
                    "snapshot": snapshot}))
    (folder / "events.jsonl").write_text("".join(f"{line}\n" for line in lines))
    return len(lines)


if __name__ == "__main__":
    record_path, model_dir, out = map(Path, sys.argv[1:4])
    record = ErrorRecord.load(record_path)
    videos = list(score_columns(record, model_dir))
    rows = write_score_table(out, iter(videos), record_path)
    print(f"{rows} frames -> {out}")
    if len(sys.argv) > 4:
        count = write_events(videos, Path(sys.argv[4]), out.parent, record.meta["fps"])
        print(f"{count} events -> {out.parent / 'events.jsonl'}")
