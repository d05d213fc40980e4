"""What the `watch` benchmarks share: a synthetic video, a released random model with a
calibration fitted on that video, the Watch wiring of `convlstm-ae watch`, and RSS.

Nothing is downloaded: the video is drawn here and the model has random weights (speed
and memory do not depend on them). The calibration is fitted on the model's own errors
on the video, so events are as rare as on normal footage (about 1 % of frames above
the threshold), not an artefact of random weights.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.config import ScoringConfig
from convlstm_ae.data.video_io import model_frame, read_header, video_frames
from convlstm_ae.live.events import EventRules
from convlstm_ae.live.models import Scoring, model_scoring
from convlstm_ae.model.presets import create_model
from convlstm_ae.release import load_model, save_model
from convlstm_ae.release_files import save_calibration
from convlstm_ae.scoring.calibration import DeploymentCalibration

FPS = 25
T_PRIME = 10


def write_video(path: Path, frames: int, width: int = 320, height: int = 240,
                fps: int = FPS, seed: int = 0) -> Path:
    """An MJPG video of moving shapes (two discs, a bar) on a noisy gradient."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MJPG here")
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 160, width, dtype=np.float32)[None, :].repeat(height, 0)
    for index in range(frames):
        image = base + rng.normal(0, 6, base.shape).astype(np.float32)
        gray = image.clip(0, 255).astype(np.uint8)
        x = int((index * 4) % (width + 60)) - 30
        y = int(height / 2 + height / 4 * np.sin(index / 15))
        cv2.circle(gray, (x, y), 18, 230, -1)
        cv2.circle(gray, (width - x, height - y), 12, 20, -1)
        bar = int((index * 2) % height)
        cv2.rectangle(gray, (width // 3, bar), (width // 3 + 40, bar + 10), 200, -1)
        writer.write(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def write_h264(source: Path, path: Path) -> Path | str:
    """``source`` re-encoded as H.264 in MP4 (the common camera format) at its own size,
    by GStreamer's openh264enc through the system Python (OpenCV's wheels carry no H.264
    encoder); the reason as a string where that cannot run here."""
    import subprocess

    pipeline = (f"filesrc location={source} ! decodebin ! videoconvert ! "
                f"video/x-raw,format=I420 ! openh264enc ! h264parse ! mp4mux ! "
                f"filesink location={path}")
    script = ("import gi, sys; gi.require_version('Gst', '1.0'); "
              "from gi.repository import Gst; Gst.init(None); "
              "p = Gst.parse_launch(sys.argv[1]); p.set_state(Gst.State.PLAYING); "
              "m = p.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE, "
              "Gst.MessageType.EOS | Gst.MessageType.ERROR); p.set_state(Gst.State.NULL); "
              "sys.exit(m.type != Gst.MessageType.EOS)")
    try:
        done = subprocess.run(["/usr/bin/python3", "-c", script, pipeline],
                              capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"no GStreamer to encode H.264: {error}"
    if done.returncode or not path.is_file() or read_header(path) is None:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"cannot encode H.264 here (GStreamer with openh264enc, mp4mux): {last}"
    return path


def decode_ms(video: Path, size: int, frames: int = 200) -> float:
    """Milliseconds per frame to decode ``video``, convert to gray and resize to ``size``,
    one thread: what a decoder spends per frame, without scoring."""
    start, count = time.perf_counter(), 0
    for image in video_frames(video):
        model_frame(image, size)
        count += 1
        if count >= frames:
            break
    return (time.perf_counter() - start) / max(count, 1) * 1e3


def release_model(preset: str, folder: Path, video: Path, device: str = "cpu",
                  frames: int = 200, seed: int = 0) -> Path:
    """Release a random ``preset`` model into ``folder`` and calibrate it on ``frames``
    frames of ``video`` (one stream, plain eager step on ``device``: no compilation)."""
    import torch

    from convlstm_ae.scoring.stream import StreamScorer

    torch.manual_seed(seed)
    save_model(create_model(preset), folder, ScoringConfig(t_prime=T_PRIME))
    model = load_model(folder, device)
    size = model.config.frame_size
    scorer = StreamScorer(model, 1, t_prime=T_PRIME, plain=True)
    errors, patches, histories = [], [], []
    for index, image in enumerate(video_frames(video)):
        if index >= frames:
            break
        out = scorer(model_frame(image, size)[None])
        errors.append(float(out.current[0] + out.previous[0]))
        patches.append(float(out.patch[0]))
        histories.append(int(out.history[0]))
    history = [np.array(histories)]
    save_calibration(folder, {
        kind: DeploymentCalibration.fit([np.array(values)], T_PRIME, 0.99, history,
                                        windows="reset", error="sum")
        for kind, values in (("frame", errors), ("patch", patches))})
    return folder


def watch_scoring(model_dir: Path) -> tuple[Scoring, EventRules]:
    """Scoring and event rules as `convlstm-ae watch MODEL` builds them by default."""
    scoring = model_scoring(model_dir)
    return scoring, EventRules(scoring.threshold)


def rss_mb() -> float:
    """Resident memory of this process and its children (the decoders) in MB (Linux:
    /proc/PID/statm)."""
    import multiprocessing

    pages = 0
    for pid in ["self", *(str(p.pid) for p in multiprocessing.active_children())]:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                pages += int(handle.read().split()[1])
        except OSError:  # ended meanwhile
            pass
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def machine_line() -> str:
    """CPU count and load average now: the machine is shared, so every CPU figure
    carries them."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"nproc {os.cpu_count()}, load average {load} (shared machine), "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
