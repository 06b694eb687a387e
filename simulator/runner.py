"""One run of the simulator: the bank's bus and plugins, signals, and the run's outcome.

``Simulation`` wires the bank process: a fresh bus, the ``BrokerPool`` and ``Bank`` plugins,
and ``drive`` to tick it. It is also the ``SimControl`` a dashboard holds. ``run()`` blocks
until the stop protocol has finished (call it on the main thread headless, or on a thread
under the dashboard); ``outcome()`` then says what happened and which exit status it earns.

Signal handlers only set the stop flag: the bus exits from ordinary code on the next tick,
never inside a handler (a stop listener run there could deadlock on a queue lock).
"""
from __future__ import annotations

import logging
import signal
import threading
from collections import deque
from dataclasses import dataclass

from simulator.bank import Bank, StopRequest
from simulator.bus import drive, new_bus
from simulator.config import SimConfig
from simulator.journal import Journal
from simulator.ledger import Reconciliation
from simulator.stats import Snapshot

EXIT_OK, EXIT_FAILED = 0, 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LOG_FORMAT = "%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("run")


class RingHandler(logging.Handler):
    """Keeps the last log lines of every process for the dashboard."""

    def __init__(self, lines: deque[str]) -> None:
        super().__init__()
        self.lines = lines
        self.setFormatter(logging.Formatter("%(asctime)s %(processName)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)


@dataclass(frozen=True)
class Outcome:
    snapshot: Snapshot
    reconciliation: Reconciliation | None
    stop_reason: str
    fatal: bool
    brokers_clean: bool
    exit_code: int


class Simulation:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.stop = StopRequest()
        self.log_lines: deque[str] = deque(maxlen=200)
        self.bus = new_bus("bank")
        self.bank = Bank(self.bus, config, self.stop, self.log_lines)
        self.bank.pool.subscribe()
        self.bank.subscribe()
        self.bus.subscribe("stop", self.bank.finish, priority=90)
        self.bus.subscribe("start", self.bank.announce, priority=5)
        self.journal: Journal | None = None
        if config.journal:
            self.journal = Journal(self.bus, config.journal, config=config.to_dict())
            self.journal.subscribe()
            self.bank.journal = self.journal
        self._stopped = threading.Event()
        self._previous_handlers: dict[int, object] = {}

    # -- SimControl ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        return self.bank.snapshot

    def pause(self) -> None:
        self.bank.paused = True
        self.bank.expedite_snapshot()

    def resume(self) -> None:
        self.bank.paused = False
        self.bank.expedite_snapshot()

    def set_rate(self, rate: float) -> None:
        self.bank.set_rate(rate)
        self.bank.expedite_snapshot()

    def select_symbol(self, symbol: str) -> None:
        self.bank.select_symbol(symbol)
        self.bank.expedite_snapshot()

    def kill_broker(self, name: str) -> None:
        self.bank.kill_broker(name)

    def request_stop(self, reason: str) -> None:
        self.stop.request(reason)

    def wait_stopped(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)

    # -- running ------------------------------------------------------------------------------

    def install_signal_handlers(self, early: list | None = None) -> None:
        """SIGINT, SIGTERM, SIGHUP only set the stop flag (main thread only). ``early`` holds
        signals that arrived before this was called; the first of them stops the run."""

        def on_signal(signum, _frame):
            self.stop.request(f"signal {signal.Signals(signum).name}")

        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # ignored by whoever started us (nohup ignores SIGHUP): keep it so
            self._previous_handlers[sig] = signal.signal(sig, on_signal)
        if early:
            on_signal(early[0], None)

    def restore_signal_handlers(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers.clear()

    def start(self) -> None:
        """Start the bus (spawns the brokers) without ticking it: for the dashboard, which must
        start processes before Textual takes the terminal, then ``run(started=True)`` on a thread."""
        self.bus.start()

    def run(self, *, started: bool = False) -> Outcome:
        """Start everything, tick until a stop is asked, stop cleanly; the run's outcome."""
        try:
            drive(self.bus, lambda: bool(self.stop), start=not started)
        except Exception as exc:
            # the bus has exited (drive's finally): brokers were stopped, the ledger closed
            log.exception("the bank's loop failed")
            self.stop.request(f"fatal: the bank's loop failed: {exc!r:.200}", fatal=True)
        finally:
            self._stopped.set()
        return self.outcome()

    def outcome(self) -> Outcome:
        bank = self.bank
        rec = bank.reconciliation
        snap = bank.snapshot or bank.make_snapshot(0.0)
        clean = bank.pool.all_clean
        journal_ok = self.journal is None or self.journal.failed is None
        ok = rec is not None and rec.ok and clean and not self.stop.fatal and journal_ok
        return Outcome(
            snapshot=snap,
            reconciliation=rec,
            stop_reason=self.stop.reason or "unknown",
            fatal=self.stop.fatal,
            brokers_clean=clean,
            exit_code=EXIT_OK if ok else EXIT_FAILED,
        )


def setup_logging(config: SimConfig, lines: deque[str] | None, *, console: bool) -> None:
    """Bank-side logging: stderr (headless only), the dashboard ring, and ``--log-file``."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    level = logging.getLevelName(config.log_level)
    root.setLevel(level)
    # the bus narrates every state change at INFO; keep that for DEBUG runs
    logging.getLogger("bus").setLevel(max(level, logging.WARNING))
    fmt = logging.Formatter(LOG_FORMAT)
    if console:
        h = logging.StreamHandler()
        h.setFormatter(logging.Formatter("%(processName)s %(levelname)s %(name)s: %(message)s"))
        h.setLevel(max(level, logging.WARNING))  # progress lines tell the rest
        root.addHandler(h)
    if lines is not None:
        root.addHandler(RingHandler(lines))
    if config.log_file:
        fh = logging.FileHandler(config.log_file)
        fh.setFormatter(fmt)
        root.addHandler(fh)
    for handler in root.handlers:
        handler.addFilter(_name_the_bank)


def _name_the_bank(record: logging.LogRecord) -> bool:
    """Records made in the bank process say 'bank', brokers' records keep their broker's name."""
    if record.processName in ("MainProcess", "bank"):
        record.processName = "bank"
    return True
