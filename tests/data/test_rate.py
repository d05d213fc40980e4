"""Which frames a source keeps at its model's frame rate (data/rate.py): evenly by their
times, none lost of a source at or below the rate; a video's the same in watch and
calibrate."""

import numpy as np
import pytest

from convlstm_ae.data.rate import CATCH_UP, SAME_RATE, RateGate, faster, kept_frames


def kept(gate, times):
    return [index for index, seconds in enumerate(times) if gate.keep(seconds)]


@pytest.mark.parametrize(("fps", "expected"), [
    (25, [0, 2, 5, 7, 10, 12, 15, 17, 20, 22]),  # 10 of every 25, 2 or 3 apart
    (20, list(range(0, 20, 2))),
    (30, list(range(0, 30, 3))),
    (10, list(range(10))),
    (4, list(range(4))),
])
def test_a_source_keeps_the_models_rate_evenly_by_its_frame_times(fps, expected):
    times = np.arange(10 * fps) / fps  # 10 s
    indices = kept(RateGate(10.0), times)
    assert indices[:len(expected)] == expected
    assert len(indices) == 10 * min(fps, 10)


def test_no_rate_keeps_every_frame():
    assert kept(RateGate(None), np.arange(50) / 1000) == list(range(50))


def test_a_camera_at_the_rate_loses_no_frame_to_jitter_or_a_burst_if_it_states_its_rate():
    """At 10 fps, frames arriving up to 12 ms early or late all count (less than a quarter
    frame off the first one's time); a camera stating 10 fps keeps frames delivered five
    at once too. By their times alone, the first five look like a faster camera's."""
    jitter = np.random.default_rng(0).uniform(-0.012, 0.012, 100)
    assert kept(RateGate(10.0), np.arange(100) / 10 + jitter) == list(range(100))
    bursts = np.repeat(np.arange(20) / 2, 5) + np.tile(np.arange(5) / 1000, 20)
    assert kept(RateGate(10.0, stated=10.0), bursts) == list(range(100))
    assert kept(RateGate(10.0), bursts) == [0, *range(5, 100)]


def test_a_stalled_source_catches_up_on_at_most_a_second_of_frames():
    times = [0.0, 0.1, 0.2, *[3.0 + k * 0.001 for k in range(30)]]  # 2.8 s stalled, then 30
    assert len(kept(RateGate(10.0), times)) == 3 + CATCH_UP * 10


def test_a_videos_kept_frames_are_its_frames_kept_by_their_times_at_its_stated_rate():
    """What calibrate keeps of a 25 fps video for a 10 fps model (watch keeps the same of
    a file: tests/live/test_watch.py, FAST); one stating the model's rate, or little more
    (SAME_RATE), keeps all."""
    assert kept_frames(50, 25.0, 10.0) == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 30,
                                           32, 35, 37, 40, 42, 45, 47]
    assert kept_frames(50, 25.0, None) == list(range(50))
    same = 10.0 * (1 + SAME_RATE)
    assert kept_frames(50, same, 10.0) == list(range(50)) and not faster(same, 10.0)
    assert len(kept_frames(100, 10.2, 10.0)) < 100 and faster(10.2, 10.0)
    assert not faster(25.0, None)
