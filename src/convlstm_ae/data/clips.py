"""Training clips of T frames sampled at strides 1, 2 and 3 (Sec. 4.1, after [9])."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from convlstm_ae.data.video_io import resize_frames
from convlstm_ae.errors import ConfigError


class FrameSource(Protocol):
    """A set of videos whose frames can be read by index as uint8 (H, W) arrays."""

    def __len__(self) -> int: ...

    def num_frames(self, video: int) -> int: ...

    def frames(self, video: int, indices: np.ndarray) -> np.ndarray: ...


class ClipDataset(Dataset):
    """Clips drawn uniformly from every (video, stride, start) that fits.

    Item ``g`` is a pure function of ``(seed, g)``: with :class:`StepSampler` the clips
    of a training step depend only on the step, so a resumed run sees exactly the
    clips an uninterrupted run would.

    Returns uint8 tensors (T, 1, S, S); normalisation happens on the device.
    """

    def __init__(
        self,
        source: FrameSource,
        clip_length: int,
        strides: tuple[int, ...],
        frame_size: int,
        seed: int = 0,
    ) -> None:
        self.source = source
        self.clip_length = clip_length
        self.frame_size = frame_size
        self.seed = seed
        if not strides or min(strides) < 1:
            raise ConfigError(f"sampling strides must be positive frame steps, got {strides}")
        rows = []  # (video, stride, number of starts)
        for video in range(len(source)):
            for stride in strides:
                starts = source.num_frames(video) - (clip_length - 1) * stride
                if starts > 0:
                    rows.append((video, stride, starts))
        if not rows:
            longest = max((source.num_frames(v) for v in range(len(source))), default=0)
            raise ConfigError(f"no video holds a clip of {clip_length} frames at "
                              f"strides {strides}: the longest has {longest} frame(s)")
        self._clips = np.array(rows, dtype=np.int64)
        self._cumulative = np.cumsum(self._clips[:, 2])

    @property
    def num_clips(self) -> int:
        """Number of distinct (video, stride, start) clips."""
        return int(self._cumulative[-1])

    def clip_indices(self, g: int) -> tuple[int, np.ndarray]:
        """(video, frame indices) of item ``g``."""
        pick = int(np.random.default_rng((self.seed, g)).integers(self.num_clips))
        row = int(np.searchsorted(self._cumulative, pick, side="right"))
        video, stride, _ = self._clips[row]
        start = pick - (self._cumulative[row] - self._clips[row, 2])
        return int(video), start + stride * np.arange(self.clip_length)

    def __len__(self) -> int:
        return self.num_clips

    def __getitem__(self, g: int) -> Tensor:
        video, indices = self.clip_indices(g)
        frames = resize_frames(self.source.frames(video, indices), self.frame_size)
        return torch.from_numpy(np.ascontiguousarray(frames)).unsqueeze(1)  # (T, 1, S, S)


class StepSampler(Sampler[int]):
    """Yields the item numbers of the steps from ``current_step()`` to ``last_step``.

    Step ``k`` takes items ``k * per_step ... (k + 1) * per_step - 1`` (the global
    batch), sharded over DDP ranks. The first step is read when iteration starts, so a
    run resumed at step ``k`` continues with exactly the clips an uninterrupted run
    would have used.
    """

    def __init__(
        self,
        per_step: int,
        current_step: Callable[[], int],
        last_step: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.per_step = per_step
        self.current_step = current_step
        self.last_step = last_step
        self.rank = rank
        self.world_size = world_size

    def _items(self) -> range:
        first = self.current_step() * self.per_step + self.rank
        return range(first, self.last_step * self.per_step, self.world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


class VideoHeads:
    """A FrameSource showing only the first ``lengths[i]`` frames of each video."""

    def __init__(self, source: FrameSource, lengths: list[int]) -> None:
        self.source = source
        self.lengths = lengths

    def __len__(self) -> int:
        return len(self.source)

    def num_frames(self, video: int) -> int:
        return self.lengths[video]

    def frames(self, video: int, indices: np.ndarray) -> np.ndarray:
        return self.source.frames(video, indices)


class VideoSubset:
    """A FrameSource showing only the videos ``indices`` of ``source``."""

    def __init__(self, source: FrameSource, indices: list[int]) -> None:
        self.source = source
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def num_frames(self, video: int) -> int:
        return self.source.num_frames(self.indices[video])

    def frames(self, video: int, indices: np.ndarray) -> np.ndarray:
        return self.source.frames(self.indices[video], indices)


def held_out_videos(count: int, held: int) -> list[int]:
    """Which ``held`` of ``count`` videos calibrate instead of training: the last of each
    of ``held`` equal groups, spread over the footage (16 and 4: the 4th, 8th, 12th and
    16th).

    Raises:
        ConfigError: ``held`` is not in [1, count - 1].
    """
    if not 1 <= held < count:
        raise ConfigError(f"--holdout-videos must lie in [1, {count - 1}] for {count} videos, "
                          f"got {held}")
    return [round((i + 1) * count / held) - 1 for i in range(held)]


def holdout_split(source: FrameSource, fraction: float, clip_length: int) -> list[int]:
    """Frames of each video kept for training; the last ``fraction`` is held out
    (for calibration on normal footage), after a gap of ``clip_length`` frames that
    neither training nor calibration sees, so no training clip touches a held-out frame's
    neighbours. Every video keeps at least one clip."""
    if not 0 <= fraction < 1:
        raise ConfigError(f"holdout fraction must lie in [0, 1), got {fraction}")
    return [
        min(source.num_frames(i), max(clip_length, round(source.num_frames(i) * (1 - fraction))))
        for i in range(len(source))
    ]


def held_out_tails(source: FrameSource, lengths: list[int], min_length: int) -> list[np.ndarray]:
    """The frames of each video from ``lengths[i] + min_length`` on (see
    :func:`holdout_split`: a gap of one clip after the training frames), keeping the tails
    of at least ``min_length`` frames (T: one clip)."""
    tails = [source.frames(i, np.arange(n + min_length, source.num_frames(i)))
             for i, n in enumerate(lengths)]
    return [tail for tail in tails if len(tail) >= min_length]


def mean_frame(dataset: ClipDataset, num_clips: int = 64) -> Tensor:
    """Mean training frame in [0, 1], (1, S, S): the ``caffe`` preset subtracts it."""
    clips = [dataset[g].float() for g in range(min(num_clips, dataset.num_clips))]
    return torch.cat(clips).mean(dim=0) / 255.0
