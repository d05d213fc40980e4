"""How the decoders' own work scales with the processes doing it, free of `watch`: each
of P processes decodes an MJPG video to gray and resizes it to the model's size
(`video_frames` and `model_frame`, what a decoder process runs per frame), over and over
for `--seconds`, all P at once. The reference beside it is P times one process alone:
the ratio says how much of each added core the machine gives. A ratio well under 1 at
P = the core count, with the same code, means the cores are not all there (shared or
hyper-threaded hosts), not that `watch` wastes them. Rerun with:

    PYTHONPATH=src python benchmarks/decode_scaling.py [--processes 1,8,15,16] [--size 227]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from live_setup import machine_line, write_video

from convlstm_ae.data.video_io import model_frame, video_frames


def decode_for(video: Path, size: int, seconds: float, start: float) -> tuple[int, float]:
    """Frames decoded and resized from ``start`` (a wall-clock time all processes wait
    for) for ``seconds``, and this process's CPU seconds meanwhile."""
    time.sleep(max(0.0, start - time.time()))
    end, frames, cpu = time.time() + seconds, 0, time.process_time()
    while time.time() < end:
        for image in video_frames(video):
            model_frame(image, size)
            frames += 1
            if frames % 64 == 0 and time.time() >= end:
                break
    return frames, time.process_time() - cpu


def measure(video: Path, size: int, processes: int, seconds: float) -> tuple[float, float]:
    """Frames per second of ``processes`` decoding at once, and CPU ms per frame."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        start = time.time() + 1.0 + 0.05 * processes  # every process started by then
        results = pool.starmap(decode_for, [(video, size, seconds, start)] * processes)
    frames = sum(count for count, _ in results)
    return frames / seconds, 1e3 * sum(cpu for _, cpu in results) / max(frames, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default=f"1,{max(1, (os.cpu_count() or 2) - 1)}",
                        help="numbers of processes decoding at once (1 is always measured)")
    parser.add_argument("--size", type=int, default=227, help="model frame size (caffe: 227)")
    parser.add_argument("--video-size", default="320x240", help="MJPG WIDTHxHEIGHT")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    width, height = (int(x) for x in args.video_size.split("x"))
    counts = sorted({1, *(int(x) for x in args.processes.split(","))})
    print(f"# decoders' work alone; {machine_line()}")
    with tempfile.TemporaryDirectory() as folder:
        video = write_video(Path(folder) / "shapes.avi", 250, width, height)
        print("| processes | frames/s | P x one alone | ratio | CPU ms/frame | video | size |")
        print("|---|---|---|---|---|---|---|")
        alone = None
        for processes in counts:
            rate, cpu_ms = measure(video, args.size, processes, args.seconds)
            alone = alone or rate
            print(f"| {processes} | {rate:,.0f} | {processes * alone:,.0f} | "
                  f"{rate / (processes * alone):.2f} | {cpu_ms:.3f} | MJPG {width}x{height} | "
                  f"{args.size} |", flush=True)
    print(f"# end: {machine_line()}")


if __name__ == "__main__":
    main()
