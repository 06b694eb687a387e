"""Whole runs of the simulator: real bank, real broker subprocesses, real pipes and signals."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time

import pytest

from simulator.testing.procs import SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

SMALL = ("--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "7")


def test_a_run_of_n_orders_stops_by_itself_and_reconciles(tmp_path):
    with SimProcess(
        *SMALL, "--brokers", "3", "--orders", "30000", "--rate", "0", report=tmp_path / "run.json"
    ) as sim:
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert report["orders"]["placed"] == 30000
    assert report["stop_reason"].startswith("order limit reached")
    assert report["fills"]["count"] > 0 and len(report["fills"]["digest"]) == 64
    assert len(report["brokers"]) == 3
    assert sum(b["orders"] for b in report["brokers"]) >= 30000
    assert report["config"]["seed"] == 7
    assert_reconciled(report)
    assert "reconciled: yes; exit status 0" in "".join(sim.stdout)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_signal_to_the_process_group_at_full_rate_loses_nothing(tmp_path, sig):
    """A terminal Ctrl-C (or hangup) reaches every process; brokers drain, nothing is lost."""
    with SimProcess(*SMALL, "--rate", "0", report=tmp_path / "run.json") as sim:
        sim.wait_placed_at_least(20000)
        sim.signal_group(sig)
        assert sim.wait_exit(30) == 0, sim.output()
        report = sim.report()
        assert not sim.wait_group_gone(5.0), "a process outlived the run"
    assert report["stop_reason"] == f"signal {sig.name}"
    assert report["orders"]["placed"] >= 20000
    assert_reconciled(report)


def test_second_ctrl_c_during_the_drain_does_not_break_it(tmp_path):
    with SimProcess(*SMALL, "--rate", "0", report=tmp_path / "run.json") as sim:
        sim.wait_placed_at_least(20000)
        sim.signal_group(signal.SIGINT)
        sim.wait_for(
            lambda: (
                any("stopping" in line or "STOPPING" in line for line in sim.stdout + sim.stderr)
                or sim.proc.poll() is not None
            ),
            10,
            "the stop to begin",
        )
        for _ in range(3):
            if sim.proc.poll() is None:
                sim.signal_group(signal.SIGINT)
        assert sim.wait_exit(30) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)


def test_sigterm_to_the_bank_stops_cleanly(tmp_path):
    with SimProcess(*SMALL, "--rate", "20000", report=tmp_path / "run.json") as sim:
        sim.wait_placed_at_least(5000)
        sim.signal_bank(signal.SIGTERM)
        assert sim.wait_exit(30) == 0, sim.output()
        report = sim.report()
    assert report["stop_reason"] == "signal SIGTERM"
    assert_reconciled(report)


def test_ctrl_c_while_brokers_are_starting_is_clean(tmp_path):
    with SimProcess(*SMALL, "--brokers", "4", "--rate", "0", report=tmp_path / "run.json") as sim:
        sim.wait_for_output("simulate: seed", 30)  # printed just before the brokers spawn
        sim.signal_group(signal.SIGINT)
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert report["stop_reason"] == "signal SIGINT"
    assert_reconciled(report)


def test_kill_9_of_the_bank_leaves_no_broker_alive_after_2_s():
    with SimProcess(*SMALL, "--brokers", "3", "--rate", "20000") as sim:
        sim.wait_placed_at_least(2000)
        assert len(sim.broker_pids()) == 3
        sim.signal_bank(signal.SIGKILL)
        sim.wait_exit(10)
        left = sim.wait_group_gone(2.0)
        assert not left, f"alive 2 s after the bank was killed: {[p.pid for p in left]}"


def test_same_seed_gives_the_same_fills_whatever_the_brokers_and_batch(tmp_path):
    digests = {}
    for brokers, batch in [(1, 1), (4, 256), (2, 7)]:
        path = tmp_path / f"b{brokers}-{batch}.json"
        with SimProcess(
            *SMALL,
            "--orders",
            "15000",
            "--rate",
            "0",
            "--brokers",
            str(brokers),
            "--batch",
            str(batch),
            report=path,
        ) as sim:
            assert sim.wait_exit(60) == 0, sim.output()
            report = sim.report()
        assert_reconciled(report)
        digests[(brokers, batch)] = (report["fills"]["digest"], report["fills"]["count"])
    assert len(set(digests.values())) == 1, digests
    # and the digest does tell runs apart: another seed trades differently
    path = tmp_path / "other-seed.json"
    with SimProcess(
        "--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "8", "--orders", "15000", "--rate", "0", report=path
    ) as sim:
        assert sim.wait_exit(60) == 0, sim.output()
        assert sim.report()["fills"]["digest"] != digests[(1, 1)][0]


def test_bad_flag_gets_one_line_and_status_2_before_any_process_starts():
    with SimProcess("--rate", "-5") as sim:
        assert sim.wait_exit(30) == 2
        err = "".join(sim.stderr)
    assert err.count("\n") == 1 and "--rate" in err, err
    assert not sim.stdout


def test_ctrl_c_storm_while_the_bank_exits_keeps_its_exit_status(tmp_path):
    """Signals keep coming while the finished bank tears down: its status must stay 0."""
    import time

    with SimProcess(*SMALL, "--rate", "0", "--brokers", "1", report=tmp_path / "run.json") as sim:
        sim.wait_placed_at_least(60000)
        sim.signal_bank(signal.SIGTERM)
        while sim.proc.poll() is None:
            try:
                sim.signal_group(signal.SIGINT)
            except ProcessLookupError:
                break
            time.sleep(0.002)  # a storm, not a synchronisation: every 2 ms until the bank is gone
        assert sim.wait_exit(30) == 0, sim.output()
        report = sim.report()
    assert report["stop_reason"] in ("signal SIGTERM", "signal SIGINT")  # both were pending
    assert_reconciled(report)


# -- the edges of the flags --------------------------------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "flags",
    [
        ("--symbols", "64", "--brokers", "32"),
        ("--symbols", "16", "--brokers", "8", "--batch", "1024"),
        ("--batch", "4000"),
    ],
    ids=["32-brokers", "8-brokers-batch-1024", "batch-4000"],
)
def test_full_speed_with_many_brokers_or_big_batches_runs_and_journals_only_what_it_placed(tmp_path, flags):
    """Each crashed the bank on its first tick (``order ids 1..94108 are not new``), after the
    journal had taken 94k orders the ledger refused and no broker ever saw."""
    journal = tmp_path / "run.db"
    with SimProcess(
        "--seed",
        "7",
        "--rate",
        "0",
        "--duration",
        "1.5",
        *flags,
        "--journal",
        str(journal),
        report=tmp_path / "run.json",
    ) as sim:
        assert sim.wait_exit(180) == 0, sim.output()
        report = sim.report()
    assert report["stop_reason"].startswith("duration reached")
    assert report["orders"]["placed"] > 0
    assert_reconciled(report)
    with contextlib.closing(sqlite3.connect(journal)) as db:  # kind 0: a batch of orders placed
        journalled = db.execute("SELECT sum(records) FROM batches WHERE kind = 0").fetchone()[0]
    assert journalled == report["orders"]["placed"] + report["cancel_requests"]["sent"]


def test_at_the_largest_batch_a_stop_is_seen_at_once(tmp_path):
    """``--batch 1000000`` kept the bank making a million orders in one tick (quadratic) while
    SIGTERM waited; at the largest batch the command line takes, a tick stays short."""
    with SimProcess(*SMALL, "--rate", "0", "--batch", "65536", report=tmp_path / "run.json") as sim:
        sim.wait_placed_at_least(50_000)
        asked = time.monotonic()
        sim.signal_bank(signal.SIGTERM)
        assert sim.wait_exit(30) == 0, sim.output()
        took = time.monotonic() - asked
        report = sim.report()
    assert report["stop_reason"] == "signal SIGTERM"
    assert took < 5.0, f"{took:.1f} s from SIGTERM to exit"
    assert_reconciled(report)


def test_cancel_requests_lost_with_a_broker_are_counted_apart_from_lost_orders(tmp_path):
    """They were added to the orders' lost, so 'placed = ... + lost' did not add up."""
    with SimProcess(
        "--symbols",
        "AAPL,MSFT",
        "--seed",
        "3",
        "--rate",
        "20000",
        "--max-restarts",
        "0",
        "--kill-broker-every",
        "1",
        "--orders",
        "100000",
        "--cancel-ratio",
        "0.3",
        report=tmp_path / "run.json",
    ) as sim:
        assert sim.wait_exit(60) == 1, sim.output()
        report = sim.report()
        out = "".join(sim.stdout)
    o, c = report["orders"], report["cancel_requests"]
    assert o["lost"] > 0 and c["lost"] > 0, (o, c)
    assert o["placed"] == o["filled"] + o["cancelled"] + o["rejected"] + o["resting"] + o["lost"]
    assert c["sent"] == c["done"] + c["rejected"] + c["lost"]
    assert len(report["lost_ids"]) == min(o["lost"], 1000)
    assert len(report["lost_cancel_ids"]) == min(c["lost"], 1000)
    assert not set(report["lost_ids"]) & set(report["lost_cancel_ids"])
    line = next(x for x in out.splitlines() if x.startswith("orders   placed"))
    placed, parts = line.removeprefix("orders   placed ").split(" = ")
    assert int(placed.replace(",", "")) == sum(
        int(p.split()[-1].replace(",", "")) for p in parts.split(" + ")
    )
    assert f"lost {c['lost']:,}" in next(x for x in out.splitlines() if x.startswith("cancels "))


def test_a_short_run_reports_the_speed_its_answers_came_at(tmp_path):
    """2,000 orders placed in 2 ms were reported at 1,084,223 orders/s: the time of placing."""
    with SimProcess(*SMALL, "--orders", "2000", "--rate", "0", report=tmp_path / "run.json") as sim:
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
        out = "".join(sim.stdout)
    t = report["throughput"]
    assert t["orders"] == 2000  # every order answered: filled, cancelled, rejected or resting
    assert 0 < t["seconds"] <= report["duration_s"] + report["drain_s"] + 0.002
    seconds = t["seconds"]  # to the millisecond: the rate was taken before rounding
    assert 2000 / (seconds + 0.0005) <= t["orders_per_s"] <= 2000 / max(seconds - 0.0005, 1e-9)
    assert f"speed    {t['orders_per_s']:,.0f} orders/s: 2,000 orders answered {t['seconds']:.3f} s" in out
