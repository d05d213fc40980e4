"""Event detection with hysteresis and a minimum of alarmed frames (live/events.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.live import events
from convlstm_ae.live.events import EventMachine, EventRules, normal_events

ROOT = Path(__file__).resolve().parents[2]


def detect(scores, **rules):
    """The events of one stream's scores (frame i at i / 10 s)."""
    machine = EventMachine(["cam"], [["v"]], EventRules(**({"threshold": 3.0,
                                                            "release_margin": 0.5} | rules)))
    one = np.zeros(1, int)
    found = [machine.update(one, np.array([i]), np.array([i / 10]), np.array([float(s)]), one)
             for i, s in enumerate(scores)] + [machine.close(one)]
    return [event for ended in found for _, event in ended]


def test_an_event_starts_above_the_threshold_and_ends_after_quiet_frames_below_release():
    scores = [0, 0, 4, 5, 2, 0.5, 6, 2, 0, 0, 0, 0, 0, 0, 0]  # release level 1.5
    (event,) = detect(scores, release_frames=3, min_frames=1)
    # 2 stays above the release level; the dip to 0.5 is too short to end it
    assert (event.start_frame, event.end_frame) == (2, 7)
    assert (event.peak_frame, event.peak_score, event.alarm_frames) == (6, 6, 3)
    assert (event.start_time, event.end_time) == (0.2, 0.7)
    assert event.source == "cam" and event.video == "v"


def test_scores_between_release_and_threshold_start_nothing():
    assert detect([2.9, 2.0, 2.9, 3.0], min_frames=1) == []


def test_a_one_frame_spike_in_raised_scores_is_no_event():
    """The Ped2 case: one frame at 2.66 over a threshold of 2.64, then a hundred frames
    between the release level and the threshold, opened a 104-frame event."""
    scores = [0.0] * 12 + [2.66] + [2.0] * 103 + [0.0] * 10
    assert detect(scores, threshold=2.64, release_margin=0.05) == []
    assert detect(scores, threshold=2.64, release_margin=0.5, min_frames=1)[0].end_frame == 115
    # with the defaults, two more alarmed frames in the run make it an event
    scores[20] = scores[30] = 2.7
    (event,) = detect(scores, threshold=2.64, release_margin=1.0)
    assert (event.start_frame, event.alarm_frames) == (12, 3)


def test_the_release_level_is_near_the_threshold_by_default():
    rules = EventRules(threshold=2.64)
    assert rules.release == pytest.approx(2.64 * (1 - events.RELEASE_MARGIN))
    assert 0 < events.RELEASE_MARGIN <= 0.2 and events.MIN_FRAMES > 1
    assert EventRules(threshold=-2.0, release_margin=0.5).release == -3.0


def test_alarmed_frames_need_not_be_consecutive_but_a_quiet_stretch_ends_the_run():
    assert len(detect([5, 2, 5, 2, 5], min_frames=3)) == 1
    assert detect([5, 0, 0, 5, 0, 0, 5], min_frames=3, release_frames=2) == []


def test_two_events_after_a_long_enough_quiet_stretch():
    scores = [5, 5, 5, 0, 0, 5, 5, 5]
    assert len(detect(scores, release_frames=2, min_frames=2)) == 2
    assert len(detect(scores, release_frames=3, min_frames=2)) == 1


def test_an_event_still_open_at_the_end_is_closed():
    (event,) = detect([0, 4, 4, 4], min_frames=3)
    assert (event.start_frame, event.end_frame) == (1, 3)


def test_a_release_margin_outside_0_1_is_a_config_error():
    with pytest.raises(ConfigError, match="release-margin"):
        EventRules(threshold=1.0, release_margin=-0.1)


def test_normal_events_counts_and_measures_the_events_of_normal_videos():
    found = normal_events([np.array([0, 5, 5, 5, 0, 0, 0, 0, 0]), np.zeros(9),
                           np.array([5.0, 0, 0, 0, 0, 0, 0, 0, 0])], EventRules(3.0))
    assert (found.videos, found.frames, found.lengths) == (3, 27, (3,))
    assert found.per_minute(fps=9) == pytest.approx(1 / (27 / 9 / 60))


def test_the_defaults_are_the_ones_normal_footage_chooses():
    """docs/scripts/event_defaults.py on the committed Ped2 hold-out records (normal
    frames only) picks the defaults; re-decide them there, not here."""
    path = ROOT / "docs" / "scripts" / "event_defaults.py"
    spec = importlib.util.spec_from_file_location("event_defaults", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folds = script.held_out_runs(ROOT / "docs" / "results" / "ped2-h100-full-budget")
    assert script.choose(folds) == (events.MIN_FRAMES, events.RELEASE_MARGIN)


class Detector:
    """The per-source state machine ``watch`` ran before it went vectorized (one Python
    object per source, one call per frame): the reference :class:`EventMachine` is
    checked against."""

    def __init__(self, source, rules):
        self.source, self.rules, self._run, self._quiet = source, rules, None, 0

    def update(self, video, frame, seconds, score):
        alarmed = score > self.rules.threshold
        if self._run is None:
            if alarmed:
                self._run = dict(video=video, start_frame=frame, start_time=seconds,
                                 end_frame=frame, end_time=seconds, peak_score=score,
                                 peak_frame=frame, alarm_frames=1)
                self._quiet = 0
            return None
        if score >= self.rules.release:
            self._run.update(end_frame=frame, end_time=seconds)
            self._run["alarm_frames"] += alarmed
            self._quiet = 0
            if score > self._run["peak_score"]:
                self._run.update(peak_score=score, peak_frame=frame)
            return None
        self._quiet += 1
        return self.close() if self._quiet >= self.rules.release_frames else None

    def close(self):
        found, self._run, self._quiet = self._run, None, 0
        if found is None or found["alarm_frames"] < self.rules.min_frames:
            return None
        return events.Event(source=self.source, **found)


@pytest.mark.parametrize("seed", range(8))
def test_the_vectorized_machine_finds_the_events_of_one_detector_per_stream(seed):
    """Random scores around the threshold (NaN too), streams skipped at random steps,
    videos restarting at random: the same events, in the same order per stream."""
    rng = np.random.default_rng(seed)
    streams, steps = 6, 300
    rules = EventRules(float(rng.normal()), float(rng.uniform(0, 1)), int(rng.integers(1, 6)),
                       int(rng.integers(1, 6)))
    names, videos = [f"cam{i}" for i in range(streams)], [["a.avi", "b.avi"]] * streams
    machine = EventMachine(names, videos, rules)
    detectors = [Detector(n, rules) for n in names]
    frame, video = np.zeros(streams, int), np.zeros(streams, int)
    fast, slow = [], []
    for _ in range(steps):
        rows = np.flatnonzero(rng.random(streams) < 0.8)
        restart = rows[rng.random(rows.size) < 0.02]
        video[restart], frame[restart] = 1 - video[restart], 0
        scores = rules.threshold + rng.normal(0, 1.5 * abs(rules.threshold) + 0.1, rows.size)
        scores[rng.random(rows.size) < 0.01] = np.nan
        times = frame[rows] / 25
        fast += machine.close(restart)
        fast += machine.update(rows, frame[rows].copy(), times, scores, video[rows].copy())
        slow += [(i, e) for i in restart if (e := detectors[i].close())]
        for k, i in enumerate(rows):
            event = detectors[i].update(videos[i][video[i]], int(frame[i]), times[k], scores[k])
            slow += [(i, event)] if event else []
        frame[rows] += 1
    fast += machine.close(np.arange(streams))
    slow += [(i, e) for i, d in enumerate(detectors) if (e := d.close())]
    assert len(slow) > 10  # the draw makes events
    for stream in range(streams):
        assert [e for i, e in fast if i == stream] == [e for i, e in slow if i == stream]


def test_each_stream_has_its_own_rules_and_they_change_between_frames():
    """Stream 0 alarms above 1, stream 1 above 5; then stream 1's threshold drops to 1."""
    machine = EventMachine(["a", "b"], [["a"], ["b"]],
                           [EventRules(1.0, 0.0, 1, 2), EventRules(5.0, 0.0, 1, 2)])
    rows, videos = np.arange(2), np.zeros(2, np.int64)
    for frame in range(3):
        machine.update(rows, np.full(2, frame), np.zeros(2), np.full(2, 3.0), videos)
    assert machine.active.tolist() == [True, False]
    machine.set_rules(1, EventRules(1.0, 0.0, 1, 2))
    for frame in range(3, 5):
        machine.update(rows, np.full(2, frame), np.zeros(2), np.full(2, 3.0), videos)
    assert machine.active.tolist() == [True, True]
    ended = machine.update(rows, np.full(2, 5), np.zeros(2), np.zeros(2), videos)
    assert [(stream, e.start_frame, e.end_frame) for stream, e in ended] == [(0, 0, 4), (1, 3, 4)]
