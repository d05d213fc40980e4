"""Progress of long work (frames, videos, steps per second, ETA), reported through one
hook: silent by default, so the library prints nothing; the CLI installs bars."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

_factory: Callable[..., Any] | None = None


class _Bar:
    """tqdm's interface over the application's bar, or over nothing (silent). A bar whose
    work ends in an exception is cleared, not left: the error is then the only line."""

    def __init__(self, shown: Any, iterable: Iterable | None, initial: int) -> None:
        self._shown, self._iterable, self.n = shown, iterable, initial

    def __iter__(self) -> Iterator:
        return iter((self._iterable or ()) if self._shown is None else self._shown)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        self.close(failed=exc_type is not None)

    def update(self, count: int = 1) -> None:
        self.n += count
        if self._shown is not None:
            self._shown.update(count)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        if self._shown is not None:
            self._shown.set_postfix(*args, **kwargs)

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        if self._shown is not None:
            self._shown.set_postfix_str(*args, **kwargs)

    def close(self, failed: bool = False) -> None:
        """End the bar; ``failed``: its work ended in an error, so clear its line."""
        if self._shown is not None:
            if failed:
                self._shown.leave = False
            self._shown.close()


def report_with(factory: Callable[..., Any] | None) -> None:
    """Show progress with ``factory`` (tqdm's signature, e.g. ``tqdm.tqdm``); None: silent."""
    global _factory
    _factory = factory


def bar(iterable: Iterable | None = None, **kwargs: Any) -> _Bar:
    """A progress bar (tqdm's interface: ``update``, ``set_postfix``, ``close``; iterate it
    when given an iterable), shown only if the application asked for progress."""
    shown = None if _factory is None else _factory(iterable=iterable, **kwargs)
    return _Bar(shown, iterable, kwargs.get("initial", 0))
