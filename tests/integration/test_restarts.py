"""Restarts with a warm standby: a killed broker's shard is taken over by a process spawned
before the kill, the fills stay those of a calm run, each restart's gap is in the report, and
a standby that dies is replaced without stopping anything."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from simulator.testing.procs import SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FLOW = ("--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "13", "--orders", "40000")


def standby_pids(sim: SimProcess) -> list[int]:
    pids = []
    for p in sim.children():
        try:
            if " ".join(p.cmdline()).startswith("simulate: standby"):
                pids.append(p.pid)
        except psutil.Error:
            pass
    return pids


@pytest.fixture(scope="module")
def calm(tmp_path_factory) -> dict:
    with SimProcess(*FLOW, "--rate", "0", report=tmp_path_factory.mktemp("calm") / "calm.json") as sim:
        assert sim.wait_exit(90) == 0, sim.output()
        return sim.report()


def test_a_killed_broker_is_taken_over_by_the_standby_spawned_before_it(tmp_path, calm):
    with SimProcess(*FLOW, "--rate", "10000", "--log-level", "INFO", report=tmp_path / "r.json") as sim:
        sim.wait_placed_at_least(8000)
        sim.wait_for(lambda: standby_pids(sim), 30, "a standby ready")
        [standby] = standby_pids(sim)
        victim = sim.broker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        sim.wait_for(lambda: any("answers again" in line for line in sim.stderr), 10, "the shard answering")
        # the next standby is spawned once the shard answers, ready for the next death
        sim.wait_for(lambda: [p for p in standby_pids(sim) if p != standby], 30, "a new standby")
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["fills"] == calm["fills"]
    restarted = [b for b in report["brokers"] if b["restarts"]]
    assert [b["pid"] for b in restarted] == [standby]
    assert len(restarted[0]["restart_gaps_ms"]) == 1 and restarted[0]["restart_gaps_ms"][0] > 0
    assert "gap median" in "".join(sim.stdout)


def test_without_a_standby_a_killed_broker_is_restarted_in_a_new_process(tmp_path, calm):
    with SimProcess(*FLOW, "--rate", "10000", "--no-standby", report=tmp_path / "cold.json") as sim:
        sim.wait_placed_at_least(8000)
        assert not standby_pids(sim)
        victim = sim.broker_pids()[1]
        os.kill(victim, signal.SIGKILL)
        sim.wait_for(lambda: any("restarted as pid" in line for line in sim.stderr), 10, "the restart")
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["fills"] == calm["fills"]
    assert [len(b["restart_gaps_ms"]) for b in report["brokers"]] == [0, 1]


def test_a_standby_that_dies_is_replaced_and_the_run_goes_on(tmp_path, calm):
    with SimProcess(*FLOW, "--rate", "10000", report=tmp_path / "standby.json") as sim:
        sim.wait_placed_at_least(5000)
        sim.wait_for(lambda: standby_pids(sim), 30, "a standby ready")
        [standby] = standby_pids(sim)
        os.kill(standby, signal.SIGKILL)
        sim.wait_for(lambda: [p for p in standby_pids(sim) if p != standby], 30, "a new standby")
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["fills"] == calm["fills"]
    assert all(not b["restarts"] for b in report["brokers"])  # no broker of a shard restarted
