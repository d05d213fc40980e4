"""The score table: written whole or not at all, read back as written."""

from pathlib import Path

import numpy as np
import pytest

from convlstm_ae.atomic import atomic_path
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.pipeline.score import read_score_table, write_score_table


def _columns(n: int, offset: float = 0.0) -> dict[str, np.ndarray]:
    return {"error": np.arange(n) + offset, "patch_error": np.arange(n) / 2,
            "history": np.arange(n) % 10}


def test_score_table_round_trip(tmp_path):
    path = tmp_path / "out" / "scores.csv"
    rows = write_score_table(path, [("a", _columns(3)), ("b", _columns(2, 0.5))], Path("in"))
    assert rows == 5
    table = read_score_table(path)
    assert list(table) == ["a", "b"]
    np.testing.assert_allclose(table["b"]["error"], [0.5, 1.5])
    np.testing.assert_allclose(table["a"]["history"], [0, 1, 2])


def test_a_failed_or_empty_table_leaves_no_file(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("an older table\n")

    def failing():
        yield "a", _columns(3)
        raise VideoReadError("clip.avi: corrupt")

    with pytest.raises(VideoReadError, match="corrupt"):
        write_score_table(path, failing(), Path("in"))
    assert path.read_text() == "an older table\n"
    with pytest.raises(VideoReadError, match="in: no readable video"):
        write_score_table(path, [], Path("in"))
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


@pytest.mark.parametrize(("text", "problem"), [
    ("video,frame,error,patch_error\na,0,x,1\n", "scores.csv: line 2: values are not numbers"),
    ("video,frame,error\n", "scores.csv: missing column"),
    ("video,frame,error,patch_error\na,0,nan,1\n", "scores.csv: line 2: NaN or infinite values"),
    ("video,frame,error,patch_error\n", "scores.csv: holds no scored frames"),
])
def test_bad_tables_name_the_file(tmp_path, text, problem):
    path = tmp_path / "scores.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        read_score_table(path)


def test_atomic_path_renames_on_success_and_cleans_up_on_error(tmp_path):
    with atomic_path(tmp_path / "f.txt") as temporary:
        temporary.write_text("whole")
    assert (tmp_path / "f.txt").read_text() == "whole"
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "g.txt") as temporary:
        temporary.write_text("half")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
