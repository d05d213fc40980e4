"""Does the located live score point at the anomaly? Ped2's pixel masks, read once.

For every test frame of a live-score run (``convlstm-ae experiment live-score``; the
committed one is ``docs/results/ped2-h200-live``) the frame's score comes from one cell
of its unusualness map (aggregate ``max``; the largest cell for the others). This counts,
over the anomalous frames whose pixel mask is not empty, how often that cell touches the
mask, beside chance: the share of the frame's cells that touch it. Evaluation only:
nothing here is chosen, and the masks enter no recipe.

    PYTHONPATH=src python benchmarks/ped2_localization.py docs/results/ped2-h200-live \\
        ../shared/data/ucsd_ped2/pixel_masks [--reads RESULTS_JSON ...]

``--reads`` adds the designs other reads chose (their ``results.json``), each fitted on
the run's held-out videos as the run fits its own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.experiments.live_records import RECORDS, LiveRecords, load_records
from convlstm_ae.experiments.live_score import fit_held_out, score_video
from convlstm_ae.scoring.located import LocatedCalibration, LocatedDesign


def cells_touched(mask: np.ndarray, frame_size: int, grid: tuple[int, int], cell: int
                  ) -> np.ndarray:
    """(rows, columns) bool: which cells of ``cell`` px hold a pixel of ``mask`` once the
    mask is squashed to the model's ``frame_size`` square, as the frames are."""
    square = cv2.resize(mask.astype(np.float32), (frame_size, frame_size),
                        interpolation=cv2.INTER_AREA) > 0
    rows, columns = grid
    blocks = square[:rows * cell, :columns * cell].reshape(rows, cell, columns, cell)
    return blocks.any(axis=(1, 3))


def read_calibration(records: LiveRecords, results_file: Path) -> LocatedCalibration:
    """The design a read chose (its ``results.json``), fitted on the held-out videos."""
    chosen = json.loads(results_file.read_text())["chosen"]
    return fit_held_out(records, LocatedDesign(**chosen["design"]), chosen["cell_size"],
                        chosen["quantile"])


def localization(records: LiveRecords, masks: Path, calibration: LocatedCalibration
                 ) -> dict[str, float]:
    """The share of anomalous frames (and of alarmed ones) whose top cell touches the
    mask, and chance; see the module docstring."""
    cell = calibration.cell_size
    frame_size = records.base_cell * records.test[0].cells.shape[-1]
    hits, alarmed_hits, chance, frames, alarmed = 0, 0, 0.0, 0, 0
    for video in records.test:
        scores, maps = score_video(video, calibration, records.base_cell)
        pixels = np.load(masks / f"{video.name}.npz")["masks"]
        for index in np.flatnonzero(video.labels):
            if not pixels[index].any():
                continue
            touched = cells_touched(pixels[index], frame_size, maps.shape[1:], cell)
            top = np.unravel_index(np.argmax(maps[index]), maps.shape[1:])
            frames += 1
            hits += bool(touched[top])
            chance += touched.mean()
            if scores[index] > calibration.threshold:
                alarmed += 1
                alarmed_hits += bool(touched[top])
    return {"frames": frames, "top_cell_on_it": hits / frames, "chance": chance / frames,
            "alarmed": alarmed,
            "alarmed_top_cell_on_it": alarmed_hits / alarmed if alarmed else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a live-score run folder (records.npz)")
    parser.add_argument("masks", type=Path, help="Ped2's pixel_masks folder (NN.npz)")
    parser.add_argument("--reads", type=Path, nargs="*", default=[],
                        help="results.json of other reads, whose designs are compared")
    args = parser.parse_args()
    records = load_records(args.run / RECORDS)
    calibrations = {"the run's own": LocatedCalibration.from_dict(
        json.loads((args.run / "calibration.json").read_text()))}
    calibrations |= {str(file): read_calibration(records, file) for file in args.reads}
    print("| design | design, cell px | anomalous frames with a mask | top cell on the anomaly "
          "| chance | alarmed of them | alarmed: top cell on it |")
    print("|---|---|---|---|---|---|---|")
    for name, calibration in calibrations.items():
        row = localization(records, args.masks, calibration)
        design = calibration.design
        print(f"| {name} | {design.unusual}, {design.aggregate}, adapt {design.adapt}, "
              f"{calibration.cell_size} | {row['frames']} | {row['top_cell_on_it']:.3f} | "
              f"{row['chance']:.3f} | {row['alarmed']} | {row['alarmed_top_cell_on_it']:.3f} |")


if __name__ == "__main__":
    main()
