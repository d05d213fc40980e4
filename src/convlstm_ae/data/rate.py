"""Which frames of a source ``watch`` and ``calibrate`` score: at most the model's frame
rate (beyond the paper). The ConvLSTM learned the motion between consecutive frames of
its training footage; a camera several times faster would show it motion several times
slower, so a faster source's frames are left out, evenly, by their times.

A source that states a rate (a video's header, a camera's) at or below the model's keeps
every frame. Otherwise a frame is kept when a frame's worth of time (1/rate) has accrued
since the last one kept, on a schedule, not from frame to frame: at 10 fps a 20 fps
source keeps every second frame, a 25 fps one 10 of every 25 frames, 2 or 3 apart. The
schedule forgives a frame :data:`TOLERANCE` of a frame early (a camera's timing jitters)
and lets a source that fell behind (a stalled connection) catch up on at most
:data:`CATCH_UP` seconds of frames delivered at once. A video's frame k comes at k / fps
seconds (:func:`kept_frames`), in ``watch``'s decoder as in ``calibrate``.
"""

from __future__ import annotations

SAME_RATE = 0.01  # a stated rate at most this fraction above the model's is the same
TOLERANCE = 0.25  # of a frame at the rate: a frame this much early is kept
CATCH_UP = 1.0  # seconds of frames a source behind its schedule may deliver at once


def faster(stated: float, rate: float | None) -> bool:
    """Whether a source stating ``stated`` frames a second has frames left out at ``rate``
    (None: none are): whether it is faster by more than :data:`SAME_RATE`."""
    return rate is not None and stated > rate * (1 + SAME_RATE)


class RateGate:
    """The frames of one video or connection kept to score at ``rate`` frames a second
    (None: every frame), decided one frame at a time, in order; ``stated``: the rate the
    source states, None where it states none."""

    def __init__(self, rate: float | None, stated: float | None = None) -> None:
        self.rate = rate if stated is None or faster(stated, rate) else None
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


def kept_frames(frames: int, fps: float, rate: float | None) -> list[int]:
    """The indices of the frames scored at ``rate`` (None: all) of a video of ``frames``
    frames at ``fps``, as ``watch`` scores a video file: its frame k at k / fps seconds."""
    gate = RateGate(rate, fps)
    return [index for index in range(frames) if gate.keep(index / fps)]
