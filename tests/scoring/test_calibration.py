"""Position calibration: standardises by window position, from normal videos only."""

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.scoring.calibration import PositionCalibration, window_positions


def test_window_positions():
    np.testing.assert_array_equal(window_positions(7, 3), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(window_positions(4, None), [0, 1, 2, 3])


def test_standardize_removes_a_reset_sawtooth():
    rng = np.random.default_rng(0)
    sawtooth = np.tile([1.0, 5.0, 6.0, 7.0], 2)  # the first frame of each window is low
    normal = sawtooth + rng.normal(0, 0.1, (200, 8))
    calibration = PositionCalibration.fit(normal, t_prime=4)
    np.testing.assert_allclose(calibration.mean, [1, 5, 6, 7], atol=0.03)
    np.testing.assert_allclose(calibration.std, 0.1, atol=0.02)
    test = sawtooth.copy()
    test[4] += 1.0  # an anomaly on a reset frame, lower than every raw error but the resets
    z = calibration.standardize(test)
    assert z.argmax() == 4 and np.abs(np.delete(z, 4)).max() < 1e-6 + 1


def test_positions_beyond_the_fitted_window_use_the_last():
    calibration = PositionCalibration.fit(np.array([[0.0, 1.0], [2.0, 3.0]]), t_prime=None)
    np.testing.assert_allclose(calibration.standardize(np.array([1.0, 2.0, 2.0])), [0, 0, 0])


def test_bad_calibration_errors():
    with pytest.raises(ConfigError, match="shape"):
        PositionCalibration.fit(np.zeros(5), t_prime=2)
    with pytest.raises(ConfigError, match="NaN"):
        PositionCalibration.fit(np.array([[0.0, np.nan]]), t_prime=2)
