"""The window schemes of Sec. 3.3: which memory runs score which frames."""

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.scoring.windows import plan_promise, plan_windows


def history(plan) -> np.ndarray:
    """Frames of memory each frame is scored with under ``plan``."""
    scored = np.zeros(plan.num_frames, dtype=int)
    for start, stop, first in zip(plan.starts, plan.stops, plan.scored_from, strict=True):
        scored[first:stop] = np.arange(first, stop) - start
    return scored[plan.source]


def test_reset_windows_are_consecutive_and_score_every_frame_in_its_own():
    plan = plan_windows(23, 10, "reset")
    assert plan.starts.tolist() == [0, 10, 20] and plan.stops.tolist() == [10, 20, 23]
    np.testing.assert_array_equal(history(plan), np.arange(23) % 10)
    whole = plan_windows(23, None, "reset")
    assert whole.starts.tolist() == [0] and history(whole).tolist() == list(range(23))


def test_sliding_windows_end_at_each_frame():
    plan = plan_windows(12, 4, "sliding")
    np.testing.assert_array_equal(plan.stops, np.arange(1, 13))
    np.testing.assert_array_equal(history(plan), np.minimum(np.arange(12), 3))
    assert plan_promise("sliding", 4) == 3


def test_overlap_windows_keep_half_a_window_of_memory_and_the_first_frames_borrow():
    plan = plan_windows(23, 10, "overlap")
    assert plan.starts.tolist() == [0, 5, 10, 15] and plan.scored_from.tolist() == [5, 10, 15, 20]
    assert history(plan).min() == plan_promise("overlap", 10) == 5
    np.testing.assert_array_equal(plan.source[:5], np.arange(5, 10))  # the authors' rule
    np.testing.assert_array_equal(plan.source[5:], np.arange(5, 23))


@pytest.mark.parametrize(("frames", "t_prime", "scheme", "message"), [
    (10, 4, "zigzag", "windows 'zigzag' is unknown"),
    (0, 4, "reset", "at least one frame"),
    (10, None, "overlap", "need a finite T'"),
    (10, 0, "reset", "t_prime must be a positive"),
])
def test_bad_plans_are_one_line_errors(frames, t_prime, scheme, message):
    with pytest.raises(ConfigError, match=message):
        plan_windows(frames, t_prime, scheme)
