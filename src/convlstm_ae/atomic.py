"""Output files and folders: checked before any work starts, and files written whole or
not at all (first under a temporary name in the same folder, then renamed into place),
so an interrupted write never leaves a truncated file under the final name; with
``replace=False``, never over a file that exists (a hard link, which fails if the name
is taken, where ``os.replace`` would clobber it). A new file
gets the mode the umask gives (0644 under the usual 022), whatever mode the writer gave
its temporary file; a replaced file keeps its mode."""

from __future__ import annotations

import errno
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from convlstm_ae.errors import ConfigError, OutputExistsError

JSON_DIGITS = 6  # significant digits of the floats of a written JSON file
_UMASK = os.umask(0o022)  # read once, at import (setting it is process-wide)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False, replace: bool = True
                ) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` when the block
    ends, removed if it raises. ``keep_suffix``: the temporary name ends in ``path``'s
    suffix too, for writers that pick the format by it (OpenCV's video writer).
    ``replace``: False for files that must never replace an earlier one (an event's
    snapshot or clip): the temporary is linked to ``path`` only if no file has the name.

    Raises:
        ConfigError: ``path`` exists and is not a regular file (a device such as
            ``/dev/null``, a pipe, a socket): nothing is renamed over it.
        OutputExistsError: ``replace`` is False and ``path`` exists; the file there is
            left as it was.
    """
    path = Path(path)
    _check_regular(path)
    if not replace and os.path.lexists(path):  # before the work, not only after it
        raise OutputExistsError(f"{path}: exists already; an earlier file is never replaced")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
                               + (path.suffix if keep_suffix else ""))
    try:
        yield temporary
        mode = path.stat().st_mode if path.exists() else 0o666 & ~_UMASK
        os.chmod(temporary, mode & 0o7777)
        if replace:
            os.replace(temporary, path)
        else:
            _link_new(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _link_new(temporary: Path, path: Path) -> None:
    """Give ``temporary``'s file the name ``path`` unless a file has it (atomic: a hard
    link fails on a taken name); a file system without hard links gets a check, then a
    rename."""
    taken = OutputExistsError(f"{path}: exists already; an earlier file is never replaced")
    try:  # the name may have been taken while the file was written
        os.link(temporary, path)
    except FileExistsError:
        raise taken from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(path):
            raise taken from None
        os.rename(temporary, path)


def writable_folder(path: str | Path) -> Path:
    """``path`` as a folder we can write into, created if missing.

    Raises:
        ConfigError: it is a file, or it cannot be created or written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a folder; expected an output folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{path}: cannot create the output folder ({error.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: output folder is not writable")
    return path


def writable_file(path: str | Path) -> Path:
    """``path`` as a file we can write (its folder created if missing).

    Raises:
        ConfigError: it is a folder, a device, pipe or socket, or its folder cannot be
            written.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected an output file name")
    _check_regular(path)
    writable_folder(path.parent)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{path}: output file is not writable")
    return path


def _check_regular(path: Path) -> None:
    if path.exists() and not path.is_dir() and not path.is_file():
        raise ConfigError(f"{path}: exists and is not a regular file (a device, pipe or "
                          "socket); expected an output file name")


def file_label(name: str) -> str:
    """A name (a source's, already redacted) as a safe file-name stem."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.") or "source"


def stable_json(data: Any) -> str:
    """``data`` as indented JSON, floats rounded to :data:`JSON_DIGITS` significant digits:
    the same text whatever the last bits of a float sum (summation order, BLAS)."""
    return json.dumps(_rounded(data), indent=2) + "\n"


def write_json(path: str | Path, data: Any) -> bool:
    """Write :func:`stable_json` of ``data`` atomically, only when it differs from what
    ``path`` holds (read and rounded the same way), so that rebuilding a committed file
    leaves it untouched.

    Returns:
        Whether the file was written.
    """
    path = Path(path)
    text = stable_json(data)
    try:
        if stable_json(json.loads(path.read_text())) == text:
            return False
    except (OSError, ValueError):  # no file yet, or not JSON: write it
        pass
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return True


def _rounded(data: Any) -> Any:
    if isinstance(data, float):
        return float(f"{data:.{JSON_DIGITS}g}")
    if isinstance(data, dict):
        return {key: _rounded(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_rounded(value) for value in data]
    return data
