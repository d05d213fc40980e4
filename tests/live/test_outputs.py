"""The writer thread of ``watch`` (live/outputs.py): rows as CSV, events after their
snapshot and before their notification, a failed write raised in the scorer's thread."""

import csv
import json

import numpy as np
import pytest

from convlstm_ae.live.outputs import FRAME_COLUMNS, Notifier, OutputWriter, Rows


class Recorder(Notifier):
    """A notifier that records what it is sent, and whether the event was on disk then."""

    def __init__(self, events):
        super().__init__()
        self.events, self.sent = events, []

    def send(self, event):
        on_disk = [json.loads(line) for line in self.events.read_text().splitlines()]
        self.sent.append((event, on_disk[-1] == event))


def rows(streams, frame):
    n = len(streams)
    return Rows(np.array(streams), np.full(n, frame / 10), np.zeros(n, int), np.full(n, frame),
                np.full(n, frame), np.full(n, 1.5), np.full(n, 2.5), np.array([0.1, 7.0][:n]),
                np.array([False, True][:n]))


def test_rows_events_and_their_order(tmp_path):
    events = tmp_path / "events.jsonl"
    notifier = Recorder(events)
    writer = OutputWriter(tmp_path, ["a", "b"], [["x.avi"], ["odd, name.avi"]], events,
                          [notifier])
    writer.rows(rows([0, 1], 0))
    writer.rows(rows([1], 1))
    writer.event({"type": "start", "source": "b"})
    writer.event({"type": "end", "source": "b", "peak_frame": 1}, tmp_path / "peak.png",
                 np.full((4, 4), 9, np.uint8))
    writer.close()
    with open(tmp_path / "frames-b.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == list(FRAME_COLUMNS)
    assert table[1:] == [["0.000", "odd, name.avi", "0", "0", "1.5", "2.5", "7", "1"],
                         ["0.100", "odd, name.avi", "1", "1", "1.5", "2.5", "0.1", "0"]]
    assert (tmp_path / "frames-a.csv").read_text().count("\n") == 2
    assert (tmp_path / "peak.png").is_file()
    assert notifier.sent == [({"type": "start", "source": "b"}, True),  # on disk first
                             ({"type": "end", "source": "b", "peak_frame": 1}, True)]


def test_a_second_watch_into_the_same_folder_appends_its_rows(tmp_path):
    for frame in (0, 1):  # two runs
        writer = OutputWriter(tmp_path, ["a"], [["x.avi"]], tmp_path / "events.jsonl", [])
        writer.rows(rows([0], frame))
        writer.close()
    with open(tmp_path / "frames-a.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == list(FRAME_COLUMNS) and [r[2] for r in table[1:]] == ["0", "1"]


def test_a_failed_write_is_raised_in_the_scorers_thread(tmp_path):
    writer = OutputWriter(tmp_path, ["a"], [["x.avi"]], tmp_path / "events.jsonl", [])
    writer._frames[0].close()  # the next write fails, as on a full disk
    writer.rows(rows([0], 0))
    with pytest.raises(ValueError, match="closed file"):
        writer.close()
