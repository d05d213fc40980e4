import pytest

from media import random_frames, write_idx


@pytest.fixture
def idx_file(tmp_path):
    """An MNIST IDX image file of 60 random 28x28 'digits'."""
    return write_idx(tmp_path / "digits-idx3-ubyte", random_frames((60, 28, 28)))
