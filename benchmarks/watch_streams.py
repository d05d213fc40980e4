"""How many 25-fps streams `convlstm-ae watch` scores in real time, through the whole path.

One synthetic MJPG video (moving shapes, ``--size`` 320x240 by default, so decoding and
resizing count) is written, a random model of each preset is released with a
calibration fitted on it (benchmarks/live_setup.py), and for each B in ``--streams``
`Watch` scores B file sources of that video as `convlstm-ae watch --no-realtime` does:
a grab thread per source (decode, gray, resize), one engine call per step of B frames,
Eq. 3, calibrated score, event detection, a per-frame CSV row per source (flushed).

- frames/s: frames scored by all sources / wall time of ``Watch.run()`` (the engine is
  warmed up first: on CUDA, compilation and CUDA-graph capture are not timed).
- real-time streams: frames/s / 25, the number of 25-fps streams that throughput
  would carry at that B; B streams run in real time at B when it is >= B.
- step ms: median wall time of one step (one engine call for B frames plus writing
  their rows); latency ms: median / 95th percentile from a frame's grab to its score
  being written. With all frames (no real time) frames wait in the full queues, so
  latency there is mostly queueing; the "real time" row is the one to read.
- The real-time check: the largest B whose real-time streams >= B is run again with
  ``realtime=True`` (each file paced at 25 fps, oldest frames dropped when behind) for
  the video's length; it confirms the count if nothing is dropped.

CPU (the machine is shared: nproc and load average are printed):

    PYTHONPATH=src .venv/bin/python benchmarks/watch_streams.py --presets tiny \\
        --backends torch,onnx --streams 1,2,4,8,16,32 --out watch-cpu.json

GPU (paper and caffe at 225 px, torch on CUDA, about 4 minutes; --budget stops early):

    PYTHONPATH=src python benchmarks/watch_streams.py --presets paper,caffe \\
        --backends torch --device cuda --streams 256,64,16,1 --frames 150 --budget 200 \\
        --out $OUT/watch-gpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from live_setup import FPS, machine_line, release_model, watch_scoring, write_video

from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.sources import FileSource
from convlstm_ae.live.watch import Watch


class TimedWatch(Watch):
    """Watch that records each step's wall time and each frame's grab-to-score latency."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps: list[float] = []
        self.latencies: list[float] = []

    def _step(self, frames) -> None:
        start = time.perf_counter()
        super()._step(frames)
        self.steps.append(time.perf_counter() - start)

    def _record(self, index, frame, error, patch, history) -> None:
        super()._record(index, frame, error, patch, history)
        self.latencies.append(time.monotonic() - frame.grabbed)


def warm_up(engine, device: str) -> None:
    """Untimed calls: cuDNN autotuning, torch.compile and CUDA-graph capture on CUDA."""
    blank = np.zeros((engine.streams, engine.frame_size, engine.frame_size), np.uint8)
    for _ in range(8 if device == "cuda" else 3):
        engine(blank)
    engine.reset()


def run_watch(engine, video: Path, streams: int, out: Path, scoring, rules, *,
              realtime: bool, seconds: float | None = None) -> dict:
    """One Watch over ``streams`` file sources of ``video``; its figures."""
    sources = [FileSource(f"cam{i}", [video], engine.frame_size, realtime=realtime)
               for i in range(streams)]
    watch = TimedWatch(engine, sources, out, scoring=scoring, rules=rules)
    engine.reset()
    timer = None
    if seconds:
        import threading

        timer = threading.Timer(seconds, watch.stop)
        timer.start()
    start = time.perf_counter()
    reports = watch.run()
    wall = time.perf_counter() - start
    if timer:
        timer.cancel()
    frames = sum(r.frames for r in reports)
    latency = np.array(watch.latencies) * 1e3
    fps = frames / wall
    return {"mode": "real time" if realtime else "all frames", "streams": streams,
            "frames": frames, "seconds": round(wall, 3), "fps": round(fps, 1),
            "realtime_streams": round(fps / FPS, 1),
            "step_ms_p50": round(float(np.median(watch.steps)) * 1e3, 2),
            "latency_ms_p50": round(float(np.median(latency)), 1),
            "latency_ms_p95": round(float(np.percentile(latency, 95)), 1),
            "dropped": sum(r.drops for r in reports), "events": sum(r.events for r in reports)}


def row(result: dict) -> str:
    return (f"| {result['preset']} | {result['backend']} | {result['device']} | "
            f"{result['mode']} | {result['streams']} | {result['fps']:,.0f} | "
            f"{result['realtime_streams']:,.1f} | {result['step_ms_p50']:.1f} | "
            f"{result['latency_ms_p50']:.0f} / {result['latency_ms_p95']:.0f} | "
            f"{result['dropped']} |")


def header(device: str, threads: int | None) -> str:
    lines = [f"# convlstm-ae watch, whole path; {machine_line()}"]
    versions = [f"python {platform.python_version()}"]
    try:
        import torch

        versions.append(f"torch {torch.__version__} ({threads or torch.get_num_threads()} "
                        "CPU threads)")
        if device == "cuda":
            versions.append(f"{torch.cuda.get_device_name()}, CUDA {torch.version.cuda}")
    except ImportError:
        pass
    try:
        import onnxruntime

        versions.append(f"onnxruntime {onnxruntime.__version__}")
    except ImportError:
        pass
    import cv2

    versions.append(f"OpenCV {cv2.__version__}")
    lines.append("# " + ", ".join(versions))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="tiny")
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--streams", default="1,2,4,8,16,32")
    parser.add_argument("--frames", type=int, default=250, help="frames of the video")
    parser.add_argument("--size", default="320x240", help="video WIDTHxHEIGHT")
    parser.add_argument("--threads", type=int, default=None, help="engine CPU threads")
    parser.add_argument("--no-check", action="store_true", help="skip the real-time check")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds: start no new measurement after this")
    parser.add_argument("--out", type=Path, default=None, help="JSON of every row")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    began = time.monotonic()
    print(header(args.device, args.threads), flush=True)
    print("| preset | backend | device | mode | streams | frames/s | real-time streams | "
          "step ms | latency ms p50 / p95 | dropped |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    results: list[dict] = []

    def save(result: dict) -> None:
        results.append(result)
        print(row(result), flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"machine": header(args.device, args.threads),
                                            "args": {k: str(v) for k, v in vars(args).items()},
                                            "rows": results}, indent=1))

    def over_budget() -> bool:
        return args.budget is not None and time.monotonic() - began > args.budget

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video = write_video(folder / "shapes.avi", args.frames, width, height)
        for preset in args.presets.split(","):
            if over_budget():
                print(f"# budget spent: {preset} skipped", flush=True)
                continue
            model = release_model(preset, folder / preset, video, device=args.device)
            scoring, rules = watch_scoring(model)
            for backend in args.backends.split(","):
                device = args.device if backend == "torch" else "cpu"
                engines, best = {}, None
                for streams in map(int, args.streams.split(",")):
                    if over_budget():
                        print(f"# budget spent: {preset} {backend} {streams} skipped", flush=True)
                        continue
                    engine = open_engine(model, streams, backend=backend, threads=args.threads,
                                         device=device if backend == "torch" else None)
                    warm_up(engine, device)
                    out = folder / f"out-{preset}-{backend}-{streams}"
                    result = run_watch(engine, video, streams, out, scoring, rules,
                                       realtime=False)
                    save({"preset": preset, "backend": backend, "device": device, **result})
                    engines[streams] = engine
                    if result["realtime_streams"] >= streams and (best is None or streams > best):
                        best = streams
                if args.no_check or best is None or over_budget():
                    continue
                out = folder / f"rt-{preset}-{backend}-{best}"
                result = run_watch(engines[best], video, best, out, scoring, rules,
                                   realtime=True, seconds=args.frames / FPS + 2)
                save({"preset": preset, "backend": backend, "device": device, **result})
                verdict = "confirmed" if result["dropped"] == 0 else "NOT confirmed"
                print(f"# {preset} {backend}: {best} streams in real time {verdict} "
                      f"({result['dropped']} frames dropped)", flush=True)
                del engines
    print(f"# end: {machine_line()}; {time.monotonic() - began:.0f} s in all")


if __name__ == "__main__":
    main()
