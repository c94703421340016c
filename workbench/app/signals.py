"""SIGINT and SIGTERM: one handler per process, one flag, for commands and runs alike.

`stop_requests()` is the only place the application installs signal handlers. The
outermost use in a process creates the `Stop` and installs its handler; a nested use (a run
trained inline by `compare` or `reproduce`) shares the same `Stop`, and installs its handler
again (a Ray connection made in between may have replaced it: `ray.init` installs its own
SIGTERM handler), restoring what it replaced on exit. What a signal does:

- it sets `requested` and is forwarded to the worker processes in `children` (which run in
  sessions of their own, so a terminal's Ctrl-C reaches each only once);
- the runner's own requests to stop (`forward()`: a run failed, or one was stopped by a
  signal sent to it alone) reach each child at most once, so a child that is already
  finishing its iteration is not given the second SIGINT that would interrupt it before
  its checkpoint (it lost the whole run when one of two parallel runs stopped first);
- inside a training loop (`training=True`), a second SIGINT raises KeyboardInterrupt at
  once; the first lets the loop finish its iteration and checkpoint;
- outside one, while `abort` is set (an inline run starting up or tearing down), it raises
  KeyboardInterrupt.

Outside the main thread no handler can be installed: the `Stop` then only carries the flag.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from contextlib import contextmanager
from typing import Any, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """The process's stop request: set by SIGINT or SIGTERM, read by loops between steps."""

    def __init__(self) -> None:
        self.requested = False
        self.abort = False  # raise KeyboardInterrupt at a signal outside a training loop
        self.training = 0  # training loops running in this process (0 or 1)
        self.children: set[subprocess.Popen] = set()
        self.signalled: set[subprocess.Popen] = set()  # children already asked to stop

    def handle(self, signum: int, frame: Any) -> None:
        again = self.requested
        self.requested = True
        self.forward(signum, again=True)
        if self.training:
            if again and signum == signal.SIGINT:
                raise KeyboardInterrupt
        elif self.abort:
            raise KeyboardInterrupt

    def forward(self, signum: int = signal.SIGINT, again: bool = False) -> None:
        """Pass `signum` to the running children: to those not yet asked to stop, or to
        all (`again`: a signal this process received, e.g. a second Ctrl-C)."""
        for proc in list(self.children):
            if proc.poll() is None and (again or proc not in self.signalled):
                self.signalled.add(proc)
                proc.send_signal(signum)


_current: Stop | None = None


@contextmanager
def stop_requests(training: bool = False) -> Iterator[Stop]:
    """The process's `Stop` (created by the outermost use) with its handler installed for
    the duration; `training` marks a training loop (see the module docstring)."""
    global _current
    outermost = _current is None
    stop = Stop() if outermost else _current
    _current = stop
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            previous[sig] = signal.signal(sig, stop.handle)
    stop.training += int(training)
    try:
        yield stop
    finally:
        stop.training -= int(training)
        for sig, old in previous.items():
            signal.signal(sig, old)
        if outermost:
            _current = None
