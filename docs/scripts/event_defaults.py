"""Choose watch's event defaults (live/events.py) on held-out NORMAL footage, never on
test labels: the committed hold-out records of the Ped2 ConvLSTM-AE models, scored as
watch scores (reset windows, the model's e(t)).

Usage: ``PYTHONPATH=src python docs/scripts/event_defaults.py [RUN]``
(RUN: docs/results/ped2-h100-full-budget).

The model's calibration was fitted on these very frames, so each held-out video is
scored with a calibration fitted on the other ones (leave one video out): the events
counted are the false events a camera would raise on normal footage it was not
calibrated on. The rule, over a grid of settings:

- ``release_margin``: the largest margin of the grid at which the runs of alarms on
  normal footage (every run counted: ``min_frames`` 1) last on average at most
  ``release_frames`` frames longer than without hysteresis (margin 0): the release holds
  an event through a dip, not through a stretch of normal scores;
- ``min_frames``: at that margin, the smallest count of alarmed frames from which one
  more removes no further normal event (the knee): what is left are stretches of
  raised normal scores that no short filter removes, while a real anomaly is reported
  as early as the filter allows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from convlstm_ae.live.events import RELEASE_FRAMES, EventRules, NormalEvents, normal_events
from convlstm_ae.release import load_scoring_config
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.records import ErrorRecord

MODELS = ("caffe", "paper")  # the ConvLSTM-AE models watch runs
MIN_FRAMES = (1, 2, 3, 4, 5, 6)
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
QUANTILE = 0.99
FPS = 10.0  # UCSD Ped2


def held_out_runs(run: Path) -> list[tuple[np.ndarray, float]]:
    """(scores, threshold) of every held-out normal video of every model, each scored with
    a calibration fitted on the model's other held-out videos."""
    folds = []
    for model in MODELS:
        record = ErrorRecord.load(run / model / "records" / "final" / "reset_holdout.npz")
        error = load_scoring_config(run / model / "model").error
        errors = record.errors("frame", error)
        histories = record.histories()
        for index in range(len(errors)):
            rest = [i for i in range(len(errors)) if i != index]
            calibration = DeploymentCalibration.fit(
                [errors[i] for i in rest], record.meta["t_prime"], QUANTILE,
                [histories[i] for i in rest], windows="reset", error=error)
            folds.append((calibration.score(errors[index], histories[index]),
                          calibration.threshold))
    return folds


def sweep(folds: list[tuple[np.ndarray, float]], min_frames: int, margin: float
          ) -> NormalEvents:
    """:func:`normal_events` over every held-out video, each at its fold's threshold."""
    found = [normal_events([scores], EventRules(threshold, margin, RELEASE_FRAMES, min_frames))
             for scores, threshold in folds]
    return NormalEvents(len(found), sum(f.frames for f in found),
                        tuple(length for f in found for length in f.lengths))


def choose(folds: list[tuple[np.ndarray, float]]) -> tuple[int, float]:
    """The rule of the module docstring: (min_frames, release_margin)."""
    base = np.mean(sweep(folds, 1, 0.0).lengths)
    margin = max(margin for margin in MARGINS
                 if np.mean(sweep(folds, 1, margin).lengths) <= base + RELEASE_FRAMES)
    counts = [len(sweep(folds, m, margin).lengths) for m in MIN_FRAMES]
    knee = next(i for i in range(len(counts) - 1) if counts[i + 1] == counts[i])
    return MIN_FRAMES[knee], margin


if __name__ == "__main__":
    run = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/results/ped2-h100-full-budget")
    folds = held_out_runs(run)
    print(f"{len(folds)} held-out normal videos, {sum(len(s) for s, _ in folds)} frames; "
          f"release_frames {RELEASE_FRAMES}")
    print("min_frames  margin  events  lengths (frames)")
    for min_frames in MIN_FRAMES:
        for margin in MARGINS:
            found = sweep(folds, min_frames, margin)
            print(f"{min_frames:>10}  {margin:>6.2f}  {len(found.lengths):>6}  "
                  f"{sorted(found.lengths)}")
    min_frames, margin = choose(folds)
    chosen = sweep(folds, min_frames, margin)
    print(f"chosen: min_frames {min_frames}, release_margin {margin:g}: "
          f"{len(chosen.lengths)} event(s) on normal footage, lengths {sorted(chosen.lengths)} "
          f"frames, {chosen.per_minute(FPS):.2f} per minute at {FPS:g} fps")
