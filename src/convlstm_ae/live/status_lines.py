"""The status lines of ``convlstm-ae watch``: per source, frames per second in and out,
latency, drops and score, on the terminal and as the status the sinks publish."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from convlstm_ae import progress
from convlstm_ae.live.ring import RingSet
from convlstm_ae.live.sources import Source
from convlstm_ae.rows import placed, put

STATUS_EVERY = 1.0  # seconds between status-line refreshes


class StatusLines:
    """One status line per source (fps in and out, latency, drops, score), refreshed at
    most every :data:`STATUS_EVERY` seconds through :mod:`convlstm_ae.progress`, and the
    same numbers for the sinks; the counts are kept as arrays over the streams."""

    def __init__(self, sources: Sequence[Source], rings: RingSet) -> None:
        self.rings = rings
        self._bars: list = []
        self._last = time.monotonic()
        self._written, self._scored = np.zeros(0, np.int64), np.zeros(0, np.int64)
        self._latency, self._score = np.zeros(0), np.zeros(0)
        for stream, source in enumerate(sources):
            self.add(stream, source)

    def add(self, stream: int, source: Source) -> None:
        """Source ``stream``'s line: one more, after the others, or a removed source's."""
        if stream < len(self._bars):
            self._bars[stream].close()
        put(self._bars, stream, progress.bar(desc=source.name, unit="frame",
                                             position=stream, leave=True))
        self._written, self._scored = placed(self._written, stream, 0), placed(
            self._scored, stream, 0)
        self._latency, self._score = placed(self._latency, stream, 0), placed(
            self._score, stream, np.nan)

    def scored(self, rows: np.ndarray, grabbed: np.ndarray, scores: np.ndarray) -> None:
        self._scored[rows] += 1
        self._latency[rows] = time.monotonic() - grabbed
        self._score[rows] = scores

    def refresh(self, labels: Sequence[str], alarm: np.ndarray, shown: np.ndarray,
                final: bool = False) -> list[dict] | None:
        """Refresh the lines of the ``shown`` (B,) sources if :data:`STATUS_EVERY` has
        passed, and return each one's status (see :meth:`Sink.status`, ``alarm``: its event
        is under way); else None. ``final``: now, with the rates 0, as nothing is scored
        any more."""
        now = time.monotonic()
        elapsed = now - self._last
        if elapsed < STATUS_EVERY and not final:
            return None
        written, drops = self.rings.counts("written"), self.rings.drops()
        connected, reconnects = self.rings.counts("connected"), self.rings.counts("reconnects")
        skipped = self.rings.counts("skipped")
        if final:
            fps_in = fps_out = np.zeros(len(labels))
        else:
            fps_in, fps_out = (written - self._written) / elapsed, self._scored / elapsed
        streams = np.flatnonzero(shown).tolist()
        for i in streams:
            state = ("" if connected[i] else ", reconnecting" if reconnects[i]
                     else ", connecting")
            self._bars[i].update(int(self._scored[i]))
            self._bars[i].set_postfix_str(
                f"in {fps_in[i]:.1f} fps, out {fps_out[i]:.1f} fps, latency "
                f"{1000 * self._latency[i]:.0f} ms, drops {drops[i]}, score "
                f"{self._score[i]:.2f}{state}")
        cameras = [{"camera": labels[i], "fps_in": round(float(fps_in[i]), 2),
                    "fps_out": round(float(fps_out[i]), 2),
                    "latency_ms": round(1000 * float(self._latency[i]), 1),
                    "drops": int(drops[i]), "skipped": int(skipped[i]),
                    "reconnects": int(reconnects[i]),
                    "connected": bool(connected[i]),
                    "score": None if np.isnan(self._score[i]) else round(float(self._score[i]), 4),
                    "alarm": "ON" if alarm[i] else "OFF"} for i in streams]
        self._written, self._scored[:] = written, 0
        self._last = now
        return cameras

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
