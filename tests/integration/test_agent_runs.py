"""Agents in whole runs: real bank, brokers, pipes and journal; the fills stay the seed's."""

from __future__ import annotations

import pytest

from simulator.testing.waiting import deadline_wait
from tests.integration.test_order_types_runs import _run as types_run
from tests.integration.test_order_types_runs import _simulate

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# the order types' runs (every type at its default share, seed 15, --rate 0), with agents
AGENTS = ("--market-makers", "4", "--momentum", "2", "--mean-reversion", "2")


def _run(tmp_path, name: str, *flags: str, journal: bool = False) -> dict:
    return types_run(tmp_path, name, *AGENTS, *flags, journal=journal)


def test_with_agents_one_digest_whatever_the_brokers_and_batch(tmp_path):
    seen = {}
    for brokers, batch in [(1, 1), (2, 256), (4, 1), (8, 256)]:
        report = _run(tmp_path, f"b{brokers}-{batch}", "--orders", "5000", "--brokers", str(brokers),
                      "--batch", str(batch))  # fmt: skip
        seen[(brokers, batch)] = (report["fills"]["digest"], report["agents"], report["orders"])
    assert len({repr(v) for v in seen.values()}) == 1, seen
    _digest, agents, orders = seen[(1, 1)]
    kinds = agents["kinds"]
    assert agents["placed"] > 0 and agents["trades"] > 0 and agents["filled_qty"] > 0, agents
    assert all(kinds[k]["agents"] and kinds[k]["orders"] for k in kinds), kinds
    assert kinds["market_maker"]["cancel_requests"] > 0  # quotes are refreshed
    assert orders["placed"] > 5000 + agents["placed"] - 1  # the ledger counts them as the bank's own


def test_a_run_with_agents_and_broker_kills_keeps_its_digest_and_replays(tmp_path):
    few = ("--orders", "8000", "--brokers", "2", "--rate", "8000")
    quiet = _run(tmp_path, "quiet", *few)
    db = tmp_path / "killed.db"
    killed = _run(
        tmp_path, "killed", *few, "--kill-broker-every", "0.3", "--max-restarts", "50", "--journal", str(db)
    )
    assert sum(b["restarts"] for b in killed["brokers"]) >= 1
    assert killed["fills"]["digest"] == quiet["fills"]["digest"]
    assert killed["agents"] == quiet["agents"]
    replayed = _simulate("replay", str(tmp_path / "killed.db"))
    assert replayed.returncode == 0 and "identical" in replayed.stdout, replayed.stdout + replayed.stderr


def test_a_bad_agent_flag_is_one_line_and_status_2():
    for flags in (
        ["--market-makers", "33"],
        ["--momentum", "-1"],
        ["--mm-spread", "0"],
        ["--taker-chance", "x"],
    ):
        done = _simulate("--headless", *flags)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr


def test_the_kill_switch_on_a_makers_account_cancels_its_quotes_and_stops_it_until_released(tmp_path):
    from tests.integration.test_risk_runs import (
        account_open,
        assert_ended_clean,
        assert_replays_identical,
        run_in_thread,
    )

    maker = 11  # after the 10 clients' accounts and yours
    journal = str(tmp_path / "kill.db")
    with run_in_thread(market_makers=2, journal=journal) as (sim, outcome):
        led = sim.bank.ledger
        deadline_wait(lambda: len(account_open(sim, maker)) > 0, timeout=60)
        sim.command("kill_switch", maker)
        deadline_wait(lambda: not account_open(sim, maker), timeout=30)
        placed = led.flow_placed
        deadline_wait(lambda: led.flow_placed > placed + 20_000, timeout=30)
        assert not account_open(sim, maker), "a halted maker quotes"
        assert account_open(sim, maker + 1), "the other maker stopped too"
        sim.command("release", maker)
        deadline_wait(lambda: len(account_open(sim, maker)) > 0, timeout=30)  # it quotes again
    assert_ended_clean(outcome)
    assert_replays_identical(sim, outcome, journal)  # the halt and the release in their places
