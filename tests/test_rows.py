"""Per-stream arrays grown by rows, or a row reused (rows.py)."""

import numpy as np

from convlstm_ae.rows import grown, placed, put


def test_rows_of_the_fill_keep_dtype_and_trailing_shape():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = grown(array, 2, np.nan)
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out[:2], array)
    assert np.isnan(out[2:]).all()


def test_a_scalar_fill_does_not_widen_the_dtype():
    for array, fill in ((np.zeros(2, np.uint8), 7), (np.zeros(2, bool), True),
                        (np.zeros((1, 2, 2), np.int64), -1)):
        out = grown(array, 1, fill)
        assert out.dtype == array.dtype and out.shape[1:] == array.shape[1:]
        assert (out[-1] == fill).all()


def test_zero_rows_give_an_equal_new_array():
    array = np.ones((3, 2), bool)
    out = grown(array, 0, False)
    assert out is not array and out.dtype == bool
    np.testing.assert_array_equal(out, array)


def test_a_placed_row_is_one_more_or_a_removed_streams_reset_in_place():
    array = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert placed(array, 1, np.nan) is array  # reused: the others kept
    np.testing.assert_array_equal(array[[0, 2]], [[0, 1], [4, 5]])
    assert np.isnan(array[1]).all()
    out = placed(array, 3, 9)
    assert out.shape == (4, 2) and out.dtype == np.float32 and (out[3] == 9).all()
    items = ["a", "b"]
    put(items, 0, "c")
    put(items, 2, "d")
    assert items == ["c", "b", "d"]
