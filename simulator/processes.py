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
    child set-up    ``enter_child`` gives the process a title (``simulate: broker-2``), asks the
                    kernel for a signal when the parent dies, ignores the stop signals that
                    reach the whole process group (the parent stops its children with a
                    sentinel behind their last order) and unblocks what it must handle;
                    ``OrphanWatch`` tells a child that its parent is gone, even after kill -9.
    end             ``end_process`` joins with a deadline, then terminates (unless the child
                    ignores SIGTERM), then kills, and says each step in the log.
    pipes           ``one_way_pipe`` makes a pipe from the spawn context, as large as Linux lets
                    an unprivileged process ask for.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("processes")

# in this order: the signal drill (simulator/testing/signal_drill.py) reads SIGHUP caught last
# as "all ours"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_BLOCKED_AT_SPAWN = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}
_PIPE_BYTES = 1 << 20  # asked of the kernel for each pipe (Linux's default cap for a pipe)
_F_SETPIPE_SZ, _F_GETPIPE_SZ = 1031, 1032
_SMALLEST_PIPE_BYTES = 4096  # a pipe holds at least one page
_PR_SET_PDEATHSIG = 1


# -- stop signals ---------------------------------------------------------------------------


def early_signals() -> list[int]:
    """Note stop signals from now on (before the run can handle them); the list fills as they
    arrive. A signal already ignored by whoever started us stays ignored."""
    arrived: list[int] = []
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, lambda signum, _frame: arrived.append(signum))
    return arrived


def ignored_stop_signals() -> list[str]:
    """Names of the stop signals ignored now. Called after ``early_signals`` (which keeps an
    inherited ignore): a job a script starts in the background inherits SIGINT ignored, and
    the banner must then not promise that Ctrl-C stops the run."""
    return [signal.Signals(sig).name for sig in STOP_SIGNALS if signal.getsignal(sig) is signal.SIG_IGN]


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
    """The pipe's capacity in bytes after asking for ``_PIPE_BYTES``: what the kernel says, never
    a guess (past a user's pipe budget -- many brokers, two runs at once -- new pipes hold only
    a page or two, and a write sized for 64 KiB would block)."""
    try:
        fcntl.fcntl(conn.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
    except OSError:
        pass  # refused (over /proc/sys/fs/pipe-max-size or the user's budget): keep what it has
    try:
        return fcntl.fcntl(conn.fileno(), _F_GETPIPE_SZ)
    except OSError:
        return _SMALLEST_PIPE_BYTES


# -- a child's side -------------------------------------------------------------------------


def enter_child(
    title: str | None = None,
    *,
    on_parent_death: int = signal.SIGKILL,
    ignore: Iterable[int] = STOP_SIGNALS,
) -> None:
    """First thing in a child started by ``start_process``: name it, have the kernel send it
    ``on_parent_death`` if its parent dies (SIGKILL for a broker, which has nobody left to
    answer; SIGTERM for a process that stops cleanly on it), ignore the signals that reach the
    whole process group (a terminal's Ctrl-C and hangup, a service manager's SIGTERM: the
    parent stops its children with a sentinel behind their last order, and kills one that does
    not answer), then unblock what ``start_process`` blocked."""
    if title:
        set_title(title)
    end_with_parent(on_parent_death)
    for sig in ignore:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _BLOCKED_AT_SPAWN)


def in_spawned_child() -> bool:
    """True in a process multiprocess spawned (its command line ends with this flag), already
    while it imports its parent's main module, before it knows what it is for."""
    return "--multiprocessing-fork" in sys.argv


def set_title(role: str) -> None:
    """``simulate: broker-2`` in ps and top, instead of multiprocess's spawn command line."""
    try:
        import setproctitle  # a C extension: the kernel's view of argv, which Python cannot set

        setproctitle.setproctitle(f"simulate: {role}")
    except Exception as exc:  # a title is a courtesy: never a reason not to run
        log.debug("process title not set: %s", exc)


def set_thread_title(name: str) -> None:
    """The calling thread's name as the kernel shows it (``top -H``, ``ps -L``)."""
    try:
        import setproctitle

        setproctitle.setthreadtitle(name)
    except Exception as exc:  # a courtesy, as set_title
        log.debug("thread title not set: %s", exc)


def end_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send ``sig`` the moment the parent dies (Linux ``PR_SET_PDEATHSIG``),
    even while this process is busy or still importing, where ``OrphanWatch`` only notices at
    its next look. SIGKILL cannot be blocked; a blocked SIGTERM waits for ``enter_child``."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError) as exc:  # not Linux: the orphan watch still works
        log.debug("parent-death signal not set: %s", exc)


class OrphanWatch:
    """Tells a child its parent is gone (also after kill -9: the child is re-parented).

    The parent's pid comes from the spawn data, not ``getppid()``: a parent that died before
    the child got here would otherwise be taken for init, forever alive."""

    def __init__(self) -> None:
        import multiprocess

        parent = multiprocess.parent_process()
        self.parent_pid = parent.pid if parent is not None else os.getppid()

    @property
    def orphaned(self) -> bool:
        return os.getppid() != self.parent_pid


# -- end ------------------------------------------------------------------------------------


def end_process(
    process: Any, name: str, *, grace_s: float, escalate_s: float = 2.0, terminate: bool = True
) -> int | None:
    """Wait ``grace_s`` for ``process`` to exit by itself; then terminate it (unless it ignores
    SIGTERM, as brokers do), then kill it, saying so. Its exit code (negative: the signal)."""
    process.join(grace_s)
    if terminate and process.is_alive():
        log.error("%s (pid %s) did not exit: terminating", name, process.pid)
        process.terminate()
        process.join(escalate_s)
    if process.is_alive():
        log.error("%s (pid %s) did not exit%s: killing", name, process.pid,
                  " after SIGTERM" if terminate else "")  # fmt: skip
        process.kill()
        process.join(escalate_s)
    return process.exitcode


def kill_process(process: Any) -> None:
    """SIGKILL at once (fault drills, a hung child); the caller notices the death as usual."""
    if process.is_alive():
        process.kill()


# A spawned child imports for a while (its parent's main module, then numpy and the rest)
# before ``enter_child`` runs: ending with its parent from here on, not only from there, keeps
# a kill -9 of the bank from leaving brokers that are still importing (they hold no order yet,
# so SIGKILL loses nothing; ``enter_child`` then sets the process's own signal). A parent that
# died before the signal was asked for sends none: the spawner's pid, inherited through the
# environment, tells that case apart, and the child ends as the signal would have ended it.
_SPAWNER_PID = "SIMULATOR_SPAWNER_PID"
if in_spawned_child():
    end_with_parent()
    if os.environ.get(_SPAWNER_PID, str(os.getppid())) != str(os.getppid()):
        os.kill(os.getpid(), signal.SIGKILL)
os.environ[_SPAWNER_PID] = str(os.getpid())
