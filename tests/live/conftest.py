"""Fixtures of the live tests: a tiny model that alarms on noise, and clips to watch."""

import pytest

from media import clip, noise_calibrated, write_avi


@pytest.fixture(scope="module")
def media(tmp_path_factory, release_tiny):
    root = tmp_path_factory.mktemp("live")
    folder = root / "clips"
    write_avi(folder / "a.avi", clip())
    write_avi(folder / "b.avi", clip(20, noisy=(), seed=1))
    return {"model": noise_calibrated(release_tiny(root / "model", 4), 4),
            "video": folder / "a.avi", "folder": folder, "root": root}
