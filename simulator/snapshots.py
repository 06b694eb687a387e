"""The snapshot builder: every Snapshot of a run, and at the end its Outcome.

A bus plugin of the bank process. It publishes a frozen ``Snapshot`` (``simulator.stats``)
ten times a second -- on 'main' after the bank's tick, on each 'drain' round of the stop
protocol, at once when the run's state changes or a command asks for it -- to every listener
in ``listeners`` (the headless progress line, the dashboard's pipe). It also keeps what only
views need: the book of the selected symbol (it asks that symbol's broker to WATCH it, and
reads the depth its heartbeats carry) and the CPU and memory of every process.

``outcome()`` is everything the report and the summary need once the run is over; the report
is built from it and the config alone (``simulator.report``), never from the bank.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cherrypy.process.plugins import SimplePlugin

from simulator import accounts, wire
from simulator import messages as msg
from simulator.bus import ORDER
from simulator.ledger import Reconciliation
from simulator.orders import OrderType
from simulator.resources import ResourceSampler, utc_now
from simulator.run_figures import run_figures, series_inputs
from simulator.series import Series
from simulator.stats import (
    BookView,
    MarketRow,
    OrderCounts,
    ProcessRow,
    RateMeter,
    RunState,
    Snapshot,
    TapeEntry,
)
from simulator.tape_feed import TapeFeed
from simulator.you_view import your_account

EXIT_OK, EXIT_FAILED = 0, 1
_SNAPSHOT_EVERY_S = 0.1
_WATCH_EVERY_S = 0.2
_CANCEL = int(OrderType.CANCEL)
MARKET_ROWS = 100  # symbols in a Snapshot's market table: the most traded, and the watched one
TOP_ACCOUNTS = 10  # accounts in a Snapshot: those of highest P&L
OPEN_ORDERS_SHOWN = 20  # the selected account's open orders in a Snapshot
_ACCOUNTS_EVERY_S = 1.0  # marking every account is a matrix product: once a second


@dataclass(frozen=True)
class Outcome:
    """A finished run: what the report and the summary say, and the exit status it earns."""

    snapshot: Snapshot
    reconciliation: Reconciliation | None
    stop_reason: str
    fatal: bool
    brokers_clean: bool
    duration_s: float  # first order to the stop request
    drain_s: float  # the stop request to every broker's final report
    fills_digest: str
    exit_code: int
    # first order to the last event booked (the last final state known): the throughput's time
    answered_s: float = 0.0
    started_utc: str = ""  # wall clock, ISO 8601: when the run was set up
    ended_utc: str = ""  # and when its outcome was known
    figures: dict = field(default_factory=dict)  # simulator.run_figures: series, symbols, accounts...


class SnapshotBuilder(SimplePlugin):
    def __init__(self, bus: Any, bank: Any, supervisor: Any, log_lines: deque[str]) -> None:
        super().__init__(bus)
        self.bank = bank
        self.supervisor = supervisor
        self.log_lines = log_lines
        self.listeners: list[Callable[[Snapshot], None]] = []
        self.snapshot: Snapshot | None = None
        self.selected_symbol: str | None = bank.config.symbols[0]
        self.selected_account: int | None = None  # None: the account of highest P&L
        self._accounts: tuple = ((), None, ())
        self._next_accounts = 0.0
        self.stepped = 0  # the id of the last order placed by a step, 0 before one
        self._tops: dict[str, tuple[int, int]] = {}  # symbol -> (best bid, best ask)
        self._books: dict[str, BookView] = {}
        self._t0 = time.monotonic()
        self.tape = TapeFeed(bank, self._t0)  # the tape's events: watched, or all symbols
        self._next = 0.0
        self._next_watch = 0.0
        self._shown_state: RunState | None = None
        self._order_rate = RateMeter()
        self._fill_rate = RateMeter()
        self._broker_rates = [RateMeter() for _ in range(bank.routing.brokers)]
        self._resources = ResourceSampler()
        self.series = Series(bank.ack_latency)  # the report's per-second rows
        self._started_utc = utc_now()
        self._figures_made: dict | None = None
        self._ended_utc = ""  # when the outcome of the stopped run was first asked for
        self._figures_lock = threading.Lock()

    def subscribe(self) -> None:
        bus = self.bus
        bus.subscribe("start", self.publish, priority=ORDER["start", "snapshots"])
        bus.subscribe("main", self.main, priority=ORDER["main", "snapshots"])
        bus.subscribe("drain", self.main, priority=ORDER["drain", "snapshots"])
        bus.subscribe("restarted", self._on_restart)
        bus.subscribe("stopped", self.publish)

    # -- bus channels -----------------------------------------------------------------------

    def main(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now >= self._next_watch:
            self._next_watch = now + _WATCH_EVERY_S
            self.send_watch()
        if now >= self._next or self.bank.state != self._shown_state:
            self.publish(now)

    def publish(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._next = now + _SNAPSHOT_EVERY_S
        self._shown_state = self.bank.state
        self.snapshot = snap = self.make(now)
        for listener in self.listeners:
            listener(snap)

    def expedite(self) -> None:
        """Publish a Snapshot on the next tick (a command's effect, shown at once)."""
        self._next = 0.0

    # -- what views ask for -------------------------------------------------------------------

    def select_symbol(self, symbol: str) -> None:
        if symbol in self.bank.routing.broker_of:
            self.selected_symbol = symbol
            self._next_watch = 0.0  # send WATCH on the next tick

    def on_heartbeat(self, heartbeat: msg.Heartbeat) -> None:
        for symbol, bid, ask in heartbeat.tops:
            self._tops[symbol] = (bid, ask)
        if heartbeat.book is not None:
            symbol, bids, asks, last = heartbeat.book
            self._books[symbol] = BookView(symbol, bids, asks, last)

    def on_tape(self, body: tuple) -> None:
        self.tape.on_tape(body)

    def _on_restart(self, index: int, _unanswered: object) -> None:
        self.tape.forget(index, self.selected_symbol)

    def send_watch(self, again: bool = False) -> None:
        """Tell the brokers what to record for the tape (``tape_feed``), unless they were."""
        self.tape.send_watch(self.selected_symbol, again)

    def tape_all(self, on: bool) -> None:
        """The all-symbols tape on or off, told to the brokers on the next tick."""
        self.tape.set_all(on)
        self._next_watch = 0.0

    # -- making them ------------------------------------------------------------------------

    def make(self, now: float) -> Snapshot:
        bank = self.bank
        led = bank.ledger
        self.tape.release(now)
        self._order_rate.update(now, led.placed)
        self._fill_rate.update(now, led.trades)
        rec = bank.reconciliation
        paused = bank.schedule.paused and bank.state == RunState.RUNNING
        counts = OrderCounts(
            placed=led.placed,
            acked=led.acked,
            filled=led.filled,
            cancelled=led.cancelled,
            rejected=led.rejected,
            resting=rec.resting if rec else led.working,
            in_flight=0 if rec else led.orders_in_flight,
            lost=rec.lost if rec else 0,
            cancels_in_flight=0 if rec else led.in_flight - led.orders_in_flight,
            cancels_lost=rec.cancels_lost if rec else 0,
        )
        return Snapshot(
            state=RunState.PAUSED if paused else bank.state,
            elapsed_s=now - self._t0,
            seed=bank.config.seed,
            rate=bank.schedule.rate,
            orders=counts,
            orders_per_s=self._order_rate.rate,
            fills_per_s=self._fill_rate.rate,
            fills=led.trades,
            volume=led.volume,
            ack_latency_us=bank.ack_latency.summary(),
            throughput_history=tuple(self._order_rate.history),
            processes=(rows := self._process_rows(now)),
            symbols=bank.config.symbols,
            selected_symbol=self.selected_symbol,
            book=self._books.get(self.selected_symbol) if self.selected_symbol else None,
            tape=self._tape(),
            log_lines=tuple(self.log_lines),
            cancel_requests=dict(sent=led.cancels_sent, done=led.cancels_done, rejected=led.cancels_rejected),
            reject_reasons=led.reject_counts(),
            stop_reason=bank.stop_request.reason,
            final_latency_us=bank.final_latency.summary(),
            tape_events=tuple(self.tape.kept),
            tape_skipped=self.tape.skipped,
            tape_all=self.tape.all_sent,
            market=self._market_rows(),
            stepped=self.stepped,
            **self._account_fields(now),
            transport=bank.config.transport,
            blocked=bank.risk.blocked(),
            accounts_count=bank.config.accounts,
            ack_latency_last_s=self._sample_series(now, rows),
            you=your_account(led, bank.you_account),
        )

    def select_account(self, account: int) -> None:
        if 0 <= account <= self.bank.config.accounts:  # the one beyond the flow's is yours
            self.selected_account = account
            self._next_accounts = 0.0

    def _account_fields(self, now: float) -> dict:
        if now >= self._next_accounts or self.bank.state == RunState.STOPPED:
            self._next_accounts = now + _ACCOUNTS_EVERY_S
            led, symbols = self.bank.ledger, self.bank.config.symbols
            # the ledger's own arrays, read only (its module is at its size limit: no accessor)
            positions, cash = led._positions, led._cash
            last = accounts.last_prices(led.traded)
            top, value, pnl, held = accounts.top_accounts(
                symbols, positions, cash, last, TOP_ACCOUNTS, also=self.selected_account
            )
            chosen = (
                self.selected_account if self.selected_account is not None else (top[0].account if top else 0)
            )
            row = accounts.account_row(chosen, symbols, positions, cash, value, pnl, held)
            outside = led.outside.of_account(chosen)
            orders = accounts.open_orders(led._window, chosen, symbols, OPEN_ORDERS_SHOWN, outside)
            self._accounts = (tuple(top), row, tuple(orders))
        top, row, orders = self._accounts
        return {"accounts": top, "selected_account": row, "account_orders": orders}

    def _market_rows(self) -> tuple[MarketRow, ...]:
        """The most traded symbols' figures (and the watched one's): what the ledger counts."""
        ledger = self.bank.ledger
        traded, symbols = ledger.traded, ledger.symbols
        chosen = traded.most_traded(MARKET_ROWS)
        watched = ledger.symbol_ids.get(self.selected_symbol or "")
        if watched is not None and watched not in chosen and traded.traded[watched]:
            chosen.append(watched)
        rows = []
        for s in chosen:
            symbol = symbols[s]
            bid, ask = self._tops.get(symbol, (0, 0))
            rows.append(
                MarketRow(
                    symbol,
                    last=int(traded.close[s]),
                    first=int(traded.open[s]),
                    vwap=traded.vwap(s) or 0.0,
                    volume=int(traded.volume[s]),
                    trades=int(traded.trades[s]),
                    high=int(traded.high[s]),
                    low=int(traded.low[s]),
                    bid=bid,
                    ask=ask,
                )
            )
        return tuple(rows)

    def _sample_series(
        self, now: float, rows: tuple[ProcessRow, ...], *, last: bool = False
    ) -> dict[str, int]:
        """A row of the series when a second has passed since the last; the latency of the last
        second (what the progress line shows)."""
        bank = self.bank
        if bank.t_running:
            totals, levels = series_inputs(bank)
            levels["rss_bank_bytes"] = rows[0].rss_bytes
            levels["rss_brokers_bytes"] = sum(r.rss_bytes for r in rows[1:])
            if last:
                self.series.finish(now - bank.t_running, totals, levels)
            else:
                self.series.sample(now - bank.t_running, totals, levels)
        if not len(self.series):  # the first second: all there is so far is that second's
            return {
                k: v for k, v in bank.ack_latency.summary().items() if k in ("count", "p50", "p99", "max")
            }
        return dict(self.series.last_second)

    def _process_rows(self, now: float) -> tuple[ProcessRow, ...]:
        bank, pool = self.bank, self.bank.brokers
        me = os.getpid()
        usage = self._resources.sample(now, [me, *pool.pids()])
        rows = [
            ProcessRow(
                name="bank",
                pid=me,
                state=bank.state.value,
                symbols=(),
                inbox_depth=bank.backlog,  # orders waiting for room in an inbox
                orders=bank.ledger.placed,
                orders_per_s=self._order_rate.rate,
                fills=bank.ledger.trades,
                cpu_percent=usage.get(me, (0.0, 0))[0],
                rss_bytes=usage.get(me, (0.0, 0))[1],
                host=_HOST,
            )
        ]
        hang_s = self.supervisor.hang_timeout_s
        for b, meter in zip(pool.brokers, self._broker_rates):
            hb = b.heartbeat
            if hb is not None:
                meter.update(now, hb.orders)
            age = now - b.last_heard if b.last_heard else 0.0
            state = "HUNG" if b.state == "RUNNING" and age > hang_s else b.state
            cpu, rss = usage.get(b.pid, (0.0, 0))
            rows.append(
                ProcessRow(
                    name=b.name,
                    pid=b.pid,
                    state=state,
                    symbols=b.spec.symbols,
                    inbox_depth=b.channel.unread if b.live else 0,
                    orders=b.final.orders if b.final else hb.orders if hb else 0,
                    orders_per_s=meter.rate,
                    fills=b.final.trades if b.final else hb.trades if hb else 0,
                    cpu_percent=cpu,
                    rss_bytes=rss,
                    heartbeat_age_s=age,
                    restarts=b.restarts,
                    exit_code=b.exit_code,
                    host=getattr(b, "host", "") or _HOST,
                    restart_gaps_ms=tuple(b.restart_gaps_ms),
                )
            )
        return tuple(rows)

    def _tape(self) -> tuple[TapeEntry, ...]:
        bank = self.bank
        last = wire.readable_orders(bank.last_orders[-6:].tolist(), bank.config.symbols)
        entries = [TapeEntry("order", o[2], o[3], o[7], o[6], o[1], o[0]) for o in last if o[4] != _CANCEL]
        for _k, symbol, _seq, buy, sell, price, qty in bank.ledger.recent_trades(6):
            side = 1 if buy > sell else -1  # the later order is the aggressor
            entries.append(TapeEntry("fill", symbol, side, qty, price, -1, max(buy, sell)))
        return tuple(entries)

    # -- the end ----------------------------------------------------------------------------

    def outcome(self, *, journal_failed: str | None = None) -> Outcome:
        bank = self.bank
        rec = bank.reconciliation
        snap = self.snapshot or self.make(time.monotonic())
        clean = bank.brokers.all_clean
        stop = bank.stop_request
        ok = rec is not None and rec.ok and clean and not stop.fatal and journal_failed is None
        last_booked_s = bank.ledger.last_booked_ns / 1e9  # the bank books on time.monotonic_ns()
        answered_s = last_booked_s - bank.t_running if bank.t_running and last_booked_s else 0.0
        return Outcome(
            snapshot=snap,
            reconciliation=rec,
            stop_reason=stop.reason or "unknown",
            fatal=stop.fatal,
            brokers_clean=clean,
            duration_s=bank.run_seconds(),
            drain_s=bank.drain_s,
            fills_digest=bank.ledger.fills_digest(),
            exit_code=EXIT_OK if ok else EXIT_FAILED,
            answered_s=max(answered_s, 0.0),
            started_utc=self._started_utc,
            figures=self._figures(snap),
            ended_utc=self._ended_utc or utc_now(),  # after _figures: it sets it once stopped
        )

    def _figures(self, snap: Snapshot) -> dict:
        """Made once, after the run stopped (the HTTP server's thread asks for the report too)."""
        with self._figures_lock:
            if self._figures_made is None or self.bank.state != RunState.STOPPED:
                if self.bank.state == RunState.STOPPED:  # the last, partial second
                    self._ended_utc = utc_now()
                    end = (self.bank.t_end or time.monotonic()) + self.bank.drain_s
                    self._sample_series(end, snap.processes, last=True)
                self._figures_made = run_figures(self.bank, self.series)
            return self._figures_made


_HOST = socket.gethostname()
