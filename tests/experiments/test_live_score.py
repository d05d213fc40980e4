"""The live-score experiment's pieces: cell pooling, the choice rule, the design grid."""

import numpy as np

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


def test_pooled_cells_are_the_means_of_their_blocks_edges_included():
    cells = np.random.default_rng(0).random((3, 5, 7))
    pooled = pool_cells(cells, 2)
    assert pooled.shape == (3, 3, 4)
    for row in range(3):
        for column in range(4):
            block = cells[:, 2 * row:2 * row + 2, 2 * column:2 * column + 2]
            np.testing.assert_allclose(pooled[:, row, column], block.mean(axis=(1, 2)))
    assert pool_cells(cells, 1) is cells


def row(auc: float, false_alarms: dict) -> Validation:
    return Validation(4, LocatedDesign(), auc, {}, false_alarms, dict.fromkeys(QUANTILES, 1.0))


def test_the_best_validation_auc_wins_then_the_lowest_quantile_within_the_alarm_budget():
    calm = dict(zip(QUANTILES, (3.0, MAX_FALSE_ALARMS, 0.5, 0.0), strict=True))
    best, quantile = choose([row(0.7, calm), row(0.8, calm)])
    assert best.auc == 0.8 and quantile == QUANTILES[1]
    noisy = dict.fromkeys(QUANTILES, 5.0)
    assert choose([row(0.9, noisy)])[1] == max(QUANTILES)  # none within: the strictest


def test_the_grid_is_fixed_and_holds_each_design_once():
    assert len(set(DESIGNS)) == len(DESIGNS) == 45 and CELL_FACTORS == (1, 2, 4, 8)
    assert LocatedDesign("z", "sum") not in DESIGNS  # a sum of z-scores is the whole frame
