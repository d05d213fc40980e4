"""Tests of training clip sampling (data/clips.py).

The in-memory source codes each frame's origin in its pixels, (0, 0) = video and
(0, 1) = frame index, so a test reads off which frames a clip took.
"""

from collections import Counter

import numpy as np
import pytest
import torch

from convlstm_ae.data.clips import ClipDataset, FrameSource, StepSampler, mean_frame
from convlstm_ae.errors import ConfigError
from media import random_frames

T = 4
STRIDES = (1, 2, 3)
# starts per stride 1/2/3: video 0: 27/24/21; video 1: 9/6/3; video 2: 5/2/-; video 3: none
LENGTHS = (30, 12, 8, 3)


@pytest.fixture(scope="module")
def coded(array_videos):
    """Makes a FrameSource of videos of the given lengths, 8x8 frames: frame f of video v
    is zero but for pixel (0, 0) = v, (0, 1) = f."""

    def make(lengths) -> FrameSource:
        videos = [np.zeros((length, 8, 8), np.uint8) for length in lengths]
        for video, frames in enumerate(videos):
            frames[:, 0, 0] = video
            frames[:, 0, 1] = np.arange(len(frames))
        return array_videos(videos)

    return make


def decode(clip: torch.Tensor) -> tuple[int, list[int]]:
    """(video, frame indices) of a clip taken from a ``coded`` source."""
    videos = clip[:, 0, 0, 0].tolist()
    assert len(set(videos)) == 1, f"clip mixes videos {videos}"
    return videos[0], clip[:, 0, 0, 1].tolist()


def all_clips(lengths, clip_length=T, strides=STRIDES) -> set[tuple[int, int, int]]:
    """Every (video, stride, start) whose clip fits in its video."""
    return {
        (video, stride, start)
        for video, n in enumerate(lengths)
        for stride in strides
        for start in range(n - (clip_length - 1) * stride)
    }


@pytest.fixture(scope="module")
def dataset(coded) -> ClipDataset:
    return ClipDataset(coded(LENGTHS), clip_length=T, strides=STRIDES, frame_size=8)


@pytest.fixture(scope="module")
def decoded(dataset) -> list[tuple[int, int, int]]:
    """(video, stride, start) of items 0..2999, read off the pixels."""
    clips = []
    for g in range(3000):
        video, indices = decode(dataset[g])
        clips.append((video, indices[1] - indices[0], indices[0]))
        assert np.all(np.diff(indices) == indices[1] - indices[0]), f"item {g}: {indices}"
    return clips


# ---------------------------------------------------------------------------- ClipDataset


def test_item_is_uint8_clip_of_shape_t_1_s_s(dataset):
    clip = dataset[0]
    assert isinstance(clip, torch.Tensor)
    assert clip.dtype == torch.uint8
    assert clip.shape == (T, 1, 8, 8)


def test_num_clips_counts_every_fitting_video_stride_start(dataset):
    assert dataset.num_clips == len(all_clips(LENGTHS)) == 72 + 18 + 7
    assert len(dataset) == dataset.num_clips


def test_every_clip_is_t_frames_of_one_video_at_an_allowed_stride(decoded):
    for video, stride, start in decoded:
        assert stride in STRIDES
        assert 0 <= start and start + (T - 1) * stride < LENGTHS[video]


def test_strides_that_do_not_fit_a_short_video_are_never_used(decoded):
    strides_of = {v: {s for video, s, _ in decoded if video == v} for v in range(len(LENGTHS))}
    assert strides_of[2] == {1, 2}  # 8 frames: stride 3 needs 10
    assert strides_of[3] == set()  # 3 frames: no clip of 4 at all


def test_every_video_stride_start_is_reachable(decoded):
    assert set(decoded) == all_clips(LENGTHS)


def test_clips_are_drawn_uniformly_over_video_stride_start(dataset):
    per_clip = 200
    counts = Counter()
    for g in range(per_clip * dataset.num_clips):
        video, indices = dataset.clip_indices(g)
        counts[(video, int(indices[1] - indices[0]), int(indices[0]))] += 1
    assert set(counts) == all_clips(LENGTHS)
    # uniform: each of the 97 clips about 200 times (sd 14); per video it would not be
    assert min(counts.values()) > 0.7 * per_clip
    assert max(counts.values()) < 1.3 * per_clip


def test_clip_indices_agree_with_the_frames_returned(dataset):
    for g in range(50):
        video, indices = dataset.clip_indices(g)
        assert decode(dataset[g]) == (video, indices.tolist())


def test_item_is_a_pure_function_of_seed_and_g(coded):
    first = ClipDataset(coded(LENGTHS), T, STRIDES, 8, seed=7)
    second = ClipDataset(coded(LENGTHS), T, STRIDES, 8, seed=7)
    order = [5, 3, 900, 5, 0]
    assert [decode(first[g]) for g in order] == [decode(second[g]) for g in reversed(order)][::-1]


def test_items_depend_on_the_seed(coded):
    seed0 = ClipDataset(coded(LENGTHS), T, STRIDES, 8, seed=0)
    seed1 = ClipDataset(coded(LENGTHS), T, STRIDES, 8, seed=1)
    same = sum(decode(seed0[g]) == decode(seed1[g]) for g in range(50))
    assert same < 10  # 1 in 97 by chance


def test_frames_of_another_size_are_resized(array_videos):
    # frame f of video v is flat, value 40 v + f, of 24 x 16 pixels
    values = [(40 * video + np.arange(n)).astype(np.uint8) for video, n in enumerate([6, 9])]
    source = array_videos([np.tile(v[:, None, None], (1, 24, 16)) for v in values])
    dataset = ClipDataset(source, clip_length=3, strides=(2,), frame_size=8)
    for g in range(20):
        clip = dataset[g]
        assert clip.shape == (3, 1, 8, 8)
        assert clip.dtype == torch.uint8
        video, indices = dataset.clip_indices(g)
        expected = torch.tensor(40 * video + indices, dtype=torch.uint8)
        assert torch.equal(clip[:, 0], expected[:, None, None].expand(3, 8, 8))


@pytest.mark.parametrize("lengths", [(3, 2, 3), ()])
def test_no_video_holding_a_clip_is_a_config_error(coded, lengths):
    longest = max(lengths, default=0)
    with pytest.raises(ConfigError, match=f"no video holds a clip of 4 frames.*the longest "
                                          f"has {longest} frame"):
        ClipDataset(coded(lengths), clip_length=T, strides=STRIDES, frame_size=8)


def test_a_video_exactly_one_clip_long_gives_one_clip(coded):
    dataset = ClipDataset(coded([4]), clip_length=T, strides=STRIDES, frame_size=8)
    assert dataset.num_clips == 1
    assert decode(dataset[123]) == (0, [0, 1, 2, 3])


@pytest.mark.parametrize("strides", [(0,), (1, -1)])
def test_non_positive_stride_is_a_config_error(coded, strides):
    with pytest.raises(ConfigError):
        ClipDataset(coded(LENGTHS), clip_length=T, strides=strides, frame_size=8)


# ---------------------------------------------------------------------------- StepSampler


def sampler(per_step: int, first_step: int, last_step: int, rank: int = 0,
            world_size: int = 1) -> StepSampler:
    """A StepSampler whose trainer is at ``first_step``."""
    return StepSampler(per_step, current_step=lambda: first_step, last_step=last_step,
                       rank=rank, world_size=world_size)


def test_step_sampler_yields_the_items_of_each_step_in_order():
    items = list(sampler(per_step=6, first_step=0, last_step=5))
    assert items == list(range(30))
    assert len(sampler(per_step=6, first_step=0, last_step=5)) == 30


def test_step_sampler_resumed_at_step_k_continues_the_uninterrupted_run():
    whole = list(sampler(per_step=4, first_step=0, last_step=10))
    resumed = list(sampler(per_step=4, first_step=7, last_step=10))
    assert resumed == whole[7 * 4:]
    assert len(sampler(per_step=4, first_step=7, last_step=10)) == 12


def test_step_sampler_reads_the_step_when_iteration_starts():
    step = {"now": 0}
    s = StepSampler(3, current_step=lambda: step["now"], last_step=4)
    assert list(s) == list(range(12))
    step["now"] = 3
    assert list(s) == [9, 10, 11]
    assert len(s) == 3


def test_step_sampler_finished_run_yields_nothing():
    assert list(sampler(per_step=4, first_step=5, last_step=5)) == []


def test_two_ranks_partition_every_step_without_overlap():
    batch, world, first, last = 3, 2, 2, 6
    per_step = batch * world
    ranks = [list(sampler(per_step, first, last, rank=r, world_size=world)) for r in range(world)]
    assert not set(ranks[0]) & set(ranks[1])
    assert sorted(ranks[0] + ranks[1]) == list(range(first * per_step, last * per_step))
    assert len(ranks[0]) == len(ranks[1]) == batch * (last - first)
    for items in ranks:  # batch i of each rank (DataLoader chunks) lies inside step first + i
        for i in range(last - first):
            step = first + i
            chunk = items[i * batch:(i + 1) * batch]
            assert all(step * per_step <= g < (step + 1) * per_step for g in chunk)


# ----------------------------------------------------------------------------- mean_frame


def test_mean_frame_is_the_mean_of_the_sampled_clips(array_videos):
    noise = array_videos([random_frames((20, 8, 8), seed=0), random_frames((15, 8, 8), seed=1)])
    dataset = ClipDataset(noise, clip_length=T, strides=STRIDES, frame_size=8)
    mean = mean_frame(dataset, num_clips=10)
    expected = torch.stack([dataset[g] for g in range(10)]).double().mean(dim=(0, 1)) / 255
    assert mean.shape == (1, 8, 8)
    assert mean.dtype == torch.float32
    assert 0.0 <= mean.min() and mean.max() <= 1.0
    torch.testing.assert_close(mean.double(), expected, rtol=0, atol=1e-6)


def test_mean_frame_of_flat_frames_is_their_value_over_255(array_videos):
    flat = array_videos([np.full((12, 8, 8), 51, np.uint8)])
    dataset = ClipDataset(flat, clip_length=T, strides=STRIDES, frame_size=8)
    torch.testing.assert_close(mean_frame(dataset), torch.full((1, 8, 8), 0.2))
