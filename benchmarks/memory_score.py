"""Peak memory of `convlstm-ae score` on a long high-definition video, CPU only.

Writes a synthetic MJPG video (a moving gradient with noise) of the given length and
size, trains nothing (a fresh `tiny` model is released untrained: memory does not
depend on the weights), scores the video in a child process and reports its peak
resident memory, beside the size of the decoded frames at full resolution.

    .venv/bin/python benchmarks/memory_score.py --seconds 60 --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.model.presets import create_model
from convlstm_ae.release import save_model


def write_video(path: Path, seconds: float, width: int, height: int, fps: int = 25) -> int:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    base = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    rng = np.random.default_rng(0)
    frames = int(seconds * fps)
    for index in range(frames):
        gray = (np.roll(base, 8 * index, axis=1) + rng.normal(0, 8, base.shape)).clip(0, 255)
        writer.write(cv2.cvtColor(gray.astype(np.uint8), cv2.COLOR_GRAY2BGR))
    writer.release()
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--presets", default="tiny")
    args = parser.parse_args()
    script = Path(sys.executable).parent / "convlstm-ae"
    print(f"{platform.machine()}, {platform.python_version()}, CPU")
    print("| preset | video | frames | decoded at full size (GB) | peak RSS (GB) | seconds |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video = folder / "long.avi"
        frames = write_video(video, args.seconds, args.width, args.height)
        full = frames * args.width * args.height / 1e9
        for preset in args.presets.split(","):
            model = save_model(create_model(preset), folder / preset)
            start = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            subprocess.run([str(script), "score", str(model), str(video), "--out",
                            str(folder / "s.csv"), "--device", "cpu"], check=True,
                           capture_output=True)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            seconds = time.perf_counter() - start
            print(f"| {preset} | {args.width}x{args.height}, {args.seconds:g} s | {frames} | "
                  f"{full:.2f} | {max(peak, before) / 1e6:.2f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
