"""The bank: places the order flow, routes each symbol to its one broker, books every result.

``Bank`` is a bus plugin of the bank process. Each 'main' tick it reads results (acks, fills,
heartbeats, logs), generates the orders now due, and sends them: what is due goes at once (a
batch of one at low rates, full batches under load), and a full inbox holds generation back
instead of growing memory. On 'stop' it stops generating and flushes its last batches before
the pool puts the STOP sentinels behind them; after the pool has drained, it closes the ledger.
"""
from __future__ import annotations

import gc
import logging
import random
import time
import zlib
from collections import deque
from typing import Sequence

import numpy as np
import psutil
from cherrypy.process.plugins import SimplePlugin

from simulator import messages as msg
from simulator import wire
from simulator.bus import never_raises
from simulator.flow import OrderFlow
from simulator.ledger import Ledger, Reconciliation
from simulator.journal import BANK
from simulator.orders import Event, OrderType, RejectReason
from simulator.pool import BrokerPool
from simulator.stats import (
    BookView,
    LatencyHistogram,
    OrderCounts,
    ProcessRow,
    RateMeter,
    RunState,
    Snapshot,
    TapeEntry,
)

log = logging.getLogger("bank")

_CANCEL = int(OrderType.CANCEL)
_REJECT = int(Event.REJECT)
_UNKNOWN_SYMBOL = int(RejectReason.UNKNOWN_SYMBOL)
_SNAPSHOT_EVERY_S = 0.1
_LIVENESS_EVERY_S = 0.2
_AHEAD_AT_FULL_SPEED = 8  # batches per broker generated ahead at --rate 0 (see _orders_due)
_HUNG_AFTER_S = 2.0


def stable_hash(symbol: str) -> int:
    """Same number for the same name in every process and run (unlike the salted ``hash``)."""
    return zlib.crc32(symbol.encode())


def assign_symbols(symbols: Sequence[str], brokers: int) -> list[tuple[str, ...]]:
    """Each symbol to exactly one broker: ordered by stable hash, then dealt round-robin.

    Dealing (rather than hash modulo) keeps brokers evenly loaded with few symbols, and the
    assignment still depends only on the set of names and the broker count.
    """
    ordered = sorted(symbols, key=lambda s: (stable_hash(s), s))
    return [tuple(ordered[i::brokers]) for i in range(brokers)]


_NO_ORDERS = np.zeros((0, wire.ORDER_WIDTH), np.int64)


class StopRequest:
    """The one flag every stop cause sets: signal handlers, keys, limits. First reason wins."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.fatal = False

    def request(self, reason: str, *, fatal: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
            self.fatal = fatal

    def __bool__(self) -> bool:
        return self.reason is not None


class Bank(SimplePlugin):
    def __init__(self, bus, config, stop: StopRequest, log_lines: deque[str] | None = None):
        super().__init__(bus)
        self.config = config
        self.stop_request = stop
        self.flow = OrderFlow.from_config(config)
        self.ledger = Ledger(config.symbols, config.accounts)
        self.ack_latency = LatencyHistogram()  # order due -> its ack known to the bank
        self.final_latency = LatencyHistogram()  # order due -> its final state known
        self.assignment = assign_symbols(config.symbols, config.brokers)
        self.route = {s: i for i, group in enumerate(self.assignment) for s in group}
        # the broker of each wire symbol index, for routing whole arrays of orders
        self._broker_of_sym = np.array([self.route[s] for s in config.symbols], np.int64)
        sym_id = {s: i for i, s in enumerate(config.symbols)}
        specs = [
            msg.BrokerSpec(
                index=i,
                name=f"broker-{i + 1}",
                symbols=group,
                symbol_ids=tuple(sym_id[s] for s in group),
                log_level=logging.getLevelName(config.log_level),
            )
            for i, group in enumerate(self.assignment)
        ]
        self.pool = BrokerPool(
            bus,
            specs,
            inbox_batches=config.inbox_batches,
            on_message=self._on_message,
            should_abort=lambda: bool(self.stop_request),
        )
        self.log_lines = log_lines if log_lines is not None else deque(maxlen=200)
        # orders waiting for room in each broker's inbox, as (n, 9) record arrays
        self._pending: list[np.ndarray] = [_NO_ORDERS for _ in specs]
        self.state = RunState.STARTING
        self.paused = False
        self.rate = float(config.rate)
        self.selected_symbol: str | None = config.symbols[0]
        self._watch_sent: str | None = None
        self._next_due: float | None = None  # when the next order is due, at a set rate
        self._schedule_rate = 0.0
        self._t0 = time.monotonic()
        self._t_running = 0.0
        self._t_end: float | None = None
        self._next_snapshot = 0.0
        self._next_liveness = 0.0
        self._limit_reached = False
        self._last_orders: np.ndarray = _NO_ORDERS
        self._books: dict[str, BookView] = {}
        self._order_rate = RateMeter()
        self._fill_rate = RateMeter()
        self._broker_rates = [RateMeter() for _ in specs]
        self._resources = _ResourceSampler()
        self.snapshot: Snapshot | None = None
        self.reconciliation: Reconciliation | None = None
        self.snapshot_listeners: list = []
        self._events_in: list[np.ndarray] = []  # event batches read, to book after the poll
        self._gave_up: set[int] = set()
        self._kill_requests: list[str] = []
        self._drill_rng = random.Random(config.seed ^ 0x5EED)
        self._next_drill = float("inf")
        self.restarts = 0
        self.journal = None  # a Journal plugin, when --journal is given
        self.drain_s = 0.0  # from the stop request to every broker's final report

    # -- bus channels -----------------------------------------------------------------------

    def announce(self) -> None:
        """First on 'start': a STARTING Snapshot, so a dashboard shows the run coming up."""
        self._publish_snapshot(time.monotonic())

    def start(self) -> None:
        if self.pool.failed:
            self.stop_request.request(self.pool.failed, fatal=True)
        if self.journal is not None and self.journal.failed:
            self.stop_request.request(f"fatal: {self.journal.failed}", fatal=True)
        self.state = RunState.RUNNING
        # what exists now lives for the whole run: keep the collector off it, and let it run
        # rarely (orders hold no reference cycles); a full pass over a large ledger stalls the
        # bank for milliseconds
        gc.freeze()
        gc.set_threshold(50_000, 50, 1000)
        self._t_running = time.monotonic()
        if self.config.kill_broker_every:
            self._next_drill = self._t_running + self.config.kill_broker_every
        log.info(
            "placing orders: seed %d, rate %s, %d symbols on %d brokers",
            self.config.seed,
            "max" if not self.rate else f"{self.rate:g}/s",
            len(self.config.symbols),
            len(self.pool.brokers),
        )

    start.priority = 70  # type: ignore[attr-defined]  # after the pool has started

    def main(self) -> None:
        now = time.monotonic()
        self._check_limits(now)
        if self.stop_request:
            return  # drive() sees the request and exits the bus; 'stop' does the rest
        due, first_due = self._orders_due(now)
        if due:
            self._place(due, first_due)
        self._flush()
        self._poll(self._idle_wait(now))
        self._supervise()
        now = time.monotonic()
        if now >= self._next_liveness:
            self._next_liveness = now + _LIVENESS_EVERY_S
            self._find_hung(now)
            self._fault_drills(now)
            self._send_watch()
        if now >= self._next_snapshot:
            self._next_snapshot = now + _SNAPSHOT_EVERY_S
            self._publish_snapshot(now)

    @never_raises
    def stop(self) -> None:
        """The stop protocol, first on 'stop': generate nothing more, hand every pending order to
        its broker, put STOP behind it, and read results until every broker's final report is
        in (restarting a broker that dies meanwhile), within ``--stop-timeout``."""
        if self.state in (RunState.STOPPING, RunState.STOPPED):
            return
        self.state = RunState.STOPPING
        self._t_end = time.monotonic()
        log.info("stopping (%s): answering every order sent", self.stop_request.reason)
        self._publish_snapshot(time.monotonic())
        deadline = time.monotonic() + self.config.stop_timeout
        while True:
            now = time.monotonic()
            self._supervise()
            self._find_hung(now)
            self._flush()
            for b in self.pool.brokers:
                if b.live and not b.stop_sent and not len(self._pending[b.index]):
                    if self.pool.send(b.index, msg.STOP):
                        b.stop_sent = True
            waiting = [b.name for b in self.pool.brokers
                       if b.final is None and b.index not in self._gave_up]
            if not waiting:
                break
            if now > deadline:
                log.error("stop timeout: no final report from %s", ", ".join(waiting))
                break
            self._poll(0.02)
            if now >= self._next_snapshot:
                self._next_snapshot = now + _SNAPSHOT_EVERY_S
                self._publish_snapshot(now)

    stop.priority = 40  # type: ignore[attr-defined]  # before the pool sends STOP

    @never_raises
    def finish(self) -> None:
        """Last on 'stop', after the pool drained: close the ledger and reconcile."""
        if self.state == RunState.STOPPED:
            return
        resting: dict[int, int] = {}
        for b in self.pool.brokers:
            if b.final is not None:
                for orders in b.final.resting.values():
                    for oid, _account, _side, _price, leaves in orders:
                        resting[oid] = leaves
        self.reconciliation = rec = self.ledger.reconcile(resting)
        if rec.lost or rec.cancels_lost:
            log.error(
                "%d orders and %d cancels LOST; first ids: %s",
                rec.lost,
                rec.cancels_lost,
                rec.lost_ids[:20],
            )
        for line in rec.mismatches:
            log.error("ledger mismatch: %s", line)
        self.state = RunState.STOPPED
        self.drain_s = time.monotonic() - (self._t_end or time.monotonic())
        self._publish_snapshot(time.monotonic())

    # -- commands from a UI (any thread; plain attribute writes) ---------------------------

    def set_rate(self, rate: float) -> None:
        self.rate = max(0.0, float(rate))

    def select_symbol(self, symbol: str) -> None:
        if symbol in self.route:
            self.selected_symbol = symbol
            self._next_liveness = 0.0  # send WATCH on the next tick

    def expedite_snapshot(self) -> None:
        """Publish a Snapshot on the next tick (a command's effect, shown at once)."""
        self._next_snapshot = 0.0

    # -- placing ------------------------------------------------------------------------------

    def _orders_due(self, now: float) -> tuple[int, float]:
        """How many orders are due now, and when the first of them was due.

        Open loop: at a set rate the n-th order is due at start + n / rate, whatever happened
        since. Orders are stamped with when they were due, not when they were sent, so a stall
        (a full inbox, a slow tick) shows in the latency instead of being hidden.
        """
        batch, brokers = self.config.batch, len(self._pending)
        if self.rate <= 0 or self.paused:
            self._next_due = None  # a new rate or a resume starts a new schedule
        if self.paused:
            return 0, now
        backlog = sum(map(len, self._pending))
        if self.rate <= 0:
            # as fast as the brokers go: keep a few batches per broker made ahead of the
            # inboxes, so each tick places thousands of orders and books their events at once
            return max(batch * brokers * _AHEAD_AT_FULL_SPEED - backlog, 0), now
        if backlog >= batch * brokers * 2:
            return 0, now  # inboxes are full: the brokers set the pace
        if self._next_due is None or self._schedule_rate != self.rate:
            self._next_due, self._schedule_rate = now, self.rate
        if now < self._next_due:
            return 0, now
        due = min(int((now - self._next_due) * self.rate) + 1, batch * brokers * 2)
        first = self._next_due
        self._next_due += due / self.rate
        return due, first

    def _place(self, due: int, first_due: float) -> None:
        limit = self.config.orders
        if limit is not None:
            due = min(due, limit - self.ledger.placed)
            if due <= 0:
                self._limit_reached = True
                return
        orders = self.flow.generate(due)
        t_ns = int(first_due * 1e9)
        if self.journal is not None:
            self.journal.record_orders(orders, t_ns)
        syms = orders[:, 2]
        unknown = (syms < 0) | (syms >= len(self._broker_of_sym))
        if unknown.any():  # a symbol no broker trades: the bank answers it itself
            local_rejects = []
            for order in orders[unknown].tolist():
                self.ledger.place_local_reject(order, RejectReason.UNKNOWN_SYMBOL)
                local_rejects.append((_REJECT, order[0], _UNKNOWN_SYMBOL))
            if self.journal is not None:
                self.journal.record_events(BANK, local_rejects)
            orders_sent = orders[~unknown]
        else:
            orders_sent = orders
        step_ns = int(1e9 / self.rate) if self.rate > 0 else 0
        self.ledger.place(orders_sent, t_ns, step_ns)
        self._queue_for_brokers(orders_sent)
        self._last_orders = orders
        if limit is not None and self.ledger.placed >= limit:
            self._limit_reached = True

    def _queue_for_brokers(self, orders: np.ndarray) -> None:
        """Append each order to the pending orders of its symbol's broker."""
        pending = self._pending
        if len(orders) == 1:  # the usual case at a set rate: no whole-array step for one order
            index = self.route[self.config.symbols[int(orders[0, 2])]]
            pending[index] = np.concatenate((pending[index], orders)) if len(pending[index]) else orders
            return
        brokers = self._broker_of_sym[orders[:, 2]]
        for index in range(len(pending)):
            mine = orders[brokers == index] if len(pending) > 1 else orders
            if len(mine):
                pending[index] = np.concatenate((pending[index], mine)) if len(pending[index]) else mine

    def _flush(self) -> bool:
        """Send pending orders in batches, never blocking; True if everything went out."""
        batch = self.config.batch
        sent_all = True
        for index, pending in enumerate(self._pending):
            sent = 0
            while sent < len(pending):
                if not self.pool.send(index, msg.encode(msg.ORDERS, pending[sent : sent + batch].tobytes())):
                    sent_all = False
                    break
                sent += batch
            if sent:
                self._pending[index] = pending[sent:]
        return sent_all

    def _idle_wait(self, now: float) -> float:
        """How long the next poll may wait for results without making a due order late."""
        if self.paused:
            return 0.02
        if any(len(p) for p in self._pending):
            return 0.001  # an inbox is full: give the brokers a moment
        if self.rate <= 0 or self._next_due is None:
            return 0.0
        return min(max(self._next_due - now, 0.0), 0.005)

    # -- results ----------------------------------------------------------------------------

    def _poll(self, timeout: float) -> None:
        """Read what the brokers sent, then book every batch of events that came in at once.

        Booking costs a fixed few hundred microseconds per call plus a little per event, so
        the batches of one poll are booked together. They may be: events of one order all come
        from one broker, in its order, and brokers share no symbol.
        """
        self.pool.poll(timeout)
        batches, self._events_in = self._events_in, []
        if batches:
            events = batches[0] if len(batches) == 1 else np.concatenate(batches)
            try:
                self.ledger.apply(events, time.monotonic_ns(), self.ack_latency, self.final_latency)
            except Exception as exc:  # a bug, or garbage the ledger could not even count
                self.pool.bad_messages += 1
                log.warning("events ignored: %s: %s", type(exc).__name__, exc)

    def _on_message(self, kind: bytes, body) -> None:
        if kind == msg.EVENTS:
            index, _consumed, records = body
            events = np.frombuffer(records, np.int64).reshape(-1, wire.EVENT_WIDTH)
            if self.journal is not None:
                self.journal.record_events(index, events)
            self._events_in.append(events)
        elif kind == msg.HEARTBEAT:
            if body.book is not None:
                symbol, bids, asks, last = body.book
                self._books[symbol] = BookView(symbol, bids, asks, last)
        elif kind == msg.LOG:
            self._relog(body)

    def _relog(self, line: msg.LogLine) -> None:
        name = self.pool.brokers[line.index].name if 0 <= line.index < len(self.pool.brokers) else "?"
        record = logging.LogRecord(line.logger, line.level, "", 0, line.text, None, None)
        record.processName = name
        logging.getLogger(line.logger).handle(record)

    def _check_limits(self, now: float) -> None:
        if self.stop_request or self.state != RunState.RUNNING:
            return
        if self.pool.failed:
            self.stop_request.request(self.pool.failed, fatal=True)
        elif self.journal is not None and self.journal.failed:
            self.stop_request.request(f"fatal: {self.journal.failed}", fatal=True)
        elif self._limit_reached and not any(len(p) for p in self._pending):
            self.stop_request.request(f"order limit reached ({self.config.orders})")
        elif self.config.duration is not None and now - self._t_running >= self.config.duration:
            self.stop_request.request(f"duration reached ({self.config.duration:g} s)")

    # -- supervision ----------------------------------------------------------------------

    def _supervise(self) -> None:
        """Restart every broker found dead, with its books and unanswered orders."""
        for b in self.pool.dead():
            if b.index not in self._gave_up:
                self._recover(b)

    def _recover(self, b) -> None:
        limit = self.config.max_restarts
        if b.restarts >= limit:
            self._gave_up.add(b.index)
            reason = f"{b.name} died {b.restarts + 1} times; --max-restarts {limit} reached"
            log.error("%s: stopping; the orders it held are lost", reason)
            self.stop_request.request(f"fatal: {reason}", fatal=True)
            return
        symbols = b.spec.symbols
        states = {
            symbol: msg.BookState(tuple(resting), seq, last, max_oid)
            for symbol, (resting, seq, last, max_oid) in self.ledger.book_states(symbols).items()
        }
        self._pending[b.index] = self.ledger.unanswered(symbols)
        handle = self.pool.respawn(b.index, msg.encode(msg.RESTORE, states))
        self.restarts += 1
        if self.selected_symbol in symbols:
            self._watch_sent = None
        log.warning(
            "%s restarted as pid %s (restart %d of %d): %d resting orders restored, "
            "%d unanswered orders sent again",
            b.name, handle.pid, handle.restarts, limit,
            sum(len(st.resting) for st in states.values()), len(self._pending[b.index]),
        )

    def _find_hung(self, now: float) -> None:
        for b in self.pool.hung(now, self.config.hang_timeout):
            log.error("%s (pid %s) sent no heartbeat for %.1f s: treating it as dead",
                      b.name, b.pid, now - max(b.last_heartbeat, b.started_at))
            self.pool.kill(b.index)

    def _fault_drills(self, now: float) -> None:
        while self._kill_requests:
            name = self._kill_requests.pop()
            for b in self.pool.brokers:
                if b.name == name:
                    log.warning("fault drill: killing %s on request", name)
                    self.pool.kill(b.index)
        if now >= self._next_drill and self.state == RunState.RUNNING:
            self._next_drill = now + self.config.kill_broker_every
            index = self._drill_rng.randrange(len(self.pool.brokers))
            log.warning("fault drill: kill -9 %s", self.pool.brokers[index].name)
            self.pool.kill(index)

    def kill_broker(self, name: str) -> None:
        """Ask for a broker to be killed with SIGKILL on the next tick (any thread)."""
        self._kill_requests.append(name)

    def _send_watch(self) -> None:
        symbol = self.selected_symbol
        if symbol and symbol != self._watch_sent:
            if self.pool.send(self.route[symbol], msg.encode(msg.WATCH, symbol)):
                self._watch_sent = symbol

    # -- snapshots ----------------------------------------------------------------------------

    def _publish_snapshot(self, now: float) -> None:
        self.snapshot = snap = self.make_snapshot(now)
        for listener in self.snapshot_listeners:
            listener(snap)

    def run_seconds(self, now: float | None = None) -> float:
        if not self._t_running:
            return 0.0
        end = self._t_end if self._t_end is not None else (now or time.monotonic())
        return max(end - self._t_running, 0.0)

    def make_snapshot(self, now: float) -> Snapshot:
        led = self.ledger
        self._order_rate.update(now, led.placed)
        self._fill_rate.update(now, led.trades)
        rec = self.reconciliation
        state = RunState.PAUSED if self.paused and self.state == RunState.RUNNING else self.state
        counts = OrderCounts(
            placed=led.placed,
            acked=led.acked,
            filled=led.filled,
            cancelled=led.cancelled,
            rejected=led.rejected,
            resting=rec.resting if rec else led.working,
            in_flight=0 if rec else led.in_flight,
            lost=(rec.lost + rec.cancels_lost) if rec else 0,
        )
        return Snapshot(
            state=state,
            elapsed_s=now - self._t0,
            seed=self.config.seed,
            rate=self.rate,
            orders=counts,
            orders_per_s=self._order_rate.rate,
            fills_per_s=self._fill_rate.rate,
            fills=led.trades,
            volume=led.volume,
            ack_latency_us=self.ack_latency.summary(),
            throughput_history=tuple(self._order_rate.history),
            processes=self._process_rows(now),
            symbols=self.config.symbols,
            selected_symbol=self.selected_symbol,
            book=self._books.get(self.selected_symbol) if self.selected_symbol else None,
            tape=self._tape(),
            log_lines=tuple(self.log_lines),
            cancel_requests={
                "sent": led.cancels_sent,
                "done": led.cancels_done,
                "rejected": led.cancels_rejected,
            },
            reject_reasons=led.reject_counts(),
            stop_reason=self.stop_request.reason,
            final_latency_us=self.final_latency.summary(),
        )

    def _process_rows(self, now: float) -> tuple[ProcessRow, ...]:
        import os

        usage = self._resources.sample(now, [os.getpid(), *self.pool.pids()])
        bank = ProcessRow(
            name="bank",
            pid=os.getpid(),
            state=self.state.value,
            symbols=(),
            inbox_depth=sum(map(len, self._pending)),  # orders waiting for room in an inbox
            orders=self.ledger.placed,
            orders_per_s=self._order_rate.rate,
            fills=self.ledger.trades,
            cpu_percent=usage.get(os.getpid(), (0.0, 0))[0],
            rss_bytes=usage.get(os.getpid(), (0.0, 0))[1],
        )
        rows = [bank]
        for b, meter in zip(self.pool.brokers, self._broker_rates):
            hb = b.heartbeat
            if hb is not None:
                meter.update(now, hb.orders)
            age = now - b.last_heartbeat if b.last_heartbeat else 0.0
            state = b.state
            if state == "RUNNING" and age > _HUNG_AFTER_S:
                state = "HUNG"
            cpu, rss = usage.get(b.pid, (0.0, 0))
            rows.append(
                ProcessRow(
                    name=b.name,
                    pid=b.pid,
                    state=state,
                    symbols=b.spec.symbols,
                    inbox_depth=b.inbox_depth() if b.live else 0,
                    orders=b.final.orders if b.final else hb.orders if hb else 0,
                    orders_per_s=meter.rate,
                    fills=b.final.trades if b.final else hb.trades if hb else 0,
                    cpu_percent=cpu,
                    rss_bytes=rss,
                    heartbeat_age_s=age,
                    restarts=b.restarts,
                    exit_code=b.exit_code,
                )
            )
        return tuple(rows)

    def _tape(self) -> tuple[TapeEntry, ...]:
        last = wire.readable_orders(self._last_orders[-6:].tolist(), self.config.symbols)
        entries = [
            TapeEntry("order", o[2], o[3], o[7], o[6], o[1], o[0]) for o in last if o[4] != _CANCEL
        ]
        for _k, symbol, _seq, buy, sell, price, qty in self.ledger.recent_trades(6):
            side = 1 if buy > sell else -1  # the later order is the aggressor
            entries.append(TapeEntry("fill", symbol, side, qty, price, -1, max(buy, sell)))
        return tuple(entries)


class _ResourceSampler:
    """CPU% and RSS of the run's processes, sampled at most once a second (psutil)."""

    def __init__(self) -> None:
        self._procs: dict[int, object] = {}
        self._last: dict[int, tuple[float, int]] = {}
        self._next = 0.0

    def sample(self, now: float, pids: list[int]) -> dict[int, tuple[float, int]]:
        if now < self._next:
            return self._last
        self._next = now + 1.0
        out = {}
        for pid in pids:
            proc = self._procs.get(pid)
            try:
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)
                out[pid] = (proc.cpu_percent(None), proc.memory_info().rss)
            except (psutil.Error, OSError):
                out[pid] = (0.0, 0)
        self._last = out
        return out
