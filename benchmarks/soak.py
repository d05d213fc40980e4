"""Soak test of `convlstm-ae watch`: N streams in real time for a long run, RSS sampled.

Runs the whole watch path (FileSources decoding an MJPG file at its own 25 fps in
decoder processes, resizing, the engine, Eq. 3, calibration, events, per-frame CSV) on
the CPU for ``--minutes``. Each source plays the same synthetic 320x240 video over and
over (a FileSource given the file many times: its decoder reopens and decodes it each
time, and each pass starts a fresh memory, as a folder of videos does). A sampler thread
writes the RSS of this process and its decoder processes every second to a CSV. Prints
RSS at 1 min, at the end, the maximum and the slope after the warm-up, and exits 1 if
RSS grew by more than ``--bound`` MB between the first minute and the end.

    PYTHONPATH=src .venv/bin/python benchmarks/soak.py --minutes 10 --streams 8 \\
        --csv benchmarks/results/soak-rss.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from live_setup import FPS, machine_line, release_model, rss_mb, watch_scoring, write_video

from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.models import Group
from convlstm_ae.live.sources import FileSource
from convlstm_ae.live.watch import Watch


def sample(watch: Watch, path: Path, stop: threading.Event, start: float,
           rows: list[tuple[float, float, int, int]]) -> None:
    """Every second: elapsed s, RSS MB, frames scored and dropped so far."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds", "rss_mb", "scored", "dropped"])
        while not stop.wait(max(0.0, len(rows) + 1 - (time.monotonic() - start))):
            reports = watch.report()
            row = (time.monotonic() - start, rss_mb(),
                   sum(r.frames for r in reports), sum(r.drops for r in reports))
            rows.append(row)
            writer.writerow([f"{row[0]:.1f}", f"{row[1]:.2f}", row[2], row[3]])
            handle.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--backend", default="torch", choices=("torch", "onnx"))
    parser.add_argument("--threads", type=int, default=None, help="engine CPU threads")
    parser.add_argument("--video-frames", type=int, default=250, help="frames per pass")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline")
    parser.add_argument("--bound", type=float, default=50.0,
                        help="max RSS growth (MB) from the end of the warm-up to the end")
    parser.add_argument("--csv", type=Path, default=Path("soak-rss.csv"))
    args = parser.parse_args()
    print(f"# soak: {args.streams} streams x {FPS} fps, {args.preset}, {args.backend} on the "
          f"CPU, {args.minutes:g} min; {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video = write_video(folder / "shapes.avi", args.video_frames)
        model = release_model(args.preset, folder / "model", video)
        scoring, rules = watch_scoring(model)
        engine = open_engine(model, args.streams, backend=args.backend, device="cpu"
                             if args.backend == "torch" else None, threads=args.threads)
        passes = int(args.minutes * 60 * FPS / args.video_frames) + 2
        sources = [FileSource(f"cam{i}", [video] * passes, engine.frame_size, realtime=True)
                   for i in range(args.streams)]
        watch = Watch([Group.of_all(engine, scoring)], sources, folder / "out", rules=rules)
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        stop, rows = threading.Event(), []
        start = time.monotonic()
        sampler = threading.Thread(target=sample, args=(watch, args.csv, stop, start, rows),
                                   daemon=True)
        timer = threading.Timer(args.minutes * 60, watch.stop)
        sampler.start()
        timer.start()
        reports = watch.run()
        stop.set()
        sampler.join()
        timer.cancel()
        events = sum(r.events for r in reports)
    seconds = np.array([r[0] for r in rows])
    rss = np.array([r[1] for r in rows])
    after = seconds >= args.warmup
    baseline = rss[after][0] if after.any() else rss[0]
    slope = np.polyfit(seconds[after] / 60, rss[after], 1)[0] if after.sum() > 2 else float("nan")
    scored, dropped = sum(r.frames for r in reports), sum(r.drops for r in reports)
    growth = rss[-1] - baseline
    print(f"# end: {machine_line()}")
    print("| streams | backend | minutes | frames scored | frames/s | dropped | events | "
          "RSS at 1 min (MB) | RSS at end (MB) | max RSS (MB) | slope after 1 min (MB/min) | "
          "growth (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.streams} | {args.backend} | {seconds[-1] / 60:.1f} | {scored:,} | "
          f"{scored / seconds[-1]:.1f} | {dropped} | {events} | {baseline:.1f} | {rss[-1]:.1f} | "
          f"{rss.max():.1f} | {slope:+.3f} | {growth:+.1f} |")
    print(f"RSS samples -> {args.csv}")
    if growth > args.bound:
        print(f"FAIL: RSS grew {growth:.1f} MB after the warm-up (bound {args.bound:g} MB)")
        return 1
    print(f"OK: RSS growth {growth:+.1f} MB after the warm-up (bound {args.bound:g} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
