"""Error records read back whole, or refused in one line naming the file."""

import numpy as np
import pytest

from convlstm_ae.errors import VideoReadError
from convlstm_ae.scoring.records import ErrorRecord
from media import lying_npy, with_member


def _saved(tmp_path, lengths=(3, 4)):
    frames = sum(lengths)
    record = ErrorRecord([f"{i:02d}" for i in range(len(lengths))], np.array(lengths),
                         np.arange(frames, dtype=np.float32), np.zeros(frames, np.float32),
                         np.ones(frames, np.float32), np.full(frames, 5),
                         labels=np.zeros(frames, np.uint8))
    return record.save(tmp_path / "r.npz")


def test_a_record_cut_in_half_is_one_error_naming_it(tmp_path):
    path = _saved(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(VideoReadError, match="r.npz: not an error record"):
        ErrorRecord.load(path)


@pytest.mark.parametrize("lengths", [[3, 3], [3, 5], [7], [-1, 8]])
def test_lengths_that_do_not_sum_to_the_frames_are_refused(tmp_path, lengths):
    """An edited record would otherwise split its frames elsewhere and change the AUC."""
    path = _saved(tmp_path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["lengths"] = np.array(lengths)
    np.savez_compressed(path, **arrays)
    with pytest.raises(VideoReadError, match="r.npz: .*the record is damaged"):
        ErrorRecord.load(path)


def test_an_intact_record_loads(tmp_path):
    assert ErrorRecord.load(_saved(tmp_path)).lengths.tolist() == [3, 4]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_scores_name_the_record_and_the_video(tmp_path, bad):
    """Not "video 0: scores contain NaN" from the metrics, with no file named."""
    path = _saved(tmp_path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["current"] = arrays["current"].copy()
    arrays["current"][4] = bad
    np.savez_compressed(path, **arrays)
    with pytest.raises(VideoReadError, match=r"r.npz: current scores .* video '01'; the rec"):
        ErrorRecord.load(path)


def test_a_member_whose_header_lies_is_one_error_naming_the_record(tmp_path):
    """A member claiming 4 PB is refused from its header, not allocated."""
    path = with_member(_saved(tmp_path), "current.npy", lying_npy())
    with pytest.raises(VideoReadError, match=r"r.npz: not an error record \(current.npy: "
                                             r"header promises \(1000000000000000,\)"):
        ErrorRecord.load(path)
