"""Progress of long work (frames, videos, steps per second, ETA), reported through one
hook: silent by default, so the library prints nothing; the CLI installs bars."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

_factory: Callable[..., Any] | None = None


class _Silent:
    """A progress bar that shows nothing: the default."""

    def __init__(self, iterable: Iterable | None = None, initial: int = 0, **_: Any) -> None:
        self.iterable = iterable
        self.n = initial

    def __iter__(self) -> Iterator:
        return iter(self.iterable or ())

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, count: int = 1) -> None:
        self.n += count

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def report_with(factory: Callable[..., Any] | None) -> None:
    """Show progress with ``factory`` (tqdm's signature, e.g. ``tqdm.tqdm``); None: silent."""
    global _factory
    _factory = factory


def bar(iterable: Iterable | None = None, **kwargs: Any) -> Any:
    """A progress bar (tqdm's interface: ``update``, ``set_postfix``, ``close``; iterate it
    when given an iterable), shown only if the application asked for progress."""
    return (_factory or _Silent)(iterable=iterable, **kwargs)
