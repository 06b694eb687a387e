"""The bank in a process of its own, under the dashboard: Snapshots out, commands in.

    dashboard process (Textual owns its main thread)          bank process (its own bus)
    RemoteSimulation.snapshot()  <---- to_ui pipe -------------  Snapshots (10 Hz), then the
                                                                 final report
    pause / resume / set_rate / ... ---- from_ui pipe -------->  applied on the bank's next tick
                                                                 broker processes below it

Textual and the bank would otherwise share one interpreter lock: every millisecond spent
drawing the screen was taken from the order flow (measured: the dashboard cost a third of the
throughput in one process). Apart, the drawing runs on the other core.

The bank process ignores SIGINT and SIGHUP like the brokers (a terminal's signals reach the
whole group); the dashboard process turns them into a stop command. SIGTERM sent to the bank
process itself, or the dashboard process vanishing, also stops it cleanly. Its log records go
to the Snapshots' log lines, never to the terminal.
"""
from __future__ import annotations

import logging
import os
import pickle
import signal
import threading

from simulator.config import SimConfig
from simulator.pool import spawn_context, start_process
from simulator.stats import Snapshot

_SNAPSHOT, _DONE = "snapshot", "done"
_JOIN_S = 5.0

log = logging.getLogger("remote")


def bank_main(config: SimConfig, to_ui, from_ui) -> None:
    """Entry point of the bank process (spawned with SIGINT, SIGHUP, SIGTERM blocked)."""
    from simulator.cli import finish_report  # the bank's side of a run, as headless
    from simulator.runner import Simulation, setup_logging

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sim = Simulation(config)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sim.request_stop("signal SIGTERM"))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGHUP, signal.SIGTERM})
    setup_logging(config, sim.log_lines, console=False)
    parent = os.getppid()

    def send(kind: str, body) -> None:
        try:
            to_ui.send_bytes(pickle.dumps((kind, body), pickle.HIGHEST_PROTOCOL))
        except OSError:
            sim.request_stop("the dashboard is gone")

    def read_commands() -> bool:
        """Apply what the dashboard asked; True once a stop is requested."""
        if os.getppid() != parent:
            sim.request_stop("the dashboard is gone")
        try:
            while from_ui.poll():
                command, arg = pickle.loads(from_ui.recv_bytes())
                _apply(sim, command, arg)
        except (EOFError, OSError):
            sim.request_stop("the dashboard is gone")
        except Exception as exc:  # a command we cannot read: say so, and go on
            log.warning("bad command from the dashboard ignored: %r", exc)
        return bool(sim.stop)

    sim.bank.snapshot_listeners.append(lambda snapshot: send(_SNAPSHOT, snapshot))
    sim.bank.pool.should_abort = read_commands  # heard while the brokers start, too
    sim.bus.subscribe("main", read_commands, priority=10)
    result = None
    try:
        outcome = sim.run()
        result = finish_report(config, sim, outcome)
    except Exception:
        log.exception("the bank process failed")
    finally:
        send(_DONE, result)
        to_ui.close()


def _apply(sim, command: str, arg) -> None:
    if command == "pause":
        sim.pause()
    elif command == "resume":
        sim.resume()
    elif command == "rate":
        sim.set_rate(float(arg))
    elif command == "select":
        sim.select_symbol(str(arg))
    elif command == "kill":
        sim.kill_broker(str(arg))
    elif command == "stop":
        sim.request_stop(str(arg))
    else:
        log.warning("unknown command from the dashboard ignored: %r", command)


class RemoteSimulation:
    """A ``SimControl`` for a bank running in its own process.

    A reader thread (joined by ``finish``) keeps the latest Snapshot and waits for the final
    report; commands go out under a lock. ``request_stop`` only sets a flag that the reader
    thread acts on, so a signal handler may call it.
    """

    def __init__(self, config: SimConfig) -> None:
        ctx = spawn_context()
        self._inbound, to_ui = ctx.Pipe(duplex=False)
        from_ui, self._outbound = ctx.Pipe(duplex=False)
        self.process = start_process(ctx, bank_main, (config, to_ui, from_ui), "bank",
                                     hand_over=(to_ui, from_ui))
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

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def set_rate(self, rate: float) -> None:
        self._send("rate", rate)

    def select_symbol(self, symbol: str) -> None:
        self._send("select", symbol)

    def kill_broker(self, name: str) -> None:
        self._send("kill", name)

    def request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason  # the reader thread sends it (safe from a signal handler)

    def wait_stopped(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    # -- plumbing -----------------------------------------------------------------------------

    def _send(self, command: str, arg=None) -> None:
        with self._send_lock:
            try:
                self._outbound.send_bytes(pickle.dumps((command, arg), pickle.HIGHEST_PROTOCOL))
            except OSError:
                pass  # the bank is gone; the reader sees it and ends the run

    def _read(self) -> None:
        try:
            while True:
                if self._stop_reason is not None and not self._stop_sent:
                    self._stop_sent = True
                    self._send("stop", self._stop_reason)
                if not self._inbound.poll(0.05):
                    if not self.process.is_alive() and not self._inbound.poll():
                        return  # died without a word
                    continue
                kind, body = pickle.loads(self._inbound.recv_bytes())
                if kind == _SNAPSHOT:
                    self._latest = body
                elif kind == _DONE:
                    self._result = body
                    return
        except (EOFError, OSError, pickle.UnpicklingError):
            return
        finally:
            self._done.set()

    def finish(self, timeout: float) -> tuple[dict, list[str]] | None:
        """Stop the run if it still goes, wait for its report, join the bank process (then
        terminate, then kill it if it does not exit). The report and errors; None if lost."""
        self.request_stop("dashboard closed")
        self._done.wait(timeout)
        self._reader.join(_JOIN_S)
        p = self.process
        p.join(_JOIN_S)
        if p.is_alive():
            log.error("the bank process did not exit: terminating it")
            p.terminate()
            p.join(_JOIN_S)
        if p.is_alive():
            p.kill()
            p.join(_JOIN_S)
        self._inbound.close()
        self._outbound.close()
        return self._result
