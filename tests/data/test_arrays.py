"""Arrays loaded without trusting their headers (data/arrays.py)."""

import zipfile

import numpy as np
import pytest

from convlstm_ae.data.arrays import load_npy, load_npz
from media import lying_npy, with_member


@pytest.mark.parametrize("version", [1, 2])
def test_headers_promising_more_than_the_file_or_member_holds_are_refused(tmp_path, version):
    """4 KB claiming 4 PB, as a .npy and as an .npz member: a ValueError naming the member,
    before NumPy allocates anything (it would raise MemoryError)."""
    (tmp_path / "huge.npy").write_bytes(lying_npy(version=version))
    with pytest.raises(ValueError, match=r"header promises \(1000000000000000,\) float32"):
        load_npy(tmp_path / "huge.npy")
    path = tmp_path / "a.npz"
    np.savez_compressed(path, small=np.arange(3), big=np.zeros(5))
    with_member(path, "big.npy", lying_npy(version=version))
    with pytest.raises(ValueError, match=r"^big.npy: header promises \(1000000000000000,\)"):
        load_npz(path)


def test_a_member_stating_more_bytes_than_its_compressed_ones_can_hold_is_refused(tmp_path):
    """A zip member's stated size is no more trusted than its header: 4 KB stored, stating
    4 GB, whose header claims 3.2 GB."""
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("big.npy", lying_npy((4 * 10**8,), "<f8"))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")  # the central directory entry: size at 24
    data[central + 24:central + 28] = (2**32 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("big.npy").file_size == 2**32 - 1
    with pytest.raises(ValueError, match=r"^big.npy: header promises \(400000000,\) float64"):
        load_npz(path)


def test_intact_arrays_load_whole(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(load_npy(tmp_path / "a.npy"), np.arange(6).reshape(2, 3))
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "b.npz", x=np.ones(3), y=np.array("text"))
        arrays = load_npz(tmp_path / "b.npz")
        assert sorted(arrays) == ["x", "y"] and str(arrays["y"]) == "text"
