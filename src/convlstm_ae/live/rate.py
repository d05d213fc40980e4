"""Which frames of a source ``watch`` scores: at most the model's frame rate (beyond the
paper). The ConvLSTM learned the motion between consecutive frames of its training
footage; a camera several times faster would show it motion several times slower, so a
faster source's frames are left out, evenly, by their times.

A source that states a rate (a video's header, a camera's) at or below the model's keeps
every frame. Otherwise a frame is kept when a frame's worth of time (1/rate) has accrued
since the last one kept, on a schedule, not from frame to frame: at 10 fps a 20 fps
source keeps every second frame, a 25 fps one 10 of every 25 frames, 2 or 3 apart. The
schedule forgives a frame :data:`TOLERANCE` of a frame early (a camera's timing jitters)
and lets a source that fell behind (a stalled connection) catch up on at most
:data:`CATCH_UP` seconds of frames delivered at once.
"""

from __future__ import annotations

SAME_RATE = 0.01  # a stated rate at most this fraction above the model's is the same
TOLERANCE = 0.25  # of a frame at the rate: a frame this much early is kept
CATCH_UP = 1.0  # seconds of frames a source behind its schedule may deliver at once


class RateGate:
    """The frames of one video or connection kept to score at ``rate`` frames a second
    (None: every frame), decided one frame at a time, in order; ``stated``: the rate the
    source states, None where it states none."""

    def __init__(self, rate: float | None, stated: float | None = None) -> None:
        slower = stated is not None and rate is not None and stated <= rate * (1 + SAME_RATE)
        self.rate = None if slower else rate
        self._owed: float | None = None  # frames due and not yet kept; None: no frame yet
        self._last = 0.0  # seconds of the frame before

    def keep(self, seconds: float) -> bool:
        """Whether the frame of time ``seconds`` (after the frame before's) is scored."""
        if self.rate is None:
            return True
        if self._owed is None:  # the first frame
            self._owed = 1.0
        else:
            elapsed = max(seconds - self._last, 0.0)  # a clock set back is no time
            self._owed = min(self._owed + elapsed * self.rate,
                             max(1.0, CATCH_UP * self.rate))
        self._last = seconds
        if self._owed < 1.0 - TOLERANCE:
            return False
        self._owed -= 1.0
        return True
