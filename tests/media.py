"""Tiny test inputs: random frames, and writers of frame folders, MJPG (or FFV1) videos and
IDX files; clips with noise bursts and a tiny model calibrated to alarm on them (the live tests).

Each writer returns the path it wrote, creating parent folders.
"""

import gzip
import io
import shutil
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.release_files import (
    FRAME_RATE,
    load_scoring_config,
    read_model_config,
    save_calibration,
    write_model_config,
)
from convlstm_ae.scoring.calibration import DeploymentCalibration, PositionCalibration


def random_frames(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Uniform random uint8 pixels of ``shape``, e.g. (N, H, W)."""
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def lying_npy(shape: tuple[int, ...] = (10**15,), dtype: str = "<f4", version: int = 1) -> bytes:
    """A 4 KB ``.npy`` whose header claims ``shape`` (default 4 PB, more than any address
    space): a reader that trusts it tries to allocate that much."""
    handle = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    write = (np.lib.format.write_array_header_1_0 if version == 1
             else np.lib.format.write_array_header_2_0)
    write(handle, header)
    return handle.getvalue() + bytes(4096 - len(handle.getvalue()))


def with_member(path: Path, member: str, data: bytes) -> Path:
    """The ``.npz`` at ``path`` rewritten with its member ``member`` replaced by ``data``."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[member] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def write_frames(
    folder: Path, frames: Sequence[np.ndarray], pattern: str = "{:03d}.png", first: int = 0
) -> Path:
    """Write frame i as ``folder / pattern.format(first + i)`` through OpenCV."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / pattern.format(first + index)), frame)
    return folder


def write_avi(path: Path, frames: Sequence[np.ndarray] | np.ndarray, fps: float = 10,
              fourcc: str = "MJPG") -> Path:
    """Write grey (N, H, W) or BGR (N, H, W, 3) uint8 frames as an .avi of ``fourcc``
    (MJPG; FFV1 is lossless)."""
    frames = np.asarray(frames)
    height, width = frames.shape[1:3]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} here"
    for frame in frames:
        writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def write_idx(path: Path, images: np.ndarray, magic: int = 2051) -> Path:
    """Write images as an MNIST IDX image file, gzipped if the name ends in .gz."""
    count, rows, cols = images.shape
    raw = struct.pack(">iiii", magic, count, rows, cols) + images.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def write_plots(folder: Path) -> Path:
    """Two matplotlib figures in colour, of different sizes and not numbered: roc.png
    (400x400) and scores.png (800x300), as ``evaluate`` writes beside its metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for name, size in (("roc.png", (4, 4)), ("scores.png", (8, 3))):
        figure, axes = plt.subplots(figsize=size, dpi=100)
        axes.plot([0, 0.2, 1], [0, 0.8, 1], color="tab:red")
        figure.savefig(folder / name)
        plt.close(figure)
    return folder


def noise_calibrated(folder, t_prime):
    """Give the released tiny model in ``folder`` (T' = ``t_prime``) a calibration that
    makes noise frames score far above 3."""
    mean = np.array([617.5, 1234.3, 1234.3, 1234.3])  # its errors on flat gray frames
    stored = load_scoring_config(folder)
    calibration = DeploymentCalibration(PositionCalibration(mean, np.full(4, 50.0), t_prime),
                                        3.0, 0.99, stored.windows, stored.error)
    save_calibration(folder, {"frame": calibration, "patch": calibration})
    return folder


def with_frame_rate(model: Path, folder: Path, rate: float) -> Path:
    """A copy of the released ``model`` in ``folder`` that records training footage of
    ``rate`` frames per second."""
    shutil.copytree(model, folder)
    write_model_config(folder, {**read_model_config(folder), FRAME_RATE: rate})
    return folder


def clip(length=30, noisy=range(12, 20), seed=0):
    """Flat gray 80x96 frames with random noise at ``noisy``."""
    frames = np.full((length, 80, 96), 100, np.uint8)
    rng = np.random.default_rng(seed)
    for index in noisy:
        frames[index] = rng.integers(0, 256, (80, 96), dtype=np.uint8)
    return frames


def located_model(model: Path, folder: Path, design, videos: Sequence[np.ndarray]) -> Path:
    """A copy of ``model`` in ``folder`` whose live score is a located one of ``design``
    (a :class:`~convlstm_ae.scoring.located.LocatedDesign`), fitted on ``videos`` (normal
    footage, two or more, 8-px cells)."""
    from convlstm_ae.data.video_io import model_frame
    from convlstm_ae.live.engine import open_engine
    from convlstm_ae.pipeline.calibrate import install_located
    from convlstm_ae.scoring.located import fit_located

    folder = shutil.copytree(model, folder)
    engine = open_engine(folder, 1, device="cpu")
    cells, histories = [], []
    for video in videos:
        engine.reset()
        errors = []
        for frame in video:
            engine.batch[0] = model_frame(frame, engine.frame_size)
            errors.append(engine(engine.batch))
        cells.append(np.stack([np.asarray(e.cells)[0] for e in errors]))
        histories.append(np.array([int(np.asarray(e.history)[0]) for e in errors]))
    install_located(folder, fit_located(cells, histories, design, 8, 0.99,
                                        [f"n{k}" for k in range(len(videos))]))
    return folder
