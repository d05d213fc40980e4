"""How many 25-fps streams `convlstm-ae watch` scores in real time, through the whole path,
beside the engine alone and the decoding alone, on the same machine in the same run.

Source kinds (``--sources``), each a synthetic video of moving shapes (nothing downloaded):
- ``mjpg``: MJPG at ``--size`` (320x240);
- ``h264-480``, ``h264-720``: H.264 in MP4 at 640x480 and 1280x720, the common camera
  formats (encoded by GStreamer's openh264enc; skipped, with the reason, without it);
- ``rtsp``: the MJPG video served over RTSP by tests/rtsp_server.py (GStreamer, through
  the system Python), one connection per stream, real time only, rings of 64 frames
  (``watch --queue 64``: a new connection delivers a burst); skipped without GStreamer.
  The server re-encodes JPEG for every connection on the same machine.

A random model of each preset is released with a calibration fitted on the MJPG video
(benchmarks/live_setup.py). Per row:
- decode ms/frame: decode + gray + resize of one frame of that video, one thread, nothing
  else (a decoder's cost per frame; ``--decoders`` processes share the decoding);
- engine frames/s: ``B / seconds per engine call`` on a fixed batch, after warm-up: the
  engine alone (on CUDA, StreamScorer's CUDA graph), as ``gpu_stream.py`` measures it;
- watch frames/s: frames scored by all sources / wall time of ``Watch.run()`` from its
  first step on (the decoder processes' start, about a second, and the engine's warm-up
  are not timed), with decoders, rings, the vectorized step, events and the CSV writer;
  ratio = watch / engine;
- real-time streams: watch frames/s / 25; step ms: median wall time of one step;
  latency: decoded -> scored and written, p50 / p95;
- ``--profile DIR``: the first all-frames run once more under cProfile, every grab loop
  (in the decoder processes) and the scoring process's loop; their top entries printed,
  the statistics kept in DIR: a profile where py-spy cannot attach;
- CPU ms/frame: CPU time per frame scored of the decoder processes (all their threads)
  and of the scoring process, from the first step on; CPUs busy / stolen: the share of
  all the machine's CPUs busy, and stolen by the hypervisor (another tenant), meanwhile;
- "all frames" rows: files with ``realtime=False`` (every frame, decoders wait for the
  scorer); "host alone" rows (``--host``): the same run with an engine that returns its
  first step's results at once, so decoders, rings, the step and the writer set the
  pace: where watch frames/s is close to it, the host, not the engine, is the limit
  (``--host 8,15,30``: once per number of decoder processes);
  "real time" rows: the largest B whose real-time streams >= B, run again with
  each file paced at 25 fps (oldest frames dropped when behind) to its end (``--frames``
  / 25 s): zero dropped frames confirms it. RTSP streams are always real time, for
  ``--seconds``.

CPU (the machine is shared: nproc and load average are printed):

    PYTHONPATH=src .venv/bin/python benchmarks/watch_streams.py --presets tiny \\
        --backends torch,onnx --streams 1,4,16,32 --threads 1 --out watch-cpu.json

GPU (see benchmarks/README.md for the H200 command lines).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from live_setup import (
    FPS,
    decode_ms,
    machine_line,
    release_model,
    watch_scoring,
    write_h264,
    write_video,
)

from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.models import Group
from convlstm_ae.live.sources import CaptureSource, FileSource
from convlstm_ae.live.watch import Watch

TESTS = Path(__file__).resolve().parents[1] / "tests"
RTSP_QUEUE = 64  # room for the burst of frames a new RTSP connection delivers
KINDS = {"mjpg": None, "h264-480": (640, 480), "h264-720": (1280, 720), "rtsp": None}


def _machine_ticks() -> np.ndarray:
    """/proc/stat's ticks of all CPUs: user, nice, system, idle, iowait, irq, softirq,
    steal (zeros where there is no /proc)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return np.zeros(8)
    return np.array([float(f) for f in fields])


def _process_seconds(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) of process ``pid``; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Where the CPU went from the first step to the end: the decoder processes' CPU
    seconds (sampled every ``period`` s while they live), the scoring process's, and the
    machine's busy and stolen share of all its CPUs (steal: time a virtual machine's CPU
    waited for the host, e.g. for another tenant)."""

    def __init__(self, pids: list[int], period: float = 0.25) -> None:
        self._start = {pid: _process_seconds(pid) or 0.0 for pid in pids}
        self._last = dict(self._start)
        self._ticks = _machine_ticks()
        self._scorer = time.process_time()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(period,), daemon=True)
        self._thread.start()

    def _sample(self, period: float) -> None:
        while not self._done.wait(period):
            for pid in self._last:
                seconds = _process_seconds(pid)
                if seconds is not None:
                    self._last[pid] = seconds

    def stop(self) -> dict:
        """Stop sampling; CPU seconds of the decoders and the scorer, busy and steal %."""
        scorer = time.process_time() - self._scorer
        self._done.set()
        self._thread.join()
        ticks = _machine_ticks() - self._ticks
        total = max(ticks.sum(), 1.0)
        return {"decoder_cpu_s": sum(self._last.values()) - sum(self._start.values()),
                "scorer_cpu_s": scorer,
                "busy_pct": round(100 * (1 - (ticks[3] + ticks[4]) / total), 1),
                "steal_pct": round(100 * ticks[7] / total, 1)}


class TimedWatch(Watch):
    """Watch that records each step's wall time, each frame's decode-to-score latency and
    the CPU time spent from its first step on (:class:`CpuMeter`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps: list[float] = []
        self.latencies: list[np.ndarray] = []
        self.first: float | None = None  # perf_counter() when the first step began
        self.meter: CpuMeter | None = None

    def step(self, ready):
        start = time.perf_counter()
        if self.first is None:
            self.first = start
            self.meter = CpuMeter([pid for decoders in self._decoders for pid in decoders.pids])
        taken = super().step(ready)
        self.steps.append(time.perf_counter() - start)
        return taken

    def _complete(self, launched) -> None:
        super()._complete(launched)
        self.latencies.append(time.monotonic() - launched.taken.grabbed)


class InstantEngine:
    """The engine's first step's results, returned at once for every later step: the
    whole host path of watch with no scoring cost."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.output = copy.deepcopy(engine(engine.batch))
        engine.reset()

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def launch(self, frames, scored=None) -> None:
        pass

    def collect(self):
        return self.output

    def __call__(self, frames, scored=None):
        return self.output


class ProfiledFileSource(FileSource):
    """A file source whose grab loop (in its decoder process) runs under cProfile, its
    statistics written to ``folder`` when it ends: a profile of the decoders where py-spy
    cannot attach (hosts without ptrace)."""

    def __init__(self, *args, folder: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.folder = folder

    def run(self, rings, stream, stop, room) -> None:
        profile = cProfile.Profile()
        profile.enable()
        try:
            super().run(rings, stream, stop, room)
        finally:
            profile.disable()
            profile.dump_stats(self.folder / f"decoder-{stream}.prof")


def top_entries(files: list[Path], title: str, count: int = 12) -> str:
    """The ``count`` entries of merged cProfile statistics with the most time of their
    own, as lines prefixed with ``# title``."""
    stream = io.StringIO()
    stats = pstats.Stats(*map(str, files), stream=stream)
    stats.sort_stats("tottime").print_stats(count)
    body = stream.getvalue().split("ncalls", 1)[-1]
    return "\n".join(f"# {title}: " + line for line in ("ncalls" + body).splitlines() if line)


def warm_up(engine, device: str) -> None:
    """Untimed calls: cuDNN autotuning, torch.compile and CUDA-graph capture on CUDA."""
    for _ in range(8 if device == "cuda" else 3):
        engine(engine.batch)
    engine.reset()


def engine_fps(engine, device: str, seconds: float = 2.0) -> float:
    """Frames per second of the engine alone on a fixed batch of random frames."""
    engine.batch[:] = np.random.default_rng(0).integers(0, 256, engine.batch.shape, np.uint8)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 3:
        engine(engine.batch)
        calls += 1
    fps = calls * engine.streams / (time.perf_counter() - start)
    engine.reset()
    return fps


def run_watch(engine, sources, out: Path, scoring, rules, decoders: int | None,
              seconds: float | None = None, profile: Path | None = None) -> dict:
    """One Watch over ``sources``; its figures. With ``profile``, the scoring process's
    loop runs under cProfile, its statistics written there as ``scorer.prof``."""
    watch = TimedWatch([Group.of_all(engine, scoring)], sources, out, rules=rules,
                       decoders=decoders)
    engine.reset()
    timer = threading.Timer(seconds, watch.stop) if seconds else None
    if timer:
        timer.start()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    reports = watch.run()
    wall = time.perf_counter() - (watch.first or time.perf_counter())
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile / "scorer.prof")
    cpu = watch.meter.stop() if watch.meter else {"decoder_cpu_s": 0.0, "scorer_cpu_s": 0.0,
                                                  "busy_pct": 0.0, "steal_pct": 0.0}
    if timer:
        timer.cancel()
    frames = sum(r.frames for r in reports)
    latency = np.concatenate(watch.latencies or [np.zeros(1)]) * 1e3
    fps = frames / wall
    return {"streams": len(sources), "decoders": watch.decoders, "frames": frames,
            "seconds": round(wall, 3), "fps": round(fps, 1),
            "realtime_streams": round(fps / FPS, 1),
            "step_ms_p50": round(float(np.median(watch.steps or [0])) * 1e3, 2),
            "latency_ms_p50": round(float(np.median(latency)), 1),
            "latency_ms_p95": round(float(np.percentile(latency, 95)), 1),
            "dropped": sum(r.drops for r in reports), "events": sum(r.events for r in reports),
            "decoder_cpu_ms": round(cpu["decoder_cpu_s"] / max(frames, 1) * 1e3, 3),
            "scorer_cpu_ms": round(cpu["scorer_cpu_s"] / max(frames, 1) * 1e3, 3),
            "busy_pct": cpu["busy_pct"], "steal_pct": cpu["steal_pct"]}


class RtspServer:
    """tests/rtsp_server.py serving ``video`` on a free loopback port, until :meth:`close`."""

    def __init__(self, video: Path) -> None:
        sys.path.insert(0, str(TESTS))
        import rtsp_server

        self.missing = rtsp_server.available()
        self.process = None
        if self.missing:
            return
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"rtsp://127.0.0.1:{port}/live"
        self.process = subprocess.Popen(["/usr/bin/python3", str(TESTS / "rtsp_server.py"),
                                         str(video), str(port)], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        if self.process.stdout.readline().strip() != "ready":
            self.close()
            self.missing = "the RTSP server did not start"

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


COLUMNS = ("preset", "backend", "device", "source", "mode", "streams", "decoders",
           "decode ms/frame", "engine frames/s", "watch frames/s", "ratio",
           "real-time streams", "step ms", "latency ms p50 / p95", "dropped",
           "CPU ms/frame decoders / scorer", "CPUs busy / stolen %")


def row(r: dict) -> str:
    ratio = r["fps"] / r["engine_fps"] if r["engine_fps"] else float("nan")
    return (f"| {r['preset']} | {r['backend']} | {r['device']} | {r['source']} | {r['mode']} | "
            f"{r['streams']} | {r['decoders']} | {r['decode_ms']:.2f} | "
            f"{r['engine_fps']:,.0f} | {r['fps']:,.0f} | {ratio:.2f} | "
            f"{r['realtime_streams']:,.1f} | {r['step_ms_p50']:.1f} | "
            f"{r['latency_ms_p50']:.0f} / {r['latency_ms_p95']:.0f} | {r['dropped']} | "
            f"{r['decoder_cpu_ms']:.2f} / {r['scorer_cpu_ms']:.2f} | "
            f"{r['busy_pct']:.0f} / {r['steal_pct']:.0f} |")


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


def videos(folder: Path, kinds: list[str], frames: int, size: tuple[int, int]) -> dict:
    """The video of each source kind in ``folder`` (made unless already there, so that
    videos encoded on one machine can be carried to another), or why it cannot be made."""
    folder.mkdir(parents=True, exist_ok=True)
    mjpg = folder / f"shapes-{frames}-{size[0]}x{size[1]}.avi"
    made = {"mjpg": mjpg if mjpg.is_file() else write_video(mjpg, frames, *size)}
    for kind in kinds:
        if KINDS.get(kind):
            width, height = KINDS[kind]
            path = folder / f"{kind}-{frames}.mp4"
            if not path.is_file():
                raw = write_video(folder / f"raw-{width}x{height}.avi", frames, width, height)
                path = write_h264(raw, path)
                raw.unlink()
            made[kind] = path
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="tiny")
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--streams", default="1,4,16,32")
    parser.add_argument("--sources", default="mjpg", help=f"kinds: {', '.join(KINDS)}")
    parser.add_argument("--frames", type=int, default=250, help="frames of each video")
    parser.add_argument("--size", default="320x240", help="MJPG video WIDTHxHEIGHT")
    parser.add_argument("--threads", type=int, default=None, help="engine CPU threads")
    parser.add_argument("--decoders", type=int, default=None,
                        help="decoder processes (default: watch's, from the core count)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each RTSP run (default: the video's; file "
                        "sources play their --frames to the end)")
    parser.add_argument("--no-check", action="store_true", help="skip the real-time check")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run the first all-frames B once more under cProfile (decoders "
                        "and scorer), print the top entries and keep the statistics in DIR")
    parser.add_argument("--host", nargs="?", const="", default=None, metavar="DECODERS",
                        help="also run each all-frames B with an engine that costs nothing; "
                        "with a list (8,15,30), once per number of decoder processes")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds: start no new measurement after this")
    parser.add_argument("--out", type=Path, default=None, help="JSON of every row")
    parser.add_argument("--videos", type=Path, default=None,
                        help="folder of the videos: made there unless already there "
                        "(default: a temporary folder)")
    args = parser.parse_args()
    kinds = args.sources.split(",")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown source kinds {sorted(unknown)}; expected {list(KINDS)}")
    size = tuple(map(int, args.size.split("x")))
    seconds = args.seconds or args.frames / FPS
    began = time.monotonic()
    print(header(args.device, args.threads), flush=True)
    print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS), flush=True)
    results: list[dict] = []

    def save(result: dict) -> None:
        results.append(result)
        print(row(result), flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"machine": header(args.device, args.threads),
                                            "args": {k: str(v) for k, v in vars(args).items()},
                                            "rows": results}, indent=1))

    def over_budget(what: str) -> bool:
        spent = args.budget is not None and time.monotonic() - began > args.budget
        if spent:
            print(f"# budget spent: {what} skipped", flush=True)
        return spent

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        made = videos(args.videos or folder / "videos", kinds, args.frames, size)
        server = RtspServer(made["mjpg"]) if "rtsp" in kinds else None
        try:
            for kind in kinds:
                if isinstance(made.get(kind), str):
                    print(f"# {kind} skipped: {made[kind]}", flush=True)
                if kind == "rtsp" and server.missing:
                    print(f"# rtsp skipped: {server.missing}", flush=True)
            for preset in filter(None, args.presets.split(",")):  # "": only make videos
                if over_budget(preset):
                    continue
                model = release_model(preset, folder / preset, made["mjpg"], device=args.device)
                scoring, rules = watch_scoring(model)
                for backend in args.backends.split(","):
                    device = args.device if backend == "torch" else "cpu"
                    for kind in kinds:
                        video = made["mjpg"] if kind == "rtsp" else made[kind]
                        if isinstance(video, str) or (kind == "rtsp" and server.missing):
                            continue
                        measure(args, kind, video, server, model, preset, backend, device,
                                scoring, rules, folder, seconds, save, over_budget)
        finally:
            if server is not None:
                server.close()
    print(f"# end: {machine_line()}; {time.monotonic() - began:.0f} s in all")


def measure(args, kind, video, server, model, preset, backend, device, scoring, rules,
            folder, seconds, save, over_budget) -> None:
    """Every B of one preset, backend and source kind; then the real-time check."""
    engines, best, cost = {}, None, None
    for streams in map(int, args.streams.split(",")):
        if over_budget(f"{preset} {backend} {kind} {streams}"):
            return
        engine = open_engine(model, streams, backend=backend, threads=args.threads,
                             device=device if backend == "torch" else None)
        cost = cost or decode_ms(video, engine.frame_size)
        warm_up(engine, device)
        base = {"preset": preset, "backend": backend, "device": device, "source": kind,
                "decode_ms": round(cost, 3), "engine_fps": round(engine_fps(engine, device), 1)}
        engines[streams] = (engine, base)
        out = folder / f"out-{preset}-{backend}-{kind}-{streams}"
        if kind == "rtsp":  # live: real time only
            sources = [CaptureSource(f"cam{i}", server.url, engine.frame_size,
                                     queue_frames=RTSP_QUEUE) for i in range(streams)]
            save(base | {"mode": "real time"} | run_watch(engine, sources, out, scoring, rules,
                                                          args.decoders, seconds))
            continue
        sources = [FileSource(f"cam{i}", [video], engine.frame_size, realtime=False)
                   for i in range(streams)]
        result = run_watch(engine, sources, out, scoring, rules, args.decoders)
        save(base | {"mode": "all frames"} | result)
        if args.profile and not (args.profile / "scorer.prof").is_file():
            profile_run(args, engine, video, out, scoring, rules, streams)
        if args.host is not None:
            for decoders in [int(d) for d in args.host.split(",") if d] or [args.decoders]:
                save(base | {"mode": "host alone"} | run_watch(
                    InstantEngine(engine), sources, out.with_name(f"{out.name}-host{decoders}"),
                    scoring, rules, decoders))
        if result["realtime_streams"] >= streams and (best is None or streams > best):
            best = streams
    if kind == "rtsp" or args.no_check or best is None or over_budget("real-time check"):
        return
    engine, base = engines[best]
    sources = [FileSource(f"cam{i}", [video], engine.frame_size, realtime=True)
               for i in range(best)]
    result = run_watch(engine, sources, folder / f"rt-{preset}-{backend}-{kind}-{best}",
                       scoring, rules, args.decoders)  # until the files end
    save(base | {"mode": "real time"} | result)
    verdict = "confirmed" if result["dropped"] == 0 else "NOT confirmed"
    print(f"# {preset} {backend} {kind}: {best} streams in real time {verdict} "
          f"({result['dropped']} frames dropped)", flush=True)


def profile_run(args, engine, video, out: Path, scoring, rules, streams: int) -> None:
    """The all-frames run of ``streams`` streams again, under cProfile: the top entries of
    the decoders (all grab loops merged) and of the scoring process, printed and kept in
    ``--profile``'s folder (``decoders.prof``, ``scorer.prof`` and their ``.txt``)."""
    folder = args.profile
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as loops:  # a file per grab loop, merged below
        sources = [ProfiledFileSource(f"cam{i}", [video], engine.frame_size, realtime=False,
                                      folder=Path(loops)) for i in range(streams)]
        result = run_watch(engine, sources, out.with_name(out.name + "-profiled"), scoring,
                           rules, args.decoders, profile=folder)
        pstats.Stats(*map(str, Path(loops).glob("decoder-*.prof"))).dump_stats(
            folder / "decoders.prof")
    print(f"# profiled run: {result['fps']:,.0f} frames/s (cProfile's own cost included)")
    for title in ("decoders", "scorer"):
        text = top_entries([folder / f"{title}.prof"], title)
        (folder / f"{title}.txt").write_text(text + "\n")
        print(text, flush=True)


if __name__ == "__main__":
    main()
