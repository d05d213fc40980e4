"""The decoder processes' log relay (live/decoders.py): records come home, and a queue
left locked by a killed writer never holds up the end."""

import logging
import logging.handlers
import multiprocessing
import time

from convlstm_ae.live.decoders import JOIN_SECONDS, _LogRelay


def _warn(records) -> None:
    """A decoder's logging, in another process: one warning through the queue."""
    handler = logging.handlers.QueueHandler(records)
    logger = logging.getLogger("convlstm_ae.live.sources")
    logger.addHandler(handler)
    logger.warning("cam3: reconnecting in 0.5 s")


def test_a_record_logged_in_another_process_comes_to_its_logger_here(caplog):
    context = multiprocessing.get_context("spawn")
    records = context.Queue()
    relay = _LogRelay(records)
    with caplog.at_level(logging.WARNING, logger="convlstm_ae.live.sources"):
        process = context.Process(target=_warn, args=(records,))
        process.start()
        process.join(timeout=30)
        relay.stop()  # relays what is queued first
    assert "cam3: reconnecting in 0.5 s" in caplog.text


def test_the_relay_stops_at_once_when_a_killed_writer_left_the_queue_locked():
    """A decoder killed while writing a record leaves the queue's shared write lock held
    (here: held by this test). The relay never writes to the queue, so it still stops
    within its poll (0.1 s); logging's QueueListener would wait for its sentinel forever."""
    records = multiprocessing.get_context("spawn").Queue()
    relay = _LogRelay(records)
    with records._wlock:  # as a dead writer leaves it
        start = time.monotonic()
        relay.stop()
        stopped = time.monotonic() - start
    assert stopped < JOIN_SECONDS / 2  # a relay stuck on the queue is given up after it
