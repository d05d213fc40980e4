"""Settings: where caches go, and the bounds of the config dataclasses."""

import re

import pytest

from convlstm_ae.config import (
    CACHE_ENV,
    ModelConfig,
    ScoringConfig,
    TrainConfig,
    default_cache_dir,
)
from convlstm_ae.errors import ConfigError


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "convlstm-ae"


@pytest.mark.parametrize(("config", "fields", "problem"), [
    (TrainConfig, {"max_steps": True}, "max_steps must be a whole number"),
    (TrainConfig, {"max_steps": 10**23}, "max_steps must be a whole number in [1, 10,000,000]"),
    (TrainConfig, {"batch_size": 2.0}, "batch_size must be a whole number"),
    (TrainConfig, {"seed": False}, "seed must be a whole number"),
    (TrainConfig, {"weight_decay": float("inf")}, "weight_decay must be >= 0 and finite"),
    (ScoringConfig, {"t_prime": 10**20}, "t_prime must be a whole number of frames"),
    (ScoringConfig, {"t_prime": True}, "t_prime must be a whole number of frames"),
    (ModelConfig, {"lstm_channels": 2_000_000}, "lstm_channels must be a whole number"),
    (ModelConfig, {"clip_length": 10**6}, "clip_length must be a whole number in [1, 1,000]"),
])
def test_settings_are_whole_numbers_under_a_ceiling(config, fields, problem):
    """A bool is no count and a float no step; no setting asks for an absurd size."""
    with pytest.raises(ConfigError, match=re.escape(problem)):
        config(**fields)
