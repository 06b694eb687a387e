"""Pre-trade risk and the kill switch on whole runs: real bank, real brokers, real pipes."""

from __future__ import annotations

import contextlib
import threading

import pytest

from simulator.config import SimConfig
from simulator.order_window import ACKED
from simulator.replay import replay
from simulator.runner import Simulation
from simulator.testing.procs import SimProcess, assert_reconciled
from simulator.testing.waiting import deadline_wait

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SMALL = ("--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "7", "--orders", "15000")
PER_ORDER = ("--max-order-qty", "800", "--max-notional", "150000", "--price-band-pct", "0.02")
BANK_REASONS = {"ORDER_QTY_LIMIT", "NOTIONAL_LIMIT", "PRICE_BAND", "ORDER_RATE_LIMIT"}


def run_report(tmp_path, name, *flags):
    with SimProcess(*flags, report=tmp_path / f"{name}.json") as sim:
        assert sim.wait_exit(90) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    return report


@pytest.fixture(scope="module")
def unchecked_digest(tmp_path_factory) -> str:
    """The fills digest of the flow without any check, once for both kinds of limit below."""
    return run_report(tmp_path_factory.mktemp("unchecked"), "unchecked", *SMALL, "--rate", "0")["fills"][
        "digest"
    ]


@pytest.mark.parametrize(
    "limits",
    [PER_ORDER, ("--rate", "20000", "--max-orders-per-s", "120")],
    ids=["per-order", "rate-limit-at-a-set-rate"],
)
def test_the_checks_refuse_the_same_orders_and_give_the_same_fills_whatever_the_brokers_and_batch(
    tmp_path, limits, unchecked_digest
):
    seen = {}
    for brokers, batch in [(1, 1), (2, 256), (4, 1), (4, 256)]:
        rate = () if "--rate" in limits else ("--rate", "0")
        report = run_report(
            tmp_path,
            f"b{brokers}-{batch}",
            *SMALL,
            *rate,
            *limits,
            "--brokers",
            str(brokers),
            "--batch",
            str(batch),
        )
        refused = report["risk"]["refused"]
        assert refused and set(refused) <= BANK_REASONS, refused
        assert all(report["reject_reasons"][k] == n for k, n in refused.items())  # booked like any reject
        seen[(brokers, batch)] = (report["fills"]["digest"], report["fills"]["count"], tuple(refused.items()))
    assert len(set(seen.values())) == 1, seen
    assert unchecked_digest != seen[(1, 1)][0]  # the refused orders did not trade


def test_position_and_open_order_limits_hold_for_every_account(tmp_path):
    report = run_report(
        tmp_path,
        "limits",
        *SMALL,
        "--rate",
        "0",
        "--accounts",
        "20",
        "--max-position",
        "1500",
        "--max-open-orders",
        "6",
    )
    refused = report["risk"]["refused"]
    assert refused.get("POSITION_LIMIT", 0) > 0 and refused.get("OPEN_ORDERS_LIMIT", 0) > 0, refused
    for account in report["accounts"]["all"]:
        assert all(abs(q) <= 1500 for q in account["positions"].values()), account
    assert report["risk"]["limits"] == {"max_position": 1500, "max_open_orders": 6}
    free = run_report(tmp_path, "free", *SMALL, "--rate", "0", "--accounts", "20")
    assert max(abs(q) for a in free["accounts"]["all"] for q in a["positions"].values()) > 1500


def account_open(sim: Simulation, account: int) -> list[int]:
    """Ids of ``account``'s orders the bank knows as acked and not final (resting)."""
    for _ in range(1000):
        try:
            rows = sim.bank.ledger.window.open_orders()
            break
        except (IndexError, ValueError):  # raced the bank's thread mid-update (two arrays from
            continue  # two moments, e.g. the agents' ids and slots): read again
    else:
        raise AssertionError("the order window never read whole")
    return [oid for oid, r, _leaves, state in rows if r[1] == account and state == ACKED]


KILL_RUN = dict(
    brokers=2, symbols=("AAPL", "MSFT", "NVDA", "TSLA"), rate=20_000, seed=5, headless=True, accounts=10
)


@contextlib.contextmanager
def run_in_thread(**flags):
    """A run of KILL_RUN (``flags`` changed) on its own thread: yields it and the list its
    Outcome lands in, then stops and joins it, also when the test failed."""
    sim = Simulation(SimConfig(**{**KILL_RUN, **flags}))
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(sim.run()))
    runner.start()
    try:
        yield sim, outcome
    finally:
        sim.request_stop("test over")
        runner.join(60)


def assert_ended_clean(outcome: list) -> None:
    assert outcome and outcome[0].exit_code == 0
    assert outcome[0].reconciliation.ok and outcome[0].reconciliation.lost == 0


def assert_replays_identical(sim: Simulation, outcome: list, journal: str) -> None:
    sim.finish_report(outcome[0])  # the report into the journal, as simulate.py does
    replayed = replay(journal)
    assert replayed.complete and replayed.identical, replayed.first_difference


def test_the_kill_switch_cancels_blocks_and_releases_mid_run_and_the_books_reconcile(tmp_path):
    journal = str(tmp_path / "kill.db")
    with run_in_thread(journal=journal) as (sim, outcome):
        led = sim.bank.ledger
        deadline_wait(lambda: len(account_open(sim, 3)) > 5, timeout=60)
        sim.command("kill_switch", 3)
        deadline_wait(lambda: not account_open(sim, 3), timeout=30)  # its brokers cancelled them
        blocked = led.reject_counts().get("KILL_SWITCH", 0)
        deadline_wait(lambda: led.reject_counts().get("KILL_SWITCH", 0) > blocked + 50, timeout=30)
        assert not account_open(sim, 3), "an order of a blocked account rests"
        assert sim.snapshot() is not None
        deadline_wait(lambda: sim.snapshot().blocked == (3,), timeout=10)
        sim.command("kill_switch", -1)
        deadline_wait(lambda: led.working == 0 and led.orders_in_flight == 0, timeout=30)
        sim.command("release", -1)
        deadline_wait(lambda: len(account_open(sim, 3)) > 0, timeout=30)  # it trades again
    assert_ended_clean(outcome)
    log = sim.bank.kill_log
    assert [(a, n) for _t, a, n in log] == [("engaged", 3), ("engaged", -1), ("released", -1)]
    assert_replays_identical(sim, outcome, journal)  # the journal holds where each CANCEL_ALL went


def test_the_kill_switch_works_over_amqp_too(amqp_url):
    with run_in_thread(rate=10_000, transport="amqp", amqp_url=amqp_url) as (sim, outcome):
        led = sim.bank.ledger
        deadline_wait(lambda: led.working > 50, timeout=60)
        sim.command("kill_switch", -1)
        deadline_wait(lambda: led.working == 0 and led.orders_in_flight == 0, timeout=30)
        assert led.reject_counts().get("KILL_SWITCH", 0) > 0
        sim.command("release", -1)
        deadline_wait(lambda: led.working > 0, timeout=30)
    assert_ended_clean(outcome)


def test_a_broker_killed_as_the_kill_switch_engages_leaves_no_order_of_the_account_resting(tmp_path):
    journal = str(tmp_path / "kill.db")
    with run_in_thread(journal=journal) as (sim, outcome):
        deadline_wait(lambda: len(account_open(sim, 4)) > 5, timeout=60)
        sim.command("kill_switch", 4)
        sim.command("kill", "broker-1")  # restarted with its CANCEL_ALL read or not: sent again if not
        deadline_wait(lambda: sim.supervisor.restarts >= 1, timeout=30)
        deadline_wait(lambda: not account_open(sim, 4), timeout=30)
    assert_ended_clean(outcome)
    assert_replays_identical(sim, outcome, journal)  # a CANCEL_ALL sent again cancels in its place
