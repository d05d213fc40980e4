"""The localization benchmark's mask-to-cell mapping (benchmarks/ped2_localization.py)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from ped2_localization import cells_touched  # noqa: E402


def test_a_mask_touches_the_cells_it_lands_in_once_squashed_to_the_square() -> None:
    mask = np.zeros((240, 360), np.uint8)
    mask[:10, 350:] = 1  # top right corner
    mask[200:240, 100:200] = 1  # bottom, a third to a half of the width
    touched = cells_touched(mask, 225, (4, 4), 56)
    expected = np.zeros((4, 4), bool)
    expected[0, 3] = True
    expected[3, 1:] = [True, True, False]  # columns 62-125 px of 225: cells 1 and 2
    assert np.array_equal(touched, expected)


def test_an_empty_mask_touches_no_cell() -> None:
    assert not cells_touched(np.zeros((240, 360), np.uint8), 225, (4, 4), 56).any()
