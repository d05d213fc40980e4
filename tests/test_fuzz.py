"""Fuzzing: random and damaged bytes given to the label parsers, the config loaders and
the frame readers. Only our error family may escape, never a traceback from NumPy,
SciPy, YAML or OpenCV (SciPy's .mat reader, which can crash outright on a damaged file,
runs in a child process). Bounded and derandomized, so that it runs in seconds and CI sees the same
examples every time (run it with more examples by raising ``max_examples``)."""

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlstm_ae.config import read_config_file
from convlstm_ae.data.video_io import read_frames
from convlstm_ae.errors import ConvLSTMAEError
from convlstm_ae.experiments.files import read_experiment
from convlstm_ae.pipeline.evaluate import read_label_file

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES, LENGTHS = ["01", "02"], [5, 7]


def _valid_examples() -> dict[str, bytes]:
    """One well-formed file per format, the seeds of the damaged ones."""
    mat = io.BytesIO()
    scipy.io.savemat(mat, {"gt": np.array([[1, 2], [3, 4]], dtype=object)})
    npy = io.BytesIO()
    np.save(npy, np.zeros((1, 12), dtype=np.int64))
    return {
        ".json": json.dumps({"01": [0] * 5, "02": [1] * 7}).encode(),
        ".csv": b"video,frame,label\n01,0,1\n02,0,0\n",
        ".m": b"TestVideoFile{1}.gt_frame = [2:4];\nTestVideoFile{2}.gt_frame = [1:3];\n",
        ".mat": mat.getvalue(),
        ".npy": npy.getvalue(),
        ".yaml": b"preset: tiny\ntrain:\n  max_steps: 3\n",
    }


VALID = _valid_examples()


def _damaged(suffix: str):
    """Random bytes, or the valid example truncated, or with bytes flipped."""
    good = VALID[suffix]
    return st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(good)).map(lambda n: good[:n]),
        st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)), max_size=8)
        .map(lambda edits: bytes(_flip(good, edits))),
    )


def _flip(data: bytes, edits) -> bytearray:
    out = bytearray(data)
    for index, value in edits:
        out[index] = value
    return out


def _only_our_errors(call) -> None:
    try:
        call()
    except ConvLSTMAEError as error:
        assert "\n" not in str(error).strip(), str(error)


def _write(folder: str, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


@settings(FUZZ, max_examples=400)  # five formats: the 200 of four plus 200 of CSV before
@given(st.sampled_from([".json", ".csv", ".m", ".mat", ".npy"]).flatmap(
    lambda suffix: st.tuples(st.just(suffix), _damaged(suffix))))
def test_label_files(case):
    """Every label format, through the reader ``evaluate`` uses (the dataset readers'
    ``read_labels`` for all but CSV)."""
    suffix, data = case
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, f"labels{suffix}", data)
        _only_our_errors(lambda: read_label_file(path, NAMES, LENGTHS))


@FUZZ
@given(_damaged(".yaml"))
def test_config_and_experiment_files(data):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "run.yaml", data)
        _only_our_errors(lambda: read_config_file(path))
        _only_our_errors(lambda: read_experiment(path))


@FUZZ
@given(st.sampled_from([".npy", ".avi", ".png"]).flatmap(
    lambda suffix: st.tuples(st.just(suffix), st.binary(max_size=300))))
def test_frame_readers(case):
    suffix, data = case
    with tempfile.TemporaryDirectory() as folder:
        if suffix == ".png":  # a frame folder holding one damaged image
            Path(folder, "frames").mkdir()
            path = _write(folder, "frames/000.png", data).parent
        else:
            path = _write(folder, f"video{suffix}", data)
        _only_our_errors(lambda: read_frames(path, 16))
