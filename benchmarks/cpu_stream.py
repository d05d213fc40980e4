"""Streaming one camera on the CPU: the scoring step in eager PyTorch vs its exported
graph on ONNX Runtime.

One frame at a time through the one streaming engine (Eq. 3, patch maxima and cell means
included), as `watch` and `score --backend onnx` run it. Random
weights (speed does not depend on them). Prints a table; rerun with:

    .venv/bin/python benchmarks/cpu_stream.py [--presets tiny,paper] [--frames 200]
"""

from __future__ import annotations

import argparse
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
from convlstm_ae.scoring.stream import StreamScorer

REAL_TIME_FPS = 25


def time_per_frame(step, frames: int, warmup: int) -> float:
    """Seconds per frame of ``step(index)`` over ``frames`` calls after ``warmup``."""
    for index in range(warmup):
        step(index)
    start = time.perf_counter()
    for index in range(frames):
        step(index)
    return (time.perf_counter() - start) / frames


def measure(preset: str, frames: int, warmup: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = create_model(preset).eval()
    size = model.config.frame_size
    video = np.random.default_rng(0).integers(0, 256, (frames + warmup, 1, size, size),
                                              dtype=np.uint8)
    scorer = StreamScorer(model, 1, plain=True)

    def eager(index: int) -> None:
        scorer(video[index])

    with tempfile.TemporaryDirectory() as folder:
        graph = export_score_graph(model, Path(folder) / "score.onnx")
        onnx_scorer = OnnxStreamScorer(open_session(graph), 1, scorer.t_prime)

        def onnx(index: int) -> None:
            onnx_scorer(video[index])

        return time_per_frame(eager, frames, warmup), time_per_frame(onnx, frames, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", default="tiny,paper")
    parser.add_argument("--frames", type=int, default=200, help="timed frames (paper: / 10)")
    args = parser.parse_args()
    import onnxruntime

    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"onnxruntime {onnxruntime.__version__}; fp32, batch 1 (one stream)")
    print(f"{'preset':<8}{'eager ms/frame':>16}{'ORT ms/frame':>14}{'ORT / eager':>13}"
          f"{'ORT fps':>9}{'real time (25 fps)':>20}")
    for preset in args.presets.split(","):
        frames = args.frames if preset == "tiny" else max(5, args.frames // 10)
        eager, onnx = measure(preset, frames, warmup=max(2, frames // 10))
        print(f"{preset:<8}{eager * 1e3:>16.2f}{onnx * 1e3:>14.2f}{eager / onnx:>12.2f}x"
              f"{1 / onnx:>9.1f}{'yes' if 1 / onnx >= REAL_TIME_FPS else 'no':>20}")


if __name__ == "__main__":
    main()
