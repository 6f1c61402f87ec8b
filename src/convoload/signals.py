"""SIGINT and SIGTERM end a run the way its time limit does; a second one exits at once.

The first SIGINT (Ctrl-C) or SIGTERM (what Kubernetes, systemd and CI runners send) asks the run to
stop: no new conversation starts, those under way are recorded as interrupted, the aggregate and the
report are written, the results store says `interrupted`, the summary is printed, and the process
exits 128 + the signal's number, as a shell reports a process the signal ended: 130 for SIGINT, 143
for SIGTERM. A second signal exits at once with the same code: every conversation that finished before
it is already in the journal (one complete line each, written with one write), and
`convoload report <run dir>` rebuilds the rest.

The handlers are gevent's (`gevent.signal_handler`): they run in a greenlet of the hub between two
steps of the event loop, never in the middle of a journal write or a conversation's bookkeeping.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import gevent
from gevent.event import Event

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The exit code of a process a signal ended: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def say(message: str) -> None:
    """One line on stderr, at once (stdout may be a pipe someone reads for results)."""
    with contextlib.suppress(OSError, ValueError):  # stderr closed: the notice is not worth failing for
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


def exit_now(signum: int) -> None:
    """The second signal: leave at once. Finished conversations are already journaled."""
    say(
        f"{signal_name(signum)} again: exiting now; finished conversations are in the journal "
        "(`convoload report <run dir>` rebuilds the reports)"
    )
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    os._exit(exit_code(signum))


class StopRequest:
    """A request to end a run early, as its time limit would; set once, with its reason.

    The load engine waits on `event` beside the run's own end; `on_set` callbacks run when it is set
    (at once when it already is), e.g. to pass the signal on to a child process.
    """

    def __init__(self) -> None:
        self.event = Event()
        self.reason: str | None = None
        self.signum: int | None = None
        self._callbacks: list[Callable[[], None]] = []

    def set(self, reason: str, signum: int | None = None) -> None:
        if self.event.is_set():
            return
        self.reason, self.signum = reason, signum
        self.event.set()
        for callback in self._callbacks:
            callback()

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.event.wait(timeout)

    def on_set(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self.event.is_set():
            callback()

    @property
    def exit_code(self) -> int | None:
        """128 + the signal that set it; None when no signal did."""
        return exit_code(self.signum) if self.signum is not None else None


def install(handler: Callable[[int], None]) -> Callable[[], None]:
    """Call `handler(signum)` on SIGINT and SIGTERM (in a greenlet); returns the function that undoes it.

    A SIGINT that was ignored when the process started (a background job of a non-interactive shell,
    `nohup`) stays ignored, as Python itself leaves it. Undoing puts Python's handlers back: libev,
    when its last watcher of a signal goes, leaves the signal's default action behind.
    """
    installed: list[tuple[int, Any, Any]] = []
    for signum in STOP_SIGNALS:
        previous = signal.getsignal(signum)
        if signum == signal.SIGINT and previous is signal.SIG_IGN:
            continue
        installed.append((signum, previous, gevent.signal_handler(signum, handler, signum)))

    def undo() -> None:
        while installed:
            signum, previous, watcher = installed.pop()
            watcher.cancel()
            if previous is not None:
                signal.signal(signum, previous)

    return undo


class GracefulStop:
    """While active (a context manager): the first SIGINT or SIGTERM sets `request`, a second exits at once.

    `before_exit(signum)` runs before that immediate exit (e.g. to pass the signal on to child processes).
    """

    def __init__(
        self, request: StopRequest | None = None, *, before_exit: Callable[[int], None] | None = None
    ) -> None:
        self.request = request or StopRequest()
        self.before_exit = before_exit
        self._undo: Callable[[], None] | None = None

    def __enter__(self) -> Self:
        self._undo = install(self._received)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None

    @property
    def exit_code(self) -> int | None:
        return self.request.exit_code

    def _received(self, signum: int) -> None:
        if self.request.signum is not None:
            if self.before_exit is not None:
                self.before_exit(signum)
            exit_now(signum)
        name = signal_name(signum)
        say(
            f"{name}: stopping; conversations under way are recorded as interrupted "
            f"(send it again to exit at once)"
        )
        self.request.set(name, signum)


def relaying_stop(processes: list[subprocess.Popen[bytes]]) -> GracefulStop:
    """A GracefulStop whose immediate exit (a second signal) passes the signal on to `processes`
    still running (the Locust master and workers a command started, filled in as they start)."""

    def pass_on(signum: int) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    return GracefulStop(before_exit=pass_on)
