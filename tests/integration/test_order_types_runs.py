"""The order types and self-trade prevention in whole runs: real bank, brokers, pipes, journal."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.testing.procs import ROOT, SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

FLOW = ("--symbols", "AAPL,MSFT,NVDA,TSLA,AMZN,GOOG,META,JPM", "--seed", "15", "--rate", "0")


def _run(tmp_path, name: str, *flags: str, journal: bool = False) -> dict:
    args = [*FLOW, *flags]
    if journal:
        args += ["--journal", str(tmp_path / f"{name}.db")]
    with SimProcess(*args, report=tmp_path / f"{name}.json") as sim:
        assert sim.wait_exit(120) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    return report


def _simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "simulate.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_type_at_its_default_share_gives_one_digest_whatever_the_brokers_and_batch(tmp_path):
    seen = {}
    for brokers, batch in [(1, 1), (2, 256), (4, 1), (8, 256)]:
        report = _run(tmp_path, f"b{brokers}-{batch}", "--orders", "12000", "--brokers", str(brokers),
                      "--batch", str(batch))  # fmt: skip
        seen[(brokers, batch)] = (report["fills"]["digest"], report["order_types"], report["reject_reasons"])
    assert len({repr(v) for v in seen.values()}) == 1, seen
    digest, types, reasons = seen[(1, 1)]
    # the run did use every type: amends, stops that triggered and stayed held, refills, rejects
    assert types["amends_done"] and types["stops_triggered"] and types["iceberg_refills"], types
    assert reasons.get("WOULD_CROSS") and reasons.get("FOK_NOT_FILLABLE"), reasons


FEW = ("--orders", "8000", "--accounts", "3", "--brokers", "2")


def _self_fills(journal: Path) -> int:
    """Fills of the journalled run with one account on both sides."""
    assert _simulate("journal", "expand", str(journal)).returncode == 0
    with sqlite3.connect(journal) as db:
        return db.execute(
            "SELECT count(*) FROM fills f JOIN orders b ON b.id = f.buy_id "
            "JOIN orders s ON s.id = f.sell_id WHERE b.account = s.account"
        ).fetchone()[0]


@pytest.fixture(scope="module")
def self_fills_without_stp(tmp_path_factory) -> int:
    """The same run without self-trade prevention, once for every mode below."""
    tmp_path = tmp_path_factory.mktemp("no-stp")
    _run(tmp_path, "none", *FEW, journal=True)
    return _self_fills(tmp_path / "none.db")


@pytest.mark.parametrize("mode", ["cancel-newest", "cancel-oldest", "cancel-both"])
def test_with_self_trade_prevention_no_fill_has_one_account_on_both_sides(
    tmp_path, mode, self_fills_without_stp
):
    assert self_fills_without_stp > 0  # without it, accounts this few trade with themselves
    report = _run(tmp_path, mode, *FEW, "--stp", mode, journal=True)
    assert _self_fills(tmp_path / f"{mode}.db") == 0
    assert report["order_types"]["cancel_reasons"]["SELF_TRADE"] > 0
    replayed = _simulate("replay", str(tmp_path / f"{mode}.db"))
    assert replayed.returncode == 0 and "identical" in replayed.stdout, replayed.stdout + replayed.stderr


def test_a_run_of_every_type_with_broker_kills_keeps_its_digest_and_replays(tmp_path):
    quiet = _run(tmp_path, "quiet", "--orders", "20000", "--brokers", "2", "--rate", "20000")
    killed = _run(tmp_path, "killed", "--orders", "20000", "--brokers", "2", "--rate", "20000",
                  "--kill-broker-every", "0.3", "--max-restarts", "50", journal=True)  # fmt: skip
    assert sum(b["restarts"] for b in killed["brokers"]) >= 1
    assert killed["fills"]["digest"] == quiet["fills"]["digest"]
    assert killed["order_types"]["stops_held_at_end"] == quiet["order_types"]["stops_held_at_end"]
    replayed = _simulate("replay", str(tmp_path / "killed.db"))
    assert replayed.returncode == 0 and "identical" in replayed.stdout, replayed.stdout + replayed.stderr


def test_a_bad_share_or_stp_mode_is_one_line_and_status_2():
    for flags in (
        ["--fok-ratio", "1.5"],
        ["--stp", "cancel-all"],
        ["--stop-ratio", "0.6", "--iceberg-ratio", "0.5"],
    ):
        done = _simulate("--headless", *flags)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr
