"""The journal in whole runs: it replays to the same fills, survives kill -9, refuses bad paths."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from simulator.flow import UNKNOWN_SYMBOL
from simulator.journal_file import EVENTS, ORDERS
from simulator.orders import Event, RejectReason
from simulator.testing.journals import edit_batches
from simulator.testing.procs import ROOT, SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FLOW = ("--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "21")


def replay(path, command: str = "replay") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "simulate.py"), *command.split(), str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_journalled_run_with_broker_kills_replays_to_the_same_fills(tmp_path):
    journal = tmp_path / "run.db"
    with SimProcess(
        *FLOW,
        "--orders",
        "30000",
        "--rate",
        "20000",
        "--kill-broker-every",
        "0.5",
        "--max-restarts",
        "20",
        "--invalid-ratio",
        "0.01",
        "--journal",
        str(journal),
        report=tmp_path / "run.json",
    ) as sim:
        assert sim.wait_exit(90) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["journal"]["failed"] is None and report["journal"]["dropped_rows"] == 0
    expanded = replay(journal, "journal expand")
    assert expanded.returncode == 0 and expanded.stdout.startswith(f"expanded {journal}: "), expanded
    with sqlite3.connect(journal) as db:
        # the restarts are marked among the batches, one row per restart
        assert db.execute("SELECT count(*) FROM batches WHERE kind = 2").fetchone()[0] >= 1
        assert db.execute("SELECT count(*) FROM fills").fetchone()[0] == report["fills"]["count"]
        assert db.execute("SELECT count(*) FROM orders").fetchone()[0] >= 30000
        # every answer is a broker's, journalled with its index: also the rejects of orders for
        # a symbol no book trades
        assert db.execute("SELECT DISTINCT broker FROM results ORDER BY 1").fetchall() == [(0,), (1,)]
        unknown = db.execute(
            "SELECT r.event, r.detail FROM orders o JOIN results r ON r.order_id = o.id WHERE o.symbol = ?",
            (UNKNOWN_SYMBOL,),
        ).fetchall()
        assert unknown and set(unknown) == {("REJECT", int(RejectReason.UNKNOWN_SYMBOL))}
    result = replay(journal)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical" in result.stdout


def test_a_tampered_journal_replays_with_its_first_difference(tmp_path):
    journal = tmp_path / "run.db"
    with SimProcess(*FLOW, "--orders", "5000", "--rate", "0", "--journal", str(journal)) as sim:
        assert sim.wait_exit(60) == 0, sim.output()
    with sqlite3.connect(journal) as db:
        msft = json.loads(db.execute("SELECT value FROM run WHERE key = 'config'").fetchone()[0])["symbols"]
    msft = msft.index("MSFT")  # its index in the records

    def tamper(batches):  # the qty of MSFT's 7th fill
        for b in batches:
            for r in b.records if b.kind == EVENTS else ():
                if r[0] == int(Event.TRADE) and r[1] == msft and r[2] == 7:
                    r[6] += 1
                    return
        raise AssertionError("no 7th fill of MSFT")

    edit_batches(journal, tamper)
    result = replay(journal)
    assert result.returncode == 1
    assert "DIFFERENT: MSFT match 7: " in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("rate", ["20000", "0"])  # 0: as fast as it goes, commits are large
def test_after_kill_9_of_the_bank_the_journal_opens_and_replays_its_prefix(tmp_path, rate):
    journal = tmp_path / "run.db"
    with SimProcess(*FLOW, "--rate", rate, "--journal", str(journal)) as sim:
        # at full speed each 50 ms commit holds thousands of orders; 100,000 is many of them,
        # and a journal its replay (the longest part here) reads in seconds
        sim.wait_placed_at_least(20000 if rate != "0" else 100_000)
        killed_ns = time.monotonic_ns()  # CLOCK_MONOTONIC: the bank's clock too
        sim.signal_bank(signal.SIGKILL)
        sim.wait_exit(10)
        assert not sim.wait_group_gone(3.0)
    with sqlite3.connect(journal) as db:  # a writer: it rolls back a commit the kill left unfinished
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        placed, newest = db.execute(
            "SELECT sum(records), max(t_ns) FROM batches WHERE kind = ?", (ORDERS,)
        ).fetchone()
        assert db.execute("SELECT count(*) FROM batches WHERE kind = 3").fetchone() == (0,)  # no stop mark
    assert placed >= 20000
    # commits come every 50 ms: what was placed up to a little before the kill is there (the
    # bound here leaves room for a loaded machine)
    assert 0 <= (killed_ns - newest) / 1e9 < 0.5, (killed_ns - newest) / 1e9
    result = replay(journal)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(partial: no final report: the run did not finish)" in result.stdout


def test_an_unwritable_journal_path_is_a_usage_error_before_any_process_starts(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with SimProcess("--journal", str(blocker / "run.db")) as sim:
        assert sim.wait_exit(30) == 2
        err = "".join(sim.stderr)
    assert err.count("\n") == 1 and "--journal" in err


@pytest.mark.parametrize("kind", ["dangling symlink", ":memory:", "a 300-byte name"])
def test_a_journal_path_sqlite_would_misread_is_a_usage_error_before_any_process_starts(tmp_path, kind):
    target = tmp_path / "elsewhere.db"
    path = {
        "dangling symlink": tmp_path / "run.db",
        ":memory:": ":memory:",
        "a 300-byte name": tmp_path / ("j" * 300),
    }
    if kind == "dangling symlink":
        path[kind].symlink_to(target)
    with SimProcess("--orders", "100", "--journal", str(path[kind])) as sim:
        assert sim.wait_exit(30) == 2, sim.output()
        err = "".join(sim.stderr)
    assert err.count("\n") == 1 and "--journal" in err, err
    assert not sim.stdout  # nothing started: no banner
    assert not target.exists() and os.listdir(tmp_path) == (["run.db"] if kind == "dangling symlink" else [])


def test_a_journal_that_cannot_be_written_mid_run_stops_the_run_cleanly_with_the_reason(tmp_path):
    journal = tmp_path / "run.db"
    with SimProcess(*FLOW, "--rate", "5000", "--journal", str(journal), report=tmp_path / "run.json") as sim:
        sim.wait_placed_at_least(3000)
        with sqlite3.connect(journal, timeout=10) as db:  # as a full disk would, refuse writes
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON batches "
                "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
            )
        assert sim.wait_exit(30) == 1, sim.output()
        report = sim.report()
        assert not sim.wait_group_gone(3.0)
    assert "journal write failed" in report["stop_reason"]
    assert "disk full (simulated)" in report["stop_reason"]
    assert report["orders"]["lost"] == 0  # the orders themselves were all answered
    # the journal holds what was written before the failure, and its replay says so
    result = replay(journal)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(partial: the journal failed during the run: journal write failed:" in result.stdout
    assert "identical" in result.stdout and "(the journal is a prefix of the run)" in result.stdout
