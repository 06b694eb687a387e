"""Restarts with warm standbys: a killed broker's shard is taken over by a process spawned
before the kill (two deaths in a row by two), the fills stay those of a calm run, each
restart's gap is in the report, and a standby that dies is replaced without stopping anything."""

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


def test_two_killed_brokers_in_a_row_are_taken_over_by_standbys_spawned_before_them(tmp_path, calm):
    with SimProcess(*FLOW, "--rate", "10000", "--log-level", "INFO", report=tmp_path / "r.json") as sim:
        sim.wait_placed_at_least(8000)
        sim.wait_for(lambda: len(standby_pids(sim)) == 2, 30, "two standbys ready")
        standbys = set(standby_pids(sim))
        first, second = sim.broker_pids()
        os.kill(first, signal.SIGKILL)
        sim.wait_for(lambda: any("answers again" in line for line in sim.stderr), 10, "the shard answering")
        # at once: the next standby has hardly started, the second one is ready
        os.kill(second, signal.SIGKILL)
        sim.wait_for(lambda: sum("answers again" in line for line in sim.stderr) == 2, 10, "both answering")
        # the next standbys are spawned once the shards answer, ready for the next deaths
        sim.wait_for(lambda: len(set(standby_pids(sim)) - standbys) == 2, 30, "two new standbys")
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["fills"] == calm["fills"]
    assert {b["pid"] for b in report["brokers"]} == standbys
    assert [len(b["restart_gaps_ms"]) for b in report["brokers"]] == [1, 1]
    assert all(b["restart_gaps_ms"][0] > 0 for b in report["brokers"])
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
        sim.wait_for(lambda: len(standby_pids(sim)) == 2, 30, "two standbys ready")
        standby, kept = standby_pids(sim)
        os.kill(standby, signal.SIGKILL)
        sim.wait_for(lambda: set(standby_pids(sim)) - {standby, kept}, 30, "a new standby")
        assert kept in standby_pids(sim)  # the other one stays
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert report["fills"] == calm["fills"]
    assert all(not b["restarts"] for b in report["brokers"])  # no broker of a shard restarted
