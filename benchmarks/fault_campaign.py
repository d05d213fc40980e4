"""Fault campaign: bad inputs and interruptions handed to the ``convlstm-ae`` CLI as a new
user would, each in a fresh temporary folder, and the outcome of each classified.

Verdicts: ``one-line error rc 1`` (good: one ``convlstm-ae: error:`` line naming the
file or flag), ``handled`` (good: the documented outcome, e.g. a warning and rc 0 on a
truncated video, exit 130 with the resume hint on SIGINT, argparse's usage and one
error line naming the flag with rc 2), ``traceback``, ``silent
acceptance`` (rc 0 where an error or a warning was due), ``destroyed file`` (a file, device
or FIFO that existed before the try is gone, of another type, or changed where it should
not be), ``secret leaked`` (a secret planted in a URL is in stdout, stderr, a file name or
a file written) and ``wrong outcome`` (anything else: several lines, nothing named,
another exit code). Prints a table and the counts;
exits 1 if any try is neither good verdict.

    python benchmarks/fault_campaign.py                      # the current checkout
    python benchmarks/fault_campaign.py --checkout /tmp/fresh-robust --jobs 3

The CLI runs as ``python -m convlstm_ae.cli`` with ``PYTHONPATH=CHECKOUT/src``. One
``tiny`` model is trained for 2 steps on synthetic frame folders and shared by every try
that needs one. Only NumPy, OpenCV and Matplotlib are imported here, not the package.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import (  # noqa: E402  the tests' writers
    lying_npy,
    with_member,
    write_avi,
    write_frames,
    write_plots,
)

GOOD = ("one-line error rc 1", "handled")
TRAIN = ["--preset", "tiny", "--max-steps", "2", "--batch-size", "2", "--num-workers", "0"]
SIZE = (48, 64)  # (H, W) of the synthetic footage
BAR = re.compile(r"\d+%\||\?\w+/s|\w+/s\]|^\s*$")  # a tqdm progress-bar fragment


@dataclass
class Outcome:
    """What one CLI run did."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    signalled: bool = False  # an interrupted try's signal was sent (its trigger came;
    # an ``after:SECONDS`` try may end first)


@dataclass
class Try:
    """One bad input or fault.

    Attributes:
        name: what is tried, as the table shows it.
        args: CLI arguments; ``{base}`` is the shared fixture folder, ``{tmp}`` this
            try's fresh folder (also the working directory).
        expect: ``"error"`` (one line, rc 1, naming each of ``names``) or ``"handled"``
            (``check`` says whether the outcome is the documented one).
        names: what the error line must name (``{tmp}``/``{base}`` expanded).
        prepare: builds this try's inputs in ``tmp`` (given ``tmp``, ``base``).
        check: for ``handled``: (outcome, tmp) -> None if as documented, else what differs.
        interrupt: (signal, path whose appearance triggers it, or a stdout text).
        expected: the expected outcome in words (default from ``expect``).
        secret: text that must appear in no output, file name or file written.
        changes: files under ``tmp`` (glob patterns) the try may rewrite.
    """

    name: str
    args: list[str]
    expect: str = "error"
    names: tuple[str, ...] = ()
    prepare: Callable[[Path, Path], None] | None = None
    check: Callable[[Outcome, Path], str | None] | None = None
    interrupt: tuple[int, str] | None = None
    expected: str = ""
    secret: str = ""
    changes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------ fixtures


def moving_frames(count: int, seed: int = 0) -> np.ndarray:
    """A textured background rolling one pixel per frame: (count, H, W) uint8."""
    base = np.random.default_rng(seed).integers(0, 200, SIZE, dtype=np.uint8)
    return np.stack([np.roll(base, index, axis=1) for index in range(count)])


def write_truncated_avi(path: Path) -> Path:
    """An MJPG video cut at 60 % of its bytes: its header still promises 40 frames."""
    write_avi(path, moving_frames(40, seed=3))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def write_frames_dataset(root: Path) -> Path:
    """The frames layout: 1 training and 2 test clips of 12 frames, labels.json."""
    write_frames(root / "training" / "frames" / "01", moving_frames(12, 1))
    for clip in ("01", "02"):
        write_frames(root / "testing" / "frames" / clip, moving_frames(12, 2))
    (root / "labels.json").write_text(json.dumps({"01": [0] * 6 + [1] * 6, "02": [0] * 12}))
    return root


def build_fixtures(base: Path, cli: Callable[..., Outcome]) -> None:
    """Shared inputs, a 2-step ``tiny`` run, its scores and their labels."""
    for name, seed in (("cam_a", 0), ("cam_b", 1)):
        write_frames(base / "footage" / name, moving_frames(40, seed))
    write_avi(base / "clip.avi", moving_frames(30, 4))
    np.save(base / "clip.npy", moving_frames(30, 5))
    write_truncated_avi(base / "truncated.avi")
    write_avi(base / "one_frame.avi", moving_frames(1, 6))
    write_plots(base / "plots")
    write_frames_dataset(base / "frames_dataset")
    done = cli(["train", "--data", base / "footage", "--out", base / "run", *TRAIN,
                "--checkpoint-every", "1"], base)
    if done.code != 0 or not (base / "run" / "model").is_dir():
        sys.exit(f"fixture: training the tiny model failed (rc {done.code}):\n{done.stderr}")
    done = cli(["score", base / "run" / "model", base / "footage", "--out", base / "scores.csv",
                "--device", "cpu"], base)
    if done.code != 0:
        sys.exit(f"fixture: scoring failed (rc {done.code}):\n{done.stderr}")
    (base / "labels.json").write_text(json.dumps({"cam_a": [0] * 20 + [1] * 20,
                                                  "cam_b": [0] * 40}))


# ------------------------------------------------------------------------- input makers


def copy_model(tmp: Path, base: Path) -> None:
    shutil.copytree(base / "run" / "model", tmp / "model")


def copy_run(damage: Callable[[Path], None] | None = None) -> Callable[[Path, Path], None]:
    """The shared run folder copied into ``tmp/run``, its last.ckpt then damaged."""
    def prepare(tmp: Path, base: Path) -> None:
        shutil.copytree(base / "run", tmp / "run")
        if damage:
            damage(tmp / "run" / "checkpoints" / "last.ckpt")
    return prepare


def write(name: str, content: str | bytes) -> Callable[[Path, Path], None]:
    """A file ``tmp/name`` holding ``content``."""
    def prepare(tmp: Path, base: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return prepare


def npy(name: str, array: np.ndarray) -> Callable[[Path, Path], None]:
    def prepare(tmp: Path, base: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp / name, array)
    return prepare


def both(*steps: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def prepare(tmp: Path, base: Path) -> None:
        for step in steps:
            step(tmp, base)
    return prepare


def video_folder(*bad: tuple[str, bytes | None]) -> Callable[[Path, Path], None]:
    """``tmp/videos``: a good clip.avi beside each (name, content) given; None: 1 frame."""
    def prepare(tmp: Path, base: Path) -> None:
        folder = tmp / "videos"
        folder.mkdir()
        shutil.copy(base / "clip.avi", folder / "clip.avi")
        for name, content in bad:
            if content is None:
                write_avi(folder / name, moving_frames(1))
            else:
                (folder / name).write_bytes(content)
    return prepare


def scores_table(edit: Callable[[list[str]], list[str]]) -> Callable[[Path, Path], None]:
    """``tmp/scores.csv``: the shared score table, its lines edited."""
    def prepare(tmp: Path, base: Path) -> None:
        lines = (base / "scores.csv").read_text().splitlines()
        (tmp / "scores.csv").write_text("\n".join(edit(lines)) + "\n")
    return prepare


def nan_in_first_row(lines: list[str]) -> list[str]:
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("regularity")] = "nan"
    return [lines[0], ",".join(row), *lines[2:]]


def damaged(path: Path) -> None:
    """Bytes flipped every 97th byte from the middle on."""
    data = bytearray(path.read_bytes())
    for index in range(len(data) // 2, len(data), 97):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def nan_weights(path: Path) -> None:
    """The first 64 data bytes of a safetensors file set to 0xFF (float32 NaN)."""
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    data[start:start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def copy_labels(kind: str) -> Callable[[Path, Path], None]:
    """A damaged label file ``tmp/labels.KIND`` made from a good one of that kind."""
    def prepare(tmp: Path, base: Path) -> None:
        path = tmp / f"labels.{kind}"
        if kind == "mat":
            import scipy.io

            scipy.io.savemat(path, {"gt": np.array([[np.array([[21], [40]])]], dtype=object)})
        elif kind == "npy":
            np.save(path, np.zeros((1, 40), np.int64))
        else:
            path.write_text(json.dumps({"cam_a": [0] * 40, "cam_b": [0] * 40}))
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return prepare


# ------------------------------------------------------------------------------- checks


def rc0_with(*texts: str) -> Callable[[Outcome, Path], str | None]:
    """rc 0 and each of ``texts`` somewhere in the output."""
    def check(done: Outcome, tmp: Path) -> str | None:
        if done.code != 0:
            return f"rc {done.code}"
        missing = [t for t in texts if t not in done.stdout + done.stderr]
        return f"rc 0, no {missing[0]!r}" if missing else None
    return check


def usage_error(done: Outcome, tmp: Path) -> str | None:
    """argparse's refusal: usage and one error line, rc 2."""
    last = done.stderr.strip().splitlines()[-1:] or [""]
    return None if done.code == 2 and "error:" in last[0] else f"rc {done.code}"


def interrupted_train(done: Outcome, tmp: Path) -> str | None:
    if done.code != 130:
        return f"rc {done.code}"
    if "--resume" not in done.stderr:
        return "rc 130 without the resume command"
    if not (tmp / "run" / "checkpoints" / "last.ckpt").is_file():
        return "rc 130, no checkpoint"
    return None


def interrupted_score(done: Outcome, tmp: Path) -> str | None:
    left = sorted(p.name for p in tmp.iterdir() if p.name != "videos")
    if done.code != 130 or "interrupted" not in done.stderr:
        return f"rc {done.code}, left {left}"
    return f"left {left}" if left else None


def truncated_trains(done: Outcome, tmp: Path) -> str | None:
    problem = rc0_with("decoded")(done, tmp)
    return problem or (None if (tmp / "run" / "model").is_dir() else "no model")


def replaced_table(done: Outcome, tmp: Path) -> str | None:
    problem = rc0_with("is replaced")(done, tmp)
    return problem or (None if "frame" in (tmp / "old.csv").read_text() else "not replaced")


# --------------------------------------------------------------------------------- tries


def not_writable(tmp: Path) -> str:
    """A folder that cannot be written: read-only for a user, under /proc for root."""
    if os.geteuid() == 0:
        return "/proc/convlstm-ae-campaign/out"
    locked = tmp / "locked"
    locked.mkdir(mode=0o500, exist_ok=True)
    return str(locked / "out")


def tries(unwritable: str) -> list[Try]:
    """Every try of the campaign."""
    model, footage, scores = "{base}/run/model", "{base}/footage", "{base}/scores.csv"
    labels = "{base}/labels.json"
    train = ["train", "--out", "{tmp}/run", *TRAIN]
    score = ["score", model, "--device", "cpu"]
    evaluate = ["evaluate", scores, "--labels", labels, "--out", "{tmp}/ev"]
    garbage = os.urandom(4096)
    result = [
        # ---- general
        Try("--version", ["--version"], "handled", check=rc0_with("convlstm-ae ")),
        Try("--help", ["--help"], "handled", check=rc0_with("usage: convlstm-ae")),
        Try("train --help", ["train", "--help"], "handled", check=rc0_with("--resume")),
        Try("no command", [], "handled", check=usage_error, expected="usage, rc 2"),
        Try("unknown command", ["frobnicate"], "handled", check=usage_error,
            expected="usage, rc 2"),
        Try("train --batch-size abc", [*train, "--data", footage, "--batch-size", "abc"],
            "handled", check=usage_error, expected="usage, rc 2"),
    ]
    # ---- training arguments (before any work)
    for flag, value, named in (
        ("--batch-size", "0", "batch_size"), ("--batch-size", "-2", "batch_size"),
        ("--learning-rate", "-1", "learning_rate"), ("--learning-rate", "nan", "learning_rate"),
        ("--learning-rate", "inf", "learning_rate"),
        ("--num-workers", "-1", "num_workers"), ("--max-steps", "0", "max_steps"),
        ("--max-steps", "-1", "max_steps"), ("--checkpoint-every", "0", "checkpoint_every"),
        ("--quantile", "2", "quantile"), ("--quantile", "nan", "quantile"),
        ("--holdout-fraction", "1.5", "holdout"), ("--holdout-fraction", "-0.1", "holdout"),
        ("--holdout-fraction", "nan", "holdout"), ("--seed", "-1", "seed"),
        ("--t-prime", "0", "t-prime"), ("--t-prime", "-3", "t-prime"),
        ("--devices", "0", "devices"), ("--devices", "-1", "devices"),
        ("--preset", "huge", "huge"),
    ):
        result.append(Try(f"train {flag} {value}", [*train, "--data", footage, flag, value],
                          names=(named,)))
    result += [
        # ---- training outputs
        Try("train --out an existing file", [*train, "--data", footage, "--out", "{tmp}/f"],
            names=("{tmp}/f",), prepare=write("f", "x")),
        Try("train --out a used run folder", [*train, "--data", footage, "--out", "{tmp}/run"],
            names=("{tmp}/run",), prepare=copy_run()),
        Try("train --out not writable", [*train, "--data", footage, "--out", unwritable],
            names=(unwritable,)),
        # ---- training data
        Try("train --data missing", [*train, "--data", "{tmp}/nothing"], names=("nothing",)),
        Try("train --data an empty folder", [*train, "--data", "{tmp}/empty"],
            names=("{tmp}/empty",), prepare=lambda tmp, base: (tmp / "empty").mkdir()),
        Try("train --data one video", [*train, "--data", "{base}/clip.avi"], "handled",
            check=rc0_with("one training video")),
        Try("train --data a .npy", [*train, "--data", "{base}/clip.npy"], "handled",
            check=rc0_with("one training video")),
        Try("train --data a truncated .avi", [*train, "--data", "{base}/truncated.avi"],
            "handled", check=truncated_trains, expected="warning naming it, trains, rc 0"),
        Try("train --data a folder with a 0-byte video",
            [*train, "--data", "{tmp}/videos"], names=("empty.avi",),
            prepare=video_folder(("empty.avi", b""))),
        Try("train --data a folder with a corrupt video",
            [*train, "--data", "{tmp}/videos"], names=("bad.avi",),
            prepare=video_folder(("bad.avi", garbage))),
        Try("train --data a 1-frame video", [*train, "--data", "{base}/one_frame.avi"],
            names=("1 frame",)),
        Try("train --data the PNG plots folder", [*train, "--data", "{base}/plots"],
            names=("scores.png",)),
        Try("train --data a .txt file", [*train, "--data", "{tmp}/notes.txt"],
            names=("notes.txt",), prepare=write("notes.txt", "hello")),
        Try("train --data a corrupt .npy", [*train, "--data", "{tmp}/bad.npy"],
            names=("bad.npy",), prepare=write("bad.npy", garbage)),
        Try("train --data a 2-D .npy", [*train, "--data", "{tmp}/flat.npy"],
            names=("flat.npy",), prepare=npy("flat.npy", np.zeros((48, 64), np.uint8))),
        Try("train --data a .npz that is not Moving-MNIST", [*train, "--data", "{tmp}/x.npz"],
            names=("x.npz",), prepare=write("x.npz", garbage)),
        Try("train --data training/frames without testing/", [*train, "--data", "{tmp}/ds"],
            names=("{tmp}/ds",), prepare=lambda tmp, base: write_frames(
                tmp / "ds" / "training" / "frames" / "01", moving_frames(12))),
        # ---- resume
        Try("train --resume, corrupt last.ckpt", [*train, "--data", footage, "--resume"],
            names=("last.ckpt",), prepare=copy_run(damaged)),
        Try("train --resume, truncated last.ckpt", [*train, "--data", footage, "--resume"],
            names=("last.ckpt",), prepare=copy_run(
                lambda p: p.write_bytes(p.read_bytes()[:1000]))),
        Try("train --resume, 0-byte last.ckpt", [*train, "--data", footage, "--resume"],
            names=("last.ckpt",), prepare=copy_run(lambda p: p.write_bytes(b""))),
        Try("train --resume, garbage last.ckpt", [*train, "--data", footage, "--resume"],
            names=("last.ckpt",), prepare=copy_run(lambda p: p.write_bytes(garbage))),
        Try("train --resume, other-preset last.ckpt",
            [*train, "--data", footage, "--resume", "--preset", "conv-ae-tiny"],
            names=("last.ckpt",), prepare=copy_run()),
        Try("train --resume without a checkpoint", [*train, "--data", footage, "--resume"],
            names=("{tmp}/run",)),
        # ---- config files
        Try("train --config bad YAML", [*train, "--data", footage, "--config", "{tmp}/c.yaml"],
            names=("c.yaml",), prepare=write("c.yaml", "train: [1, 2\n  x: :")),
        Try("train --config unknown key", [*train, "--data", footage, "--config",
                                           "{tmp}/c.yaml"],
            names=("c.yaml", "bogus"), prepare=write("c.yaml", "train:\n  bogus: 1\n")),
        Try("train --config wrong type", [*train, "--data", footage, "--config",
                                          "{tmp}/c.yaml"],
            names=("c.yaml", "checkpoint_every"),
            prepare=write("c.yaml", "train:\n  checkpoint_every: two\n")),
        Try("train --config a list", [*train, "--data", footage, "--config", "{tmp}/c.yaml"],
            names=("c.yaml",), prepare=write("c.yaml", "- 1\n- 2\n")),
        Try("train --config section not a mapping", [*train, "--data", footage, "--config",
                                                     "{tmp}/c.yaml"],
            names=("c.yaml",), prepare=write("c.yaml", "train: 3\n")),
        Try("train --config missing", [*train, "--data", footage, "--config", "{tmp}/no.yaml"],
            names=("no.yaml",)),
        Try("train --config binary", [*train, "--data", footage, "--config", "{tmp}/c.yaml"],
            names=("c.yaml",), prepare=write("c.yaml", garbage)),
        # ---- score
        Try("score, model folder missing", ["score", "{tmp}/nomodel", "{base}/clip.avi"],
            names=("nomodel",)),
        Try("score, a folder that is not a model", ["score", "{base}/footage", "{base}/clip.avi"],
            names=("footage",)),
        Try("score, truncated weights", ["score", "{tmp}/model", "{base}/clip.avi"],
            names=("model.safetensors",), prepare=both(copy_model, lambda tmp, base: truncate(
                tmp / "model" / "model.safetensors"))),
        Try("score, NaN bytes in the weights", ["score", "{tmp}/model", "{base}/clip.avi"],
            names=("model.safetensors",), prepare=both(copy_model, lambda tmp, base: nan_weights(
                tmp / "model" / "model.safetensors"))),
        Try("score, config.json not JSON", ["score", "{tmp}/model", "{base}/clip.avi"],
            names=("config.json",), prepare=both(copy_model, write("model/config.json", "{x"))),
        Try("score, config.json a list", ["score", "{tmp}/model", "{base}/clip.avi"],
            names=("config.json",), prepare=both(copy_model, write("model/config.json", "[]"))),
        Try("score, input missing", [*score, "{tmp}/none.avi"], names=("none.avi",)),
        Try("score a truncated .avi", [*score, "{base}/truncated.avi"], "handled",
            check=rc0_with("decoded", "truncated"), expected="warning with both counts, rc 0"),
        Try("score --strict a truncated .avi", [*score, "{base}/truncated.avi", "--strict"],
            names=("truncated.avi",)),
        Try("score a 1-frame video", [*score, "{base}/one_frame.avi"], names=("one_frame.avi",)),
        Try("score a 0-byte video", [*score, "{tmp}/empty.avi"], names=("empty.avi",),
            prepare=write("empty.avi", b"")),
        Try("score a corrupt video", [*score, "{tmp}/bad.mp4"], names=("bad.mp4",),
            prepare=write("bad.mp4", garbage)),
        Try("score an empty folder", [*score, "{tmp}/empty"], names=("empty",),
            prepare=lambda tmp, base: (tmp / "empty").mkdir()),
        Try("score the PNG plots folder", [*score, "{base}/plots"], names=("scores.png",)),
        Try("score a folder with a corrupt video", [*score, "{tmp}/videos"], names=("bad.avi",),
            prepare=video_folder(("bad.avi", garbage))),
        Try("score --skip-bad, a folder with a corrupt video",
            [*score, "{tmp}/videos", "--skip-bad"], "handled",
            check=rc0_with("skipped: ", "bad.avi"), prepare=video_folder(("bad.avi", garbage))),
        Try("score a NaN .npy", [*score, "{tmp}/nan.npy"], names=("nan.npy",),
            prepare=npy("nan.npy", np.full((12, 48, 64), np.nan, np.float32))),
        Try("score a 4-D .npy", [*score, "{tmp}/x.npy"], names=("x.npy",),
            prepare=npy("x.npy", np.zeros((2, 12, 48, 64), np.uint8))),
        Try("score an empty .npy", [*score, "{tmp}/x.npy"], names=("x.npy",),
            prepare=npy("x.npy", np.zeros((0, 48, 64), np.uint8))),
        Try("score a .txt file", [*score, "{tmp}/notes.txt"], names=("notes.txt",),
            prepare=write("notes.txt", "hello")),
        Try("score --out an existing folder", [*score, "{base}/clip.avi", "--out", "{tmp}/d"],
            names=("{tmp}/d",), prepare=lambda tmp, base: (tmp / "d").mkdir()),
        Try("score --out an existing file", [*score, "{base}/clip.avi", "--out", "{tmp}/old.csv"],
            "handled", check=replaced_table, prepare=write("old.csv", "old"),
            changes=("old.csv",),
            expected="says it replaces it, rc 0"),
        Try("score --out not writable", [*score, "{base}/clip.avi", "--out",
                                         f"{unwritable}/s.csv"], names=(unwritable,)),
        Try("score --device cuda (CPU build)", ["score", model, "{base}/clip.avi", "--device",
                                                "cuda"], names=("--device",)),
        Try("score --device tpu", ["score", model, "{base}/clip.avi", "--device", "tpu"],
            names=("--device",)),
        Try("score --device cuda:x", ["score", model, "{base}/clip.avi", "--device", "cuda:x"],
            names=("--device",)),
        Try("score --t-prime 0", [*score, "{base}/clip.avi", "--t-prime", "0"],
            names=("t-prime",)),
        Try("score --backend onnx, read-only model", [*score, "{base}/clip.avi", "--backend",
                                                      "onnx", "--out", "{tmp}/s.csv"],
            "handled", check=rc0_with("frames scored"),
            prepare=both(copy_model, lambda tmp, base: (tmp / "model").chmod(0o555)),
            expected="scores; ONNX step beside or in the cache, rc 0"),
        # ---- export
        Try("export --out an existing folder", ["export", model, "--out", "{tmp}/d"],
            names=("{tmp}/d",), prepare=lambda tmp, base: (tmp / "d").mkdir()),
        Try("export --out not writable", ["export", model, "--out", f"{unwritable}/m.onnx"],
            names=(unwritable,)),
        Try("export, model missing", ["export", "{tmp}/nomodel", "--out", "{tmp}/m.onnx"],
            names=("nomodel",)),
        Try("export --out an existing file", ["export", model, "--out", "{tmp}/m.onnx"],
            "handled", check=rc0_with("m.onnx"), prepare=write("m.onnx", "old"),
            changes=("m.onnx",),
            expected="replaced, rc 0"),
        # ---- evaluate
        Try("evaluate, non-number CSV labels", [*evaluate[:2], "--labels", "{tmp}/l.csv",
                                                "--out", "{tmp}/ev"],
            names=("l.csv",), prepare=write("l.csv", "video,frame,label\ncam_a,0,abc\n")),
        Try("evaluate, CSV labels missing columns", [*evaluate[:2], "--labels", "{tmp}/l.csv",
                                                     "--out", "{tmp}/ev"],
            names=("l.csv",), prepare=write("l.csv", "video,label\ncam_a,0\n")),
        Try("evaluate, labels file missing", [*evaluate[:2], "--labels", "{tmp}/no.json",
                                              "--out", "{tmp}/ev"], names=("no.json",)),
        Try("evaluate, mismatched frame counts", [*evaluate[:2], "--labels", "{tmp}/l.json",
                                                  "--out", "{tmp}/ev"],
            names=("cam_a",), prepare=write("l.json", json.dumps({"cam_a": [0, 1] * 10,
                                                                  "cam_b": [0] * 40}))),
        Try("evaluate, a video without labels", [*evaluate[:2], "--labels", "{tmp}/l.json",
                                                 "--out", "{tmp}/ev"],
            names=("cam_b",), prepare=write("l.json", json.dumps({"cam_a": [0, 1] * 20}))),
        Try("evaluate, labels of one class only", [*evaluate[:2], "--labels", "{tmp}/l.json",
                                                   "--out", "{tmp}/ev"],
            names=("l.json",), prepare=write("l.json", json.dumps({"cam_a": [0] * 40,
                                                                   "cam_b": [0] * 40}))),
        Try("evaluate, labels not 0/1", [*evaluate[:2], "--labels", "{tmp}/l.json",
                                         "--out", "{tmp}/ev"],
            names=("l.json",), prepare=write("l.json", json.dumps({"cam_a": [0, 7] * 20,
                                                                   "cam_b": [0] * 40}))),
        Try("evaluate, NaN in scores", ["evaluate", "{tmp}/scores.csv", "--labels", labels,
                                        "--out", "{tmp}/ev"],
            names=("scores.csv",), prepare=scores_table(nan_in_first_row)),
        Try("evaluate, scores missing a column", ["evaluate", "{tmp}/scores.csv", "--labels",
                                                  labels, "--out", "{tmp}/ev"],
            names=("scores.csv",), prepare=scores_table(
                lambda lines: [",".join(line.split(",")[:3]) for line in lines])),
        Try("evaluate, scores file empty", ["evaluate", "{tmp}/scores.csv", "--labels", labels,
                                            "--out", "{tmp}/ev"],
            names=("scores.csv",), prepare=write("scores.csv", "")),
        Try("evaluate, scores binary", ["evaluate", "{tmp}/scores.csv", "--labels", labels,
                                        "--out", "{tmp}/ev"],
            names=("scores.csv",), prepare=write("scores.csv", garbage)),
        Try("evaluate, scores header only", ["evaluate", "{tmp}/scores.csv", "--labels", labels,
                                             "--out", "{tmp}/ev"],
            names=("scores.csv",), prepare=scores_table(lambda lines: lines[:1])),
        Try("evaluate, scores missing", ["evaluate", "{tmp}/none.csv", "--labels", labels,
                                         "--out", "{tmp}/ev"], names=("none.csv",)),
        Try("evaluate, damaged .json labels", [*evaluate[:2], "--labels", "{tmp}/labels.json",
                                               "--out", "{tmp}/ev"],
            names=("labels.json",), prepare=copy_labels("json")),
        Try("evaluate, damaged .mat labels", [*evaluate[:2], "--labels", "{tmp}/labels.mat",
                                              "--out", "{tmp}/ev"],
            names=("labels.mat",), prepare=copy_labels("mat")),
        Try("evaluate, damaged .npy labels", [*evaluate[:2], "--labels", "{tmp}/labels.npy",
                                              "--out", "{tmp}/ev"],
            names=("labels.npy",), prepare=copy_labels("npy")),
        Try("evaluate --out an existing file", [*evaluate[:4], "--out", "{tmp}/f"],
            names=("{tmp}/f",), prepare=write("f", "x")),
        Try("evaluate --out an existing folder", [*evaluate[:4], "--out", "{tmp}/ev"],
            "handled", check=rc0_with("metrics, ROC"),
            prepare=lambda tmp, base: (tmp / "ev").mkdir(), expected="writes into it, rc 0"),
        Try("evaluate --out not writable", [*evaluate[:4], "--out", unwritable],
            names=(unwritable,)),
        Try("evaluate --fps 0", [*evaluate, "--fps", "0"], names=("fps",)),
        Try("evaluate --fps nan", [*evaluate, "--fps", "nan"], names=("fps",)),
        Try("evaluate --plot-videos -1", [*evaluate, "--plot-videos", "-1"],
            names=("plot-videos",)),
        # ---- data check
        Try("data check the PNG plots folder", ["data", "check", "{base}/plots"],
            names=("scores.png",), expected="problem line naming it, rc 1"),
        Try("data check a folder with a 1-frame video", ["data", "check", "{tmp}/videos"],
            names=("one.avi",), prepare=video_folder(("one.avi", None)),
            expected="problem line naming it, rc 1"),
        Try("data check a folder with a 0-byte video", ["data", "check", "{tmp}/videos"],
            names=("empty.avi",), prepare=video_folder(("empty.avi", b"")),
            expected="problem line naming it, rc 1"),
        Try("data check a folder with a corrupt video", ["data", "check", "{tmp}/videos"],
            names=("bad.avi",), prepare=video_folder(("bad.avi", garbage)),
            expected="problem line naming it, rc 1"),
        Try("data check a folder with a truncated video", ["data", "check", "{tmp}/videos"],
            names=("cut.avi",), expected="problem line naming it, rc 1",
            prepare=lambda tmp, base: (video_folder()(tmp, base), shutil.copy(
                base / "truncated.avi", tmp / "videos" / "cut.avi"))),
        Try("data check a clean frames dataset", ["data", "check", "{base}/frames_dataset"],
            "handled", check=rc0_with("0 problem(s)")),
        Try("data check --labels damaged .json", ["data", "check", "{base}/frames_dataset",
                                                  "--labels", "{tmp}/labels.json"],
            names=("labels.json",), prepare=copy_labels("json"),
            expected="problem line naming it, rc 1"),
        Try("data check --labels damaged .mat", ["data", "check", "{base}/frames_dataset",
                                                 "--labels", "{tmp}/labels.mat"],
            names=("labels.mat",), prepare=copy_labels("mat"),
            expected="problem line naming it, rc 1"),
        Try("data check --labels damaged .npy", ["data", "check", "{base}/frames_dataset",
                                                 "--labels", "{tmp}/labels.npy"],
            names=("labels.npy",), prepare=copy_labels("npy"),
            expected="problem line naming it, rc 1"),
        Try("data check --labels of another length", ["data", "check", "{base}/frames_dataset",
                                                      "--labels", "{tmp}/l.json"],
            names=("01",), prepare=write("l.json", json.dumps({"01": [0] * 5, "02": [0] * 12})),
            expected="problem line naming it, rc 1"),
        Try("data check --labels missing", ["data", "check", "{base}/frames_dataset",
                                            "--labels", "{tmp}/none.json"], names=("none.json",),
            expected="problem line naming it, rc 1"),
        Try("data check --labels on a folder layout", ["data", "check", "{base}/footage",
                                                       "--labels", labels],
            names=("labels.json",), expected="problem line naming it, rc 1"),
        Try("data check --layout ucsd on another layout", ["data", "check",
                                                           "{base}/frames_dataset",
                                                           "--layout", "ucsd"],
            names=("Train",), expected="problem line naming it, rc 1"),
        Try("data check --layout bogus", ["data", "check", "{base}/footage", "--layout",
                                          "bogus"], names=("bogus",)),
        Try("data check frames layout, no clip folders", ["data", "check", "{tmp}/ds"],
            names=("frames",), expected="problem line naming it, rc 1",
            prepare=lambda tmp, base: [(tmp / "ds" / s / "frames").mkdir(parents=True)
                                       for s in ("training", "testing")]),
        Try("data check a missing path", ["data", "check", "{tmp}/none"], names=("none",),
            expected="problem line naming it, rc 1"),
        Try("data check a file", ["data", "check", "{base}/clip.avi"], names=("clip.avi",),
            expected="problem line naming it, rc 1"),
        # ---- experiment files
        Try("experiment --config bad YAML", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml",), prepare=write("e.yaml", "moving-mnist: {out: [\n")),
        Try("experiment --config unknown experiment", ["experiment", "--config",
                                                       "{tmp}/e.yaml"],
            names=("e.yaml", "ped9"), prepare=write("e.yaml", "experiment: ped9\n")),
        Try("experiment --config unknown setting", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "bogus"),
            prepare=write("e.yaml", "experiment: moving-mnist\nbogus: 1\n")),
        Try("experiment --config a list", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml",), prepare=write("e.yaml", "- 1\n")),
        Try("experiment --config empty", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml",), prepare=write("e.yaml", "")),
        Try("experiment --config missing", ["experiment", "--config", "{tmp}/no.yaml"],
            names=("no.yaml",)),
        Try("experiment ped2 on a missing root", ["experiment", "ped2", "{tmp}/none",
                                                  "--out", "{tmp}/x"], names=("none",)),
        Try("experiment without a name", ["experiment"], names=("experiment",)),
        # ---- tables, mnist
        Try("tables on a missing folder", ["tables", "{tmp}/none"], names=("none",)),
        Try("tables on an empty folder", ["tables", "{tmp}/e"], names=("{tmp}/e",),
            prepare=lambda tmp, base: (tmp / "e").mkdir()),
        Try("mnist generate --idx-path missing", ["mnist", "generate", "--out", "{tmp}/m",
                                                  "--idx-path", "{tmp}/none.idx"],
            names=("none.idx",)),
        Try("mnist generate --num-train 0", ["mnist", "generate", "--out", "{tmp}/m",
                                             "--num-train", "0"], names=("num",)),
        Try("mnist generate --frame-size 0", ["mnist", "generate", "--out", "{tmp}/m",
                                              "--frame-size", "0"], names=("frame",)),
        # ---- interruptions
        Try("SIGINT during train", [*train, "--data", footage, "--max-steps", "100000",
                                    "--checkpoint-every", "1"], "handled",
            check=interrupted_train, interrupt=(signal.SIGINT, "run/checkpoints/last.ckpt"),
            expected="rc 130, resume hint, checkpoint"),
        Try("SIGTERM during train", [*train, "--data", footage, "--max-steps", "100000",
                                     "--checkpoint-every", "1"], "handled",
            check=interrupted_train, interrupt=(signal.SIGTERM, "run/checkpoints/last.ckpt"),
            expected="rc 130, resume hint, checkpoint"),
        Try("SIGINT during score", [*score, "{tmp}/videos", "--out", "{tmp}/s.csv"], "handled",
            check=interrupted_score, interrupt=(signal.SIGINT, "stdout:min regularity at frame"),
            prepare=long_videos, expected="rc 130, no CSV, no temporary file"),
        Try("SIGTERM during score", [*score, "{tmp}/videos", "--out", "{tmp}/s.csv"], "handled",
            check=interrupted_score, interrupt=(signal.SIGTERM, "stdout:min regularity at frame"),
            prepare=long_videos, expected="rc 130, no CSV, no temporary file"),
    ]
    return result


# ------------------------------------------------------------- watch, calibrate, report,
# ------------------------------------------------------------- tables, export, experiment

SECRET = "S3cretZq"  # planted in every URL try; must show nowhere


def fifo(name: str) -> Callable[[Path, Path], None]:
    """A named pipe ``tmp/name`` (nothing ever writes into it)."""
    def prepare(tmp: Path, base: Path) -> None:
        os.mkfifo(tmp / name)
    return prepare


def char_device(name: str) -> Callable[[Path, Path], None]:
    """``tmp/name``: a character device like /dev/null (root), else a FIFO."""
    def prepare(tmp: Path, base: Path) -> None:
        try:
            os.mknod(tmp / name, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            os.mkfifo(tmp / name)
    return prepare


def huge_npy(tmp: Path, base: Path) -> None:
    """A 4 KB .npy whose header claims 10^12 frames of 48 x 64."""
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000, 48, 64), }"
    header = header.ljust(118) + "\n"
    (tmp / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                   + header.encode() + bytes(4096 - 128))


def lying_npz(name: str) -> Callable[[Path, Path], None]:
    """``tmp/name``: an .npz whose member ``digits.npy`` claims 4 PB in 4 KB."""
    def prepare(tmp: Path, base: Path) -> None:
        np.savez(tmp / name, digits=np.zeros(3))
        with_member(tmp / name, "digits.npy", lying_npy())
    return prepare


def released(edit: Callable[[dict], None] | None = None) -> Callable[[Path, Path], None]:
    """``tmp/model``: the released tiny model, its config.json edited."""
    def prepare(tmp: Path, base: Path) -> None:
        shutil.copytree(base / "released", tmp / "model")
        if edit:
            path = tmp / "model" / "config.json"
            config = json.loads(path.read_text())
            edit(config)
            path.write_text(json.dumps(config))
    return prepare


def huge_channels(config: dict) -> None:
    config["model"]["lstm_channels"] = 2_000_000


def mm_run(edit: Callable[[Path], None] | None = None) -> Callable[[Path, Path], None]:
    """``tmp/run``: the committed Moving-MNIST demo run, one record then edited."""
    def prepare(tmp: Path, base: Path) -> None:
        shutil.copytree(base / "mm_run", tmp / "run")
        if edit:
            edit(tmp / "run" / "tiny" / "records" / "t10" / "reset_motion.npz")
    return prepare


def record_edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        with np.load(path) as record:
            arrays = {key: record[key] for key in record.files}
        change(arrays)
        np.savez(path.with_suffix(""), **arrays)
    return edit


def longer_first_video(arrays: dict) -> None:
    arrays["lengths"] = arrays["lengths"].copy()
    arrays["lengths"][0] += 5


def nan_scores(arrays: dict) -> None:
    arrays["current"] = arrays["current"].copy()
    arrays["current"][3] = np.nan


def events_file(snapshot: str) -> Callable[[Path, Path], None]:
    """``tmp/w``: a watch folder whose one event's snapshot is ``snapshot``."""
    def prepare(tmp: Path, base: Path) -> None:
        folder = tmp / "w"
        folder.mkdir()
        shutil.copy(base / "scores.csv", folder / "frames-cam.csv")
        (folder / "events.jsonl").write_text(json.dumps({
            "source": "cam", "start_frame": 1, "end_frame": 5, "start_time": 0.0,
            "end_time": 0.2, "peak_score": 2.0, "peak_frame": 3,
            "snapshot": snapshot}) + "\n")
    return prepare


def experiment_yaml(**settings: object) -> Callable[[Path, Path], None]:
    """``tmp/e.yaml``: a small Moving-MNIST experiment with ``settings`` changed."""
    lines = {"experiment": "moving-mnist", "out_dir": "{tmp}/mm", "presets": "[tiny]",
             "num_train": 20, "num_test": 4, "num_normal": 4, "seed": 0, **settings}
    train = lines.pop("train", None)

    def prepare(tmp: Path, base: Path) -> None:
        text = "".join(f"{key}: {value}\n" for key, value in lines.items())
        if train is not None:
            text += f"train:\n  {train}\n"
        (tmp / "e.yaml").write_text(text.replace("{tmp}", str(tmp)))
    return prepare


def no_traceback_rc(*codes: int) -> Callable[[Outcome, Path], str | None]:
    def check(done: Outcome, tmp: Path) -> str | None:
        return None if done.code in codes else f"rc {done.code}"
    return check


def webhook_refused_or_logged(done: Outcome, tmp: Path) -> str | None:
    """rc 1 naming --webhook, or rc 0 with one line on the failed delivery."""
    text = done.stderr + done.stdout
    if done.code == 1 and "webhook" in text:
        return None
    if done.code == 0 and "webhook" in text.lower():
        return None
    return f"rc {done.code}, no line on the webhook"


def more_tries(unwritable: str) -> list[Try]:
    """The second campaign: watch, calibrate, report, tables, export, experiment files."""
    model, clip = "{tmp}/model", "{base}/clip.avi"
    flags = ["--no-realtime", "--device", "cpu", "--out", "{tmp}/o"]
    calibrate = ["calibrate", model, "--device", "cpu"]
    ok = rc0_with()
    urls = {
        "userinfo with @": f"http://admin:p@{SECRET}@{{http}}/clip.avi",
        "userinfo with :": f"http://admin:a:{SECRET}@{{http}}/clip.avi",
        "userinfo with %": f"http://admin:%25{SECRET}%40@{{http}}/clip.avi",
        "query access_token": f"http://{{http}}/clip.avi?access_token={SECRET}",
        "query api_key and x_sig": f"http://{{http}}/clip.avi?api_key=1&x_sig={SECRET}",
        "query with a fragment": f"http://{{http}}/clip.avi?cam=1&sig={SECRET}#frag",
    }
    result = [
        # ---- watch: flags
        Try("watch a file, --no-realtime", ["watch", model, clip, *flags], "handled", check=ok,
            prepare=released()),
        Try("watch --threshold nan", ["watch", model, clip, *flags, "--threshold", "nan"],
            names=("threshold",), prepare=released()),
        Try("watch --threshold inf", ["watch", model, clip, *flags, "--threshold", "inf"],
            names=("threshold",), prepare=released()),
        Try("watch --release-margin nan", ["watch", model, clip, *flags, "--release-margin", "nan"],
            names=("release",), prepare=released()),
        Try("watch --release-frames -1", ["watch", model, clip, *flags, "--release-frames", "-1"],
            names=("release",), prepare=released()),
        Try("watch --min-frames 0", ["watch", model, clip, *flags, "--min-frames", "0"],
            names=("min-frames",), prepare=released()),
        Try("watch --queue 0", ["watch", model, clip, *flags, "--queue", "0"], names=("queue",),
            prepare=released()),
        Try("watch --fps nan", ["watch", model, clip, *flags, "--fps", "nan"], names=("fps",),
            prepare=released()),
        Try("watch --threads 0", ["watch", model, clip, *flags, "--threads", "0"],
            names=("threads",),
            prepare=released()),
        Try("watch --webhook file:///etc/hostname", ["watch", model, clip, *flags, "--webhook",
                                                     "file:///etc/hostname"],
            names=("webhook",), prepare=released()),
        Try("watch --webhook notaurl", ["watch", model, clip, *flags, "--webhook", "notaurl"],
            names=("webhook",), prepare=released()),
        Try("watch --webhook with a space", ["watch", model, clip, *flags, "--webhook",
                                             "http://127.0.0.1:1/a b"], "handled",
            check=webhook_refused_or_logged, prepare=released(),
            expected="refused naming --webhook, or one line per failed delivery"),
        Try("watch --webhook, secret, nothing listening",
            ["watch", model, clip, *flags, "--webhook", f"http://u:{SECRET}@127.0.0.1:1/h?token={SECRET}"],
            "handled", check=no_traceback_rc(0), prepare=released(), secret=SECRET,
            expected="rc 0, delivery failures logged redacted"),
        Try("watch --on-event unclosed quote", ["watch", model, clip, *flags, "--on-event",
                                                "echo 'unclosed"],
            names=("on-event",), prepare=released()),
        Try("watch --overlay .txt", ["watch", model, clip, *flags, "--overlay", "{tmp}/x.txt"],
            names=("x.txt",), prepare=released()),
        # ---- watch: sources and outputs
        Try("watch a named pipe", ["watch", model, "{tmp}/pipe", *flags], names=("pipe",),
            prepare=both(released(), fifo("pipe"))),
        Try("watch a 0-byte video", ["watch", model, "{tmp}/empty.avi", *flags],
            names=("empty.avi",),
            prepare=both(released(), write("empty.avi", b""))),
        Try("watch a corrupt .mp4", ["watch", model, "{tmp}/bad.mp4", *flags], names=("bad.mp4",),
            prepare=both(released(), write("bad.mp4", os.urandom(4096)))),
        Try("watch a .npy claiming 10^12 frames", ["watch", model, "{tmp}/huge.npy", *flags],
            names=("huge.npy",), prepare=both(released(), huge_npy)),
        Try("watch --out a character device", ["watch", model, clip, *flags[:-1], "{tmp}/dev"],
            names=("dev",), prepare=both(released(), char_device("dev"))),
        Try("watch --out a named pipe", ["watch", model, clip, *flags[:-1],
            "{tmp}/pipe"], names=("pipe",),
            prepare=both(released(), fifo("pipe"))),
        Try("watch --out not writable", ["watch", model, clip, *flags[:-1],
            unwritable], names=(unwritable,),
            prepare=released()),
        Try("watch a model with 2,000,000 channels", ["watch", model, clip, *flags],
            names=("config.json",),
            prepare=released(huge_channels)),
        Try("watch a model without calibration", ["watch", model, clip, *flags], "handled",
            check=no_traceback_rc(0, 1), prepare=both(
                released(), lambda tmp, base: (tmp / "model" / "calibration.json").unlink()),
            expected="raw error scored or one line, rc 0/1"),
        Try("watch rtsp, unreachable, password with @ / :",
            ["watch", model, f"rtsp://admin:p@s/s:{SECRET}@127.0.0.1:1/x", *flags], "handled",
            check=no_traceback_rc(1), prepare=released(), secret=SECRET,
            expected="one line, password redacted"),
        Try("watch rtsp, unreachable, query secret",
            ["watch", model, f"rtsp://127.0.0.1:1/x?session={SECRET}", *flags], "handled",
            check=no_traceback_rc(1), prepare=released(), secret=SECRET,
            expected="one line, secret redacted"),
    ]
    for label, url in urls.items():
        result.append(Try(f"watch an HTTP stream, {label}", ["watch", model, url, *flags],
                          "handled", check=no_traceback_rc(0, 130), prepare=released(),
                          interrupt=(signal.SIGINT, "after:8"), secret=SECRET,
                          expected="watched, then Ctrl-C; secret nowhere"))
    result += [
        # ---- calibrate
        Try("calibrate, good footage, --out", [*calibrate, "{base}/footage", "--out",
                                               "{tmp}/c", "--quantile", "0.9"], "handled",
            check=ok,
            prepare=released()),
        Try("calibrate --quantile nan", [*calibrate, "{base}/footage", "--quantile", "nan"],
            names=("quantile",), prepare=released()),
        Try("calibrate --quantile 5", [*calibrate, "{base}/footage", "--quantile", "5"],
            names=("quantile",), prepare=released()),
        Try("calibrate a named pipe", [*calibrate, "{tmp}/pipe"], names=("pipe",),
            prepare=both(released(), fifo("pipe"))),
        Try("calibrate a .npy claiming 10^12 frames", [*calibrate, "{tmp}/huge.npy"],
            names=("huge.npy",), prepare=both(released(), huge_npy)),
        Try("calibrate a 1-frame video", [*calibrate, "{base}/one_frame.avi"],
            names=("one_frame.avi",), prepare=released()),
        Try("calibrate --out a character device", [*calibrate, "{base}/footage", "--out",
                                                   "{tmp}/dev"],
            names=("dev",), prepare=both(released(), char_device("dev"))),
        Try("calibrate --out not writable", [*calibrate, "{base}/footage", "--out",
                                             unwritable], names=(unwritable,),
            prepare=released()),
        Try("calibrate a model with 2,000,000 channels", [*calibrate, "{base}/footage"],
            names=("config.json",), prepare=released(huge_channels)),
        Try("calibrate --t-prime-free model, corrupt calibration.json",
            [*calibrate, "{base}/footage", "--out", "{tmp}/c"], "handled",
            check=no_traceback_rc(0, 1), prepare=both(released(), write(
                "model/calibration.json", "{x")), expected="refit or one line"),
        # ---- score (new cases)
        Try("score --t-prime 99999999999999999999", ["score", model, clip, "--t-prime",
                                                     "99999999999999999999"],
            names=("t-prime",), prepare=released()),
        Try("score --out a character device", ["score", model, clip, "--out", "{tmp}/dev"],
            names=("dev",), prepare=both(released(), char_device("dev"))),
        Try("score --out a named pipe", ["score", model, clip, "--out", "{tmp}/pipe"],
            names=("pipe",), prepare=both(released(), fifo("pipe"))),
        Try("score a named pipe", ["score", model, "{tmp}/pipe"], names=("pipe",),
            prepare=both(released(), fifo("pipe"))),
        Try("score a .npy claiming 10^12 frames", ["score", model, "{tmp}/huge.npy"],
            names=("huge.npy",), prepare=both(released(), huge_npy)),
        Try("score a model with 2,000,000 channels", ["score", model, clip],
            names=("config.json",), prepare=released(huge_channels)),
        Try("score a video 10000x10", ["score", model, "{tmp}/wide.npy"],
            names=("wide.npy", "10000x10 (1000:1)"),
            prepare=both(released(), npy("wide.npy", np.zeros((12, 10, 10000), np.uint8)))),
        Try("score a video 500x20", ["score", model, "{tmp}/wide.npy"],
            names=("wide.npy", "500x20 (25:1)"),
            prepare=both(released(), npy("wide.npy", np.zeros((12, 20, 500), np.uint8)))),
        Try("score a video 200x40", ["score", model, "{tmp}/wide.npy"], "handled",
            check=rc0_with("wide.npy: frames are 200x40 (5:1), squashed"),
            prepare=both(released(), npy("wide.npy", np.zeros((12, 40, 200), np.uint8))),
            expected="a warning naming it and the aspect, rc 0"),
        Try("score 10 frames under --windows sliding --t-prime 10",
            ["score", model, "{tmp}/ten.npy", "--windows", "sliding", "--t-prime", "10"],
            "handled", check=rc0_with("ten.npy: 10 frame(s), fewer than the 11"),
            prepare=both(released(), npy("ten.npy", moving_frames(10))),
            expected="a warning naming it, scored as under reset windows, rc 0"),
        Try("evaluate --labels a .npy claiming 4 PB", ["evaluate", "{base}/scores.csv",
                                                        "--labels", "{tmp}/l.npy", "--out",
                                                        "{tmp}/ev"],
            names=("l.npy", "header promises"), prepare=write("l.npy", lying_npy())),
        Try("train --data an .npz whose member claims 4 PB", ["train", "--data", "{tmp}/x.npz",
                                                              "--out", "{tmp}/run", *TRAIN],
            names=("x.npz", "digits.npy: header promises"), prepare=lying_npz("x.npz")),
        Try("score a URL with a password", ["score", model, f"rtsp://u:p@{SECRET}@h/x?k={SECRET}"],
            names=("rtsp",), prepare=released(), secret=SECRET),
        # ---- report
        Try("report -o a character device", ["report", "{base}/scores.csv", "-o", "{tmp}/dev"],
            names=("dev",), prepare=char_device("dev")),
        Try("report -o a named pipe", ["report", "{base}/scores.csv", "-o", "{tmp}/pipe"],
            names=("pipe",), prepare=fifo("pipe")),
        Try("report -o not writable", ["report", "{base}/scores.csv", "-o",
                                       f"{unwritable}/r.html"], names=(unwritable,)),
        Try("report a missing table", ["report", "{tmp}/none.csv", "-o", "{tmp}/r.html"],
            names=("none.csv",)),
        Try("report a binary table", ["report", "{tmp}/s.csv", "-o", "{tmp}/r.html"],
            names=("s.csv",), prepare=write("s.csv", os.urandom(4096))),
        Try("report a named pipe", ["report", "{tmp}/pipe", "-o", "{tmp}/r.html"],
            names=("pipe",), prepare=fifo("pipe")),
        Try("report, snapshot ../../../../etc/passwd", ["report", "{tmp}/w", "-o",
                                                        "{tmp}/r.html"],
            "handled", check=rc0_with("snapshot"),
            prepare=events_file("../../../../etc/passwd"),
            expected="warning naming the snapshot, not embedded, rc 0"),
        Try("report, events.jsonl garbage", ["report", "{tmp}/w", "-o", "{tmp}/r.html"],
            names=("events.jsonl",), prepare=both(events_file("x.jpg"), write(
                "w/events.jsonl", "{not json\n"))),
        Try("report --labels garbage", ["report", "{base}/scores.csv", "--labels",
                                        "{tmp}/l.json", "-o", "{tmp}/r.html"],
            names=("l.json",), prepare=write("l.json", "[[[")),
        Try("report --model a model with 2,000,000 channels",
            ["report", "{base}/scores.csv", "--model", model, "-o", "{tmp}/r.html"],
            "handled", check=no_traceback_rc(0, 1), prepare=released(huge_channels),
            expected="config shown or one line"),
        # ---- tables
        Try("tables on a record cut short", ["tables", "{tmp}/run"],
            names=("reset_motion.npz",), prepare=mm_run(truncate), changes=("*.json",)),
        Try("tables on a record of inconsistent lengths", ["tables", "{tmp}/run"],
            names=("reset_motion.npz",), prepare=mm_run(record_edit(longer_first_video)),
            changes=("*.json",)),
        Try("tables on a record with NaN scores", ["tables", "{tmp}/run"],
            names=("reset_motion.npz",), prepare=mm_run(record_edit(nan_scores)),
            changes=("*.json",)),
        Try("tables on a record whose member claims 4 PB", ["tables", "{tmp}/run"],
            names=("reset_motion.npz", "current.npy: header promises"),
            prepare=mm_run(lambda p: with_member(p, "current.npy", lying_npy())),
            changes=("*.json",)),
        Try("tables on a record that is a named pipe", ["tables", "{tmp}/run"],
            names=("reset_motion.npz",), prepare=mm_run(lambda p: (p.unlink(),
                                                                    os.mkfifo(p)))),
        Try("tables --quantile 5", ["tables", "{tmp}/run", "--quantile", "5"],
            names=("quantile",), prepare=mm_run()),
        Try("tables --quantile nan", ["tables", "{tmp}/run", "--quantile", "nan"],
            names=("quantile",), prepare=mm_run()),
        # ---- export
        Try("export --out a character device", ["export", model, "--out", "{tmp}/dev"],
            names=("dev",), prepare=both(released(), char_device("dev"))),
        Try("export --out a named pipe", ["export", model, "--out", "{tmp}/pipe"],
            names=("pipe",), prepare=both(released(), fifo("pipe"))),
        Try("export a model with 2,000,000 channels", ["export", model, "--out",
                                                       "{tmp}/m.onnx"],
            names=("config.json",), prepare=released(huge_channels)),
        Try("export a model with truncated weights", ["export", model, "--out", "{tmp}/m.onnx"],
            names=("model.safetensors",), prepare=both(released(), lambda tmp, base: truncate(
                tmp / "model" / "model.safetensors"))),
        # ---- experiment files
        Try("experiment max_steps 1e23", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "max_steps"), prepare=experiment_yaml(train="max_steps: 1e23")),
        Try("experiment max_steps true", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "max_steps"), prepare=experiment_yaml(train="max_steps: true")),
        Try("experiment num_train 1e15", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "num_train"), prepare=experiment_yaml(num_train="1e15")),
        Try("experiment num_train 1000000000000000", ["experiment", "--config",
                                                      "{tmp}/e.yaml"],
            names=("e.yaml", "num_train"), prepare=experiment_yaml(num_train=10**15)),
        Try("experiment num_test true", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "num_test"), prepare=experiment_yaml(num_test="true")),
        Try("experiment devices true", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "devices"), prepare=experiment_yaml(devices="true")),
        Try("experiment seed -1", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "seed"), prepare=experiment_yaml(seed=-1)),
        Try("experiment t_prime 99999999999999999999", ["experiment", "--config",
                                                        "{tmp}/e.yaml"],
            names=("e.yaml", "t_prime"),
            prepare=experiment_yaml(t_prime="99999999999999999999")),
        Try("experiment presets [huge]", ["experiment", "--config", "{tmp}/e.yaml"],
            names=("e.yaml", "huge"), prepare=experiment_yaml(presets="[huge]")),
        Try("experiment out_dir a character device", ["experiment", "--config",
                                                      "{tmp}/e.yaml"],
            names=("dev",), prepare=both(char_device("dev"),
                                         experiment_yaml(out_dir="{tmp}/dev"))),
        Try("experiment --config a named pipe", ["experiment", "--config", "{tmp}/pipe"],
            names=("pipe",), prepare=fifo("pipe")),
    ]
    return result


def long_videos(tmp: Path, base: Path) -> None:
    """``tmp/videos``: 4 frame arrays of 1,500 frames, a few seconds each to score."""
    (tmp / "videos").mkdir()
    for index in range(4):
        np.save(tmp / "videos" / f"v{index}.npy", moving_frames(1500, index))


# -------------------------------------------------------------------------------- running


class Campaign:
    """Runs tries of the CLI of one checkout in fresh folders under ``root``."""

    def __init__(self, checkout: Path, python: str, root: Path, http: str = "") -> None:
        self.root = root
        self.http = http
        self.python = python
        self.env = {**os.environ, "PYTHONPATH": str(checkout / "src"),
                    "CONVLSTM_AE_CACHE": str(root / "cache"), "PYTHONWARNINGS": "ignore"}
        self.env.pop("CUDA_VISIBLE_DEVICES", None)

    def command(self, args: list) -> list[str]:
        return [self.python, "-m", "convlstm_ae.cli", *map(str, args)]

    def cli(self, args: list, cwd: Path, timeout: float = 300) -> Outcome:
        start = time.monotonic()
        done = subprocess.run(self.command(args), cwd=cwd, env=self.env, capture_output=True,
                              timeout=timeout)  # bytes: text mode would turn \r into \n
        return Outcome(done.returncode, done.stdout.decode(errors="replace"),
                       done.stderr.decode(errors="replace"), time.monotonic() - start)

    def interrupted(self, args: list, cwd: Path, signum: int, trigger: str) -> Outcome:
        """Run, wait for ``trigger`` (a path under ``cwd``, ``stdout:TEXT`` or ``after:SECONDS``),
        signal."""
        start = time.monotonic()
        out, err = cwd / ".stdout", cwd / ".stderr"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            child = subprocess.Popen(self.command(args), cwd=cwd, env=self.env, stdout=stdout,
                                     stderr=stderr, text=True)
            fired = False
            while child.poll() is None and time.monotonic() - start < 240:
                if trigger.startswith("after:"):
                    fired = time.monotonic() - start > float(trigger.removeprefix("after:"))
                elif trigger.startswith("stdout:"):
                    fired = trigger.removeprefix("stdout:") in out.read_text()
                else:
                    fired = (cwd / trigger).exists()
                if fired:
                    child.send_signal(signum)
                    break
                time.sleep(0.05)
            try:
                code = child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
        done = Outcome(code, out.read_bytes().decode(errors="replace"),
                       err.read_bytes().decode(errors="replace"), time.monotonic() - start, fired)
        out.unlink()
        err.unlink()
        return done

    def run(self, index: int, attempt: Try, base: Path) -> tuple[str, str]:
        """(verdict, what happened) of one try."""
        tmp = self.root / "tries" / f"{index:03d}"
        tmp.mkdir(parents=True)
        expand = {"{base}": str(base), "{tmp}": str(tmp), "{http}": self.http}

        def fill(text: str) -> str:
            for key, value in expand.items():
                text = text.replace(key, value)
            return text

        if attempt.prepare:
            attempt.prepare(tmp, base)
        args = [fill(a) for a in attempt.args]
        before = snapshot(tmp)
        try:
            if attempt.interrupt:
                done = self.interrupted(args, tmp, *attempt.interrupt)
            else:
                done = self.cli(args, tmp, timeout=120)
        except subprocess.TimeoutExpired:
            return "wrong outcome", "timed out"
        trigger = attempt.interrupt[1] if attempt.interrupt else "after:"
        if not (done.signalled or trigger.startswith("after:")):  # the signal never came
            return "wrong outcome", f"rc {done.code}: {trigger!r} never came, no signal sent"
        lost = destroyed(before, snapshot(tmp), attempt.changes)
        if lost:
            return "destroyed file", f"rc {done.code}: {lost}"
        if attempt.secret:
            leak = leaked(attempt.secret, done, tmp)
            if leak:
                return "secret leaked", f"rc {done.code}: in {leak}"
        return classify(attempt, done, tmp, [fill(n) for n in attempt.names])


def snapshot(root: Path) -> dict[str, str]:
    """Each path under ``root`` (and /dev/null, /dev/full) -> its type and, for a file, SHA-256."""
    seen = {}
    for path in [Path("/dev/null"), Path("/dev/full"), *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            try:
                seen[str(path)] = "file " + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            except OSError:
                seen[str(path)] = "file (unreadable)"
        else:
            kinds = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "fifo"),
                     (stat.S_ISCHR, "char-device"), (stat.S_ISLNK, "link"),
                     (stat.S_ISSOCK, "socket"))
            seen[str(path)] = next((k for test, k in kinds if test(mode)), "other")
    return seen


def destroyed(before: dict[str, str], after: dict[str, str], changes: tuple[str, ...]) -> str:
    """What existed before and is gone, of another type, or rewritten outside ``changes``."""
    for path, kind in before.items():
        now = after.get(path)
        if now == kind:
            continue
        if now is None:
            return f"{Path(path).name} ({kind.split()[0]}) gone"
        if now.split()[0] != kind.split()[0]:
            return f"{Path(path).name}: {kind.split()[0]} became {now.split()[0]}"
        if not any(fnmatch.fnmatch(Path(path).name, pattern) for pattern in changes):
            return f"{Path(path).name} rewritten"
    return ""


def leaked(secret: str, done: Outcome, tmp: Path) -> str:
    """Where ``secret`` shows: stdout, stderr, a file name or a file's bytes under ``tmp``."""
    if secret in done.stdout:
        return "stdout"
    if secret in done.stderr:
        return "stderr"
    for path in tmp.rglob("*"):
        if secret in path.name:
            return f"file name {path.name}"
        if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
            return f"file {path.relative_to(tmp)}"
    return ""


def error_lines(stderr: str) -> list[str]:
    """stderr's lines as a terminal shows them (each line's text after its last carriage
    return: a bar drawn over, or cleared, is gone), less progress-bar fragments."""
    shown = [line.rsplit("\r", 1)[-1] for line in stderr.split("\n")]
    return [line for line in shown if not BAR.search(line)]


def classify(attempt: Try, done: Outcome, tmp: Path, names: list[str]) -> tuple[str, str]:
    """(verdict, what happened) of one finished try."""
    if "Traceback" in done.stderr or "Traceback" in done.stdout:
        last = [line for line in done.stderr.splitlines() if line.strip()][-1:] or [""]
        return "traceback", f"rc {done.code}: {last[0][:90]}"
    lines = error_lines(done.stderr)
    errors = [line for line in lines if line.startswith("convlstm-ae: error:")]
    if attempt.expect == "handled":
        problem = attempt.check(done, tmp) if attempt.check else None
        if problem is None:
            return "handled", f"rc {done.code}"
        return ("silent acceptance" if done.code == 0 else "wrong outcome"), problem
    is_check = attempt.args[:2] == ["data", "check"]
    if done.code == 0:
        return "silent acceptance", "rc 0"
    if is_check:  # data check: problem lines on stderr, rc 1
        problems = [line for line in lines if line.startswith(("problem: ", "convlstm-ae: "))]
        text = " ".join(problems)
        unnamed = [n for n in names if n not in text]
        if done.code == 1 and problems and not unnamed:
            return "one-line error rc 1", f"rc 1: {problems[0][:90]}"
        return "wrong outcome", f"rc {done.code}, {len(problems)} problem line(s), " \
                                f"not naming {unnamed}: {text[:70]}"
    if done.code == 2 and lines and "error: argument" in lines[-1] \
            and all(n in lines[-1] for n in names):
        return "handled", f"argparse usage, rc 2: {lines[-1][:80]}"
    unnamed = [n for n in names if n not in (errors[0] if errors else "")]
    if done.code == 1 and lines == errors[:1] and not unnamed:  # nothing else, FFmpeg's too
        return "one-line error rc 1", f"rc 1: {errors[0][20:110]}"
    return "wrong outcome", (f"rc {done.code}, {len(errors)} error line(s) of {len(lines)}"
                             f"{', not naming ' + str(unnamed) if unnamed else ''}: "
                             f"{(lines[-1] if lines else '')[:80]}")


def expected_text(attempt: Try) -> str:
    if attempt.expected:
        return attempt.expected
    return "one line naming it, rc 1" if attempt.expect == "error" else "documented, rc 0"


class Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves the fixture folder to the URL tries, logging nothing."""

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1],
                        help="repository whose src/ is tried (default: this one)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the deps")
    parser.add_argument("--jobs", type=int, default=3, help="tries run at once")
    parser.add_argument("--only", default="", help="run the tries whose name holds this")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--part", choices=("all", "first", "second"), default="all",
                        help="first: train, score, evaluate, data check, experiment; second: "
                             "watch, calibrate, report, tables, export, experiment files")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    base = root / "base"
    base.mkdir()
    handler = functools.partial(Quiet, directory=str(base))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    campaign = Campaign(args.checkout.resolve(), args.python, root,
                        f"127.0.0.1:{server.server_address[1]}")
    start = time.monotonic()
    try:
        build_fixtures(base, campaign.cli)
        results = args.checkout.resolve() / "docs" / "results"
        shutil.copytree(results / "ped2-cpu-live" / "model", base / "released")
        shutil.copytree(results / "moving-mnist-cpu-demo", base / "mm_run")
        print(f"fixtures ready in {time.monotonic() - start:.0f} s ({root})", flush=True)
        unwritable = not_writable(root)
        parts = {"first": tries(unwritable), "second": more_tries(unwritable)}
        every = parts["first"] + parts["second"] if args.part == "all" else parts[args.part]
        chosen = [t for t in every if args.only in t.name]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            verdicts = list(pool.map(lambda pair: campaign.run(pair[0], pair[1], base),
                                     enumerate(chosen)))
    finally:
        server.shutdown()
        if not args.keep:
            for path in root.rglob("*"):
                if path.is_dir():
                    path.chmod(0o755)
            shutil.rmtree(root, ignore_errors=True)
    width = max(len(t.name) for t in chosen)
    print(f"\n| # | {'try':<{width}} | expected | got | verdict |")
    print(f"|---|{'-' * (width + 2)}|---|---|---|")
    for index, (attempt, (verdict, got)) in enumerate(zip(chosen, verdicts, strict=True), 1):
        print(f"| {index} | {attempt.name:<{width}} | {expected_text(attempt)} | "
              f"{got.replace('|', '/')} | {verdict} |")
    counts = Counter(verdict for verdict, _ in verdicts)
    bad = sum(n for verdict, n in counts.items() if verdict not in GOOD)
    print(f"\n{len(chosen)} tries in {time.monotonic() - start:.0f} s: "
          + ", ".join(f"{counts[v]} {v}" for v in (*GOOD, "traceback", "silent acceptance",
                                                   "destroyed file", "secret leaked",
                                                   "wrong outcome")))
    print(f"checkout: {args.checkout.resolve()}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
