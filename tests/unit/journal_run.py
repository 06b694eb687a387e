"""What the journal and replay tests share: a bank's worth of journal traffic made in-process
(the brokers' ``Broker`` matching, a real bus, a real SQLite file), and fixtures for it: a test
module says ``bus = pytest.fixture(a_bus, name="bus")`` and so on."""

from __future__ import annotations

import sqlite3

import numpy as np

from simulator import messages as msg
from simulator import wire
from simulator.broker import Broker
from simulator.bus import new_bus, states
from simulator.flow import OrderFlow, as_tuples
from simulator.journal import Journal
from simulator.ledger import Ledger
from simulator.orders import Event, OrderType, RejectReason
from simulator.stats import LatencyHistogram

SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA")
SYMBOL_IDS = {s: i for i, s in enumerate(SYMBOLS)}
CONFIG = {"symbols": list(SYMBOLS), "seed": 11, "brokers": 2}
CANCEL = int(OrderType.CANCEL)
ACK, TRADE, REJECT = int(Event.ACK), int(Event.TRADE), int(Event.REJECT)
UNKNOWN = int(RejectReason.UNKNOWN_SYMBOL)
UNKNOWN_GOES_TO = 1  # see Brokers


class Brokers:
    """What the broker processes do, in-process: ``Broker`` matching, each symbol on one of two.

    An order for a symbol no book trades goes to a broker like any other, and that broker
    rejects it with UNKNOWN_SYMBOL. A run sends those to its first broker; here they go to the
    last, so the index journalled with their rejects cannot be a default 0.
    """

    def __init__(self, symbols=SYMBOLS, count: int = 2) -> None:
        self.brokers = [
            Broker(
                msg.BrokerSpec(
                    index=i,
                    name=f"broker-{i}",
                    symbols=tuple(symbols[i::count]),
                    symbol_ids=tuple(range(i, len(symbols), count)),
                )
            )
            for i in range(count)
        ]
        # the broker of each wire sym; the extra last slot is indexed by UNKNOWN_SYM (-1)
        self.route = np.array([i % count for i in range(len(symbols))] + [UNKNOWN_GOES_TO])

    def handle(self, records: np.ndarray) -> dict[int, np.ndarray]:
        """Each broker's events for its share of ``records``, as the (n, 7) array it sends."""
        of = self.route[records[:, 2]]
        out = {}
        for i, broker in enumerate(self.brokers):
            mine = records[of == i]
            if len(mine):
                flat: list[int] = []
                broker.handle_orders(mine.reshape(-1).tolist(), flat)
                out[i] = np.array(flat, np.int64).reshape(-1, wire.EVENT_WIDTH)
        return out


class Run:
    """A bank's worth of journal traffic: flow -> journal -> brokers -> journal and ledger, all
    as the int64 records the bank holds."""

    def __init__(self, journal: Journal, seed: int = 11) -> None:
        self.journal = journal
        self.flow = OrderFlow(SYMBOLS, seed=seed, invalid_ratio=0.01, cancel_ratio=0.15)
        self.brokers = Brokers()
        self.ledger = Ledger(SYMBOLS, 100)
        self.orders: list[tuple] = []  # readable, for the assertions
        self.events: list[tuple[int, tuple]] = []  # (broker, readable event)
        self.batches: list[np.ndarray] = []  # the event batches as journalled
        self.order_batches: list[np.ndarray] = []  # the order batches as journalled
        self.batch_brokers: list[int] = []  # the broker of each of ``batches``
        self.unjournalled: list[tuple[int, tuple]] = []  # (broker, readable event) never journalled
        self.kills: list[tuple[int, int, int]] = []  # the kill switch's uses, as journalled

    def step(self, n: int, t_ns: int = 0, *, journalled: tuple[int, ...] = (0, 1)) -> None:
        """``n`` orders placed, matched and answered; only the answers of the brokers in
        ``journalled`` reach the journal (the rest, as when the bank is killed before it read
        them, are kept in ``unjournalled``)."""
        records = self.flow.generate(n)
        self.journal.record_orders(records, t_ns)
        self.order_batches.append(records)
        self.ledger.place(records, t_ns)
        self.orders += as_tuples(records, SYMBOLS)
        for broker, events in self.brokers.handle(records).items():
            readable = [(broker, e) for e in wire.readable_events(events.tolist(), SYMBOLS)]
            if broker not in journalled:
                self.unjournalled += readable
                continue
            self.journal.record_events(broker, events)
            self.ledger.apply(events, 0, LatencyHistogram())
            self.batches.append(events)
            self.batch_brokers.append(broker)
            self.events += readable

    def kill_switch(self, account: int) -> None:
        """The kill switch engaged for ``account`` (-1: all) after the orders placed so far:
        journalled, and each broker cancels that account's resting orders, as on a CANCEL_ALL."""
        upto = self.flow.next_oid - 1
        assert upto == self.orders[-1][0]
        self.kills.append((account, upto, 0))
        self.journal.record_kill(upto, 0, account)
        for i, broker in enumerate(self.brokers.brokers):
            flat: list[int] = []
            broker.cancel_all(account, upto, flat)
            if flat:
                events = np.array(flat, np.int64).reshape(-1, wire.EVENT_WIDTH)
                self.journal.record_events(i, events)
                self.ledger.apply(events, 0, LatencyHistogram())
                self.events += [(i, e) for e in wire.readable_events(events.tolist(), SYMBOLS)]

    def report(self, **journal) -> dict:
        """What the bank's final report says of this run, as far as a replay reads it."""
        cancels = sum(1 for o in self.orders if o[4] == CANCEL)
        return {
            "orders": {"placed": len(self.orders) - cancels, "lost": 0},
            "cancel_requests": {"sent": cancels},
            "fills": {"count": len(self.trades), "digest": self.ledger.fills_digest()},
            "journal": {"failed": None, "dropped_rows": 0, **journal},
        }

    @property
    def trades(self) -> list[tuple]:
        return [e for _b, e in self.events if e[0] == TRADE]


def a_bus():
    """A fresh bus, exited after the test (a test module's ``bus`` fixture)."""
    b = new_bus("test-journal")
    yield b
    if b.state != states.EXITING:
        b.exit()


def started(bus, path, **kw) -> Journal:
    journal = Journal(bus, str(path), config=CONFIG, **kw)
    journal.subscribe()
    bus.start()
    return journal


def rows(path, sql, *args):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def records(*orders: tuple) -> np.ndarray:
    """Readable order tuples as the (n, 9) int64 array the bank journals."""
    return np.array([wire.order_record(o, SYMBOL_IDS) for o in orders], np.int64)


def event_records(*events: tuple) -> np.ndarray:
    """Readable event tuples as the (n, 7) int64 array a broker sends."""
    return np.array([wire.event_record(e, SYMBOL_IDS) for e in events], np.int64)


def a_journalled_run(bus, tmp_path):
    """A finished run of 40 batches of 100 orders, journalled and stopped, with its report."""
    path = tmp_path / "run.db"
    journal = started(bus, path)
    run = Run(journal)
    for i in range(40):
        run.step(100, t_ns=1_000 + i)
    bus.exit()
    journal.write_report(run.report())
    return str(path), run
