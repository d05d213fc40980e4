"""Score a released model over named video sets into error records, one per window
scheme and set: the scoring every experiment shares."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convlstm_ae.data.video_io import resize_frames
from convlstm_ae.release import default_device, load_model
from convlstm_ae.release_files import read_model_config
from convlstm_ae.scoring.reconstruction import score_videos
from convlstm_ae.scoring.records import ErrorRecord
from convlstm_ae.scoring.windows import plan_promise

CLIPS = "clips"  # Conv-AE's scheme: sliding clips of T frames, no memory windows


@dataclass(frozen=True)
class VideoSet:
    """Videos scored together into one record, with what the record says of them."""

    names: Sequence[str]
    videos: Collection[np.ndarray]  # uint8 frames (N, H, W) each; iterated once per scheme
    labels: Sequence[np.ndarray] | None = None  # 0/1 per frame, when known
    meta: Mapping[str, Any] = field(default_factory=dict)  # dataset, fps, ...


def record_path(folder: Path, scheme: str, split: str) -> Path:
    """The record of one window scheme on one video set: ``folder/SCHEME_SPLIT.npz``."""
    return folder / f"{scheme}_{split}.npz"


def score_records(model_dir: Path, folder: Path, sets: Mapping[str, VideoSet],
                  schemes: Sequence[str], t_prime: int | None, *, batch: int = 1,
                  device: str | None = None, desc: str = "", **meta: Any) -> None:
    """Error records of a released model on every set under every scheme; records that
    exist are kept, and the model is loaded only if one is missing.

    Args:
        model_dir: the released model; its frames are resized to the model's size.
        folder: where the records go (see :func:`record_path`).
        sets: the video sets by split name.
        schemes: window schemes (``scoring/windows.py``), or ``clips`` for a Conv-AE.
        t_prime: T' of every scheme.
        batch: equal-length videos scored at once.
        device: default: CUDA if there is one.
        desc: what the progress bar says is scored.
        meta: what every record says of the run (preset, model, ...).
    """
    model = None
    for scheme in schemes:
        for split, video_set in sets.items():
            path = record_path(folder, scheme, split)
            if path.is_file():
                continue
            model = model or load_model(model_dir, default_device(device))
            size = model.config.frame_size
            errors = score_videos(model, (resize_frames(v, size) for v in video_set.videos),
                                  t_prime, f"{desc} {scheme} T'={t_prime} {split}".strip(),
                                  "reset" if scheme == CLIPS else scheme, batch,
                                  len(video_set.videos))
            ErrorRecord.from_errors(
                video_set.names, errors, video_set.labels, scheme=scheme, t_prime=t_prime,
                promised_history=0 if scheme == CLIPS else plan_promise(scheme, t_prime),
                **meta, steps=read_model_config(model_dir).get("steps"), split=split,
                **video_set.meta,
            ).save(path)
