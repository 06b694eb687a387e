"""Process plumbing, in one place: stop signals, starting a child, a child's set-up, ending one.

Every process of a run uses this module, and only this module imports ``multiprocess``:

    stop signals    ``StopSignals`` turns SIGINT, SIGTERM and SIGHUP into a flag (never more:
                    a stop listener run inside a handler can deadlock on a pipe it shares with
                    the code it interrupted), and keeps a signal its caller chose to ignore
                    (``nohup``) ignored. ``early_signals`` notes signals that arrive while the
                    program is still importing, for the run to honour once it can.
    start           ``start_process`` spawns (never forks: a fork copies the parent's threads
                    and handlers) with SIGINT, SIGHUP and SIGTERM blocked, so a Ctrl-C during
                    start-up cannot kill a child before it has set its own dispositions; it
                    starts multiprocess's resource tracker first, because the tracker's start
                    unblocks those signals again (PITFALLS.md), and it closes the parent's
                    copies of the pipe ends handed to the child, so the child's death reads
                    as end-of-file here.
    child set-up    ``enter_child`` ignores SIGINT and SIGHUP (a terminal's signals reach the
                    whole process group; the parent stops its children with a sentinel behind
                    their last order) and unblocks the rest; ``OrphanWatch`` tells a child that
                    its parent is gone, even after kill -9.
    end             ``end_process`` joins with a deadline, then terminates, then kills, and says
                    each step in the log.
    pipes           ``one_way_pipe`` makes a pipe from the spawn context, as large as Linux lets
                    an unprivileged process ask for.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("processes")

# in this order: the signal drill (simulator/testing/signal_drill.py) reads SIGHUP caught last
# as "all ours"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_BLOCKED_AT_SPAWN = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}
_PIPE_BYTES = 1 << 20  # asked of the kernel for each pipe (Linux's default cap for a pipe)
_F_SETPIPE_SZ, _F_GETPIPE_SZ = 1031, 1032
_DEFAULT_PIPE_BYTES = 65536


# -- stop signals ---------------------------------------------------------------------------


def early_signals() -> list[int]:
    """Note stop signals from now on (before the run can handle them); the list fills as they
    arrive. A signal already ignored by whoever started us stays ignored."""
    arrived: list[int] = []
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, lambda signum, _frame: arrived.append(signum))
    return arrived


def ignore_stop_signals() -> None:
    """After the run is reported: a late Ctrl-C during interpreter teardown (freeing a large
    ledger takes a while) must not turn a clean exit status into death by SIGINT."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP call ``on_stop(reason)``, which must only set a flag.

    Install on the main thread (Python delivers signals only there). ``restore`` puts back
    what was there before. Signals noted by ``early_signals`` are honoured at install: the
    first of them stops the run at once.
    """

    def __init__(self, on_stop: Callable[[str], None], signals: Iterable[int] = STOP_SIGNALS) -> None:
        self.on_stop = on_stop
        self.signals = tuple(signals)
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: object) -> None:
        self.on_stop(f"signal {signal.Signals(signum).name}")

    def install(self, early: list[int] | None = None) -> StopSignals:
        for sig in self.signals:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # ignored by whoever started us (nohup ignores SIGHUP): keep it so
            self._previous[sig] = signal.signal(sig, self._handle)
        if early:
            self._handle(early[0], None)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


# -- start ----------------------------------------------------------------------------------


def spawn_context(name: str = "spawn") -> Any:
    """The start method's context, explicitly (multiprocess defaults to fork)."""
    import multiprocess  # here, not at the top: the dashboard and the CLI start faster

    return multiprocess.get_context(name)


def start_process(
    target: Callable, args: tuple, name: str, *, hand_over: tuple = (), context: Any = None
) -> Any:
    """Start ``target(*args)`` in a new (spawned) process with SIGINT, SIGHUP and SIGTERM
    blocked until it calls ``enter_child``; then close our copies of ``hand_over``."""
    ctx = context or spawn_context()
    _ensure_resource_tracker()
    process = ctx.Process(target=target, args=args, name=name, daemon=False)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED_AT_SPAWN)
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for conn in hand_over:
            conn.close()
    return process


def _ensure_resource_tracker() -> None:
    """Start multiprocess's resource tracker now, outside the blocked section: its start ends
    with ``pthread_sigmask(SIG_UNBLOCK, {SIGINT, SIGTERM})``, which would otherwise unblock
    them for the first child we spawn."""
    try:
        from multiprocess import resource_tracker

        resource_tracker.ensure_running()
    except Exception as exc:  # the tracker is a convenience; a child can start without it
        log.debug("resource tracker not started: %s", exc)


def one_way_pipe(context: Any = None) -> tuple[Any, Any, int]:
    """(reading end, writing end, bytes the pipe holds), grown as large as Linux allows."""
    ctx = context or spawn_context()
    reader, writer = ctx.Pipe(duplex=False)
    return reader, writer, _grow_pipe(writer)


def _grow_pipe(conn: Any) -> int:
    try:
        fcntl.fcntl(conn.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
        return fcntl.fcntl(conn.fileno(), _F_GETPIPE_SZ)
    except OSError:
        return _DEFAULT_PIPE_BYTES


# -- a child's side -------------------------------------------------------------------------


def enter_child(*, ignore: Iterable[int] = (signal.SIGINT, signal.SIGHUP)) -> None:
    """First thing in a child started by ``start_process``: ignore the terminal's signals
    (the parent stops us with a sentinel), then unblock what ``start_process`` blocked."""
    for sig in ignore:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _BLOCKED_AT_SPAWN)


class OrphanWatch:
    """Tells a child its parent is gone (also after kill -9: the child is re-parented)."""

    def __init__(self) -> None:
        self.parent_pid = os.getppid()

    @property
    def orphaned(self) -> bool:
        return os.getppid() != self.parent_pid


# -- end ------------------------------------------------------------------------------------


def end_process(process: Any, name: str, *, grace_s: float, escalate_s: float = 2.0) -> int | None:
    """Wait ``grace_s`` for ``process`` to exit by itself; then terminate it, then kill it,
    saying so. Its exit code (negative: the signal that ended it)."""
    process.join(grace_s)
    if process.is_alive():
        log.error("%s (pid %s) did not exit: terminating", name, process.pid)
        process.terminate()
        process.join(escalate_s)
    if process.is_alive():
        log.error("%s (pid %s) ignored SIGTERM: killing", name, process.pid)
        process.kill()
        process.join(escalate_s)
    return process.exitcode


def kill_process(process: Any) -> None:
    """SIGKILL at once (fault drills, a hung child); the caller notices the death as usual."""
    if process.is_alive():
        process.kill()
