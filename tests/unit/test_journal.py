"""Tests for simulator.journal, simulator.journal_file and simulator.replay: a real bus, a real
SQLite file, the brokers' matching in-process."""

from __future__ import annotations

import logging
import os
import sqlite3
import time

import numpy as np
import pytest

from simulator import messages as msg
from simulator import wire
from simulator.broker import Broker
from simulator.bus import new_bus, states
from simulator.flow import UNKNOWN_SYMBOL, OrderFlow, as_tuples
from simulator.journal import Journal
from simulator.journal_file import JournalError, check_path, open_journal
from simulator.ledger import Ledger
from simulator.orders import Event, OrderType, RejectReason
from simulator.replay import main as replay_main
from simulator.replay import replay
from simulator.stats import LatencyHistogram
from simulator.testing.waiting import deadline_wait

pytestmark = pytest.mark.timeout(60)

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

    def step(self, n: int, t_ns: int = 0) -> None:
        records = self.flow.generate(n)
        self.journal.record_orders(records, t_ns)
        self.ledger.place(records, t_ns)
        self.orders += as_tuples(records, SYMBOLS)
        for broker, events in self.brokers.handle(records).items():
            self.journal.record_events(broker, events)
            self.ledger.apply(events, 0, LatencyHistogram())
            self.batches.append(events)
            self.events += [(broker, e) for e in wire.readable_events(events.tolist(), SYMBOLS)]

    @property
    def trades(self) -> list[tuple]:
        return [e for _b, e in self.events if e[0] == TRADE]


@pytest.fixture
def bus():
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


@pytest.fixture
def journalled_run(bus, tmp_path):
    """A finished run of 40 batches of 100 orders, journalled and stopped, with its report."""
    path = tmp_path / "run.db"
    journal = started(bus, path)
    run = Run(journal)
    for i in range(40):
        run.step(100, t_ns=1_000 + i)
    bus.exit()
    journal.write_report({"fills": {"count": len(run.trades), "digest": run.ledger.fills_digest()}})
    return str(path), run


# -- writing -------------------------------------------------------------------------------


def test_a_run_journals_every_order_fill_and_result_and_its_config(journalled_run):
    path, run = journalled_run
    assert run.journal.failed is None
    assert rows(path, "SELECT count(*) FROM orders") == [(len(run.orders),)]
    assert rows(path, "SELECT count(*) FROM fills") == [(len(run.trades),)]
    answers = [(b, e) for b, e in run.events if e[0] != TRADE]
    assert rows(path, "SELECT count(*) FROM results") == [(len(answers),)]
    assert len(run.trades) > 100 and any(o[4] == CANCEL for o in run.orders)

    oid, account, symbol, side, otype, tif, price, qty, _target = run.orders[0]
    assert rows(path, "SELECT * FROM orders WHERE id = ?", oid) == [
        (oid, 1, account, symbol, side, OrderType(otype).name, ["DAY", "IOC"][tif], price, qty, None, 1_000)
    ]
    cancel = next(o for o in run.orders if o[4] == CANCEL)
    assert rows(path, "SELECT side, type, price, qty, target FROM orders WHERE id = ?", cancel[0]) == [
        (0, "CANCEL", 0, 0, cancel[8])
    ]
    trade = run.trades[-1]
    assert rows(path, "SELECT * FROM fills WHERE symbol = ? AND match_seq = ?", trade[1], trade[2]) == [
        trade[1:]
    ]
    # an order for a symbol no book trades: its broker's reject, with that broker's index
    bad = next(o for o in run.orders if o[2] == UNKNOWN_SYMBOL)
    assert (UNKNOWN_GOES_TO, (REJECT, bad[0], UNKNOWN)) in run.events
    assert rows(path, "SELECT event, detail, broker FROM results WHERE order_id = ?", bad[0]) == [
        ("REJECT", UNKNOWN, UNKNOWN_GOES_TO)
    ]
    for answering in (0, 1):
        ack = next(e for b, e in run.events if e[0] == ACK and b == answering)
        assert rows(
            path, "SELECT event, detail, broker FROM results WHERE order_id = ? AND event = 'ACK'", ack[1]
        ) == [("ACK", None, answering)]
    assert rows(path, "SELECT DISTINCT broker FROM results ORDER BY 1") == [(0,), (1,)]
    # arrival sequence: 1..n per symbol, in id order
    for sym in (*SYMBOLS, UNKNOWN_SYMBOL):
        seqs = [s for (s,) in rows(path, "SELECT seq FROM orders WHERE symbol = ? ORDER BY id", sym)]
        assert seqs == list(range(1, len(seqs) + 1))
    config = rows(path, "SELECT value FROM run WHERE key = 'config'")[0][0]
    assert '"seed": 11' in config and '"AAPL"' in config
    assert not os.path.exists(f"{path}-wal")  # stopped cleanly: one self-contained file
    stats = run.journal.stats()
    assert stats.committed_rows == len(run.orders) + len(run.events)
    assert stats.dropped_rows == stats.bad_rows == stats.queued_rows == 0


def test_a_batch_is_committed_within_the_commit_interval_while_the_run_goes_on(bus, tmp_path):
    path = tmp_path / "live.db"
    journal = started(bus, path, commit_interval=0.05)
    run = Run(journal)
    run.step(10)
    deadline_wait(lambda: journal.committed_batches >= 2, 2.0, "the first batches committed")
    # readable by another connection while the writer still holds the journal open
    assert rows(str(path), "SELECT count(*) FROM orders") == [(len(run.orders),)]
    bus.exit()


def test_an_answer_delivered_twice_is_stored_once(bus, tmp_path):
    path = tmp_path / "twice.db"
    journal = started(bus, path)
    run = Run(journal)
    run.step(200)
    again = np.concatenate(run.batches)
    journal.record_events(0, again)  # a restarted broker answers re-sent orders again
    bus.exit()
    assert rows(str(path), "SELECT count(*) FROM fills") == [(len(run.trades),)]
    assert rows(str(path), "SELECT count(*) FROM results") == [(len(run.events) - len(run.trades),)]
    assert replay(str(path)).identical


def test_malformed_orders_and_events_are_skipped_counted_and_logged(bus, tmp_path, caplog):
    path = tmp_path / "bad.db"
    journal = started(bus, path)
    caplog.set_level(logging.WARNING, logger="journal")
    good = (1, 0, "AAPL", 1, 0, 0, 100, 10, 0)
    bad_type, bad_tif = (2, 0, "AAPL", 1, 9, 0, 100, 10, 0), (3, 0, "AAPL", 1, 0, 7, 100, 10, 0)
    journal.record_orders(records(good, bad_type, bad_tif, (4, 0, "AAPL", -1, 0, 0, 100, 10, 0)), 0)
    journal.record_orders(np.zeros((2, wire.ORDER_WIDTH - 1), np.int64), 0)  # not order records
    journal.record_orders(records((5, 0, "AAPL", 1, 0, 0, 100, 10, 0)).astype(float), 0)
    journal.record_events(0, event_records((ACK, 1), (99, 2), (ACK, 4)))  # 99: no event kind
    journal.record_events(0, np.zeros((3, wire.EVENT_WIDTH - 1), np.int64))  # not event records
    # the writer goes on after garbage: what follows is journalled
    journal.record_orders(records((6, 0, "AAPL", -1, 0, 0, 101, 5, 0)), 0)
    journal.record_events(1, event_records((ACK, 6)))
    bus.exit()
    assert journal.failed is None
    assert journal.stats().bad_rows == 2 + 2 + 1 + 1 + 3
    # a skipped order takes no arrival number
    assert rows(str(path), "SELECT id, seq FROM orders ORDER BY id") == [(1, 1), (4, 2), (6, 3)]
    assert rows(str(path), "SELECT order_id, event, broker FROM results ORDER BY 1") == [
        (1, "ACK", 0),
        (4, "ACK", 0),
        (6, "ACK", 1),
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "journal"]
    assert any("malformed rows" in m for m in logged)
    assert any("batch of orders that is not int64 records of 9" in m for m in logged)
    assert any("batch of events that is not int64 records of 7" in m for m in logged)


def test_stop_is_idempotent_and_a_new_run_replaces_an_old_journal(bus, tmp_path):
    path = tmp_path / "again.db"
    journal = started(bus, path)
    Run(journal).step(300)
    bus.exit()
    journal.stop()
    bus.exit()  # re-runs every stop listener
    assert journal.failed is None and rows(str(path), "SELECT count(*) FROM orders")[0][0] >= 300

    assert check_path(str(path)) is None  # an old journal may be replaced
    bus2 = new_bus("test-journal-2")
    try:
        journal2 = started(bus2, path)
        Run(journal2, seed=99).step(5)
    finally:
        bus2.exit()
    assert journal2.failed is None
    assert rows(str(path), "SELECT count(*) FROM orders")[0][0] < 300


# -- replay --------------------------------------------------------------------------------


def test_replay_of_a_finished_run_is_identical(journalled_run, capsys):
    path, run = journalled_run
    result = replay(path)
    assert result.identical and result.first_difference is None
    assert result.complete
    assert result.orders == len(run.orders)
    assert result.fills_expected == result.fills_got == len(run.trades)
    assert result.fills_beyond == 0
    assert result.digest == run.ledger.fills_digest()
    assert replay_main([path]) == 0
    assert "identical" in capsys.readouterr().out


def test_replay_names_the_first_difference_of_a_corrupted_fill(journalled_run, capsys):
    path, run = journalled_run
    _t, symbol, seq, buy, sell, price, qty = run.trades[len(run.trades) // 2]
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "UPDATE fills SET sell_id = sell_id + 1 WHERE symbol = ? AND match_seq = ?", (symbol, seq)
        )
    con.close()
    result = replay(path)
    assert not result.identical
    assert result.first_difference == (
        f"{symbol} match {seq}: journal {seq},{buy},{sell + 1},{price},{qty} "
        f"vs replay {seq},{buy},{sell},{price},{qty}"
    )
    assert replay_main([path]) == 1
    out = capsys.readouterr().out
    assert f"DIFFERENT: {symbol} match {seq}" in out


def test_replay_of_a_finished_run_missing_its_last_fills_is_a_difference(journalled_run):
    path, _run = journalled_run
    con = sqlite3.connect(path)
    with con:
        symbol, top = con.execute(
            "SELECT symbol, max(match_seq) FROM fills GROUP BY symbol ORDER BY symbol LIMIT 1"
        ).fetchone()
        con.execute("DELETE FROM fills WHERE symbol = ? AND match_seq > ?", (symbol, top - 3))
    con.close()
    result = replay(path)
    assert not result.identical
    assert result.first_difference == f"journal has {top - 3:,} fills of {symbol}, replay {top:,}"


def test_replay_of_an_unfinished_journal_compares_its_fills_as_a_prefix(journalled_run):
    path, _run = journalled_run
    con = sqlite3.connect(path)
    with con:  # as after kill -9: no report, the last fills of a symbol not committed
        con.execute("DELETE FROM run WHERE key = 'report'")
        symbol, top = con.execute("SELECT symbol, max(match_seq) FROM fills LIMIT 1").fetchone()
        con.execute("DELETE FROM fills WHERE symbol = ? AND match_seq > ?", (symbol, top - 3))
    con.close()
    result = replay(path)
    assert result.identical, result.first_difference
    assert not result.complete
    assert result.fills_beyond == 3
    assert result.fills_got == result.fills_expected + 3


def test_replay_of_a_missing_file_or_a_non_journal_exits_2(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.close()
    for path, why in (
        (tmp_path / "none.db", "no such file"),
        (text, "not a journal"),
        (other, "not a journal"),
        (tmp_path, "is a directory"),
    ):
        with pytest.raises(JournalError, match=why):
            replay(str(path))
        assert replay_main([str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err
    with pytest.raises(JournalError, match="no such file"):
        open_journal(str(tmp_path / "none.db"))


# -- paths and failures ----------------------------------------------------------------------


def test_check_path_explains_paths_that_cannot_be_journals(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "notes.txt").write_text("not a database\n")
    con = sqlite3.connect(tmp_path / "app.db")
    con.execute("CREATE TABLE t(x)")
    con.close()
    assert check_path(str(tmp_path / "new.db")) is None
    assert Journal.check_path(str(tmp_path / "new.db")) is None
    assert "directory" in check_path(str(tmp_path / "missing" / "x.db")) and "does not exist" in (
        check_path(str(tmp_path / "missing" / "x.db"))
    )
    assert check_path(str(tmp_path / "file" / "x.db")).endswith(f"{tmp_path / 'file'} is not a directory")
    assert check_path(str(tmp_path)).endswith("is a directory")
    assert "is not a SQLite database" in check_path(str(tmp_path / "notes.txt"))
    assert "not a journal" in check_path(str(tmp_path / "app.db"))
    assert check_path("") is not None


@pytest.mark.parametrize("where", ["missing/x.db", "file/x.db", "notes.txt"])
def test_a_path_that_cannot_be_a_journal_fails_at_start_without_killing_the_bus(bus, tmp_path, where):
    (tmp_path / "file").write_text("x")
    (tmp_path / "notes.txt").write_text("keep me\n")
    journal = started(bus, tmp_path / where)
    assert bus.state == states.STARTED  # start did not raise (wspbus would have exited)
    assert journal.failed is not None and journal.failed.startswith("journal: ")
    assert "\n" not in journal.failed
    t0 = time.monotonic()
    Run(journal).step(500)
    assert time.monotonic() - t0 < 5
    assert journal.dropped_rows > 500
    bus.exit()
    with pytest.raises(JournalError):
        journal.write_report({})
    assert (tmp_path / "notes.txt").read_text() == "keep me\n"


def test_a_write_failure_during_the_run_fails_the_journal_and_the_hooks_stay_prompt(bus, tmp_path):
    path = tmp_path / "fail.db"
    journal = started(bus, path)
    run = Run(journal)
    run.step(50)
    deadline_wait(lambda: journal.committed_batches >= 2, 10.0, "the first batches committed")
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TRIGGER no_more BEFORE INSERT ON orders BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    con.commit()
    con.close()
    run.step(50)
    deadline_wait(lambda: journal.failed is not None, 10.0, "the journal to fail")
    assert journal.failed.startswith("journal write failed:") and "disk on fire" in journal.failed
    t0 = time.monotonic()
    for _ in range(200):
        run.step(50)
    assert time.monotonic() - t0 < 10  # the book work, not waiting for a journal
    assert journal.dropped_rows > 200 * 50
    t0 = time.monotonic()
    bus.exit()
    assert time.monotonic() - t0 < 2


def test_a_writer_that_falls_behind_fails_the_journal_instead_of_blocking(bus, tmp_path):
    path = tmp_path / "slow.db"
    journal = started(bus, path, max_rows=100, put_timeout=0.2, commit_interval=0.01)
    run = Run(journal)
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the lock: the journal's commits wait
    try:
        t0 = time.monotonic()
        for _ in range(50):
            run.step(20)
        assert time.monotonic() - t0 < 5
        assert journal.stats().queue_waits >= 1
        assert journal.failed is not None and "fell behind" in journal.failed
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    bus.exit()
    assert journal.dropped_rows > 0
