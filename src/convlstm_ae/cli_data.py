"""Console commands on datasets: ``data check`` and ``mnist generate``."""

from __future__ import annotations

import argparse
import sys


def cmd_mnist_generate(args: argparse.Namespace) -> None:
    """Write the Moving MNIST train and test scenarios (Sec. 4.3) and print their paths."""
    from convlstm_ae.data.moving_mnist import generate_dataset

    paths = generate_dataset(
        args.out, num_train=args.num_train, num_test=args.num_test, frame_size=args.frame_size,
        box_size=args.box_size, seed=args.seed, idx_path=args.idx_path,
    )
    for scenario, path in paths.items():
        print(f"{scenario}: {path}")


def cmd_data_check(args: argparse.Namespace) -> int:
    """Print a dataset folder's summary and problems; 1 if it has problems, else 0."""
    from convlstm_ae.data.check import check_dataset

    report = check_dataset(args.path, layout=args.layout, labels=args.labels)
    for line in report.summary:
        print(line)
    for line in report.problems:
        print(f"problem: {line}", file=sys.stderr)
    print(f"{len(report.problems)} problem(s)")
    return 1 if report.problems else 0
