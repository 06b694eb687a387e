"""Process plumbing, in one place: stop signals, starting a child, a child's set-up, ending one.

Every process of a run uses this module, and only this module imports ``multiprocess``:

    stop signals    ``StopSignals`` turns SIGINT, SIGTERM and SIGHUP into a flag (never more:
                    a stop listener run inside a handler can deadlock on a pipe it shares with
                    the code it interrupted), and keeps a signal its caller chose to ignore
                    (``nohup``) ignored. ``early_signals`` notes signals that arrive while the
                    program is still importing, for the run to honour once it can.
    start           ``start_process`` spawns (never forks the bank: a fork copies the parent's
                    threads and handlers) with SIGINT, SIGHUP and SIGTERM blocked, so a Ctrl-C
                    during start-up cannot kill a child before it has set its own
                    dispositions; it starts multiprocess's resource tracker first, because the
                    tracker's start unblocks those signals again (PITFALLS.md), and it closes
                    the parent's copies of the pipe ends handed to the child, so the child's
                    death reads as end-of-file here.
    fork server     ``fork_server_context`` (brokers, over pipes or AMQP: ``AMQP_PRELOAD``
                    imports pika too): a process spawned once, with the signals
                    blocked, that imports the broker's code and then forks each new broker in a
                    few milliseconds instead of the second or more a spawn's imports take on a
                    loaded machine. It has one thread and no handlers of ours, so a fork of it
                    copies nothing a spawn would not have. It ends with the bank (parent-death
                    signal, and a spawner check for a bank that died before it asked); each fork
                    ends with it (the same, in an after-fork hook), so a kill -9 of the bank
                    still leaves no broker behind. ``stop_fork_server`` ends it with the pool.
    child set-up    ``enter_child`` gives the process a title (``simulate: broker-2``), asks the
                    kernel for a signal when the parent dies, ignores the stop signals that
                    reach the whole process group (the parent stops its children with a
                    sentinel behind their last order) and unblocks what it must handle;
                    ``OrphanWatch`` tells a child that its parent is gone, even after kill -9.
    end             ``end_process`` joins with a deadline, then terminates (unless the child
                    ignores SIGTERM), then kills, and says each step in the log.
    pipes           ``one_way_pipe`` makes a pipe from the spawn context, as large as Linux lets
                    an unprivileged process ask for.
    memory          ``steady_malloc`` keeps glibc's malloc from raising its mmap threshold as
                    large arrays are freed (each process of a run calls it at its start);
                    ``trim_malloc`` hands the heap's free pages back (the bank, every few s);
                    ``freeze_heap_each_tick`` keeps a broker's books out of the collector's walks.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import logging
import os
import signal
import sys
import time
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
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_MMAP_BYTES = 1 << 20  # blocks this large are mapped (glibc starts at 128 KiB, raises it up to 32 MiB)
_TRIM_BYTES = 2 << 20  # free memory at the top of the heap beyond this goes back to the kernel
_PR_SET_PDEATHSIG = 1
# what the fork server imports before it forks anything: the broker, and the entry point a
# fork re-runs as its main module (simulate.py imports only this)
_FORK_SERVER_PRELOAD = ("simulator.broker", "simulator.__main__")
AMQP_PRELOAD = (*_FORK_SERVER_PRELOAD, "simulator.amqp_broker")  # and pika, for AMQP runs only
_FORK_SERVER = "SIMULATOR_FORK_SERVER"  # the bank's pid, in the fork server's environment only
_forked_by: int | None = None  # in a fork of the fork server: the server's pid


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


def fork_server_context(preload: Iterable[str] = _FORK_SERVER_PRELOAD) -> Any:
    """A context whose processes the fork server forks, once it has imported ``preload``."""
    ctx = spawn_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    return ctx


def start_process(
    target: Callable, args: tuple, name: str, *, hand_over: tuple = (), context: Any = None
) -> Any:
    """Start ``target(*args)`` in a new process (spawned, or forked by the fork server) with
    SIGINT, SIGHUP and SIGTERM blocked until it calls ``enter_child``; then close our copies
    of ``hand_over``."""
    ctx = context or spawn_context()
    _ensure_resource_tracker()
    process = ctx.Process(target=target, args=args, name=name, daemon=False)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED_AT_SPAWN)
    try:
        if ctx.get_start_method() == "forkserver":
            _ensure_fork_server()  # blocked too: the server, and every fork of it, inherit it
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


def _ensure_fork_server() -> None:
    """Start the fork server if it is not running, telling it (through its environment, which
    only it reads and then drops) that it is one, and whose."""
    from multiprocess import forkserver

    _ensure_resource_tracker()  # its (re)start would unblock the signals: before we block again
    signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED_AT_SPAWN)
    os.environ[_FORK_SERVER] = str(os.getpid())
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(_FORK_SERVER, None)


def stop_fork_server(grace_s: float = 2.0) -> None:
    """End the fork server once its forks are gone (the pool's stop): it leaves when the last
    holder of its "alive" pipe closes it, the bank being one. Waits ``grace_s`` for that; one
    still serving a fork that lives on ends with that fork. The next start starts a new one."""
    from multiprocess import forkserver

    server = forkserver._forkserver  # no public stop: this is what its own tests use
    with server._lock:
        pid, alive_fd = server._forkserver_pid, server._forkserver_alive_fd
        if pid is None:
            return
        server._forkserver_pid = server._forkserver_alive_fd = server._forkserver_address = None
        os.close(alive_fd)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                time.sleep(0.01)
                continue
        return
    log.warning("the fork server (pid %d) is still serving a broker: it ends with it", pid)


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


def steady_malloc() -> bool:
    """Fix glibc malloc's mmap and trim thresholds at their starting values; True if it took.

    By default glibc raises its mmap threshold to the size of each mapped block freed (up to
    32 MiB) and its trim threshold to twice that. One order window's arrays grown or a shard's
    restore freeing a few MiB is enough: from then on every numpy temporary below that size
    comes from the heap, which fragments and is not trimmed, and a long run's resident memory
    creeps up while what it uses stays flat. Fixed thresholds stop that (glibc only; elsewhere
    nothing changes)."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES))
    except (OSError, AttributeError) as exc:  # not glibc: its own allocator's ways
        log.debug("malloc thresholds not set: %s", exc)
        return False


@functools.cache
def _malloc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError) as exc:  # not glibc
        log.debug("malloc_trim not available: %s", exc)
        return None


def trim_malloc() -> bool:
    """Give the kernel back every whole free page of glibc's heap, in its middle too; True if
    that was done (glibc only).

    The trim threshold only returns free memory at the heap's top; arrays and buffers under 1
    MiB come and go every tick with a few live ones between them, so free chunks grow in the
    heap's middle and stay resident (a soak's RSS crept up while the bytes in use stayed flat).
    ``malloc_trim(0)`` walks the free chunks (under a millisecond here) and releases them."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


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
    steady_malloc()
    for sig in ignore:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _BLOCKED_AT_SPAWN)


def in_spawned_child() -> bool:
    """True in a process multiprocess spawned (its command line ends with this flag), already
    while it imports its parent's main module, before it knows what it is for."""
    return "--multiprocessing-fork" in sys.argv


def freeze_heap_each_tick(bus: Any) -> None:
    """A broker process's collector policy: what survives a tick is frozen at its end.

    A broker's heap is its books: each resting order is a few lists (its entry, often a new
    level), kept until it fills or is cancelled, and freed by reference counting then; none is
    in a cycle (tests/unit/test_broker_collector.py). The collector walked them anyway, each
    survivor once per generation it passed, and at 100,000 symbols a generation-1 pass walked
    millions of them (about 0.9 s of CPU per million orders). ``gc.freeze()`` moves every
    tracked object to the permanent generation, which is never walked, in O(1) (it splices the
    generations' lists), so each tick's survivors are never walked at all. The cost: a cycle
    made after it would never be freed, hence the test of the steady state. Objects are still
    freed by reference counting as before; the high first threshold lets a tick that allocates
    much (a RESTORE) run without collections too."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
    bus.subscribe("main", gc.freeze, priority=90)  # after the pump's tick (priority 50)


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
        if _forked_by is not None:  # the fork server's fork: it ends with the bank
            self.parent_pid = _forked_by
        else:
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
#
# The fork server is started by multiprocess with a command line of its own: its environment
# says what it is. It ends with the bank as a spawned child does, names itself, and has every
# fork of it block the stop signals and end with it at once, before anything else runs there
# (the kernel clears a parent-death signal across fork).
_SPAWNER_PID = "SIMULATOR_SPAWNER_PID"


def _end_now_if_parent_is_not(pid: str | None) -> None:
    if pid is not None and pid != str(os.getppid()):
        os.kill(os.getpid(), signal.SIGKILL)


def _after_fork_of_the_server(server_pid: int) -> None:
    global _forked_by
    signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED_AT_SPAWN)
    end_with_parent()
    _end_now_if_parent_is_not(str(server_pid))
    _forked_by = server_pid


if in_spawned_child():
    end_with_parent()
    _end_now_if_parent_is_not(os.environ.get(_SPAWNER_PID))
elif _FORK_SERVER in os.environ:
    end_with_parent()
    _end_now_if_parent_is_not(os.environ.pop(_FORK_SERVER))
    set_title("fork-server")
    os.register_at_fork(after_in_child=functools.partial(_after_fork_of_the_server, os.getpid()))
os.environ[_SPAWNER_PID] = str(os.getpid())
