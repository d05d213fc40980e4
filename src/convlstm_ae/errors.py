"""Exception families of convlstm-ae.

Every error a user can cause derives from :class:`ConvLSTMAEError` and from
the nearest builtin, so ``except ValueError`` still catches a ``ConfigError``.
Messages are one line: the path or name first, then the problem.
"""


class ConvLSTMAEError(Exception):
    """Base class of every error this package raises on bad input."""


class ConfigError(ConvLSTMAEError, ValueError):
    """An unknown preset, an unknown config key or a value out of range."""


class DatasetLayoutError(ConvLSTMAEError, FileNotFoundError):
    """A dataset folder or file is missing or not laid out as expected."""


class VideoReadError(ConvLSTMAEError, OSError):
    """A video or frame file cannot be decoded, is empty, or holds bad values."""


class CheckpointError(ConvLSTMAEError, OSError):
    """A checkpoint or released model is missing, corrupt or not ours."""


class ExportError(ConvLSTMAEError, RuntimeError):
    """An exported model cannot be written or disagrees with PyTorch."""


class OutputExistsError(ConvLSTMAEError, FileExistsError):
    """An output that must never replace an earlier file (an event's snapshot or clip)
    found its name taken."""
