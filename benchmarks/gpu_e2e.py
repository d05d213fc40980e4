"""Training fed from real files vs from synthetic tensors on the GPU, with GPU busy time.

For each source, in one run: our training step on uint8 clips already on the GPU
(the synthetic rate), then ``fit`` on the files as a user runs it (decoding or the
frame cache, DataLoader workers, pinned uint8 copies, normalisation on the GPU) with
the same preset and batch. The window between step ``--warm`` and the last step is
timed after a device synchronisation; ``nvidia-smi`` samples the GPU's busy fraction
in that window. Rerun with:

    PYTHONPATH=src python benchmarks/gpu_e2e.py --mnist data/mm/train.npz \
        --frames gpu_data/ped2/training/frames [--preset paper] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from gpu_train import our_step
from timing import gpu_header, time_gpu

from convlstm_ae.config import TrainConfig
from convlstm_ae.data.cache import CachedVideos
from convlstm_ae.data.moving_mnist import MovingMNIST
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.training.fit import fit


class ThroughputProbe(pl.Callback):
    """Times steps ``warm``..end after synchronising, sampling nvidia-smi in between."""

    def __init__(self, warm: int) -> None:
        self.warm = warm
        self.start = self.stop = 0.0
        self.sampler: subprocess.Popen | None = None
        self.samples: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.warm:
            torch.cuda.synchronize()
            self.start = time.perf_counter()
            self.sampler = subprocess.Popen(
                ["nvidia-smi", "-i", str(torch.cuda.current_device()),
                 "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"],
                stdout=subprocess.PIPE, text=True)
        if trainer.global_step == trainer.max_steps:
            torch.cuda.synchronize()
            self.stop = time.perf_counter()
            self.sampler.terminate()
            output, _ = self.sampler.communicate()
            self.samples = [float(v) for v in output.split() if v.strip().isdigit()]


def from_files(source, preset: str, batch: int, steps: int, warm: int, workers: int):
    model_config, train_config = preset_configs(preset)
    train_config = TrainConfig(**{
        **train_config.__dict__, "batch_size": batch, "max_steps": steps, "num_workers": workers,
        "log_every": 10, "checkpoint_every": 10 * steps,
    })
    probe = ThroughputProbe(warm)
    with tempfile.TemporaryDirectory() as run_dir:
        fit(source, model_config, train_config, run_dir, progress=False, callbacks=[probe])
    fps = (steps - warm) * batch * model_config.clip_length / (probe.stop - probe.start)
    busy = sum(probe.samples) / max(1, len(probe.samples))
    return fps, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", type=Path, help="Moving-MNIST train .npz (recipes)")
    parser.add_argument("--frames", type=Path, help="folder of frame folders (Ped2 training)")
    parser.add_argument("--cache-dir", type=Path, default=Path("gpu_data/cache"))
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    model_config, _ = preset_configs(args.preset)
    size, t = model_config.frame_size, model_config.clip_length
    sources = {}
    if args.mnist:
        sources["Moving-MNIST (rendered per clip)"] = MovingMNIST.load(args.mnist)
    if args.frames:
        folders = sorted(p for p in args.frames.iterdir() if p.is_dir())
        sources[f"{args.frames} (frame cache)"] = CachedVideos(folders, size, args.cache_dir)
    frames = torch.randint(0, 256, (args.batch_size, t, 1, size, size), dtype=torch.uint8,
                           device="cuda")
    synthetic, _ = time_gpu(our_step(args.preset, frames, "ours-fast"), 20, 5)
    synthetic = args.batch_size * t / synthetic
    print(gpu_header(f"training from files, {args.preset}, batch {args.batch_size}, "
                     f"{args.workers} workers, bf16-mixed, steps {args.warm}-{args.steps}"))
    print("| source | synthetic frames/s | from files frames/s | ratio | GPU busy (nvidia-smi) |")
    print("|---|---|---|---|---|")
    for name, source in sources.items():
        fps, busy = from_files(source, args.preset, args.batch_size, args.steps, args.warm,
                               args.workers)
        print(f"| {name} | {synthetic:,.0f} | {fps:,.0f} | {fps / synthetic:.2f} | "
              f"{busy:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
