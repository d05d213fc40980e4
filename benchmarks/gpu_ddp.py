"""Two-GPU scaling of training through Lightning DDP, as a user runs it (`train --devices`).

Four runs of `convlstm-ae train` on the same data, each in its own process: 1 GPU at
batch B, 2 GPUs at batch B each, 1 GPU at batch 2B, and the same with another seed.
The first two give the scaling. The 2-GPU run and the 1-GPU run at batch 2B see the
same clips at every step (the step sampler draws the global batch, then shards it)
and average the same gradients, so their loss curves should differ no more than two
seeds of one run do.
Prints a table; rerun with:

    PYTHONPATH=src python benchmarks/gpu_ddp.py --data data/mm/train.npz [--preset paper]

On a machine without GPUs the same runs use CPU processes over gloo (a smoke test).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from timing import gpu_header


def train(data: Path, out: Path, preset: str, devices: int, batch: int, seed: int, steps: int,
          workers: int) -> None:
    command = [sys.executable, "-m", "convlstm_ae.cli", "train", "--data", str(data),
               "--out", str(out), "--preset", preset, "--max-steps", str(steps),
               "--batch-size", str(batch), "--devices", str(devices), "--seed", str(seed),
               "--num-workers", str(workers), "--holdout-fraction", "0"]
    done = subprocess.run(command, env=os.environ, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")


def read_log(run: Path) -> tuple[dict[int, float], list[float]]:
    """Logged losses by step, and the logged frames/s, of a run's first log."""
    losses, rates = {}, []
    with open(run / "logs" / "version_0" / "metrics.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("train_loss"):
                losses[int(row["step"])] = float(row["train_loss"])
            if row.get("frames_per_s"):
                rates.append(float(row["frames_per_s"]))
    return losses, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="Moving-MNIST .npz or videos")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--batch-size", type=int, default=32, help="B, per GPU")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=6, help="DataLoader workers per GPU")
    args = parser.parse_args()
    b = args.batch_size
    runs = {"1 GPU, batch B": (1, b, 0), "2 GPUs, batch B each": (2, b, 0),
            "1 GPU, batch 2B": (1, 2 * b, 0), "1 GPU, batch 2B, seed 1": (1, 2 * b, 1)}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, (devices, batch, seed)) in enumerate(runs.items()):
            out = Path(folder) / str(index)
            train(args.data, out, args.preset, devices, batch, seed, args.steps, args.workers)
            results[name] = read_log(out)
    print()
    print(gpu_header(f"DDP scaling, {args.preset}, B = {b}, {args.steps} steps, "
                     f"{torch.cuda.device_count()} GPU(s) visible"))
    print("| run | frames/s (median of logged) | vs 1 GPU, batch B | last logged loss |")
    print("|---|---|---|---|")
    base = statistics.median(results["1 GPU, batch B"][1][1:])
    for name, (losses, rates) in results.items():
        rate = statistics.median(rates[1:])  # the first interval holds the warm-up
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f}x | {losses[max(losses)]:.4g} |")
    one = results["1 GPU, batch 2B"][0]
    for name, label in (("2 GPUs, batch B each", "2 GPUs x B vs 1 GPU x 2B (same clips)"),
                        ("1 GPU, batch 2B, seed 1", "noise: 1 GPU x 2B, seed 1 vs seed 0")):
        other = results[name][0]
        steps = sorted(set(other) & set(one))
        gaps = [abs(other[s] - one[s]) / one[s] for s in steps]
        print(f"loss curves, {label}: mean relative difference {statistics.mean(gaps):.1%}, "
              f"largest {max(gaps):.1%} over {len(steps)} logged steps")


if __name__ == "__main__":
    main()
