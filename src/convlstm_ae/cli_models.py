"""Console commands on models: train, score, calibrate, export, evaluate."""

from __future__ import annotations

import argparse
from pathlib import Path

from convlstm_ae.atomic import writable_file, writable_folder, write_json
from convlstm_ae.cli_common import check_devices, check_fps, check_rate, quiet_lightning
from convlstm_ae.errors import ConfigError


def cmd_train(args: argparse.Namespace) -> None:
    """Train a model on normal footage and release it with its calibration."""
    from convlstm_ae.pipeline.train import check_holdout, run_configs, train_run, training_source

    quiet_lightning()
    train = {name: getattr(args, name) for name in
             ("max_steps", "batch_size", "num_workers", "seed", "learning_rate",
              "checkpoint_every")
             if getattr(args, name) is not None}
    scoring = {name: getattr(args, name) for name in ("t_prime", "windows", "error")
               if name in args}
    model_config, train_config, scoring_config = run_configs(args.preset, args.config, train,
                                                             scoring)
    check_holdout(args.holdout_fraction, args.quantile)
    check_devices(args.devices)
    check_fps(args.fps)
    writable_folder(args.out)
    source, frame_rate = training_source(args.data, model_config.frame_size, args.cache_dir,
                                         args.fps, model_config.clip_length)
    train_run(source, model_config, train_config, args.out, scoring=scoring_config,
              frame_rate=frame_rate, holdout_fraction=args.holdout_fraction,
              holdout_videos=args.holdout_videos, quantile=args.quantile, resume=args.resume,
              devices=args.devices, logger=args.logger, plain=args.plain)


def cmd_score(args: argparse.Namespace) -> None:
    """Score videos into a table of per-frame scores, optionally drawing overlays."""
    from convlstm_ae.data.layouts import DEFAULT_FPS
    from convlstm_ae.pipeline.overlay import write_score_overlay
    from convlstm_ae.pipeline.score import (
        open_scorer,
        read_inputs,
        score_summary,
        score_video,
        warn_if_faster,
        write_score_table,
    )
    from convlstm_ae.release_files import LOCATED, load_frame_rate
    from convlstm_ae.viz.overlay import check_overlay_path, overlay_path

    check_fps(args.fps)
    if args.overlay:
        check_overlay_path(args.overlay)  # before any work

    scorer = open_scorer(args.model, device=args.device, backend=args.backend, plain=args.plain,
                         t_prime=args.t_prime if "t_prime" in args else "model",
                         windows=getattr(args, "windows", None), error=getattr(args, "error", None))

    located = (scorer.calibration or {}).get(LOCATED)
    if args.overlay and located is None:
        raise ConfigError(f"{args.model}: --overlay needs the model's located calibration "
                          "(convlstm-ae calibrate MODEL NORMAL_FOOTAGE, two videos or more)")

    rate = load_frame_rate(args.model)  # a faster video is scored with a warning

    def scored():
        config = scorer.model.config
        for name, frames, stated in read_inputs(args.input, config.frame_size, args.skip_bad,
                                                args.strict, config.clip_length, args.fps,
                                                scorer.scoring):
            fps = stated or DEFAULT_FPS
            warn_if_faster(name, fps, rate)
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


def cmd_calibrate(args: argparse.Namespace) -> None:
    """Calibrate a released model's live score on normal footage and print the result."""
    from convlstm_ae.pipeline.calibrate import recalibrate

    check_rate(args.rate)
    check_fps(args.fps)
    summary = recalibrate(args.model, args.footage, args.quantile, args.out, args.device,
                          args.windows, args.error, args.rate, args.fps)
    windows, error = summary.scheme
    was = (f" (the model's were {summary.previous_scheme[0]} and {summary.previous_scheme[1]};"
           " these are now its default)" if summary.previous_scheme else "")
    print(f"scored with {windows} windows and {error} errors{was}")
    if summary.frames < summary.footage_frames:
        whose = "the model's" if args.rate is None else "--rate's"
        print(f"footage scored at most at {whose} {summary.rate:g} fps, as watch scores it: "
              f"{summary.frames:,} of {summary.footage_frames:,} frames")
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
    """Export a released model's live scoring step to ONNX."""
    from convlstm_ae.export.paths import ONNX_SCORE
    from convlstm_ae.release import export_scoring_graph

    path = export_scoring_graph(args.model, writable_file(args.out or args.model / ONNX_SCORE))
    print(f"live scoring step (frame, last, keep, h, c) -> Eq. 3 terms, patch error, error "
          f"map, cell means, h, c, normalised frame: {path}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Evaluate a score table against labels: AUC, EER, alarms, ROC and score plots."""
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

    check_fps(args.fps)
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
