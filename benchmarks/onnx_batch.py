"""B streams on ONNX Runtime (CPU): one call of the scoring graph for all B streams (what
`watch --backend onnx` does) against B calls of one stream each (the plain reference, as
`watch` ran it before the graph's batch was freed). Then a step in which a quarter of the
streams are scored (the others held: their source had no frame), beside a step of all B,
which is what a held step cost before held streams were left out of the call.

Random weights (speed does not depend on them), random frames, the same graph. Prints a
table; rerun with:

    .venv/bin/python benchmarks/onnx_batch.py [--preset tiny] [--streams 1,4,16,32]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from convlstm_ae.export.onnx import export_score_graph
from convlstm_ae.export.onnx_stream import OnnxStreamScorer
from convlstm_ae.export.session import open_session
from convlstm_ae.model.presets import create_model


def frames_per_second(step, steps: int, streams: int) -> float:
    """Frames scored per second by ``step()`` scoring one frame of each of ``streams``."""
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * streams / (time.perf_counter() - start)


def step_ms(step, steps: int) -> float:
    """Milliseconds per call of ``step()``, after one warm-up call."""
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e3


def _each(scorers: list[OnnxStreamScorer], frames: np.ndarray) -> None:
    for i, scorer in enumerate(scorers):
        scorer(frames[i, None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--streams", default="1,4,16,32")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    args = parser.parse_args()
    import onnxruntime

    torch.manual_seed(0)
    model = create_model(args.preset).eval()
    size = model.config.frame_size
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"onnxruntime {onnxruntime.__version__}; {args.preset}, fp32, {size} px")
    print(f"{'streams':>8}{'one call, frames/s':>20}{'a call per stream':>19}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as folder:
        graph = export_score_graph(model, Path(folder) / "score.onnx")
        session = open_session(graph, args.threads)
        for streams in (int(s) for s in args.streams.split(",")):
            frames = np.random.default_rng(0).integers(0, 256, (streams, size, size),
                                                       dtype=np.uint8)
            batched = OnnxStreamScorer(session, streams, 10)
            alone = [OnnxStreamScorer(session, 1, 10) for _ in range(streams)]
            one_call = functools.partial(batched, frames)
            per_stream = functools.partial(_each, alone, frames)
            ours = frames_per_second(one_call, args.steps, streams)
            plain = frames_per_second(per_stream, args.steps, streams)
            print(f"{streams:>8}{ours:>20.0f}{plain:>19.0f}{ours / plain:>7.2f}x")
        print(f"\n{'streams':>8}{'all scored, ms/step':>21}{'a quarter scored':>18}{'ratio':>8}")
        for streams in (int(s) for s in args.streams.split(",")):
            frames = np.random.default_rng(0).integers(0, 256, (streams, size, size),
                                                       dtype=np.uint8)
            scorer = OnnxStreamScorer(session, streams, 10)
            quarter = np.arange(streams) < max(1, streams // 4)
            full = step_ms(functools.partial(scorer, frames), args.steps)
            partial = step_ms(functools.partial(scorer, frames, quarter), args.steps)
            print(f"{streams:>8}{full:>21.1f}{partial:>18.1f}{full / partial:>7.2f}x")


if __name__ == "__main__":
    main()
