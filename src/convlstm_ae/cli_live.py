"""Console command ``watch``: live scoring of cameras, files and the shipped demo."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from convlstm_ae.atomic import writable_folder
from convlstm_ae.cli_common import check_fps, check_rate
from convlstm_ae.errors import ConfigError, ConvLSTMAEError

if TYPE_CHECKING:
    from convlstm_ae.live.cameras import CamerasConfig, Reloader
    from convlstm_ae.live.models import Group, Opener
    from convlstm_ae.live.server import PageServer
    from convlstm_ae.live.watch import Watch

# the longest wait, delay or timeout a watch flag takes: a day (threads' timeouts overflow
# near 2**63 ns, and infinity is no delay)
MAX_SECONDS = 86_400
# watch --config: the flags the cameras file sets (and so refuses beside it), by its keys;
# the others tune the process (engine, decoding, timing, overlay) and go with it
FILE_FLAGS = ("threshold", "release_margin", "release_frames", "min_frames", "out", "serve",
              "serve_token", "serve_token_file", "mqtt", "webhook", "on_event", "clips",
              "pre_seconds", "post_seconds")


def _watch_numbers(args: argparse.Namespace) -> None:
    """One-line errors for watch's numeric flags, before anything is opened."""
    for flag in ("queue", "release_frames", "min_frames", "threads"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    for flag in ("max_wait", "backoff", "max_backoff", "notify_timeout"):
        if not 0 < getattr(args, flag) <= MAX_SECONDS:
            raise ConfigError(f"--{flag.replace('_', '-')} must be positive seconds, at most "
                              f"{MAX_SECONDS:,}, got {getattr(args, flag)}")
    if args.decoders is not None and args.decoders < 0:
        raise ConfigError(f"--decoders must be 0 or more, got {args.decoders}")
    check_rate(args.rate)
    if args.max_backoff < args.backoff:
        raise ConfigError(f"--max-backoff {args.max_backoff} is below --backoff {args.backoff}")


def cmd_watch(args: argparse.Namespace) -> int:
    """Score live sources until they end or Ctrl-C, writing events; ``--demo`` runs the
    shipped model on a fresh demo video and draws a report; ``--serve`` shows it all on a
    web page."""
    cameras = _read_config(args) if args.config else None
    _watch_numbers(args)
    check_fps(args.fps)
    writable_folder(args.out)
    listener, token = _page_socket(args)  # a port in use fails before any work
    page = reloader = previous = None
    try:
        if args.demo:  # before the opener, which reads the flags the demo sets
            _watch_demo(args)
        opener = _opener(args, publish=listener is not None)
        watch, threshold = _open_watch(args, cameras, opener)
        if listener is not None:
            page = _start_page(watch, listener, token)
        if cameras is not None:
            previous = signal.getsignal(signal.SIGHUP)
            reloader = _start_reloader(args.config, cameras, watch, opener)
        return _run(args, watch, threshold, page)
    finally:
        if reloader is not None:
            signal.signal(signal.SIGHUP, signal.SIG_DFL if previous is None else previous)
            reloader.stop()
        if page is not None:
            page.stop()  # closes the listener
        elif listener is not None:
            listener.close()


def _read_config(args: argparse.Namespace) -> CamerasConfig:
    """Read ``--config``'s cameras file into ``args``: the model, the sources and the
    outputs. The file excludes MODEL, SOURCE, --demo and the flags it sets (a flag of
    :data:`FILE_FLAGS` away from its default), so nothing is said twice."""
    from convlstm_ae.arguments import build_parser
    from convlstm_ae.live.cameras import read_cameras

    if args.demo or args.model is not None or args.sources:
        raise ConfigError(f"watch --config {args.config} takes no MODEL, SOURCE or --demo: "
                          "the file names them")
    defaults = build_parser().parse_args(["watch"])
    for key in FILE_FLAGS:
        if getattr(args, key) != getattr(defaults, key):
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} cannot go with --config {args.config}: set "
                              f"{key} in the file")
    cameras = read_cameras(args.config)
    args.sources = [c.argument for c in cameras.cameras]
    for key in FILE_FLAGS:
        if key not in ("threshold", "release_margin", "release_frames", "min_frames",
                       "serve_token"):
            setattr(args, key, getattr(cameras, key))
    return cameras


def _start_reloader(path: Path, cameras: CamerasConfig, watch: Watch, opener: Opener
                    ) -> Reloader:
    """Re-read the cameras file on SIGHUP."""
    from convlstm_ae.live.cameras import Reloader

    reloader = Reloader(path, cameras, watch, opener)
    signal.signal(signal.SIGHUP, lambda *_: reloader.request())
    return reloader


def _page_socket(args: argparse.Namespace) -> tuple[socket.socket | None, str | None]:
    """``--serve``'s socket, listening already, and the page's token (None: none)."""
    if args.serve is None:
        if args.serve_token is not None or args.serve_token_file is not None:
            raise ConfigError("--serve-token and --serve-token-file need --serve HOST:PORT")
        return None, None
    try:
        from convlstm_ae.live import server
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in ("starlette", "uvicorn"):
            raise
        raise ConfigError(f"--serve needs {missing}, which this install lacks: pip install "
                          "'convlstm-ae[serve]'") from None
    token = server.serve_token(args.serve_token, args.serve_token_file)
    return server.listen(args.serve, token), token


def _opener(args: argparse.Namespace, publish: bool) -> Opener:
    """How ``args`` open sources and engines."""
    from convlstm_ae.live.models import Opener

    return Opener(args.backend, args.device, args.threads,
                  maps=bool(args.overlay or args.clip_overlay), publish=publish,
                  realtime=args.realtime, backoff=args.backoff, max_backoff=args.max_backoff,
                  queue_frames=args.queue, fps=args.fps, rate=args.rate)


def _open_watch(args: argparse.Namespace, cameras: CamerasConfig | None, opener: Opener
                ) -> tuple[Watch, float]:
    """The watch of ``args``' model and sources (with ``cameras``: their own rules and
    masks), and the model's threshold."""
    from convlstm_ae.live.cameras import camera_masks
    from convlstm_ae.live.clips import ClipRules
    from convlstm_ae.live.events import EventRules
    from convlstm_ae.live.mqtt import Mqtt, mqtt_target
    from convlstm_ae.live.outputs import Notifier
    from convlstm_ae.live.watch import Watch

    if cameras is None and (args.model is None or not args.sources):
        raise ConfigError("watch needs MODEL and at least one SOURCE (or --demo)")
    clips = ClipRules(args.pre_seconds, args.post_seconds, args.clip_overlay) if (
        args.clips or args.clip_overlay) else None
    notifier = Notifier(args.on_event, args.webhook, args.notify_timeout)  # checked early
    broker = mqtt_target(args.mqtt) if args.mqtt else None
    groups = _open_groups(args, cameras, opener)
    size = groups[0].engine.frame_size
    models = [args.model] * len(args.sources) if cameras is None else [
        cameras.model_of(camera) for camera in cameras.cameras]
    sources = [opener.source(s, size, model) for s, model in zip(args.sources, models,
                                                                 strict=True)]
    scoring_of = {stream: group.scoring for group in groups for stream in group.streams}
    if cameras is None:
        rules = EventRules(groups[0].scoring.threshold, args.release_margin,
                           args.release_frames, args.min_frames)
        masks = ()
    else:
        rules = [camera.rules(scoring_of[k].threshold) for k, camera in enumerate(cameras.cameras)]
        masks = camera_masks(args.config, cameras.cameras, size,
                             [scoring_of[k].located for k in range(len(cameras.cameras))])
    sinks = [notifier, Mqtt(broker)] if broker else [notifier]
    watch = Watch(groups, sources, args.out, rules=rules, masks=masks, sinks=sinks,
                  max_wait=args.max_wait, overlay=args.overlay, decoders=args.decoders,
                  clips=clips, publish=opener.publish)
    if clips:
        kept = len(sources) * clips.ring_bytes(size)
        print(f"event clips -> {args.out / 'clips'}: {clips.pre_seconds:g} s before, "
              f"{clips.post_seconds:g} s after; {kept / 1e6:.1f} MB of frames kept", flush=True)
    return watch, groups[0].scoring.threshold


def _open_groups(args: argparse.Namespace, cameras: CamerasConfig | None, opener: Opener
                 ) -> list[Group]:
    """An engine per model (MODEL, or each model of the cameras file) for its sources.

    Raises:
        ConfigError: with ``cameras``, ``FILE: camera 'NAME': ...`` naming the first
            camera of a model that does not open or scores another frame size.
    """
    from convlstm_ae.live.models import Group

    models = {args.model: list(range(len(args.sources)))} if cameras is None else (
        cameras.by_model())
    groups: list[Group] = []
    for model, streams in models.items():
        # the cameras' own thresholds, where they all set one: no calibration needed then
        own = None if cameras is None else [cameras.cameras[k].threshold for k in streams]
        threshold = args.threshold if own is None or None in own else min(own)
        try:
            engine, scoring = opener.model(model, len(streams), threshold,
                                           groups[0].engine.frame_size if groups else None)
        except ConvLSTMAEError as error:
            if cameras is None:
                raise
            raise ConfigError(f"{args.config}: camera {cameras.cameras[streams[0]].name!r}: "
                              f"{error}") from None
        groups.append(Group(engine, scoring, tuple(streams)))
    return groups


def _start_page(watch: Watch, listener: socket.socket, token: str | None) -> PageServer:
    """Serve ``watch``'s page on ``listener``."""
    from convlstm_ae.live.serve import page_app
    from convlstm_ae.live.server import PageServer

    page = PageServer(page_app(watch.live_state, token), listener)
    page.start()
    proof = " (with the token: ?token=TOKEN or 'Authorization: Bearer TOKEN')"
    print(f"page -> {page.url}{proof if token else ''}", flush=True)
    return page


def _run(args: argparse.Namespace, watch: Watch, threshold: float, page: PageServer | None
         ) -> int:
    """Run ``watch``, print what each source did; with a page, keep it up after the sources
    end until Ctrl-C."""
    levels = [rules.threshold for rules in watch.rules]
    shown = f"threshold {threshold:.3g}" if set(levels) == {threshold} else "thresholds " + (
        ", ".join(f"{s.name} {level:.3g}" for s, level in zip(watch.sources, levels, strict=True)))
    print(f"watching {len(watch.sources)} source(s), {shown}{_rates(watch)}; Ctrl-C ends",
          flush=True)
    failed = []
    reports = watch.run()
    for report in reports:
        problem = f"; stopped: {report.error}" if report.error else ""
        skipped = f", {report.skipped} skipped for the frame rate" if report.skipped else ""
        print(f"{report.name}: {report.frames} frames scored, {report.events} event(s), "
              f"{report.drops} dropped, {report.reconnects} reconnect(s){skipped}{problem}")
        if report.error:
            failed.append(report)
    print(f"frames, events and snapshots -> {args.out}")
    if args.overlay:
        print(f"overlay video -> {args.overlay}")
    if args.demo:
        try:
            _watch_report(args)
        except ModuleNotFoundError as error:  # the light runtime draws no report
            print(f"no report.html: the light runtime lacks {error.name}; after pip install "
                  f"'convlstm-ae[train]': convlstm-ae report {args.out} --labels "
                  f"{args.out / 'labels.json'} -o {args.out / 'report.html'}")
    if page is not None and all(report.finished for report in reports):
        print(f"the sources ended; the page stays up at {page.url} until Ctrl-C", flush=True)
        try:
            page.wait()
        except KeyboardInterrupt:
            pass
    for report in failed:  # the others ran on; the exit status says one did not
        print(f"convlstm-ae: error: {report.name}: {report.error}", file=sys.stderr)
    return 1 if failed else 0


def _rates(watch: Watch) -> str:
    """The frame rates the sources are scored at, for the first line: ``, scoring at
    most 10 fps`` (or per source where they differ); nothing when every frame is."""
    rates = [source.rate for source in watch.sources]
    if set(rates) == {None}:
        return ""
    if len(set(rates)) == 1:
        return f", scoring at most {rates[0]:g} fps"
    return ", scoring " + ", ".join(
        f"{source.name} {'every frame' if rate is None else f'at most {rate:g} fps'}"
        for source, rate in zip(watch.sources, rates, strict=True))


def _watch_demo(args: argparse.Namespace) -> None:
    """Point ``args`` at the shipped model and a fresh demo video in the output folder."""
    from convlstm_ae.demo import demo_model_dir, write_demo_labels, write_demo_video

    if args.model is not None or args.sources:
        raise ConfigError("watch --demo takes no MODEL or SOURCE")
    video = args.out / "demo.avi"
    anomalies = write_demo_video(video)
    write_demo_labels(args.out / "labels.json", video, anomalies)  # the report shades them
    args.model, args.sources = demo_model_dir(), [f"demo={video}"]
    args.overlay = args.overlay or args.out / "overlay.mp4"
    args.clips = True
    args.realtime = False  # every frame, however slow the machine
    spans = ", ".join(f"{a.kind} at frames {a.first}-{a.stop - 1}" for a in anomalies)
    print(f"demo video {video}: {spans}")


def _watch_report(args: argparse.Namespace) -> None:
    """Draw the demo's report.html from the watch output folder."""
    from convlstm_ae.pipeline.report import build_report, write_report
    from convlstm_ae.pipeline.report_inputs import read_report_input

    path = args.out / "report.html"
    data = read_report_input(args.out, events=None, model=args.model)
    write_report(path, build_report(data, args.out / "labels.json",
                                    title="convlstm-ae watch --demo", page=path))
    print(f"report -> {path}")
