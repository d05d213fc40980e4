"""Raw per-frame errors of a set of videos, the record every table and figure is made from.

An :class:`ErrorRecord` keeps both terms of Eq. (3), the patch score and the history of
every frame of every video, with the labels when known, in one small ``.npz``. Scores
of every reading (``sum`` or ``sqrt``, whole frame or patch, smoothed or not, Eq. 4 or
calibrated) are derived from it on a CPU, so a committed record lets anyone rebuild a
table without a GPU or the data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.config import ERRORS
from convlstm_ae.data.arrays import DAMAGED_NPZ, load_npz
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.scoring.reconstruction import FrameErrors
from convlstm_ae.scoring.regularity import reference_frames

_ARRAYS = ("current", "previous", "patch", "history")


@dataclass(frozen=True, eq=False)
class ErrorRecord:
    """Per-frame errors of ``len(names)`` videos, frames of all videos concatenated.

    ``meta`` says how they were made: window scheme, T', the history the scheme
    promises, model preset and training steps, dataset and split.
    """

    names: list[str]
    lengths: np.ndarray  # frames per video
    current: np.ndarray  # Eq. 3's current-frame term
    previous: np.ndarray  # Eq. 3's previous-frame term (0 without history)
    patch: np.ndarray  # max over patches of the per-pixel sum of both terms
    history: np.ndarray  # frames of memory each frame was scored with
    labels: np.ndarray | None = None  # 0/1 per frame, 1 = abnormal
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_errors(cls, names: Sequence[str], errors: Sequence[FrameErrors],
                    labels: Sequence[np.ndarray] | None = None, **meta: Any) -> ErrorRecord:
        """Gather the (1, N) :class:`FrameErrors` of each video."""
        arrays = {key: np.concatenate([getattr(e, key)[0].numpy() for e in errors])
                  for key in _ARRAYS}
        lengths = np.array([e.current.shape[1] for e in errors])
        flat_labels = None if labels is None else np.concatenate(labels).astype(np.uint8)
        if flat_labels is not None and len(flat_labels) != lengths.sum():
            raise ConfigError(f"{len(flat_labels)} labels for {lengths.sum()} scored frames")
        return cls(list(names), lengths, **arrays, labels=flat_labels, meta=meta)

    def _split(self, values: np.ndarray) -> list[np.ndarray]:
        return np.split(values, np.cumsum(self.lengths)[:-1])

    def errors(self, kind: str = "frame", error: str = "sum") -> list[np.ndarray]:
        """Per-video e(t): the whole frame (Eq. 3) or the patch max, summed or rooted."""
        if error not in ERRORS:
            raise ConfigError(f"error {error!r} is unknown; expected one of {', '.join(ERRORS)}")
        if kind not in ("frame", "patch"):
            raise ConfigError(f"score kind {kind!r} is unknown; expected frame or patch")
        values = self.current + self.previous if kind == "frame" else self.patch
        values = values.astype(np.float64)
        return self._split(np.sqrt(values) if error == "sqrt" else values)

    def histories(self) -> list[np.ndarray]:
        return self._split(self.history)

    def references(self) -> list[np.ndarray]:
        """Per video, the frames that may set Eq. 4's min and max (the first-frame rule)."""
        promised = int(self.meta.get("promised_history", 0))
        return [reference_frames(h, promised) for h in self.histories()]

    def video_labels(self) -> list[np.ndarray]:
        if self.labels is None:
            raise ConfigError("this record holds no labels")
        return self._split(self.labels)

    def save(self, path: str | Path) -> Path:
        """One compressed ``.npz``, written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {key: getattr(self, key).astype(np.float32) for key in _ARRAYS[:3]}
        arrays["history"] = self.history.astype(np.int32)
        if self.labels is not None:
            arrays["labels"] = self.labels
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            np.savez_compressed(handle, lengths=self.lengths, names=np.array(self.names),
                                meta=np.array(json.dumps(self.meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ErrorRecord:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such error record")
        try:
            values = load_npz(path)
            meta = json.loads(str(values.pop("meta")))
            names = [str(n) for n in values.pop("names")]
            record = cls(names, values.pop("lengths"), meta=meta, **values)
        except (*DAMAGED_NPZ, KeyError, TypeError) as error:
            raise VideoReadError(f"{path}: not an error record ({error})") from None
        record._check_sizes(path)
        return record

    def _check_sizes(self, path: Path) -> None:
        """Refuse a record whose videos and frames disagree (one edited or damaged)."""
        arrays = {key: getattr(self, key) for key in _ARRAYS}
        if self.labels is not None:
            arrays["labels"] = self.labels
        problem = lengths_problem(self.names, self.lengths, arrays)
        if problem:
            raise VideoReadError(f"{path}: {problem}; the record is damaged")
        for key in _ARRAYS[:3]:
            bad = np.flatnonzero(~np.isfinite(getattr(self, key)))
            if bad.size:
                video = int(np.searchsorted(np.cumsum(self.lengths), bad[0], side="right"))
                raise VideoReadError(f"{path}: {key} scores hold {bad.size} NaN or infinite "
                                     f"value(s), the first in video {self.names[video]!r}; "
                                     "the record is damaged")


def lengths_problem(names: Sequence[str], lengths: np.ndarray,
                    arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong, if anything, with videos ``names`` of ``lengths`` frames whose frames
    are concatenated along the first axis of each of ``arrays``: one length per name,
    none negative, and every array holding their sum. Else an edited or damaged record
    would split its frames elsewhere and change every figure made from it."""
    if lengths.ndim != 1 or len(lengths) != len(names) or (lengths < 0).any():
        return f"{len(names)} video names but lengths {lengths.tolist()}"
    frames = int(lengths.sum())
    for key, values in arrays.items():
        if values.shape[:1] != (frames,):
            return (f"{key} holds {values.shape} values but the video lengths sum to "
                    f"{frames} frames")
    return None
