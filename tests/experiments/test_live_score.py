"""The live-score experiment's pieces: cell pooling, the choice rule, the design grid."""

import io

import numpy as np
import pytest

from convlstm_ae.experiments.live_score import (
    CELL_FACTORS,
    DESIGNS,
    MAX_FALSE_ALARMS,
    QUANTILES,
    Validation,
    choose,
    pool_cells,
)
from convlstm_ae.scoring.located import LocatedDesign


def test_pooled_cells_are_the_means_of_whole_blocks_as_the_engine_makes_bigger_cells():
    import torch

    from convlstm_ae.scoring.reconstruction import reduce_maps

    error_map = torch.rand(1, 3, 225, 225, dtype=torch.float64)
    zero = torch.zeros_like(error_map)
    base = reduce_maps(error_map, zero, 28, 7)[-1][0].numpy()
    assert base.shape == (3, 32, 32)  # 225 // 7: the last pixel row and column left out
    for factor in (2, 4, 8):
        direct = reduce_maps(error_map, zero, 28, 7 * factor)[-1][0].numpy()
        np.testing.assert_allclose(pool_cells(base, factor), direct)
    cells = np.random.default_rng(0).random((3, 5, 7))
    pooled = pool_cells(cells, 2)
    assert pooled.shape == (3, 2, 3)
    np.testing.assert_allclose(pooled[:, 1, 2], cells[:, 2:4, 4:6].mean(axis=(1, 2)))
    assert pool_cells(cells, 1) is cells


def test_a_cell_larger_than_the_frame_is_a_one_line_error():
    import pytest
    import torch

    from convlstm_ae.errors import ConfigError
    from convlstm_ae.scoring.reconstruction import reduce_maps

    with pytest.raises(ConfigError, match="do not fit"):
        reduce_maps(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), 2, 9)


def row(auc: float, false_alarms: dict) -> Validation:
    return Validation(4, LocatedDesign(), auc, {}, {}, false_alarms, dict.fromkeys(QUANTILES, 1.0))


def test_the_best_validation_auc_within_the_alarm_budget_wins_with_its_lowest_quantile():
    calm = dict(zip(QUANTILES, (3.0, MAX_FALSE_ALARMS, 0.5, 0.0), strict=True))
    best, quantile = choose([row(0.7, calm), row(0.8, calm)])
    assert best.auc == 0.8 and quantile == QUANTILES[1]
    noisy = dict.fromkeys(QUANTILES, 5.0)
    assert choose([row(0.9, noisy)])[1] == max(QUANTILES)  # none within: the strictest
    assert choose([row(0.9, noisy), row(0.7, calm)])[0].auc == 0.7  # the budget comes first


def test_the_grid_is_fixed_and_holds_each_design_once():
    assert len(set(DESIGNS)) == len(DESIGNS) == 120 and CELL_FACTORS == (2, 4, 8, 16)
    assert LocatedDesign("z", "sum") not in DESIGNS  # a sum of z-scores is the whole frame


def synthetic_records():
    """Three held-out videos, two synthetic copies of each (a hot cell from frame 20), two
    test videos: 8 x 8 cells of 2 px."""
    from convlstm_ae.experiments.live_records import LiveRecords, Video

    rng = np.random.default_rng(0)
    history = np.minimum(np.arange(40), 9)

    def video(name, kind="normal", hot=None):
        cells = rng.gamma(4.0, 0.25, (40, 8, 8)) * 1e-4
        labels = np.zeros(40, np.uint8)
        if hot is not None:
            cells[hot:, 3, 4] *= 20
            labels[hot:] = 1
        return Video(name, cells, history, cells.sum(axis=(1, 2)), labels, kind)

    held = [video(f"h{i}") for i in range(3)]
    copies = [[video(v.name, "fast", 20), video(v.name, "freeze", 0)] for v in held]
    test = [video("t1", "test", 25), video("t2", "test", 10)]
    authors = [rng.random(40) for _ in test]
    return LiveRecords(held, copies, test, authors, 2, 10.0)


def test_records_round_trip_and_tables_rebuilds_the_figures_byte_identical(tmp_path):
    from convlstm_ae.experiments.live_records import RECORDS, load_records, save_records
    from convlstm_ae.experiments.live_score import live_score_results
    from test_cli import run_cli

    records = synthetic_records()
    save_records(tmp_path / RECORDS, records)
    loaded = load_records(tmp_path / RECORDS)
    assert [v.name for v in loaded.held_out] == ["h0", "h1", "h2"]
    assert [[c.kind for c in v] for v in loaded.copies] == [["fast", "freeze"]] * 3
    np.testing.assert_allclose(loaded.test[1].cells, records.test[1].cells, rtol=1e-3)
    np.testing.assert_array_equal(loaded.copies[2][0].labels, records.copies[2][0].labels)
    results, calibration = live_score_results(tmp_path)
    # only a design that adapts to the doubled recordings stays within the alarm budget here
    assert results["chosen"]["validation_auc"] > 0.75
    assert results["test"]["live"]["auc"] > 0.9 and calibration.cell_size in (2, 4, 8, 16)
    written = {name: (tmp_path / name).read_bytes()
               for name in ("validation.json", "results.json", "calibration.json")}
    code, out, err = run_cli("tables", tmp_path)
    assert code == 0, err
    assert "chosen on validation" in out
    assert {name: (tmp_path / name).read_bytes() for name in written} == written


def test_cut_records_are_a_one_line_error(tmp_path):
    from convlstm_ae.experiments.live_records import RECORDS, save_records
    from test_cli import assert_user_error, run_cli

    save_records(tmp_path / RECORDS, synthetic_records())
    data = (tmp_path / RECORDS).read_bytes()
    (tmp_path / RECORDS).write_bytes(data[:len(data) // 2])
    code, _, err = run_cli("tables", tmp_path)
    assert_user_error(code, err, RECORDS)
    assert "not readable live-score records" in err


def test_a_recording_gain_is_smooth_seeded_and_plain_without_spread():
    from convlstm_ae.experiments.live_score import recording_gain

    np.testing.assert_array_equal(recording_gain((32, 32), 2.0, 0.0, 0), np.full((32, 32), 2.0))
    places = recording_gain((32, 32), 1.0, 0.5, 3)
    np.testing.assert_array_equal(places, recording_gain((32, 32), 1.0, 0.5, 3))
    assert places.min() > 0 and places.std() > 0.1
    assert np.abs(np.diff(np.log(places), axis=1)).max() < 0.3  # smooth over places


def test_records_with_a_member_whose_header_lies_are_refused_from_it(tmp_path):
    """A member claiming 4 PB: one line naming the records and the member, no allocation."""
    from convlstm_ae.errors import CheckpointError
    from convlstm_ae.experiments.live_records import RECORDS, load_records, save_records
    from media import lying_npy, with_member

    save_records(tmp_path / RECORDS, synthetic_records())
    with_member(tmp_path / RECORDS, "test_frame.npy", lying_npy())
    with pytest.raises(CheckpointError, match=f"{RECORDS}: not readable live-score records "
                                              r"\(test_frame.npy: header promises"):
        load_records(tmp_path / RECORDS)


@pytest.mark.parametrize(("member", "edit"), [
    ("test_lengths", lambda values: values + 1),
    ("test_cells", lambda values: values[:-1]),  # the lengths sum to one frame more
])
def test_records_whose_lengths_and_frames_disagree_are_refused(tmp_path, member, edit):
    """The record's lengths check (scoring/records.lengths_problem) holds here too, for
    every array of a group, the cells included."""
    from convlstm_ae.errors import CheckpointError
    from convlstm_ae.experiments.live_records import RECORDS, load_records, save_records
    from media import with_member

    path = tmp_path / RECORDS
    save_records(path, synthetic_records())
    with np.load(path) as data:
        values = edit(data[member])
    member_bytes = io.BytesIO()
    np.save(member_bytes, values)
    with_member(path, f"{member}.npy", member_bytes.getvalue())
    with pytest.raises(CheckpointError, match=f"{RECORDS}: not readable live-score records "
                                              r"\(test_cells holds .* but the video lengths "
                                              "sum to"):
        load_records(path)
