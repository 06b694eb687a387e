"""The kill switch in the journal: where its CANCEL_ALL sits among the orders, journalled, and
replayed to the same cancels."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from simulator.journal_expand import expanded_copy
from simulator.journal_file import KILL, open_journal
from simulator.kill_switch import Kill, behind, placed_after
from simulator.orders import Event
from simulator.outside_ids import SOURCES, YOU
from simulator.replay import replay
from simulator.risk import ALL_ACCOUNTS
from tests.unit.journal_run import CANCEL, Run, a_bus, rows, started

bus = pytest.fixture(a_bus, name="bus")
YOU1, YOU2 = SOURCES[YOU] + 1, SOURCES[YOU] + 2


def test_a_cancel_all_goes_behind_exactly_the_orders_placed_before_the_switch():
    # placement order: flow 7, your 1st, flow 8 | switch (flow up to 8, yours up to 1) | your 2nd, flow 9
    pending = np.array([7, YOU1, 8, YOU2, 9])
    assert behind(pending, 8, YOU1) == 3
    assert behind(pending, 9, YOU2) == 5  # all were placed before
    assert behind(pending, 6, 0) == 0
    kill = Kill(8, YOU1, ALL_ACCOUNTS)
    assert [placed_after(oid, kill) for oid in pending] == [False, False, False, True, True]


def kill_switch_run(bus, tmp_path):
    path = tmp_path / "kill.db"
    run = Run(started(bus, path))
    for i in range(10):
        run.step(100, t_ns=i)
    run.kill_switch(3)
    for i in range(10, 20):
        run.step(100, t_ns=i)
    run.kill_switch(-1)
    run.step(100, t_ns=20)
    bus.exit()
    run.journal.write_report(run.report())
    return str(path), run


def cancelled_by_switch(run: Run) -> list[tuple]:
    """The CANCELLED events no CANCEL order asked for: the kill switch's."""
    asked = {o[-1] for o in run.orders if o[4] == CANCEL}
    return [e for _b, e in run.events if e[0] == Event.CANCELLED and e[1] not in asked]


def test_a_journalled_kill_switch_replays_to_the_same_cancels(bus, tmp_path):
    path, run = kill_switch_run(bus, tmp_path)
    assert len(cancelled_by_switch(run)) > 10, "the switch cancelled nothing: the test shows nothing"
    assert rows(path, "SELECT count(*) FROM batches WHERE kind = ?", KILL) == [(2,)]
    journal = open_journal(path)
    try:
        kills = expanded_copy(journal).execute(
            "SELECT account, flow_upto, you_upto FROM kills WHERE NOT released ORDER BY seq"
        )
        assert kills.fetchall() == run.kills and [k[0] for k in run.kills] == [3, -1]
    finally:
        journal.close()
    result = replay(path)
    assert result.identical, result.first_difference
    answers = [e for _b, e in run.events if e[0] not in (Event.TRADE, Event.SHOWN)]
    assert result.results_got == result.results_expected == len(answers)


def test_a_journal_without_its_kill_switch_rows_replays_as_a_difference(bus, tmp_path):
    path, _run = kill_switch_run(bus, tmp_path)
    con = sqlite3.connect(path)
    con.execute("DELETE FROM batches WHERE kind = ?", (KILL,))
    con.commit()
    con.close()
    result = replay(path)
    assert not result.identical and result.first_difference
