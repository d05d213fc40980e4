"""Eq. (4) on hand-computed cases."""

import numpy as np
import torch

from convlstm_ae.scoring.regularity import reference_frames, regularity_score


def test_eq4_on_one_two_three():
    np.testing.assert_allclose(regularity_score(np.array([1.0, 2.0, 3.0])), [1.0, 0.5, 0.0])


def test_eq4_on_tensor_and_order():
    s = regularity_score(torch.tensor([4.0, 2.0, 10.0, 6.0]))
    torch.testing.assert_close(s, torch.tensor([0.75, 1.0, 0.0, 0.5]))


def test_constant_video_is_regular():
    np.testing.assert_array_equal(regularity_score(np.full(5, 3.0)), np.ones(5))


def test_frames_with_short_history_never_set_the_range():
    errors = np.array([0.0, 5.0, 6.0, 8.0, 10.0])  # frame 0: no history, lowest error
    reference = reference_frames(np.array([0, 1, 2, 2, 2]), promised_history=2)
    assert reference.tolist() == [False, False, True, True, True]
    score = regularity_score(errors, reference)
    np.testing.assert_allclose(score, [1.0, 1.0, 1.0, 0.5, 0.0])  # range 6..10, clipped
    np.testing.assert_allclose(regularity_score(errors), [1.0, 0.5, 0.4, 0.2, 0.0])
    nothing = np.zeros(5, dtype=bool)  # no frame has the history: all set the range
    np.testing.assert_allclose(regularity_score(errors, nothing), regularity_score(errors))


def test_a_video_no_longer_than_its_window_takes_the_range_from_all_its_frames():
    """Sliding windows of T' = 4 over 4 frames: only the last has the promised 3 frames
    of history; one frame is no range (every s(t) would be 1), so all frames set it."""
    history = np.array([0, 1, 2, 3])
    assert reference_frames(history, promised_history=3).all()
    assert reference_frames(np.append(history, 3), 3).tolist() == [False] * 3 + [True] * 2
    errors = np.array([1.0, 4.0, 3.0, 2.0])
    np.testing.assert_allclose(regularity_score(errors, reference_frames(history, 3)),
                               [1.0, 0.0, 1 / 3, 2 / 3])
