"""The error records of the live-score experiment: everything its figures are made of,
so that ``convlstm-ae tables`` rebuilds them on a CPU without the model.

One file, ``records.npz``: the live errors (reset windows, as ``watch`` scores) of the
held-out videos, of their copies with synthetic anomalies and of the test videos, each
with the finest cells validated; the test videos' Eq. 4 scores under the authors' reading.
Cells are stored as float16 in units of the held-out videos' mean cell error (the located
score does not depend on that unit), frame errors as float32.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data.arrays import DAMAGED_NPZ, load_npz
from convlstm_ae.data.synthetic import AnomalousVideo, synthetic_set
from convlstm_ae.errors import CheckpointError
from convlstm_ae.scoring.reconstruction import score_videos
from convlstm_ae.scoring.records import lengths_problem
from convlstm_ae.scoring.regularity import regularity_score

RECORDS = "records.npz"
SEED = 0  # of the synthetic anomalies


@dataclass(frozen=True)
class Video:
    """One video's live errors: cell means (N, H, W), history (N,), Eq. 3 (N,), labels."""

    name: str
    cells: np.ndarray
    history: np.ndarray
    frame: np.ndarray
    labels: np.ndarray  # 1: anomalous frame; all 0 for a normal video
    kind: str = "normal"  # or the synthetic anomaly's kind


@dataclass(frozen=True)
class LiveRecords:
    """The experiment's errors: held-out videos, their synthetic copies (per held-out
    video), and the test videos with their Eq. 4 scores under the authors' reading."""

    held_out: list[Video]
    copies: list[list[Video]]
    test: list[Video]
    authors_scores: list[np.ndarray]
    base_cell: int
    fps: float


def validation_copies(videos: Sequence[np.ndarray]) -> list[list[AnomalousVideo]]:
    """Per held-out video, its synthetic copies: every kind, after a warm-up and from the
    first frame."""
    late = synthetic_set(videos, SEED)
    early = synthetic_set(videos, SEED + 1, from_first_frame=True)
    per_video = len(late) // len(videos)
    return [late[i * per_video:(i + 1) * per_video] + early[i * per_video:(i + 1) * per_video]
            for i in range(len(videos))]


def live_videos(model: nn.Module, frames: Sequence[np.ndarray], names: Sequence[str],
                labels: Sequence[np.ndarray | None], kinds: Sequence[str], t_prime: int | None,
                cell_size: int, desc: str) -> list[Video]:
    """Live errors (reset windows, as ``watch`` scores) of videos, with cell means."""
    errors = score_videos(model, frames, t_prime, desc, windows="reset", cell_size=cell_size)
    return [Video(name, np.asarray(e.cells[0]), np.asarray(e.history[0]),
                  np.asarray(e.frame[0]),
                  np.zeros(len(f), np.uint8) if y is None else np.asarray(y, np.uint8), kind)
            for e, f, name, y, kind in zip(errors, frames, names, labels, kinds, strict=True)]


def authors_reading(model: nn.Module, frames: Sequence[np.ndarray], t_prime: int | None
                    ) -> list[np.ndarray]:
    """Eq. 4 scores (1 - regularity) under the authors' reading: overlap windows, sqrt."""
    errors = score_videos(model, frames, t_prime, "authors' reading", windows="overlap")
    return [1 - regularity_score(np.sqrt(np.asarray(e.frame[0]))) for e in errors]


_GROUPS = ("held_out", "copies", "test")


def save_records(path: Path, records: LiveRecords) -> None:
    """Write ``records`` to ``path`` atomically (see module)."""
    unit = float(np.mean([v.cells.mean() for v in records.held_out])) or 1.0
    groups = {"held_out": records.held_out, "test": records.test,
              "copies": [c for video in records.copies for c in video]}
    arrays = {}
    for group, videos in groups.items():
        arrays[f"{group}_cells"] = np.concatenate([v.cells / unit for v in videos]
                                                  ).astype(np.float16)
        for field, dtype in (("history", np.int32), ("frame", np.float32),
                             ("labels", np.uint8)):
            arrays[f"{group}_{field}"] = np.concatenate([getattr(v, field) for v in videos]
                                                        ).astype(dtype)
        arrays[f"{group}_lengths"] = np.array([len(v.frame) for v in videos])
    meta = {"unit": unit, "base_cell": records.base_cell, "fps": records.fps,
            "copies_per_video": len(records.copies[0]),
            **{f"{group}_names": [v.name for v in videos] for group, videos in groups.items()},
            **{f"{group}_kinds": [v.kind for v in videos] for group, videos in groups.items()}}
    arrays["authors_scores"] = np.concatenate(records.authors_scores).astype(np.float32)
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, meta=np.array(json.dumps(meta)), **arrays)


def load_records(path: Path) -> LiveRecords:
    """Read records written by :func:`save_records`.

    Raises:
        CheckpointError: missing, unreadable or inconsistent.
    """
    try:
        data = load_npz(path)
        meta = json.loads(str(data["meta"]))
        groups = {group: _videos(data, group, meta) for group in _GROUPS}
        authors = np.split(data["authors_scores"].astype(np.float64),
                           np.cumsum(data["test_lengths"])[:-1])
    except (*DAMAGED_NPZ, KeyError) as error:
        raise CheckpointError(f"{path}: not readable live-score records ({error})") from None
    per_video = meta["copies_per_video"]
    copies = [groups["copies"][i:i + per_video]
              for i in range(0, len(groups["copies"]), per_video)]
    return LiveRecords(groups["held_out"], copies, groups["test"], authors,
                       int(meta["base_cell"]), float(meta["fps"]))


def _videos(data: dict[str, np.ndarray], group: str, meta: dict) -> list[Video]:
    lengths = data[f"{group}_lengths"]
    problem = lengths_problem(meta[f"{group}_names"], lengths, {
        f"{group}_{field}": data[f"{group}_{field}"]
        for field in ("cells", "history", "frame", "labels")})
    if problem:
        raise ValueError(problem)
    bounds = np.cumsum(lengths)[:-1]
    cells = np.split(data[f"{group}_cells"].astype(np.float64) * meta["unit"], bounds)
    fields = {field: np.split(data[f"{group}_{field}"], bounds)
              for field in ("history", "frame", "labels")}
    return [Video(name, cells[i], fields["history"][i].astype(np.int64),
                  fields["frame"][i].astype(np.float64), fields["labels"][i], kind)
            for i, (name, kind) in enumerate(zip(meta[f"{group}_names"], meta[f"{group}_kinds"],
                                                 strict=True))]
