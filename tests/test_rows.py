"""Per-stream arrays grown by rows (rows.py)."""

import numpy as np

from convlstm_ae.rows import grown


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
