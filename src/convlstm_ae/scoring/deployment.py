"""Calibrate a released model on normal footage for live use (beyond the paper)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from convlstm_ae.model.io import load_model, save_calibration
from convlstm_ae.scoring.calibration import DeploymentCalibration, fit_calibrations
from convlstm_ae.scoring.reconstruction import score_videos


def calibrate_model(
    model_dir: str | Path,
    normal_videos: Sequence[np.ndarray],
    t_prime: int | None,
    quantile: float = 0.99,
) -> dict[str, DeploymentCalibration]:
    """Score held-out normal videos and store, beside the model, a calibration of the
    whole-frame and the patch score (standardisation and alarm threshold).

    Args:
        model_dir: a released model folder.
        normal_videos: uint8 frames (N, S, S) of normal footage the model did not train on.
        t_prime: T' used when scoring.
        quantile: the alarm threshold is this quantile of the normal scores.
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_model(model_dir, device)
    scored = score_videos(model, normal_videos, t_prime, desc="calibrate")
    errors = {kind: [e.select(kind)[0].numpy() for e in scored] for kind in ("frame", "patch")}
    calibrations = fit_calibrations(errors, t_prime, quantile)
    save_calibration(model_dir, calibrations)
    return calibrations
