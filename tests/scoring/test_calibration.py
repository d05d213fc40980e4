"""Position calibration: standardises by window position, from normal videos only."""

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError
from convlstm_ae.scoring.calibration import (
    DeploymentCalibration,
    PositionCalibration,
    window_positions,
)


def test_window_positions():
    np.testing.assert_array_equal(window_positions(7, 3), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(window_positions(4, None), [0, 1, 2, 3])
    assert window_positions(100, None).max() == 15  # warm-up positions, then one


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
    normal = np.array([[0.0, 1.0], [2.0, 3.0]] * 10)
    calibration = PositionCalibration.fit(normal, t_prime=None)
    np.testing.assert_allclose(calibration.standardize(np.array([1.0, 2.0, 2.0])), [0, 0, 0])


def test_little_normal_footage_pools_positions_and_floors_the_spread(caplog):
    """13 held-out frames: per-position statistics would rest on one or two frames each."""
    normal = [np.full(13, 100.0) + np.arange(13) % 2]  # nearly constant: spread ~0.5
    with caplog.at_level("WARNING"):
        calibration = PositionCalibration.fit(normal, t_prime=10)
    assert "13 normal frames, 1 at the rarest window position" in caplog.text
    assert len(calibration.mean) == 1
    flat = PositionCalibration.fit([np.full(40, 100.0)], t_prime=None)
    assert flat.std.min() >= 1.0  # 1 % of the mean, not 1e-12: no alarm on every frame
    noise = np.random.default_rng(0).normal(0, 0.1, 80)
    assert np.abs(flat.standardize(100.0 + noise)).max() < 1  # with 1e-12: about 1e11


def test_bad_calibration_errors():
    with pytest.raises(ConfigError, match="non-empty videos"):
        PositionCalibration.fit(np.zeros(5), t_prime=2)
    with pytest.raises(ConfigError, match="NaN"):
        PositionCalibration.fit(np.array([[0.0, np.nan]]), t_prime=2)


def test_videos_of_different_lengths():
    calibration = PositionCalibration.fit([np.array([1.0, 3.0, 1.0]), np.array([3.0])] * 20, 2)
    np.testing.assert_allclose(calibration.mean, [5 / 3, 3.0])  # position 0 holds 1, 1, 3


def test_deployment_threshold_is_a_quantile_of_normal_scores_and_round_trips():
    rng = np.random.default_rng(0)
    normal = [rng.normal(10, 2, 500) for _ in range(4)]
    calibration = DeploymentCalibration.fit(normal, t_prime=10, quantile=0.95,
                                            windows="overlap", error="sqrt")
    scores = np.concatenate([calibration.score(e) for e in normal])
    assert (scores > calibration.threshold).mean() == pytest.approx(0.05, abs=0.002)
    assert 1.4 < calibration.threshold < 1.9  # about the 95th percentile of N(0, 1)
    again = DeploymentCalibration.from_dict(calibration.to_dict())
    np.testing.assert_allclose(again.score(normal[0]), calibration.score(normal[0]))
    assert again.scheme() == ("overlap", "sqrt")
    with pytest.raises(ConfigError, match="quantile"):
        DeploymentCalibration.fit(normal, t_prime=10, quantile=1.5, windows="reset", error="sum")
