"""Where a live engine step spends its time on the GPU: the engine as `watch` opens and
calls it (``open_engine``, frames from its pinned host batch) beside the same step fed
frames already on the GPU (as ``gpu_stream.py`` times it), then torch.profiler's top
entries of the first. cuDNN's settings are left as ``open_engine`` makes them.

A random model of the preset is released (nothing downloaded). Rerun with:

    PYTHONPATH=src python benchmarks/engine_profile.py [--preset caffe] [--streams 256]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from timing import gpu_header, time_gpu

from convlstm_ae.config import ScoringConfig
from convlstm_ae.live.engine import open_engine
from convlstm_ae.model.presets import create_model
from convlstm_ae.release import save_model

T_PRIME = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="caffe")
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rows", type=int, default=15, help="profiler rows per table")
    args = parser.parse_args()
    torch.manual_seed(0)
    folder = Path(tempfile.mkdtemp()) / "model"
    save_model(create_model(args.preset), folder, ScoringConfig(t_prime=T_PRIME))
    engine = open_engine(folder, args.streams, backend="torch", device="cuda")
    size = engine.frame_size
    engine.batch[:] = np.random.default_rng(0).integers(0, 256, engine.batch.shape, np.uint8)
    on_gpu = torch.as_tensor(engine.batch).cuda()
    steps = {"as watch calls it (pinned host batch)": lambda: engine(engine.batch),
             "frames already on the GPU": lambda: engine(on_gpu)}
    print(gpu_header(f"engine step, {args.preset}, {args.streams} streams of {size}x{size}, "
                     f"T' = {T_PRIME}"))
    print("| frames from | frames/s | ms/step |\n|---|---|---|")
    for name, step in steps.items():
        seconds, _ = time_gpu(step, args.steps, warmup=12)
        print(f"| {name} | {args.streams / seconds:,.0f} | {seconds * 1e3:.2f} |", flush=True)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(10):
            steps["as watch calls it (pinned host batch)"]()
        torch.cuda.synchronize()
    table = prof.key_averages()
    print("\n# 10 steps as watch calls it, by host time\n")
    print(table.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    print("\n# the same 10 steps, by GPU time\n")
    print(table.table(sort_by="cuda_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
