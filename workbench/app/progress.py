"""Progress display that suits where it goes: a tqdm bar on a terminal, plain lines in a log.

A bar redraws itself with carriage returns and escape codes, which turn a log file (stderr
redirected, a batch job, a CI log) into one unreadable line. When the stream is not a
terminal, `progress` returns `PlainProgress` instead: the same calls, but it prints one
ordinary line when it starts, then at most one every `interval` seconds, and one at the end;
each says the time spent and, from the pace so far, the time left.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator, TextIO

from tqdm import tqdm

#: Seconds between two plain progress lines.
INTERVAL_S = 30.0


def duration(seconds: float) -> str:
    """A span in the unit a reader wants: seconds, minutes, then hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def time_left(done: float, elapsed: float, remaining: float) -> str:
    """'~N min left' at the pace so far (`done` units in `elapsed` seconds, `remaining`
    units to go); empty when there is no pace yet or nothing remains."""
    if done <= 0 or elapsed <= 0 or remaining <= 0:
        return ""
    return f"~{duration(remaining * elapsed / done)} left"


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class PlainProgress:
    """The part of tqdm's interface the run loop uses, printed as plain lines."""

    def __init__(self, iterable: Iterable[int] | None = None, *, total: int | None = None,
                 initial: int = 0, desc: str = "", unit: str = "it",
                 interval: float = INTERVAL_S, file: TextIO | None = None) -> None:
        self.iterable = iterable
        self.total = total
        self.n = initial
        self.initial = initial
        self.desc = desc
        self.unit = unit
        self.interval = interval
        self.file = file
        self.postfix = ""
        self._start = time.monotonic()
        self._last: float | None = None

    def _stream(self) -> TextIO:
        return self.file if self.file is not None else sys.stderr

    def _line(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        elapsed = time.monotonic() - self._start
        extra = f", {self.postfix}" if self.postfix else ""
        left = (time_left(self.n - self.initial, elapsed, self.total - self.n)
                if self.total is not None else "")
        pace = f"{elapsed:.0f} s" + (f", {left}" if left else "")
        print(f"{self.desc}: {self.n}{of} {self.unit}{extra} ({pace})",
              file=self._stream(), flush=True)
        self._last = time.monotonic()

    def __iter__(self) -> Iterator[int]:
        if self._last is None:
            self._line()
        for item in self.iterable or ():
            yield item
            self.update()
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._last is None or time.monotonic() - self._last >= self.interval:
            self._line()

    def refresh(self) -> None:
        self._line()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        if self._last is not None:
            self._line()
            self._last = None

    @staticmethod
    def write(text: str, file: TextIO | None = None) -> None:
        print(text, file=file if file is not None else sys.stderr, flush=True)


def progress(iterable: Iterable[int] | None = None, *, enabled: bool = True,
             **kwargs: Any) -> Any:
    """A tqdm bar on a terminal, `PlainProgress` lines otherwise; nothing when not enabled."""
    if enabled and not is_terminal(kwargs.get("file")):
        plain = {k: v for k, v in kwargs.items() if k in ("total", "initial", "desc", "unit",
                                                          "file")}
        return PlainProgress(iterable, **plain)
    return tqdm(iterable, disable=not enabled, **kwargs)
