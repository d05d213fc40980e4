"""Output files and folders: checked before any work starts, and files written whole or
not at all (first under a temporary name in the same folder, then renamed into place),
so an interrupted write never leaves a truncated file under the final name. A new file
gets the mode the umask gives (0644 under the usual 022), whatever mode the writer gave
its temporary file; a replaced file keeps its mode."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from convlstm_ae.errors import ConfigError

_UMASK = os.umask(0o022)  # read once, at import (setting it is process-wide)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` when the block
    ends, removed if it raises."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temporary
        mode = path.stat().st_mode if path.exists() else 0o666 & ~_UMASK
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


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
        ConfigError: it is a folder, or its folder cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected an output file name")
    writable_folder(path.parent)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{path}: output file is not writable")
    return path
