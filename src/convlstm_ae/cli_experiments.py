"""Console commands on the paper's experiments and their results: experiment,
experiment live-score, tables, report."""

from __future__ import annotations

import argparse
from pathlib import Path

from convlstm_ae.atomic import writable_file, writable_folder
from convlstm_ae.cli_common import check_devices, quiet_lightning
from convlstm_ae.errors import ConfigError


def _training_overrides(args: argparse.Namespace) -> dict:
    """The training settings given on the command line."""
    names = ("max_steps", "batch_size", "learning_rate", "num_workers", "seed")
    train = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return train | ({"snapshot_steps": args.snapshots} if args.snapshots else {})


def cmd_experiment(args: argparse.Namespace) -> None:
    """Run one of the paper's experiments, named or from a config file."""
    from convlstm_ae.experiments.files import read_experiment, run_experiment
    from convlstm_ae.experiments.moving_mnist import MovingMNISTExperiment
    from convlstm_ae.experiments.real_video import RealVideoExperiment

    quiet_lightning()
    if "devices" in args:
        check_devices(args.devices)
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
    """Choose the located live score on validation videos, then measure it on the test."""
    from convlstm_ae.experiments.live_score import held_out_names, run_live_score

    held_out = held_out_names(args.model, args.held_out)
    writable_folder(args.out)
    if args.install:  # before the study, not after it
        writable_folder(args.model)
    _print_live(run_live_score(args.model, args.root, held_out, args.out, args.layout,
                               args.device, args.install))
    print(f"records -> {args.out}")
    if args.install:
        print(f"installed as the live score of {args.model} (calibration.json; the old one "
              "kept as calibration.previous.json)")


def _print_live(results: dict) -> None:
    chosen, live = results["chosen"], results["test"]["live"]
    print(f"chosen on validation: {chosen['design']}, cells of {chosen['cell_size']} px, "
          f"alarm quantile {chosen['quantile']} (validation AUC {chosen['validation_auc']:.3f})")
    print(f"test: live AUC {live['auc']:.3f}, {live['false_alarms_per_minute']:.2f} false "
          f"alarms/min, {live['events_alarmed']:.0%} of {live['events']} events alarmed "
          f"within {live['within']:g} s; Eq. 4 (authors' reading) "
          f"{results['test']['eq4_authors_reading_micro_macro'][0]:.3f}")


def cmd_tables(args: argparse.Namespace) -> None:
    """Rebuild an experiment's results, table and figures from its error records."""
    from convlstm_ae.experiments.live_records import RECORDS
    from convlstm_ae.experiments.live_score import live_score_results
    from convlstm_ae.experiments.results import build_results
    from convlstm_ae.experiments.tables import format_table, publish

    if not args.run.is_dir():
        raise ConfigError(f"{args.run}: not a folder; expected an experiment's output folder")
    writable_folder(args.run)
    if (args.run / RECORDS).is_file():  # experiment live-score
        _print_live(live_score_results(args.run)[0])
        print(f"validation.json, results.json, calibration.json, test_scores.npz -> {args.run}")
        return
    results = build_results(args.run, quantile=args.quantile)
    written = publish(args.run, results)
    print(format_table(results, ("frame", "patch") if args.patch else ("frame",)))
    print(f"results: {args.run / 'results.json'} ({'written' if written else 'unchanged'}); "
          f"figures: {args.run}/*.png")


def cmd_report(args: argparse.Namespace) -> None:
    """Write an HTML report of scored videos and their events."""
    from convlstm_ae.pipeline.report import build_report, write_report
    from convlstm_ae.pipeline.report_inputs import read_report_input

    writable_file(args.out)
    data = read_report_input(args.input, events=args.events, model=args.model)
    write_report(args.out, build_report(data, args.labels, title=f"convlstm-ae report: "
                                        f"{args.input.name}", page=args.out))
    print(f"{len(data.videos)} videos, {len(data.events)} events -> {args.out}")
