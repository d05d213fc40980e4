"""Console script ``convlstm-ae``: parses arguments, calls the pipeline, prints."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from convlstm_ae.arguments import build_parser
from convlstm_ae.atomic import writable_file, writable_folder, write_json
from convlstm_ae.errors import ConfigError, ConvLSTMAEError

log = logging.getLogger("convlstm_ae")


def _quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (accelerator lines, tips) off the console."""
    import pytorch_lightning  # noqa: F401  (it sets its own log level on import)

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


def cmd_mnist_generate(args: argparse.Namespace) -> None:
    from convlstm_ae.data.moving_mnist import generate_dataset

    paths = generate_dataset(
        args.out, num_train=args.num_train, num_test=args.num_test, frame_size=args.frame_size,
        box_size=args.box_size, seed=args.seed, idx_path=args.idx_path,
    )
    for scenario, path in paths.items():
        print(f"{scenario}: {path}")


def _check_fps(fps: float | None) -> None:
    if fps is not None and not 0 < fps < math.inf:
        raise ConfigError(f"--fps must be positive and finite, got {fps}")


def _check_devices(devices: int) -> None:
    if devices < 1:
        raise ConfigError(f"--devices must be at least 1, got {devices}")


def cmd_train(args: argparse.Namespace) -> None:
    from convlstm_ae.pipeline.train import run_configs, train_run, training_source

    _quiet_lightning()
    train = {name: getattr(args, name) for name in
             ("max_steps", "batch_size", "num_workers", "seed", "learning_rate",
              "checkpoint_every")
             if getattr(args, name) is not None}
    scoring = {name: getattr(args, name) for name in ("t_prime", "windows", "error")
               if name in args}
    model_config, train_config, scoring_config = run_configs(args.preset, args.config, train,
                                                             scoring)
    if not 0 < args.quantile < 1:
        raise ConfigError(f"--quantile must lie in (0, 1), got {args.quantile}")
    _check_devices(args.devices)
    writable_folder(args.out)
    source = training_source(args.data, model_config.frame_size, args.cache_dir)
    train_run(source, model_config, train_config, args.out, scoring=scoring_config,
              holdout_fraction=args.holdout_fraction, holdout_videos=args.holdout_videos,
              quantile=args.quantile, resume=args.resume, devices=args.devices,
              logger=args.logger, plain=args.plain)


def cmd_score(args: argparse.Namespace) -> None:
    from convlstm_ae.pipeline.overlay import write_score_overlay
    from convlstm_ae.pipeline.score import (
        open_scorer,
        read_inputs,
        score_summary,
        score_video,
        write_score_table,
    )
    from convlstm_ae.release_files import LOCATED
    from convlstm_ae.viz.overlay import check_overlay_path, overlay_path

    _check_fps(args.fps)
    if args.overlay:
        check_overlay_path(args.overlay)  # before any work

    scorer = open_scorer(args.model, device=args.device, backend=args.backend, plain=args.plain,
                         t_prime=args.t_prime if "t_prime" in args else "model",
                         windows=getattr(args, "windows", None), error=getattr(args, "error", None))

    located = (scorer.calibration or {}).get(LOCATED)
    if args.overlay and located is None:
        raise ConfigError(f"{args.model}: --overlay needs the model's located calibration "
                          "(convlstm-ae calibrate MODEL NORMAL_FOOTAGE, two videos or more)")

    def scored():
        config = scorer.model.config
        for name, frames, fps in read_inputs(args.input, config.frame_size, args.skip_bad,
                                             args.strict, config.clip_length, args.fps):
            scores = score_video(scorer, frames, fps)
            columns = scores.columns
            print(f"{name}: {score_summary(columns, scorer.scoring)}", flush=True)
            if args.overlay:
                path = overlay_path(args.overlay, Path(name).stem, several=args.input.is_dir())
                write_score_overlay(frames, scores, located, path)
                print(f"{name}: overlay -> {path}", flush=True)
            yield name, columns

    if args.out.is_file():
        print(f"{args.out} exists: it is replaced once scoring succeeds")
    rows = write_score_table(args.out, scored(), args.input)
    print(f"{rows} frames scored -> {args.out}")


def _watch_numbers(args: argparse.Namespace) -> None:
    """One-line errors for watch's numeric flags, before anything is opened."""
    for flag in ("queue", "release_frames", "min_frames", "threads"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    for flag in ("max_wait", "backoff", "max_backoff", "notify_timeout"):
        if not getattr(args, flag) > 0:
            raise ConfigError(f"--{flag.replace('_', '-')} must be positive, "
                              f"got {getattr(args, flag)}")
    if args.max_backoff < args.backoff:
        raise ConfigError(f"--max-backoff {args.max_backoff} is below --backoff {args.backoff}")


def cmd_watch(args: argparse.Namespace) -> None:
    from convlstm_ae.live.engine import open_engine
    from convlstm_ae.live.events import EventRules
    from convlstm_ae.live.outputs import Notifier
    from convlstm_ae.live.sources import open_source
    from convlstm_ae.live.watch import Watch, model_scoring

    _watch_numbers(args)
    _check_fps(args.fps)
    writable_folder(args.out)
    if args.demo:
        _watch_demo(args)
    elif args.model is None or not args.sources:
        raise ConfigError("watch needs MODEL and at least one SOURCE (or --demo)")
    scoring = model_scoring(args.model, args.threshold)
    rules = EventRules(scoring.threshold, args.release_margin, args.release_frames,
                       args.min_frames)
    backend = args.backend or ("torch" if importlib.util.find_spec("torch") else "onnx")
    engine = open_engine(args.model, len(args.sources), backend=backend,
                         device=args.device, threads=args.threads, maps=bool(args.overlay))
    sources = [open_source(s, engine.frame_size, realtime=args.realtime, backoff=args.backoff,
                           max_backoff=args.max_backoff, queue_frames=args.queue, fps=args.fps)
               for s in args.sources]
    notifier = Notifier(args.on_event, args.webhook, args.notify_timeout)
    watch = Watch(engine, sources, args.out, scoring=scoring, rules=rules, notifier=notifier,
                  max_wait=args.max_wait, overlay=args.overlay)
    print(f"watching {len(sources)} source(s), threshold {scoring.threshold:.3g}; "
          "Ctrl-C ends", flush=True)
    for report in watch.run():
        problem = f"; stopped: {report.error}" if report.error else ""
        print(f"{report.name}: {report.frames} frames scored, {report.events} event(s), "
              f"{report.drops} dropped, {report.reconnects} reconnect(s){problem}")
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
    args.realtime = False  # every frame, however slow the machine
    spans = ", ".join(f"{a.kind} at frames {a.first}-{a.stop - 1}" for a in anomalies)
    print(f"demo video {video}: {spans}")


def _watch_report(args: argparse.Namespace) -> None:
    from convlstm_ae.pipeline.report import build_report, write_report
    from convlstm_ae.pipeline.report_inputs import read_report_input

    path = args.out / "report.html"
    data = read_report_input(args.out, events=None, model=args.model)
    write_report(path, build_report(data, args.out / "labels.json",
                                    title="convlstm-ae watch --demo"))
    print(f"report -> {path}")
def cmd_calibrate(args: argparse.Namespace) -> None:
    from convlstm_ae.pipeline.calibrate import recalibrate

    summary = recalibrate(args.model, args.footage, args.quantile, args.out, args.device,
                          args.windows, args.error)
    windows, error = summary.scheme
    was = (f" (the model's were {summary.previous_scheme[0]} and {summary.previous_scheme[1]};"
           " these are now its default)" if summary.previous_scheme else "")
    print(f"scored with {windows} windows and {error} errors{was}")
    counts = ", ".join(f"{p}: {n}" for p, n in summary.position_counts.items())
    print(f"{summary.frames} normal frames from {summary.videos} video(s); frames per "
          f"window position: {counts}")
    if summary.pooled:
        print("too few frames at some window position: one mean and spread for all positions")
    if summary.old_threshold is None:
        old = "no previous calibration, "
    elif summary.above_old is None:
        old = f"the old threshold {summary.old_threshold:.4g} was for other windows or errors, "
    else:
        old = f"{summary.above_old:.2%} above the old threshold {summary.old_threshold:.4g}, "
    print(f"alarm threshold {summary.threshold:.4g} (quantile {args.quantile:g}); of these "
          f"frames {old}{summary.above_new:.2%} above the new one")
    if summary.located is None:
        print("no located live score: it needs two videos or more (each is scored from "
              "statistics of the others)")
    else:
        located = summary.located
        print(f"located live score (watch's): cells of {located.cell_size} px, alarm threshold "
              f"{located.threshold:.3g} (quantile {located.quantile:g} of each video scored "
              f"from the others); videos differ by {located.spread:.2f}x at that quantile")
    written = "written to" if summary.changed else "unchanged in"
    print(f"calibration {written} {summary.model_dir}")


def cmd_export(args: argparse.Namespace) -> None:
    from convlstm_ae.export.paths import ONNX_SCORE
    from convlstm_ae.release import export_scoring_graph

    path = export_scoring_graph(args.model, writable_file(args.out or args.model / ONNX_SCORE))
    print(f"live scoring step (frame, last, keep, h, c) -> Eq. 3 terms, patch error, error "
          f"map, cell means, h, c, normalised frame: {path}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from convlstm_ae.metrics import roc_points
    from convlstm_ae.pipeline.evaluate import (
        SCORE_KINDS,
        TABLE_COLUMNS,
        evaluate_score_table,
        evaluate_table_alarms,
        table_fps,
        table_regularity,
    )
    from convlstm_ae.pipeline.score import read_score_table
    from convlstm_ae.viz.plots import plot_roc, plot_score_grid

    _check_fps(args.fps)
    if args.plot_videos < 0:
        raise ConfigError(f"--plot-videos must be >= 0, got {args.plot_videos}")
    writable_folder(args.out)
    scores = read_score_table(args.scores)
    metrics, labels = evaluate_score_table(scores, args.labels, args.scores)
    both = sum(bool(label.any() and not label.all()) for label in labels)
    print(f"{'score (Eq. 4 per video)':<30}{'micro AUC':>10}{'macro AUC':>10}{'EER':>8}")
    for kind, m in metrics.items():
        print(f"{SCORE_KINDS[kind]:<30}{m.micro_auc:>10.3f}{m.macro_auc:>10.3f}{m.eer:>8.3f}")
    print(f"macro AUC: mean over the {both} of {len(labels)} videos holding both classes")
    results = {kind: m.as_dict() for kind, m in metrics.items()}
    for column, key, title in (("calibrated_error", "deployment", "calibrated score (deployment)"),
                               ("live_score", "live", "located live score (watch's)")):
        deployment = evaluate_table_alarms(scores, labels, args.scores, args.fps, column)
        if deployment is None:
            continue
        results[key] = deployment.as_dict()
        rates = "/".join(f"{r:g}" for r in sorted(set(table_fps(scores, args.scores, args.fps))))
        print(f"{title}: AUC {deployment.auc:.3f}, alarms at {deployment.threshold:.4g}: "
              f"precision {deployment.precision:.3f}, recall {deployment.recall:.3f}, F1 "
              f"{deployment.f1:.3f}, {deployment.false_alarms_per_minute:.2f} false alarms per "
              f"minute of normal video at {rates} fps, {deployment.events_alarmed:.0%} of "
              f"{deployment.events} anomalous events alarmed within {deployment.within:g} s")
    write_json(args.out / "metrics.json", results)
    regularity = {kind: table_regularity(scores, kind) for kind in TABLE_COLUMNS}
    curves = {}
    for kind, per_video in regularity.items():
        fpr, tpr = roc_points([1 - s for s in per_video], labels)
        curves[SCORE_KINDS[kind]] = (fpr, tpr, metrics[kind].micro_auc)
    plot_roc(curves, args.out / "roc.png")
    panels = [(name, {SCORE_KINDS[k]: regularity[k][index] for k in TABLE_COLUMNS},
               labels[index]) for index, name in enumerate(list(scores)[: args.plot_videos])]
    plot_score_grid(panels, args.out / "scores.png")
    print(f"metrics, ROC and score plots -> {args.out}")


def _training_overrides(args: argparse.Namespace) -> dict:
    names = ("max_steps", "batch_size", "learning_rate", "num_workers", "seed")
    train = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return train | ({"snapshot_steps": args.snapshots} if args.snapshots else {})


def cmd_experiment(args: argparse.Namespace) -> None:
    from convlstm_ae.experiments.files import read_experiment, run_experiment
    from convlstm_ae.experiments.moving_mnist import MovingMNISTExperiment
    from convlstm_ae.experiments.real_video import RealVideoExperiment

    _quiet_lightning()
    if "devices" in args:
        _check_devices(args.devices)
    if args.config:
        kind, experiment = read_experiment(args.config)
        run_experiment(kind, experiment)
        return
    if not args.experiment:
        raise ConfigError("name an experiment (moving-mnist, ped2, ...) or pass --config FILE")
    common = dict(presets=tuple(args.presets.split(",")), train=_training_overrides(args),
                  devices=args.devices, plain=args.plain, stage=args.stage)
    if args.experiment == "moving-mnist":
        kind, experiment = args.experiment, MovingMNISTExperiment(
            out_dir=args.out, num_train=args.num_train, num_test=args.num_test,
            num_val=args.num_val, box_size=args.box_size, t_prime=args.t_prime,
            seed=args.seed, idx_path=args.idx_path, **common)
    else:
        kind, experiment = args.experiment, RealVideoExperiment(
            root=args.root, name=args.experiment,
            out_dir=args.out or Path("runs") / args.experiment,
            holdout_fraction=args.holdout_fraction, quantile=args.quantile,
            cache_dir=args.cache_dir, layout=args.layout, labels=args.labels, **common)
    run_experiment(kind, experiment)


def cmd_live_score(args: argparse.Namespace) -> None:
    from convlstm_ae.experiments.live_score import held_out_names, run_live_score

    held_out = held_out_names(args.model, args.held_out)
    results = run_live_score(args.model, args.root, held_out, args.out, args.layout)
    chosen, live = results["chosen"], results["test"]["live"]
    print(f"chosen on validation: {chosen['design']}, cells of {chosen['cell_size']} px, "
          f"alarm quantile {chosen['quantile']} (validation AUC {chosen['validation_auc']:.3f})")
    print(f"test: live AUC {live['auc']:.3f}, {live['false_alarms_per_minute']:.2f} false "
          f"alarms/min, {live['events_alarmed']:.0%} of {live['events']} events alarmed "
          f"within {live['within']:g} s; Eq. 4 (authors' reading) "
          f"{results['test']['eq4_authors_reading_micro_macro'][0]:.3f}")
    print(f"records -> {args.out}")


def cmd_tables(args: argparse.Namespace) -> None:
    """Rebuild an experiment's results, table and figures from its error records."""
    from convlstm_ae.experiments.results import build_results
    from convlstm_ae.experiments.tables import publish

    if not args.run.is_dir():
        raise ConfigError(f"{args.run}: not a folder; expected an experiment's output folder")
    writable_folder(args.run)
    results = build_results(args.run, quantile=args.quantile)
    print(publish(args.run, results, ("frame", "patch") if args.patch else ("frame",)))
    print(f"results: {args.run / 'results.json'}; figures: {args.run}/*.png")


def cmd_report(args: argparse.Namespace) -> None:
    from convlstm_ae.pipeline.report import build_report, write_report
    from convlstm_ae.pipeline.report_inputs import read_report_input

    writable_file(args.out)
    data = read_report_input(args.input, events=args.events, model=args.model)
    write_report(args.out, build_report(data, args.labels, title=f"convlstm-ae report: "
                                        f"{args.input.name}"))
    print(f"{len(data.videos)} videos, {len(data.events)} events -> {args.out}")


def cmd_data_check(args: argparse.Namespace) -> int:
    from convlstm_ae.data.check import check_dataset

    report = check_dataset(args.path, layout=args.layout, labels=args.labels)
    for line in report.summary:
        print(line)
    for line in report.problems:
        print(f"problem: {line}", file=sys.stderr)
    print(f"{len(report.problems)} problem(s)")
    return 1 if report.problems else 0


COMMANDS = {
    "mnist_generate": cmd_mnist_generate, "train": cmd_train, "score": cmd_score,
    "calibrate": cmd_calibrate,
    "export": cmd_export, "evaluate": cmd_evaluate, "experiment": cmd_experiment,
    "tables": cmd_tables, "report": cmd_report, "data_check": cmd_data_check,
    "watch": cmd_watch, "live_score": cmd_live_score,
}


class _ConsoleFormat(logging.Formatter):
    """Library messages as plain lines; warnings (a skipped video) on stderr."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def _console_logging() -> None:
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(_ConsoleFormat())
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(_ConsoleFormat())
    err.setLevel(logging.WARNING)
    log.handlers = [out, err]
    log.setLevel(logging.INFO)
    log.propagate = False


def _progress_bars() -> None:
    """tqdm bars on stderr; in a log file (not a terminal) one update every 30 s."""
    from functools import partial

    from tqdm import tqdm

    from convlstm_ae import progress

    interval = 0.1 if sys.stderr.isatty() else 30
    progress.report_with(partial(tqdm, mininterval=interval, dynamic_ncols=True, file=sys.stderr))


# what `pip install convlstm-ae` (the light runtime: watch with an exported model) leaves
# out and `convlstm-ae[train]` adds
TRAIN_PACKAGES = {"torch", "pytorch_lightning", "lightning", "safetensors", "sklearn",
                  "matplotlib", "scipy", "mlxtend", "onnx"}


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a command as Ctrl-C does: files being written are removed, exit 130
    (training installs its own handler that first finishes the step)."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _console_logging()
    _progress_bars()
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if on_main_thread else None
    try:
        code = COMMANDS[args.handler](args)
    except ConvLSTMAEError as error:
        print(f"convlstm-ae: error: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] not in TRAIN_PACKAGES:
            raise
        print(f"convlstm-ae: error: {args.handler.replace('_', ' ')} needs {error.name}, which "
              "this light install lacks: pip install 'convlstm-ae[train]'", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = ""
        if args.handler == "train":
            words = [w for w in (sys.argv[1:] if argv is None else argv) if w != "--resume"]
            resume = ("; the checkpoint of the last finished step is saved, continue with: "
                      f"convlstm-ae {' '.join(map(str, words))} --resume")
        elif args.handler == "experiment":
            resume = "; run the same command again to continue"
        print(f"convlstm-ae: interrupted{resume}", file=sys.stderr)
        return 130
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
