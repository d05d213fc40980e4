"""The located live score: per-cell statistics, causal scoring, calibration round trip."""

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.scoring.located import (
    CELL_QUANTILE,
    LocatedCalibration,
    LocatedDesign,
    LocatedScorer,
    fit_located,
    fit_statistics,
    located_scores,
)

T_PRIME = 5


def normal_cells(seed: int, frames: int = 60, level: float = 1.0) -> tuple[np.ndarray, ...]:
    """(N, 4, 6) cell errors: a busy band in rows 1-2, a position effect at reset frames."""
    rng = np.random.default_rng(seed)
    base = np.full((4, 6), 1.0)
    base[1:3] = 5.0
    history = np.arange(frames) % T_PRIME
    cells = base * rng.gamma(20, 1 / 20, (frames, 4, 6)) * level
    cells[history == 0] *= 0.5
    return cells, history


def test_statistics_match_a_plain_loop():
    videos = [normal_cells(seed) for seed in range(3)]
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos],
                           LocatedDesign(adapt="none"))
    cells = np.concatenate([v[0] for v in videos])
    history = np.concatenate([v[1] for v in videos])
    overall = cells.mean()
    for p in range(T_PRIME):
        assert stats.position_gain[p] == pytest.approx(cells[history == p].mean() / overall)
    corrected = cells / stats.position_gain[history][:, None, None]
    for row in range(4):
        for column in range(6):
            values = corrected[:, row, column]
            assert stats.mean[row, column] == pytest.approx(values.mean())
            assert stats.std[row, column] == pytest.approx(values.std())
            assert stats.quantile[row, column] == pytest.approx(
                np.quantile(values, CELL_QUANTILE))


@pytest.mark.parametrize("adapt", ["frame", "stream", "cells"])
def test_adapted_statistics_match_a_plain_loop_over_each_video_alone(adapt):
    from convlstm_ae.scoring.located import _Adaptation

    videos = [normal_cells(seed, frames) for seed, frames in ((0, 60), (1, 45), (2, 60))]
    design = LocatedDesign(adapt=adapt, stream_frames=10)
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
    adapted = []
    for cells, history in videos:  # one stream per video, frame by frame
        adaptation = _Adaptation(design, stats.reference, 1)
        corrected = cells / stats.position_gain[history][:, None, None]
        adapted += [adaptation(frame[None])[0] for frame in corrected]
    np.testing.assert_allclose(stats.mean, np.mean(adapted, axis=0))
    np.testing.assert_allclose(stats.quantile, np.quantile(adapted, CELL_QUANTILE, axis=0))


def test_a_located_anomaly_raises_the_score_and_a_normal_video_does_not():
    videos = [normal_cells(seed) for seed in range(3)]
    design = LocatedDesign()  # excess, sum, frame level
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
    cells, history = normal_cells(7)
    normal, _ = located_scores(cells, history, stats, design)
    anomalous = cells.copy()
    anomalous[40:50, 0, 0] *= 6  # a quiet cell becomes busy: unusual for that place
    scores, maps = located_scores(anomalous, history, stats, design)
    assert scores[40:50].min() > 3 * normal.max()
    np.testing.assert_array_equal(scores[:40], normal[:40])  # causal
    assert maps[45].argmax() == 0  # the map says where


def test_the_frame_level_cancels_a_recording_wide_shift():
    videos = [normal_cells(seed) for seed in range(3)]
    for adapt, cancelled in (("frame", True), ("none", False)):
        design = LocatedDesign(adapt=adapt)
        stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
        cells, history = normal_cells(9)
        plain = located_scores(cells, history, stats, design)[0]
        brighter = located_scores(cells * 2, history, stats, design)[0]
        assert np.allclose(plain, brighter) == cancelled


@pytest.mark.parametrize("design", [LocatedDesign(adapt="stream", smoothing=0.5),
                                    LocatedDesign("z", "top", "none", 0.25)])
def test_streams_scored_together_equal_streams_scored_alone(design):
    videos = [normal_cells(seed) for seed in range(3)]
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
    (a, history), (b, _) = normal_cells(10), normal_cells(11, level=1.5)
    scorer = LocatedScorer(stats, design, streams=2)
    together = np.stack([scorer(np.stack([a[t], b[t]]), history[[t, t]])[0]
                         for t in range(len(a))], axis=1)
    np.testing.assert_allclose(together[0], located_scores(a, history, stats, design)[0])
    np.testing.assert_allclose(together[1], located_scores(b, history, stats, design)[0])
    batch, maps = located_scores(np.stack([a, b]), np.stack([history, history]), stats, design)
    np.testing.assert_allclose(batch, together)  # equal-length videos as B streams
    assert maps.shape == (2, *a.shape)
    scorer.reset([1])
    assert np.isnan(scorer.score[1]) and not np.isnan(scorer.score[0])


@pytest.mark.parametrize("adapt", ["stream", "cells"])
def test_a_stream_left_out_of_a_step_keeps_its_running_level_and_score(adapt):
    """Stream 1 sits out every third step (given ten times its errors there): its own
    frames score as they do alone, through its running level and smoothing."""
    design = LocatedDesign(adapt=adapt, stream_frames=5, smoothing=0.5)
    videos = [normal_cells(seed) for seed in range(3)]
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
    (a, history), (b, _) = normal_cells(10), normal_cells(11, level=1.5)
    scored = np.arange(len(a)) % 3 != 2
    scorer = LocatedScorer(stats, design, streams=2)
    together = np.stack([scorer(np.stack([a[t], b[t] * (1 if scored[t] else 10)]),
                                history[[t, t]], np.array([True, scored[t]]))[0]
                         for t in range(len(a))], axis=1)
    np.testing.assert_allclose(together[0], located_scores(a, history, stats, design)[0])
    np.testing.assert_allclose(together[1, scored],
                               located_scores(b[scored], history[scored], stats, design)[0])


def test_fit_located_holds_each_video_out_for_its_threshold_and_round_trips():
    videos = [normal_cells(seed) for seed in range(4)]
    calibration = fit_located([v[0] for v in videos], [v[1] for v in videos], LocatedDesign(),
                              9, 0.99, ["a", "b", "c", "d"])
    in_sample = np.concatenate([located_scores(v[0], v[1], calibration.statistics,
                                               calibration.design)[0] for v in videos])
    assert calibration.threshold >= np.quantile(in_sample, 0.99)  # new footage scores higher
    assert calibration.spread >= 1 and calibration.videos == ("a", "b", "c", "d")
    again = LocatedCalibration.from_dict(calibration.to_dict())
    assert again.threshold == calibration.threshold and again.design == calibration.design
    np.testing.assert_array_equal(again.statistics.quantile, calibration.statistics.quantile)


def test_bad_inputs_are_one_line_errors():
    cells, history = normal_cells(0)
    with pytest.raises(ConfigError, match="at least 2 videos"):
        fit_located([cells], [history], LocatedDesign(), 9, 0.99, ["a"])
    with pytest.raises(ConfigError, match="quantile"):
        fit_located([cells, cells], [history, history], LocatedDesign(), 9, 1.5, ["a", "b"])
    with pytest.raises(ConfigError, match="aggregate 'mean' is unknown"):
        LocatedDesign(aggregate="mean")
    with pytest.raises(ConfigError, match="NaN"):
        fit_statistics([np.full((3, 2, 2), np.nan)], [np.zeros(3, int)], LocatedDesign())
    with pytest.raises(ConfigError, match="missing or bad field"):
        LocatedCalibration.from_dict({"threshold": 1})
    stats = fit_statistics([cells], [history], LocatedDesign())
    with pytest.raises(ConfigError, match=r"cells of shape \(3, 3\)"):
        LocatedScorer(stats, LocatedDesign())(np.ones((1, 3, 3)), np.zeros(1, int))


def test_live_offline_and_onnx_give_the_same_located_scores(tmp_path):
    import torch

    from convlstm_ae.config import ScoringConfig
    from convlstm_ae.live.engine import open_engine
    from convlstm_ae.model.presets import create_model
    from convlstm_ae.pipeline.calibrate import calibrate_model
    from convlstm_ae.pipeline.score import open_scorer, score_video
    from convlstm_ae.release import save_model
    from media import random_frames

    torch.manual_seed(0)
    model_dir = save_model(create_model("tiny").eval(), tmp_path / "model",
                           ScoringConfig(t_prime=T_PRIME))
    calibration = calibrate_model(model_dir, [random_frames((12, 64, 64), seed=s)
                                              for s in range(3)], names=["a", "b", "c"])
    located = calibration["located"]
    assert located.videos == ("a", "b", "c")
    video = random_frames((11, 64, 64), seed=9)
    offline = score_video(open_scorer(model_dir, device="cpu"), video).columns["live_score"]
    for backend in ("torch", "onnx"):
        engine, scorer = open_engine(model_dir, 1, backend=backend), located.scorer()
        live = []
        for frame in video:
            errors = engine(frame[None])
            live.append(scorer(np.asarray(errors.cells), np.asarray(errors.history))[0][0])
        np.testing.assert_allclose(live, offline, rtol=1e-4, atol=1e-4, err_msg=backend)


def test_the_cells_level_learns_todays_busy_places_from_past_frames_only():
    videos = [normal_cells(seed) for seed in range(3)]
    design = LocatedDesign(adapt="cells", stream_frames=30)
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
    cells, history = normal_cells(12, frames=120)
    today = cells.copy()
    today[:, 0, :3] *= 4  # three quiet places are busy all day in this recording
    fixed = LocatedDesign(adapt="none")
    fixed_stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], fixed)
    adapted = located_scores(today, history, stats, design)[0]
    unadapted = located_scores(today, history, fixed_stats, fixed)[0]
    assert adapted[60:].max() < 0.2 * unadapted[60:].min()
    anomalous = today.copy()
    anomalous[100:110, 3, 5] *= 6  # after the warm-up, a new hot place still stands out
    scores = located_scores(anomalous, history, stats, design)[0]
    np.testing.assert_array_equal(scores[:100], adapted[:100])  # causal
    assert scores[100:104].min() > 2 * adapted[60:100].max()  # before the level learns it


def test_offline_smoothing_equals_the_scorers():
    from convlstm_ae.scoring.located import smooth

    videos = [normal_cells(seed) for seed in range(3)]
    raw_design, design = LocatedDesign(smoothing=1.0), LocatedDesign(smoothing=0.25)
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], raw_design)
    cells, history = normal_cells(13)
    np.testing.assert_allclose(smooth(located_scores(cells, history, stats, raw_design)[0], 0.25),
                               located_scores(cells, history, stats, design)[0])


@pytest.mark.parametrize("unusual", ["excess", "z"])
def test_ignored_cells_read_zero_before_the_aggregate_and_only_in_their_stream(unusual):
    videos = [normal_cells(seed) for seed in range(3)]
    design = LocatedDesign(unusual=unusual, aggregate="max", adapt="none")
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
    cells, history = normal_cells(9, frames=2)
    frames = np.stack([cells[1], cells[1]])  # two streams, the same frame
    frames[:, 3, 5] *= 50  # an anomaly in cell (3, 5) of both
    scorer = LocatedScorer(stats, design, streams=2)
    mask = np.zeros((4, 6), bool)
    mask[3, 5] = True
    scorer.ignore(1, mask)
    scores, maps = scorer(frames, history[[1, 1]])
    assert maps[0, 3, 5] > 100 and maps[1, 3, 5] == 0.0
    assert scores[0] == maps[0].max() and scores[1] == maps[1].max() < 10
    scorer.ignore(1, None)
    assert scorer(frames, history[[1, 1]])[0][1] == pytest.approx(scores[0])
    with pytest.raises(ConfigError, match=r"a mask of \(2, 2\) cells"):
        scorer.ignore(0, np.zeros((2, 2), bool))


@pytest.mark.parametrize("adapt", ["frame", "stream", "cells"])
def test_ignored_cells_do_not_enter_the_recordings_level(adapt):
    videos = [normal_cells(seed) for seed in range(3)]
    design = LocatedDesign(adapt=adapt, aggregate="max", stream_frames=10)
    stats = fit_statistics([v[0] for v in videos], [v[1] for v in videos], design)
    cells, history = normal_cells(14, frames=40)
    windy = cells.copy()
    windy[:, :3] *= 10  # a tree in the wind over 18 of the 24 cells, masked
    mask = np.zeros((4, 6), bool)
    mask[:3] = True
    scorers = [LocatedScorer(stats, design, streams=2) for _ in range(2)]
    for scorer in scorers:
        scorer.ignore(0, mask)
        scorer.ignore(1, np.ones((4, 6), bool))  # every cell ignored: no NaN, no warning
    with_tree, calm = ([scorer(frames[t][None].repeat(2, 0), history[[t, t]])[0]
                        for t in range(len(history))] for scorer, frames in
                       zip(scorers, (windy, cells), strict=True))
    np.testing.assert_array_equal(np.array(with_tree)[:, 0], np.array(calm)[:, 0])
    assert np.isfinite(with_tree).all() and not np.array(with_tree)[:, 1].any()


@pytest.mark.parametrize("adapt", ["none", "frame", "stream", "cells"])
def test_a_stream_warms_up_until_its_running_level_rests_on_enough_frames(adapt):
    warming = LocatedDesign(adapt=adapt, stream_frames=10).warming_up(np.array([0, 9, 10, 50]))
    adapting = adapt in ("stream", "cells")
    assert warming.tolist() == [adapting, adapting, False, False]
