"""Progress bars: silent by default; a bar whose work fails is cleared, not left."""

import io
from functools import partial

import pytest
from tqdm import tqdm

from convlstm_ae import progress
from convlstm_ae.errors import VideoReadError


def _screen(text: str) -> list[str]:
    """The lines a terminal shows: each line's text after its last carriage return."""
    return [shown for line in text.split("\n") if (shown := line.rsplit("\r", 1)[-1].strip())]


@pytest.fixture
def stream(monkeypatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(progress, "_factory", partial(tqdm, file=out, mininterval=0))
    return out


def test_a_finished_bar_is_left_and_a_failed_one_cleared(stream):
    with progress.bar(desc="done", unit="frame") as bar:
        bar.update(3)
    left = _screen(stream.getvalue())
    assert len(left) == 1 and left[0].startswith("done: 3frame")
    with pytest.raises(VideoReadError), progress.bar(desc="failing", unit="frame") as bar:
        bar.update(2)
        raise VideoReadError("x.avi: cannot open video")
    assert _screen(stream.getvalue()) == left


def test_silent_by_default_counts_and_iterates(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_factory", None)
    with progress.bar(initial=2) as bar:
        bar.update(3)
        bar.set_postfix_str("x")
    assert bar.n == 5
    assert list(progress.bar([1, 2])) == [1, 2]
    assert capsys.readouterr() == ("", "")
