"""Console script ``convlstm-ae``: parses arguments, calls the pipeline, prints.

The commands live by group in ``cli_models``, ``cli_live``, ``cli_experiments`` and
``cli_data``; this module dispatches to them and turns errors into exit codes."""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from convlstm_ae.arguments import build_parser
from convlstm_ae.cli_data import cmd_data_check, cmd_mnist_generate
from convlstm_ae.cli_experiments import cmd_experiment, cmd_live_score, cmd_report, cmd_tables
from convlstm_ae.cli_live import cmd_watch
from convlstm_ae.cli_models import cmd_calibrate, cmd_evaluate, cmd_export, cmd_score, cmd_train
from convlstm_ae.errors import ConvLSTMAEError

log = logging.getLogger("convlstm_ae")


COMMANDS = {
    "train": cmd_train, "score": cmd_score, "calibrate": cmd_calibrate, "export": cmd_export,
    "evaluate": cmd_evaluate, "watch": cmd_watch, "experiment": cmd_experiment,
    "live_score": cmd_live_score, "tables": cmd_tables, "report": cmd_report,
    "data_check": cmd_data_check, "mnist_generate": cmd_mnist_generate,
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


# the storage running out or refusing: the disk or quota full, a file over the size
# limit, a read-only or forbidden folder
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                  errno.EPERM}


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a command as Ctrl-C does: files being written are removed, exit 130
    (training installs its own handler that first finishes the step)."""
    raise KeyboardInterrupt


def _quiet_opencv() -> None:
    """OpenCV's and FFmpeg's own log lines off (``moov atom not found``, a refused TCP
    connection, a warning quoting a stream's URL whole, secrets and all): our one error
    line says what failed. Set before cv2 is first imported; a user's own setting wins."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    _quiet_opencv()
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
    except OSError as error:
        if error.errno not in STORAGE_ERRORS:
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"convlstm-ae: error: {where}{error.strerror} (nothing half-written is left "
              "under a final name)", file=sys.stderr)
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
