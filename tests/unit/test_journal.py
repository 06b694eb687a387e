"""Tests for simulator.journal, simulator.journal_file and simulator.journal_expand: a real bus, a
real SQLite file, the brokers' matching in-process (``journal_run``). Replays: test_replay.py."""

from __future__ import annotations

import logging
import os
import sqlite3
import time

import numpy as np
import pytest
from journal_run import (
    ACK,
    CANCEL,
    REJECT,
    SYMBOLS,
    TRADE,
    UNKNOWN,
    UNKNOWN_GOES_TO,
    Run,
    a_bus,
    a_journalled_run,
    event_records,
    records,
    rows,
    started,
)

from simulator import journal_file, wire
from simulator.bus import new_bus, states
from simulator.flow import UNKNOWN_SYMBOL
from simulator.journal import Journal
from simulator.journal_expand import main as journal_main
from simulator.journal_file import EVENTS, ORDERS, RESTART, STOP, JournalError, check_path, create_journal
from simulator.orders import OrderType
from simulator.replay import main as replay_main
from simulator.replay import replay
from simulator.testing.journals import expanded_rows
from simulator.testing.waiting import deadline_wait

pytestmark = pytest.mark.timeout(60)

bus = pytest.fixture(a_bus, name="bus")
journalled_run = pytest.fixture(a_journalled_run, name="journalled_run")

# -- writing -------------------------------------------------------------------------------


def test_every_batch_is_stored_as_its_exact_bytes_one_row_per_batch_in_order(journalled_run):
    path, run = journalled_run
    assert run.journal.failed is None
    stored = rows(path, "SELECT kind, broker, records, data FROM batches ORDER BY id")
    assert [(k, b) for k, b, _n, _d in stored[:-1]].count((ORDERS, None)) == len(run.order_batches) == 40
    orders = [(n, d) for k, _b, n, d in stored if k == ORDERS]
    assert orders == [(len(a), a.tobytes()) for a in run.order_batches]
    events = [(b, n, d) for k, b, n, d in stored if k == EVENTS]
    assert events == [(b, len(a), a.tobytes()) for b, a in zip(run.batch_brokers, run.batches, strict=True)]
    assert stored[-1][0] == STOP  # the last row: the bank stopped, nothing is missing behind it
    # each batch's events come after the orders they answer
    kinds = [k for k, *_ in stored]
    assert kinds[0] == ORDERS and kinds[1] == EVENTS
    config = rows(path, "SELECT value FROM run WHERE key = 'config'")[0][0]
    assert '"seed": 11' in config and '"AAPL"' in config
    assert not os.path.exists(f"{path}-journal")  # stopped cleanly: one self-contained file
    stats = run.journal.stats()
    assert stats.committed_rows == len(run.orders) + len(run.events)
    assert stats.committed_batches == len(stored)
    assert stats.committed_bytes == sum(a.nbytes for a in (*run.order_batches, *run.batches))
    assert stats.dropped_rows == stats.bad_rows == stats.queued_rows == 0


def test_the_expanded_tables_hold_every_order_fill_and_result(journalled_run):
    path, run = journalled_run
    assert expanded_rows(path, "SELECT count(*) FROM orders") == [(len(run.orders),)]
    assert expanded_rows(path, "SELECT count(*) FROM fills") == [(len(run.trades),)]
    answers = [(b, e) for b, e in run.events if e[0] != TRADE]
    assert expanded_rows(path, "SELECT count(*) FROM results") == [(len(answers),)]
    assert len(run.trades) > 100 and any(o[4] == CANCEL for o in run.orders)

    oid, account, symbol, side, otype, tif, price, qty, _target = run.orders[0]
    assert expanded_rows(path, "SELECT * FROM orders WHERE id = ?", oid) == [
        (oid, 1, account, symbol, side, OrderType(otype).name, ["DAY", "IOC"][tif], price, qty, None, 1_000)
    ]
    cancel = next(o for o in run.orders if o[4] == CANCEL)
    assert expanded_rows(
        path, "SELECT side, type, price, qty, target FROM orders WHERE id = ?", cancel[0]
    ) == [(0, "CANCEL", 0, 0, cancel[8])]
    trade = run.trades[-1]
    assert expanded_rows(
        path, "SELECT * FROM fills WHERE symbol = ? AND match_seq = ?", trade[1], trade[2]
    ) == [trade[1:]]
    # an order for a symbol no book trades: its broker's reject, with that broker's index
    bad = next(o for o in run.orders if o[2] == UNKNOWN_SYMBOL)
    assert (UNKNOWN_GOES_TO, (REJECT, bad[0], UNKNOWN)) in run.events
    assert expanded_rows(path, "SELECT event, detail, broker FROM results WHERE order_id = ?", bad[0]) == [
        ("REJECT", UNKNOWN, UNKNOWN_GOES_TO)
    ]
    for answering in (0, 1):
        ack = next(e for b, e in run.events if e[0] == ACK and b == answering)
        assert expanded_rows(
            path, "SELECT event, detail, broker FROM results WHERE order_id = ? AND event = 'ACK'", ack[1]
        ) == [("ACK", None, answering)]
    assert expanded_rows(path, "SELECT DISTINCT broker FROM results ORDER BY 1") == [(0,), (1,)]
    # arrival sequence: 1..n per symbol, in id order
    for sym in (*SYMBOLS, UNKNOWN_SYMBOL):
        seqs = [s for (s,) in expanded_rows(path, "SELECT seq FROM orders WHERE symbol = ? ORDER BY id", sym)]
        assert seqs == list(range(1, len(seqs) + 1))


def test_journal_expand_adds_the_tables_to_the_journal_for_sql(journalled_run, capsys):
    path, run = journalled_run
    assert journal_main(["expand", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"expanded {path}: {len(run.orders):,} orders, {len(run.trades):,} fills, ")
    assert rows(path, "SELECT count(*) FROM orders") == [(len(run.orders),)]
    assert rows(path, "SELECT count(*) FROM fills") == [(len(run.trades),)]
    assert rows(path, "SELECT * FROM orders ORDER BY id LIMIT 3") == expanded_rows(
        path, "SELECT * FROM orders ORDER BY id LIMIT 3"
    )
    assert journal_main(["expand", path]) == 0  # again: the tables are replaced, not doubled
    assert rows(path, "SELECT count(*) FROM fills") == [(len(run.trades),)]
    assert '"batches": ' in rows(path, "SELECT value FROM run WHERE key = 'expanded'")[0][0]
    assert replay(path).identical  # the replay reads the batches, and an expanded journal is one


def test_journal_expand_refuses_what_is_not_a_journal_in_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello\n")
    for argv, why in (
        (["expand", str(tmp_path / "none.db")], "no such file"),
        (["expand", str(tmp_path / "notes.txt")], "not a journal"),
        (["expand"], "required: PATH"),
        (["shrink", "x.db"], "invalid choice: 'shrink'"),
        ([], "required: COMMAND"),
    ):
        assert journal_main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err, err


@pytest.mark.parametrize("version", [1, 2])
def test_a_journal_of_an_older_format_is_refused_in_one_line(tmp_path, capsys, version):
    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.execute(f"PRAGMA application_id = {journal_file.APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {version}")
    con.executescript(
        "CREATE TABLE orders(id); CREATE TABLE fills(x); CREATE TABLE results(x); CREATE TABLE run(k);"
    )
    con.close()
    with pytest.raises(JournalError, match=f"a journal of format {version} .* this version reads format 3"):
        journal_file.open_journal(str(old))
    for main, argv in ((journal_main, ["expand", str(old)]), (replay_main, [str(old)])):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"a journal of format {version}" in err, err
    assert check_path(str(old)) is None  # a new run may replace it


def test_a_restart_and_the_stop_are_marked_among_the_batches(bus, tmp_path):
    path = tmp_path / "marks.db"
    journal = started(bus, path)
    run = Run(journal)
    run.step(50)
    bus.publish("restarted", 1, np.zeros((7, wire.ORDER_WIDTH), np.int64))
    run.step(50)
    bus.exit()
    marks = rows(
        str(path), "SELECT kind, broker, records, data FROM batches WHERE kind IN (?, ?)", RESTART, STOP
    )
    assert marks == [(RESTART, 1, 7, None), (STOP, None, 0, None)]
    kinds = [k for (k,) in rows(str(path), "SELECT kind FROM batches ORDER BY id")]
    assert kinds.index(RESTART) > kinds.index(EVENTS) and kinds[-1] == STOP
    assert replay(str(path)).identical


def test_a_batch_is_committed_within_the_commit_interval_while_the_run_goes_on(bus, tmp_path):
    path = tmp_path / "live.db"
    journal = started(bus, path, commit_interval=0.05)
    run = Run(journal)
    run.step(10)
    deadline_wait(lambda: journal.committed_batches >= 2, 2.0, "the first batches committed")
    # readable by another connection while the writer still holds the journal open
    assert rows(str(path), "SELECT sum(records) FROM batches WHERE kind = ?", ORDERS) == [(len(run.orders),)]
    assert expanded_rows(path, "SELECT count(*) FROM orders") == [(len(run.orders),)]
    bus.exit()


def test_an_answer_delivered_twice_is_stored_once(bus, tmp_path):
    path = tmp_path / "twice.db"
    journal = started(bus, path)
    run = Run(journal)
    run.step(200)
    again = np.concatenate(run.batches)
    journal.record_events(0, again)  # a restarted broker answers re-sent orders again
    bus.exit()
    assert expanded_rows(path, "SELECT count(*) FROM fills") == [(len(run.trades),)]
    assert expanded_rows(path, "SELECT count(*) FROM results") == [(len(run.events) - len(run.trades),)]
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
    # a view with strides is stored as its records, not as the memory under it
    journal.record_orders(records(*[(i, 0, "MSFT", 1, 0, 0, 100, 1, 0) for i in (7, 0, 8, 0)])[::2], 0)
    bus.exit()
    assert journal.failed is None
    # the writer skips what is not whole int64 records: 2 + 1 + 3
    assert journal.stats().bad_rows == 6
    # the rest is stored as it crossed the wire; the expansion skips records naming no code
    assert rows(str(path), "SELECT kind, records FROM batches WHERE kind IN (0, 1) ORDER BY id") == [
        (ORDERS, 4),
        (EVENTS, 3),
        (ORDERS, 1),
        (EVENTS, 1),
        (ORDERS, 2),
    ]
    # a skipped order takes no arrival number
    assert expanded_rows(path, "SELECT id, seq FROM orders WHERE symbol = 'AAPL' ORDER BY id") == [
        (1, 1),
        (4, 2),
        (6, 3),
    ]
    assert expanded_rows(path, "SELECT id FROM orders WHERE symbol = 'MSFT'") == [(7,), (8,)]
    assert expanded_rows(path, "SELECT order_id, event, broker FROM results ORDER BY 1") == [
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
    assert journal.failed is None and expanded_rows(path, "SELECT count(*) FROM orders")[0][0] >= 300

    assert check_path(str(path)) is None  # an old journal may be replaced
    bus2 = new_bus("test-journal-2")
    try:
        journal2 = started(bus2, path)
        Run(journal2, seed=99).step(5)
    finally:
        bus2.exit()
    assert journal2.failed is None
    assert expanded_rows(path, "SELECT count(*) FROM orders")[0][0] < 300


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


def test_check_path_refuses_symlinks_memory_and_names_too_long_in_one_line(tmp_path, bus):
    journal = tmp_path / "old.db"
    started(bus, journal)
    bus.exit()
    (tmp_path / "dangling.db").symlink_to(tmp_path / "target.db")
    (tmp_path / "link.db").symlink_to(journal)
    reasons = {
        "dangling": check_path(str(tmp_path / "dangling.db")),
        "link": check_path(str(tmp_path / "link.db")),
        "memory": check_path(":memory:"),
        "name": check_path(str(tmp_path / ("x" * 300))),
        "name+suffix": check_path(str(tmp_path / ("x" * 250))),
        "directory": check_path(str(tmp_path / ("d" * 300) / "run.db")),
    }
    assert "dangling symbolic link" in reasons["dangling"] and "target.db" in reasons["dangling"]
    assert "is a symbolic link" in reasons["link"]
    assert "in memory, not a file" in reasons["memory"]
    assert "300 bytes, at most 247 fit" in reasons["name"]
    assert "250 bytes, at most 247 fit" in reasons["name+suffix"]
    assert "a directory name in it is longer than 255 bytes" in reasons["directory"]
    assert all(r is not None and "\n" not in r for r in reasons.values()), reasons
    assert check_path(str(tmp_path / ("x" * 247))) is None
    assert check_path("./:memory:") is None  # a file of that name is fine
    assert not (tmp_path / "target.db").exists()
    with pytest.raises(JournalError, match="dangling symbolic link"):
        create_journal(str(tmp_path / "dangling.db"), {})
    assert not (tmp_path / "target.db").exists()


def test_a_journal_is_created_under_its_own_name_even_when_it_reads_as_a_uri(tmp_path, monkeypatch, bus):
    # this SQLite reads "file:..." as a URI: that must not open, or replace, some other file
    monkeypatch.chdir(tmp_path)
    other = sqlite3.connect("x.db")
    other.execute("CREATE TABLE precious(x)")
    other.close()
    for name in ("file:x.db?mode=rwc", "a?b#c%d.db"):
        journal = started(new_bus("uri"), name)
        Run(journal).step(50)
        journal.bus.exit()
        journal.write_report({"fills": {}})
        assert journal.failed is None, journal.failed
        con = journal_file.open_journal(name)
        assert con.execute("SELECT key FROM run ORDER BY key").fetchall() == [
            ("config",),
            ("format",),
            ("report",),
        ]
        con.close()
        assert replay(name).identical
    assert rows("x.db", "SELECT name FROM sqlite_master") == [("precious",)]
    assert sorted(os.listdir(tmp_path)) == ["a?b#c%d.db", "file:x.db?mode=rwc", "x.db"]


def test_a_journal_that_cannot_be_made_leaves_no_file_behind(tmp_path, monkeypatch):
    # a name that fits but whose -journal file would not (check_path refuses it up front)
    path = str(tmp_path / ("y" * 250))
    monkeypatch.setattr(journal_file, "check_path", lambda _path: None)
    with pytest.raises(JournalError, match="cannot create"):
        create_journal(path, {})
    assert os.listdir(tmp_path) == []


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
        "CREATE TRIGGER no_more BEFORE INSERT ON batches BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
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
