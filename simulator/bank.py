"""The bank: places the order flow, sends each order to its symbol's broker, books every result.

``Bank`` is a bus plugin of the bank process, and does only this. Each 'main' tick it places the
orders now due (``Schedule``), routes them (``Routing``), hands them to the brokers' channels in
batches, and books the events that came back (``Ledger``). What is due goes at once (a batch of
one at low rates, full batches under load), and a full inbox holds generation back instead of
growing memory.

The stop protocol is the bank's too ('stop', before the pool joins the brokers): generate
nothing more, hand every pending order to its broker, put STOP behind it, and read results
until every broker's final report is in, publishing 'drain' on the bus meanwhile so the
supervisor still restarts a broker that dies and the Snapshots go on. Last on 'stop' it closes
the ledger and reconciles.

Pre-trade risk runs here too (``simulator.risk``): an order the gate refuses is placed in the
ledger and booked at once as its broker's REJECT would be, and sent to no broker. The kill
switch blocks an account's new orders in the gate and sends every broker a CANCEL_ALL behind
the orders placed before it, so each broker cancels that account's resting orders itself.

Dead brokers, restarts and drills are the supervisor's (``simulator.supervisor``); Snapshots
are the snapshot builder's (``simulator.snapshots``). The supervisor hands a restarted broker's
unanswered orders back through the bus channel 'restarted'.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from cherrypy.process.plugins import SimplePlugin

from simulator import agent_flags, kill_switch, resting, wire
from simulator import messages as msg
from simulator.bus import ORDER, never_raises
from simulator.channel import ChannelFull, ChannelGone
from simulator.config import SimConfig
from simulator.flow import OrderFlow
from simulator.ledger import Ledger, Reconciliation
from simulator.orders import Event, RejectReason
from simulator.outside_ids import YOU
from simulator.own_order import OwnCancel, OwnOrder
from simulator.risk import ALL_ACCOUNTS, RiskGate
from simulator.risk_exposure import LiveExposure
from simulator.routing import RoutedCounts, Routing
from simulator.rows import rows_where
from simulator.schedule import Schedule
from simulator.stats import LatencyHistogram, RunState

log = logging.getLogger("bank")

_NO_ORDERS = np.zeros((0, wire.ORDER_WIDTH), np.int64)
# Orders a shard being restored may queue in the bank before they hold the whole flow back:
# the other shards' orders flow on meanwhile (its orders wait for it, in order, none lost).
# At 10,000 orders/s for the shard, over a second and a half; at 72 bytes, 1.2 MB.
RESTORING_QUEUE = 16_384


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
    """Schedules, places and books orders; runs the stop protocol."""

    def __init__(
        self,
        bus: Any,
        config: SimConfig,
        stop: StopRequest,
        brokers: Any,
        routing: Routing,
        *,
        journal: Any = None,
    ) -> None:
        super().__init__(bus)
        self.config = config
        self.stop_request = stop
        self.brokers = brokers  # a channel per broker, and what the stop protocol needs of each
        self.routing = routing
        self.journal = journal  # a Journal plugin, when --journal is given
        self.flow = OrderFlow.from_config(config)
        # the flow's accounts, and one beyond them: yours (orders placed from the dashboard)
        self.you_account = config.accounts
        # and the agents' after yours (agents.py): makers, momentum, mean reversion
        self.agents = agent_flags.params(config, config.accounts + 1)
        self.ledger = Ledger(config.symbols, config.accounts + 1 + self.agents.count, self.agents)
        self.ack_latency = LatencyHistogram()  # order due -> its ack known to the bank
        self.final_latency = LatencyHistogram()  # order due -> its final state known
        self.held_latency = LatencyHistogram()  # the acks of those a restart held up (ledger.hold)
        self.schedule = Schedule(rate=config.rate, batch=config.batch, brokers=config.brokers)
        # orders waiting for room in each broker's inbox, as (n, 9) record arrays
        self.pending: list[np.ndarray] = [_NO_ORDERS] * config.brokers
        self.routed = RoutedCounts(config.brokers)  # orders and cancels sent to each broker, for the report
        self.state = RunState.STARTING
        self.reconciliation: Reconciliation | None = None
        self.last_orders: np.ndarray = _NO_ORDERS  # the latest orders placed, for the tape
        self.t_running = 0.0  # when orders began (monotonic), 0 before
        self.t_end: float | None = None  # when the stop began
        self.drain_s = 0.0  # from the stop request to every broker's final report
        self._limit_reached = False
        self._events_in: list[np.ndarray] = []  # event batches read, to book after the poll
        exposure = None
        if config.max_open_orders or config.max_position:
            led = self.ledger
            exposure = LiveExposure(
                led.window,
                led.positions_held,
                len(config.symbols),
                max_open=config.max_open_orders,
                max_position=config.max_position,
            )
        self.risk = RiskGate(config, config.accounts, exposure)
        self.on_refused: Callable[[np.ndarray, np.ndarray], None] | None = None  # for the tape
        # the kill switch's CANCEL_ALLs per broker, (flow_upto, you_upto, account, released)
        # (kill_switch.py), and those sent that the broker may not have read yet, with the
        # channel's count when sent (sent again if the broker is restarted before it read them)
        self._kills: list[deque[kill_switch.Kill]] = [deque() for _ in range(config.brokers)]
        self._kills_sent: list[list[tuple[kill_switch.Kill, int]]] = [[] for _ in range(config.brokers)]
        self.kill_log: list[tuple[float, str, int]] = []  # (run seconds, 'engaged' | 'released', account)

    def subscribe(self) -> None:
        bus = self.bus
        bus.subscribe("start", self.start, priority=ORDER["start", "bank"])
        bus.subscribe("main", self.main, priority=ORDER["main", "bank"])
        bus.subscribe("stop", self.stop, priority=ORDER["stop", "bank"])
        bus.subscribe("stop", self.finish, priority=ORDER["stop", "ledger"])
        bus.subscribe("restarted", self.requeue)

    # -- bus channels -----------------------------------------------------------------------

    def start(self) -> None:
        if self.brokers.failed:
            self.stop_request.request(self.brokers.failed, fatal=True)
        if self.journal is not None and self.journal.failed:
            self.stop_request.request(f"fatal: {self.journal.failed}", fatal=True)
        self.state = RunState.RUNNING
        # what exists now lives for the whole run: keep the collector off it, and let it run
        # rarely (orders hold no reference cycles): a full pass stalls the bank for milliseconds
        gc.freeze()
        gc.set_threshold(50_000, 50, 1000)
        self.t_running = time.monotonic()
        log.info(
            "placing orders: seed %d, rate %s, %d symbols on %d brokers",
            self.config.seed,
            "max" if not self.schedule.rate else f"{self.schedule.rate:g}/s",
            len(self.config.symbols),
            self.routing.brokers,
        )

    def main(self) -> None:
        now = time.monotonic()
        self._check_limits(now)
        if self.stop_request:
            return  # drive() sees the request and exits the bus; 'stop' does the rest
        held_back = self.held_back
        due, first_due = self.schedule.due(now, held_back)
        if due:
            self._place(due, first_due)
        self._flush()
        self._poll(self.schedule.idle_wait(now, self.held_back))

    @never_raises
    def stop(self) -> None:
        """The stop protocol: generate nothing more, hand every pending order to its broker,
        put STOP behind it, and read results until every broker's final report is in
        (a broker that dies meanwhile is restarted), within ``--stop-timeout``."""
        if self.state in (RunState.STOPPING, RunState.STOPPED):
            return
        self.state = RunState.STOPPING
        self.t_end = time.monotonic()
        log.info("stopping (%s): answering every order sent", self.stop_request.reason)
        self.bus.publish("drain", self.t_end)
        deadline = time.monotonic() + self.config.stop_timeout
        while True:
            now = time.monotonic()
            self._flush()
            for b in self.brokers.brokers:
                if b.live and not b.stop_sent and not len(self.pending[b.index]) and not self._kills[b.index]:
                    try:
                        b.channel.send(msg.STOP)
                        b.stop_sent = True
                    except (ChannelFull, ChannelGone):
                        pass  # full: next round; gone: the supervisor restarts it
            waiting = [b.name for b in self.brokers.brokers if b.final is None and not b.given_up]
            if not waiting:
                break
            if now > deadline:
                log.error("stop timeout: no final report from %s", ", ".join(waiting))
                break
            self._poll(0.02)
            self.bus.publish("drain", time.monotonic())

    @never_raises
    def finish(self) -> None:
        """Last on 'stop', after the pool drained: close the ledger and reconcile."""
        if self.state == RunState.STOPPED:
            return
        finals = [(b.final.resting, b.final.held) for b in self.brokers.brokers if b.final is not None]
        self.reconciliation = rec = self.ledger.reconcile(resting.leaves_by_id(finals))
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
        self.drain_s = time.monotonic() - (self.t_end or time.monotonic())
        self.bus.publish("stopped")

    def requeue(self, index: int, unanswered: np.ndarray) -> None:
        """'restarted': a new broker for shard ``index`` gets every order of its shard not
        answered yet, in placement order (those pending included: they are among them), and
        the kill switch's CANCEL_ALLs it may not have read, each behind its orders."""
        self.pending[index] = unanswered
        self.ledger.hold(unanswered)
        sent, self._kills_sent[index] = self._kills_sent[index], []
        kill_switch.resend(self, index, sent)

    # -- placing ------------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Orders placed and waiting for room in an inbox."""
        return sum(map(len, self.pending))

    @property
    def held_back(self) -> int:
        """The backlog that holds generation back: a shard being restored (its broker dead,
        or restarted and not answering yet) counts only past ``RESTORING_QUEUE`` orders, so
        the other brokers' orders never wait for a restart."""
        held = 0
        brokers = self.brokers.brokers
        for index, pending in enumerate(self.pending):
            n = len(pending)
            if n and index < len(brokers) and brokers[index].restoring:
                n = max(n - RESTORING_QUEUE, 0)
            held += n
        return held

    def _place(self, due: int, first_due: float) -> None:
        limit = self.config.orders
        if limit is not None:
            due = min(due, limit - self.ledger.flow_placed)
            if due <= 0:
                self._limit_reached = True
                return
        # ``due`` is at most schedule.MOST_AHEAD: what one tick makes stays a few milliseconds
        # of work and a few tens of thousands of ids, well inside the ledger's order window
        orders = self.flow.generate(due)
        t_ns = int(first_due * 1e9)
        reasons = None
        if self.risk.active:  # before placing: what the gate counts as open excludes these rows
            reasons = self.risk.check(orders, self.flow.last_refs, self.schedule.step_ns, time.monotonic_ns())
        # the ledger first: the journal records only orders placed (were the ledger to refuse
        # them, the journal would hold orders never sent)
        self.ledger.place(orders, t_ns, self.schedule.step_ns)
        self._queue(orders, t_ns, reasons)
        self.last_orders = orders
        if limit is not None and self.ledger.flow_placed >= limit:
            self._limit_reached = True

    def _queue(self, orders: np.ndarray, t_ns: int, reasons: np.ndarray | None = None) -> None:
        """Journal orders just placed, book those the gate refused (``reasons`` not 0) and
        queue the others behind their broker's pending ones."""
        if self.journal is not None:
            self.journal.record_orders(orders, t_ns)
        if reasons is not None:
            refused = reasons != 0
            self._refuse(rows_where(orders, refused), reasons[refused])
            orders = rows_where(orders, ~refused)
        pending, brokers = self.pending, self.brokers.brokers
        for index, mine in enumerate(self.routing.split(orders)):
            if len(mine):
                self.routed.add(index, mine)
                if index < len(brokers) and brokers[index].restoring:
                    self.ledger.hold(mine)
                pending[index] = np.concatenate((pending[index], mine)) if len(pending[index]) else mine

    def place_own(self, order: OwnOrder | OwnCancel) -> int | None:
        """Your order or cancel (checked: ``own_order.py``), from your account: placed now
        behind the pending orders of its broker, without holding the flow back or changing its
        stream (``outside_orders.py``: its id is 2**40 + n). Its id; None once the run is
        stopping. The kill switch refuses an order (never a cancel) as it refuses the flow's;
        the flow's limits do not apply."""
        if self.state != RunState.RUNNING or self.stop_request:
            return None
        led = self.ledger
        oid = led.outside.new_id(YOU)
        record = order.record(oid, self.you_account, led.symbol_ids[order.symbol])
        t_ns = time.monotonic_ns()
        led.place_outside(record, t_ns)
        killed = self.risk.killed
        blocked = isinstance(order, OwnOrder) and (ALL_ACCOUNTS in killed or self.you_account in killed)
        reasons = np.array([int(RejectReason.KILL_SWITCH)], np.int64) if blocked else None
        self._queue(np.array([record], np.int64), t_ns, reasons)
        return oid

    def _refuse(self, rows: np.ndarray, reasons: np.ndarray) -> None:
        """Book the gate's refusals as the REJECTs a broker would send (journalled as events of
        broker -1, the bank), and show them on the tape."""
        events = np.zeros((len(rows), wire.EVENT_WIDTH), np.int64)
        events[:, 0], events[:, 1], events[:, 2] = int(Event.REJECT), rows[:, 0], reasons
        if self.journal is not None:
            self.journal.record_events(-1, events)
        self.ledger.apply(events, time.monotonic_ns(), self.ack_latency, self.final_latency)
        if self.on_refused is not None:
            self.on_refused(rows, reasons)

    # -- the kill switch (kill_switch.py) -----------------------------------------------------

    def kill_switch(self, account: int) -> None:
        kill_switch.engage(self, account)

    def release(self, account: int) -> None:
        kill_switch.release(self, account)

    def step(self) -> np.ndarray:
        """While paused: place the flow's next order now (with the cancels it brings), as if
        it had come due; the rows placed, none when not paused. The stream stays the seed's."""
        if not self.schedule.paused or self.state != RunState.RUNNING or self.stop_request:
            return _NO_ORDERS
        placed = self.ledger.placed
        self._place(1, time.monotonic())
        return self.last_orders if self.ledger.placed > placed else _NO_ORDERS

    def _flush(self) -> bool:
        """Send pending orders in batches (and the kill switch's CANCEL_ALLs among them, each
        in its place), never blocking; True if everything went out."""
        sent_all = True
        for index, pending in enumerate(self.pending):
            kills = self._kills[index]
            if not len(pending) and not kills:
                continue
            channel = self.brokers.channel(index)
            if kills and not self._send_kills(index, channel):
                sent_all = False
            elif not self._send_orders(index, channel, len(pending)):
                sent_all = False
        return sent_all

    def _send_orders(self, index: int, channel: Any, count: int) -> bool:
        """Send the first ``count`` pending orders of broker ``index`` in batches; False when
        the channel was full or gone first (what was sent has left ``pending``)."""
        pending = self.pending[index]
        # a message never holds more than the channel takes at once (a small pipe)
        step = max(1, min(self.config.batch, (channel.max_bytes - msg.RECORDS_OFFSET) // wire.ORDER_SIZE))
        sent = 0
        try:
            while sent < count:
                channel.send(msg.encode(msg.ORDERS, pending[sent : min(sent + step, count)].tobytes()))
                sent = min(sent + step, count)
        except (ChannelFull, ChannelGone):  # full: later; gone: the supervisor restarts it
            return False
        finally:
            if sent:
                self.pending[index] = pending[sent:]
        return True

    def _send_kills(self, index: int, channel: Any) -> bool:
        """Send broker ``index`` its CANCEL_ALLs, each behind the pending orders placed before
        it (``kill_switch.behind``), then the rest of its orders; False when the channel filled
        first."""
        kills, sent = self._kills[index], self._kills_sent[index]
        read = getattr(channel, "read", 0)
        sent[:] = [k for k in sent if k[1] > read]  # read by the broker: done
        while kills:
            kill = kills[0]
            behind = kill_switch.behind(self.pending[index][:, 0], kill[0], kill[1])
            if not self._send_orders(index, channel, behind):
                return False
            try:
                channel.send(msg.encode(msg.CANCEL_ALL, kill_switch.message(kill)))
            except (ChannelFull, ChannelGone):
                return False
            kills.popleft()
            sent.append((kill, getattr(channel, "sent", 0)))
        return self._send_orders(index, channel, len(self.pending[index]))

    # -- results ----------------------------------------------------------------------------

    def _poll(self, timeout: float) -> None:
        """Read what the brokers sent, then book every batch of events that came in at once.

        Booking costs a fixed few hundred microseconds per call plus a little per event, so
        the batches of one poll are booked together. They may be: events of one order all come
        from one broker, in its order, and brokers share no symbol.
        """
        self.brokers.poll(timeout)
        batches, self._events_in = self._events_in, []
        if batches:
            events = batches[0] if len(batches) == 1 else np.concatenate(batches)
            try:
                self.ledger.apply(
                    events, time.monotonic_ns(), self.ack_latency, self.final_latency, self.held_latency
                )
            except Exception as exc:  # a bug, or garbage the ledger could not even count
                self.brokers.bad_messages += 1
                log.warning("events ignored: %s: %s", type(exc).__name__, exc)

    def on_events(self, index: int, records: memoryview) -> None:
        """A broker's batch of event records, booked after the poll that read it."""
        events = np.frombuffer(records, np.int64).reshape(-1, wire.EVENT_WIDTH)
        if self.journal is not None:
            self.journal.record_events(index, events)
        self._events_in.append(events)

    def _check_limits(self, now: float) -> None:
        if self.stop_request or self.state != RunState.RUNNING:
            return
        if self.brokers.failed:
            self.stop_request.request(self.brokers.failed, fatal=True)
        elif self.journal is not None and self.journal.failed:
            self.stop_request.request(f"fatal: {self.journal.failed}", fatal=True)
        elif self._limit_reached and not self.backlog:
            self.stop_request.request(f"order limit reached ({self.config.orders})")
        elif self.config.duration is not None and now - self.t_running >= self.config.duration:
            self.stop_request.request(f"duration reached ({self.config.duration:g} s)")

    def run_seconds(self, now: float | None = None) -> float:
        """Seconds from the first order to the stop request (or to ``now``, still running)."""
        if not self.t_running:
            return 0.0
        end = self.t_end if self.t_end is not None else (now or time.monotonic())
        return max(end - self.t_running, 0.0)
