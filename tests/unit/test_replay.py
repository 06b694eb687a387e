"""Tests for simulator.replay: journals made in-process (``journal_run``: a real bus, a real
SQLite file, the brokers' matching), then their batches changed as a disk, a bug or a person
could change them (``simulator.testing.journals``). A replay must find every change and name
the first; a journal that holds only a prefix of its run must replay as one."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3

import pytest
from journal_run import SYMBOL_IDS, TRADE, Run, a_bus, a_journalled_run, started

from simulator.journal_file import EVENTS, ORDERS, JournalError, open_journal
from simulator.orders import Event, RejectReason
from simulator.replay import ReplayInterrupted, partial_reason, replay
from simulator.replay import main as replay_main
from simulator.testing.journals import edit_batches, expanded_rows
from simulator.testing.waiting import deadline_wait

pytestmark = pytest.mark.timeout(60)

bus = pytest.fixture(a_bus, name="bus")
journalled_run = pytest.fixture(a_journalled_run, name="journalled_run")


def sql(path, statement, *args):
    """Run one statement on the journal, committed; its rows."""
    con = sqlite3.connect(path)
    try:
        with con:
            return con.execute(statement, args).fetchall()
    finally:
        con.close()


def a_result(path, event, which=0.5):
    """(order id, detail, symbol) of a journalled result of kind ``event``, ``which`` of the
    way through the journal."""
    rows = expanded_rows(
        path,
        "SELECT r.order_id, r.detail, o.symbol FROM results r JOIN orders o ON o.id = r.order_id "
        "WHERE r.event = ? ORDER BY r.order_id",
        event,
    )
    assert rows, f"no {event} journalled"
    return rows[int(len(rows) * which)]


CODE = {e.name: int(e) for e in Event}


def edit_events(path, change):
    """``change(record)`` for every journalled event record: it may change the record in place."""

    def edit(batches):
        for b in batches:
            if b.kind == EVENTS:
                for r in b.records:
                    change(r)

    edit_batches(path, edit)


def drop_events(path, which):
    """Delete every journalled event record for which ``which(record)`` is true."""

    def edit(batches):
        for b in batches:
            if b.kind == EVENTS:
                b.records[:] = [r for r in b.records if not which(r)]

    edit_batches(path, edit)


def is_result(record, event, oid) -> bool:
    return record[0] == CODE[event] and record[1] == oid


def is_fill(record, symbol, match_seq) -> bool:
    return record[0] == TRADE and record[1] == SYMBOL_IDS[symbol] and record[2] == match_seq


def add_result(path, beside_oid, record):
    """Journal an event ``record`` more, in the batch that holds the first answer to order
    ``beside_oid`` (so it is among that broker's events)."""

    def edit(batches):
        for b in batches:
            if b.kind == EVENTS and any(r[0] != TRADE and r[1] == beside_oid for r in b.records):
                b.records.append(list(record) + [0] * (7 - len(record)))
                return
        raise AssertionError(f"no answer to order {beside_oid}")

    edit_batches(path, edit)


# -- a finished run --------------------------------------------------------------------------


def test_replay_of_a_finished_run_is_identical(journalled_run, capsys):
    path, run = journalled_run
    result = replay(path)
    assert result.identical and result.first_difference is None
    assert result.complete and result.partial is None
    assert result.orders == len(run.orders)
    assert result.fills_expected == result.fills_got == len(run.trades)
    answers = [e for _b, e in run.events if e[0] != TRADE]
    assert result.results_expected == result.results_got == len(answers)
    assert result.fills_beyond == result.results_beyond == 0
    assert result.digest == run.ledger.fills_digest()
    assert replay_main([path]) == 0
    out = capsys.readouterr().out
    assert "(run complete)" in out and "identical: every journalled fill and result" in out


def test_replay_names_the_first_difference_of_a_corrupted_fill(journalled_run, capsys):
    path, run = journalled_run
    _t, symbol, seq, buy, sell, price, qty = run.trades[len(run.trades) // 2]
    edit_events(path, lambda r: is_fill(r, symbol, seq) and r.__setitem__(4, r[4] + 1))
    result = replay(path)
    assert not result.identical
    assert result.first_difference == (
        f"{symbol} match {seq}: journal {seq},{buy},{sell + 1},{price},{qty} "
        f"vs replay {seq},{buy},{sell},{price},{qty}"
    )
    assert replay_main([path]) == 1
    assert f"DIFFERENT: {symbol} match {seq}" in capsys.readouterr().out


def test_replay_of_a_finished_run_missing_its_last_fills_is_a_difference(journalled_run):
    path, _run = journalled_run
    symbol, top = expanded_rows(
        path, "SELECT symbol, max(match_seq) FROM fills GROUP BY symbol ORDER BY symbol LIMIT 1"
    )[0]
    drop_events(path, lambda r: r[0] == TRADE and r[1] == SYMBOL_IDS[symbol] and r[2] > top - 3)
    result = replay(path)
    assert not result.identical
    assert result.first_difference == f"journal has {top - 3:,} fills of {symbol}, replay {top:,}"


@pytest.mark.parametrize("event", ["ACK", "REJECT", "CANCELLED", "CANCEL_DONE"])
def test_a_deleted_result_is_a_difference_that_names_its_order(journalled_run, event):
    path, _run = journalled_run
    oid, _detail, symbol = a_result(path, event)
    drop_events(path, lambda r: is_result(r, event, oid))
    result = replay(path)
    assert not result.identical
    assert result.first_difference.startswith(f"{symbol} order {oid}: the replay made {event}")


def test_a_changed_reject_reason_leaves_or_cancel_target_is_a_difference(journalled_run):
    path, _run = journalled_run
    oid, reason, symbol = a_result(path, "REJECT")
    other = next(r for r in RejectReason if r != reason)
    edit_events(path, lambda r: is_result(r, "REJECT", oid) and r.__setitem__(2, int(other)))
    assert replay(path).first_difference == (
        f"{symbol} order {oid}: journal REJECT {other.name} vs replay REJECT {RejectReason(reason).name}"
    )
    edit_events(path, lambda r: is_result(r, "REJECT", oid) and r.__setitem__(2, reason))
    assert replay(path).identical

    oid, leaves, symbol = a_result(path, "CANCELLED", 0.2)
    edit_events(path, lambda r: is_result(r, "CANCELLED", oid) and r.__setitem__(2, r[2] + 1))
    assert replay(path).first_difference == (
        f"{symbol} order {oid}: journal CANCELLED leaves {leaves + 1} vs replay CANCELLED leaves {leaves}"
    )
    edit_events(path, lambda r: is_result(r, "CANCELLED", oid) and r.__setitem__(2, r[2] - 1))

    oid, target, symbol = a_result(path, "CANCEL_DONE", 0.7)
    edit_events(path, lambda r: is_result(r, "CANCEL_DONE", oid) and r.__setitem__(2, 1))
    assert replay(path).first_difference == (
        f"{symbol} order {oid}: journal CANCEL_DONE of order 1 vs replay CANCEL_DONE of order {target}"
    )


def test_a_result_the_replay_does_not_make_is_a_difference(journalled_run):
    path, _run = journalled_run
    rejected, _reason, symbol = a_result(path, "REJECT", 0.3)
    add_result(path, rejected, (CODE["ACK"], rejected))
    assert replay(path).first_difference == (
        f"{symbol} order {rejected}: the journal has ACK, the replay did not make it"
    )
    drop_events(path, lambda r: is_result(r, "ACK", rejected))
    # a CANCELLED waits for a cancel that never comes: named once the replay has seen them all
    add_result(path, rejected, (CODE["CANCELLED"], rejected, 5))
    assert replay(path).first_difference == (
        f"{symbol} order {rejected}: the journal has CANCELLED leaves 5, the replay did not make it"
    )
    drop_events(path, lambda r: is_result(r, "CANCELLED", rejected))
    add_result(path, rejected, (CODE["ACK"], 10**9))
    assert (
        replay(path).first_difference == f"order {10**9} is not among the journal's orders, but has its ACK"
    )


def test_orders_in_another_arrival_order_are_a_difference(journalled_run):
    path, _run = journalled_run
    (a, seq_a, symbol), (b, seq_b, _s) = expanded_rows(
        path, "SELECT id, seq, symbol FROM orders WHERE symbol = 'NVDA' ORDER BY id LIMIT 2 OFFSET 40"
    )

    def swap(batches):  # b reaches its book before a
        where = {r[0]: (x, i) for x in batches if x.kind == ORDERS for i, r in enumerate(x.records)}
        (xa, ia), (xb, ib) = where[a], where[b]
        xa.records[ia], xb.records[ib] = xb.records[ib], xa.records[ia]

    edit_batches(path, swap)
    result = replay(path)
    assert not result.identical
    assert result.first_difference == (
        f"{symbol} order {a}: arrival seq {seq_b}, but by its id arrival {seq_a}"
    )


def test_a_deleted_order_is_a_difference_even_with_its_results(journalled_run):
    path, _run = journalled_run
    rejected, _reason, _symbol = a_result(path, "REJECT", 0.4)  # no fill names it

    def delete(batches):
        for x in batches:
            x.records[:] = [r for r in x.records if r[0 if x.kind == ORDERS else 1] != rejected]

    edit_batches(path, delete)
    result = replay(path)
    assert not result.identical
    assert result.first_difference == (
        f"order {rejected} is missing: the journal's orders go from {rejected - 1} to {rejected + 1}"
    )


def test_a_complete_journal_holds_as_many_orders_as_its_report_says_were_placed(journalled_run):
    path, run = journalled_run
    report = run.report()
    report["orders"]["placed"] += 1
    run.journal.write_report(report)
    result = replay(path)
    assert not result.identical
    assert result.first_difference == (
        f"the report says {report['orders']['placed']:,} orders and "
        f"{report['cancel_requests']['sent']:,} cancels were placed; the journal has {len(run.orders):,}"
    )


# -- a journal that holds a prefix of its run ------------------------------------------------


def killed_run(bus, path) -> Run:
    """A run whose bank was killed: broker 1's answers to the second-last batch and every
    answer to the last one never reached the journal, and there is no final report."""
    run = Run(started(bus, path))
    for i in range(30):
        run.step(100, t_ns=i)
    run.step(100, journalled=(0,))
    run.step(100, journalled=())
    bus.exit()
    return run


def test_replay_of_an_unfinished_journal_compares_its_events_as_a_prefix(bus, tmp_path):
    path = str(tmp_path / "killed.db")
    run = killed_run(bus, path)
    result = replay(path)
    assert result.identical, result.first_difference
    assert not result.complete and result.partial == "no final report: the run did not finish"
    missing = [e for _b, e in run.unjournalled]
    assert result.fills_beyond == sum(1 for e in missing if e[0] == TRADE) > 0
    assert result.results_beyond == sum(1 for e in missing if e[0] != TRADE) > 0
    assert result.fills_got == result.fills_expected + result.fills_beyond


def test_a_gap_in_an_unfinished_journal_is_still_a_difference(bus, tmp_path):
    path = str(tmp_path / "killed.db")
    killed_run(bus, path)
    oid, _detail, symbol = a_result(path, "ACK", 0.5)
    drop_events(path, lambda r: is_result(r, "ACK", oid))
    result = replay(path)
    assert not result.identical
    assert result.first_difference.startswith(f"{symbol}: the journal has ")
    assert result.first_difference.endswith(f"but not the earlier ACK of order {oid}")


def test_the_journal_of_a_run_stopped_by_a_journal_write_failure_replays_as_partial(bus, tmp_path, capsys):
    path = str(tmp_path / "failed.db")
    journal = started(bus, path)
    run = Run(journal)
    for i in range(10):
        run.step(100, t_ns=i)
    deadline_wait(lambda: journal.committed_batches >= 20, 10.0, "the first batches committed")
    sql(path, "CREATE TRIGGER full BEFORE INSERT ON batches BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    for i in range(10):
        run.step(100, t_ns=i)
    deadline_wait(lambda: journal.failed is not None, 10.0, "the journal to fail")
    bus.exit()
    # as the bank writes it: its ledger saw every fill, the journal only those before the failure
    journal.write_report(run.report(**dataclasses.asdict(journal.stats())))
    result = replay(path)
    assert result.identical, result.first_difference
    assert not result.complete
    assert result.partial == f"the journal failed during the run: {journal.failed}"
    assert "disk full" in result.partial
    assert replay_main([path]) == 0
    out = capsys.readouterr().out
    assert "(partial: the journal failed during the run: journal write failed:" in out
    assert "(the journal is a prefix of the run)" in out


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        (None, "no final report: the run did not finish"),
        (
            {"journal": {"failed": "journal write failed: I/O"}},
            "the journal failed during the run: journal write failed: I/O",
        ),
        ({"journal": {"failed": None, "dropped_rows": 1200}}, "1,200 rows were not journalled"),
        ({"orders": {"lost": 3}, "cancel_requests": {"lost": 2}}, "the run lost 3 orders and 2 cancels"),
        ({"orders": {"lost": 0}, "journal": {"failed": None, "dropped_rows": 0}}, None),
    ],
)
def test_a_journal_is_partial_when_its_report_says_something_is_missing(report, reason):
    assert partial_reason(report) == reason


# -- stopping and refusing -------------------------------------------------------------------


def test_a_stop_asked_for_during_a_replay_interrupts_it(journalled_run):
    path, _run = journalled_run
    with pytest.raises(ReplayInterrupted):
        replay(path, should_stop=lambda: True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_noted_before_the_replay_ends_it_with_128_plus_its_number(journalled_run, capsys, sig):
    path, _run = journalled_run
    before = signal.getsignal(sig)
    assert replay_main([path], early_signals=[sig]) == 128 + sig
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"replay: stopped by {signal.Signals(sig).name}" in err
    assert signal.getsignal(sig) is before  # what it installed is gone again


@pytest.mark.timeout(10)  # it used to block for ever in open()
def test_a_fifo_or_a_device_is_refused_without_being_opened(tmp_path, capsys):
    fifo = tmp_path / "journal.fifo"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), ("/dev/null", "a character device")):
        with pytest.raises(JournalError, match=f"is {kind}, not a journal"):
            open_journal(str(path))
        assert replay_main([str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"is {kind}, not a journal" in err


def test_replay_of_a_missing_file_or_a_non_journal_exits_2(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    other = tmp_path / "other.db"
    sql(other, "CREATE TABLE t(x)")
    for path, why in (
        (tmp_path / "none.db", "no such file"),
        (text, "not a journal"),
        (other, "not a journal"),
        (tmp_path, "is a directory"),
        (tmp_path / ("x" * 300), "too long"),
    ):
        with pytest.raises(JournalError, match=why):
            replay(str(path))
        assert replay_main([str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err
    with pytest.raises(JournalError, match="no such file"):
        open_journal(str(tmp_path / "none.db"))


def test_a_usage_error_is_one_line_naming_what_is_wrong(capsys):
    for argv, why in (
        ([], "required: PATH"),
        (["a.db", "b.db"], "unrecognized arguments: b.db"),
        (["--pat", "x"], "--pat"),
    ):
        assert replay_main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("simulate.py replay: error: ") and why in err, err
