"""Event detection with hysteresis and a minimum duration (live/events.py)."""

import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.live.events import EventDetector, EventRules


def detect(scores, **rules):
    detector = EventDetector("cam", EventRules(**({"threshold": 3.0, "release": 1.0} | rules)))
    events = [e for i, s in enumerate(scores) if (e := detector.update("v", i, i / 10, s))]
    return events + ([last] if (last := detector.close()) else [])


def test_an_event_starts_above_the_threshold_and_ends_after_quiet_frames_below_release():
    scores = [0, 0, 4, 5, 2, 0.5, 6, 2, 0, 0, 0, 0, 0, 0, 0]
    (event,) = detect(scores, release_frames=3, min_frames=1)
    # 2 stays above the release level; the dip to 0.5 is too short to end it
    assert (event.start_frame, event.end_frame) == (2, 7)
    assert (event.peak_frame, event.peak_score) == (6, 6)
    assert (event.start_time, event.end_time) == (0.2, 0.7)
    assert event.source == "cam" and event.video == "v"


def test_scores_between_release_and_threshold_start_nothing():
    assert detect([2.9, 2.0, 2.9, 3.0], min_frames=1) == []


def test_short_events_are_dropped():
    blip = [0, 5, 0, 0, 0, 0, 0, 0]
    assert detect(blip, min_frames=2, release_frames=2) == []
    assert len(detect(blip, min_frames=1, release_frames=2)) == 1


def test_two_events_after_a_long_enough_quiet_stretch():
    scores = [5, 5, 5, 0, 0, 5, 5, 5]
    assert len(detect(scores, release_frames=2, min_frames=2)) == 2
    assert len(detect(scores, release_frames=3, min_frames=2)) == 1


def test_an_event_still_open_at_the_end_is_closed():
    (event,) = detect([0, 4, 4, 4], min_frames=3)
    assert (event.start_frame, event.end_frame) == (1, 3)


def test_release_above_threshold_is_a_config_error():
    with pytest.raises(ConfigError, match="release"):
        EventRules(threshold=1.0, release=2.0)
