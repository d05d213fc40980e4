"""Live scoring on one GPU, one frame per stream per step: the reference beside ours.

Each step scores one frame of every stream with explicit ConvLSTM state, computes
Eq. (3) (whole frame and patch) and brings the errors to the host, as a live feed
needs; memory resets every T' = 10 frames. Frames are uint8, already on the GPU.
Prints a table; rerun with:

    PYTHONPATH=src python benchmarks/gpu_stream.py [--presets paper,caffe] [--streams 256,1]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from reference import ReferenceConvLSTMAE
from timing import gpu_header, time_gpu

from convlstm_ae.model.presets import create_model
from convlstm_ae.scoring.reconstruction import default_patch_size
from convlstm_ae.scoring.stream import StreamScorer

VARIANTS = ("reference", "ours-plain", "ours-fast")
T_PRIME = 10


def reference_step(model, frames: torch.Tensor) -> Callable[[], None]:
    """A user's live loop: the reference model's step, Eq. (3), errors to the host."""
    reference = ReferenceConvLSTMAE(model.config).cuda().copy_from(model).eval()
    reference.to(memory_format=torch.channels_last)
    patch = default_patch_size(model.config.frame_size)
    memory = {"state": None, "last": None, "t": 0}

    @torch.no_grad()
    def step() -> None:
        if memory["t"] % T_PRIME == 0:
            memory["state"], memory["last"] = None, None
        x = frames.float() / 255.0
        with torch.autocast("cuda", dtype=torch.bfloat16):
            current, previous, memory["state"] = reference.step(x, memory["state"])
        error = (x - current.float()).pow(2).sum(1, keepdim=True)
        if memory["last"] is not None:
            error = error + (memory["last"] - previous.float()).pow(2).sum(1, keepdim=True)
        frame_error = error.sum((1, 2, 3))
        patch_error = F.avg_pool2d(error, patch, patch // 2).amax((1, 2, 3))
        frame_error.cpu(), patch_error.cpu()
        memory["last"] = x
        memory["t"] += 1

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="paper,caffe")
    parser.add_argument("--streams", default="256,1")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    print(gpu_header(f"live scoring, one step per frame, T' = {T_PRIME}, bf16 autocast"))
    print("| preset | streams | variant | frames/s | ms/step | vs reference | peak GiB |")
    print("|---|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        for streams in map(int, args.streams.split(",")):
            torch.manual_seed(0)
            model = create_model(preset).cuda().eval()
            size = model.config.frame_size
            frames = torch.randint(0, 256, (streams, 1, size, size), dtype=torch.uint8,
                                   device="cuda")
            steps = args.steps if streams > 8 else args.steps * 10
            baseline = None
            for variant in args.variants.split(","):
                if variant == "reference":
                    step = reference_step(model, frames)
                else:
                    scorer = StreamScorer(create_model(preset).cuda().eval(), streams,
                                          t_prime=T_PRIME, plain=variant == "ours-plain")

                    def step(scorer=scorer, frames=frames) -> None:
                        scorer(frames)
                seconds, peak = time_gpu(step, steps, warmup=T_PRIME)
                fps = streams / seconds
                baseline = baseline or (fps if variant == "reference" else None)
                ratio = f"{fps / baseline:.2f}x" if baseline else "-"
                print(f"| {preset} | {streams} | {variant} | {fps:,.0f} | {seconds * 1e3:.2f} | "
                      f"{ratio} | {peak:.1f} |", flush=True)
                del step
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
