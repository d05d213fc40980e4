"""Training throughput on one GPU: the plain-PyTorch reference beside ours, one run.

Synthetic uint8 clips already on the GPU (the end-to-end rate from files is
``gpu_e2e.py``). Every variant: AdaGrad, bf16 autocast, cudnn.benchmark, the
preset's learning rate, Eq. (2). Prints a table; rerun with:

    PYTHONPATH=src python benchmarks/gpu_train.py [--presets paper,caffe] [--batch-size 32]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from reference import ReferenceConvLSTMAE, reference_loss
from timing import gpu_header, time_gpu, top_kernels

from convlstm_ae.model.presets import preset_configs
from convlstm_ae.training.module import ReconstructionModule

VARIANTS = ("reference", "ours-plain", "ours-fast")


def reference_step(preset: str, frames: torch.Tensor) -> Callable[[], None]:
    model_config, train_config = preset_configs(preset)
    model = ReferenceConvLSTMAE(model_config).cuda().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=train_config.learning_rate,
                                    weight_decay=train_config.weight_decay)

    def step() -> None:
        clip = frames.float() / 255.0
        with torch.autocast("cuda", dtype=torch.bfloat16):
            current, previous = model(clip)
            loss = reference_loss(clip, current.float(), previous.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def our_step(preset: str, frames: torch.Tensor, variant: str) -> Callable[[], None]:
    """Our training step as ``ReconstructionModule`` runs it under Lightning; ours-fast
    is what ``fit`` does on a GPU by default (channels-last, compiled loss)."""
    module = ReconstructionModule.from_configs(*preset_configs(preset)).cuda()
    if variant == "ours-fast":
        module.enable_fast_path()
    train_config = module.train_config
    optimizer = torch.optim.Adagrad(module.model.parameters(), lr=train_config.learning_rate,
                                    weight_decay=train_config.weight_decay)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = module.loss(frames)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="paper,caffe")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="top kernels of ours-fast")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    print(gpu_header(f"training, synthetic clips, batch {args.batch_size}, bf16 autocast"))
    print("| preset | variant | frames/s | ms/step | vs reference | peak GiB |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        model_config, _ = preset_configs(preset)
        size, t = model_config.frame_size, model_config.clip_length
        frames = torch.randint(0, 256, (args.batch_size, t, 1, size, size), dtype=torch.uint8,
                               device="cuda")
        baseline = None
        for variant in args.variants.split(","):
            torch.manual_seed(0)
            step = (reference_step(preset, frames) if variant == "reference"
                    else our_step(preset, frames, variant))
            seconds, peak = time_gpu(step, args.steps, args.warmup)
            fps = args.batch_size * t / seconds
            baseline = baseline or (fps if variant == "reference" else None)
            ratio = f"{fps / baseline:.2f}x" if baseline else "-"
            print(f"| {preset} | {variant} | {fps:,.0f} | {seconds * 1e3:.1f} | {ratio} | "
                  f"{peak:.1f} |", flush=True)
            if args.profile and variant == "ours-fast":
                print(top_kernels(step))
            del step
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
