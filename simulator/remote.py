"""The bank in a process of its own, under the dashboard: Snapshots out, commands in.

    dashboard process (Textual owns its main thread)          bank process (its own bus)
    RemoteSimulation.snapshot()  <---- to_ui pipe -------------  SNAPSHOT (10 Hz), then DONE
                                                                 with the final report
    command(name, arg) ------------ from_ui pipe ------------->  COMMAND, applied on the bank's
                                                                 next tick; broker processes
                                                                 below it

Both pipes carry the framing of ``simulator.messages``; commands are forwarded by name, and only
the bank's ``Simulation.command`` gives them meaning. With --http the run's API is served from
the bank process's bus, as headless; its options (the token included) come from the dashboard's
process, which prints where the API is before the dashboard takes the screen.

Textual and the bank would otherwise share one interpreter lock: every millisecond spent
drawing the screen was taken from the order flow (measured: the dashboard cost a third of the
throughput in one process). Apart, the drawing runs on the other core.

The bank process ignores SIGINT and SIGHUP (a terminal's signals reach the whole group); the
dashboard process turns them into a stop command. SIGTERM sent to the bank
process itself, or the dashboard process vanishing, also stops it cleanly. Its log records go
to the Snapshots' log lines, never to the terminal.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

from simulator import messages as msg
from simulator import processes
from simulator.bus import ORDER
from simulator.config import SimConfig
from simulator.control import BadCommand
from simulator.stats import Snapshot

if TYPE_CHECKING:
    from simulator.http_flags import HttpOptions

_JOIN_S = 5.0

log = logging.getLogger("remote")


def bank_main(config: SimConfig, to_ui: Any, from_ui: Any, http: HttpOptions | None = None) -> None:
    """Entry point of the bank process (``processes.start_process`` spawns it); ``http``: the
    run's API (--http), served from this process's bus, its token resolved by the dashboard's."""
    from simulator.runner import Simulation, setup_logging

    sim = Simulation(config, http=http)
    # SIGTERM stops the run cleanly; it is still blocked (as are SIGINT and SIGHUP, which the
    # bank ignores) until enter_child unblocks it, so none can land before its handler exists
    processes.StopSignals(sim.request_stop, signals=(signal.SIGTERM,)).install()
    processes.enter_child(
        title="bank",
        on_parent_death=signal.SIGTERM,  # the dashboard gone: a clean stop, the report written
        ignore=(signal.SIGINT, signal.SIGHUP),  # SIGTERM stops it cleanly (handler above)
    )
    setup_logging(config, sim.log_lines, console=False)
    parent = processes.OrphanWatch()

    def send(kind: bytes, body: object) -> None:
        try:
            to_ui.send_bytes(msg.encode(kind, body))
        except OSError:
            sim.request_stop("the dashboard is gone")

    def read_commands() -> bool:
        """Apply what the dashboard asked; True once a stop is requested."""
        if parent.orphaned:
            sim.request_stop("the dashboard is gone")
        try:
            while from_ui.poll():
                try:
                    kind, body = msg.decode(from_ui.recv_bytes())
                    if kind != msg.COMMAND:
                        raise msg.BadMessage(f"{kind!r} where a command was expected")
                    sim.command(*body)
                except (msg.BadMessage, BadCommand) as exc:  # say so, and go on
                    log.warning("bad command from the dashboard ignored: %s", exc)
        except (EOFError, OSError):
            sim.request_stop("the dashboard is gone")
        return bool(sim.stop)

    sim.snapshots.listeners.append(lambda snapshot: send(msg.SNAPSHOT, snapshot))
    sim.pool.should_abort = read_commands  # heard while the brokers start, too
    sim.bus.subscribe("main", read_commands, priority=ORDER["main", "commands"])
    result = None
    try:
        result = sim.finish_report(sim.run())
    except Exception:
        log.exception("the bank process failed")
    finally:
        send(msg.DONE, result)
        to_ui.close()


class RemoteSimulation:
    """A ``SimControl`` for a bank running in its own process.

    A reader thread (joined by ``finish``) keeps the latest Snapshot and waits for the final
    report; commands go out under a lock. ``request_stop`` only sets a flag that the reader
    thread acts on, so a signal handler may call it.
    """

    def __init__(self, config: SimConfig, *, http: HttpOptions | None = None) -> None:
        ctx = processes.spawn_context()
        self._inbound, to_ui, _ = processes.one_way_pipe(ctx)
        from_ui, self._outbound, _ = processes.one_way_pipe(ctx)
        self.process = processes.start_process(
            bank_main, (config, to_ui, from_ui, http), "bank", hand_over=(to_ui, from_ui), context=ctx
        )
        self._latest: Snapshot | None = None
        self._result: tuple[dict, list[str]] | None = None
        self._done = threading.Event()
        self._send_lock = threading.Lock()
        self._stop_reason: str | None = None
        self._stop_sent = False
        self._reader = threading.Thread(target=self._read, name="bank-reader")
        self._reader.start()

    # -- SimControl ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        return self._latest

    def command(self, name: str, arg: object = None) -> None:
        """Forwarded by name; the bank process checks and applies it."""
        with self._send_lock:
            try:
                self._outbound.send_bytes(msg.encode(msg.COMMAND, (name, arg)))
            except OSError:
                pass  # the bank is gone; the reader sees it and ends the run

    def request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason  # the reader thread sends it (safe from a signal handler)

    def wait_stopped(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def final(self) -> tuple[dict | None, str | None] | None:
        """Once the run is over: (its report, None), or (None, why there is none); None before."""
        if not self._done.is_set():
            return None
        if self._result is None:
            return None, "the bank process ended without a report (see --log-file)"
        return self._result[0], None

    # -- plumbing -----------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            while True:
                if self._stop_reason is not None and not self._stop_sent:
                    self._stop_sent = True
                    self.command("stop", self._stop_reason)
                if not self._inbound.poll(0.05):
                    if not self.process.is_alive() and not self._inbound.poll():
                        return  # died without a word
                    continue
                try:
                    kind, body = msg.decode(self._inbound.recv_bytes())
                except msg.BadMessage as exc:
                    log.warning("bad message from the bank process ignored: %s", exc)
                    continue
                if kind == msg.SNAPSHOT:
                    self._latest = body
                elif kind == msg.DONE:
                    self._result = body
                    return
        except (EOFError, OSError):
            return
        finally:
            self._done.set()

    def finish(self, timeout: float) -> tuple[dict, list[str]] | None:
        """Stop the run if it still goes, wait for its report, join the bank process (then
        terminate, then kill it if it does not exit). The report and errors; None if lost."""
        self.request_stop("dashboard closed")
        self._done.wait(timeout)
        self._reader.join(_JOIN_S)
        processes.end_process(self.process, "the bank process", grace_s=_JOIN_S, escalate_s=_JOIN_S)
        self._inbound.close()
        self._outbound.close()
        return self._result
