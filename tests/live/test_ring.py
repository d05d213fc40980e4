"""Shared-memory frame rings (live/ring.py): wrapping, drop-oldest counts, waiting writers,
restarts seen through dropped frames, torn reads, and a writer in another process."""

import multiprocessing
import threading

import numpy as np
import pytest

from convlstm_ae.live.ring import FrameRings, RingSet

NEVER = threading.Event()
ROOM = threading.Condition()


@pytest.fixture
def rings(request):
    capacities, drop = request.param
    made = FrameRings.create(capacities, drop, 4)
    yield made
    made.close()


def put(rings, stream, value, index=None, video=0):
    image = np.full((4, 4), value, np.uint8)
    return rings.put(stream, image, value if index is None else index, value / 10, 0.0, video,
                     NEVER, ROOM)


def take_all(rings, stream=0):
    """(value, epoch) of every frame left in ring ``stream``, oldest first."""
    out, taken = np.zeros((rings.spec.streams, 4, 4), np.uint8), []
    while True:
        wanted = np.zeros(rings.spec.streams, bool)
        wanted[stream] = True
        got = rings.take(wanted, out)
        if not got.rows.size:
            return taken
        taken.append((int(out[stream, 0, 0]), int(got.epoch[0])))


@pytest.mark.parametrize("rings", [([3], [False])], indirect=True)
def test_a_ring_wraps_and_gives_every_frame_in_order(rings):
    rings.restart(0)
    values = []
    for value in range(10):
        assert put(rings, 0, value)
        if value % 2:  # two frames in, then two out: the slots wrap round three times
            values += [v for v, _ in take_all(rings)]
    assert values == list(range(10))
    assert rings.drops()[0] == 0 and rings.written[0] == 10


@pytest.mark.parametrize("rings", [([4, 2], [True, True])], indirect=True)
def test_a_dropping_ring_keeps_the_newest_frames_and_counts_the_rest(rings):
    for value in range(10):
        put(rings, 0, value)
        put(rings, 1, 100 + value)
    assert rings.drops().tolist() == [6, 8]  # counted before anything is read
    out = np.zeros((2, 4, 4), np.uint8)
    got = rings.take(np.array([True, True]), out)
    assert got.rows.tolist() == [0, 1] and out[:, 0, 0].tolist() == [6, 108]
    assert got.index.tolist() == [6, 108] and got.time == pytest.approx([0.6, 10.8])
    assert [v for v, _ in take_all(rings, 0)] == [7, 8, 9]
    assert [v for v, _ in take_all(rings, 1)] == [109]
    assert rings.drops().tolist() == [6, 8] and rings.dropped.tolist() == [6, 8]


@pytest.mark.parametrize("rings", [([2], [True])], indirect=True)
def test_a_restart_is_seen_even_when_its_first_frames_were_dropped(rings):
    rings.restart(0)
    put(rings, 0, 1)
    assert take_all(rings) == [(1, 0)]
    rings.restart(0)  # a reconnection: its frames 0 and 1 are overwritten unread
    for value in range(4):
        put(rings, 0, 10 + value, index=value)
    assert take_all(rings) == [(12, 1), (13, 1)]  # the epoch changed: the memory restarts
    assert rings.drops()[0] == 2


@pytest.mark.parametrize("rings", [([2], [False])], indirect=True)
def test_a_ring_that_does_not_drop_makes_its_writer_wait_until_stopped(rings):
    put(rings, 0, 1)
    put(rings, 0, 2)
    stop = threading.Event()
    result = []
    writer = threading.Thread(target=lambda: result.append(
        rings.put(0, np.zeros((4, 4), np.uint8), 3, 0.3, 0.0, 0, stop, ROOM)))
    writer.start()
    writer.join(timeout=0.2)
    assert writer.is_alive()  # full: waiting for the reader
    out = np.zeros((1, 4, 4), np.uint8)
    assert rings.take(np.array([True]), out).index.tolist() == [1]  # room for one
    with ROOM:
        ROOM.notify_all()
    writer.join(timeout=10)
    assert result == [True] and rings.written[0] == 3
    stop.set()  # full again (frames 2 and 3): a stopped writer gives up
    assert not rings.put(0, np.zeros((4, 4), np.uint8), 4, 0.4, 0.0, 0, stop, ROOM)
    assert rings.written[0] == 3 and rings.drops()[0] == 0


@pytest.mark.parametrize("rings", [([2], [True])], indirect=True)
def test_a_frame_overwritten_while_it_was_copied_is_dropped_not_scored(rings):
    put(rings, 0, 1)
    put(rings, 0, 2)
    rings.started[0] += 1  # the writer began frame 2, into frame 0's slot, mid-copy
    out = np.zeros((1, 4, 4), np.uint8)
    got = rings.take(np.array([True]), out)
    assert got.rows.tolist() == [0] and out[0, 0, 0] == 2  # the next frame, whole
    assert rings.dropped[0] == 1


def _write(spec, frames):
    rings = FrameRings.attach(spec)
    rings.restart(0)
    for value in range(frames):
        rings.put(0, np.full((4, 4), value, np.uint8), value, 0.0, 0.0, 0, NEVER, ROOM)
    rings.finished[0] = 1
    rings.close()


def test_a_writer_in_another_process_delivers_every_frame():
    rings = FrameRings.create([3], [False], 4)
    try:
        process = multiprocessing.get_context("spawn").Process(target=_write,
                                                               args=(rings.spec, 50))
        process.start()
        values = []
        while process.is_alive() or rings.available()[0]:
            values += [v for v, _ in take_all(rings)]
        process.join(timeout=30)
        assert process.exitcode == 0 and rings.finished[0]
        assert values == list(range(50))
    finally:
        rings.close()


def test_a_ring_set_gives_a_retired_streams_number_to_a_new_block():
    """Streams 0-2 in one block; 1 is retired and its number given to a new block: frames,
    counts and drops come back under the watch's stream numbers, and a block with no
    ring in use is closed."""
    rings = RingSet()
    first = rings.create([0, 1, 2], [4, 4, 4], [False, False, False], 4)
    for stream in range(3):
        put(first, stream, 10 + stream)
    assert rings.retire(1) is None  # 0 and 2 still use the block
    assert rings.counts("written").tolist() == [1, 0, 1] and rings.available().tolist() == [1, 0, 1]
    second = rings.create([1], [2], [True], 4)
    for value in (21, 22, 23):  # a ring of 2 that drops: 21 is lost
        put(second, 0, value)
    assert rings.streams == 3 and rings.drops().tolist() == [0, 1, 0]
    out = np.zeros((3, 4, 4), np.uint8)
    got = rings.take(np.ones(3, bool), out)
    assert got.rows.tolist() == [0, 1, 2] and out[:, 0, 0].tolist() == [10, 22, 12]
    assert rings.retire(0) is None
    assert rings.retire(2) is first  # the first block has no ring in use any more
    rings.close_block(first)
    assert len(rings.blocks) == 1 and rings.available().tolist() == [0, 1, 0]
    rings.close()
