"""One run of the simulator in the bank process: its bus, its plugins, its commands, its end.

``Simulation`` wires the bank process, in the start and stop order of ``bus.ORDER``:

    BrokerPool ........ the broker processes and their channels (pipes), or
    AmqpLink + AmqpBrokers  with --transport amqp: the RabbitMQ connection, the run's queues and
                        its brokers, spawned here or (--external-brokers) started anywhere
    Bank .............. schedules, places and books orders; the stop protocol
    Supervisor ........ dead and hung brokers, restarts, fault drills
    SnapshotBuilder ... Snapshots 10 Hz, and at the end the Outcome
    Journal ........... with --journal
    HttpServer ........ with an ``http`` option (--http): the run's API, last to stop

Result messages from the brokers go to the one that needs them: event batches to the bank,
heartbeats' book depth to the snapshot builder, log records to this process's logging.

It is also the bank's side of a ``SimControl``: ``command(name, arg)`` gives meaning to the
commands of ``simulator.control``. ``run()`` blocks until the stop protocol has finished (on the
main thread headless, or in the dashboard's bank process); ``outcome()`` then says what
happened and ``finish_report()`` writes the report where it was asked for.

Signal handlers only set the stop flag (``processes.StopSignals``): the bus exits from ordinary
code on the next tick, never inside a handler.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from simulator import agent_flags, processes
from simulator import messages as msg
from simulator.bank import Bank, StopRequest
from simulator.bus import ORDER, drive, new_bus
from simulator.config import SimConfig
from simulator.control import checked
from simulator.journal import Journal, JournalError
from simulator.order_types import STP_MODES
from simulator.outside_ids import order_label
from simulator.own_order import BadOrder, OwnCancel, OwnOrder, check_cancel, check_order, describe
from simulator.pool import BrokerPool
from simulator.report import build_report, write_report
from simulator.risk_tape import RefusalTape
from simulator.routing import Routing
from simulator.snapshots import Outcome, SnapshotBuilder
from simulator.standbys import STANDBYS
from simulator.stats import Snapshot
from simulator.supervisor import Supervisor

if TYPE_CHECKING:
    from simulator.http_flags import HttpOptions
    from simulator.http_server import HttpServer

LOG_FORMAT = "%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("run")

TRIM_EVERY_S = 2.0  # a trim costs the bank about 0.4 ms (5 ms at most seen): 0.02% of its time


def broker_specs(config: SimConfig, routing: Routing) -> list[msg.BrokerSpec]:
    return [
        msg.BrokerSpec(
            index=i,
            name=f"broker-{i + 1}",
            symbols=shard,
            symbol_ids=routing.symbol_ids(i),
            log_level=logging.getLevelName(config.log_level),
            stp=STP_MODES.index(config.stp),
            agents=agent_flags.params(config, config.accounts + 1)
            if agent_flags.any_agents(config)
            else None,
        )
        for i, shard in enumerate(routing.shards)
    ]


class Simulation:
    def __init__(self, config: SimConfig, *, http: HttpOptions | None = None) -> None:
        self.config = config
        processes.steady_malloc()  # before the ledger's arrays: the bank's memory stays flat
        self.stop = StopRequest()
        self.log_lines: deque[str] = deque(maxlen=200)
        self.bus = bus = new_bus("bank")
        self.routing = routing = Routing(config.symbols, config.brokers)
        self.link: Any = None
        self.pool: Any
        if config.transport == "amqp":
            from simulator.amqp_link import AmqpLink  # pika only when asked for
            from simulator.amqp_pool import AmqpBrokers

            self.link = AmqpLink(bus, config.amqp_url or "", name="bank")
            self.pool = AmqpBrokers(
                bus,
                self.link,
                broker_specs(config, routing),
                url=config.amqp_url or "",
                credit=config.amqp_credit,
                external=config.external_brokers,
                on_message=self._on_message,
                book_states=lambda index: self.bank.ledger.book_states(routing.shards[index]),
                should_abort=lambda: bool(self.stop),
                max_restarts=config.max_restarts,
            )
        else:
            self.pool = BrokerPool(
                bus,
                broker_specs(config, routing),
                inbox_batches=config.inbox_batches,
                on_message=self._on_message,
                should_abort=lambda: bool(self.stop),
                max_restarts=config.max_restarts,
                standby=STANDBYS if config.standby else 0,
            )
        self.journal: Journal | None = None
        if config.journal:
            self.journal = Journal(bus, config.journal, config=config.to_dict())
        self.bank = Bank(bus, config, self.stop, self.pool, routing, journal=self.journal)
        self.supervisor = Supervisor(bus, config, self.stop, self.pool, self.bank.ledger, routing)
        self.snapshots = SnapshotBuilder(bus, self.bank, self.supervisor, self.log_lines)
        self.refusal_tape = self.bank.on_refused = RefusalTape(self.snapshots, config.symbols)
        self.http: HttpServer | None = None
        if http is not None:
            from simulator.http_server import HttpServer  # cheroot and prometheus only when asked

            self.http = HttpServer(
                bus,
                self,
                http.host,
                http.port,
                control=http.control,
                token=http.token,
                ui_hz=config.ui_hz,
                linger_s=http.linger_s,
            )
        for plugin in (
            self.link,
            self.pool,
            self.journal,
            self.bank,
            self.supervisor,
            self.snapshots,
            self.http,
        ):
            if plugin is not None:
                plugin.subscribe()
        self._stopped = threading.Event()
        self._steps_asked = 0
        self._orders_asked: deque[tuple[str, object]] = deque()  # yours and cancels, placed on the tick
        bus.subscribe("main", self._step, priority=ORDER["main", "commands"])
        bus.subscribe("main", self._place_own, priority=ORDER["main", "commands"])
        self._next_trim = 0.0
        bus.subscribe("main", self._trim_malloc, priority=ORDER["main", "trim"])
        self._signals = processes.StopSignals(self.request_stop)

    # -- SimControl ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        return self.snapshots.snapshot

    def command(self, name: str, arg: object = None) -> None:
        """One of ``control.COMMANDS`` (BadCommand if not); applied here, on the bank's thread
        or as a plain attribute write the next tick reads."""
        name, arg = checked(name, arg)
        if name == "pause":
            self.bank.schedule.paused = True
        elif name == "resume":
            self.bank.schedule.paused = False
        elif name == "rate":
            self.bank.schedule.set_rate(arg)  # type: ignore[arg-type]
        elif name == "step":
            self._steps_asked += 1  # placed on the bank's tick, whatever thread asked
        elif name in ("order", "cancel"):
            self._orders_asked.append((name, arg))
        elif name == "account":
            self.snapshots.select_account(arg)  # type: ignore[arg-type]
        elif name == "select":
            self.snapshots.select_symbol(arg)  # type: ignore[arg-type]
        elif name == "tape":
            self.snapshots.tape_all(arg == "all")
        elif name == "kill":
            self.supervisor.kill_broker(arg)  # type: ignore[arg-type]
            return
        elif name == "stop":
            self.request_stop(arg)  # type: ignore[arg-type]
            return
        elif name == "kill_switch":
            self.bank.kill_switch(arg)  # type: ignore[arg-type]
        elif name == "release":
            self.bank.release(arg)  # type: ignore[arg-type]
        self.snapshots.expedite()

    def request_stop(self, reason: str) -> None:
        self.stop.request(reason)

    def _step(self) -> None:
        """'main', before the bank's tick: place the next order for each step asked and watch
        its symbol, the WATCH sent ahead of the order on the same pipe, so the tape shows all
        it did."""
        if not self._steps_asked:
            return
        self._steps_asked -= 1  # one a tick: each gets its own Snapshot
        rows = self.bank.step()
        if not len(rows):
            return
        oid, sym = int(rows[0, 0]), int(rows[0, 2])
        if 0 <= sym < len(self.config.symbols):
            self.snapshots.select_symbol(self.config.symbols[sym])
            self.snapshots.send_watch(again=True)
            self.refusal_tape.again(oid)  # refused in the bank: no broker's tape has it
        self.snapshots.stepped = oid

    def _place_own(self) -> None:
        """'main': place your orders and cancels asked since the last tick, in the order asked
        (checked again here: a command may come from anywhere), watching each one's symbol so
        the tape shows it."""
        symbols = self.config.symbols
        while self._orders_asked:
            name, arg = self._orders_asked.popleft()
            what = "order" if name == "order" else "cancel"
            try:
                if name == "order":
                    order: OwnOrder | OwnCancel = check_order(arg, symbols)
                else:
                    order = check_cancel(arg, self.bank.ledger.outside, symbols)
            except BadOrder as exc:
                log.warning("your %s was refused: %s", what, exc.reason if name == "cancel" else exc)
                continue
            oid = self.bank.place_own(order)
            if oid is None:
                log.warning("your %s was not placed: the run is stopping", what)
                continue
            log.info("your %s %s: %s", what, order_label(oid), describe(order))
            self.snapshots.select_symbol(order.symbol)
            self.snapshots.send_watch()

    def _trim_malloc(self) -> None:
        """'main', every ``TRIM_EVERY_S``: the heap's free pages back (``processes.trim_malloc``),
        so the bank's resident memory follows what it holds, not how long it ran."""
        now = time.monotonic()
        if now >= self._next_trim:
            self._next_trim = now + TRIM_EVERY_S
            processes.trim_malloc()

    def wait_stopped(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)

    # -- running ------------------------------------------------------------------------------

    def install_signal_handlers(self, early: list[int] | None = None) -> None:
        """SIGINT, SIGTERM, SIGHUP only set the stop flag (main thread only)."""
        self._signals.install(early)

    def restore_signal_handlers(self) -> None:
        self._signals.restore()

    def run(self) -> Outcome:
        """Start everything, tick until a stop is asked, stop cleanly; the run's outcome."""
        try:
            drive(self.bus, lambda: bool(self.stop))
        except Exception as exc:
            # the bus has exited (drive's finally): brokers were stopped, the ledger closed
            log.exception("the bank's loop failed")
            self.stop.request(f"fatal: the bank's loop failed: {exc!r:.200}", fatal=True)
        finally:
            self._stopped.set()
        return self.outcome()

    def outcome(self) -> Outcome:
        return self.snapshots.outcome(journal_failed=self.journal.failed if self.journal else None)

    def finish_report(self, outcome: Outcome) -> tuple[dict, list[str]]:
        """The finished run's report, written to ``--report`` and the journal; and any errors."""
        config, journal = self.config, self.journal
        errors = []
        report = build_report(config, outcome)
        # records a log handler could not write (a full disk, a closed stderr): for the summary
        report["log"] = {"file": config.log_file, "unwritten": log_failures()}
        if journal is not None:
            report["journal"] = {"path": config.journal, **dataclasses.asdict(journal.stats())}
            try:
                journal.write_report(report)
            except JournalError as exc:  # its message names the journal
                errors.append(f"simulate: {exc}")
                report["exit_code"] = 1
            if journal.failed:
                report["exit_code"] = 1
        if config.report:
            try:
                write_report(config.report, report)
            except OSError as exc:
                errors.append(f"simulate: cannot write report {config.report}: {exc}")
                report["exit_code"] = 1
        return report, errors

    # -- results ------------------------------------------------------------------------------

    def _on_message(self, index: int, kind: bytes, body: Any) -> None:
        if kind == msg.EVENTS:
            self.bank.on_events(index, body[2])
        elif kind == msg.HEARTBEAT:
            self.snapshots.on_heartbeat(body)
        elif kind == msg.TAPE:
            self.snapshots.on_tape(body)
        elif kind == msg.LOG:
            self._relog(body)

    def _relog(self, line: msg.LogLine) -> None:
        brokers = self.pool.brokers
        if 0 <= line.index < len(brokers):
            name = brokers[line.index].name
        else:
            name = "standby" if line.index == -1 else "?"
        record = logging.LogRecord(line.logger, line.level, "", 0, line.text, None, None)
        record.processName = name
        logging.getLogger(line.logger).handle(record)


class _CountsFailures(logging.Handler):
    """A handler that counts the records it could not write, keeping the first error, instead
    of printing a traceback for each (``logging``'s way: eight of them for a log file on a full
    disk, on a stderr that may be what failed). ``log_failures`` reads the counts for the
    report, whose summary says them once."""

    target = "?"  # where the records go, as the summary names it
    failures = 0
    first_error: str | None = None

    def handleError(self, record: logging.LogRecord) -> None:
        self.failures += 1
        if self.first_error is None:
            exc = sys.exc_info()[1]
            self.first_error = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


class RingHandler(_CountsFailures):
    """Keeps the last log lines of every process for the dashboard."""

    target = "the dashboard's log"

    def __init__(self, lines: deque[str]) -> None:
        super().__init__()
        self.lines = lines
        self.setFormatter(
            logging.Formatter("%(asctime)s %(processName)s %(levelname)s %(message)s", "%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)


class _Console(_CountsFailures, logging.StreamHandler):
    target = "stderr"


class _LogFile(_CountsFailures, logging.FileHandler):
    def __init__(self, path: str) -> None:
        try:
            super().__init__(path)
        except OSError:  # checked before the run, and gone since: each record tries again
            super().__init__(path, delay=True)
        self.target = path

    def emit(self, record: logging.LogRecord) -> None:
        try:  # a delayed open fails outside StreamHandler.emit's own guard
            super().emit(record)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # the last flush, on a full disk: its records were counted already
            pass


def log_failures() -> list[dict]:
    """Where this process's log records could not be written: ``{"to", "records", "error"}``
    for each handler of ``setup_logging`` that failed (records relayed from brokers included)."""
    return [
        {"to": h.target, "records": h.failures, "error": h.first_error}
        for h in logging.getLogger().handlers
        if isinstance(h, _CountsFailures) and h.failures
    ]


def setup_logging(config: SimConfig, lines: deque[str] | None, *, console: bool) -> None:
    """Bank-side logging: stderr (headless only), the dashboard ring, and ``--log-file``. None
    of them prints a traceback when it cannot write: they count (``log_failures``)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    level = logging.getLevelName(config.log_level)
    root.setLevel(level)
    # the bus narrates every state change at INFO; keep that for DEBUG runs
    logging.getLogger("bus").setLevel(max(level, logging.WARNING))
    if console:
        h = _Console()
        h.setFormatter(logging.Formatter("%(processName)s %(levelname)s %(name)s: %(message)s"))
        h.setLevel(max(level, logging.WARNING))  # progress lines tell the rest
        root.addHandler(h)
    if lines is not None:
        root.addHandler(RingHandler(lines))
    if config.log_file:
        fh = _LogFile(config.log_file)
        fh.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(fh)
    for handler in root.handlers:
        handler.addFilter(_name_the_bank)


def _name_the_bank(record: logging.LogRecord) -> bool:
    """Records made in the bank process say 'bank', brokers' records keep their broker's name."""
    if record.processName in ("MainProcess", "bank"):
        record.processName = "bank"
    return True
