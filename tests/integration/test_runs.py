"""Whole runs of the simulator: real bank, real broker subprocesses, real pipes and signals."""

from __future__ import annotations

import signal

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
