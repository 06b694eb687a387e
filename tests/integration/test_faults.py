"""Faults survived: brokers killed or hung mid-run, garbage on the pipes, restart limits."""

from __future__ import annotations

import os
import pickle
import signal
import threading

import pytest

from simulator import messages as msg
from simulator.channel import ChannelFull
from simulator.config import SimConfig
from simulator.runner import Simulation
from simulator.testing.procs import SimProcess, assert_reconciled
from simulator.testing.waiting import deadline_wait

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FLOW = ("--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "11", "--orders", "40000")


def run_to_end(tmp_path, name: str, *flags: str) -> dict:
    with SimProcess(*FLOW, *flags, report=tmp_path / f"{name}.json") as sim:
        assert sim.wait_exit(90) == 0, sim.output()
        return sim.report()


@pytest.fixture(scope="module")
def calm(tmp_path_factory) -> dict:
    """The report of the same flow run without any fault: what every faulty run must match."""
    return run_to_end(tmp_path_factory.mktemp("calm"), "calm", "--rate", "0")


def test_brokers_killed_by_the_drill_recover_with_identical_fills(tmp_path, calm):
    drilled = run_to_end(
        tmp_path, "drilled", "--rate", "20000", "--kill-broker-every", "0.4", "--max-restarts", "20"
    )
    assert_reconciled(drilled)
    assert drilled["fills"] == calm["fills"]
    assert drilled["orders"] == calm["orders"]


@pytest.mark.parametrize("victim", ["a broker", "the fork server"])
def test_a_broker_killed_from_outside_is_restarted_and_nothing_changes(tmp_path, calm, victim):
    with SimProcess(*FLOW, "--rate", "15000", report=tmp_path / "killed.json") as sim:
        sim.wait_placed_at_least(10000)
        brokers = sim.broker_pids()
        if victim == "a broker":
            dying = brokers[:1]
            os.kill(dying[0], signal.SIGKILL)
        else:  # every broker and standby is a fork of it, and ends with it: all restart
            title = "simulate: fork-server"
            server = [p.pid for p in sim.children() if " ".join(p.cmdline()).strip() == title]
            dying = brokers
            os.kill(server[0], signal.SIGKILL)

        def restarted() -> bool:
            return sum("restarted as pid" in line for line in sim.stderr) >= len(dying)

        sim.wait_for(restarted, 10, "the restarts")
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["fills"] == calm["fills"]
    assert not set(dying) & {b["pid"] for b in report["brokers"]}


def test_a_hung_broker_is_noticed_by_its_heartbeats_and_replaced(tmp_path, calm):
    with SimProcess(*FLOW, "--rate", "15000", "--hang-timeout", "1", report=tmp_path / "hung.json") as sim:
        sim.wait_placed_at_least(8000)
        victim = sim.broker_pids()[1]
        os.kill(victim, signal.SIGSTOP)
        sim.wait_for(lambda: any("sent no heartbeat" in line for line in sim.stderr), 5, "the hang noticed")
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["fills"] == calm["fills"]


def test_past_max_restarts_the_run_stops_and_says_why(tmp_path):
    with SimProcess(
        "--symbols",
        "AAPL,MSFT",
        "--seed",
        "3",
        "--rate",
        "5000",
        "--max-restarts",
        "0",
        report=tmp_path / "limit.json",
    ) as sim:
        sim.wait_placed_at_least(3000)
        os.kill(sim.broker_pids()[0], signal.SIGKILL)
        assert sim.wait_exit(30) == 1, sim.output()
        report = sim.report()
    assert "--max-restarts 0 reached" in report["stop_reason"]
    assert report["reconciled"] is False
    assert report["orders"]["lost"] > 0 and report["lost_ids"]
    assert "LOST" in "".join(sim.stdout)


def test_garbage_on_an_inbox_is_counted_and_logged_and_the_run_goes_on(caplog):
    caplog.set_level("INFO")
    config = SimConfig(
        brokers=2, symbols=("AAPL", "MSFT"), rate=5000, orders=8000, seed=5, headless=True, stop_timeout=20
    )
    sim = Simulation(config)
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(sim.run()))
    runner.start()
    try:
        pool = sim.pool
        deadline_wait(
            lambda: pool.brokers and all(b.state == "RUNNING" for b in pool.brokers),
            what="every broker running",
        )
        garbage = (
            pickle.dumps(12345),
            b"",
            b"Ogarbage",
            b"?what",
            msg.encode(msg.HEARTBEAT, "not a heartbeat"),
            b"O" + pickle.dumps({"not": "a list"}),
        )
        for payload in garbage:  # through the channel, so the inbox's credit count stays right
            deadline_wait(lambda p=payload: _sent(pool.channel(0), p), what="room on the inbox")
    finally:
        runner.join(60)
        if runner.is_alive():
            sim.request_stop("test timeout")
            runner.join(30)
    assert outcome and outcome[0].exit_code == 0
    final = sim.pool.brokers[0].final
    assert final is not None and final.bad_messages == 6
    warnings = [r for r in caplog.records if "bad message on inbox ignored" in r.getMessage()]
    assert len(warnings) == 6
    assert {r.processName for r in warnings} == {"broker-1"}  # logged with its sender
    assert outcome[0].reconciliation.ok


def _sent(channel, payload: bytes) -> bool:
    try:
        channel.send(payload)
    except ChannelFull:
        return False
    return True


def test_garbage_on_a_results_pipe_is_counted_and_logged_with_its_sender(caplog):
    config = SimConfig(brokers=1, symbols=("AAPL",), rate=2000, orders=2000, seed=5, headless=True)
    sim = Simulation(config)
    pool = sim.pool
    handle = type("Handle", (), {"name": "broker-x", "index": 0})()
    before = pool.bad_messages
    for garbage in (b"", b"Z123", b"E" + pickle.dumps("not a tuple"), 42):
        pool._dispatch(handle, garbage)
    assert pool.bad_messages == before + 4
    assert sum("bad message from broker-x ignored" in r.getMessage() for r in caplog.records) == 4
