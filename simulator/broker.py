"""The broker process: its own bus, an inbox pump, and one order book per symbol it owns.

``broker_main`` is the target of every broker subprocess. It ignores SIGINT, SIGHUP and SIGTERM
(a terminal's Ctrl-C and a service manager's SIGTERM reach the whole process group, and a
broker killed mid-batch would lose orders); the bank stops it with the STOP sentinel behind the
last order it sent. The pump blocks on the inbox for at most ``_IDLE_WAIT_S``, then drains what
is there up to a budget, so an order waits microseconds, not a fixed tick. Orders arrive as
int64 records (``wire.py``); the books append their events to one flat list of ints, which goes
back packed in one send.

A warm standby is the same process started with no shard (``standby_spec``): it imports
everything, says it is ready, and waits. ASSIGN hands it a dead broker's spec; it builds that
shard's books, takes its name, and the RESTORE that follows fills them. A restart then costs
what restoring the books costs, not a spawn and its imports (most of a quarter second).

Results go back on this broker's own one-way pipe. If the bank dies (even by kill -9), the
broker notices on the next pump tick (its parent changed, or the pipe is broken) and exits by
itself: no orphan outlives the bank. An exception in the loop is logged to the bank and ends
the process with status 1, so the bank can restart it.
"""

from __future__ import annotations

import gc
import logging
import operator
import os
import struct
import sys
import time
from collections.abc import Callable
from typing import Protocol

from cherrypy.process.plugins import SimplePlugin

from simulator import messages as msg
from simulator import order_types, processes, resting, wire
from simulator.agents import Desk
from simulator.agents import tops as book_tops
from simulator.book import OrderBook
from simulator.bus import drive, new_bus
from simulator.orders import Event, OrderType, RejectReason
from simulator.stp_book import new_book
from simulator.tape import ALL_SYMBOLS, TapedBook, TapeRecorder, Taps
from simulator.wire import ORDER_WIDTH

_IDLE_WAIT_S = 0.02
# most inbox messages handled per tick: half the inbox's credit, so the bank gets its credit
# back (with the events) while the other half still keeps this broker busy
_DRAIN_BUDGET = 32
_DEPTH_LEVELS = 10
_MATCH_SEQ = operator.attrgetter("_match_seq")  # OrderBook.match_seq, read off its slot
TOPS_PER_HEARTBEAT = 1024  # books whose best bid and ask one heartbeat carries
_CANCEL = int(OrderType.CANCEL)
_REJECT = int(Event.REJECT)
_UNKNOWN_SYMBOL = int(RejectReason.UNKNOWN_SYMBOL)

log = logging.getLogger("broker")


STANDBY_INDEX = -1  # the index of a standby that has no shard yet


def standby_spec(heartbeat_s: float = 0.25, log_level: int = logging.INFO) -> msg.BrokerSpec:
    """The spec a warm standby starts with: no shard, no symbols, until ASSIGN."""
    return msg.BrokerSpec(STANDBY_INDEX, "standby", (), heartbeat_s=heartbeat_s, log_level=log_level)


class ResultsLogHandler(logging.Handler):
    """Sends this process's log records to the bank, which shows and stores them.

    A record it cannot send (the bank is gone: the pipe is broken) is counted in ``failures``,
    never printed: logging's default would write a traceback per record to the terminal, which
    a broker must never write to, and the bank that could report it is gone."""

    def __init__(self, results, index: int) -> None:
        super().__init__()
        self._results = results
        self.index = index  # the shard's index (a standby gets one with ASSIGN)
        self.failures = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = msg.LogLine(self.index, record.levelno, record.name, self.format(record))
            self._results.send_bytes(msg.encode(msg.LOG, line))
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        self.failures += 1


class Broker:
    """The matching side of one broker: books, counters; no pipes, no clock."""

    def __init__(self, spec: msg.BrokerSpec) -> None:
        self.spec = spec
        ids = spec.symbol_ids or tuple(range(len(spec.symbols)))
        if len(ids) != len(spec.symbols):
            raise ValueError(f"{len(spec.symbols)} symbols but {len(ids)} symbol ids")
        self._sym_ids = dict(zip(spec.symbols, ids))
        self._symbol_of = dict(zip(ids, spec.symbols))
        # A book costs nothing until its symbol's first order (with 100,000 symbols, making them
        # all took a second and 85 MB): ``books`` holds those opened so far.
        self.books: dict[str, OrderBook] = {}
        # The hot path routes by wire sym with one list index per order: to the book, or to the
        # tape's TapedBook in front of it (None: not opened yet, or not this broker's). Syms are
        # indices into the run's symbols, so the list is as long as that, not longer. With
        # 100,000 cold books, a dict lookup per order touched its table and its key's int, and a
        # bound method per book one object more: three cache misses more per order.
        self._routes: list[OrderBook | TapedBook | None] = [None] * (max(ids, default=-1) + 1)
        self.orders = 0
        self.bad_messages = 0
        self.watched: str | None = None
        self.taps = Taps(self._routes)  # the tape's wrapped books
        self._tops_from = 0  # the book the next heartbeat's tops start at
        self._opened: list[OrderBook] = []  # ``books`` in the order opened, for tops()
        self.desks: dict[int, Desk] = {}  # the agents of each open book (agents.py), if any

    def watch(self, symbol: str | None, budget: float | None = None) -> None:
        """Carry ``symbol``'s depth in heartbeats and record its tape (None: watch nothing);
        with a ``budget`` (orders/s), record the tape of every book instead (``tape.Taps``).
        Watching as watched already fills the tape's bucket: a step asks so, and the order
        it places is then on the tape however fast the flow ran before the pause."""
        if symbol == self.watched and budget == self.taps.budget and self.tape is not None:
            self.tape.tokens = self.tape.burst
            return
        self.taps.unwrap()
        book = self.book(symbol) if symbol else None  # opened now: its orders go through the tape
        self.watched = symbol if book is not None else None
        self.taps.wrap(list(self.books.values()) if budget is not None else [book] if book else [], budget)

    @property
    def tape(self) -> TapeRecorder | None:
        """What records the watched book's orders (or every book's), None when nothing does."""
        return self.taps.recorder

    def book(self, symbol: str) -> OrderBook | None:
        """The book of one of this broker's symbols (opened now if it was not yet), or None."""
        book = self.books.get(symbol)
        if book is None and symbol in self._sym_ids:
            book = self._open(self._sym_ids[symbol])
        return book

    def _open(self, sym: int) -> OrderBook:
        book = new_book(self._symbol_of[sym], sym, self.spec.stp)
        self.books[book.symbol] = book
        self._opened.append(book)
        self._routes[sym] = book
        if self.spec.agents is not None:
            self.desks[sym] = Desk(self.spec.agents, book)
        self.taps.opened(book)  # the all-symbols tape takes new books too
        return book

    @property
    def trades(self) -> int:
        # every heartbeat sums every open book: the slot read in C, no property call per book
        return sum(map(_MATCH_SEQ, self._opened))

    def handle_orders(self, flat: list, out: list) -> None:
        """Match a decoded ORDERS body: ``flat`` is its order records as one list of ints
        (``body.tolist()``); every order's event records are appended to ``out``, flat too.

        An order for a sym this broker does not own gets REJECT UNKNOWN_SYMBOL; fields out
        of range get the book's REJECT. A trailing partial record (which ``messages.decode``
        never produces) is counted as a bad message and dropped.
        """
        n = len(flat)
        if n % ORDER_WIDTH:
            self.bad_messages += 1
            log.warning("orders of %d integers: the last %d, not a whole record, dropped", n, n % ORDER_WIDTH)
        self.orders += n // ORDER_WIDTH
        routes = self._routes
        size = len(routes)
        desks = self.desks  # empty without agents: then one test per order
        it = iter(flat)
        for oid, account, sym, side, otype, tif, price, qty, target in zip(
            it, it, it, it, it, it, it, it, it
        ):
            start = len(out) if desks else 0
            book = routes[sym] if 0 <= sym < size else None
            if book is None:
                if sym not in self._symbol_of:
                    out += (_REJECT, oid, _UNKNOWN_SYMBOL, 0, 0, 0, 0)
                    continue
                self._open(sym)
                book = routes[sym]  # (a TapedBook when every book is taped)
                assert book is not None
            if otype == _CANCEL:
                book.cancel_into(out, oid, target, price, qty)  # qty > 0: an amend
            else:
                book.submit_into(out, oid, account, side, otype, tif, price, qty, target)
            if desks and (desk := desks[sym]).book._match_seq != desk.seen_seq:  # it traded: the
                desk.react(oid, out, start, book.submit_into, book.cancel_into)  # agents look (agents.py)

    def cancel_all(self, account: int, upto: int, out: list) -> int:
        """The kill switch (CANCEL_ALL): cancel every order of ``account`` (-1: of every
        account) with an id up to ``upto`` that this broker holds, appending each one's
        CANCELLED record to ``out``; how many. An agent's account (or -1) also stops its agents
        here, their quotes cancelled whatever their ids, until a CANCEL_ALL with ``upto`` < 0,
        which cancels nothing and releases them."""
        if upto < 0:
            for desk in self.desks.values():
                desk.release(account)
            return 0
        n = sum(book.cancel_account_into(out, account, upto) for book in self.books.values())
        n += sum(desk.halt(account, out) for desk in self.desks.values())
        who = "every account" if account < 0 else f"account {account}"
        log.info("kill switch: %d resting orders of %s cancelled (ids up to %d)", n, who, upto)
        return n

    def restore(self, states: dict) -> None:
        """Rebuild books from the bank's record (a restarted broker's first message)."""
        for symbol, state in states.items():
            book = self.book(symbol) if isinstance(symbol, str) else None
            if book is None or not isinstance(state, msg.BookState):
                self.bad_messages += 1
                log.warning("RESTORE for %r ignored: not a book of this broker", symbol)
                continue
            orders, stops = state.resting, state.held
            book.restore(
                wire.resting_orders(orders) if isinstance(orders, bytes) else list(orders),
                match_seq=state.match_seq,
                last_price=state.last_price,
                max_oid=state.max_oid,
                held=wire.held_stops(stops) if isinstance(stops, bytes) else stops,
            )
            if book.sym_id in self.desks:
                self.desks[book.sym_id].restore(state.agents, state.max_oid)
        log.info(
            "restored %d books, %d resting orders",
            len(states),
            sum(book.order_count for book in self.books.values()),
        )

    def watched_book(self) -> tuple | None:
        book = self.book(self.watched) if isinstance(self.watched, str) else None
        if book is None:
            return None
        bids, asks = book.depth(_DEPTH_LEVELS)
        return (book.symbol, tuple(bids), tuple(asks), book.last_price)

    def heartbeat(self, consumed: int) -> msg.Heartbeat:
        return msg.Heartbeat(
            index=self.spec.index,
            pid=os.getpid(),
            orders=self.orders,
            trades=self.trades,
            consumed=consumed,
            bad_messages=self.bad_messages,
            book=self.watched_book(),
            tops=self.tops(),
        )

    def tops(self) -> tuple:
        """(symbol, best bid, best ask) of books with orders (0: that side is empty), at most
        ``TOPS_PER_HEARTBEAT`` of them, the next ones each time: a heartbeat's cost is bounded
        however many books there are, and each book's top is refreshed every few heartbeats."""
        books = self._opened  # not a list of every book per heartbeat: O(symbols) 4 times a second
        start = self._tops_from % len(books) if books else 0
        chunk = books[start : start + TOPS_PER_HEARTBEAT]
        chunk += books[: TOPS_PER_HEARTBEAT - len(chunk)] if len(books) > len(chunk) else []
        self._tops_from = start + len(chunk)
        # the prices only (agents.tops): best_bid and best_ask sum their level's leaves too
        return tuple((b.symbol, *book_tops(b)) for b in chunk if b.order_count)

    def final_report(self, still_here: Callable[[], None] = lambda: None) -> msg.FinalReport:
        """The last message: counters and every resting order (``resting.pack``); ``still_here``
        is called every few thousand books (listing hundreds of thousands of orders takes a while)."""
        records, books = resting.pack(self.books.values(), still_here)
        held = {symbol: order_types.held_stops(book) for symbol, book in self.books.items() if book.held}
        return msg.FinalReport(
            self.spec.index, os.getpid(), self.orders, self.trades, self.bad_messages, records, books, held
        )


class ParentWatch(Protocol):
    """What the pump asks of whoever tells it the bank is gone (``processes.OrphanWatch`` over
    pipes, ``amqp_broker.BankWatch`` over AMQP)."""

    parent_pid: int

    @property
    def orphaned(self) -> bool: ...


class InboxPump(SimplePlugin):
    """Bus plugin: each 'main' tick waits briefly for orders, drains a batch, answers it."""

    def __init__(
        self,
        bus,
        broker: Broker,
        inbox,
        results,
        parent: ParentWatch,
        log_handler: ResultsLogHandler | None = None,
    ) -> None:
        super().__init__(bus)
        self.broker = broker
        self.log_handler = log_handler
        self.inbox = inbox
        self.results = results
        self.parent = parent
        self.done = False
        self.orphaned = False
        self.consumed = 0  # inbox messages read: every reply carries it (the bank's credit)
        self._next_heartbeat = 0.0

    def start(self) -> None:
        self._send(msg.HEARTBEAT, self.broker.heartbeat(self.consumed))  # = ready
        self._next_heartbeat = time.monotonic() + self.broker.spec.heartbeat_s

    def main(self) -> None:
        if self.parent.orphaned:
            log.error("bank (pid %d) is gone; exiting without it", self.parent.parent_pid)
            self.orphaned = self.done = True
            return
        events: list = []
        inbox = self.inbox
        tape = self.broker.tape
        if tape is not None:
            tape.tick(time.monotonic())
        try:
            if inbox.poll(_IDLE_WAIT_S):
                for _ in range(_DRAIN_BUDGET):
                    payload = inbox.recv_bytes()
                    self.consumed += 1
                    if self._handle(payload, events):
                        break  # the STOP sentinel: nothing after it is ours
                    if not inbox.poll():
                        break
        except (EOFError, OSError):
            log.error("inbox closed: the bank is gone; exiting without it")
            self.orphaned = self.done = True
            return
        if events:
            # struct packs a list of ints into int64s about four times faster than array does
            records = struct.pack(f"{len(events)}q", *events)
            self._send(msg.EVENTS, (self.broker.spec.index, self.consumed, records))
        tape = self.broker.tape  # (a WATCH in this batch may have changed it)
        if tape is not None and (tape.taken or tape.skipped):
            skipped, taken = tape.take()
            taped = ALL_SYMBOLS if self.broker.taps.budget is not None else self.broker.watched
            self._send(msg.TAPE, (taped, skipped, taken))
        if self.done:
            # the report of a broker with hundreds of thousands resting takes seconds to build:
            # heartbeats meanwhile, so that time is not taken for silence
            report = self.broker.final_report(self._heartbeat_if_due)
            # logged before the report goes: the bank reads a broker's pipe until its report
            # and its exit, and a broker leaves at once after it
            log.info("answered every order; sending the final report")
            self._send(msg.FINAL, report)
            return
        self._heartbeat_if_due()

    def _heartbeat_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_heartbeat:
            self._send(msg.HEARTBEAT, self.broker.heartbeat(self.consumed))
            self._next_heartbeat = now + self.broker.spec.heartbeat_s

    def _handle(self, payload, events: list) -> bool:
        """Handle one inbox message; True when it is the STOP sentinel."""
        try:
            kind, body = msg.decode(payload)
        except msg.BadMessage as exc:
            self.broker.bad_messages += 1
            log.warning("bad message on inbox ignored: %s", exc)
            return False
        if kind == msg.ORDERS:
            self.broker.handle_orders(body.tolist(), events)
        elif kind == msg.WATCH:
            symbol, budget = body if isinstance(body, tuple) else (body, None)
            self.broker.watch(symbol or None, budget)
            self._next_heartbeat = 0.0  # the new book's levels with the next heartbeat, now
        elif kind == msg.ASSIGN:
            self._assign(body)
        elif kind == msg.RESTORE:
            self.broker.restore(body)
        elif kind == msg.CANCEL_ALL:
            self.broker.cancel_all(body[0], body[1], events)
        elif kind == msg.STOP:
            counts = (gc.get_count(), gc.get_freeze_count(), len(gc.garbage))
            log.debug("STOP read after %d messages: listing what rests (collector %s)", self.consumed, counts)
            self.done = True
            return True
        else:
            self.broker.bad_messages += 1
            log.warning("unexpected %r message on inbox ignored", kind)
        return False

    def _assign(self, spec: msg.BrokerSpec) -> None:
        """A standby takes over a shard: its books (empty until RESTORE), its name, its index."""
        if self.broker.spec.index != STANDBY_INDEX:
            self.broker.bad_messages += 1
            log.warning("ASSIGN to %s ignored: it has a shard already", self.broker.spec.name)
            return
        self.broker = Broker(spec)
        if self.log_handler is not None:
            self.log_handler.index = spec.index
        processes.set_title(spec.name)
        self._next_heartbeat = 0.0  # say so at once: the heartbeat carries the new index
        log.info("standby took over %s (symbols %s)", spec.name, spec.symbols_text())

    def _send(self, kind: bytes, body) -> None:
        try:
            self.results.send_bytes(msg.encode(kind, body))
        except (BrokenPipeError, EOFError, OSError):
            self.orphaned = self.done = True  # nobody reads any more: the bank is gone


def broker_main(spec: msg.BrokerSpec, inbox, results) -> None:
    """Entry point of a broker subprocess (``processes.start_process`` starts it: a fork)."""
    processes.enter_child(title=spec.name)
    parent = processes.OrphanWatch()

    root = logging.getLogger()
    handler = ResultsLogHandler(results, spec.index)
    root.handlers[:] = [handler]
    root.setLevel(spec.log_level)
    logging.getLogger("bus").setLevel(max(spec.log_level, logging.WARNING))

    bus = new_bus(spec.name)
    pump = InboxPump(bus, Broker(spec), inbox, results, parent, handler)
    pump.subscribe()
    processes.freeze_heap_each_tick(bus)
    try:
        drive(bus, lambda: pump.done)
    except Exception:
        log.exception("broker loop failed")
        sys.exit(1)
    finally:
        results.close()
    # Everything is answered, sent and closed. Leave without the interpreter's teardown, which
    # frees every book entry one by one: with hundreds of thousands of orders resting (many
    # symbols) that took seconds, past the grace the bank gives a broker to exit.
    logging.shutdown()
    os._exit(0)
