"""The live scoring step under ONNX Runtime on the CPU, without PyTorch.

It runs the scoring graph that :func:`convlstm_ae.export.onnx.export_score_graph`
traces from :meth:`StreamScorer.compute <convlstm_ae.scoring.stream.StreamScorer.compute>`
(Eq. 3, patch maxima and cell means included), all streams in one call, and keeps the
streams in the same :class:`~convlstm_ae.scoring.stream_state.StreamState` as the
PyTorch step. Everything it reads is ``config.json`` and the ``.onnx`` file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convlstm_ae.errors import CheckpointError
from convlstm_ae.export.paths import ONNX_SCORE, onnx_path
from convlstm_ae.export.session import open_session
from convlstm_ae.release_files import load_model_config, load_scoring_config
from convlstm_ae.rows import grown
from convlstm_ae.scoring.frame_errors import FrameErrors
from convlstm_ae.scoring.stream_state import StreamBackend, StreamState, check_frames
from convlstm_ae.scoring.windows import WindowPlan

SCORE_INPUTS = ("frame", "last", "keep", "h", "c")
SCORE_OUTPUTS = ("current", "previous", "patch", "map", "cells", "h_next", "c_next",
                 "normalized")


class OnnxStreamScorer(StreamBackend):
    """Live scoring of ``streams`` streams under ONNX Runtime (CPU), in one call a step.

    Args:
        session: an ONNX Runtime session of the scoring graph.
        streams: B, the number of streams.
        t_prime: T', frames between memory resets of a stream; None never resets.
        maps: keep the per-pixel Eq. 3 error of each call's frames in :attr:`maps`.
    """

    def __init__(self, session, streams: int, t_prime: int | None, maps: bool = False) -> None:
        self.session = session
        inputs = {i.name: i.shape for i in session.get_inputs()}
        if streams > 1 and isinstance(inputs["frame"][0], int):
            raise CheckpointError("the model's scoring graph takes one stream at a time (an "
                                  "earlier export); run 'convlstm-ae export MODEL' again")
        self.frame_size = inputs["frame"][-1]
        self.state = StreamState(streams, t_prime)
        self.state.h = np.zeros((streams, *inputs["h"][1:]), np.float32)
        self.state.c = np.zeros_like(self.state.h)
        self.state.last = np.zeros((streams, *inputs["last"][1:]), np.float32)
        self.keep_maps = maps
        self.maps: np.ndarray | None = None  # (B, H, W), the last call's, if kept
        self._new_batches()
        self._launched: deque[Callable[[], FrameErrors]] = deque()

    @classmethod
    def open(cls, model_dir: Path, streams: int, *, maps: bool = False,
             threads: int | None = None) -> OnnxStreamScorer:
        """The released model in ``model_dir`` with its stored T', from its scoring graph.

        Raises:
            CheckpointError: the model has no scoring graph (``convlstm-ae export``).
        """
        load_model_config(model_dir)  # a model folder of ours
        path = onnx_path(model_dir, ONNX_SCORE)
        if not path.is_file():
            raise CheckpointError(f"{path}: not found; run 'convlstm-ae export {model_dir}' "
                                  "where PyTorch is")
        t_prime = load_scoring_config(model_dir).t_prime
        return cls(open_session(path, threads), streams, t_prime, maps)

    def add_streams(self, count: int) -> None:
        """``count`` more streams with a fresh memory; the others' memory is kept."""
        self._check_idle()
        state = self.state
        state.add_streams(count)
        state.h, state.c, state.last = (
            grown(buffer, count, 0) for buffer in (state.h, state.c, state.last))
        self._new_batches()

    def _new_batches(self) -> None:
        """(B, S, S) uint8 buffers a caller may fill and pass to each call, two taking
        turns: :attr:`batch` is the other one after a call given it."""
        size = self.frame_size
        self._batches = [np.zeros((self.streams, size, size), np.uint8) for _ in range(2)]
        self.batch = self._batches[0]

    def _launch(self, frames: np.ndarray, scored: np.ndarray | None
                ) -> Callable[[], FrameErrors]:
        """One step, run at once on the CPU (see :meth:`StreamBackend.launch`); numpy
        :class:`FrameErrors`, and the map in :attr:`maps` if kept, when collected."""
        if frames is self.batch:  # the caller fills the other one next
            self._batches.reverse()
            self.batch = self._batches[0]
        frames = check_frames(frames, self.streams, self.frame_size)
        state = self.state
        # only the streams scored are run: a held one's results are discarded, and its
        # memory stays as it was
        held = scored is not None and not scored.all()
        rows = np.flatnonzero(scored) if held else slice(None)
        picked = rows if not held or len(rows) else np.zeros(1, np.int64)  # none: stream 0's
        current, previous, patch, maps, cells, h, c, x = self.session.run(None, {
            "frame": frames[picked, None], "last": state.last[picked],
            "keep": state.keep()[picked], "h": state.h[picked], "c": state.c[picked]})
        if held:  # the held streams' results: zeros, to be discarded
            current, previous, patch, maps, cells = (
                self._spread(values, picked) for values in (current, previous, patch, maps, cells))
            h, c, x = (values[:len(rows)] for values in (h, c, x))  # none when none scored
        for buffer, new in ((state.h, h), (state.c, c), (state.last, x)):
            buffer[rows] = new
        errors = FrameErrors(current, previous, patch, state.tick(scored), cells)

        def collected() -> FrameErrors:
            if self.keep_maps:
                self.maps = maps
            return errors
        return collected

    def _spread(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(k, ...) outputs of the streams ``rows`` as (B, ...), zeros elsewhere."""
        spread = np.zeros((self.streams, *values.shape[1:]), values.dtype)
        spread[rows] = values
        return spread

    def score_video(self, frames: np.ndarray, plan: WindowPlan) -> FrameErrors:
        """Offline errors of one video's uint8 frames (N, S, S) under a window plan, as
        :func:`~convlstm_ae.scoring.reconstruction.reconstruction_errors` gives them:
        each window is a run of stream 0 from a reset. Needs a scorer of one stream.

        Returns:
            numpy :class:`FrameErrors` of shape (1, N) (cells (1, N, H / cell, W / cell)).
        """
        if self.streams != 1:
            raise ValueError("score_video needs a scorer of one stream")
        scored: dict[int, FrameErrors] = {}
        for start, stop, first in zip(plan.starts, plan.stops, plan.scored_from, strict=True):
            self.reset()
            for index in range(start, stop):
                errors = self(frames[index, None])
                if index >= first:
                    scored[index] = errors
        rows = [scored[int(source)] for source in plan.source]
        return FrameErrors(*(np.stack([getattr(r, name) for r in rows], axis=1)
                             for name in ("current", "previous", "patch", "history", "cells")))
