"""The located live score on Moving-MNIST (beyond the paper): Table 1's scenarios under
the score a camera gets, its design chosen on the validation scenarios alone.

1. The last weights score the held-out normal sequences (the ones Table 1's whole-frame
   live score is calibrated on), the two validation scenarios and the two test scenarios
   with reset windows of the model's T', as ``watch`` scores, keeping the error map's
   cell means (:func:`~convlstm_ae.experiments.live_score.base_cell_size`).
2. Every design of :data:`~convlstm_ae.experiments.live_score.DESIGNS` at every cell
   size of :data:`CELL_FACTORS` has its per-cell statistics fitted on the normal
   sequences and scores each validation sequence as one new stream. The candidate with
   the best mean pooled AUC over the two validation scenarios is chosen (on a tie, the
   earlier one); no test label is read.
3. Only then the test scenarios are scored, with the chosen candidate alone.

``PRESET/located.npz`` keeps what ``convlstm-ae tables`` rebuilds the figures from on a
CPU: every candidate's validation AUCs, and the chosen candidate's score and label of
every validation and test frame. The cell errors are not kept (about 120 MB per test
scenario of 3,000 sequences at 225 px).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data.arrays import DAMAGED_NPZ, load_npz
from convlstm_ae.data.moving_mnist import MovingMNIST
from convlstm_ae.errors import CheckpointError
from convlstm_ae.experiments.live_score import DESIGNS, base_cell_size, pool_cells
from convlstm_ae.metrics import frame_auc
from convlstm_ae.scoring.located import (
    CellStatistics,
    LocatedDesign,
    fit_statistics,
    located_scores,
)

LOCATED = "located.npz"  # in a preset's run folder
# cell sides in base cells: 2, 4, 8 and 16 px of a 64 px frame (the base cell is 1/32 of
# the frame), from below the 3 px box to about half a digit (28 px)
CELL_FACTORS = (1, 2, 4, 8)


@dataclass(frozen=True)
class Sequences:
    """Live errors of S equal-length sequences: cell means (S, L, H, W), the frames of
    memory each frame was scored with (S, L), and labels (S, L), 1 = abnormal."""

    cells: np.ndarray
    history: np.ndarray
    labels: np.ndarray

    def pooled(self, factor: int) -> np.ndarray:
        """The cell means of ``factor`` times the side, (S, L, H', W')."""
        s, length = self.cells.shape[:2]
        pooled = pool_cells(self.cells.reshape(s * length, *self.cells.shape[2:]), factor)
        return pooled.reshape(s, length, *pooled.shape[1:])


@dataclass(frozen=True)
class Candidate:
    """One design at one cell size (in base cells)."""

    factor: int
    design: LocatedDesign

    def key(self, base_cell: int) -> str:
        """How the results name it: cell side in pixels, then the design's fields."""
        d = self.design
        return (f"{self.factor * base_cell}px/{d.unusual}/{d.aggregate}/{d.adapt}/"
                f"smoothing {d.smoothing:g}/floor {d.spread_floor:g}")


def candidates(cells: tuple[int, int]) -> list[Candidate]:
    """Every design at every cell size of :data:`CELL_FACTORS` that fits a frame of
    ``cells`` base cells."""
    return [Candidate(f, d) for f, d in itertools.product(CELL_FACTORS, DESIGNS)
            if min(cells) // f >= 1]


def choose_candidate(validation_auc: np.ndarray) -> int:
    """The candidate (row of ``validation_auc``, (C, V)) with the best mean AUC over the
    validation scenarios; on a tie the earlier."""
    return int(np.argmax(validation_auc.mean(axis=1)))


def pooled_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Pooled (micro) AUC of sequences' scores (S, L): no per-sequence min-max."""
    return frame_auc([scores.ravel()], [labels.ravel()])[0]  # one "video": no macro cost


@dataclass(frozen=True, eq=False)
class LocatedStudy:
    """What ``located.npz`` holds (see module)."""

    base_cell: int
    candidates: list[Candidate]
    validation: tuple[str, ...]  # the validation scenarios, the columns of validation_auc
    validation_auc: np.ndarray  # (C, V) pooled AUC of each candidate on each scenario
    chosen: int
    scores: dict[str, np.ndarray]  # by set, validation and test: chosen's scores (S, L)
    labels: dict[str, np.ndarray]  # by set: (S, L)
    meta: dict[str, Any] = field(default_factory=dict)  # windows, T', training steps

    def save(self, path: Path) -> None:
        """One compressed ``.npz``, written atomically."""
        meta = {**self.meta, "base_cell": self.base_cell, "chosen": self.chosen,
                "validation": list(self.validation), "sets": list(self.scores),
                "candidates": [{"factor": c.factor, "design": asdict(c.design)}
                               for c in self.candidates]}
        arrays = {f"{name}_scores": s.astype(np.float32) for name, s in self.scores.items()}
        arrays |= {f"{name}_labels": y.astype(np.uint8) for name, y in self.labels.items()}
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            np.savez_compressed(file, meta=np.array(json.dumps(meta)),
                                validation_auc=self.validation_auc, **arrays)

    @classmethod
    def load(cls, path: Path) -> LocatedStudy:
        """Read a study written by :meth:`save`.

        Raises:
            CheckpointError: unreadable, or its chosen candidate is not the validation's
                best (an edited record).
        """
        try:
            data = load_npz(path)
            meta = json.loads(str(data.pop("meta")))
            found = [Candidate(c["factor"], LocatedDesign(**c["design"]))
                     for c in meta.pop("candidates")]
            sets = meta.pop("sets")
            study = cls(meta.pop("base_cell"), found, tuple(meta.pop("validation")),
                        data["validation_auc"], meta.pop("chosen"),
                        {name: data[f"{name}_scores"].astype(np.float64) for name in sets},
                        {name: data[f"{name}_labels"] for name in sets}, meta)
        except (*DAMAGED_NPZ, KeyError, TypeError) as error:
            raise CheckpointError(f"{path}: not a located-score record ({error})") from None
        if study.validation_auc.shape != (len(found), len(study.validation)) or \
                study.chosen != choose_candidate(study.validation_auc):
            raise CheckpointError(f"{path}: its chosen design is not the validation's best; "
                                  "the record is damaged")
        return study

    @property
    def candidate(self) -> Candidate:
        return self.candidates[self.chosen]

    def figures(self) -> dict[str, Any]:
        """The chosen candidate, its pooled AUC on every set (from the stored scores) and
        every candidate's mean validation AUC."""
        chosen = self.candidate
        return {**self.meta, "cell_size": chosen.factor * self.base_cell,
                "design": asdict(chosen.design),
                "auc": {name: pooled_auc(self.scores[name], self.labels[name])
                        for name in self.scores},
                "validation_mean_auc": {
                    c.key(self.base_cell): float(auc)
                    for c, auc in zip(self.candidates, self.validation_auc.mean(axis=1),
                                      strict=True)}}


def study(normal: Sequences, validation: Mapping[str, Sequences],
          test: Mapping[str, Sequences], base_cell: int, **meta: Any) -> LocatedStudy:
    """Steps 2 and 3 of the module: the choice on ``validation``, then ``test`` scored
    with the chosen candidate alone (its labels are only stored)."""
    grid = candidates(normal.cells.shape[2:])
    aucs = []
    for factor in CELL_FACTORS:  # the grid's order: each set pooled once per cell size
        normal_cells = list(normal.pooled(factor))
        cells = {name: v.pooled(factor) for name, v in validation.items()}
        fits: dict[tuple, CellStatistics] = {}  # statistics depend on these fields only
        for c in (c for c in grid if c.factor == factor):
            d = c.design
            key = (d.adapt, d.stream_frames, d.spread_floor)
            if key not in fits:
                fits[key] = fit_statistics(normal_cells, list(normal.history), d)
            aucs.append([pooled_auc(located_scores(cells[name], v.history, fits[key], d)[0],
                                    v.labels) for name, v in validation.items()])
    aucs = np.array(aucs)
    chosen = choose_candidate(aucs)
    factor, design = grid[chosen].factor, grid[chosen].design
    statistics = fit_statistics(list(normal.pooled(factor)), list(normal.history), design)
    sets = {**validation, **test}
    return LocatedStudy(
        base_cell, grid, tuple(validation), aucs, chosen,
        {name: located_scores(s.pooled(factor), s.history, statistics, design)[0]
         for name, s in sets.items()},
        {name: s.labels for name, s in sets.items()}, meta)


def record_located(model_dir: Path, path: Path, sets: Mapping[str, MovingMNIST],
                   normal: str, validation: Sequence[str], test: Sequence[str],
                   batch: int = 64, device: str | None = None) -> None:
    """Step 1 with a released ConvLSTM-AE, then :func:`study`, written to ``path``;
    nothing is done when ``path`` exists.

    Args:
        sets: the Moving-MNIST sets by name; ``normal``, ``validation`` and ``test``
            name those the study reads.
        batch: sequences scored at once.
    """
    from convlstm_ae.data.video_io import resize_frames
    from convlstm_ae.release import default_device, load_model
    from convlstm_ae.release_files import load_scoring_config, read_model_config
    from convlstm_ae.scoring.reconstruction import score_videos

    if path.is_file():
        return
    model = load_model(model_dir, default_device(device))
    t_prime = load_scoring_config(model_dir).t_prime
    size = model.config.frame_size
    base = base_cell_size(size)

    def live(name: str) -> Sequences:
        sequences = sets[name]
        errors = score_videos(model, (resize_frames(v, size) for v in sequences), t_prime,
                              f"located {name}", "reset", batch, len(sequences), base)
        return Sequences(np.stack([np.asarray(e.cells[0]) for e in errors]),
                         np.stack([np.asarray(e.history[0]) for e in errors]),
                         sequences.labels)

    study(live(normal), {name: live(name) for name in validation},
          {name: live(name) for name in test}, base, windows="reset", t_prime=t_prime,
          steps=read_model_config(model_dir).get("steps")).save(path)
